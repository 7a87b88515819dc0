#include "proto/otlp_wire.h"

#include <array>
#include <climits>
#include <cstring>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "otlp_wire_primitives.h"

// The parsing rules below are protobuf 3.21's (parse_context.h, generated _InternalParse):
//   - a tag is a varint of at most 5 bytes, taken modulo 2^32; tag 0, field number 0, wire types
//     6 and 7 and an end-group tag outside a group fail the parse;
//   - a value varint has at most 10 bytes (any bits of the 10th byte are accepted);
//   - a length has at most 5 bytes, the 5th below 8, and must fit in the enclosing message;
//   - a known field parses only with its declared wire type; otherwise it is an unknown field;
//   - a group ends at an end-group tag of its own field number, before the enclosing limit;
//   - a proto3 string field must be structurally valid UTF-8.

namespace tailtrace {
namespace {

using wire_internal::kEndGroup;
using wire_internal::kFixed32;
using wire_internal::kFixed64;
using wire_internal::kLengthDelimited;
using wire_internal::kStartGroup;
using wire_internal::kVarint;
using wire_internal::LengthProblem;
using wire_internal::ReadLength;
using wire_internal::ReadTag;
using wire_internal::SkipVarint;
using wire_internal::ValidUtf8;
using wire_internal::VarintTruncated;

constexpr int kMaxField = 16;  // the highest field number of any message scanned here

// The message types whose length-delimited fields need more than skipping.
enum MsgType : uint8_t {
  kNoMsg,
  kResourceSpans,
  kScopeSpans,
  kSpan,
  kEvent,
  kLink,
  kStatus,
  kResource,
  kScope,
  kKeyValue,
  kAnyValue,
  kArrayValue,
  kKeyValueList,
  kMsgTypeCount,
};

enum class Kind : uint8_t {
  kOther,    // anything else (bytes, scalars): checked and skipped by wire type
  kString,   // proto3 string: UTF-8 checked
  kMessage,  // a message of type `sub`: scanned recursively
};

struct FieldInfo {
  Kind kind = Kind::kOther;
  MsgType sub = kNoMsg;
  const char* name = nullptr;
};

struct MsgTable {
  FieldInfo fields[kMaxField + 1];
};

// Only string and message fields are listed; every other field is skipped as an unknown one
// (which checks the same wire format). ResourceSpans.scope_spans, ScopeSpans.spans and the span's
// IDs are handled before the table is consulted.
constexpr std::array<MsgTable, kMsgTypeCount> kTables = [] {
  std::array<MsgTable, kMsgTypeCount> t{};
  auto str = [&](MsgType m, int f, const char* n) { t[m].fields[f] = {Kind::kString, kNoMsg, n}; };
  auto msg = [&](MsgType m, int f, MsgType sub, const char* n) {
    t[m].fields[f] = {Kind::kMessage, sub, n};
  };
  msg(kResourceSpans, 1, kResource, "resource");
  str(kResourceSpans, 3, "schema_url");
  msg(kScopeSpans, 1, kScope, "scope");
  str(kScopeSpans, 3, "schema_url");
  str(kSpan, 3, "trace_state");
  str(kSpan, 5, "name");
  msg(kSpan, 9, kKeyValue, "attributes");
  msg(kSpan, 11, kEvent, "events");
  msg(kSpan, 13, kLink, "links");
  msg(kSpan, 15, kStatus, "status");
  str(kEvent, 2, "name");
  msg(kEvent, 3, kKeyValue, "attributes");
  str(kLink, 3, "trace_state");
  msg(kLink, 4, kKeyValue, "attributes");
  str(kStatus, 2, "message");
  msg(kResource, 1, kKeyValue, "attributes");
  str(kScope, 1, "name");
  str(kScope, 2, "version");
  msg(kScope, 3, kKeyValue, "attributes");
  str(kKeyValue, 1, "key");
  msg(kKeyValue, 2, kAnyValue, "value");
  str(kAnyValue, 1, "string_value");
  msg(kAnyValue, 5, kArrayValue, "array_value");
  msg(kAnyValue, 6, kKeyValueList, "kvlist_value");
  msg(kArrayValue, 1, kAnyValue, "values");
  msg(kKeyValueList, 1, kKeyValue, "values");
  return t;
}();

std::string_view View(const char* p, uint32_t n) { return std::string_view(p, n); }

// The span fields besides the IDs that WireSpan keeps: name (5), kind (6), start and end times
// (7, 8), status (15).
bool IsKeptSpanField(uint32_t number) { return (number >= 5 && number <= 8) || number == 15; }

uint64_t SpanIdBits(std::string_view id) {
  return id.size() == kSpanIdBytes ? wire_internal::Load64(id.data()) : 0;
}

// One pass over a request. Every scanning function returns the position after what it scanned,
// or nullptr after recording the error in error_.
class Scanner {
 public:
  Scanner(WireRequest* out, const SpanLimits& limits) : out_(out), limits_(limits) {}

  absl::Status Run();

 private:
  struct PathEntry {
    const char* name = nullptr;
    int64_t index = -1;  // -1: not a repeated entry we count
  };

  const char* ScanResourceSpans(const char* p, const char* end);
  const char* ScanScopeSpans(const char* p, const char* end);
  // Scans a ResourceSpans or ScopeSpans (type `m` at `depth`): its field-2 entries (the children,
  // named `child_name` in error paths) go to `scan_child(begin, end, index)`, and its other
  // fields, checked, are collected in `*key` in their order.
  template <typename ScanChild>
  const char* ScanContainer(MsgType m, int depth, const char* child_name, const char* p,
                            const char* end, std::string* key, ScanChild&& scan_child);
  // Scans one span's message; on success also validates its IDs and records or rejects it.
  const char* ScanSpan(const char* p, const char* end, int64_t index);
  const char* ScanMessage(MsgType m, const char* p, const char* end, int depth);
  // ScanMessage for the most frequent messages, with their usual fields decoded first.
  const char* ScanKeyValue(const char* p, const char* end, int depth);
  const char* ScanAnyValue(const char* p, const char* end, int depth);
  // One field of a message of type `m` at `depth`, after its tag.
  const char* ScanField(MsgType m, uint32_t tag, const char* p, const char* end, int depth);
  // Checks and skips one field's value (after its tag) as an unknown field.
  const char* SkipField(uint32_t tag, const char* p, const char* end, int depth);
  // Skips a group's fields through its end-group tag; `depth` is the group's own depth.
  const char* SkipGroup(uint32_t field, const char* p, const char* end, int depth);

  void RejectSpan(int64_t index, std::string_view problem_a, size_t problem_b);
  void RejectSpan(int64_t index, std::string_view problem);

  // Records an error in field `field` (0: none known) of the message at `depth`.
  std::nullptr_t Fail(int depth, uint32_t field, std::string_view what);
  std::nullptr_t FailTag(int depth, const char* p, const char* end) {
    return Fail(depth, 0, VarintTruncated(p, end, 5) ? "truncated tag" : "tag longer than 5 bytes");
  }

  // Whether the span just scanned (counts_ and long_value_) may exceed limits_.
  bool OverLimits() const;

  WireRequest* out_;
  const SpanLimits limits_;
  // Per span being scanned: counts_[m][sub] is the number of length-delimited fields of message
  // type `sub` seen in messages of type `m` (e.g. [kSpan][kKeyValue]: the span's attributes,
  // [kEvent][kKeyValue]: the attributes of all its events); long_value_ is whether a string
  // value longer than limits_.max_attribute_value_length was seen.
  std::array<std::array<uint32_t, kMsgTypeCount>, kMsgTypeCount> counts_{};
  bool long_value_ = false;
  const char* base_ = nullptr;
  std::string error_;
  std::array<PathEntry, kMaxWireNestingDepth + 2> path_{};
  int reported_ = 0;
  // Per ResourceSpans being scanned: its index in out_->resources (-1 until it has a valid span)
  // and its bytes without scope_spans. Likewise per ScopeSpans.
  int64_t resource_index_ = -1;
  std::string resource_key_;
  int64_t group_index_ = -1;
  std::string scope_key_;
};

constexpr int kMaxReportedProblems = 3;

std::nullptr_t Scanner::Fail(int depth, uint32_t field, std::string_view what) {
  if (!error_.empty()) return nullptr;
  for (int d = 2; d <= depth && d < static_cast<int>(path_.size()); ++d) {
    if (d > 2) error_ += '.';
    error_ += path_[d].name;
    if (path_[d].index >= 0) absl::StrAppend(&error_, "[", path_[d].index, "]");
  }
  if (!error_.empty()) error_ += ": ";
  if (field != 0) absl::StrAppend(&error_, "field ", field, ": ");
  error_.append(what);
  return nullptr;
}

const char* Scanner::SkipField(uint32_t tag, const char* p, const char* end, int depth) {
  const uint32_t field = tag >> 3;
  if (field == 0) return Fail(depth, 0, "field number 0");
  switch (tag & 7) {
    case kVarint: {
      const char* q = SkipVarint(p, end);
      if (q == nullptr) {
        return Fail(
            depth, field,
            VarintTruncated(p, end, 10) ? "truncated varint" : "varint longer than 10 bytes");
      }
      return q;
    }
    case kFixed64:
      if (end - p < 8) return Fail(depth, field, "truncated fixed64 value");
      return p + 8;
    case kLengthDelimited: {
      uint32_t len;
      const char* q = ReadLength(p, end, &len);
      if (q == nullptr) return Fail(depth, field, LengthProblem(p, end));
      return q + len;
    }
    case kStartGroup:
      if (depth + 1 > kMaxWireNestingDepth) {
        return Fail(depth, field, absl::StrCat("nesting deeper than ", kMaxWireNestingDepth));
      }
      path_[depth + 1] = {"group", -1};
      return SkipGroup(field, p, end, depth + 1);
    case kEndGroup:
      return Fail(depth, field, "end-group tag without a start-group tag");
    case kFixed32:
      if (end - p < 4) return Fail(depth, field, "truncated fixed32 value");
      return p + 4;
    default:
      return Fail(depth, field, absl::StrCat("invalid wire type ", tag & 7));
  }
}

const char* Scanner::SkipGroup(uint32_t field, const char* p, const char* end, int depth) {
  while (p < end) {
    uint32_t tag;
    const char* q = ReadTag(p, end, &tag);
    if (q == nullptr) return FailTag(depth, p, end);
    p = q;
    if ((tag & 7) == kEndGroup) {
      if ((tag >> 3) == field) return p;
      return Fail(depth, tag >> 3,
                  absl::StrCat("end-group tag does not match start-group field ", field));
    }
    p = SkipField(tag, p, end, depth);
    if (p == nullptr) return nullptr;
  }
  return Fail(depth - 1, field, "unterminated group");
}

inline const char* Scanner::ScanField(MsgType m, uint32_t tag, const char* p, const char* end,
                                      int depth) {
  const uint32_t field = tag >> 3;
  if ((tag & 7) == kLengthDelimited && field <= kMaxField) {
    const FieldInfo& f = kTables[m].fields[field];
    if (f.kind != Kind::kOther) {
      uint32_t len;
      const char* q = ReadLength(p, end, &len);
      if (q == nullptr) return Fail(depth, field, LengthProblem(p, end));
      if (f.kind == Kind::kString) {
        if (!ValidUtf8(q, len)) return Fail(depth, field, "invalid UTF-8 in a string field");
        return q + len;
      }
      if (depth + 1 > kMaxWireNestingDepth) {
        return Fail(depth, field, absl::StrCat("nesting deeper than ", kMaxWireNestingDepth));
      }
      path_[depth + 1] = {f.name, -1};
      ++counts_[m][f.sub];
      switch (f.sub) {
        case kKeyValue:
          return ScanKeyValue(q, q + len, depth + 1);
        case kAnyValue:
          return ScanAnyValue(q, q + len, depth + 1);
        default:
          return ScanMessage(f.sub, q, q + len, depth + 1);
      }
    }
  }
  return SkipField(tag, p, end, depth);
}

const char* Scanner::ScanMessage(MsgType m, const char* p, const char* end, int depth) {
  while (p < end) {
    uint32_t tag;
    const char* q = ReadTag(p, end, &tag);
    if (q == nullptr) return FailTag(depth, p, end);
    p = ScanField(m, tag, q, end, depth);
    if (p == nullptr) return nullptr;
  }
  return p;
}

const char* Scanner::ScanKeyValue(const char* p, const char* end, int depth) {
  while (p < end) {
    uint32_t tag;
    const char* q = ReadTag(p, end, &tag);
    if (q == nullptr) return FailTag(depth, p, end);
    if (tag == (1 << 3 | kLengthDelimited)) {  // key
      uint32_t len;
      const char* v = ReadLength(q, end, &len);
      if (v == nullptr || !ValidUtf8(v, len)) return ScanField(kKeyValue, tag, q, end, depth);
      p = v + len;
      continue;
    }
    if (tag == (2 << 3 | kLengthDelimited) && depth < kMaxWireNestingDepth) {  // value
      uint32_t len;
      const char* v = ReadLength(q, end, &len);
      if (v == nullptr) return ScanField(kKeyValue, tag, q, end, depth);
      path_[depth + 1] = {"value", -1};
      p = ScanAnyValue(v, v + len, depth + 1);
    } else {
      p = ScanField(kKeyValue, tag, q, end, depth);
    }
    if (p == nullptr) return nullptr;
  }
  return p;
}

const char* Scanner::ScanAnyValue(const char* p, const char* end, int depth) {
  while (p < end) {
    uint32_t tag;
    const char* q = ReadTag(p, end, &tag);
    if (q == nullptr) return FailTag(depth, p, end);
    switch (tag) {
      case 1 << 3 | kLengthDelimited: {  // string_value
        uint32_t len;
        const char* v = ReadLength(q, end, &len);
        if (v == nullptr || !ValidUtf8(v, len)) return ScanField(kAnyValue, tag, q, end, depth);
        if (len > limits_.max_attribute_value_length && limits_.max_attribute_value_length != 0) {
          long_value_ = true;
        }
        p = v + len;
        continue;
      }
      case 2 << 3 | kVarint:  // bool_value
      case 3 << 3 | kVarint:  // int_value
        if (q < end && static_cast<uint8_t>(*q) < 0x80) {
          p = q + 1;
          continue;
        }
        break;
      case 4 << 3 | kFixed64:  // double_value
        if (end - q >= 8) {
          p = q + 8;
          continue;
        }
        break;
      default:
        break;
    }
    // Anything else (and the errors above, reported the usual way).
    p = ScanField(kAnyValue, tag, q, end, depth);
    if (p == nullptr) return nullptr;
  }
  return p;
}

void Scanner::RejectSpan(int64_t index, std::string_view problem) {
  ++out_->rejected_spans;
  if (reported_ >= kMaxReportedProblems) return;
  ++reported_;
  std::string& msg = out_->error_message;
  if (!msg.empty()) msg += "; ";
  absl::StrAppend(&msg, "resource_spans[", path_[2].index, "].scope_spans[", path_[3].index,
                  "].spans[", index, "]: ", absl::string_view(problem.data(), problem.size()));
}

void Scanner::RejectSpan(int64_t index, std::string_view problem_a, size_t problem_b) {
  if (reported_ >= kMaxReportedProblems) {
    ++out_->rejected_spans;
    return;
  }
  RejectSpan(index, absl::StrCat(absl::string_view(problem_a.data(), problem_a.size()), problem_b));
}

bool Scanner::OverLimits() const {
  auto over = [](uint32_t count, uint32_t limit) { return count > limit && limit != 0; };
  return long_value_ || over(counts_[kSpan][kKeyValue], limits_.max_attributes_per_span) ||
         over(counts_[kSpan][kEvent], limits_.max_events_per_span) ||
         over(counts_[kSpan][kLink], limits_.max_links_per_span) ||
         over(counts_[kEvent][kKeyValue], limits_.max_attributes_per_event) ||
         over(counts_[kLink][kKeyValue], limits_.max_attributes_per_link);
}

const char* Scanner::ScanSpan(const char* p, const char* end, int64_t index) {
  constexpr int kDepth = 4;
  const char* const start = p;
  for (MsgType m : {kSpan, kEvent, kLink}) counts_[m] = {};
  long_value_ = false;
  std::string_view trace_id, span_id, parent_span_id;
  WireSpanFields fields;  // what WireSpan keeps besides the IDs, as ReadWireSpanFields reads it
  while (p < end) {
    const char* const field_start = p;
    uint32_t tag;
    const char* q = ReadTag(p, end, &tag);
    if (q == nullptr) return FailTag(kDepth, p, end);
    // trace_id = 1, span_id = 2, parent_span_id = 4, all bytes: the last occurrence counts.
    if (tag == (1 << 3 | kLengthDelimited) || tag == (2 << 3 | kLengthDelimited) ||
        tag == (4 << 3 | kLengthDelimited)) {
      uint32_t len;
      const char* v = ReadLength(q, end, &len);
      if (v == nullptr) return Fail(kDepth, tag >> 3, LengthProblem(q, end));
      (tag == (1 << 3 | kLengthDelimited)   ? trace_id
       : tag == (2 << 3 | kLengthDelimited) ? span_id
                                            : parent_span_id) = View(v, len);
      p = v + len;
      continue;
    }
    p = ScanField(kSpan, tag, q, end, kDepth);
    if (p == nullptr) return nullptr;
    if (IsKeptSpanField(tag >> 3)) {
      wire_internal::Field f;
      // The field was just checked, so it reads; its status (if it is one) is well formed.
      wire_internal::NextField(field_start, p, &f);
      wire_internal::ApplySpanField(f, &fields);
    }
  }
  // The same checks, in the same order, as validating parsed spans.
  if (trace_id.size() != kTraceIdBytes) {
    RejectSpan(index, "trace_id must be 16 bytes, got ", trace_id.size());
  } else if (!IsValidTraceId(trace_id)) {
    RejectSpan(index, "trace_id is all zero");
  } else if (span_id.size() != kSpanIdBytes) {
    RejectSpan(index, "span_id must be 8 bytes, got ", span_id.size());
  } else if (!IsValidSpanId(span_id)) {
    RejectSpan(index, "span_id is all zero");
  } else if (!parent_span_id.empty() && parent_span_id.size() != kSpanIdBytes) {
    RejectSpan(index, "parent_span_id must be empty or 8 bytes, got ", parent_span_id.size());
  } else {
    if (group_index_ < 0) {
      if (resource_index_ < 0) {
        resource_index_ = static_cast<int64_t>(out_->resources.size());
        out_->resources.emplace_back();
      }
      group_index_ = static_cast<int64_t>(out_->groups.size());
      out_->groups.push_back(WireGroup{static_cast<uint32_t>(resource_index_), {}});
    }
    WireSpan& span = out_->spans.emplace_back();
    span.trace_id = TraceId::FromBytes(trace_id);
    span.group = static_cast<uint32_t>(group_index_);
    span.offset = static_cast<uint32_t>(start - base_);
    span.size = static_cast<uint32_t>(end - start);
    span.has_parent = !parent_span_id.empty();
    fields.span_id = span_id;
    fields.parent_span_id = parent_span_id;
    SetWireSpanFields(View(start, static_cast<uint32_t>(end - start)), fields, &span);
    if (OverLimits())
      out_->spans_over_limits.push_back(static_cast<uint32_t>(out_->spans.size() - 1));
  }
  return end;
}

template <typename ScanChild>
const char* Scanner::ScanContainer(MsgType m, int depth, const char* child_name, const char* p,
                                   const char* end, std::string* key, ScanChild&& scan_child) {
  key->clear();
  const char* gap = p;  // start of the bytes not yet appended to `key`
  int64_t index = 0;
  while (p < end) {
    const char* const field_start = p;
    uint32_t tag;
    const char* q = ReadTag(p, end, &tag);
    if (q == nullptr) return FailTag(depth, p, end);
    if (tag == (2 << 3 | kLengthDelimited)) {  // a child
      uint32_t len;
      const char* v = ReadLength(q, end, &len);
      if (v == nullptr) return Fail(depth, 2, LengthProblem(q, end));
      key->append(gap, field_start);
      path_[depth + 1] = {child_name, index};
      if (scan_child(v, v + len, index) == nullptr) return nullptr;
      ++index;
      p = gap = v + len;
      continue;
    }
    p = ScanField(m, tag, q, end, depth);
    if (p == nullptr) return nullptr;
  }
  key->append(gap, end);
  return end;
}

const char* Scanner::ScanScopeSpans(const char* p, const char* end) {
  group_index_ = -1;
  p = ScanContainer(kScopeSpans, 3, "spans", p, end, &scope_key_,
                    [this](const char* v, const char* v_end, int64_t index) {
                      return ScanSpan(v, v_end, index);
                    });
  // The group exists once one of its spans was valid.
  if (p != nullptr && group_index_ >= 0) out_->groups[group_index_].scope.assign(scope_key_);
  return p;
}

const char* Scanner::ScanResourceSpans(const char* p, const char* end) {
  resource_index_ = -1;
  p = ScanContainer(
      kResourceSpans, 2, "scope_spans", p, end, &resource_key_,
      [this](const char* v, const char* v_end, int64_t) { return ScanScopeSpans(v, v_end); });
  if (p != nullptr && resource_index_ >= 0) out_->resources[resource_index_].assign(resource_key_);
  return p;
}

absl::Status Scanner::Run() {
  constexpr int kDepth = 1;
  if (out_->bytes.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError("request larger than 2 GiB");
  }
  base_ = out_->bytes.data();
  const char* p = base_;
  const char* const end = base_ + out_->bytes.size();
  int64_t index = 0;
  while (p < end) {
    uint32_t tag;
    const char* q = ReadTag(p, end, &tag);
    if (q == nullptr) {
      FailTag(kDepth, p, end);
      break;
    }
    if (tag == (1 << 3 | kLengthDelimited)) {  // resource_spans
      uint32_t len;
      const char* v = ReadLength(q, end, &len);
      if (v == nullptr) {
        Fail(kDepth, 1, LengthProblem(q, end));
        break;
      }
      path_[2] = {"resource_spans", index};
      if (ScanResourceSpans(v, v + len) == nullptr) break;
      ++index;
      p = v + len;
      continue;
    }
    p = SkipField(tag, q, end, kDepth);
    if (p == nullptr) break;
  }
  if (!error_.empty()) {
    out_->resources.clear();
    out_->groups.clear();
    out_->spans.clear();
    out_->spans_over_limits.clear();
    return absl::InvalidArgumentError(error_);
  }
  if (out_->rejected_spans > reported_) {
    absl::StrAppend(&out_->error_message, " (and ", out_->rejected_spans - reported_,
                    " more invalid spans)");
  }
  return absl::OkStatus();
}

}  // namespace

void SetWireSpanFields(std::string_view message, const WireSpanFields& fields, WireSpan* span) {
  span->kind = fields.kind;
  span->status_code = fields.status_code;
  span->span_id = SpanIdBits(fields.span_id);
  span->parent_span_id = SpanIdBits(fields.parent_span_id);
  span->start_ns = fields.start_ns;
  span->end_ns = fields.end_ns;
  span->name_offset =
      fields.name.empty() ? 0 : static_cast<uint32_t>(fields.name.data() - message.data());
  span->name_size = static_cast<uint32_t>(fields.name.size());
}

absl::Status ScanExportRequest(std::string bytes, WireRequest* out) {
  return ScanExportRequest(std::move(bytes), SpanLimits::None(), out);
}

absl::Status ScanExportRequest(std::string bytes, const SpanLimits& limits, WireRequest* out) {
  out->bytes = std::move(bytes);
  out->scanned_size = out->bytes.size();
  out->resources.clear();
  out->groups.clear();
  out->spans.clear();
  out->spans_over_limits.clear();
  out->rejected_spans = 0;
  out->error_message.clear();
  // A typical span takes a few hundred bytes; growing from there is amortized.
  out->spans.reserve(out->bytes.size() / 512 + 1);
  return Scanner(out, limits).Run();
}

}  // namespace tailtrace
