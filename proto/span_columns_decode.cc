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
  // Fails past `limit` bytes of output.
  bool Decode(absl::FunctionRef<bool(std::string_view)> keep, uint64_t limit, std::string* out);

 private:
  // Reads the next span into `span_` (and its resource and scope); false when malformed.
  bool NextSpan(uint64_t* resource, uint64_t* scope, std::string_view* trace_id);
  bool ReadAttributes();
  bool ReadStatus();
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
  std::array<Reader, kResources> sections_;  // the columns; the dictionaries below
  std::vector<std::string_view> resources_, scopes_, names_, keys_, strings_;
  uint64_t previous_start_ = 0;
  std::string span_;
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
      sections_[s] = Reader(section);
    } else if (!ReadDictionary(section, dictionaries[s - kResources])) {
      return false;
    }
  }
  return r.empty();
}

bool Decoder::NextSpan(uint64_t* resource, uint64_t* scope, std::string_view* trace_id) {
  auto& s = sections_;
  uint64_t presence = 0;
  if (!s[kResource].Varint(resource) || *resource >= resources_.size() ||
      !s[kScope].Varint(scope) || *scope >= scopes_.size() || !s[kPresence].Varint(&presence)) {
    return false;
  }
  span_.clear();
  *trace_id = {};
  std::string_view b;
  uint64_t v = 0;
  if (presence & kBitTraceId) {
    if (!s[kTraceId].Bytes(16, trace_id)) return false;
    AppendLengthDelimited(kFieldTraceId, *trace_id, &span_);
  }
  if (presence & kBitSpanId) {
    if (!s[kSpanId].Bytes(8, &b)) return false;
    AppendLengthDelimited(kFieldSpanId, b, &span_);
  }
  if (presence & kBitTraceState) {
    if (!Entry(strings_, s[kTraceState], &b)) return false;
    AppendLengthDelimited(kFieldTraceState, b, &span_);
  }
  if (presence & kBitParentId) {
    if (!s[kParentId].Bytes(8, &b)) return false;
    AppendLengthDelimited(kFieldParentId, b, &span_);
  }
  if (presence & kBitName) {
    if (!Entry(names_, s[kName], &b)) return false;
    AppendLengthDelimited(kFieldName, b, &span_);
  }
  if (presence & kBitKind) {
    if (!s[kKind].Varint(&v)) return false;
    AppendTag(kFieldKind, wire_internal::kVarint, &span_);
    AppendVarint(v, &span_);
  }
  uint64_t start = 0;
  if (presence & kBitStart) {
    if (!s[kStart].Varint(&v)) return false;
    start = previous_start_ + static_cast<uint64_t>(UnZigZag(v));
    previous_start_ = start;
    AppendFixed(kFieldStart, wire_internal::kFixed64, start, 8, &span_);
  }
  if (presence & kBitEnd) {
    if (!s[kEnd].Varint(&v)) return false;
    AppendFixed(kFieldEnd, wire_internal::kFixed64, start + static_cast<uint64_t>(UnZigZag(v)), 8,
                &span_);
  }
  if (!ReadAttributes()) return false;
  if ((presence & kBitStatus) && !ReadStatus()) return false;
  if (presence & kBitFlags) {
    if (!s[kFlags].Fixed(4, &v)) return false;
    AppendFixed(kFieldFlags, wire_internal::kFixed32, v, 4, &span_);
  }
  if (!s[kRest].LengthPrefixed(&b)) return false;
  span_.append(b);
  return true;
}

bool Decoder::ReadAttributes() {
  auto& s = sections_;
  uint64_t count = 0;
  if (!s[kAttrCount].Varint(&count)) return false;
  std::string key_value;
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view type, key, b;
    uint64_t v = 0;
    if (!s[kAttrType].Bytes(1, &type)) return false;
    if (type[0] == kRawKeyValue) {
      if (!s[kAttrRaw].LengthPrefixed(&b)) return false;
      span_.append(b);  // the whole field, tag included
      continue;
    }
    if (!Entry(keys_, s[kAttrKey], &key)) return false;
    key_value.clear();
    AppendLengthDelimited(1, key, &key_value);
    std::string value;
    switch (static_cast<uint8_t>(type[0])) {
      case kString:
        if (!Entry(strings_, s[kAttrString], &b)) return false;
        AppendLengthDelimited(1, b, &value);
        break;
      case kInt:
        if (!s[kAttrInt].Varint(&v)) return false;
        AppendTag(3, wire_internal::kVarint, &value);
        AppendVarint(static_cast<uint64_t>(UnZigZag(v)), &value);
        break;
      case kDouble:
        if (!s[kAttrDouble].Fixed(8, &v)) return false;
        AppendFixed(4, wire_internal::kFixed64, v, 8, &value);
        break;
      case kBool:
        if (!s[kAttrBool].Bytes(1, &b)) return false;
        AppendTag(2, wire_internal::kVarint, &value);
        AppendVarint(static_cast<uint8_t>(b[0]), &value);
        break;
      case kRawValue:
        if (!s[kAttrRaw].LengthPrefixed(&b)) return false;
        value.assign(b);
        break;
      case kNoValue:
        break;
      default:
        return false;
    }
    if (type[0] != kNoValue) AppendLengthDelimited(2, value, &key_value);
    AppendLengthDelimited(kFieldAttributes, key_value, &span_);
  }
  return true;
}

bool Decoder::ReadStatus() {
  uint64_t code = 0;
  std::string_view message;
  if (!sections_[kStatusCode].Varint(&code) ||
      !Entry(strings_, sections_[kStatusMessage], &message)) {
    return false;
  }
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

bool Decoder::Decode(absl::FunctionRef<bool(std::string_view)> keep, uint64_t limit,
                     std::string* out) {
  out->clear();
  for (uint64_t i = 0; i < spans_; ++i) {
    uint64_t resource = 0, scope = 0;
    std::string_view trace_id;
    if (!NextSpan(&resource, &scope, &trace_id)) return false;
    if (!keep(trace_id)) continue;
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
  // Every column was read to its end.
  for (int s = 0; s < kResources; ++s) {
    if (!sections_[s].empty()) return false;
  }
  return true;
}

}  // namespace

bool CountSpanColumns(std::string_view block, uint64_t* spans) {
  if (block.empty() || static_cast<uint8_t>(block[0]) != kVersion) return false;
  block.remove_prefix(1);
  const char* p = wire_internal::ReadVarint64(block.data(), block.data() + block.size(), spans);
  return p != nullptr;
}

bool DecodeSpanColumns(std::string_view block, absl::FunctionRef<bool(std::string_view)> keep,
                       std::string* traces_data) {
  Decoder decoder;
  const uint64_t limit = kMaxExpansion * block.size() + (1u << 20);
  return decoder.Open(block) && decoder.Decode(keep, limit, traces_data);
}

}  // namespace tailtrace
