#include "json_indent_internal.h"

namespace tailtrace::query::internal {
namespace {

constexpr std::string_view kIndent = "    ";

void NewLine(int depth, std::string* out) {
  out->push_back('\n');
  for (int i = 0; i < depth; ++i) out->append(kIndent);
}

// The next character of `json` after position i that is not whitespace, or '\0'.
char NextSignificant(std::string_view json, size_t i) {
  for (++i; i < json.size(); ++i) {
    const char c = json[i];
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return c;
  }
  return '\0';
}

}  // namespace

std::string IndentJson(std::string_view json) {
  std::string out;
  out.reserve(json.size() + json.size() / 2);
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      out.push_back(c);
      if (c == '\\' && i + 1 < json.size()) {
        out.push_back(json[++i]);
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        out.push_back(c);
        break;
      case '{':
      case '[':
        out.push_back(c);
        if (const char next = NextSignificant(json, i); next == '}' || next == ']') break;
        NewLine(++depth, &out);
        break;
      case '}':
      case ']':
        if (!out.empty() && out.back() != '{' && out.back() != '[') NewLine(--depth, &out);
        out.push_back(c);
        break;
      case ',':
        out.push_back(c);
        NewLine(depth, &out);
        break;
      case ':':
        out.append(": ");
        break;
      case ' ':
      case '\n':
      case '\r':
      case '\t':
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace tailtrace::query::internal
