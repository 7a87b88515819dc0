// DecodeSpanColumns and CountSpanColumns (proto/span_columns.h). The block may be corrupt: every
// read is bounds-checked and every index checked against its dictionary.

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "otlp_wire_primitives.h"
#include "proto/span_columns.h"
#include "span_columns_internal.h"

namespace tailtrace {
namespace {

using namespace span_columns;  // NOLINT(build/namespaces): the layout's names
using wire_internal::AppendVarint;

// A section being read front to back.
class Reader {
 public:
  Reader() = default;
  explicit Reader(std::string_view bytes) : rest_(bytes) {}
  bool Varint(uint64_t* v) {
    const char* end = rest_.data() + rest_.size();
    const char* p = wire_internal::ReadVarint64(rest_.data(), end, v);
    if (p == nullptr) return false;
    rest_.remove_prefix(static_cast<size_t>(p - rest_.data()));
    return true;
  }
  bool Bytes(size_t n, std::string_view* out) {
    if (rest_.size() < n) return false;
    *out = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return true;
  }
  bool LengthPrefixed(std::string_view* out) {
    uint64_t n = 0;
    return Varint(&n) && Bytes(n, out);
  }
  bool Fixed(int bytes, uint64_t* v) {
    std::string_view b;
    if (!Bytes(static_cast<size_t>(bytes), &b)) return false;
    *v = 0;
    for (int i = 0; i < bytes; ++i)
      *v |= static_cast<uint64_t>(static_cast<uint8_t>(b[i])) << (8 * i);
    return true;
  }
  bool empty() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

// A dictionary section: its entries as views into the block.
bool ReadDictionary(std::string_view section, std::vector<std::string_view>* entries) {
  Reader r(section);
  uint64_t count = 0;
  if (!r.Varint(&count) || count > section.size()) return false;  // each entry takes a byte
  entries->resize(count);
  for (std::string_view& e : *entries) {
    if (!r.LengthPrefixed(&e)) return false;
  }
  return r.empty();
}

void AppendTag(uint32_t field, uint32_t type, std::string* out) {
  AppendVarint((field << 3) | type, out);
}

void AppendLengthDelimited(uint32_t field, std::string_view bytes, std::string* out) {
  AppendTag(field, wire_internal::kLengthDelimited, out);
  AppendVarint(bytes.size(), out);
  out->append(bytes);
}

void AppendFixed(uint32_t field, uint32_t type, uint64_t value, int bytes, std::string* out) {
  AppendTag(field, type, out);
  AppendLittleEndian(value, bytes, out);
}

class Decoder {
 public:
  bool Open(std::string_view block);
  uint64_t spans() const { return spans_; }
  // Writes the spans in [first, end) that `keep` accepts to `*out` (end <= spans()); the spans
  // between the seek point before `first` and `first` are read but not built. Fails past
  // `limit` bytes of output.
  bool Decode(uint64_t first, uint64_t end, absl::FunctionRef<bool(std::string_view)> keep,
              uint64_t limit, std::string* out);

 private:
  // Reads the next span's resource, scope, presence bits and trace ID; false when malformed.
  bool ReadHead(uint64_t* resource, uint64_t* scope, uint64_t* presence,
                std::string_view* trace_id);
  // Reads the rest of the span; when `emit_`, builds its wire bytes into `span_`.
  bool ReadBody(uint64_t presence, std::string_view trace_id);
  bool ReadAttributes();
  // Reads one attribute of `type`; when `emit_`, appends it to `span_` (AppendAttribute).
  bool ReadAttribute(uint8_t type);
  void AppendAttribute(uint8_t type, std::string_view key, std::string_view b, uint64_t v);
  bool ReadStatus();
  void Put(uint32_t field, std::string_view bytes) {
    if (emit_) AppendLengthDelimited(field, bytes, &span_);
  }
  bool Entry(const std::vector<std::string_view>& dict, Reader& r, std::string_view* out) {
    uint64_t i = 0;
    if (!r.Varint(&i) || i >= dict.size()) return false;
    *out = dict[i];
    return true;
  }
  // Closes the open ScopeSpans and ResourceSpans into `*out`.
  void FlushScope();
  void FlushResource(std::string* out);

  uint64_t spans_ = 0;
  // Reads from the seek point before `span` on (kSeek), setting `*at` to its span; false when the
  // seek table is malformed.
  bool SeekBefore(uint64_t span, uint64_t* at);

  std::array<Reader, kResources> sections_;  // the columns being read; the dictionaries below
  std::array<std::string_view, kResources> columns_;  // the columns whole
  std::string_view seek_;
  std::vector<std::string_view> resources_, scopes_, names_, keys_, strings_;
  uint64_t previous_start_ = 0;
  bool emit_ = false;  // whether the span being read is built
  std::string span_;
  std::string key_value_, value_;  // scratch of AppendAttribute
  // The open ResourceSpans and ScopeSpans of the output.
  uint64_t resource_ = UINT64_MAX, scope_ = UINT64_MAX;
  std::string resource_body_, scope_body_;
};

bool Decoder::Open(std::string_view block) {
  Reader r(block);
  std::string_view version;
  if (!r.Bytes(1, &version) || static_cast<uint8_t>(version[0]) != kVersion) return false;
  if (!r.Varint(&spans_)) return false;
  std::vector<std::string_view>* const dictionaries[] = {&resources_, &scopes_, &names_, &keys_,
                                                         &strings_};  // from kResources on
  for (int s = 0; s < kSectionCount; ++s) {
    std::string_view section;
    if (!r.LengthPrefixed(&section)) return false;
    if (s < kResources) {
      columns_[s] = section;
      sections_[s] = Reader(section);
    } else if (s == kSeek) {
      seek_ = section;
    } else if (!ReadDictionary(section, dictionaries[s - kResources])) {
      return false;
    }
  }
  return r.empty();
}

bool Decoder::SeekBefore(uint64_t span, uint64_t* at) {
  *at = 0;
  const uint64_t point = span / kSeekInterval;  // the last seek point at or before `span`
  if (point == 0) return true;
  Reader r(seek_);
  std::array<uint64_t, kResources> offsets{};
  uint64_t start = 0;
  for (uint64_t p = 1; p <= point; ++p) {
    if (!r.Varint(&start)) return false;
    for (uint64_t& offset : offsets) {
      if (!r.Varint(&offset)) return false;
    }
  }
  for (int s = 0; s < kResources; ++s) {
    if (offsets[s] > columns_[s].size()) return false;
    sections_[s] = Reader(columns_[s].substr(offsets[s]));
  }
  previous_start_ = start;
  *at = point * kSeekInterval;
  return true;
}

bool Decoder::ReadHead(uint64_t* resource, uint64_t* scope, uint64_t* presence,
                       std::string_view* trace_id) {
  auto& s = sections_;
  *trace_id = {};
  return s[kResource].Varint(resource) && *resource < resources_.size() &&
         s[kScope].Varint(scope) && *scope < scopes_.size() && s[kPresence].Varint(presence) &&
         (!(*presence & kBitTraceId) || s[kTraceId].Bytes(16, trace_id));
}

bool Decoder::ReadBody(uint64_t presence, std::string_view trace_id) {
  auto& s = sections_;
  span_.clear();
  std::string_view b;
  uint64_t v = 0;
  if (presence & kBitTraceId) Put(kFieldTraceId, trace_id);
  if (presence & kBitSpanId) {
    if (!s[kSpanId].Bytes(8, &b)) return false;
    Put(kFieldSpanId, b);
  }
  if (presence & kBitTraceState) {
    if (!Entry(strings_, s[kTraceState], &b)) return false;
    Put(kFieldTraceState, b);
  }
  if (presence & kBitParentId) {
    if (!s[kParentId].Bytes(8, &b)) return false;
    Put(kFieldParentId, b);
  }
  if (presence & kBitName) {
    if (!Entry(names_, s[kName], &b)) return false;
    Put(kFieldName, b);
  }
  if (presence & kBitKind) {
    if (!s[kKind].Varint(&v)) return false;
    if (emit_) {
      AppendTag(kFieldKind, wire_internal::kVarint, &span_);
      AppendVarint(v, &span_);
    }
  }
  uint64_t start = 0;
  if (presence & kBitStart) {
    if (!s[kStart].Varint(&v)) return false;
    start = previous_start_ + static_cast<uint64_t>(UnZigZag(v));
    previous_start_ = start;
    if (emit_) AppendFixed(kFieldStart, wire_internal::kFixed64, start, 8, &span_);
  }
  if (presence & kBitEnd) {
    if (!s[kEnd].Varint(&v)) return false;
    const uint64_t end = start + static_cast<uint64_t>(UnZigZag(v));
    if (emit_) AppendFixed(kFieldEnd, wire_internal::kFixed64, end, 8, &span_);
  }
  if (!ReadAttributes()) return false;
  if ((presence & kBitStatus) && !ReadStatus()) return false;
  if (presence & kBitFlags) {
    if (!s[kFlags].Fixed(4, &v)) return false;
    if (emit_) AppendFixed(kFieldFlags, wire_internal::kFixed32, v, 4, &span_);
  }
  if (!s[kRest].LengthPrefixed(&b)) return false;
  if (emit_) span_.append(b);
  return true;
}

bool Decoder::ReadAttributes() {
  uint64_t count = 0;
  if (!sections_[kAttrCount].Varint(&count)) return false;
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view type;
    if (!sections_[kAttrType].Bytes(1, &type)) return false;
    if (!ReadAttribute(static_cast<uint8_t>(type[0]))) return false;
  }
  return true;
}

bool Decoder::ReadAttribute(uint8_t type) {
  auto& s = sections_;
  std::string_view key, b;
  uint64_t v = 0;
  if (type == kRawKeyValue) {
    if (!s[kAttrRaw].LengthPrefixed(&b)) return false;
    if (emit_) span_.append(b);  // the whole field, tag included
    return true;
  }
  if (!Entry(keys_, s[kAttrKey], &key)) return false;
  bool read = true;
  switch (type) {
    case kString:
      read = Entry(strings_, s[kAttrString], &b);
      break;
    case kInt:
      read = s[kAttrInt].Varint(&v);
      break;
    case kDouble:
      read = s[kAttrDouble].Fixed(8, &v);
      break;
    case kBool:
      read = s[kAttrBool].Bytes(1, &b);
      break;
    case kRawValue:
      read = s[kAttrRaw].LengthPrefixed(&b);
      break;
    case kNoValue:
      break;
    default:
      return false;
  }
  if (!read) return false;
  if (emit_) AppendAttribute(type, key, b, v);
  return true;
}

void Decoder::AppendAttribute(uint8_t type, std::string_view key, std::string_view b, uint64_t v) {
  value_.clear();
  switch (type) {
    case kString:
      AppendLengthDelimited(1, b, &value_);
      break;
    case kInt:
      AppendTag(3, wire_internal::kVarint, &value_);
      AppendVarint(static_cast<uint64_t>(UnZigZag(v)), &value_);
      break;
    case kDouble:
      AppendFixed(4, wire_internal::kFixed64, v, 8, &value_);
      break;
    case kBool:
      AppendTag(2, wire_internal::kVarint, &value_);
      AppendVarint(static_cast<uint8_t>(b[0]), &value_);
      break;
    case kRawValue:
      value_.assign(b);
      break;
    default:
      break;
  }
  key_value_.clear();
  AppendLengthDelimited(1, key, &key_value_);
  if (type != kNoValue) AppendLengthDelimited(2, value_, &key_value_);
  AppendLengthDelimited(kFieldAttributes, key_value_, &span_);
}

bool Decoder::ReadStatus() {
  uint64_t code = 0;
  std::string_view message;
  if (!sections_[kStatusCode].Varint(&code) ||
      !Entry(strings_, sections_[kStatusMessage], &message)) {
    return false;
  }
  if (!emit_) return true;
  std::string status;
  if (!message.empty()) AppendLengthDelimited(2, message, &status);
  if (code != 0) {
    AppendTag(3, wire_internal::kVarint, &status);
    AppendVarint(code, &status);
  }
  AppendLengthDelimited(kFieldStatus, status, &span_);
  return true;
}

void Decoder::FlushScope() {
  if (scope_ == UINT64_MAX) return;
  std::string body(scopes_[scope_]);
  body.append(scope_body_);
  AppendLengthDelimited(2, body, &resource_body_);
  scope_body_.clear();
  scope_ = UINT64_MAX;
}

void Decoder::FlushResource(std::string* out) {
  FlushScope();
  if (resource_ == UINT64_MAX) return;
  std::string body(resources_[resource_]);
  body.append(resource_body_);
  AppendLengthDelimited(1, body, out);
  resource_body_.clear();
  resource_ = UINT64_MAX;
}

bool Decoder::Decode(uint64_t first, uint64_t end, absl::FunctionRef<bool(std::string_view)> keep,
                     uint64_t limit, std::string* out) {
  out->clear();
  uint64_t i = 0;
  if (!SeekBefore(first, &i)) return false;
  for (; i < end; ++i) {
    uint64_t resource = 0, scope = 0, presence = 0;
    std::string_view trace_id;
    if (!ReadHead(&resource, &scope, &presence, &trace_id)) return false;
    emit_ = i >= first && keep(trace_id);
    if (!ReadBody(presence, trace_id)) return false;
    if (!emit_) continue;
    if (resource != resource_) {
      FlushResource(out);
      resource_ = resource;
    }
    if (scope != scope_) {
      FlushScope();
      scope_ = scope;
    }
    AppendLengthDelimited(2, span_, &scope_body_);
    if (out->size() + resource_body_.size() + scope_body_.size() > limit) return false;
  }
  FlushResource(out);
  if (end < spans_) return true;
  // Every column was read to its end.
  for (int s = 0; s < kResources; ++s) {
    if (!sections_[s].empty()) return false;
  }
  return true;
}

}  // namespace

uint64_t SpanColumnsOutputLimit(uint64_t block_bytes) {
  return kMaxExpansion * block_bytes + (1u << 20);
}

bool CountSpanColumns(std::string_view block, uint64_t* spans) {
  if (block.empty() || static_cast<uint8_t>(block[0]) != kVersion) return false;
  block.remove_prefix(1);
  const char* p = wire_internal::ReadVarint64(block.data(), block.data() + block.size(), spans);
  return p != nullptr;
}

bool DecodeSpanColumns(std::string_view block, absl::FunctionRef<bool(std::string_view)> keep,
                       std::string* traces_data) {
  Decoder decoder;
  return decoder.Open(block) && decoder.Decode(0, decoder.spans(), keep,
                                               SpanColumnsOutputLimit(block.size()), traces_data);
}

bool DecodeSpanColumnRange(std::string_view block, uint64_t first, uint64_t count,
                           std::string* traces_data) {
  Decoder decoder;
  if (!decoder.Open(block) || first > decoder.spans() || count > decoder.spans() - first) {
    return false;
  }
  return decoder.Decode(
      first, first + count, [](std::string_view) { return true; },
      SpanColumnsOutputLimit(block.size()), traces_data);
}

}  // namespace tailtrace
