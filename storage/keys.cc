#include "storage/keys.h"

namespace tailtrace::storage {

void PutFixed64BE(std::string* dst, uint64_t v) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  dst->append(buf, sizeof(buf));
}

uint64_t DecodeFixed64BE(std::string_view src) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(src[i]);
  return v;
}

void PutVarint32(std::string* dst, uint32_t v) {
  while (v >= 0x80) {
    dst->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  dst->push_back(static_cast<char>(v));
}

bool GetVarint32(std::string_view* src, uint32_t* v) {
  uint32_t result = 0;
  for (size_t i = 0; i < 5; ++i) {
    if (i >= src->size()) return false;
    const uint8_t byte = static_cast<uint8_t>((*src)[i]);
    // The fifth byte may only carry the top 4 bits of a 32-bit value.
    if (i == 4 && byte > 0x0f) return false;
    result |= static_cast<uint32_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      src->remove_prefix(i + 1);
      *v = result;
      return true;
    }
  }
  return false;
}

std::string PrefixSuccessor(std::string_view prefix) {
  std::string out(prefix);
  while (!out.empty()) {
    if (static_cast<uint8_t>(out.back()) != 0xff) {
      out.back() = static_cast<char>(static_cast<uint8_t>(out.back()) + 1);
      return out;
    }
    out.pop_back();
  }
  return out;
}

std::string SpanKey(const TraceId& trace_id, uint64_t chunk_seq) {
  std::string key;
  key.reserve(kSpanKeyBytes);
  key.append(trace_id.view());
  PutFixed64BE(&key, chunk_seq);
  return key;
}

std::string_view SpanKeyPrefix(const TraceId& trace_id) { return trace_id.view(); }

std::optional<SpanKeyParts> DecodeSpanKey(std::string_view key) {
  if (key.size() != kSpanKeyBytes) return std::nullopt;
  SpanKeyParts parts;
  parts.trace_id = TraceId::FromBytes(key.substr(0, kTraceIdBytes));
  parts.chunk_seq = DecodeFixed64BE(key.substr(kTraceIdBytes));
  return parts;
}

std::string ServiceKey(std::string_view service) {
  std::string key = ServiceKeyPrefix();
  key.append(service);
  return key;
}

std::string ServiceKeyPrefix() { return std::string(1, kServiceTag); }

std::optional<std::string> DecodeServiceKey(std::string_view key) {
  if (key.empty() || key[0] != kServiceTag) return std::nullopt;
  return std::string(key.substr(1));
}

namespace {

uint8_t KindByte(int span_kind) {
  return (span_kind < 0 || span_kind > 255) ? 0 : static_cast<uint8_t>(span_kind);
}

}  // namespace

std::string OperationKey(std::string_view service, int span_kind, std::string_view name) {
  std::string key = OperationKeyPrefix(service, KindByte(span_kind));
  key.append(name);
  return key;
}

std::string OperationKeyPrefix(std::string_view service, int span_kind) {
  std::string key(1, kOperationTag);
  PutVarint32(&key, static_cast<uint32_t>(service.size()));
  key.append(service);
  if (span_kind >= 0) key.push_back(static_cast<char>(KindByte(span_kind)));
  return key;
}

std::optional<OperationKeyParts> DecodeOperationKey(std::string_view key) {
  if (key.empty() || key[0] != kOperationTag) return std::nullopt;
  key.remove_prefix(1);
  uint32_t service_len = 0;
  if (!GetVarint32(&key, &service_len)) return std::nullopt;
  // The service, then at least the kind byte.
  if (key.size() < static_cast<size_t>(service_len) + 1) return std::nullopt;
  OperationKeyParts parts;
  parts.service = std::string(key.substr(0, service_len));
  parts.span_kind = static_cast<uint8_t>(key[service_len]);
  parts.name = std::string(key.substr(service_len + 1));
  return parts;
}

}  // namespace tailtrace::storage
