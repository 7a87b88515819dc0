#pragma once

// Private to otlp_json_parse.cc and otlp_json_write.cc: what both halves of the OTLP/JSON mapping
// share. Not part of the public API.

#include <cstdint>
#include <string>
#include <string_view>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "opentelemetry/proto/common/v1/common.pb.h"
#include "opentelemetry/proto/resource/v1/resource.pb.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace tailtrace::otlp_json::internal {

namespace collv1 = opentelemetry::proto::collector::trace::v1;
namespace commonv1 = opentelemetry::proto::common::v1;
namespace resv1 = opentelemetry::proto::resource::v1;
namespace tracev1 = opentelemetry::proto::trace::v1;

using ResourceSpansList = google::protobuf::RepeatedPtrField<tracev1::ResourceSpans>;
using KeyValueList = google::protobuf::RepeatedPtrField<commonv1::KeyValue>;

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
inline constexpr Base64Table kBase64;

// Decodes standard or URL-safe base64, padded or not. Returns false on a character outside both
// alphabets, misplaced padding or an impossible length.
inline bool Base64Decode(std::string_view in, std::string* out) {
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

// Encodes standard, padded base64.
inline void Base64Encode(std::string_view in, std::string* out) {
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

}  // namespace tailtrace::otlp_json::internal
