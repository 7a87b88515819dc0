#include "storage/index/trace_terms_builder.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <optional>

#include "storage/index/keys.h"
#include "trace_terms_visit.h"

namespace tailtrace::storage {
namespace {

namespace common = opentelemetry::proto::common::v1;
namespace trace_v1 = opentelemetry::proto::trace::v1;

using terms_internal::Absl;
using terms_internal::CompareLengthPrefixed;
using terms_internal::EncodeStream;
using terms_internal::IndexHead;
using terms_internal::kAnyScope;
using terms_internal::kOperationScope;
using terms_internal::kScopeOrder;
using terms_internal::kScopes;
using terms_internal::kServiceScope;
using terms_internal::TableBytes;
using WireSpan = WireTraces::Span;

}  // namespace

// The state one Add call hands from pass to pass.
struct TraceTermsBuilder::ChunkPass {
  explicit ChunkPass(const WireTraces& c) : chunk(c), rs_service(c.resources.size(), kNone) {}

  const WireTraces& chunk;
  // The service index of each resource (kNone: no spans). New services get the next indices and
  // are interned (from new_services) only once the chunk is accepted.
  absl::InlinedVector<uint32_t, 16> rs_service;
  absl::InlinedVector<std::string_view, 8> new_services;
  size_t span_count = 0;
  Changes changes;
  // On a first write every stream is new: the delta is filled from the state at the end.
  bool record_all = false;
};

TraceTermsBuilder::TraceTermsBuilder(const TraceId& id, const IndexOptions& options)
    : options_(options) {
  summary_.trace_id = id;
  summary_.start_ns = std::numeric_limits<int64_t>::max();
  bytes_ = ComputeBytes();
}

bool TraceTermsBuilder::Add(const trace_v1::TracesData& chunk, Delta* delta) {
  const std::string bytes = chunk.SerializeAsString();
  WireTraces wire;
  if (!DecodeWireTraces(bytes, &wire)) return false;  // protobuf's own bytes always decode
  return Add(wire, delta);
}

bool TraceTermsBuilder::Add(const WireTraces& chunk, Delta* delta) {
  ChunkPass pass(chunk);
  // Pass 1: every new span ID, refusing repeats, with the service index of its resource.
  if (!ClaimSpans(pass)) return false;
  if (pass.span_count == 0) return true;
  BeginChanges(pass, delta);
  // Pass 2: summary, terms, and the parent of each new span.
  AddSpans(pass);
  // A trace written only by unrecorded writes keeps its unfolded durations bounded.
  if (unfolded_durations_.size() > kMaxUnfoldedDurations) FoldDurations();
  // Pass 3: earlier spans waiting for one of the new spans as their parent.
  if (roots_.HasOrphans()) ResolveOrphans(pass);
  Finish(&pass.changes, pass.record_all, delta);
  return true;
}

bool TraceTermsBuilder::ClaimSpans(ChunkPass& pass) {
  const WireTraces& chunk = pass.chunk;
  for (size_t r = 0; r < chunk.resources.size(); ++r) {
    const WireTraces::Resource& rs = chunk.resources[r];
    for (uint32_t sc = rs.scopes.begin; sc < rs.scopes.end; ++sc) {
      const WireRange spans = chunk.scopes[sc].spans;
      if (spans.size() == 0) continue;
      uint32_t& service = pass.rs_service[r];
      if (service == kNone) service = ServiceIndexOf(chunk.ServiceName(rs), pass);
      for (uint32_t i = spans.begin; i < spans.end; ++i) {
        const WireSpan& span = chunk.spans[i];
        const bool fails = CallFailureOf(span.kind, span.status_code).as_parent;
        if (!span_services_.Insert(span.span_id, SpanParent{service, fails})) {
          UnclaimSpans(chunk, pass.span_count);
          return false;
        }
        ++pass.span_count;
      }
    }
  }
  return true;
}

uint32_t TraceTermsBuilder::ServiceIndexOf(std::string_view name, ChunkPass& pass) const {
  if (auto it = service_ids_.find(Absl(name)); it != service_ids_.end()) return it->second;
  auto pos = std::find(pass.new_services.begin(), pass.new_services.end(), name);
  if (pos == pass.new_services.end()) pos = pass.new_services.insert(pass.new_services.end(), name);
  return static_cast<uint32_t>(services_.size() + (pos - pass.new_services.begin()));
}

void TraceTermsBuilder::UnclaimSpans(const WireTraces& chunk, size_t count) {
  // The spans array is in the order ClaimSpans walks it: resource, scope, span.
  for (size_t i = 0; i < count; ++i) span_services_.Erase(chunk.spans[i].span_id);
}

void TraceTermsBuilder::BeginChanges(ChunkPass& pass, Delta* delta) {
  Changes& changes = pass.changes;
  const bool was_empty = empty();
  pass.record_all = was_empty && delta->recording == Delta::Recording::kSets;
  changes.recording = pass.record_all ? Delta::Recording::kNone : delta->recording;
  changes.delta = delta;
  // Recorded duration changes are relative to every earlier span.
  if (changes.recording != Delta::Recording::kNone) FoldDurations();
  if (was_empty) {
    // Typical traces hold a few distinct tags per span: fewer rehashes on the way.
    tag_ids_.reserve(std::min<size_t>(pass.span_count * 8, 1024));
    fine_durations_.reserve(std::min<size_t>(pass.span_count * 3, 512));
    operations_.reserve(std::min<size_t>(pass.span_count, 256));
    changes.Stream(kTimeIndex, 0, 0, [] { return TimeStream(); });
  }
  for (std::string_view name : pass.new_services) {
    const std::string_view stored = arena_.Store(name);
    service_ids_.emplace(Absl(stored), static_cast<uint32_t>(services_.size()));
    services_.push_back(Service{stored, 0, 0, {}});
    changes.Stream(kServiceIndex, static_cast<uint32_t>(services_.size() - 1), 0,
                   [name] { return ServiceStream(name); });
  }
}

void TraceTermsBuilder::AddSpans(ChunkPass& pass) {
  const WireTraces& chunk = pass.chunk;
  Changes& changes = pass.changes;
  std::string scratch;
  uint32_t service = kNone;
  const size_t max_length = options_.max_value_length;
  const bool excludes = !options_.exclude_keys.empty();
  auto add_tag = [&](std::string_view key, std::string_view value) {
    // IsIndexedTag, with its common case inlined.
    if (key.size() > max_length || value.size() > max_length) return;
    if (excludes && !IsIndexedTag(key, value, options_)) return;
    AddTag(service, key, value, &changes);
  };
  for (size_t r = 0; r < chunk.resources.size(); ++r) {
    service = pass.rs_service[r];
    if (service == kNone) continue;  // no spans
    const WireTraces::Resource& rs = chunk.resources[r];
    // Resource and scope tags are the same for every span: added once.
    ForEachResourceTag(chunk, rs, &scratch, add_tag);
    for (uint32_t sc = rs.scopes.begin; sc < rs.scopes.end; ++sc) {
      const WireTraces::Scope& scope = chunk.scopes[sc];
      if (scope.spans.size() == 0) continue;
      if (scope.has_scope) ForEachScopeTag(scope.name, scope.version, add_tag);
      for (uint32_t i = scope.spans.begin; i < scope.spans.end; ++i) {
        const WireSpan& span = chunk.spans[i];
        const SpanTimes times = CountSpan(span, service);
        const uint32_t operation = InternOperation(service, span.name, &changes);
        ForEachSpanAttributeTag(chunk, span, &scratch, add_tag);
        ForEachDerivedSpanTag(span.kind, span.status_code, span.status_message, span.trace_state,
                              add_tag);
        ForEachEventTag(chunk, span, &scratch, add_tag);
        AddSpanDurations(times, service, operation, &changes);
        AddSpanParent(span, times.start, service, operation, &changes);
      }
    }
  }
}

TraceTermsBuilder::SpanTimes TraceTermsBuilder::CountSpan(const WireSpan& span, uint32_t service) {
  const SpanTimes times{ClampSpanTime(span.start_ns), ClampSpanTime(span.end_ns)};
  summary_.start_ns = std::min(summary_.start_ns, times.start);
  end_ns_ = std::max({end_ns_, times.start, times.end});
  ++summary_.span_count;
  Service& svc = services_[service];
  ++svc.span_count;
  if (span.status_code == trace_v1::Status::STATUS_CODE_ERROR) {
    ++summary_.error_count;
    ++svc.error_count;
  }
  return times;
}

void TraceTermsBuilder::AddSpanDurations(const SpanTimes& times, uint32_t service,
                                         uint32_t operation, Changes* changes) {
  const int64_t duration = times.end > times.start ? times.end - times.start : 0;
  durations_.Add(duration);
  services_[service].durations.Add(duration);
  operations_[operation].durations.Add(duration);
  const int fine = FineDurationClass(duration);
  const uint64_t keys[3] = {DurationKey(0, kAnyScope, fine),
                            DurationKey(service, kServiceScope, fine),
                            DurationKey(operation, kOperationScope, fine)};
  for (const uint64_t key : keys) {
    if (changes->recording == Delta::Recording::kNone) {
      unfolded_durations_.emplace_back(key, duration);
    } else {
      AddDuration(key, duration, changes);
    }
  }
}

void TraceTermsBuilder::AddSpanParent(const WireSpan& span, int64_t start, uint32_t service,
                                      uint32_t operation, Changes* changes) {
  const bool fails_call = CallFailureOf(span.kind, span.status_code).as_child;
  const TraceRoots::Span root{
      start,     span.span_id, service, services_[service].name, operations_[operation].name,
      fails_call};
  const std::string_view parent = span.parent_span_id;
  if (parent.empty()) {
    roots_.AddParentless(root);
  } else if (const SpanParent* p = span_services_.Find(parent)) {
    roots_.AddChild(root);
    if (p->service != service) {
      AddCall(start, p->service, service, CallFailed(p->fails_calls, fails_call), changes);
    }
  } else {
    roots_.AddOrphan(root, parent, &arena_);
  }
}

void TraceTermsBuilder::ResolveOrphans(ChunkPass& pass) {
  const WireTraces& chunk = pass.chunk;
  for (size_t r = 0; r < chunk.resources.size(); ++r) {
    const uint32_t parent_service = pass.rs_service[r];
    if (parent_service == kNone) continue;
    const WireTraces::Resource& rs = chunk.resources[r];
    for (uint32_t sc = rs.scopes.begin; sc < rs.scopes.end; ++sc) {
      const WireRange spans = chunk.scopes[sc].spans;
      for (uint32_t i = spans.begin; i < spans.end; ++i) {
        const WireSpan& span = chunk.spans[i];
        const bool parent_fails = CallFailureOf(span.kind, span.status_code).as_parent;
        roots_.ResolveOrphans(span.span_id, [&](const TraceRoots::Span& orphan) {
          if (parent_service != orphan.service) {
            AddCall(orphan.start_ns, parent_service, orphan.service,
                    CallFailed(parent_fails, orphan.fails_call), &pass.changes);
          }
        });
      }
    }
  }
}

uint32_t TraceTermsBuilder::InternOperation(uint32_t service, std::string_view name,
                                            Changes* changes) {
  bool inserted = false;
  auto it =
      operation_ids_.lazy_emplace(OperationKey{service, Absl(name)}, [&](const auto& construct) {
        const std::string_view stored = arena_.Store(name);
        construct(OperationKey{service, Absl(stored)}, static_cast<uint32_t>(operations_.size()));
        operations_.push_back(Operation{service, stored, {}});
        inserted = true;
      });
  if (inserted) {
    changes->Stream(kOperationIndex, it->second, 0,
                    [&] { return OperationStream(services_[service].name, name); });
  }
  return it->second;
}

void TraceTermsBuilder::AddTag(uint32_t service, std::string_view key, std::string_view value,
                               Changes* changes) {
  bool inserted = false;
  auto it = tag_ids_.lazy_emplace(TagKey{Absl(key), Absl(value)}, [&](const auto& construct) {
    Tag tag;
    auto key_it = key_ids_.find(Absl(key));
    if (key_it == key_ids_.end()) {
      const std::string_view stored = arena_.Store(key);
      key_it = key_ids_.emplace(Absl(stored), static_cast<uint32_t>(keys_.size())).first;
      keys_.push_back(stored);
    }
    tag.key_id = key_it->second;
    tag.key = keys_[tag.key_id];
    tag.value = arena_.Store(value);
    construct(TagKey{Absl(tag.key), Absl(tag.value)}, static_cast<uint32_t>(tags_.size()));
    tags_.push_back(tag);
    inserted = true;
  });
  if (inserted) changes->Stream(kTagIndex, it->second, 0, [&] { return TagStream(key, value); });
  bool new_service_tag;
  if (service < 64) {
    uint64_t& services = tags_[it->second].services;
    new_service_tag = (services & (uint64_t{1} << service)) == 0;
    services |= uint64_t{1} << service;
  } else {
    new_service_tag = wide_service_tags_.insert((uint64_t{service} << 32) | it->second).second;
  }
  if (!new_service_tag) return;
  ++service_tag_count_;
  changes->Stream(kServiceTagIndex, service, it->second,
                  [&] { return ServiceTagStream(services_[service].name, key, value); });
}

void TraceTermsBuilder::FoldDurations() const {
  if (unfolded_durations_.empty()) return;
  Changes none;
  none.recording = Changes::Recording::kNone;
  for (const auto& [key, duration] : unfolded_durations_) AddDuration(key, duration, &none);
  unfolded_durations_.clear();
  unfolded_durations_.shrink_to_fit();
  bytes_ = ComputeBytes();
}

void TraceTermsBuilder::AddDuration(uint64_t key, int64_t duration, Changes* changes) const {
  auto [it, inserted] = fine_durations_.try_emplace(key);
  if (inserted) {
    // A coarse class is a range of whole fine classes (trace_analysis.h), so a coarse term can
    // only be new along with a fine one.
    const uint64_t coarse =
        (key & ~uint64_t{0xff}) | static_cast<uint64_t>(DurationClass(duration));
    if (coarse_durations_.insert(coarse).second) {
      changes->Stream(kDurationIndex, 0, coarse, [&] {
        DurationTerm term = TermOf(coarse);
        term.fine = false;
        return DurationStream(term);
      });
    }
  }
  const size_t before = it->second.bytes();
  if (it->second.Insert(duration)) {
    duration_bytes_ += it->second.bytes() - before;
    if (changes->recording == Changes::Recording::kSets) changes->durations.push_back(key);
    if (changes->recording == Changes::Recording::kCompact) {
      changes->delta->changed.push_back({kFineDurationIndex, 0, key});
    }
  }
}

void TraceTermsBuilder::AddCall(int64_t start, uint32_t parent, uint32_t child, bool failed,
                                Changes* changes) {
  const CallKey key{DependencySlot(start), parent, child};
  call_counts_[key] += OneCall(failed);
  changes->calls[key] += OneCall(failed);
}

void TraceTermsBuilder::Finish(Changes* changes, bool record_all, Delta* delta) {
  summary_.orphan_span_count = roots_.orphan_count();
  summary_.duration_ns = end_ns_ - summary_.start_ns;
  std::vector<uint32_t> order;
  std::vector<uint32_t> rank;
  terms_internal::Rank(
      services_.size(),
      [this](uint32_t a, uint32_t b) { return services_[a].name < services_[b].name; }, &order,
      &rank);
  summary_.services.clear();
  for (uint32_t i : order) {
    const Service& s = services_[i];
    summary_.services.push_back({std::string(s.name), s.span_count, s.error_count});
  }
  if (const TraceRoots::Span* root = roots_.Root()) {
    summary_.root_service.assign(root->service_name);
    summary_.root_operation.assign(root->operation_name);
  }

  for (const auto& [key, count] : changes->calls) {
    delta->calls[DependencyKey{key.slot, std::string(services_[key.parent].name),
                               std::string(services_[key.child].name)}] += count;
  }
  if (!changes->calls.empty()) calls_stale_ = true;
  terms_internal::SortUnique(&changes->durations);
  for (uint64_t key : changes->durations) delta->durations.insert(TermOf(key));
  if (record_all) {
    FoldDurations();
    ForEachStream([delta](std::string_view stream, std::string_view value) {
      if (stream[1] != kFineDurationIndex)
        delta->streams.emplace_hint(delta->streams.end(), stream);
    });
    for (const auto& [key, durations] : fine_durations_) delta->durations.insert(TermOf(key));
  }
  bytes_ = ComputeBytes();
}

DurationTerm TraceTermsBuilder::TermOf(uint64_t key) const {
  DurationTerm term;
  const int scope = static_cast<int>((key >> 8) & 0xff);
  const uint32_t id = static_cast<uint32_t>(key >> 24);
  term.scope = kScopes[scope];
  term.duration_class = static_cast<int>(key & 0xff);
  term.fine = true;
  if (scope == kServiceScope) term.service.assign(services_[id].name);
  if (scope == kOperationScope) {
    term.service.assign(services_[operations_[id].service].name);
    term.operation.assign(operations_[id].name);
  }
  return term;
}

void TraceTermsBuilder::EncodeDurationStream(char type, uint64_t key, std::string* out) const {
  const int scope = static_cast<int>((key >> 8) & 0xff);
  const uint32_t id = static_cast<uint32_t>(key >> 24);
  const char first[3] = {kIndexTag, type, static_cast<char>(kScopes[scope])};
  const char duration_class = static_cast<char>(key & 0xff);
  const std::string_view head(first, 3);
  const std::string_view tail(&duration_class, 1);
  if (scope == kAnyScope) {
    EncodeStream(out, 0, head, {}, tail);
  } else if (scope == kServiceScope) {
    EncodeStream(out, 0, head, {services_[id].name}, tail);
  } else {
    EncodeStream(out, 0, head, {services_[operations_[id].service].name, operations_[id].name},
                 tail);
  }
}

size_t TraceTermsBuilder::ComputeBytes() const {
  size_t b = sizeof(*this) + arena_.bytes() + duration_bytes_;
  b += unfolded_durations_.capacity() * sizeof(unfolded_durations_[0]);
  b += services_.capacity() * sizeof(Service) + TableBytes(service_ids_);
  b += operations_.capacity() * sizeof(Operation) + TableBytes(operation_ids_);
  b += keys_.capacity() * sizeof(std::string_view) + TableBytes(key_ids_);
  b += tags_.capacity() * sizeof(Tag) + TableBytes(tag_ids_) + TableBytes(wide_service_tags_);
  b += TableBytes(fine_durations_) + TableBytes(coarse_durations_);
  b += span_services_.bytes() + roots_.bytes() + TableBytes(call_counts_);
  for (const ServiceSummary& s : summary_.services) {
    b += sizeof(ServiceSummary) + (s.name.capacity() > 15 ? s.name.capacity() : 0);
  }
  return b;
}

// ---- Reading the streams ----

size_t TraceTermsBuilder::stream_count() const {
  if (empty()) return 0;
  FoldDurations();
  return 1 + services_.size() + operations_.size() + tags_.size() + service_tag_count_ +
         coarse_durations_.size() + fine_durations_.size();
}

void TraceTermsBuilder::ForEachStream(
    absl::FunctionRef<void(std::string_view stream, std::string_view value)> fn) const {
  FoldDurations();
  VisitStreams(fn);
}

SegmentEntry::Range TraceTermsBuilder::StoredRange(const DurationRange& d) {
  const bool known = d.min <= d.max;
  return DurationRangeBytes(known ? d.min : 0, known ? d.max : std::numeric_limits<int64_t>::max());
}

void TraceTermsBuilder::GetSegmentEntry(SegmentEntry* out) const {
  out->Clear();
  if (empty()) return;
  out->Reserve(arena_.bytes());
  out->SetTime(StoredRange(durations_));
  for (const Service& s : services_) out->AddService(s.name, StoredRange(s.durations));
  for (const Operation& op : operations_) {
    out->AddOperation(op.service, op.name, StoredRange(op.durations));
  }
  for (uint32_t t = 0; t < tags_.size(); ++t) {
    out->AddTag(tags_[t].key, tags_[t].value);
    for (uint64_t m = tags_[t].services; m != 0; m &= m - 1) {
      out->AddServiceTag(static_cast<uint32_t>(std::countr_zero(m)), t);
    }
  }
  for (uint64_t k : wide_service_tags_) {
    out->AddServiceTag(static_cast<uint32_t>(k >> 32), static_cast<uint32_t>(k & 0xffffffff));
  }
}

void TraceTermsBuilder::ForEachChangedStream(
    const Delta& delta,
    absl::FunctionRef<void(std::string_view stream, std::string_view value)> fn) const {
  FoldDurations();
  std::string stream;
  std::string value;
  std::vector<uint64_t> fine;  // a fine term may change more than once: visited once
  for (const Delta::Changed& c : delta.changed) {
    const IndexHead head{{kIndexTag, c.type}};
    if (c.type == kTimeIndex) {
      EncodeStream(&stream, 0, head, {});
    } else if (c.type == kServiceIndex) {
      EncodeStream(&stream, 0, head, {services_[c.id].name});
    } else if (c.type == kOperationIndex) {
      const Operation& o = operations_[c.id];
      EncodeStream(&stream, 0, head, {services_[o.service].name, o.name});
    } else if (c.type == kTagIndex) {
      EncodeStream(&stream, 0, head, {tags_[c.id].key, tags_[c.id].value});
    } else if (c.type == kServiceTagIndex) {
      const Tag& tag = tags_[c.key];
      EncodeStream(&stream, 0, head, {services_[c.id].name, tag.key, tag.value});
    } else if (c.type == kDurationIndex) {
      EncodeDurationStream(kDurationIndex, c.key, &stream);
    } else {
      fine.push_back(c.key);
      continue;
    }
    fn(stream, {});
  }
  terms_internal::SortUnique(&fine);
  for (uint64_t key : fine) {
    EncodeDurationStream(kFineDurationIndex, key, &stream);
    value.clear();
    terms_internal::AppendDurations(fine_durations_.find(key)->second, &value);
    fn(stream, value);
  }
}

void TraceTermsBuilder::AppendStreams(std::vector<std::pair<std::string, std::string>>* out) const {
  out->reserve(out->size() + stream_count());
  ForEachStream([out](std::string_view stream, std::string_view value) {
    out->emplace_back(std::string(stream), std::string(value));
  });
}

std::map<std::string, std::string> TraceTermsBuilder::Streams() const {
  std::map<std::string, std::string> out;
  ForEachStream([&out](std::string_view stream, std::string_view value) {
    out.emplace_hint(out.end(), std::string(stream), std::string(value));
  });
  return out;
}

std::string TraceTermsBuilder::DurationValue(const DurationTerm& term) const {
  FoldDurations();
  // The key of the term, when the builder knows its service and operation.
  std::optional<uint64_t> key;
  auto service = service_ids_.find(Absl(term.service));
  const bool known = service != service_ids_.end();
  const int c = term.duration_class;
  const bool valid = term.fine && c >= 0 && c <= 0xff;
  if (valid && term.scope == DurationScope::kAny && term.service.empty() &&
      term.operation.empty()) {
    key = DurationKey(0, kAnyScope, c);
  } else if (valid && term.scope == DurationScope::kService && known && term.operation.empty()) {
    key = DurationKey(service->second, kServiceScope, c);
  } else if (valid && term.scope == DurationScope::kOperation && known) {
    auto op = operation_ids_.find(OperationKey{service->second, Absl(term.operation)});
    if (op != operation_ids_.end()) key = DurationKey(op->second, kOperationScope, c);
  }
  auto it = key ? fine_durations_.find(*key) : fine_durations_.end();
  if (it == fine_durations_.end()) return EncodeDurations({});
  std::string out;
  terms_internal::AppendDurations(it->second, &out);
  return out;
}

const DependencyCounts& TraceTermsBuilder::calls() const {
  if (calls_stale_) {
    calls_.clear();
    for (const auto& [key, count] : call_counts_) {
      calls_.emplace(DependencyKey{key.slot, std::string(services_[key.parent].name),
                                   std::string(services_[key.child].name)},
                     count);
    }
    calls_stale_ = false;
  }
  return calls_;
}

}  // namespace tailtrace::storage
