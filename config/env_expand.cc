#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "env_expand_internal.h"

namespace tailtrace::config::internal {
namespace {

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IsNameStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

bool IsValidName(std::string_view name) {
  if (name.empty() || !IsNameStart(name.front())) return false;
  for (char c : name) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

constexpr std::string_view kEnvPrefix = "env:";
constexpr std::string_view kDefaultSeparator = ":-";

}  // namespace

std::optional<std::string> ProcessEnvLookup(std::string_view name) {
  const std::string key(name);
  const char* value = std::getenv(key.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

absl::StatusOr<std::string> ExpandEnv(std::string_view text, const EnvLookup& env) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      out += text[i++];
      continue;
    }
    const size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("unterminated \"${\" in \"", AbslView(text),
                       "\" (write ${env:NAME}, or \"$${\" for a literal \"${\")"));
    }
    const std::string_view whole = text.substr(i, close + 1 - i);
    std::string_view inner = text.substr(i + 2, close - i - 2);
    if (inner.substr(0, kEnvPrefix.size()) != kEnvPrefix) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unsupported substitution \"", AbslView(whole),
          "\": only ${env:NAME} and ${env:NAME:-default} are supported (write \"$${\" for a "
          "literal \"${\")"));
    }
    inner.remove_prefix(kEnvPrefix.size());
    std::string_view name = inner;
    std::optional<std::string_view> fallback;
    if (const size_t sep = inner.find(kDefaultSeparator); sep != std::string_view::npos) {
      name = inner.substr(0, sep);
      fallback = inner.substr(sep + kDefaultSeparator.size());
    }
    if (!IsValidName(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid environment variable name \"", AbslView(name), "\" in \"",
                       AbslView(whole), "\" (letters, digits and _, not starting with a digit)"));
    }
    std::optional<std::string> value = env ? env(name) : ProcessEnvLookup(name);
    if (fallback.has_value() && (!value.has_value() || value->empty())) {
      value = std::string(*fallback);
    }
    if (!value.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("environment variable ", AbslView(name),
                                                     " is not set (write ${env:", AbslView(name),
                                                     ":-default} to give a default)"));
    }
    out += *value;
    i = close + 1;
  }
  return out;
}

}  // namespace tailtrace::config::internal
