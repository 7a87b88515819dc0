#include "proto/any_value_text.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "absl/strings/escaping.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace tailtrace {
namespace {

namespace common = opentelemetry::proto::common::v1;
using Json = rapidjson::Writer<rapidjson::StringBuffer>;

void WriteString(Json& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void WritePlainJson(Json& w, const common::AnyValue& v) {
  switch (v.value_case()) {
    case common::AnyValue::kStringValue:
      WriteString(w, v.string_value());
      return;
    case common::AnyValue::kBoolValue:
      w.Bool(v.bool_value());
      return;
    case common::AnyValue::kIntValue:
      w.Int64(v.int_value());
      return;
    case common::AnyValue::kDoubleValue:
      if (std::isfinite(v.double_value())) {
        w.Double(v.double_value());
      } else {
        WriteString(w, NonFiniteName(v.double_value()));
      }
      return;
    case common::AnyValue::kBytesValue:
      WriteString(w, absl::Base64Escape(v.bytes_value()));
      return;
    case common::AnyValue::kArrayValue:
      w.StartArray();
      for (const auto& e : v.array_value().values()) WritePlainJson(w, e);
      w.EndArray();
      return;
    case common::AnyValue::kKvlistValue:
      w.StartObject();
      for (const auto& kv : v.kvlist_value().values()) {
        w.Key(kv.key().data(), static_cast<rapidjson::SizeType>(kv.key().size()));
        WritePlainJson(w, kv.value());
      }
      w.EndObject();
      return;
    case common::AnyValue::VALUE_NOT_SET:
      break;
  }
  w.Null();
}

}  // namespace

std::string_view NonFiniteName(double d) {
  if (std::isnan(d)) return "NaN";
  return d > 0 ? "Infinity" : "-Infinity";
}

std::string_view DoubleText(double d, std::string* scratch) {
  if (!std::isfinite(d)) return NonFiniteName(d);
  char buf[64];
  const int n = std::snprintf(buf, sizeof(buf), "%.10g", d);
  scratch->assign(buf, static_cast<size_t>(std::clamp(n, 0, 63)));
  return *scratch;
}

std::string PlainJson(const common::AnyValue& value) {
  rapidjson::StringBuffer buf;
  Json w(buf);
  WritePlainJson(w, value);
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace tailtrace
