#include "storage/trace_terms_builder.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <optional>

#include "storage/keys.h"

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
using terms_internal::ServiceNameView;
using terms_internal::TableBytes;

}  // namespace

TraceTermsBuilder::TraceTermsBuilder(const TraceId& id, const IndexOptions& options)
    : options_(options) {
  summary_.trace_id = id;
  summary_.start_ns = std::numeric_limits<int64_t>::max();
  bytes_ = ComputeBytes();
}

bool TraceTermsBuilder::Add(const trace_v1::TracesData& chunk, Delta* delta) {
  // Pass 1: every new span ID, refusing repeats, with the service index of its resource (new
  // services get the next indices, and are interned only once the chunk is accepted).
  const int resource_count = chunk.resource_spans_size();
  absl::InlinedVector<uint32_t, 16> rs_service(static_cast<size_t>(resource_count), kNone);
  absl::InlinedVector<std::string_view, 8> new_services;
  size_t span_count = 0;
  bool refused = false;
  std::vector<terms_internal::PendingTag> attributes;
  std::vector<uint32_t> attribute_ends;  // per span, in the order of pass 2
  for (int r = 0; r < resource_count && !refused; ++r) {
    const trace_v1::ResourceSpans& rs = chunk.resource_spans(r);
    for (const auto& ss : rs.scope_spans()) {
      if (ss.spans().empty()) continue;
      uint32_t& service = rs_service[static_cast<size_t>(r)];
      if (service == kNone) {
        const std::string_view name = ServiceNameView(rs);
        if (auto it = service_ids_.find(Absl(name)); it != service_ids_.end()) {
          service = it->second;
        } else {
          auto pos = std::find(new_services.begin(), new_services.end(), name);
          if (pos == new_services.end()) pos = new_services.insert(new_services.end(), name);
          service = static_cast<uint32_t>(services_.size() + (pos - new_services.begin()));
        }
      }
      for (const auto& span : ss.spans()) {
        if (!span_services_.Insert(span.span_id(), service)) {
          refused = true;
          break;
        }
        ++span_count;
        // The attributes of every span are read (their values prefetched) before any is looked
        // up, so that the cache misses of reading them overlap instead of stalling one by one.
        for (const auto& kv : span.attributes()) {
          const common::AnyValue& v = kv.value();
          if (v.has_string_value()) {
            __builtin_prefetch(v.string_value().data());
            attributes.push_back({kv.key(), v.string_value(), nullptr});
          } else {
            attributes.push_back({kv.key(), {}, &v});
          }
        }
        attribute_ends.push_back(static_cast<uint32_t>(attributes.size()));
      }
      if (refused) break;
    }
  }
  if (refused) {
    // Undo the IDs inserted: the first `span_count` spans of the chunk.
    for (const auto& rs : chunk.resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& span : ss.spans()) {
          if (span_count == 0) return false;
          span_services_.Erase(span.span_id());
          --span_count;
        }
      }
    }
    return false;
  }
  if (span_count == 0) return true;

  Changes changes;
  const bool was_empty = empty();
  // On a first write every stream is new: the delta is filled from the state at the end.
  const bool record_all = was_empty && delta->recording == Delta::Recording::kSets;
  changes.recording = record_all ? Delta::Recording::kNone : delta->recording;
  changes.delta = delta;
  if (was_empty) {
    // Typical traces hold a few distinct tags per span: fewer rehashes on the way.
    tag_ids_.reserve(std::min<size_t>(span_count * 8, 1024));
    fine_durations_.reserve(std::min<size_t>(span_count * 3, 512));
    operations_.reserve(std::min<size_t>(span_count, 256));
    changes.Stream(kTimeIndex, 0, 0, [] { return TimeStream(); });
  }
  for (std::string_view name : new_services) {
    const std::string_view stored = arena_.Store(name);
    service_ids_.emplace(Absl(stored), static_cast<uint32_t>(services_.size()));
    services_.push_back(Service{stored, 0, 0});
    changes.Stream(kServiceIndex, static_cast<uint32_t>(services_.size() - 1), 0,
                   [name] { return ServiceStream(name); });
  }

  // Pass 2: summary, terms, and the parent of each new span.
  std::string scratch;
  size_t span_index = 0;
  size_t next_attribute = 0;
  uint32_t service = kNone;
  const size_t max_length = options_.max_value_length;
  const bool excludes = !options_.exclude_keys.empty();
  auto add_tag = [&](std::string_view key, std::string_view value) {
    // IsIndexedTag, with its common case inlined.
    if (key.size() > max_length || value.size() > max_length) return;
    if (excludes && !IsIndexedTag(key, value, options_)) return;
    AddTag(service, key, value, &changes);
  };
  for (int r = 0; r < resource_count; ++r) {
    service = rs_service[static_cast<size_t>(r)];
    if (service == kNone) continue;  // no spans
    const trace_v1::ResourceSpans& rs = chunk.resource_spans(r);
    // Resource and scope tags are the same for every span: added once.
    ForEachResourceTag(rs, &scratch, add_tag);
    for (const auto& ss : rs.scope_spans()) {
      if (ss.spans().empty()) continue;
      ForEachScopeTag(ss, add_tag);
      for (const trace_v1::Span& span : ss.spans()) {
        const int64_t start = SpanStartNs(span);
        const int64_t end = SpanEndNs(span);
        summary_.start_ns = std::min(summary_.start_ns, start);
        end_ns_ = std::max({end_ns_, start, end});
        ++summary_.span_count;
        const bool error = span.status().code() == trace_v1::Status::STATUS_CODE_ERROR;
        Service& svc = services_[service];
        ++svc.span_count;
        if (error) {
          ++summary_.error_count;
          ++svc.error_count;
        }
        const uint32_t operation = InternOperation(service, span.name(), &changes);
        for (const uint32_t last = attribute_ends[span_index++]; next_attribute < last;) {
          const terms_internal::PendingTag& a = attributes[next_attribute++];
          add_tag(a.key, a.other == nullptr ? a.value : IndexValueView(*a.other, &scratch));
        }
        ForEachSyntheticSpanTag(span, add_tag);
        const int64_t duration = end > start ? end - start : 0;
        const int fine = FineDurationClass(duration);
        AddDuration(DurationKey(0, kAnyScope, fine), duration, &changes);
        AddDuration(DurationKey(service, kServiceScope, fine), duration, &changes);
        AddDuration(DurationKey(operation, kOperationScope, fine), duration, &changes);

        const TraceRoots::Span root{start, span.span_id(), service, services_[service].name,
                                    operations_[operation].name};
        const std::string& parent = span.parent_span_id();
        if (parent.empty()) {
          roots_.AddParentless(root);
        } else if (const uint32_t* parent_service = span_services_.Find(parent)) {
          roots_.AddChild(root);
          if (*parent_service != service) AddCall(start, *parent_service, service, &changes);
        } else {
          roots_.AddOrphan(root, parent, &arena_);
        }
      }
    }
  }

  // Pass 3: earlier spans waiting for one of the new spans as their parent.
  if (roots_.HasOrphans()) {
    for (int r = 0; r < resource_count; ++r) {
      const uint32_t parent_service = rs_service[static_cast<size_t>(r)];
      if (parent_service == kNone) continue;
      for (const auto& ss : chunk.resource_spans(r).scope_spans()) {
        for (const trace_v1::Span& span : ss.spans()) {
          roots_.ResolveOrphans(span.span_id(), [&](const TraceRoots::Span& orphan) {
            if (parent_service != orphan.service) {
              AddCall(orphan.start_ns, parent_service, orphan.service, &changes);
            }
          });
        }
      }
    }
  }
  Finish(&changes, record_all, delta);
  return true;
}

uint32_t TraceTermsBuilder::InternOperation(uint32_t service, std::string_view name,
                                            Changes* changes) {
  bool inserted = false;
  auto it =
      operation_ids_.lazy_emplace(OperationKey{service, Absl(name)}, [&](const auto& construct) {
        const std::string_view stored = arena_.Store(name);
        construct(OperationKey{service, Absl(stored)}, static_cast<uint32_t>(operations_.size()));
        operations_.push_back(Operation{service, stored});
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

void TraceTermsBuilder::AddDuration(uint64_t key, int64_t duration, Changes* changes) {
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

void TraceTermsBuilder::AddCall(int64_t start, uint32_t parent, uint32_t child, Changes* changes) {
  const CallKey key{DependencySlot(start), parent, child};
  ++call_counts_[key];
  ++changes->calls[key];
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
  return 1 + services_.size() + operations_.size() + tags_.size() + service_tag_count_ +
         coarse_durations_.size() + fine_durations_.size();
}

void TraceTermsBuilder::ForEachStream(
    absl::FunctionRef<void(std::string_view stream, std::string_view value)> fn) const {
  if (empty()) return;
  // Streams are ordered by their length-prefixed fields, compared here through ranks.
  std::vector<uint32_t> service_order;
  std::vector<uint32_t> service_rank;
  terms_internal::Rank(
      services_.size(),
      [this](uint32_t a, uint32_t b) {
        return CompareLengthPrefixed(services_[a].name, services_[b].name) < 0;
      },
      &service_order, &service_rank);
  std::vector<uint32_t> key_order;
  std::vector<uint32_t> key_rank;
  terms_internal::Rank(
      keys_.size(),
      [this](uint32_t a, uint32_t b) { return CompareLengthPrefixed(keys_[a], keys_[b]) < 0; },
      &key_order, &key_rank);
  // Tags by key rank, then by value.
  std::vector<uint32_t> tag_order;
  std::vector<uint32_t> tag_rank;
  terms_internal::RankGrouped(
      tags_.size(), keys_.size(), [&](uint32_t t) { return key_rank[tags_[t].key_id]; },
      [this](uint32_t a, uint32_t b) {
        return CompareLengthPrefixed(tags_[a].value, tags_[b].value) < 0;
      },
      &tag_order, &tag_rank);
  std::vector<uint32_t> operation_order;
  std::vector<uint32_t> operation_rank;
  terms_internal::Rank(
      operations_.size(),
      [&](uint32_t a, uint32_t b) {
        const Operation& x = operations_[a];
        const Operation& y = operations_[b];
        if (x.service != y.service) return service_rank[x.service] < service_rank[y.service];
        return CompareLengthPrefixed(x.name, y.name) < 0;
      },
      &operation_order, &operation_rank);

  std::string stream;
  stream.reserve(128);
  auto head = [](char type) { return IndexHead{{kIndexTag, type}}; };
  // 'A' < 'a' < 'd' < 'e' < 'o' < 's' < 't'.
  // Consecutive streams share a prefix (the key here, the service below): encoded once.
  uint32_t key_id = kNone;
  size_t prefix = 0;
  for (uint32_t t : tag_order) {
    if (tags_[t].key_id != key_id) {
      key_id = tags_[t].key_id;
      EncodeStream(&stream, 0, head(kTagIndex), {tags_[t].key});
      prefix = stream.size();
    }
    EncodeStream(&stream, prefix, {}, {tags_[t].value});
    fn(stream, {});
  }
  // 'a': by service, then tag. Services < 64 from their bits (bucketed by service rank, in tag
  // order), wider ones from a sorted list.
  std::vector<uint32_t> first(service_order.size() + 1, 0);
  for (const Tag& tag : tags_) {
    for (uint64_t m = tag.services; m != 0; m &= m - 1)
      ++first[service_rank[std::countr_zero(m)] + 1];
  }
  for (size_t r = 1; r < first.size(); ++r) first[r] += first[r - 1];
  std::vector<uint32_t> by_service(first.back());
  std::vector<uint32_t> next(first.begin(), first.end() - 1);
  for (uint32_t t : tag_order) {
    for (uint64_t m = tags_[t].services; m != 0; m &= m - 1) {
      by_service[next[service_rank[std::countr_zero(m)]]++] = t;
    }
  }
  std::vector<uint64_t> wide;
  wide.reserve(wide_service_tags_.size());
  for (uint64_t k : wide_service_tags_) {
    wide.push_back((uint64_t{service_rank[k >> 32]} << 32) | tag_rank[k & 0xffffffff]);
  }
  std::sort(wide.begin(), wide.end());
  size_t next_wide = 0;
  for (uint32_t r = 0; r < service_order.size(); ++r) {
    EncodeStream(&stream, 0, head(kServiceTagIndex), {services_[service_order[r]].name});
    prefix = stream.size();
    auto put = [&](const Tag& tag) {
      EncodeStream(&stream, prefix, {}, {tag.key, tag.value});
      fn(stream, {});
    };
    for (uint32_t i = first[r]; i < first[r + 1]; ++i) put(tags_[by_service[i]]);
    for (; next_wide < wide.size() && (wide[next_wide] >> 32) == r; ++next_wide) {
      put(tags_[tag_order[wide[next_wide] & 0xffffffff]]);
    }
  }

  struct DurationEntry {
    uint64_t order;
    uint64_t key;
    const terms_internal::DurationSet* durations;  // fine terms only
  };
  auto entry = [&](uint64_t key, const terms_internal::DurationSet* durations) {
    const int scope = static_cast<int>((key >> 8) & 0xff);
    const uint32_t id = static_cast<uint32_t>(key >> 24);
    const uint64_t rank = scope == kServiceScope     ? service_rank[id]
                          : scope == kOperationScope ? operation_rank[id]
                                                     : 0;
    return DurationEntry{(kScopeOrder[scope] << 56) | (rank << 8) | (key & 0xff), key, durations};
  };

  auto by_order = [](const DurationEntry& a, const DurationEntry& b) { return a.order < b.order; };
  std::vector<DurationEntry> durations;
  durations.reserve(std::max(coarse_durations_.size(), fine_durations_.size()));
  for (uint64_t key : coarse_durations_) durations.push_back(entry(key, nullptr));
  std::sort(durations.begin(), durations.end(), by_order);
  for (const DurationEntry& e : durations) {
    EncodeDurationStream(kDurationIndex, e.key, &stream);
    fn(stream, {});
  }
  durations.clear();
  for (const auto& [key, set] : fine_durations_) durations.push_back(entry(key, &set));
  std::sort(durations.begin(), durations.end(), by_order);
  std::string value;
  for (const DurationEntry& e : durations) {
    EncodeDurationStream(kFineDurationIndex, e.key, &stream);
    value.clear();
    terms_internal::AppendDurations(*e.durations, &value);
    fn(stream, value);
  }

  for (uint32_t o : operation_order) {
    EncodeStream(&stream, 0, head(kOperationIndex),
                 {services_[operations_[o].service].name, operations_[o].name});
    fn(stream, {});
  }
  for (uint32_t s : service_order) {
    EncodeStream(&stream, 0, head(kServiceIndex), {services_[s].name});
    fn(stream, {});
  }
  EncodeStream(&stream, 0, head(kTimeIndex), {});
  fn(stream, {});
}

void TraceTermsBuilder::ForEachChangedStream(
    const Delta& delta,
    absl::FunctionRef<void(std::string_view stream, std::string_view value)> fn) const {
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

const std::map<DependencyKey, int64_t>& TraceTermsBuilder::calls() const {
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
