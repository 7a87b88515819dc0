#include "common/listener_security.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace tailtrace::security {
namespace {

// (Abseil's string_view is not std::string_view in Debian's build, so these are done here.)
std::string_view Trim(std::string_view s) {
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = absl::ascii_tolower(static_cast<unsigned char>(c));
  return out;
}

}  // namespace

std::vector<std::string_view> SplitAndTrim(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t at = text.find(separator);
    parts.push_back(Trim(text.substr(0, at)));
    if (at == std::string_view::npos) break;
    text.remove_prefix(at + 1);
  }
  return parts;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) { return Lower(a) == Lower(b); }

std::vector<std::string> ParseTokenFile(std::string_view text) {
  std::vector<std::string> tokens;
  for (std::string_view line : SplitAndTrim(text, '\n')) {
    if (line.empty() || line.front() == '#') continue;
    tokens.emplace_back(line);
  }
  return tokens;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  volatile unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = diff | static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

absl::StatusOr<std::unique_ptr<BearerTokens>> BearerTokens::Create(std::string path) {
  std::unique_ptr<BearerTokens> tokens(new BearerTokens(std::move(path)));
  if (absl::Status s = tokens->Load(); !s.ok()) return s;
  return tokens;
}

absl::Status BearerTokens::Load() {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("auth.bearer_token_file \"", path_,
                                            "\": cannot read: ", std::strerror(errno)));
  }
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    return absl::PermissionDeniedError(absl::StrCat("auth.bearer_token_file \"", path_,
                                                    "\": cannot read: ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = std::make_shared<const std::vector<std::string>>(ParseTokenFile(text.str()));
  if (parsed->empty()) {
    return absl::InvalidArgumentError(absl::StrCat("auth.bearer_token_file \"", path_,
                                                   "\": holds no token (one token per line)"));
  }
  std::lock_guard lock(mu_);
  tokens_ = std::move(parsed);
  stamp_ = FileStamp{st.st_mtim, st.st_size, st.st_ino};
  return absl::OkStatus();
}

std::string BearerTokens::First() const {
  std::lock_guard lock(mu_);
  return tokens_ != nullptr && !tokens_->empty() ? tokens_->front() : std::string();
}

void BearerTokens::ReloadIfChanged() {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return;  // keeps the last tokens
  const FileStamp now{st.st_mtim, st.st_size, st.st_ino};
  {
    std::lock_guard lock(mu_);
    if (now == stamp_) return;
  }
  if (absl::Status s = Load(); !s.ok()) {
    spdlog::warn("{}; keeping the tokens read before", std::string(s.message()));
    std::lock_guard lock(mu_);
    stamp_ = now;  // do not retry on every request; the next change is picked up
  } else {
    spdlog::info("auth.bearer_token_file \"{}\" re-read", path_);
  }
}

bool BearerTokens::Check(std::string_view authorization) {
  ReloadIfChanged();
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size() ||
      !EqualsIgnoreCase(authorization.substr(0, kScheme.size()), kScheme)) {
    return false;
  }
  const std::string_view token = Trim(authorization.substr(kScheme.size()));
  std::shared_ptr<const std::vector<std::string>> tokens;
  {
    std::lock_guard lock(mu_);
    tokens = tokens_;
  }
  bool ok = false;
  // Every token is compared, so the time does not tell which one matched.
  for (const std::string& t : *tokens) ok |= ConstantTimeEquals(token, t);
  return ok;
}

bool OriginAllowed(std::string_view origin, const std::vector<std::string>& allowed) {
  if (origin.empty()) return false;
  const std::string lower = Lower(origin);
  for (const std::string& pattern_text : allowed) {
    const std::string pattern = Lower(pattern_text);
    if (pattern == "*" || pattern == lower) return true;
    const size_t star = pattern.find('*');
    if (star == std::string::npos) continue;
    const std::string_view prefix = std::string_view(pattern).substr(0, star);
    const std::string_view suffix = std::string_view(pattern).substr(star + 1);
    if (lower.size() > prefix.size() + suffix.size() &&
        lower.compare(0, prefix.size(), prefix) == 0 &&
        lower.compare(lower.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace tailtrace::security
