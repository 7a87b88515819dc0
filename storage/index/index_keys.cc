// keys.h's index keys and values: streams, segment keys, postings, service masks and duration
// buckets (keys.h, "The search index").

#include "storage/index/keys.h"

#include <bit>
#include <cstring>

namespace tailtrace::storage {
namespace {

std::string IndexStream(char type) {
  std::string s;
  s.push_back(kIndexTag);
  s.push_back(type);
  return s;
}

}  // namespace

// ---- Index ----

std::string TimeStream() { return IndexStream(kTimeIndex); }

std::string ServiceStream(std::string_view service) {
  std::string s = IndexStream(kServiceIndex);
  PutLengthPrefixed(&s, service);
  return s;
}

std::string OperationStream(std::string_view service, std::string_view operation) {
  std::string s = IndexStream(kOperationIndex);
  PutLengthPrefixed(&s, service);
  PutLengthPrefixed(&s, operation);
  return s;
}

std::string TagKeysPrefix(std::string_view service) {
  if (service.empty()) return IndexStream(kTagIndex);
  std::string s = IndexStream(kServiceTagIndex);
  PutLengthPrefixed(&s, service);
  return s;
}

std::string TagValuesPrefix(std::string_view service, std::string_view key) {
  std::string s = TagKeysPrefix(service);
  PutLengthPrefixed(&s, key);
  return s;
}

std::string ServiceTagStream(std::string_view service, std::string_view key,
                             std::string_view value) {
  std::string s = IndexStream(kServiceTagIndex);
  PutLengthPrefixed(&s, service);
  PutLengthPrefixed(&s, key);
  PutLengthPrefixed(&s, value);
  return s;
}

std::string TagStream(std::string_view key, std::string_view value) {
  std::string s = TagValuesPrefix("", key);
  PutLengthPrefixed(&s, value);
  return s;
}

std::string ServiceKeysPrefix(std::string_view service) {
  std::string s = IndexStream(kServiceKeyIndex);
  PutLengthPrefixed(&s, service);
  return s;
}

std::string ServiceKeyStream(std::string_view service, std::string_view key) {
  std::string s = ServiceKeysPrefix(service);
  PutLengthPrefixed(&s, key);
  return s;
}

namespace {

// The two length-prefixed names that make up the whole of a stream of type `type`.
std::optional<std::pair<std::string_view, std::string_view>> DecodeTwoNames(std::string_view stream,
                                                                            char type) {
  if (stream.size() < 2 || stream[0] != kIndexTag || stream[1] != type) return std::nullopt;
  stream.remove_prefix(2);
  std::pair<std::string_view, std::string_view> out;
  if (!GetLengthPrefixed(&stream, &out.first) || !GetLengthPrefixed(&stream, &out.second) ||
      !stream.empty()) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::optional<std::pair<std::string_view, std::string_view>> DecodeServiceKeyStream(
    std::string_view stream) {
  return DecodeTwoNames(stream, kServiceKeyIndex);
}

std::optional<std::pair<std::string_view, std::string_view>> DecodeTagStream(
    std::string_view stream) {
  return DecodeTwoNames(stream, kTagIndex);
}

void AppendServiceMask(std::string* dst, const uint64_t* words, size_t count) {
  size_t bytes = count * 8;
  while (bytes > 0 && ((words[(bytes - 1) / 8] >> ((bytes - 1) % 8 * 8)) & 0xff) == 0) --bytes;
  for (size_t i = 0; i < bytes; ++i) {
    dst->push_back(static_cast<char>((words[i / 8] >> (i % 8 * 8)) & 0xff));
  }
}

std::string DurationStream(const DurationTerm& term) {
  std::string s = IndexStream(term.fine ? kFineDurationIndex : kDurationIndex);
  s.push_back(static_cast<char>(term.scope));
  if (term.scope != DurationScope::kAny) PutLengthPrefixed(&s, term.service);
  if (term.scope == DurationScope::kOperation) PutLengthPrefixed(&s, term.operation);
  s.push_back(static_cast<char>(term.duration_class));
  return s;
}

IndexPos MakeIndexPos(int64_t start_ns, const TraceId& trace_id) {
  IndexPos pos;
  const uint64_t start = start_ns < 0 ? 0 : static_cast<uint64_t>(start_ns);
  for (int i = 0; i < 8; ++i) pos[i] = static_cast<uint8_t>(start >> (56 - 8 * i));
  std::memcpy(pos.data() + 8, trace_id.bytes.data(), kTraceIdBytes);
  return pos;
}

int64_t IndexPosStart(const IndexPos& pos) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | pos[i];
  return static_cast<int64_t>(v);
}

TraceId IndexPosTraceId(const IndexPos& pos) {
  TraceId id;
  std::memcpy(id.bytes.data(), pos.data() + 8, kTraceIdBytes);
  return id;
}

int64_t IndexSlot(int64_t start_ns) { return start_ns < 0 ? 0 : start_ns / kIndexSlotNs; }

std::string SegmentSuffix(int64_t slot, uint64_t segment) {
  std::string s;
  s.reserve(16);
  PutFixed64BE(&s, static_cast<uint64_t>(slot < 0 ? 0 : slot));
  PutFixed64BE(&s, segment);
  return s;
}

std::optional<SegmentRef> DecodeSegmentSuffix(std::string_view key) {
  if (key.size() < 16) return std::nullopt;
  key.remove_prefix(key.size() - 16);
  SegmentRef ref;
  ref.slot = static_cast<int64_t>(DecodeFixed64BE(key));
  ref.segment = DecodeFixed64BE(key.substr(8));
  return ref;
}

std::string PostingKey(std::string_view stream, int64_t slot, uint64_t segment) {
  std::string key;
  key.reserve(stream.size() + 16);
  key.append(stream);
  key.append(SegmentSuffix(slot, segment));
  return key;
}

std::string SegmentTableKey(int64_t slot, uint64_t segment) {
  std::string key(1, kSegmentTableTag);
  key.append(SegmentSuffix(slot, segment));
  return key;
}

std::string SegmentMarkerPrefix(uint64_t segment) {
  std::string key(1, kSegmentMarkerTag);
  PutFixed64BE(&key, segment);
  return key;
}

std::string SegmentMarkerKey(uint64_t segment, const TraceId& trace_id) {
  std::string key = SegmentMarkerPrefix(segment);
  key.append(trace_id.view());
  return key;
}

std::optional<std::pair<uint64_t, TraceId>> DecodeSegmentMarkerKey(std::string_view key) {
  if (key.size() != 1 + 8 + kTraceIdBytes || key[0] != kSegmentMarkerTag) return std::nullopt;
  return std::make_pair(DecodeFixed64BE(key.substr(1)), TraceId::FromBytes(key.substr(9)));
}

bool StreamHasValues(std::string_view stream) {
  return stream.size() >= 2 && stream[0] == kIndexTag &&
         (stream[1] == kTimeIndex || stream[1] == kServiceIndex || stream[1] == kOperationIndex);
}

bool PostingHasValues(std::string_view stream) {
  return StreamHasValues(stream) ||
         (stream.size() >= 2 && stream[0] == kIndexTag && stream[1] == kTagIndex);
}

uint8_t DurationBucketCode(int64_t duration_ns) {
  if (duration_ns < 16) return static_cast<uint8_t>(duration_ns < 0 ? 0 : duration_ns);
  const uint64_t d = static_cast<uint64_t>(duration_ns);
  const int e = 63 - __builtin_clzll(d);  // 4..62
  const int m = static_cast<int>((d >> (e - 2)) & 3);
  return static_cast<uint8_t>(16 + (e - 4) * 4 + m);
}

DurationBucket DurationBucketOf(uint8_t code) {
  if (code < 16) return {code, code};
  const int e = 4 + (code - 16) / 4;
  const int m = (code - 16) % 4;
  if (e > 62) return {INT64_MAX, INT64_MAX};  // no duration has such a code
  const uint64_t lo = static_cast<uint64_t>(4 + m) << (e - 2);
  const uint64_t next = static_cast<uint64_t>(5 + m) << (e - 2);  // at most 2^63
  return {static_cast<int64_t>(lo),
          next > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(next - 1)};
}

std::array<char, 2> DurationRangeBytes(int64_t min_ns, int64_t max_ns) {
  return {static_cast<char>(DurationBucketCode(min_ns)),
          static_cast<char>(DurationBucketCode(max_ns))};
}

std::string EncodeDurationRange(int64_t min_ns, int64_t max_ns) {
  const std::array<char, 2> bytes = DurationRangeBytes(min_ns, max_ns);
  return {bytes.data(), bytes.size()};
}

bool DecodeDurationRange(std::string_view value, DurationBucket* min, DurationBucket* max) {
  if (value.size() != 2) return false;
  const auto min_code = static_cast<uint8_t>(value[0]);
  const auto max_code = static_cast<uint8_t>(value[1]);
  if (min_code > max_code || max_code > DurationBucketCode(INT64_MAX)) return false;
  *min = DurationBucketOf(min_code);
  *max = DurationBucketOf(max_code);
  return true;
}

std::string EncodePosting(const std::vector<uint32_t>& ordinals,
                          const std::vector<std::string_view>* values) {
  std::string out;
  out.reserve(ordinals.size() + 4);
  PutVarint32(&out, static_cast<uint32_t>(ordinals.size()));
  uint32_t previous = 0;
  for (size_t i = 0; i < ordinals.size(); ++i) {
    // The first ordinal as it is, then gaps (>= 1).
    PutVarint32(&out, i == 0 ? ordinals[i] : ordinals[i] - previous);
    previous = ordinals[i];
  }
  if (values != nullptr) {
    for (std::string_view v : *values) PutLengthPrefixed(&out, v);
  }
  return out;
}

bool GetLengthPrefixedList(std::string_view* src, size_t n, std::vector<std::string_view>* out) {
  out->clear();
  if (n > src->size()) return false;
  out->reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string_view v;
    if (!GetLengthPrefixed(src, &v)) return false;
    out->push_back(v);
  }
  return true;
}

bool DecodePosting(std::string_view value, std::vector<uint32_t>* ordinals,
                   std::vector<std::string_view>* values, std::string_view* rest) {
  ordinals->clear();
  uint32_t n = 0;
  if (!GetVarint32(&value, &n) || n > value.size()) return false;
  ordinals->reserve(n);
  uint64_t current = 0;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t v = 0;
    if (!GetVarint32(&value, &v) || (i > 0 && v == 0)) return false;
    current = i == 0 ? v : current + v;
    if (current > UINT32_MAX) return false;
    ordinals->push_back(static_cast<uint32_t>(current));
  }
  if (values != nullptr && !GetLengthPrefixedList(&value, n, values)) return false;
  if (rest != nullptr) *rest = value;
  return true;
}

std::string EncodeDurations(const std::vector<int64_t>& ascending) {
  std::string out;
  PutVarint32(&out, static_cast<uint32_t>(ascending.size()));
  // Deltas keep the common case (one or a few close durations) small.
  int64_t previous = 0;
  for (int64_t d : ascending) {
    PutVarint64(&out, static_cast<uint64_t>(d - previous));
    previous = d;
  }
  return out;
}

bool DecodeDurations(std::string_view value, std::vector<int64_t>* out) {
  out->clear();
  uint32_t n = 0;
  if (!GetVarint32(&value, &n) || n > value.size()) return false;
  out->reserve(n);
  uint64_t previous = 0;
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t delta = 0;
    if (!GetVarint64(&value, &delta)) return false;
    previous += delta;
    out->push_back(static_cast<int64_t>(previous));
  }
  return value.empty();
}

}  // namespace tailtrace::storage
