// RocksTraceStore::FindTraces and GetDependencies.
//
// Search: every condition of a query is an index stream (keys.h), whose postings are stored per
// index segment, segments sorted by (slot, segment ID); a tag on the spans of a service is the
// tag's stream, keeping the entries whose service mask has the service (ServiceTagCondition). The
// conditions' streams are read backwards (newest slot first) and intersected by leapfrogging over
// segments: the smallest current segment is the candidate, every stream seeks to the last segment
// at or before it, and when all land on it their ordinal lists are intersected (one ordinal space
// per segment). A duration condition filters the postings of the time, service or operation stream
// by the duration range each carries (buckets of its shortest and longest span, keys.h); a trace
// those buckets cannot decide is checked against its spans (read once it is a result candidate).
// The matching ordinals are mapped to trace positions through the segment's trace table; once a
// slot is complete, its matches are ordered newest first and checked against the trace summaries
// (an entry whose start is no longer the trace's start is skipped), and the search stops at
// `limit`. Unsealed segments are read from memory (IndexSegments::Snapshot) instead of from
// RocksDB. Buckets are searched newest first; an older bucket is skipped once `limit` matches newer
// than anything it holds were found.

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "rocks_bucket.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"
#include "search_conditions.h"
#include "storage/index/index_segments.h"
#include "storage/index/keys.h"
#include "storage/index/trace_analysis.h"
#include "storage/rocks/rocks_trace_store.h"

namespace tailtrace::storage {
namespace {

using search_internal::Condition;
using search_internal::DurationFilter;
using search_internal::PostingStream;
using search_internal::SearchContext;
using search_internal::ServiceTagCondition;

constexpr SegmentRef kTopSegment{std::numeric_limits<int64_t>::max(),
                                 std::numeric_limits<uint64_t>::max()};

// Whether a span of the query's scope (service, and name) lasts between the duration bounds.
bool HasScopeSpanInRange(const StoredTrace& trace, const TraceQuery& query,
                         const DurationFilter& filter) {
  for (const auto& rs : trace.data.resource_spans()) {
    if (!query.service.empty() && ServiceNameOf(rs) != query.service) continue;
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) {
        if (!query.operation.empty() && span.name() != query.operation) continue;
        const int64_t d = SpanDurationNs(span);
        if (d >= filter.min_ns && d <= filter.max_ns) return true;
      }
    }
  }
  return false;
}

// Intersects ascending `other` into ascending `*acc`.
void IntersectInto(std::vector<uint32_t>* acc, const std::vector<uint32_t>& other) {
  size_t w = 0;
  size_t j = 0;
  for (size_t i = 0; i < acc->size(); ++i) {
    while (j < other.size() && other[j] < (*acc)[i]) ++j;
    if (j < other.size() && other[j] == (*acc)[i]) (*acc)[w++] = (*acc)[i];
  }
  acc->resize(w);
}

bool NewerFirst(const TraceSummary& a, const TraceSummary& b) {
  if (a.start_ns != b.start_ns) return a.start_ns > b.start_ns;
  return a.trace_id > b.trace_id;
}

// The conditions of a query. Conditions that another condition implies are left out (a tag on
// the spans of the service implies the service); a duration condition filters the stream of its
// scope (the operation, the service, or the time stream for every span), the first condition.
struct SearchPlan {
  std::string scope;  // the scope's stream, or "" when the tags alone decide
  std::optional<DurationFilter> filter;
  std::vector<std::pair<std::string, std::string>> tags;  // indexed tags: key, value
  // What the unsealed segments are asked for.
  std::vector<std::string> streams;
  std::vector<std::string> services;
};

SearchPlan PlanSearch(const TraceQuery& query) {
  SearchPlan plan;
  const bool has_duration = query.duration_min_ns || query.duration_max_ns;
  if (has_duration) {
    plan.filter =
        DurationFilter{query.duration_min_ns.value_or(0),
                       query.duration_max_ns.value_or(std::numeric_limits<int64_t>::max())};
  }
  // The sampling tags are not indexed: FinishSlot compares them with the summaries.
  for (const auto& [key, value] : query.attributes) {
    if (!IsSamplingTag(key)) plan.tags.emplace_back(key, value);
  }
  if (!query.operation.empty()) {
    plan.scope = OperationStream(query.service, query.operation);
  } else if (!query.service.empty() && (has_duration || plan.tags.empty())) {
    plan.scope = ServiceStream(query.service);
  } else if (has_duration || plan.tags.empty()) {
    plan.scope = TimeStream();
  }
  if (!plan.scope.empty()) plan.streams.push_back(plan.scope);
  for (const auto& [key, value] : plan.tags) plan.streams.push_back(TagStream(key, value));
  if (!query.service.empty() && !plan.tags.empty()) plan.services.push_back(query.service);
  return plan;
}

}  // namespace

// One SearchBucket call: the streams of the query's conditions opened on a snapshot of the
// bucket, walked newest segment first, aligned on a common segment (Align), their ordinals
// intersected (MatchOrdinals) and mapped to trace positions in the time window
// (CollectCandidates); each slot's candidates are confirmed by their summaries (FinishSlot).
class RocksTraceStore::BucketSearch {
 public:
  // Requires min_start <= max_start.
  BucketSearch(RocksTraceStore& store, const RocksBucket& bucket, const TraceQuery& query,
               int64_t min_start, int64_t max_start);
  ~BucketSearch();
  BucketSearch(const BucketSearch&) = delete;
  BucketSearch& operator=(const BucketSearch&) = delete;

  // The summaries of the matches, newest first, at most query.limit.
  absl::StatusOr<std::vector<TraceSummary>> Run();

 private:
  // A match of the current slot, confirmed once the slot is complete.
  struct Candidate {
    IndexPos pos;
    bool check_spans = false;  // the duration condition needs the trace's spans
  };
  enum class Step { kAligned, kMoved, kExhausted };

  // Moves the streams towards a segment all of them hold: kAligned when they are all on
  // `*segment`, kMoved when they moved (call again), kExhausted when one has no segment left.
  Step Align(SegmentRef* segment);
  // The ordinals of the current segment that every stream matches, into matched_.
  absl::Status MatchOrdinals();
  // The matched traces of `segment` that start in the window, into slot_matches_.
  absl::Status CollectCandidates(const SegmentRef& segment);
  // Orders the matches of one slot newest first and keeps those whose summary confirms them.
  absl::Status FinishSlot();
  absl::Status Malformed() const {
    return absl::DataLossError(absl::StrCat("a malformed index segment in ", where_));
  }

  RocksTraceStore& store_;
  const TraceQuery& query_;
  const int64_t min_start_;
  const int64_t max_start_;
  const size_t limit_;
  rocksdb::ColumnFamilyHandle* const cf_;
  const std::string where_;
  std::optional<DurationFilter> filter_;
  SearchContext ctx_;
  rocksdb::ReadOptions ro_;                          // on ctx_.snapshot
  std::vector<std::unique_ptr<Condition>> streams_;  // the scope's stream first

  std::vector<TraceSummary> out_;
  absl::flat_hash_set<TraceId> seen_;
  std::vector<Candidate> slot_matches_;
  std::string table_;
  std::string summary_value_;
  std::vector<uint32_t> matched_;
  std::vector<uint32_t> ambiguous_;  // of streams_[0]
  std::vector<uint32_t> other_;
  std::vector<uint32_t> unused_;
};

RocksTraceStore::BucketSearch::BucketSearch(RocksTraceStore& store, const RocksBucket& bucket,
                                            const TraceQuery& query, int64_t min_start,
                                            int64_t max_start)
    : store_(store),
      query_(query),
      min_start_(min_start),
      max_start_(max_start),
      limit_(static_cast<size_t>(query.limit)),
      cf_(bucket.handle()),
      where_(absl::StrCat("bucket ", cf_->GetName(), " of storage.path ", store.path_)) {
  SearchPlan plan = PlanSearch(query);
  filter_ = plan.filter;
  // Memory first, then the RocksDB snapshot: a segment sealed in between is on disk by then.
  ctx_.db = store_.db_;
  ctx_.cf = cf_;
  ctx_.min_slot = IndexSlot(min_start);
  ctx_.max_slot = IndexSlot(max_start);
  ctx_.memory =
      bucket.segments().Snapshot(ctx_.min_slot, ctx_.max_slot, plan.streams, plan.services);
  std::sort(ctx_.memory.begin(), ctx_.memory.end(),
            [](const SegmentView& a, const SegmentView& b) { return a.ref < b.ref; });
  ctx_.snapshot = store_.db_->GetSnapshot();
  ro_.snapshot = ctx_.snapshot;
  if (!plan.scope.empty()) {
    streams_.push_back(std::make_unique<PostingStream>(ctx_, plan.scope, filter_));
  }
  for (const auto& [key, value] : plan.tags) {
    if (query.service.empty()) {
      streams_.push_back(std::make_unique<PostingStream>(ctx_, TagStream(key, value)));
    } else {
      streams_.push_back(std::make_unique<ServiceTagCondition>(ctx_, query.service, key, value));
    }
  }
}

RocksTraceStore::BucketSearch::~BucketSearch() {
  streams_.clear();  // their iterators read the snapshot
  store_.db_->ReleaseSnapshot(ctx_.snapshot);
}

absl::StatusOr<std::vector<TraceSummary>> RocksTraceStore::BucketSearch::Run() {
  for (auto& s : streams_) s->SeekAtOrBefore(kTopSegment);
  int64_t current_slot = std::numeric_limits<int64_t>::max();
  while (out_.size() < limit_) {
    SegmentRef segment;
    const Step step = Align(&segment);
    if (step == Step::kExhausted) break;
    if (step == Step::kMoved) continue;
    if (segment.slot != current_slot) {
      if (absl::Status done = FinishSlot(); !done.ok()) return done;
      if (out_.size() >= limit_) break;
      current_slot = segment.slot;
    }
    if (absl::Status matched = MatchOrdinals(); !matched.ok()) return matched;
    if (!matched_.empty()) {
      if (absl::Status collected = CollectCandidates(segment); !collected.ok()) return collected;
    }
    for (auto& s : streams_) s->Prev();
  }
  for (auto& s : streams_) {
    if (!s->status().ok()) return FromRocks(s->status(), absl::StrCat("searching ", where_));
  }
  if (out_.size() < limit_) {
    if (absl::Status done = FinishSlot(); !done.ok()) return done;
  }
  return std::move(out_);
}

RocksTraceStore::BucketSearch::Step RocksTraceStore::BucketSearch::Align(SegmentRef* segment) {
  for (auto& s : streams_) {
    if (!s->Valid()) return Step::kExhausted;
  }
  SegmentRef candidate = streams_[0]->Current();
  for (auto& s : streams_) candidate = std::min(candidate, s->Current());
  bool all_equal = true;
  for (auto& s : streams_) {
    if (s->Current() > candidate) s->SeekAtOrBefore(candidate);
    if (!s->Valid()) return Step::kExhausted;
    if (s->Current() != candidate) all_equal = false;
  }
  *segment = candidate;
  return all_equal ? Step::kAligned : Step::kMoved;
}

absl::Status RocksTraceStore::BucketSearch::MatchOrdinals() {
  if (!streams_[0]->Ordinals(&matched_, &ambiguous_)) return Malformed();
  for (size_t i = 1; i < streams_.size() && !matched_.empty(); ++i) {
    if (!streams_[i]->Ordinals(&other_, &unused_)) return Malformed();
    IntersectInto(&matched_, other_);
  }
  return absl::OkStatus();
}

absl::Status RocksTraceStore::BucketSearch::CollectCandidates(const SegmentRef& segment) {
  // The trace table: from memory for an unsealed segment, else from RocksDB.
  const std::vector<IndexPos>* positions = nullptr;
  if (const SegmentView* view = ctx_.Memory(segment)) {
    positions = &view->positions;
  } else {
    rocksdb::Status s =
        store_.db_->Get(ro_, cf_, SegmentTableKey(segment.slot, segment.segment), &table_);
    if (!s.ok()) {
      return FromRocks(s, absl::StrCat("reading index segment ", segment.segment, " of ", where_));
    }
  }
  const size_t n = positions != nullptr ? positions->size() : table_.size() / kIndexPositionBytes;
  for (uint32_t o : matched_) {
    if (o >= n) return Malformed();
    IndexPos pos;
    if (positions != nullptr) {
      pos = (*positions)[o];
    } else {
      std::memcpy(pos.data(), table_.data() + size_t{o} * kIndexPositionBytes, pos.size());
    }
    const int64_t start = IndexPosStart(pos);
    if (start >= min_start_ && start <= max_start_) {
      slot_matches_.push_back(
          Candidate{pos, std::binary_search(ambiguous_.begin(), ambiguous_.end(), o)});
    }
  }
  return absl::OkStatus();
}

absl::Status RocksTraceStore::BucketSearch::FinishSlot() {
  std::sort(slot_matches_.begin(), slot_matches_.end(),
            [](const Candidate& a, const Candidate& b) { return a.pos > b.pos; });
  for (const Candidate& c : slot_matches_) {
    if (out_.size() >= limit_) break;
    const TraceId id = IndexPosTraceId(c.pos);
    if (seen_.contains(id)) continue;
    rocksdb::Status s = store_.db_->Get(ro_, cf_, SummaryKey(id), &summary_value_);
    if (s.IsNotFound()) continue;
    if (!s.ok()) {
      return FromRocks(s,
                       absl::StrCat("reading the summary of trace ", id.Hex(), " from ", where_));
    }
    std::optional<TraceSummary> summary = DecodeSummary(id, summary_value_);
    if (!summary) {
      return absl::DataLossError(
          absl::StrCat("the summary of trace ", id.Hex(), " in ", where_, " is malformed"));
    }
    // An older entry of a trace whose start moved since: its current entry is elsewhere.
    if (std::max<int64_t>(0, summary->start_ns) != IndexPosStart(c.pos)) continue;
    seen_.insert(id);
    if (!SamplingTagMatches(query_, summary->sampling_policy, summary->sample_rate)) continue;
    if (c.check_spans) {
      absl::StatusOr<std::optional<StoredTrace>> trace = store_.GetTrace(id);
      if (!trace.ok()) return trace.status();
      if (!trace->has_value() || !HasScopeSpanInRange(**trace, query_, *filter_)) continue;
    }
    out_.push_back(std::move(*summary));
  }
  slot_matches_.clear();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TraceSummary>> RocksTraceStore::SearchBucket(const RocksBucket& bucket,
                                                                        const TraceQuery& query) {
  const int64_t min_start = std::max<int64_t>(0, query.start_time_min_ns.value_or(0));
  const int64_t max_start = query.start_time_max_ns.value_or(std::numeric_limits<int64_t>::max());
  if (max_start < min_start) return std::vector<TraceSummary>{};
  BucketSearch search(*this, bucket, query, min_start, max_start);
  return search.Run();
}

absl::StatusOr<std::vector<TraceSummary>> RocksTraceStore::FindTraces(const TraceQuery& query) {
  if (absl::Status valid = ValidateTraceQuery(query, options_.index); !valid.ok()) return valid;
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  const int64_t min_start = query.start_time_min_ns.value_or(std::numeric_limits<int64_t>::min());
  const int64_t max_start = query.start_time_max_ns.value_or(std::numeric_limits<int64_t>::max());

  const std::vector<BucketPtr> buckets = BucketsWithStartsIn(min_start, max_start);
  const size_t limit = static_cast<size_t>(query.limit);
  std::vector<TraceSummary> out;
  for (const BucketPtr& b : buckets) {
    // Every trace of this bucket starts at or before max_start(): older than all matches so far
    // when the last one kept is newer than that.
    if (out.size() >= limit && out[limit - 1].start_ns > b->max_start()) break;
    absl::StatusOr<std::vector<TraceSummary>> found = SearchBucket(*b, query);
    if (!found.ok()) return found.status();
    for (TraceSummary& summary : *found) out.push_back(std::move(summary));
    std::sort(out.begin(), out.end(), NewerFirst);
    if (out.size() > limit) out.resize(limit);
  }
  return out;
}

absl::StatusOr<std::vector<DependencyLink>> RocksTraceStore::GetDependencies(int64_t end_ns,
                                                                             int64_t lookback_ns) {
  absl::StatusOr<DependencySlots> slots = DependencySlotsOf(end_ns, lookback_ns);
  if (!slots.ok()) return slots.status();
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  // Slot keys are unsigned: calls are never counted before 1970.
  const int64_t first_slot = std::max<int64_t>(0, slots->first);
  const int64_t last_slot = slots->last;
  if (last_slot < first_slot) return std::vector<DependencyLink>{};

  const std::string lower = DependencySlotPrefix(first_slot);
  const std::string upper = last_slot == std::numeric_limits<int64_t>::max()
                                ? PrefixSuccessor(std::string(1, kDependencyTag))
                                : DependencySlotPrefix(last_slot + 1);
  const rocksdb::Slice lower_slice(lower);
  const rocksdb::Slice upper_slice(upper);
  EdgeCounts sums;
  // Every bucket: one may hold added calls (WriteDependencyCalls) but no trace.
  for (const BucketPtr& b : SnapshotBuckets()) {
    rocksdb::ReadOptions ro;
    ro.total_order_seek = true;
    ro.iterate_lower_bound = &lower_slice;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, b->handle()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::optional<DependencyKey> key = DecodeDependencyKey(it->key().ToStringView());
      std::optional<CallCounts> counts = DecodeCallCounts(it->value().ToStringView());
      if (!key || !counts) {
        return absl::DataLossError(absl::StrCat("malformed dependency count in bucket ",
                                                b->handle()->GetName(), " of storage.path ",
                                                path_));
      }
      sums[{std::move(key->parent), std::move(key->child)}] += *counts;
    }
    if (!it->status().ok()) {
      return FromRocks(it->status(),
                       absl::StrCat("reading dependencies from storage.path ", path_));
    }
  }
  return LinksOf(sums);
}

}  // namespace tailtrace::storage
