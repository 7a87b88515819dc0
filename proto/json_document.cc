#include "proto/json_document.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "rapidjson/error/en.h"

namespace tailtrace::json {
namespace {

constexpr unsigned kParseFlags = rapidjson::kParseInsituFlag | rapidjson::kParseIterativeFlag |
                                 rapidjson::kParseNumbersAsStringsFlag;

absl::Status SyntaxError(size_t offset, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid JSON at byte offset ", offset, ": ",
                                                 absl::string_view(what.data(), what.size())));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The end of the string whose opening quote is at buf[i]: the index after the closing quote, or
// buf.size() when it is not closed (the parser reports that). A quote closes the string unless
// an odd number of backslashes precedes it.
size_t SkipString(std::string_view buf, size_t i) {
  const char* begin = buf.data();
  const char* end = begin + buf.size();
  const char* p = begin + i + 1;
  while (p < end) {
    const char* q = static_cast<const char*>(std::memchr(p, '"', end - p));
    if (q == nullptr) return buf.size();
    size_t backslashes = 0;
    while (q - backslashes > begin + i + 1 && q[-1 - static_cast<ptrdiff_t>(backslashes)] == '\\') {
      ++backslashes;
    }
    if (backslashes % 2 == 0) return static_cast<size_t>(q - begin) + 1;
    p = q + 1;
  }
  return buf.size();
}

bool IsNumberChar(char c) {
  return IsDigit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

// What the number grammar of RFC 8259 says about a token of [-+.eE0-9] characters.
struct NumberShape {
  bool valid = false;
  size_t int_digits = 0;
  bool positive_exponent_over_99 = false;  // e.g. "e400", "e+0123"
};

NumberShape Shape(std::string_view t) {
  NumberShape s;
  size_t i = 0;
  if (i < t.size() && t[i] == '-') ++i;
  if (i >= t.size() || !IsDigit(t[i])) return s;
  if (t[i] == '0') {
    ++i;
    s.int_digits = 1;
  } else {
    while (i < t.size() && IsDigit(t[i])) ++i, ++s.int_digits;
  }
  if (i < t.size() && t[i] == '.') {
    ++i;
    if (i >= t.size() || !IsDigit(t[i])) return s;
    while (i < t.size() && IsDigit(t[i])) ++i;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    bool negative = false;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) negative = t[i++] == '-';
    if (i >= t.size() || !IsDigit(t[i])) return s;
    uint32_t exp = 0;
    while (i < t.size() && IsDigit(t[i])) {
      exp = std::min<uint32_t>(exp * 10 + (t[i] - '0'), 1'000'000);
      ++i;
    }
    s.positive_exponent_over_99 = !negative && exp > 99;
  }
  s.valid = i == t.size();
  return s;
}

// The shortest text that parses back to `d`, without '+' and exponent leading zeros
// ("1e308", "-1.5e-7", "0").
std::string ShortestText(double d) {
  char out[64];
  const auto r = std::to_chars(out, out + sizeof out, d, std::chars_format::scientific);
  std::string_view text(out, r.ptr - out);
  const size_t e = text.find('e');
  if (d == 0) return std::signbit(d) ? "-0" : "0";
  std::string s(text.substr(0, e));
  s.push_back('e');
  size_t i = e + 1;
  if (text[i] == '-') s.push_back('-');
  if (text[i] == '-' || text[i] == '+') ++i;
  while (i + 1 < text.size() && text[i] == '0') ++i;
  s.append(text.substr(i));
  return s;
}

}  // namespace

std::optional<int64_t> NumberToInt64(std::string_view number) {
  int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), v);
  if (ec != std::errc() || ptr != number.data() + number.size() || number.empty()) {
    return std::nullopt;
  }
  return v;
}

std::optional<uint64_t> NumberToUint64(std::string_view number) {
  uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), v);
  if (ec != std::errc() || ptr != number.data() + number.size() || number.empty()) {
    return std::nullopt;
  }
  return v;
}

std::optional<double> NumberToDouble(std::string_view number) {
  if (!Shape(number).valid) return std::nullopt;
  double d = 0;
  const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), d);
  if (ptr != number.data() + number.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) {
    // Overflow or underflow; from_chars does not say which. The value is below 1 when the
    // decimal exponent of its first non-zero digit is negative.
    const size_t e = number.find_first_of("eE");
    const std::string_view mantissa = number.substr(0, e);
    const size_t first = mantissa.find_first_of("123456789");
    if (first == std::string_view::npos) return number[0] == '-' ? -0.0 : 0.0;
    const size_t dot = mantissa.find('.');
    const int64_t point = dot == std::string_view::npos ? static_cast<int64_t>(mantissa.size())
                                                        : static_cast<int64_t>(dot);
    const auto first_at = static_cast<int64_t>(first);
    int64_t magnitude = point - first_at - (first_at > point ? 0 : 1);
    if (e != std::string_view::npos) {
      int64_t exp = 0;
      size_t i = e + 1;
      const bool negative = number[i] == '-';
      if (number[i] == '-' || number[i] == '+') ++i;
      for (; i < number.size(); ++i) exp = std::min<int64_t>(exp * 10 + (number[i] - '0'), 1e12);
      magnitude += negative ? -exp : exp;
    }
    if (magnitude < 0) return number[0] == '-' ? -0.0 : 0.0;
    return std::nullopt;
  }
  if (ec != std::errc() || !std::isfinite(d)) return std::nullopt;
  return d;
}

absl::Status Document::Parse(std::string_view text) {
  doc_.SetNull();
  rewritten_.clear();
  if (const void* nul = std::memchr(text.data(), '\0', text.size()); nul != nullptr) {
    return SyntaxError(static_cast<const char*>(nul) - text.data(), "NUL character");
  }
  if (const size_t bad = FindInvalidUtf8(text); bad != std::string_view::npos) {
    return SyntaxError(bad, "invalid UTF-8 encoding");
  }
  buf_.assign(text.data(), text.size());
  // Finite numbers rapidjson would refuse as too big are rewritten to their shortest form
  // (never longer; padded with spaces, which may follow a number).
  for (size_t i = 0; i < buf_.size();) {
    const char c = buf_[i];
    if (c == '"') {
      i = SkipString(buf_, i);
      continue;
    }
    if (c != '-' && !IsDigit(c)) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < buf_.size() && IsNumberChar(buf_[end])) ++end;
    const std::string_view token(buf_.data() + i, end - i);
    const NumberShape shape = Shape(token);
    if (shape.valid && (shape.positive_exponent_over_99 || shape.int_digits > 300)) {
      if (const std::optional<double> d = NumberToDouble(token); d.has_value()) {
        const std::string shortest = ShortestText(*d);
        if (shortest.size() <= token.size()) {
          rewritten_.emplace_back(i, std::string(token));
          std::memcpy(buf_.data() + i, shortest.data(), shortest.size());
          std::memset(buf_.data() + i + shortest.size(), ' ', token.size() - shortest.size());
        }
      }
    }
    i = end;
  }
  doc_.ParseInsitu<kParseFlags>(buf_.data());
  if (doc_.HasParseError()) {
    const size_t offset = doc_.GetErrorOffset();
    const char* what = rapidjson::GetParseError_En(doc_.GetParseError());
    doc_.SetNull();
    return SyntaxError(offset, what);
  }
  return absl::OkStatus();
}

bool Document::IsNumber(const Value& v) const {
  if (!v.IsString()) return false;
  // In-place strings start right after their opening quote; a number never follows a quote.
  const char* p = v.GetString();
  return p == buf_.data() || p[-1] != '"';
}

std::string_view Document::NumberText(const Value& v) const {
  const size_t offset = static_cast<size_t>(v.GetString() - buf_.data());
  const auto it = std::lower_bound(
      rewritten_.begin(), rewritten_.end(), offset,
      [](const std::pair<size_t, std::string>& r, size_t o) { return r.first < o; });
  if (it != rewritten_.end() && it->first == offset) return it->second;
  return StringView(v);
}

const char* Document::TypeName(const Value& v) const {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "boolean";
    case rapidjson::kObjectType:
      return "object";
    case rapidjson::kArrayType:
      return "array";
    case rapidjson::kStringType:
      return IsNumber(v) ? "number" : "string";
    case rapidjson::kNumberType:
      return "number";
  }
  return "unknown";
}

}  // namespace tailtrace::json
