// RocksTraceStore::FindTraces and GetDependencies.
//
// Search: every condition of a query is an index stream (keys.h), whose postings are stored per
// index segment, segments sorted by (slot, segment ID). The conditions' streams are read
// backwards (newest slot first) and intersected by leapfrogging over segments: the smallest
// current segment is the candidate, every stream seeks to the last segment at or before it, and
// when all land on it their ordinal lists are intersected (one ordinal space per segment). A
// duration condition is the union of the duration-class streams its range covers, whose edge
// classes are checked against the exact durations stored in the postings. The matching ordinals
// are mapped to trace positions through the segment's trace table; once a slot is complete, its
// matches are ordered newest first and checked against the trace summaries (an entry whose start
// is no longer the trace's start is skipped), and the search stops at `limit`. Unsealed segments
// are read from memory (IndexSegments::Snapshot) instead of from RocksDB. Buckets are searched
// newest first; an older bucket is skipped once `limit` matches newer than anything it holds
// were found.

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"
#include "storage/index_segments.h"
#include "storage/keys.h"
#include "storage/rocks_bucket.h"
#include "storage/rocks_trace_store.h"

namespace tailtrace::storage {
namespace {

constexpr SegmentRef kTopSegment{std::numeric_limits<int64_t>::max(),
                                 std::numeric_limits<uint64_t>::max()};

// What one search reads: a RocksDB snapshot of a bucket and a copy of its unsealed segments.
struct SearchContext {
  rocksdb::DB* db = nullptr;
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  const rocksdb::Snapshot* snapshot = nullptr;
  int64_t min_slot = 0;
  int64_t max_slot = 0;
  // Unsealed segments, ascending by ref. A segment here is read only from here (it may be on
  // disk as well while it is being sealed, with other ordinals).
  std::vector<SegmentView> memory;
  const SegmentView* Memory(const SegmentRef& ref) const {
    auto it = std::lower_bound(memory.begin(), memory.end(), ref,
                               [](const SegmentView& v, const SegmentRef& r) { return v.ref < r; });
    return it != memory.end() && it->ref == ref ? &*it : nullptr;
  }
};

// A condition: per segment (newest first), the ordinals of the traces that satisfy it.
class SegmentStream {
 public:
  virtual ~SegmentStream() = default;
  // Positions at the last segment <= `ref` (or invalid when there is none).
  virtual void SeekAtOrBefore(const SegmentRef& ref) = 0;
  // Moves to the previous (older) segment.
  virtual void Prev() = 0;
  virtual bool Valid() const = 0;
  // Requires Valid().
  virtual SegmentRef Current() const = 0;
  // The current segment's matching ordinals, ascending; false when a posting is malformed.
  virtual bool Ordinals(std::vector<uint32_t>* out) = 0;
  virtual rocksdb::Status status() const = 0;
};

// One index stream: its postings on disk merged with those of the unsealed segments.
class PostingStream final : public SegmentStream {
 public:
  PostingStream(const SearchContext& ctx, std::string stream)
      : ctx_(ctx), stream_(std::move(stream)) {
    for (const SegmentView& v : ctx.memory) {
      auto it = v.postings.find(stream_);
      if (it != v.postings.end()) mem_.push_back({v.ref, &it->second});
    }
    lower_ = PostingKey(stream_, ctx.min_slot, 0);
    std::string last_slot = stream_;
    PutFixed64BE(&last_slot, static_cast<uint64_t>(ctx.max_slot));
    upper_ = PrefixSuccessor(last_slot);
    lower_slice_ = rocksdb::Slice(lower_);
    upper_slice_ = rocksdb::Slice(upper_);
    rocksdb::ReadOptions ro;
    ro.snapshot = ctx.snapshot;
    ro.total_order_seek = true;
    ro.iterate_lower_bound = &lower_slice_;
    if (!upper_.empty()) ro.iterate_upper_bound = &upper_slice_;
    it_.reset(ctx.db->NewIterator(ro, ctx.cf));
  }

  void SeekAtOrBefore(const SegmentRef& ref) override {
    seek_key_ = PostingKey(stream_, ref.slot, ref.segment);
    it_->SeekForPrev(seek_key_);
    SkipShadowed();
    mem_index_ = std::upper_bound(mem_.begin(), mem_.end(), ref,
                                  [](const SegmentRef& r, const Mem& m) { return r < m.ref; }) -
                 mem_.begin() - 1;
  }
  void Prev() override {
    const SegmentRef current = Current();
    if (DiskValid() && DiskRef() == current) {
      it_->Prev();
      SkipShadowed();
    }
    if (mem_index_ >= 0 && mem_[mem_index_].ref == current) --mem_index_;
  }
  bool Valid() const override { return DiskValid() || mem_index_ >= 0; }
  SegmentRef Current() const override {
    if (!DiskValid()) return mem_[mem_index_].ref;
    if (mem_index_ < 0) return DiskRef();
    return std::max(DiskRef(), mem_[mem_index_].ref);
  }
  bool Ordinals(std::vector<uint32_t>* out) override { return Entries(out, nullptr); }
  // The current segment's ordinals and (for streams with values) their values.
  bool Entries(std::vector<uint32_t>* ordinals, std::vector<std::string_view>* values) {
    const SegmentRef current = Current();
    if (mem_index_ >= 0 && mem_[mem_index_].ref == current) {
      const Posting& p = *mem_[mem_index_].posting;
      *ordinals = p.ordinals;
      if (values != nullptr) values->assign(p.values.begin(), p.values.end());
      return values == nullptr || values->size() == ordinals->size();
    }
    return DecodePosting(it_->value().ToStringView(), ordinals, values);
  }
  rocksdb::Status status() const override { return it_->status(); }

 private:
  struct Mem {
    SegmentRef ref;
    const Posting* posting;
  };

  bool DiskValid() const { return it_->Valid(); }
  SegmentRef DiskRef() const { return *DecodeSegmentSuffix(it_->key().ToStringView()); }
  // Segments in memory are read from there only.
  void SkipShadowed() {
    while (it_->Valid() && ctx_.Memory(DiskRef()) != nullptr) it_->Prev();
  }

  const SearchContext& ctx_;
  const std::string stream_;
  std::vector<Mem> mem_;  // ascending by ref
  std::ptrdiff_t mem_index_ = -1;
  std::string lower_;
  std::string upper_;
  rocksdb::Slice lower_slice_;
  rocksdb::Slice upper_slice_;
  std::string seek_key_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

// The union of the duration-class streams of one scope covering [min, max], keeping only traces
// with a duration in range: coarse classes strictly inside the range (taken as they are), and
// fine classes at its edges, whose postings hold the exact durations to check (only the
// outermost fine classes need the check).
class DurationUnion final : public SegmentStream {
 public:
  DurationUnion(const SearchContext& ctx, DurationTerm term, int64_t min_ns, int64_t max_ns)
      : min_ns_(min_ns), max_ns_(max_ns) {
    for (auto& [stream, check] : Streams(term, min_ns, max_ns)) {
      subs_.push_back(Sub{std::make_unique<PostingStream>(ctx, stream), check});
    }
  }

  // The streams of the union and whether each needs the exact check.
  static std::vector<std::pair<std::string, bool>> Streams(DurationTerm term, int64_t min_ns,
                                                           int64_t max_ns) {
    std::vector<std::pair<std::string, bool>> out;
    const int cmin = DurationClass(min_ns);
    const int cmax = DurationClass(max_ns);
    const int fmin = FineDurationClass(min_ns);
    const int fmax = FineDurationClass(max_ns);
    auto add = [&](bool fine, int cls, bool check) {
      term.fine = fine;
      term.duration_class = cls;
      out.emplace_back(DurationStream(term), check);
    };
    if (cmin == cmax) {
      for (int f = fmin; f <= fmax; ++f) add(true, f, f == fmin || f == fmax);
    } else {
      for (int f = fmin; f <= LastFineClass(cmin); ++f) add(true, f, f == fmin);
      for (int c = cmin + 1; c < cmax; ++c) add(false, c, false);
      for (int f = FirstFineClass(cmax); f <= fmax; ++f) add(true, f, f == fmax);
    }
    return out;
  }

  void SeekAtOrBefore(const SegmentRef& ref) override {
    for (Sub& sub : subs_) sub.stream->SeekAtOrBefore(ref);
  }
  void Prev() override {
    const SegmentRef current = Current();
    for (Sub& sub : subs_) {
      if (sub.stream->Valid() && sub.stream->Current() == current) sub.stream->Prev();
    }
  }
  bool Valid() const override {
    for (const Sub& sub : subs_) {
      if (sub.stream->Valid()) return true;
    }
    return false;
  }
  SegmentRef Current() const override {
    SegmentRef best{};
    bool any = false;
    for (const Sub& sub : subs_) {
      if (!sub.stream->Valid()) continue;
      const SegmentRef r = sub.stream->Current();
      if (!any || r > best) best = r;
      any = true;
    }
    return best;
  }
  bool Ordinals(std::vector<uint32_t>* out) override {
    out->clear();
    const SegmentRef current = Current();
    for (Sub& sub : subs_) {
      if (!sub.stream->Valid() || sub.stream->Current() != current) continue;
      if (!sub.stream->Entries(&ordinals_, sub.check ? &values_ : nullptr)) return false;
      for (size_t i = 0; i < ordinals_.size(); ++i) {
        if (sub.check) {
          if (!DecodeDurations(values_[i], &durations_)) return false;
          // Ascending: the first duration >= min decides.
          auto it = std::lower_bound(durations_.begin(), durations_.end(), min_ns_);
          if (it == durations_.end() || *it > max_ns_) continue;
        }
        out->push_back(ordinals_[i]);
      }
    }
    std::sort(out->begin(), out->end());
    out->erase(std::unique(out->begin(), out->end()), out->end());
    return true;
  }
  rocksdb::Status status() const override {
    for (const Sub& sub : subs_) {
      if (!sub.stream->status().ok()) return sub.stream->status();
    }
    return rocksdb::Status::OK();
  }

 private:
  struct Sub {
    std::unique_ptr<PostingStream> stream;
    bool check = true;
  };

  const int64_t min_ns_;
  const int64_t max_ns_;
  std::vector<Sub> subs_;
  std::vector<uint32_t> ordinals_;
  std::vector<std::string_view> values_;
  std::vector<int64_t> durations_;
};

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

}  // namespace

absl::StatusOr<std::vector<TraceSummary>> RocksTraceStore::SearchBucket(
    const RocksBucket& bucket, const TraceQuery& query) const {
  const int64_t min_start = std::max<int64_t>(0, query.start_time_min_ns.value_or(0));
  const int64_t max_start = query.start_time_max_ns.value_or(std::numeric_limits<int64_t>::max());
  std::vector<TraceSummary> out;
  if (max_start < min_start) return out;
  rocksdb::ColumnFamilyHandle* cf = bucket.handle();
  const std::string where = absl::StrCat("bucket ", cf->GetName(), " of storage.path ", path_);

  // The streams of the conditions. Streams that another stream implies are left out: a duration
  // stream is scoped to the service (and operation), a service-scoped tag stream to the service.
  std::vector<std::string> plain;
  const bool has_duration = query.duration_min_ns || query.duration_max_ns;
  if (!query.operation.empty() && !has_duration) {
    plain.push_back(OperationStream(query.service, query.operation));
  } else if (!query.service.empty() && !has_duration && query.attributes.empty()) {
    plain.push_back(ServiceStream(query.service));
  }
  for (const auto& [key, value] : query.attributes) {
    plain.push_back(query.service.empty() ? TagStream(key, value)
                                          : ServiceTagStream(query.service, key, value));
  }
  DurationTerm term;
  const int64_t duration_min = query.duration_min_ns.value_or(0);
  const int64_t duration_max = query.duration_max_ns.value_or(std::numeric_limits<int64_t>::max());
  if (!query.operation.empty()) {
    term.scope = DurationScope::kOperation;
    term.service = query.service;
    term.operation = query.operation;
  } else if (!query.service.empty()) {
    term.scope = DurationScope::kService;
    term.service = query.service;
  }
  // No condition but time: the time stream lists every trace.
  if (plain.empty() && !has_duration) plain.push_back(TimeStream());
  std::vector<std::string> all_streams = plain;
  if (has_duration) {
    for (auto& [stream, check] : DurationUnion::Streams(term, duration_min, duration_max)) {
      all_streams.push_back(std::move(stream));
    }
  }

  // Memory first, then the RocksDB snapshot: a segment sealed in between is on disk by then.
  SearchContext ctx;
  ctx.db = db_;
  ctx.cf = cf;
  ctx.min_slot = IndexSlot(min_start);
  ctx.max_slot = IndexSlot(max_start);
  ctx.memory = bucket.segments().Snapshot(ctx.min_slot, ctx.max_slot, all_streams);
  std::sort(ctx.memory.begin(), ctx.memory.end(),
            [](const SegmentView& a, const SegmentView& b) { return a.ref < b.ref; });
  ctx.snapshot = db_->GetSnapshot();
  struct SnapshotReleaser {
    rocksdb::DB* db;
    const rocksdb::Snapshot* snapshot;
    ~SnapshotReleaser() { db->ReleaseSnapshot(snapshot); }
  } releaser{db_, ctx.snapshot};
  rocksdb::ReadOptions ro;
  ro.snapshot = ctx.snapshot;

  std::vector<std::unique_ptr<SegmentStream>> streams;
  for (std::string& stream : plain) {
    streams.push_back(std::make_unique<PostingStream>(ctx, std::move(stream)));
  }
  if (has_duration) {
    streams.push_back(std::make_unique<DurationUnion>(ctx, term, duration_min, duration_max));
  }

  const size_t limit = static_cast<size_t>(query.limit);
  absl::flat_hash_set<TraceId> seen;
  std::vector<IndexPos> slot_matches;
  std::string table;
  std::string summary_value;
  // Orders the matches of one slot newest first and keeps those whose summary confirms them.
  auto finish_slot = [&]() -> absl::Status {
    std::sort(slot_matches.begin(), slot_matches.end(), std::greater<>());
    for (const IndexPos& pos : slot_matches) {
      if (out.size() >= limit) break;
      const TraceId id = IndexPosTraceId(pos);
      if (seen.contains(id)) continue;
      rocksdb::Status s = db_->Get(ro, cf, SummaryKey(id), &summary_value);
      if (s.IsNotFound()) continue;
      if (!s.ok()) {
        return FromRocks(s,
                         absl::StrCat("reading the summary of trace ", id.Hex(), " from ", where));
      }
      std::optional<TraceSummary> summary = DecodeSummary(id, summary_value);
      if (!summary) {
        return absl::DataLossError(
            absl::StrCat("the summary of trace ", id.Hex(), " in ", where, " is malformed"));
      }
      // An older entry of a trace whose start moved since: its current entry is elsewhere.
      if (std::max<int64_t>(0, summary->start_ns) != IndexPosStart(pos)) continue;
      seen.insert(id);
      out.push_back(std::move(*summary));
    }
    slot_matches.clear();
    return absl::OkStatus();
  };

  for (auto& s : streams) s->SeekAtOrBefore(kTopSegment);
  std::vector<uint32_t> matched;
  std::vector<uint32_t> other;
  int64_t current_slot = std::numeric_limits<int64_t>::max();
  bool corrupt = false;
  while (out.size() < limit) {
    bool all_valid = true;
    for (auto& s : streams) all_valid = all_valid && s->Valid();
    if (!all_valid) break;
    SegmentRef candidate = streams[0]->Current();
    for (auto& s : streams) candidate = std::min(candidate, s->Current());
    bool all_equal = true;
    bool exhausted = false;
    for (auto& s : streams) {
      if (s->Current() > candidate) s->SeekAtOrBefore(candidate);
      if (!s->Valid()) {
        exhausted = true;
        break;
      }
      if (s->Current() != candidate) all_equal = false;
    }
    if (exhausted) break;
    if (!all_equal) continue;

    if (candidate.slot != current_slot) {
      if (absl::Status done = finish_slot(); !done.ok()) return done;
      if (out.size() >= limit) break;
      current_slot = candidate.slot;
    }
    if (!streams[0]->Ordinals(&matched)) {
      corrupt = true;
      break;
    }
    for (size_t i = 1; i < streams.size() && !matched.empty(); ++i) {
      if (!streams[i]->Ordinals(&other)) {
        corrupt = true;
        break;
      }
      IntersectInto(&matched, other);
    }
    if (corrupt) break;
    if (!matched.empty()) {
      // The trace table: from memory for an unsealed segment, else from RocksDB.
      const std::vector<IndexPos>* positions = nullptr;
      if (const SegmentView* view = ctx.Memory(candidate)) {
        positions = &view->positions;
      } else {
        rocksdb::Status s =
            db_->Get(ro, cf, SegmentTableKey(candidate.slot, candidate.segment), &table);
        if (!s.ok()) {
          return FromRocks(
              s, absl::StrCat("reading index segment ", candidate.segment, " of ", where));
        }
      }
      const size_t n =
          positions != nullptr ? positions->size() : table.size() / kIndexPositionBytes;
      for (uint32_t o : matched) {
        if (o >= n) {
          corrupt = true;
          break;
        }
        IndexPos pos;
        if (positions != nullptr) {
          pos = (*positions)[o];
        } else {
          std::memcpy(pos.data(), table.data() + size_t{o} * kIndexPositionBytes, pos.size());
        }
        const int64_t start = IndexPosStart(pos);
        if (start >= min_start && start <= max_start) slot_matches.push_back(pos);
      }
      if (corrupt) break;
    }
    for (auto& s : streams) s->Prev();
  }
  if (corrupt) {
    return absl::DataLossError(absl::StrCat("a malformed index segment in ", where));
  }
  for (auto& s : streams) {
    if (!s->status().ok()) return FromRocks(s->status(), absl::StrCat("searching ", where));
  }
  if (out.size() < limit) {
    if (absl::Status done = finish_slot(); !done.ok()) return done;
  }
  return out;
}

absl::StatusOr<std::vector<TraceSummary>> RocksTraceStore::FindTraces(const TraceQuery& query) {
  if (absl::Status valid = ValidateTraceQuery(query, options_.index); !valid.ok()) return valid;
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  const int64_t min_start = query.start_time_min_ns.value_or(std::numeric_limits<int64_t>::min());
  const int64_t max_start = query.start_time_max_ns.value_or(std::numeric_limits<int64_t>::max());

  std::vector<BucketPtr> buckets;
  for (BucketPtr& b : SnapshotBuckets()) {
    if (b->has_traces() && b->max_start() >= min_start && b->min_start() <= max_start) {
      buckets.push_back(std::move(b));
    }
  }
  std::sort(buckets.begin(), buckets.end(),
            [](const BucketPtr& a, const BucketPtr& b) { return a->max_start() > b->max_start(); });

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
  if (lookback_ns < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("lookback must not be negative, got ", lookback_ns, " ns"));
  }
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  const int64_t begin_ns = end_ns < std::numeric_limits<int64_t>::min() + lookback_ns
                               ? std::numeric_limits<int64_t>::min()
                               : end_ns - lookback_ns;
  const int64_t first_slot = std::max<int64_t>(0, DependencySlot(begin_ns));
  const int64_t last_slot = DependencySlot(end_ns);
  std::vector<DependencyLink> out;
  if (last_slot < first_slot) return out;

  const std::string lower = DependencySlotPrefix(first_slot);
  const std::string upper = last_slot == std::numeric_limits<int64_t>::max()
                                ? PrefixSuccessor(std::string(1, kDependencyTag))
                                : DependencySlotPrefix(last_slot + 1);
  const rocksdb::Slice lower_slice(lower);
  const rocksdb::Slice upper_slice(upper);
  std::map<std::pair<std::string, std::string>, int64_t> sums;
  for (const BucketPtr& b : SnapshotBuckets()) {
    if (!b->has_traces()) continue;
    rocksdb::ReadOptions ro;
    ro.total_order_seek = true;
    ro.iterate_lower_bound = &lower_slice;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, b->handle()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::optional<DependencyKey> key = DecodeDependencyKey(it->key().ToStringView());
      std::optional<int64_t> count = DecodeCount(it->value().ToStringView());
      if (!key || !count) {
        return absl::DataLossError(absl::StrCat("malformed dependency count in bucket ",
                                                b->handle()->GetName(), " of storage.path ",
                                                path_));
      }
      sums[{std::move(key->parent), std::move(key->child)}] += *count;
    }
    if (!it->status().ok()) {
      return FromRocks(it->status(),
                       absl::StrCat("reading dependencies from storage.path ", path_));
    }
  }
  for (auto& [edge, count] : sums) {
    if (count > 0) {
      out.push_back(DependencyLink{edge.first, edge.second, static_cast<uint64_t>(count)});
    }
  }
  return out;
}

}  // namespace tailtrace::storage
