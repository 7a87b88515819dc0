// RocksTraceStore::FindTraces and GetDependencies.
//
// Search: every condition of a query is an index stream (keys.h), sorted by (trace start, trace
// ID). The streams are read backwards (newest first) and intersected by leapfrogging: the
// smallest current position is the candidate, every stream seeks to the last entry at or before
// it, and when all land on it the trace matches. A duration condition is the union of the
// duration-class streams its range covers, whose edge classes are checked against the exact
// durations stored in the entries. Each stream is bounded to the query's trace start range, and
// the search stops at `limit` matches, so a selective query reads only a few index blocks.
// Buckets are searched newest first; an older bucket is skipped once `limit` matches newer than
// anything it holds were found.

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"
#include "storage/keys.h"
#include "storage/rocks_bucket.h"
#include "storage/rocks_trace_store.h"

namespace tailtrace::storage {
namespace {

// One sorted stream of index positions (IndexPosition, 24 bytes), read newest first.
class Stream {
 public:
  virtual ~Stream() = default;
  // Positions at the last entry <= `position` (or invalid when there is none).
  virtual void SeekAtOrBefore(std::string_view position) = 0;
  // Moves to the previous (older) entry.
  virtual void Prev() = 0;
  virtual bool Valid() const = 0;
  // Requires Valid().
  virtual std::string_view Position() const = 0;
  virtual rocksdb::Status status() const = 0;
};

// The entries of one index stream whose trace start is in [min_start, max_start].
class IndexStream final : public Stream {
 public:
  IndexStream(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const rocksdb::Snapshot* snapshot,
              std::string stream, int64_t min_start, int64_t max_start)
      : stream_(std::move(stream)) {
    lower_ = stream_;
    PutFixed64BE(&lower_, static_cast<uint64_t>(min_start));
    std::string last_start = stream_;
    PutFixed64BE(&last_start, static_cast<uint64_t>(max_start));
    upper_ = PrefixSuccessor(last_start);
    lower_slice_ = rocksdb::Slice(lower_);
    upper_slice_ = rocksdb::Slice(upper_);
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot;
    ro.total_order_seek = true;
    ro.iterate_lower_bound = &lower_slice_;
    if (!upper_.empty()) ro.iterate_upper_bound = &upper_slice_;
    it_.reset(db->NewIterator(ro, cf));
  }

  void SeekAtOrBefore(std::string_view position) override {
    seek_key_.assign(stream_);
    seek_key_.append(position);
    it_->SeekForPrev(seek_key_);
  }
  void Prev() override { it_->Prev(); }
  bool Valid() const override { return it_->Valid(); }
  std::string_view Position() const override {
    const std::string_view key = it_->key().ToStringView();
    return key.substr(key.size() - kIndexPositionBytes);
  }
  std::string_view value() const { return it_->value().ToStringView(); }
  rocksdb::Status status() const override { return it_->status(); }

 private:
  const std::string stream_;
  std::string lower_;
  std::string upper_;
  rocksdb::Slice lower_slice_;
  rocksdb::Slice upper_slice_;
  std::string seek_key_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

// The union of the duration-class streams of one scope covering [min, max], keeping only entries
// with a duration in range: coarse classes strictly inside the range (taken as they are), and fine
// classes at its edges, whose entries hold the exact durations to check (only the outermost fine
// classes need the check).
class DurationUnion final : public Stream {
 public:
  DurationUnion(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const rocksdb::Snapshot* snapshot,
                DurationTerm term, int64_t min_ns, int64_t max_ns, int64_t min_start,
                int64_t max_start)
      : min_ns_(min_ns), max_ns_(max_ns) {
    const int cmin = DurationClass(min_ns);
    const int cmax = DurationClass(max_ns);
    const int fmin = FineDurationClass(min_ns);
    const int fmax = FineDurationClass(max_ns);
    auto add = [&](bool fine, int cls, bool check) {
      term.fine = fine;
      term.duration_class = cls;
      Sub sub;
      sub.check = check;
      sub.stream = std::make_unique<IndexStream>(db, cf, snapshot, DurationStream(term), min_start,
                                                 max_start);
      subs_.push_back(std::move(sub));
    };
    if (cmin == cmax) {
      for (int f = fmin; f <= fmax; ++f) add(true, f, f == fmin || f == fmax);
    } else {
      for (int f = fmin; f <= LastFineClass(cmin); ++f) add(true, f, f == fmin);
      for (int c = cmin + 1; c < cmax; ++c) add(false, c, false);
      for (int f = FirstFineClass(cmax); f <= fmax; ++f) add(true, f, f == fmax);
    }
  }

  void SeekAtOrBefore(std::string_view position) override {
    for (Sub& sub : subs_) {
      sub.stream->SeekAtOrBefore(position);
      SkipRejected(sub);
    }
    Update();
  }
  void Prev() override {
    const std::string current(current_);
    for (Sub& sub : subs_) {
      if (sub.stream->Valid() && sub.stream->Position() == current) {
        sub.stream->Prev();
        SkipRejected(sub);
      }
    }
    Update();
  }
  bool Valid() const override { return valid_; }
  std::string_view Position() const override { return current_; }
  rocksdb::Status status() const override {
    if (!corrupt_.ok()) return corrupt_;
    for (const Sub& sub : subs_) {
      if (!sub.stream->status().ok()) return sub.stream->status();
    }
    return rocksdb::Status::OK();
  }

 private:
  struct Sub {
    std::unique_ptr<IndexStream> stream;
    bool check = true;
  };

  void SkipRejected(Sub& sub) {
    if (!sub.check) return;
    while (sub.stream->Valid()) {
      if (!DecodeDurations(sub.stream->value(), &durations_)) {
        corrupt_ = rocksdb::Status::Corruption("malformed duration index entry");
        return;
      }
      // Ascending: the first duration >= min decides.
      auto it = std::lower_bound(durations_.begin(), durations_.end(), min_ns_);
      if (it != durations_.end() && *it <= max_ns_) return;
      sub.stream->Prev();
    }
  }

  void Update() {
    valid_ = false;
    current_.clear();
    for (const Sub& sub : subs_) {
      if (!sub.stream->Valid()) continue;
      const std::string_view pos = sub.stream->Position();
      if (!valid_ || pos > current_) current_.assign(pos);
      valid_ = true;
    }
  }

  const int64_t min_ns_;
  const int64_t max_ns_;
  std::vector<Sub> subs_;
  std::vector<int64_t> durations_;
  std::string current_;
  bool valid_ = false;
  rocksdb::Status corrupt_;
};

struct Match {
  std::string position;
  std::shared_ptr<RocksBucket> bucket;
};

}  // namespace

absl::StatusOr<std::vector<std::string>> RocksTraceStore::SearchBucket(
    const RocksBucket& bucket, const TraceQuery& query, const rocksdb::Snapshot* snapshot) const {
  const int64_t min_start = std::max<int64_t>(0, query.start_time_min_ns.value_or(0));
  const int64_t max_start = query.start_time_max_ns.value_or(std::numeric_limits<int64_t>::max());
  std::vector<std::string> out;
  if (max_start < min_start) return out;
  rocksdb::ColumnFamilyHandle* cf = bucket.handle();

  std::vector<std::unique_ptr<Stream>> streams;
  auto add = [&](std::string stream) {
    streams.push_back(
        std::make_unique<IndexStream>(db_, cf, snapshot, std::move(stream), min_start, max_start));
  };
  // Streams that another stream implies are left out: a duration stream is scoped to the
  // service (and operation), a service-scoped tag stream to the service.
  const bool has_duration = query.duration_min_ns || query.duration_max_ns;
  if (!query.operation.empty() && !has_duration) {
    add(OperationStream(query.service, query.operation));
  } else if (!query.service.empty() && !has_duration && query.attributes.empty()) {
    add(ServiceStream(query.service));
  }
  for (const auto& [key, value] : query.attributes) {
    add(query.service.empty() ? TagStream(key, value)
                              : ServiceTagStream(query.service, key, value));
  }
  if (has_duration) {
    DurationTerm term;
    if (!query.operation.empty()) {
      term.scope = DurationScope::kOperation;
      term.service = query.service;
      term.operation = query.operation;
    } else if (!query.service.empty()) {
      term.scope = DurationScope::kService;
      term.service = query.service;
    }
    streams.push_back(std::make_unique<DurationUnion>(
        db_, cf, snapshot, term, query.duration_min_ns.value_or(0),
        query.duration_max_ns.value_or(std::numeric_limits<int64_t>::max()), min_start, max_start));
  }
  // No condition but time: the time index lists every trace.
  if (streams.empty()) add(TimeStream());

  // Leapfrog intersection, newest first.
  std::string top;
  PutFixed64BE(&top, static_cast<uint64_t>(max_start));
  top.append(kTraceIdBytes, '\xff');
  for (auto& s : streams) s->SeekAtOrBefore(top);
  std::string candidate;
  const size_t limit = static_cast<size_t>(query.limit);
  while (out.size() < limit) {
    bool all_valid = true;
    for (auto& s : streams) all_valid = all_valid && s->Valid();
    if (!all_valid) break;
    candidate.assign(streams[0]->Position());
    for (auto& s : streams) {
      if (s->Position() < candidate) candidate.assign(s->Position());
    }
    bool all_equal = true;
    bool exhausted = false;
    for (auto& s : streams) {
      if (s->Position() > candidate) s->SeekAtOrBefore(candidate);
      if (!s->Valid()) {
        exhausted = true;
        break;
      }
      if (s->Position() != candidate) all_equal = false;
    }
    if (exhausted) break;
    if (!all_equal) continue;
    out.push_back(candidate);
    for (auto& s : streams) s->Prev();
  }
  for (auto& s : streams) {
    if (!s->status().ok()) {
      return FromRocks(s->status(), absl::StrCat("searching bucket ", cf->GetName(),
                                                 " of storage.path ", path_));
    }
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

  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  struct SnapshotReleaser {
    rocksdb::DB* db;
    const rocksdb::Snapshot* snapshot;
    ~SnapshotReleaser() { db->ReleaseSnapshot(snapshot); }
  } releaser{db_, snapshot};

  const size_t limit = static_cast<size_t>(query.limit);
  std::vector<Match> matches;
  for (const BucketPtr& b : buckets) {
    if (matches.size() >= limit) {
      // Every trace of this bucket starts at or before max_start(): older than all matches so
      // far when the last one kept is newer than that.
      std::optional<IndexPositionParts> last = DecodeIndexPosition(matches[limit - 1].position);
      if (last && last->start_ns > b->max_start()) break;
    }
    absl::StatusOr<std::vector<std::string>> found = SearchBucket(*b, query, snapshot);
    if (!found.ok()) return found.status();
    for (std::string& pos : *found) matches.push_back(Match{std::move(pos), b});
    std::sort(matches.begin(), matches.end(),
              [](const Match& x, const Match& y) { return x.position > y.position; });
    if (matches.size() > limit) matches.resize(limit);
  }

  std::vector<TraceSummary> out;
  out.reserve(matches.size());
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  std::string value;
  for (const Match& m : matches) {
    const std::optional<IndexPositionParts> pos = DecodeIndexPosition(m.position);
    rocksdb::Status s = db_->Get(ro, m.bucket->handle(), SummaryKey(pos->trace_id), &value);
    if (!s.ok()) {
      return FromRocks(s, absl::StrCat("reading the summary of trace ", pos->trace_id.Hex(),
                                       " from storage.path ", path_));
    }
    std::optional<TraceSummary> summary = DecodeSummary(pos->trace_id, value);
    if (!summary) {
      return absl::DataLossError(absl::StrCat("the summary of trace ", pos->trace_id.Hex(),
                                              " in storage.path ", path_, " is malformed"));
    }
    out.push_back(std::move(*summary));
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
