#include "query/options.h"

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tailtrace::query {
namespace {

// RFC 3986 pchar without pct-encoded, and without "'" and "&" (an HTML attribute's quote and
// character reference), so the path needs no escaping anywhere it is written.
bool IsPathChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("-._~!$()*+,;=:@").find(c) != std::string_view::npos;
}

// The character for a message: itself when printable, else its code.
std::string Describe(char c) {
  if (c == ' ') return "a space";
  if (c > ' ' && c < 0x7f) return absl::StrCat("\"", std::string(1, c), "\"");
  return absl::StrCat("byte 0x", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
}

}  // namespace

absl::StatusOr<std::string> NormalizeBasePath(std::string_view path) {
  const auto invalid = [path](std::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid base path \"", std::string(path), "\": ", std::string(what)));
  };
  if (!path.starts_with('/')) return invalid("it must start with \"/\", e.g. \"/tailtrace\"");
  std::string_view trimmed = path;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.remove_suffix(1);
  if (trimmed == "/") return std::string("/");
  std::string_view rest = trimmed.substr(1);
  while (true) {
    const size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    if (segment.empty()) return invalid("it has an empty segment (\"//\")");
    if (segment == "." || segment == "..") {
      return invalid(absl::StrCat("it has a \"", std::string(segment), "\" segment"));
    }
    for (char c : segment) {
      if (!IsPathChar(c)) {
        return invalid(absl::StrCat(Describe(c),
                                    " is not allowed; use letters, digits and - . _ ~ ! $ ( ) * "
                                    "+ , ; = : @ between the \"/\"s"));
      }
    }
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  return std::string(trimmed);
}

}  // namespace tailtrace::query
