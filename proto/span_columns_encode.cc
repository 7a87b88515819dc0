// EncodeSpanColumns (proto/span_columns.h): TracesData wire bytes into a span column block.

#include <array>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "otlp_wire_primitives.h"
#include "proto/span_columns.h"
#include "span_columns_internal.h"

namespace tailtrace {
namespace {

using namespace span_columns;  // NOLINT(build/namespaces): the layout's names
using wire_internal::AppendVarint;
using wire_internal::Field;
using wire_internal::IsAnyValueMember;
using wire_internal::kEndGroup;
using wire_internal::kFixed32;
using wire_internal::kFixed64;
using wire_internal::kLengthDelimited;
using wire_internal::kVarint;
using wire_internal::NextField;

// A dictionary section: each distinct value once, in order of first use.
class Dictionary {
 public:
  uint32_t Index(std::string_view value) {
    const absl::string_view key(value.data(), value.size());
    if (auto it = index_.find(key); it != index_.end()) return it->second;
    const auto next = static_cast<uint32_t>(index_.size());
    index_.emplace(std::string(value), next);
    AppendVarint(value.size(), &entries_);
    entries_.append(value);
    return next;
  }
  void AppendTo(std::string* out) const {
    std::string count;
    AppendVarint(index_.size(), &count);
    AppendVarint(count.size() + entries_.size(), out);
    out->append(count);
    out->append(entries_);
  }

 private:
  absl::flat_hash_map<std::string, uint32_t> index_;
  std::string entries_;
};

// Calls fn(field, begin, end) for each field of `message`, with the field's raw bytes (its tag
// included) in [begin, end); false when the message is malformed.
template <typename Fn>
bool ForEachRawField(std::string_view message, Fn&& fn) {
  const char* p = message.data();
  const char* end = p + message.size();
  while (p < end) {
    const char* begin = p;
    Field f;
    p = NextField(p, end, &f);
    if (p == nullptr || f.type == kEndGroup) return false;
    if (!fn(f, begin, p)) return false;
  }
  return true;
}

// A message's own fields (all but field 2, its repeated children) as they were sent, and its
// children: ResourceSpans (children: ScopeSpans) and ScopeSpans (children: Spans).
bool SplitMessage(std::string_view message, std::string* own,
                  std::vector<std::string_view>* children) {
  return ForEachRawField(message, [&](const Field& f, const char* begin, const char* end) {
    if (f.number == 2 && f.type == kLengthDelimited) {
      children->push_back(f.bytes);
    } else {
      own->append(begin, end);
    }
    return true;
  });
}

// Whether `any_value` has exactly one field and that field is a member of the `value` oneof of
// a type with a column of its own; then its type and the field.
bool UsualValue(std::string_view any_value, AttrType* type, Field* member) {
  const char* p = any_value.data();
  const char* end = p + any_value.size();
  if (p == end) return false;
  p = NextField(p, end, member);
  if (p != end || !IsAnyValueMember(*member)) return false;
  switch (member->number) {
    case 1:
      *type = kString;
      return true;
    case 2:
      *type = kBool;
      return member->value <= 1;  // other varints read as true: kept as sent
    case 3:
      *type = kInt;
      return true;
    case 4:
      *type = kDouble;
      return true;
    default:
      return false;
  }
}

class Encoder {
 public:
  bool AddTracesData(std::string_view bytes);
  void Finish(std::string* block) const;
  uint64_t spans() const { return spans_; }

 private:
  bool AddResourceSpans(std::string_view bytes);
  bool AddSpan(uint32_t resource, uint32_t scope, std::string_view span);
  static uint32_t ColumnBit(const Field& f, const std::array<uint8_t, 17>& counts);
  bool AddColumnField(const Field& f, uint32_t bit);
  void AddAttribute(std::string_view key_value, const char* begin, const char* end);
  // Where the columns stand before the next span (kSeek).
  void AddSeekPoint();
  std::string& at(Section s) { return sections_[s]; }

  std::array<std::string, kSectionCount> sections_;
  Dictionary resources_, scopes_, names_, keys_, strings_;
  uint64_t spans_ = 0;
  uint64_t previous_start_ = 0;
  uint64_t start_ = 0;  // of the span being added, 0 when none is held
  uint32_t attributes_ = 0;
};

bool Encoder::AddTracesData(std::string_view bytes) {
  return ForEachRawField(bytes, [&](const Field& f, const char*, const char*) {
    return f.number != 1 || f.type != kLengthDelimited || AddResourceSpans(f.bytes);
  });
}

bool Encoder::AddResourceSpans(std::string_view bytes) {
  std::string own;
  std::vector<std::string_view> scope_spans;
  if (!SplitMessage(bytes, &own, &scope_spans)) return false;
  const uint32_t resource = resources_.Index(own);
  for (std::string_view scope_bytes : scope_spans) {
    std::string scope_own;
    std::vector<std::string_view> spans;
    if (!SplitMessage(scope_bytes, &scope_own, &spans)) return false;
    const uint32_t scope = scopes_.Index(scope_own);
    for (std::string_view span : spans) {
      if (!AddSpan(resource, scope, span)) return false;
    }
  }
  return true;
}

uint32_t Encoder::ColumnBit(const Field& f, const std::array<uint8_t, 17>& counts) {
  if (f.number >= counts.size() || counts[f.number] != 1) return 0;
  const bool ld = f.type == kLengthDelimited;
  switch (f.number) {
    case kFieldTraceId:
      return ld && f.bytes.size() == 16 ? kBitTraceId : 0;
    case kFieldSpanId:
      return ld && f.bytes.size() == 8 ? kBitSpanId : 0;
    case kFieldParentId:
      return ld && f.bytes.size() == 8 ? kBitParentId : 0;
    case kFieldTraceState:
      return ld ? kBitTraceState : 0;
    case kFieldName:
      return ld ? kBitName : 0;
    case kFieldKind:
      return f.type == kVarint ? kBitKind : 0;
    case kFieldStart:
      return f.type == kFixed64 ? kBitStart : 0;
    case kFieldEnd:
      return f.type == kFixed64 ? kBitEnd : 0;
    case kFieldStatus:
      return ld ? kBitStatus : 0;
    case kFieldFlags:
      return f.type == kFixed32 ? kBitFlags : 0;
    default:
      return 0;
  }
}

bool Encoder::AddSpan(uint32_t resource, uint32_t scope, std::string_view span) {
  if (spans_ > 0 && spans_ % kSeekInterval == 0) AddSeekPoint();
  // How often each column field occurs: one held in a column must occur once.
  std::array<uint8_t, 17> counts{};
  if (!ForEachRawField(span, [&](const Field& f, const char*, const char*) {
        if (f.number < counts.size() && counts[f.number] < 2) ++counts[f.number];
        return true;
      })) {
    return false;
  }
  uint32_t presence = 0;
  std::string rest;
  uint64_t end_ns = 0;  // held once the span's start is known, whatever the fields' order
  attributes_ = 0;
  start_ = 0;
  // Well-formed: the count above read it whole.
  ForEachRawField(span, [&](const Field& f, const char* begin, const char* end) {
    const uint32_t bit = ColumnBit(f, counts);
    if (f.number == kFieldAttributes && f.type == kLengthDelimited) {
      AddAttribute(f.bytes, begin, end);
    } else if (bit == kBitEnd) {
      end_ns = f.value;
      presence |= kBitEnd;
    } else if (bit != 0 && AddColumnField(f, bit)) {
      presence |= bit;
    } else {
      rest.append(begin, end);
    }
    return true;
  });
  if (presence & kBitEnd) AppendVarint(ZigZag(static_cast<int64_t>(end_ns - start_)), &at(kEnd));
  AppendVarint(resource, &at(kResource));
  AppendVarint(scope, &at(kScope));
  AppendVarint(presence, &at(kPresence));
  AppendVarint(attributes_, &at(kAttrCount));
  AppendVarint(rest.size(), &at(kRest));
  at(kRest).append(rest);
  ++spans_;
  return true;
}

void Encoder::AddSeekPoint() {
  std::string& seek = at(kSeek);
  AppendVarint(previous_start_, &seek);
  for (int s = 0; s < kResources; ++s) AppendVarint(sections_[s].size(), &seek);
}

bool Encoder::AddColumnField(const Field& f, uint32_t bit) {
  switch (bit) {
    case kBitTraceId:
      at(kTraceId).append(f.bytes);
      return true;
    case kBitSpanId:
      at(kSpanId).append(f.bytes);
      return true;
    case kBitParentId:
      at(kParentId).append(f.bytes);
      return true;
    case kBitTraceState:
      AppendVarint(strings_.Index(f.bytes), &at(kTraceState));
      return true;
    case kBitName:
      AppendVarint(names_.Index(f.bytes), &at(kName));
      return true;
    case kBitKind:
      AppendVarint(f.value, &at(kKind));
      return true;
    case kBitFlags:
      AppendLittleEndian(f.value, 4, &at(kFlags));
      return true;
    case kBitStart:
      AppendVarint(ZigZag(static_cast<int64_t>(f.value - previous_start_)), &at(kStart));
      previous_start_ = start_ = f.value;
      return true;
    case kBitStatus: {
      // Held only when it is a message field 2 (string) and field 3 (varint), each at most once.
      uint64_t code = 0;
      std::string_view message;
      int seen_code = 0, seen_message = 0;
      const bool usual = ForEachRawField(f.bytes, [&](const Field& s, const char*, const char*) {
        if (s.number == 2 && s.type == kLengthDelimited) {
          message = s.bytes;
          ++seen_message;
        } else if (s.number == 3 && s.type == kVarint) {
          code = s.value;
          ++seen_code;
        } else {
          return false;
        }
        return true;
      });
      if (!usual || seen_code > 1 || seen_message > 1) return false;
      AppendVarint(code, &at(kStatusCode));
      AppendVarint(strings_.Index(message), &at(kStatusMessage));
      return true;
    }
    default:
      return false;
  }
}

void Encoder::AddAttribute(std::string_view key_value, const char* begin, const char* end) {
  ++attributes_;
  // A usual KeyValue: its key (field 1) and then at most one value (field 2), each once.
  std::string_view key, value;
  int keys = 0, values = 0;
  const bool usual = ForEachRawField(key_value, [&](const Field& f, const char*, const char*) {
    if (f.number == 1 && f.type == kLengthDelimited && values == 0) {
      key = f.bytes;
      ++keys;
    } else if (f.number == 2 && f.type == kLengthDelimited) {
      value = f.bytes;
      ++values;
    } else {
      return false;
    }
    return true;
  });
  if (!usual || keys != 1 || values > 1) {
    // Kept whole, field tag and length included, as sent.
    at(kAttrType).push_back(static_cast<char>(kRawKeyValue));
    AppendVarint(static_cast<size_t>(end - begin), &at(kAttrRaw));
    at(kAttrRaw).append(begin, end);
    return;
  }
  AppendVarint(keys_.Index(key), &at(kAttrKey));
  AttrType type = kRawValue;
  Field member;
  if (values == 0) type = kNoValue;
  if (values == 1 && !UsualValue(value, &type, &member)) type = kRawValue;
  at(kAttrType).push_back(static_cast<char>(type));
  switch (type) {
    case kString:
      AppendVarint(strings_.Index(member.bytes), &at(kAttrString));
      break;
    case kInt:
      AppendVarint(ZigZag(static_cast<int64_t>(member.value)), &at(kAttrInt));
      break;
    case kDouble:
      AppendLittleEndian(member.value, 8, &at(kAttrDouble));
      break;
    case kBool:
      at(kAttrBool).push_back(static_cast<char>(member.value));
      break;
    case kRawValue:
      AppendVarint(value.size(), &at(kAttrRaw));
      at(kAttrRaw).append(value);
      break;
    default:
      break;
  }
}

void Encoder::Finish(std::string* block) const {
  block->clear();
  block->push_back(static_cast<char>(kVersion));
  AppendVarint(spans_, block);
  for (int s = 0; s < kResources; ++s) {
    AppendVarint(sections_[s].size(), block);
    block->append(sections_[s]);
  }
  for (const Dictionary* d : {&resources_, &scopes_, &names_, &keys_, &strings_}) {
    d->AppendTo(block);
  }
  AppendVarint(sections_[kSeek].size(), block);
  block->append(sections_[kSeek]);
}

}  // namespace

bool EncodeSpanColumns(std::span<const std::string_view> chunks, std::string* block,
                       std::vector<uint64_t>* spans_per_chunk) {
  Encoder encoder;
  if (spans_per_chunk != nullptr) spans_per_chunk->clear();
  for (std::string_view chunk : chunks) {
    const uint64_t before = encoder.spans();
    if (!encoder.AddTracesData(chunk)) return false;
    if (spans_per_chunk != nullptr) spans_per_chunk->push_back(encoder.spans() - before);
  }
  encoder.Finish(block);
  return true;
}

}  // namespace tailtrace
