// OTLP/JSON -> proto: decoding an ExportTraceServiceRequest.

#include "proto/otlp_json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "otlp_json_internal.h"
#include "proto/json_document.h"
#include "proto/otlp_ids.h"

namespace tailtrace::otlp_json {
namespace {

using namespace internal;  // NOLINT(build/namespaces)

using Json = json::Value;

// AnyValue nesting (arrayValue / kvlistValue inside AnyValue) accepted on input. Every level is up
// to three protobuf message levels and protobuf refuses to parse messages nested deeper than 100,
// so anything deeper could be stored but not read back.
constexpr int kMaxAnyValueDepth = 24;

// Matches a member name against a field's lowerCamelCase JSON name and its original proto name.
inline bool Is(std::string_view key, std::string_view camel, std::string_view snake) {
  return key == camel || key == snake;
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

// Renders an input value for an error message: quoted, cut at 64 bytes (on a UTF-8 boundary),
// bytes that are not UTF-8 (a \\u escape of a lone surrogate decodes to some) shown as \\xNN.
std::string Quote(std::string_view s) {
  constexpr size_t kMax = 64;
  std::string out = "\"";
  if (s.size() <= kMax) {
    out.append(SanitizeUtf8(s));
  } else {
    size_t n = kMax;
    while (n > 0 && (static_cast<uint8_t>(s[n]) & 0xC0) == 0x80) --n;  // not mid-character
    out.append(SanitizeUtf8(s.substr(0, n)));
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

// Walks a parsed document into protobuf messages. Keeps the JSON path of the value being read as
// a stack of segments that is only rendered into text when an error is reported.
class Parser {
 public:
  explicit Parser(const json::Document* doc) : doc_(doc) { path_.reserve(32); }

  absl::Status Request(const Json& v, collv1::ExportTraceServiceRequest* out) {
    return Members(v, [&](std::string_view k, const Json& x) {
      if (!Is(k, "resourceSpans", "resource_spans")) return absl::OkStatus();
      return Repeated(x, out->mutable_resource_spans(), &Parser::ResourceSpans);
    });
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
    return Error(absl::StrCat("expected ", expected, ", got ", doc_->TypeName(v)));
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
    if (!IsString(v)) return TypeError(v, "string");
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
    if (IsString(v)) {
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
    if (!IsNumber(v)) return TypeError(v, "integer (number or string)");
    const std::string_view text = View(v);
    if (const std::optional<int64_t> i = json::NumberToInt64(text); i.has_value()) {
      if (!std::in_range<T>(*i)) return RangeError();
      *out = static_cast<T>(*i);
      return absl::OkStatus();
    }
    if (const std::optional<uint64_t> u = json::NumberToUint64(text); u.has_value()) {
      if (!std::in_range<T>(*u)) return RangeError();
      *out = static_cast<T>(*u);
      return absl::OkStatus();
    }
    // A double: accepted when it is integral and in range (1e3, 5.0).
    const std::optional<double> parsed = json::NumberToDouble(text);
    if (!parsed.has_value()) return RangeError();
    const double d = *parsed;
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
    if (IsNumber(v)) {
      const std::optional<double> d = json::NumberToDouble(View(v));
      if (!d.has_value()) return Error("number out of range for a double");
      *out = *d;
      return absl::OkStatus();
    }
    if (!IsString(v)) return TypeError(v, "number");
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
    if (IsString(v)) {
      E value{};
      if (!parse_name(std::string(View(v)), &value)) {
        return Error(absl::StrCat("unknown enum value ", Quote(View(v))));
      }
      *out = value;
      return absl::OkStatus();
    }
    const std::optional<int64_t> n = IsNumber(v) ? json::NumberToInt64(View(v)) : std::nullopt;
    if (!n.has_value() || !std::in_range<int32_t>(*n)) {
      return TypeError(v, "enum (integer or name)");
    }
    *out = static_cast<E>(*n);
    return absl::OkStatus();
  }

  // A trace or span ID: hex of exactly `bytes` bytes, any case; "" is an empty ID.
  absl::Status Id(const Json& v, size_t bytes, std::string* out) {
    if (!IsString(v)) return TypeError(v, "hex string");
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
    if (!IsString(v)) return TypeError(v, "base64 string");
    if (!Base64Decode(View(v), out)) return Error("invalid base64");
    return absl::OkStatus();
  }

  // Walks the members of a JSON object, skipping nulls; `field(key, value)` reads one member
  // (ignoring unknown keys) with the member's name pushed onto the path.
  template <typename F>
  absl::Status Members(const Json& v, F&& field) {
    if (!v.IsObject()) return TypeError(v, "object");
    for (const auto& m : v.GetObject()) {
      if (m.value.IsNull()) continue;
      const std::string_view k = View(m.name);
      PathScope s(this, k);
      if (absl::Status st = field(k, m.value); !st.ok()) return st;
    }
    return absl::OkStatus();
  }

  // An integer field stored through its setter (which also runs, with 0, on a parse error).
  template <typename Msg, typename T>
  absl::Status SetInteger(const Json& v, Msg* out, void (Msg::*set)(T)) {
    T n{};
    absl::Status st = Integer(v, &n);
    (out->*set)(n);
    return st;
  }

  absl::Status ResourceSpans(const Json& v, tracev1::ResourceSpans* out) {
    return Members(v, [&](std::string_view k, const Json& x) {
      if (k == "resource") return Resource(x, out->mutable_resource());
      if (Is(k, "scopeSpans", "scope_spans")) {
        return Repeated(x, out->mutable_scope_spans(), &Parser::ScopeSpans);
      }
      if (Is(k, "schemaUrl", "schema_url")) return String(x, out->mutable_schema_url());
      return absl::OkStatus();
    });
  }

  absl::Status Resource(const Json& v, resv1::Resource* out) {
    return Members(v, [&](std::string_view k, const Json& x) {
      if (k == "attributes") return Attributes(x, out->mutable_attributes());
      if (Is(k, "droppedAttributesCount", "dropped_attributes_count")) {
        return SetInteger(x, out, &resv1::Resource::set_dropped_attributes_count);
      }
      return absl::OkStatus();
    });
  }

  absl::Status ScopeSpans(const Json& v, tracev1::ScopeSpans* out) {
    return Members(v, [&](std::string_view k, const Json& x) {
      if (k == "scope") return InstrumentationScope(x, out->mutable_scope());
      if (k == "spans") return Repeated(x, out->mutable_spans(), &Parser::Span);
      if (Is(k, "schemaUrl", "schema_url")) return String(x, out->mutable_schema_url());
      return absl::OkStatus();
    });
  }

  absl::Status InstrumentationScope(const Json& v, commonv1::InstrumentationScope* out) {
    return Members(v, [&](std::string_view k, const Json& x) {
      if (k == "name") return String(x, out->mutable_name());
      if (k == "version") return String(x, out->mutable_version());
      if (k == "attributes") return Attributes(x, out->mutable_attributes());
      if (Is(k, "droppedAttributesCount", "dropped_attributes_count")) {
        return SetInteger(x, out, &commonv1::InstrumentationScope::set_dropped_attributes_count);
      }
      return absl::OkStatus();
    });
  }

  absl::Status Span(const Json& v, tracev1::Span* out) {
    using S = tracev1::Span;
    return Members(v, [&](std::string_view k, const Json& x) {
      if (Is(k, "traceId", "trace_id")) return Id(x, kTraceIdBytes, out->mutable_trace_id());
      if (Is(k, "spanId", "span_id")) return Id(x, kSpanIdBytes, out->mutable_span_id());
      if (Is(k, "traceState", "trace_state")) return String(x, out->mutable_trace_state());
      if (Is(k, "parentSpanId", "parent_span_id")) {
        return Id(x, kSpanIdBytes, out->mutable_parent_span_id());
      }
      if (k == "flags") return SetInteger(x, out, &S::set_flags);
      if (k == "name") return String(x, out->mutable_name());
      if (k == "kind") {
        S::SpanKind kind{};
        absl::Status st = Enum(x, &S::SpanKind_Parse, &kind);
        out->set_kind(kind);
        return st;
      }
      if (Is(k, "startTimeUnixNano", "start_time_unix_nano")) {
        return SetInteger(x, out, &S::set_start_time_unix_nano);
      }
      if (Is(k, "endTimeUnixNano", "end_time_unix_nano")) {
        return SetInteger(x, out, &S::set_end_time_unix_nano);
      }
      if (k == "attributes") return Attributes(x, out->mutable_attributes());
      if (Is(k, "droppedAttributesCount", "dropped_attributes_count")) {
        return SetInteger(x, out, &S::set_dropped_attributes_count);
      }
      if (k == "events") return Repeated(x, out->mutable_events(), &Parser::Event);
      if (Is(k, "droppedEventsCount", "dropped_events_count")) {
        return SetInteger(x, out, &S::set_dropped_events_count);
      }
      if (k == "links") return Repeated(x, out->mutable_links(), &Parser::Link);
      if (Is(k, "droppedLinksCount", "dropped_links_count")) {
        return SetInteger(x, out, &S::set_dropped_links_count);
      }
      if (k == "status") return Status(x, out->mutable_status());
      return absl::OkStatus();
    });
  }

  absl::Status Event(const Json& v, tracev1::Span::Event* out) {
    using E = tracev1::Span::Event;
    return Members(v, [&](std::string_view k, const Json& x) {
      if (Is(k, "timeUnixNano", "time_unix_nano")) {
        return SetInteger(x, out, &E::set_time_unix_nano);
      }
      if (k == "name") return String(x, out->mutable_name());
      if (k == "attributes") return Attributes(x, out->mutable_attributes());
      if (Is(k, "droppedAttributesCount", "dropped_attributes_count")) {
        return SetInteger(x, out, &E::set_dropped_attributes_count);
      }
      return absl::OkStatus();
    });
  }

  absl::Status Link(const Json& v, tracev1::Span::Link* out) {
    using L = tracev1::Span::Link;
    return Members(v, [&](std::string_view k, const Json& x) {
      if (Is(k, "traceId", "trace_id")) return Id(x, kTraceIdBytes, out->mutable_trace_id());
      if (Is(k, "spanId", "span_id")) return Id(x, kSpanIdBytes, out->mutable_span_id());
      if (Is(k, "traceState", "trace_state")) return String(x, out->mutable_trace_state());
      if (k == "attributes") return Attributes(x, out->mutable_attributes());
      if (Is(k, "droppedAttributesCount", "dropped_attributes_count")) {
        return SetInteger(x, out, &L::set_dropped_attributes_count);
      }
      if (k == "flags") return SetInteger(x, out, &L::set_flags);
      return absl::OkStatus();
    });
  }

  absl::Status Status(const Json& v, tracev1::Status* out) {
    return Members(v, [&](std::string_view k, const Json& x) {
      if (k == "message") return String(x, out->mutable_message());
      if (k == "code") {
        tracev1::Status::StatusCode code{};
        absl::Status st = Enum(x, &tracev1::Status::StatusCode_Parse, &code);
        out->set_code(code);
        return st;
      }
      return absl::OkStatus();
    });
  }

  absl::Status KeyValue(const Json& v, commonv1::KeyValue* out) { return KeyValueAt(v, out, 0); }

  absl::Status AnyValue(const Json& v, commonv1::AnyValue* out, int depth) {
    return Members(v, [&](std::string_view k, const Json& x) {
      // Each branch below sets the oneof; a second value member is an error.
      const bool already_set = out->value_case() != commonv1::AnyValue::VALUE_NOT_SET;
      absl::Status st;
      if (Is(k, "stringValue", "string_value")) {
        if (already_set) return OneofError();
        st = String(x, out->mutable_string_value());
      } else if (Is(k, "boolValue", "bool_value")) {
        if (already_set) return OneofError();
        bool b = false;
        st = Bool(x, &b);
        out->set_bool_value(b);
      } else if (Is(k, "intValue", "int_value")) {
        if (already_set) return OneofError();
        st = SetInteger(x, out, &commonv1::AnyValue::set_int_value);
      } else if (Is(k, "doubleValue", "double_value")) {
        if (already_set) return OneofError();
        double d = 0;
        st = Double(x, &d);
        out->set_double_value(d);
      } else if (Is(k, "bytesValue", "bytes_value")) {
        if (already_set) return OneofError();
        st = Bytes(x, out->mutable_bytes_value());
      } else if (Is(k, "arrayValue", "array_value")) {
        if (already_set) return OneofError();
        if (depth >= kMaxAnyValueDepth) return DepthError();
        st = ArrayValue(x, out->mutable_array_value(), depth + 1);
      } else if (Is(k, "kvlistValue", "kvlist_value")) {
        if (already_set) return OneofError();
        if (depth >= kMaxAnyValueDepth) return DepthError();
        st = KvlistValue(x, out->mutable_kvlist_value(), depth + 1);
      }
      return st;
    });
  }

  absl::Status OneofError() const { return Error("AnyValue holds more than one value"); }

  absl::Status DepthError() const {
    return Error(absl::StrCat("AnyValue nested deeper than ", kMaxAnyValueDepth, " levels"));
  }

  // The "values" array of an ArrayValue or KeyValueList, whose elements are at nesting `depth`.
  template <typename Elem>
  absl::Status NestedValues(const Json& v, google::protobuf::RepeatedPtrField<Elem>* out, int depth,
                            absl::Status (Parser::*element)(const Json&, Elem*, int)) {
    return Members(v, [&](std::string_view k, const Json& x) {
      if (k != "values") return absl::OkStatus();
      if (!x.IsArray()) return TypeError(x, "array");
      const auto arr = x.GetArray();
      out->Reserve(out->size() + static_cast<int>(arr.Size()));
      for (rapidjson::SizeType i = 0; i < arr.Size(); ++i) {
        PathScope si(this, static_cast<size_t>(i));
        if (absl::Status st = (this->*element)(arr[i], out->Add(), depth); !st.ok()) return st;
      }
      return absl::OkStatus();
    });
  }

  absl::Status ArrayValue(const Json& v, commonv1::ArrayValue* out, int depth) {
    return NestedValues(v, out->mutable_values(), depth, &Parser::AnyValue);
  }

  absl::Status KvlistValue(const Json& v, commonv1::KeyValueList* out, int depth) {
    return NestedValues(v, out->mutable_values(), depth, &Parser::KeyValueAt);
  }

  // A KeyValue whose value is at AnyValue nesting `depth` (0 for attributes).
  absl::Status KeyValueAt(const Json& v, commonv1::KeyValue* out, int depth) {
    return Members(v, [&](std::string_view k, const Json& x) {
      if (k == "key") return String(x, out->mutable_key());
      if (k == "value") return AnyValue(x, out->mutable_value(), depth);
      return absl::OkStatus();
    });
  }

  bool IsString(const Json& v) const { return doc_->IsString(v); }
  bool IsNumber(const Json& v) const { return doc_->IsNumber(v); }
  std::string_view View(const Json& v) const { return doc_->StringView(v); }

  const json::Document* doc_;
  std::vector<Segment> path_;
};

}  // namespace

absl::Status ParseExportRequest(std::string_view text, collv1::ExportTraceServiceRequest* out) {
  out->Clear();
  json::Document doc;
  if (absl::Status st = doc.Parse(text); !st.ok()) return st;
  Parser parser(&doc);
  return parser.Request(doc.root(), out);
}

}  // namespace tailtrace::otlp_json
