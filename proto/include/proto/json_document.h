#pragma once

// A JSON text parsed from untrusted bytes (a request body, a query parameter). rapidjson 1.1.0
// underneath, with its unsafe paths closed off and our own checks in front:
//   - The full-precision number parser (which crashes on some inputs) is never used: numbers are
//     kept as their text and converted by the caller with the exact functions below
//     (std::from_chars; correctly rounded). IsNumber tells them from strings.
//   - rapidjson's UTF-8 validation (which reads and writes past the end of a body that ends on
//     a lead byte) is never used: the whole text is validated here first (RFC 3629).
//   - A raw NUL, which the in-place parser would take for the end of the text, is an error.
//   - Numbers rapidjson refuses although they are finite doubles (0e400, 0.001e310, integers of
//     more than 308 digits) are rewritten in the parse buffer to their shortest form; NumberText
//     still returns the original.
//   - Parsing is iterative, so nesting depth cannot overflow the stack.
// Errors are InvalidArgument "invalid JSON at byte offset N: what".
//
// Not thread-safe for Parse; const methods may be called from several threads. Values returned
// by root() point into the Document and live as long as it does (until the next Parse).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "rapidjson/document.h"

namespace tailtrace::json {

using Value = rapidjson::Value;

class Document {
 public:
  Document() = default;
  Document(const Document&) = delete;
  Document& operator=(const Document&) = delete;

  // Parses `text` (copied). On error the document is empty (root() is null).
  [[nodiscard]] absl::Status Parse(std::string_view text);

  const Value& root() const { return doc_; }

  // A JSON number. Numbers are held as strings (rapidjson's kParseNumbersAsStringsFlag), so
  // IsString and IsNumber, not Value::IsString / IsNumber, tell the two apart.
  bool IsNumber(const Value& v) const;
  bool IsString(const Value& v) const { return v.IsString() && !IsNumber(v); }
  std::string_view StringView(const Value& v) const { return {v.GetString(), v.GetStringLength()}; }
  // The number's text as it appears in the input (IsNumber(v) required).
  std::string_view NumberText(const Value& v) const;
  // "null", "boolean", "object", "array", "string" or "number".
  const char* TypeName(const Value& v) const;

 private:
  std::string buf_;  // the text, parsed in place
  rapidjson::Document doc_;
  // Numbers rewritten before parsing: (offset in buf_, original text), by offset.
  std::vector<std::pair<size_t, std::string>> rewritten_;
};

// Exact conversions of a JSON number's text. The integer ones accept only an integer token
// ("-12", not "1e3" or "1.0") that fits the type. NumberToDouble rounds correctly, turns an
// underflow into a signed zero and returns nullopt for anything that is not a finite double.
std::optional<int64_t> NumberToInt64(std::string_view number);
std::optional<uint64_t> NumberToUint64(std::string_view number);
std::optional<double> NumberToDouble(std::string_view number);

}  // namespace tailtrace::json
