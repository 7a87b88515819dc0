#include "proto/otlp_json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proto/otlp_ids.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace tailtrace::otlp_json {
namespace {

namespace collv1 = opentelemetry::proto::collector::trace::v1;
namespace commonv1 = opentelemetry::proto::common::v1;
namespace resv1 = opentelemetry::proto::resource::v1;
namespace tracev1 = opentelemetry::proto::trace::v1;

using Json = rapidjson::Value;
using ResourceSpansList = google::protobuf::RepeatedPtrField<tracev1::ResourceSpans>;
using KeyValueList = google::protobuf::RepeatedPtrField<commonv1::KeyValue>;

// Iterative parsing: a deeply nested body cannot overflow the stack. Insitu: strings are
// unescaped in our own copy of the body instead of being copied into the document's pool.
// Validate encoding: protobuf rejects string fields holding invalid UTF-8 when it parses them
// back (e.g. from storage), so invalid UTF-8 must not get in. Full precision: doubles survive a
// JSON round trip bit for bit.
constexpr unsigned kParseFlags = rapidjson::kParseInsituFlag | rapidjson::kParseIterativeFlag |
                                 rapidjson::kParseValidateEncodingFlag |
                                 rapidjson::kParseFullPrecisionFlag;

// AnyValue nesting (arrayValue / kvlistValue inside AnyValue) accepted on input. Every level is up
// to three protobuf message levels and protobuf refuses to parse messages nested deeper than 100,
// so anything deeper could be stored but not read back.
constexpr int kMaxAnyValueDepth = 24;

std::string_view View(const Json& v) { return {v.GetString(), v.GetStringLength()}; }

// Matches a member name against a field's lowerCamelCase JSON name and its original proto name.
inline bool Is(std::string_view key, std::string_view camel, std::string_view snake) {
  return key == camel || key == snake;
}

const char* TypeName(const Json& v) {
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
      return "string";
    case rapidjson::kNumberType:
      return "number";
  }
  return "unknown";
}

int HexNibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The parser validates raw UTF-8, but a \\u escape of a lone low surrogate (\\udc00) comes out as
// ED B0 80, which is not UTF-8 and which protobuf refuses when it parses the string back.
// Surrogates are exactly the sequences ED A0..BF.
bool HasEncodedSurrogate(std::string_view s) {
  const char* p = s.data();
  const char* end = p + s.size();
  while ((p = static_cast<const char*>(std::memchr(p, '\xED', end - p))) != nullptr) {
    if (++p == end) return false;
    if (static_cast<uint8_t>(*p) >= 0xA0) return true;
  }
  return false;
}

// Renders an input value for an error message: quoted, cut at 64 bytes (on a UTF-8 boundary).
std::string Quote(std::string_view s) {
  constexpr size_t kMax = 64;
  std::string out = "\"";
  if (s.size() <= kMax) {
    out.append(s);
  } else {
    size_t n = kMax;
    while (n > 0 && (static_cast<uint8_t>(s[n]) & 0xC0) == 0x80) --n;  // not mid-character
    out.append(s.substr(0, n));
    out.append("...");
  }
  out.push_back('"');
  return out;
}

// A single input byte for an error message: itself when printable ASCII, else \\xNN.
std::string ByteForMessage(char c) {
  const auto b = static_cast<uint8_t>(c);
  if (b >= 0x20 && b < 0x7f) return std::string(1, c);
  static constexpr char kDigits[] = "0123456789abcdef";
  return {'\\', 'x', kDigits[b >> 4], kDigits[b & 0xf]};
}

// Decoding table for base64: the standard and the URL-safe alphabet both map; -1 elsewhere.
struct Base64Table {
  int8_t value[256];
  constexpr Base64Table() : value() {
    for (int i = 0; i < 256; ++i) value[i] = -1;
    for (int i = 0; i < 26; ++i) {
      value['A' + i] = static_cast<int8_t>(i);
      value['a' + i] = static_cast<int8_t>(26 + i);
    }
    for (int i = 0; i < 10; ++i) value['0' + i] = static_cast<int8_t>(52 + i);
    value['+'] = 62;
    value['-'] = 62;
    value['/'] = 63;
    value['_'] = 63;
  }
};
constexpr Base64Table kBase64;

// Decodes standard or URL-safe base64, padded or not. Returns false on a character outside both
// alphabets, misplaced padding or an impossible length.
bool Base64Decode(std::string_view in, std::string* out) {
  size_t n = in.size();
  if (n % 4 == 0 && n > 0 && in[n - 1] == '=') {
    --n;
    if (in[n - 1] == '=') --n;
  }
  if (n % 4 == 1) return false;
  out->clear();
  out->reserve(n / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    const int8_t d = kBase64.value[static_cast<uint8_t>(in[i])];
    if (d < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

void Base64Encode(std::string_view in, std::string* out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out->resize((in.size() + 2) / 3 * 4);
  char* p = out->data();
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (static_cast<uint32_t>(static_cast<uint8_t>(in[i])) << 16) |
                       (static_cast<uint32_t>(static_cast<uint8_t>(in[i + 1])) << 8) |
                       static_cast<uint32_t>(static_cast<uint8_t>(in[i + 2]));
    *p++ = kAlphabet[(v >> 18) & 63];
    *p++ = kAlphabet[(v >> 12) & 63];
    *p++ = kAlphabet[(v >> 6) & 63];
    *p++ = kAlphabet[v & 63];
  }
  const size_t rest = in.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<uint32_t>(static_cast<uint8_t>(in[i])) << 16;
    if (rest == 2) v |= static_cast<uint32_t>(static_cast<uint8_t>(in[i + 1])) << 8;
    *p++ = kAlphabet[(v >> 18) & 63];
    *p++ = kAlphabet[(v >> 12) & 63];
    *p++ = rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    *p++ = '=';
  }
}

// ---------------------------------------------------------------------------------------------
// JSON -> proto

// Walks a parsed document into protobuf messages. Keeps the JSON path of the value being read as
// a stack of segments that is only rendered into text when an error is reported.
class Parser {
 public:
  Parser() { path_.reserve(32); }

  absl::Status Request(const Json& v, collv1::ExportTraceServiceRequest* out) {
    if (!v.IsObject()) return TypeError(v, "object");
    for (const auto& m : v.GetObject()) {
      if (m.value.IsNull()) continue;
      const std::string_view k = View(m.name);
      if (!Is(k, "resourceSpans", "resource_spans")) continue;
      PathScope s(this, k);
      if (absl::Status st =
              Repeated(m.value, out->mutable_resource_spans(), &Parser::ResourceSpans);
          !st.ok()) {
        return st;
      }
    }
    return absl::OkStatus();
  }

 private:
  struct Segment {
    std::string_view key;  // an object member's name, unless is_index
    size_t index = 0;
    bool is_index = false;
  };

  // Pushes a path segment for the lifetime of the scope.
  class PathScope {
   public:
    PathScope(Parser* p, std::string_view key) : p_(p) { p_->path_.push_back({key, 0, false}); }
    PathScope(Parser* p, size_t index) : p_(p) { p_->path_.push_back({{}, index, true}); }
    ~PathScope() { p_->path_.pop_back(); }
    PathScope(const PathScope&) = delete;
    PathScope& operator=(const PathScope&) = delete;

   private:
    Parser* p_;
  };

  std::string PathString() const {
    std::string out;
    for (const Segment& s : path_) {
      if (s.is_index) {
        absl::StrAppend(&out, "[", s.index, "]");
      } else {
        if (!out.empty()) out.push_back('.');
        out.append(s.key);
      }
    }
    if (out.empty()) out = "(root)";
    return out;
  }

  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(PathString(), ": ", absl::string_view(what.data(), what.size())));
  }

  absl::Status TypeError(const Json& v, const char* expected) const {
    return Error(absl::StrCat("expected ", expected, ", got ", TypeName(v)));
  }

  // A repeated message field: a JSON array of objects.
  template <typename Msg>
  absl::Status Repeated(const Json& v, google::protobuf::RepeatedPtrField<Msg>* out,
                        absl::Status (Parser::*element)(const Json&, Msg*)) {
    if (!v.IsArray()) return TypeError(v, "array");
    const auto arr = v.GetArray();
    out->Reserve(out->size() + static_cast<int>(arr.Size()));
    for (rapidjson::SizeType i = 0; i < arr.Size(); ++i) {
      PathScope s(this, static_cast<size_t>(i));
      if (absl::Status st = (this->*element)(arr[i], out->Add()); !st.ok()) return st;
    }
    return absl::OkStatus();
  }

  absl::Status Attributes(const Json& v, KeyValueList* out) {
    return Repeated(v, out, &Parser::KeyValue);
  }

  absl::Status String(const Json& v, std::string* out) {
    if (!v.IsString()) return TypeError(v, "string");
    const std::string_view s = View(v);
    if (HasEncodedSurrogate(s)) return Error("invalid UTF-8: \\u escape of a lone surrogate");
    out->assign(s.data(), s.size());
    return absl::OkStatus();
  }

  absl::Status Bool(const Json& v, bool* out) {
    if (!v.IsBool()) return TypeError(v, "boolean");
    *out = v.GetBool();
    return absl::OkStatus();
  }

  // An integer field: a JSON number without a fraction, or a string of decimal digits.
  template <typename T>
  absl::Status Integer(const Json& v, T* out) {
    if (v.IsString()) {
      const std::string_view s = View(v);
      T value{};
      const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
      if (ec == std::errc::result_out_of_range) return RangeError();
      if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) {
        return Error(absl::StrCat("expected an integer, got ", Quote(s)));
      }
      *out = value;
      return absl::OkStatus();
    }
    if (!v.IsNumber()) return TypeError(v, "integer (number or string)");
    if (v.IsInt64()) {
      const int64_t i = v.GetInt64();
      if (!std::in_range<T>(i)) return RangeError();
      *out = static_cast<T>(i);
      return absl::OkStatus();
    }
    if (v.IsUint64()) {
      const uint64_t u = v.GetUint64();
      if (!std::in_range<T>(u)) return RangeError();
      *out = static_cast<T>(u);
      return absl::OkStatus();
    }
    // A double: accepted when it is integral and in range (1e3, 5.0).
    const double d = v.GetDouble();
    if (d != std::trunc(d)) return Error("expected an integer, got a fraction");
    // 2^63 and 2^64 are exact doubles; compare against them rather than the integer maxima,
    // which do not convert exactly.
    constexpr double kLimit =
        std::numeric_limits<T>::is_signed
            ? -static_cast<double>(std::numeric_limits<T>::min())
            : 2.0 * (static_cast<double>(std::numeric_limits<T>::max() / 2 + 1));
    const bool fits =
        std::numeric_limits<T>::is_signed ? (d >= -kLimit && d < kLimit) : (d >= 0 && d < kLimit);
    if (!fits) return RangeError();
    *out = static_cast<T>(d);
    return absl::OkStatus();
  }

  absl::Status RangeError() const { return Error("integer out of range for the field's type"); }

  // A double: a number, or a string holding a number, "NaN", "Infinity" or "-Infinity".
  absl::Status Double(const Json& v, double* out) {
    if (v.IsNumber()) {
      *out = v.GetDouble();
      return absl::OkStatus();
    }
    if (!v.IsString()) return TypeError(v, "number");
    const std::string_view s = View(v);
    if (s == "NaN") {
      *out = std::numeric_limits<double>::quiet_NaN();
    } else if (s == "Infinity") {
      *out = std::numeric_limits<double>::infinity();
    } else if (s == "-Infinity") {
      *out = -std::numeric_limits<double>::infinity();
    } else {
      double d = 0;
      const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
      if (ec != std::errc() || ptr != s.data() + s.size() || s.empty() || !std::isfinite(d)) {
        return Error(absl::StrCat("expected a number, \"NaN\", \"Infinity\" or \"-Infinity\", got ",
                                  Quote(s)));
      }
      *out = d;
    }
    return absl::OkStatus();
  }

  // An enum: its number, or its name as the .proto declares it.
  template <typename E>
  absl::Status Enum(const Json& v, bool (*parse_name)(const std::string&, E*), E* out) {
    if (v.IsString()) {
      E value{};
      if (!parse_name(std::string(View(v)), &value)) {
        return Error(absl::StrCat("unknown enum value ", Quote(View(v))));
      }
      *out = value;
      return absl::OkStatus();
    }
    if (!v.IsInt()) return TypeError(v, "enum (integer or name)");
    *out = static_cast<E>(v.GetInt());
    return absl::OkStatus();
  }

  // A trace or span ID: hex of exactly `bytes` bytes, any case; "" is an empty ID.
  absl::Status Id(const Json& v, size_t bytes, std::string* out) {
    if (!v.IsString()) return TypeError(v, "hex string");
    const std::string_view hex = View(v);
    if (hex.empty()) {
      out->clear();
      return absl::OkStatus();
    }
    if (hex.size() != bytes * 2) {
      return Error(absl::StrCat("expected ", bytes * 2, " hex digits, got ", hex.size()));
    }
    out->resize(bytes);
    char* dst = out->data();
    for (size_t i = 0; i < bytes; ++i) {
      const int hi = HexNibble(hex[2 * i]);
      const int lo = HexNibble(hex[2 * i + 1]);
      if (hi < 0 || lo < 0) {
        const size_t bad = hi < 0 ? 2 * i : 2 * i + 1;
        return Error(
            absl::StrCat("invalid hex digit '", ByteForMessage(hex[bad]), "' at position ", bad));
      }
      dst[i] = static_cast<char>((hi << 4) | lo);
    }
    return absl::OkStatus();
  }

  absl::Status Bytes(const Json& v, std::string* out) {
    if (!v.IsString()) return TypeError(v, "base64 string");
    if (!Base64Decode(View(v), out)) return Error("invalid base64");
    return absl::OkStatus();
  }

  absl::Status ResourceSpans(const Json& v, tracev1::ResourceSpans* out) {
    if (!v.IsObject()) return TypeError(v, "object");
    for (const auto& m : v.GetObject()) {
      if (m.value.IsNull()) continue;
      const std::string_view k = View(m.name);
      PathScope s(this, k);
      absl::Status st;
      if (k == "resource") {
        st = Resource(m.value, out->mutable_resource());
      } else if (Is(k, "scopeSpans", "scope_spans")) {
        st = Repeated(m.value, out->mutable_scope_spans(), &Parser::ScopeSpans);
      } else if (Is(k, "schemaUrl", "schema_url")) {
        st = String(m.value, out->mutable_schema_url());
      }
      if (!st.ok()) return st;
    }
    return absl::OkStatus();
  }

  absl::Status Resource(const Json& v, resv1::Resource* out) {
    if (!v.IsObject()) return TypeError(v, "object");
    for (const auto& m : v.GetObject()) {
      if (m.value.IsNull()) continue;
      const std::string_view k = View(m.name);
      PathScope s(this, k);
      absl::Status st;
      if (k == "attributes") {
        st = Attributes(m.value, out->mutable_attributes());
      } else if (Is(k, "droppedAttributesCount", "dropped_attributes_count")) {
        uint32_t n = 0;
        st = Integer(m.value, &n);
        out->set_dropped_attributes_count(n);
      }
      if (!st.ok()) return st;
    }
    return absl::OkStatus();
  }

  absl::Status ScopeSpans(const Json& v, tracev1::ScopeSpans* out) {
    if (!v.IsObject()) return TypeError(v, "object");
    for (const auto& m : v.GetObject()) {
      if (m.value.IsNull()) continue;
      const std::string_view k = View(m.name);
      PathScope s(this, k);
      absl::Status st;
      if (k == "scope") {
        st = InstrumentationScope(m.value, out->mutable_scope());
      } else if (k == "spans") {
        st = Repeated(m.value, out->mutable_spans(), &Parser::Span);
      } else if (Is(k, "schemaUrl", "schema_url")) {
        st = String(m.value, out->mutable_schema_url());
      }
      if (!st.ok()) return st;
    }
    return absl::OkStatus();
  }

  absl::Status InstrumentationScope(const Json& v, commonv1::InstrumentationScope* out) {
    if (!v.IsObject()) return TypeError(v, "object");
    for (const auto& m : v.GetObject()) {
      if (m.value.IsNull()) continue;
      const std::string_view k = View(m.name);
      PathScope s(this, k);
      absl::Status st;
      if (k == "name") {
        st = String(m.value, out->mutable_name());
      } else if (k == "version") {
        st = String(m.value, out->mutable_version());
      } else if (k == "attributes") {
        st = Attributes(m.value, out->mutable_attributes());
      } else if (Is(k, "droppedAttributesCount", "dropped_attributes_count")) {
        uint32_t n = 0;
        st = Integer(m.value, &n);
        out->set_dropped_attributes_count(n);
      }
      if (!st.ok()) return st;
    }
    return absl::OkStatus();
  }

  absl::Status Span(const Json& v, tracev1::Span* out) {
    if (!v.IsObject()) return TypeError(v, "object");
    for (const auto& m : v.GetObject()) {
      if (m.value.IsNull()) continue;
      const std::string_view k = View(m.name);
      PathScope s(this, k);
      absl::Status st;
      if (Is(k, "traceId", "trace_id")) {
        st = Id(m.value, kTraceIdBytes, out->mutable_trace_id());
      } else if (Is(k, "spanId", "span_id")) {
        st = Id(m.value, kSpanIdBytes, out->mutable_span_id());
      } else if (Is(k, "traceState", "trace_state")) {
        st = String(m.value, out->mutable_trace_state());
      } else if (Is(k, "parentSpanId", "parent_span_id")) {
        st = Id(m.value, kSpanIdBytes, out->mutable_parent_span_id());
      } else if (k == "flags") {
        uint32_t n = 0;
        st = Integer(m.value, &n);
        out->set_flags(n);
      } else if (k == "name") {
        st = String(m.value, out->mutable_name());
      } else if (k == "kind") {
        tracev1::Span::SpanKind kind{};
        st = Enum(m.value, &tracev1::Span::SpanKind_Parse, &kind);
        out->set_kind(kind);
      } else if (Is(k, "startTimeUnixNano", "start_time_unix_nano")) {
        uint64_t t = 0;
        st = Integer(m.value, &t);
        out->set_start_time_unix_nano(t);
      } else if (Is(k, "endTimeUnixNano", "end_time_unix_nano")) {
        uint64_t t = 0;
        st = Integer(m.value, &t);
        out->set_end_time_unix_nano(t);
      } else if (k == "attributes") {
        st = Attributes(m.value, out->mutable_attributes());
      } else if (Is(k, "droppedAttributesCount", "dropped_attributes_count")) {
        uint32_t n = 0;
        st = Integer(m.value, &n);
        out->set_dropped_attributes_count(n);
      } else if (k == "events") {
        st = Repeated(m.value, out->mutable_events(), &Parser::Event);
      } else if (Is(k, "droppedEventsCount", "dropped_events_count")) {
        uint32_t n = 0;
        st = Integer(m.value, &n);
        out->set_dropped_events_count(n);
      } else if (k == "links") {
        st = Repeated(m.value, out->mutable_links(), &Parser::Link);
      } else if (Is(k, "droppedLinksCount", "dropped_links_count")) {
        uint32_t n = 0;
        st = Integer(m.value, &n);
        out->set_dropped_links_count(n);
      } else if (k == "status") {
        st = Status(m.value, out->mutable_status());
      }
      if (!st.ok()) return st;
    }
    return absl::OkStatus();
  }

  absl::Status Event(const Json& v, tracev1::Span::Event* out) {
    if (!v.IsObject()) return TypeError(v, "object");
    for (const auto& m : v.GetObject()) {
      if (m.value.IsNull()) continue;
      const std::string_view k = View(m.name);
      PathScope s(this, k);
      absl::Status st;
      if (Is(k, "timeUnixNano", "time_unix_nano")) {
        uint64_t t = 0;
        st = Integer(m.value, &t);
        out->set_time_unix_nano(t);
      } else if (k == "name") {
        st = String(m.value, out->mutable_name());
      } else if (k == "attributes") {
        st = Attributes(m.value, out->mutable_attributes());
      } else if (Is(k, "droppedAttributesCount", "dropped_attributes_count")) {
        uint32_t n = 0;
        st = Integer(m.value, &n);
        out->set_dropped_attributes_count(n);
      }
      if (!st.ok()) return st;
    }
    return absl::OkStatus();
  }

  absl::Status Link(const Json& v, tracev1::Span::Link* out) {
    if (!v.IsObject()) return TypeError(v, "object");
    for (const auto& m : v.GetObject()) {
      if (m.value.IsNull()) continue;
      const std::string_view k = View(m.name);
      PathScope s(this, k);
      absl::Status st;
      if (Is(k, "traceId", "trace_id")) {
        st = Id(m.value, kTraceIdBytes, out->mutable_trace_id());
      } else if (Is(k, "spanId", "span_id")) {
        st = Id(m.value, kSpanIdBytes, out->mutable_span_id());
      } else if (Is(k, "traceState", "trace_state")) {
        st = String(m.value, out->mutable_trace_state());
      } else if (k == "attributes") {
        st = Attributes(m.value, out->mutable_attributes());
      } else if (Is(k, "droppedAttributesCount", "dropped_attributes_count")) {
        uint32_t n = 0;
        st = Integer(m.value, &n);
        out->set_dropped_attributes_count(n);
      } else if (k == "flags") {
        uint32_t n = 0;
        st = Integer(m.value, &n);
        out->set_flags(n);
      }
      if (!st.ok()) return st;
    }
    return absl::OkStatus();
  }

  absl::Status Status(const Json& v, tracev1::Status* out) {
    if (!v.IsObject()) return TypeError(v, "object");
    for (const auto& m : v.GetObject()) {
      if (m.value.IsNull()) continue;
      const std::string_view k = View(m.name);
      PathScope s(this, k);
      absl::Status st;
      if (k == "message") {
        st = String(m.value, out->mutable_message());
      } else if (k == "code") {
        tracev1::Status::StatusCode code{};
        st = Enum(m.value, &tracev1::Status::StatusCode_Parse, &code);
        out->set_code(code);
      }
      if (!st.ok()) return st;
    }
    return absl::OkStatus();
  }

  absl::Status KeyValue(const Json& v, commonv1::KeyValue* out) { return KeyValueAt(v, out, 0); }

  absl::Status AnyValue(const Json& v, commonv1::AnyValue* out, int depth) {
    if (!v.IsObject()) return TypeError(v, "object");
    for (const auto& m : v.GetObject()) {
      if (m.value.IsNull()) continue;
      const std::string_view k = View(m.name);
      PathScope s(this, k);
      // Each branch below sets the oneof; a second value member is an error.
      const bool already_set = out->value_case() != commonv1::AnyValue::VALUE_NOT_SET;
      absl::Status st;
      if (Is(k, "stringValue", "string_value")) {
        if (already_set) return OneofError();
        st = String(m.value, out->mutable_string_value());
      } else if (Is(k, "boolValue", "bool_value")) {
        if (already_set) return OneofError();
        bool b = false;
        st = Bool(m.value, &b);
        out->set_bool_value(b);
      } else if (Is(k, "intValue", "int_value")) {
        if (already_set) return OneofError();
        int64_t i = 0;
        st = Integer(m.value, &i);
        out->set_int_value(i);
      } else if (Is(k, "doubleValue", "double_value")) {
        if (already_set) return OneofError();
        double d = 0;
        st = Double(m.value, &d);
        out->set_double_value(d);
      } else if (Is(k, "bytesValue", "bytes_value")) {
        if (already_set) return OneofError();
        st = Bytes(m.value, out->mutable_bytes_value());
      } else if (Is(k, "arrayValue", "array_value")) {
        if (already_set) return OneofError();
        if (depth >= kMaxAnyValueDepth) return DepthError();
        st = ArrayValue(m.value, out->mutable_array_value(), depth + 1);
      } else if (Is(k, "kvlistValue", "kvlist_value")) {
        if (already_set) return OneofError();
        if (depth >= kMaxAnyValueDepth) return DepthError();
        st = KvlistValue(m.value, out->mutable_kvlist_value(), depth + 1);
      }
      if (!st.ok()) return st;
    }
    return absl::OkStatus();
  }

  absl::Status OneofError() const { return Error("AnyValue holds more than one value"); }

  absl::Status DepthError() const {
    return Error(absl::StrCat("AnyValue nested deeper than ", kMaxAnyValueDepth, " levels"));
  }

  absl::Status ArrayValue(const Json& v, commonv1::ArrayValue* out, int depth) {
    if (!v.IsObject()) return TypeError(v, "object");
    for (const auto& m : v.GetObject()) {
      if (m.value.IsNull()) continue;
      const std::string_view k = View(m.name);
      if (k != "values") continue;
      PathScope s(this, k);
      if (!m.value.IsArray()) return TypeError(m.value, "array");
      const auto arr = m.value.GetArray();
      out->mutable_values()->Reserve(out->values_size() + static_cast<int>(arr.Size()));
      for (rapidjson::SizeType i = 0; i < arr.Size(); ++i) {
        PathScope si(this, static_cast<size_t>(i));
        if (absl::Status st = AnyValue(arr[i], out->add_values(), depth); !st.ok()) return st;
      }
    }
    return absl::OkStatus();
  }

  absl::Status KvlistValue(const Json& v, commonv1::KeyValueList* out, int depth) {
    if (!v.IsObject()) return TypeError(v, "object");
    for (const auto& m : v.GetObject()) {
      if (m.value.IsNull()) continue;
      const std::string_view k = View(m.name);
      if (k != "values") continue;
      PathScope s(this, k);
      if (!m.value.IsArray()) return TypeError(m.value, "array");
      const auto arr = m.value.GetArray();
      out->mutable_values()->Reserve(out->values_size() + static_cast<int>(arr.Size()));
      for (rapidjson::SizeType i = 0; i < arr.Size(); ++i) {
        PathScope si(this, static_cast<size_t>(i));
        if (absl::Status st = KeyValueAt(arr[i], out->add_values(), depth); !st.ok()) {
          return st;
        }
      }
    }
    return absl::OkStatus();
  }

  // A KeyValue whose value is at AnyValue nesting `depth` (0 for attributes).
  absl::Status KeyValueAt(const Json& v, commonv1::KeyValue* out, int depth) {
    if (!v.IsObject()) return TypeError(v, "object");
    for (const auto& m : v.GetObject()) {
      if (m.value.IsNull()) continue;
      const std::string_view k = View(m.name);
      PathScope s(this, k);
      absl::Status st;
      if (k == "key") {
        st = String(m.value, out->mutable_key());
      } else if (k == "value") {
        st = AnyValue(m.value, out->mutable_value(), depth);
      }
      if (!st.ok()) return st;
    }
    return absl::OkStatus();
  }

  std::vector<Segment> path_;
};

// ---------------------------------------------------------------------------------------------
// proto -> JSON

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

class Emitter {
 public:
  explicit Emitter(Writer* w) : w_(*w) {}

  void ResourceSpansList(const ResourceSpansList& list) {
    w_.StartObject();
    if (!list.empty()) {
      Key("resourceSpans");
      w_.StartArray();
      for (const auto& rs : list) ResourceSpans(rs);
      w_.EndArray();
    }
    w_.EndObject();
  }

  void ResourceSpans(const tracev1::ResourceSpans& rs) {
    w_.StartObject();
    if (rs.has_resource()) {
      Key("resource");
      w_.StartObject();
      Attributes(rs.resource().attributes());
      Count("droppedAttributesCount", rs.resource().dropped_attributes_count());
      w_.EndObject();
    }
    if (!rs.scope_spans().empty()) {
      Key("scopeSpans");
      w_.StartArray();
      for (const auto& ss : rs.scope_spans()) ScopeSpans(ss);
      w_.EndArray();
    }
    OptString("schemaUrl", rs.schema_url());
    w_.EndObject();
  }

  void ScopeSpans(const tracev1::ScopeSpans& ss) {
    w_.StartObject();
    if (ss.has_scope()) {
      const auto& scope = ss.scope();
      Key("scope");
      w_.StartObject();
      OptString("name", scope.name());
      OptString("version", scope.version());
      Attributes(scope.attributes());
      Count("droppedAttributesCount", scope.dropped_attributes_count());
      w_.EndObject();
    }
    if (!ss.spans().empty()) {
      Key("spans");
      w_.StartArray();
      for (const auto& span : ss.spans()) Span(span);
      w_.EndArray();
    }
    OptString("schemaUrl", ss.schema_url());
    w_.EndObject();
  }

  void Span(const tracev1::Span& span) {
    w_.StartObject();
    Key("traceId");
    Hex(span.trace_id());
    Key("spanId");
    Hex(span.span_id());
    OptString("traceState", span.trace_state());
    if (!span.parent_span_id().empty()) {
      Key("parentSpanId");
      Hex(span.parent_span_id());
    }
    Count("flags", span.flags());
    OptString("name", span.name());
    if (span.kind() != 0) {
      Key("kind");
      w_.Int(span.kind());
    }
    Fixed64("startTimeUnixNano", span.start_time_unix_nano());
    Fixed64("endTimeUnixNano", span.end_time_unix_nano());
    Attributes(span.attributes());
    Count("droppedAttributesCount", span.dropped_attributes_count());
    if (!span.events().empty()) {
      Key("events");
      w_.StartArray();
      for (const auto& e : span.events()) {
        w_.StartObject();
        Fixed64("timeUnixNano", e.time_unix_nano());
        OptString("name", e.name());
        Attributes(e.attributes());
        Count("droppedAttributesCount", e.dropped_attributes_count());
        w_.EndObject();
      }
      w_.EndArray();
    }
    Count("droppedEventsCount", span.dropped_events_count());
    if (!span.links().empty()) {
      Key("links");
      w_.StartArray();
      for (const auto& l : span.links()) {
        w_.StartObject();
        Key("traceId");
        Hex(l.trace_id());
        Key("spanId");
        Hex(l.span_id());
        OptString("traceState", l.trace_state());
        Attributes(l.attributes());
        Count("droppedAttributesCount", l.dropped_attributes_count());
        Count("flags", l.flags());
        w_.EndObject();
      }
      w_.EndArray();
    }
    Count("droppedLinksCount", span.dropped_links_count());
    if (span.has_status()) {
      Key("status");
      w_.StartObject();
      OptString("message", span.status().message());
      if (span.status().code() != 0) {
        Key("code");
        w_.Int(span.status().code());
      }
      w_.EndObject();
    }
    w_.EndObject();
  }

  void Attributes(const KeyValueList& attrs) {
    if (attrs.empty()) return;
    Key("attributes");
    KeyValues(attrs);
  }

  void KeyValues(const KeyValueList& kvs) {
    w_.StartArray();
    for (const auto& kv : kvs) {
      w_.StartObject();
      Key("key");
      Str(kv.key());
      if (kv.has_value()) {
        Key("value");
        AnyValue(kv.value());
      }
      w_.EndObject();
    }
    w_.EndArray();
  }

  void AnyValue(const commonv1::AnyValue& v) {
    w_.StartObject();
    switch (v.value_case()) {
      case commonv1::AnyValue::kStringValue:
        Key("stringValue");
        Str(v.string_value());
        break;
      case commonv1::AnyValue::kBoolValue:
        Key("boolValue");
        w_.Bool(v.bool_value());
        break;
      case commonv1::AnyValue::kIntValue:
        Key("intValue");
        IntString(v.int_value());
        break;
      case commonv1::AnyValue::kDoubleValue:
        Key("doubleValue");
        Double(v.double_value());
        break;
      case commonv1::AnyValue::kArrayValue:
        Key("arrayValue");
        w_.StartObject();
        if (!v.array_value().values().empty()) {
          Key("values");
          w_.StartArray();
          for (const auto& e : v.array_value().values()) AnyValue(e);
          w_.EndArray();
        }
        w_.EndObject();
        break;
      case commonv1::AnyValue::kKvlistValue:
        Key("kvlistValue");
        w_.StartObject();
        if (!v.kvlist_value().values().empty()) {
          Key("values");
          KeyValues(v.kvlist_value().values());
        }
        w_.EndObject();
        break;
      case commonv1::AnyValue::kBytesValue:
        Key("bytesValue");
        Base64Encode(v.bytes_value(), &scratch_);
        Str(scratch_);
        break;
      case commonv1::AnyValue::VALUE_NOT_SET:
        break;
    }
    w_.EndObject();
  }

  template <size_t N>
  void Key(const char (&name)[N]) {
    w_.Key(name, static_cast<rapidjson::SizeType>(N - 1));
  }

  void Str(std::string_view s) { w_.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

  template <size_t N>
  void OptString(const char (&name)[N], const std::string& s) {
    if (s.empty()) return;
    Key(name);
    Str(s);
  }

  template <size_t N>
  void Count(const char (&name)[N], uint32_t n) {
    if (n == 0) return;
    Key(name);
    w_.Uint(n);
  }

  template <size_t N>
  void Fixed64(const char (&name)[N], uint64_t n) {
    if (n == 0) return;
    Key(name);
    IntString(n);
  }

  template <typename T>
  void IntString(T n) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof(buf), n);
    w_.String(buf, static_cast<rapidjson::SizeType>(r.ptr - buf));
  }

  void Double(double d) {
    if (std::isnan(d)) {
      Str("NaN");
    } else if (std::isinf(d)) {
      Str(d > 0 ? "Infinity" : "-Infinity");
    } else {
      w_.Double(d);
    }
  }

  void Hex(const std::string& bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    scratch_.resize(bytes.size() * 2);
    for (size_t i = 0; i < bytes.size(); ++i) {
      const auto b = static_cast<uint8_t>(bytes[i]);
      scratch_[2 * i] = kDigits[b >> 4];
      scratch_[2 * i + 1] = kDigits[b & 0xf];
    }
    Str(scratch_);
  }

 private:
  Writer& w_;
  std::string scratch_;  // reused for hex and base64 renderings
};

std::string Finish(const rapidjson::StringBuffer& buf) {
  return std::string(buf.GetString(), buf.GetSize());
}

// A starting capacity for the output buffer, so that typical bodies need no regrowth.
size_t EstimateJsonBytes(const ResourceSpansList& list) {
  size_t spans = 0;
  for (const auto& rs : list) {
    for (const auto& ss : rs.scope_spans()) spans += static_cast<size_t>(ss.spans_size());
  }
  return 256 + spans * 512;
}

std::string ResourceSpansToJson(const ResourceSpansList& list) {
  rapidjson::StringBuffer buf(nullptr, EstimateJsonBytes(list));
  Writer w(buf);
  Emitter e(&w);
  e.ResourceSpansList(list);
  return Finish(buf);
}

}  // namespace

absl::Status ParseExportRequest(std::string_view json, collv1::ExportTraceServiceRequest* out) {
  out->Clear();
  // A raw NUL is never valid JSON, and the in-place parser would take it for the end of input.
  if (const void* nul = std::memchr(json.data(), '\0', json.size()); nul != nullptr) {
    const size_t offset = static_cast<const char*>(nul) - json.data();
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON at byte offset ", offset, ": NUL character"));
  }
  std::string buf(json);  // the in-place parser unescapes strings into this copy
  rapidjson::Document doc;
  doc.ParseInsitu<kParseFlags>(buf.data());
  if (doc.HasParseError()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON at byte offset ", doc.GetErrorOffset(), ": ",
                     rapidjson::GetParseError_En(doc.GetParseError())));
  }
  Parser parser;
  return parser.Request(doc, out);
}

std::string TracesDataToJson(const tracev1::TracesData& data) {
  return ResourceSpansToJson(data.resource_spans());
}

std::string ExportRequestToJson(const collv1::ExportTraceServiceRequest& request) {
  return ResourceSpansToJson(request.resource_spans());
}

std::string ExportResponseToJson(const collv1::ExportTraceServiceResponse& response) {
  const auto& ps = response.partial_success();
  if (ps.rejected_spans() == 0 && ps.error_message().empty()) return "{}";
  rapidjson::StringBuffer buf;
  Writer w(buf);
  Emitter e(&w);
  w.StartObject();
  e.Key("partialSuccess");
  w.StartObject();
  if (ps.rejected_spans() != 0) {
    e.Key("rejectedSpans");
    e.IntString(ps.rejected_spans());
  }
  if (!ps.error_message().empty()) {
    e.Key("errorMessage");
    e.Str(ps.error_message());
  }
  w.EndObject();
  w.EndObject();
  return Finish(buf);
}

std::string RpcStatusToJson(const google::rpc::Status& status) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  Emitter e(&w);
  w.StartObject();
  e.Key("code");
  w.Int(status.code());
  if (!status.message().empty()) {
    e.Key("message");
    e.Str(status.message());
  }
  w.EndObject();
  return Finish(buf);
}

}  // namespace tailtrace::otlp_json
