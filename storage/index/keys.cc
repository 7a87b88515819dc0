#include "storage/index/keys.h"

#include <bit>
#include <charconv>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tailtrace::storage {
namespace {

constexpr std::string_view kBucketPrefix = "bucket-";
// Version 1: the fields up to the services. Version 2 (the current one) adds the sampling
// policy and rate; a version 1 summary decodes with an empty policy and rate 0 (unknown).
constexpr uint8_t kSummaryVersion1 = 1;
constexpr uint8_t kSummaryVersion = 2;

uint8_t KindByte(int span_kind) {
  return (span_kind < 0 || span_kind > 255) ? 0 : static_cast<uint8_t>(span_kind);
}

bool ParseInt64(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

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

void PutVarint32(std::string* dst, uint32_t v) { PutVarint64(dst, v); }

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

void PutVarint64(std::string* dst, uint64_t v) {
  while (v >= 0x80) {
    dst->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  dst->push_back(static_cast<char>(v));
}

bool GetVarint64(std::string_view* src, uint64_t* v) {
  uint64_t result = 0;
  for (size_t i = 0; i < 10; ++i) {
    if (i >= src->size()) return false;
    const uint8_t byte = static_cast<uint8_t>((*src)[i]);
    // The tenth byte may only carry the top bit of a 64-bit value.
    if (i == 9 && byte > 0x01) return false;
    result |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      src->remove_prefix(i + 1);
      *v = result;
      return true;
    }
  }
  return false;
}

void PutLengthPrefixed(std::string* dst, std::string_view s) {
  PutVarint32(dst, static_cast<uint32_t>(s.size()));
  dst->append(s);
}

bool GetLengthPrefixed(std::string_view* src, std::string_view* s) {
  uint32_t len = 0;
  if (!GetVarint32(src, &len) || src->size() < len) return false;
  *s = src->substr(0, len);
  src->remove_prefix(len);
  return true;
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

// ---- Buckets ----

std::string BucketColumnFamilyName(int64_t start_ns, int64_t end_ns) {
  return absl::StrCat(std::string(kBucketPrefix), start_ns, "-", end_ns);
}

std::optional<BucketRange> ParseBucketColumnFamilyName(std::string_view name) {
  if (!name.starts_with(kBucketPrefix)) return std::nullopt;
  name.remove_prefix(kBucketPrefix.size());
  // The start is never negative, so the first '-' separates start and end.
  const size_t dash = name.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  BucketRange range;
  if (!ParseInt64(name.substr(0, dash), &range.start_ns) ||
      !ParseInt64(name.substr(dash + 1), &range.end_ns) || range.start_ns < 0 ||
      range.start_ns >= range.end_ns) {
    return std::nullopt;
  }
  return range;
}

// ---- Spans and summaries ----

std::string SpanKeyPrefix(const TraceId& trace_id) {
  std::string key;
  key.reserve(kSpanKeyBytes);
  key.push_back(kSpanTag);
  key.append(trace_id.view());
  return key;
}

std::string SpanKey(const TraceId& trace_id, uint64_t chunk_seq) {
  std::string key = SpanKeyPrefix(trace_id);
  PutFixed64BE(&key, chunk_seq);
  return key;
}

std::optional<SpanKeyParts> DecodeSpanKey(std::string_view key) {
  if (key.size() != kSpanKeyBytes || key[0] != kSpanTag) return std::nullopt;
  SpanKeyParts parts;
  parts.trace_id = TraceId::FromBytes(key.substr(1, kTraceIdBytes));
  parts.chunk_seq = DecodeFixed64BE(key.substr(kTracePrefixBytes));
  return parts;
}

std::string SpanBlockKey(uint64_t block_seq) {
  std::string key(1, kSpanBlockTag);
  PutFixed64BE(&key, block_seq);
  return key;
}

std::string EncodeChunkRef(const ChunkRef& ref) {
  std::string value(1, '\0');
  PutVarint64(&value, ref.block_seq);
  PutVarint64(&value, ref.first_span);
  PutVarint64(&value, ref.spans);
  value.append(ref.tail);
  return value;
}

bool IsChunkRef(std::string_view value) { return !value.empty() && value[0] == '\0'; }

std::optional<ChunkRef> DecodeChunkRef(std::string_view value) {
  if (!IsChunkRef(value)) return std::nullopt;
  value.remove_prefix(1);
  ChunkRef ref;
  if (!GetVarint64(&value, &ref.block_seq) || !GetVarint64(&value, &ref.first_span) ||
      !GetVarint64(&value, &ref.spans)) {
    return std::nullopt;
  }
  ref.tail = value;
  return ref;
}

std::string SummaryKey(const TraceId& trace_id) {
  std::string key;
  key.reserve(kTracePrefixBytes);
  key.push_back(kSummaryTag);
  key.append(trace_id.view());
  return key;
}

std::string EncodeSummary(const TraceSummary& s) {
  std::string out;
  out.push_back(static_cast<char>(kSummaryVersion));
  PutVarint64(&out, static_cast<uint64_t>(s.start_ns));
  PutVarint64(&out, static_cast<uint64_t>(s.duration_ns));
  PutVarint32(&out, s.span_count);
  PutVarint32(&out, s.error_count);
  PutVarint32(&out, s.orphan_span_count);
  PutLengthPrefixed(&out, s.root_service);
  PutLengthPrefixed(&out, s.root_operation);
  PutVarint32(&out, static_cast<uint32_t>(s.services.size()));
  for (const ServiceSummary& svc : s.services) {
    PutLengthPrefixed(&out, svc.name);
    PutVarint32(&out, svc.span_count);
    PutVarint32(&out, svc.error_count);
  }
  PutLengthPrefixed(&out, s.sampling_policy);
  PutFixed64BE(&out, std::bit_cast<uint64_t>(s.sample_rate));
  return out;
}

std::optional<TraceSummary> DecodeSummary(const TraceId& trace_id, std::string_view in) {
  if (in.empty()) return std::nullopt;
  const uint8_t version = static_cast<uint8_t>(in[0]);
  if (version != kSummaryVersion && version != kSummaryVersion1) return std::nullopt;
  in.remove_prefix(1);
  TraceSummary s;
  s.trace_id = trace_id;
  uint64_t start = 0;
  uint64_t duration = 0;
  std::string_view root_service;
  std::string_view root_operation;
  uint32_t n = 0;
  if (!GetVarint64(&in, &start) || !GetVarint64(&in, &duration) ||
      !GetVarint32(&in, &s.span_count) || !GetVarint32(&in, &s.error_count) ||
      !GetVarint32(&in, &s.orphan_span_count) || !GetLengthPrefixed(&in, &root_service) ||
      !GetLengthPrefixed(&in, &root_operation) || !GetVarint32(&in, &n)) {
    return std::nullopt;
  }
  s.start_ns = static_cast<int64_t>(start);
  s.duration_ns = static_cast<int64_t>(duration);
  s.root_service = std::string(root_service);
  s.root_operation = std::string(root_operation);
  // Each service takes at least 3 bytes: a bound that keeps a corrupt count from allocating.
  if (n > in.size()) return std::nullopt;
  s.services.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    std::string_view name;
    ServiceSummary svc;
    if (!GetLengthPrefixed(&in, &name) || !GetVarint32(&in, &svc.span_count) ||
        !GetVarint32(&in, &svc.error_count)) {
      return std::nullopt;
    }
    svc.name = std::string(name);
    s.services.push_back(std::move(svc));
  }
  if (version >= kSummaryVersion) {
    std::string_view policy;
    if (!GetLengthPrefixed(&in, &policy) || in.size() < 8) return std::nullopt;
    s.sampling_policy = std::string(policy);
    s.sample_rate = std::bit_cast<double>(DecodeFixed64BE(in));
    in.remove_prefix(8);
  }
  if (!in.empty()) return std::nullopt;
  return s;
}

// ---- Names ----

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

std::string OperationKey(std::string_view service, int span_kind, std::string_view name) {
  std::string key = OperationKeyPrefix(service, KindByte(span_kind));
  key.append(name);
  return key;
}

std::string OperationKeyPrefix(std::string_view service, int span_kind) {
  std::string key(1, kOperationTag);
  PutLengthPrefixed(&key, service);
  if (span_kind >= 0) key.push_back(static_cast<char>(KindByte(span_kind)));
  return key;
}

std::optional<OperationKeyParts> DecodeOperationKey(std::string_view key) {
  if (key.empty() || key[0] != kOperationTag) return std::nullopt;
  key.remove_prefix(1);
  std::string_view service;
  // The service, then at least the kind byte.
  if (!GetLengthPrefixed(&key, &service) || key.empty()) return std::nullopt;
  OperationKeyParts parts;
  parts.service = std::string(service);
  parts.span_kind = static_cast<uint8_t>(key[0]);
  parts.name = std::string(key.substr(1));
  return parts;
}

// ---- Dependencies ----

std::string DependencySlotPrefix(int64_t slot) {
  std::string key(1, kDependencyTag);
  PutFixed64BE(&key, slot < 0 ? 0 : static_cast<uint64_t>(slot));
  return key;
}

std::string DependencyKeyOf(const DependencyKey& k) {
  std::string key = DependencySlotPrefix(k.slot);
  PutLengthPrefixed(&key, k.parent);
  key.append(k.child);
  return key;
}

std::optional<DependencyKey> DecodeDependencyKey(std::string_view key) {
  if (key.size() < 9 || key[0] != kDependencyTag) return std::nullopt;
  DependencyKey k;
  k.slot = static_cast<int64_t>(DecodeFixed64BE(key.substr(1)));
  key.remove_prefix(9);
  std::string_view parent;
  if (!GetLengthPrefixed(&key, &parent)) return std::nullopt;
  k.parent = std::string(parent);
  k.child = std::string(key);
  return k;
}

std::string EncodeCallCounts(const CallCounts& counts) {
  std::string out;
  PutFixed64BE(&out, static_cast<uint64_t>(counts.calls));
  if (counts.failed != 0) PutFixed64BE(&out, static_cast<uint64_t>(counts.failed));
  return out;
}

std::optional<CallCounts> DecodeCallCounts(std::string_view value) {
  if (value.size() != 8 && value.size() != 16) return std::nullopt;
  CallCounts counts;
  counts.calls = static_cast<int64_t>(DecodeFixed64BE(value));
  if (value.size() == 16) counts.failed = static_cast<int64_t>(DecodeFixed64BE(value.substr(8)));
  return counts;
}

}  // namespace tailtrace::storage
