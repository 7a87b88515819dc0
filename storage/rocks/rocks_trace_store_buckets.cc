// RocksTraceStore: retention buckets (creating, loading, listing) and retention enforcement.
// Opening, options, closing and statistics are in rocks_trace_store.cc.

#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rocks_bucket.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"
#include "span_blocks.h"
#include "spdlog/spdlog.h"
#include "storage/index/index_segments.h"
#include "storage/index/keys.h"
#include "storage/index/trace_analysis.h"
#include "storage/rocks/rocks_trace_store.h"
#include "trace_terms_cache.h"

namespace tailtrace::storage {
namespace {

// An iterator over one key space (the keys whose first byte is `tag`) of a bucket.
class KeySpaceIterator {
 public:
  KeySpaceIterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, char tag)
      : lower_(1, tag),
        upper_(PrefixSuccessor(lower_)),
        lower_slice_(lower_),
        upper_slice_(upper_) {
    rocksdb::ReadOptions ro;
    ro.total_order_seek = true;
    ro.iterate_lower_bound = &lower_slice_;
    ro.iterate_upper_bound = &upper_slice_;
    it_.reset(db->NewIterator(ro, cf));
  }
  rocksdb::Iterator* operator->() const { return it_.get(); }

 private:
  const std::string lower_;
  const std::string upper_;
  const rocksdb::Slice lower_slice_;
  const rocksdb::Slice upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

}  // namespace

absl::Status RocksTraceStore::LoadBucket(RocksBucket& bucket) {
  const std::string where =
      absl::StrCat("bucket ", bucket.handle()->GetName(), " of storage.path ", path_);
  // The trace start range: the slots of the first and last segment trace table.
  {
    KeySpaceIterator it(db_, bucket.handle(), kSegmentTableTag);
    for (bool last : {false, true}) {
      if (last) {
        it->SeekToLast();
      } else {
        it->SeekToFirst();
      }
      if (!it->Valid()) break;
      if (std::optional<SegmentRef> ref = DecodeSegmentSuffix(it->key().ToStringView())) {
        const int64_t first = ref->slot > std::numeric_limits<int64_t>::max() / kIndexSlotNs
                                  ? std::numeric_limits<int64_t>::max()
                                  : ref->slot * kIndexSlotNs;
        const int64_t end = first > std::numeric_limits<int64_t>::max() - kIndexSlotNs
                                ? std::numeric_limits<int64_t>::max()
                                : first + kIndexSlotNs - 1;
        bucket.ExtendStartRange(last ? end : first);
      }
    }
    if (!it->status().ok()) return FromRocks(it->status(), absl::StrCat("loading ", where));
  }
  // Segments of format 4 hold service tag streams (keys.h); this build writes none.
  {
    KeySpaceIterator it(db_, bucket.handle(), kIndexTag);
    const std::string first{kIndexTag, kServiceTagIndex};
    it->Seek(first);
    if (it->Valid() && it->key().starts_with(first)) bucket.set_has_format4_segments();
    if (!it->status().ok()) return FromRocks(it->status(), absl::StrCat("loading ", where));
  }
  // Service and operation names.
  for (char tag : {kServiceTag, kOperationTag}) {
    KeySpaceIterator it(db_, bucket.handle(), tag);
    for (it->SeekToFirst(); it->Valid(); it->Next()) bucket.AddName(it->key().ToString());
    if (!it->status().ok())
      return FromRocks(it->status(), absl::StrCat("loading names of ", where));
  }
  return RecoverSegments(bucket);
}

absl::Status RocksTraceStore::RecoverSegments(RocksBucket& bucket) {
  const std::string where =
      absl::StrCat("bucket ", bucket.handle()->GetName(), " of storage.path ", path_);
  std::vector<TraceId> ids;
  {
    KeySpaceIterator it(db_, bucket.handle(), kSegmentMarkerTag);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (auto marker = DecodeSegmentMarkerKey(it->key().ToStringView())) {
        ids.push_back(marker->second);
      }
    }
    if (!it->status().ok()) {
      return FromRocks(it->status(), absl::StrCat("reading index markers of ", where));
    }
  }
  if (ids.empty()) return absl::OkStatus();
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());

  // Each trace's complete entry, from all its chunks, into fresh segments sealed at once; the
  // seal's range deletion covers only the new segments, so the old markers go separately.
  for (const TraceId& id : ids) {
    std::vector<opentelemetry::proto::trace::v1::TracesData> chunks;
    bool parsed = true;
    absl::Status read =
        ForEachChunk(db_, bucket.handle(), id, where, [&](std::string_view chunk, uint64_t) {
          parsed =
              chunks.emplace_back().ParseFromArray(chunk.data(), static_cast<int>(chunk.size()));
          return parsed;
        });
    if (!read.ok()) return read;
    if (!parsed) {
      return absl::DataLossError(absl::StrCat("trace ", id.Hex(), ": a span chunk in ", where,
                                              " is not a valid SpanChunk"));
    }
    if (chunks.empty()) continue;
    std::vector<const opentelemetry::proto::trace::v1::TracesData*> all;
    for (const auto& c : chunks) all.push_back(&c);
    const TraceIndexTerms terms =
        ComputeIndexTerms(id, TraceChunks(all.data(), all.size()), options_.index);
    absl::StatusOr<uint64_t> segment =
        bucket.segments().Pin(IndexSlot(terms.summary.start_ns), clock_->UnixNanos(),
                              [this]() { return AllocateChunkSeqs(1); });
    if (!segment.ok()) return segment.status();
    bucket.segments().Add(*segment, terms.summary.start_ns, id, StoredStreamsOf(terms));
    bucket.ExtendStartRange(terms.summary.start_ns);
  }
  SealSegments(bucket, /*all=*/true);
  if (bucket.segments().unsealed() > 0) {
    return absl::UnavailableError(
        absl::StrCat("re-indexing ", ids.size(), " traces of ", where, ": a seal failed"));
  }
  // Open runs alone: every marker left is one just recovered.
  const std::string first_marker(1, kSegmentMarkerTag);
  rocksdb::WriteBatch batch;
  batch.DeleteRange(bucket.handle(), first_marker, PrefixSuccessor(first_marker));
  rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &batch);
  spdlog::info("storage: re-indexed {} traces of {} left unsealed by the last run", ids.size(),
               where);
  return FromRocks(s, absl::StrCat("removing index markers of ", where));
}

absl::StatusOr<RocksTraceStore::BucketPtr> RocksTraceStore::BucketForNewTraces(int64_t now_ns,
                                                                               bool* created) {
  *created = false;
  if (now_ns < 0) now_ns = 0;
  std::lock_guard lock(buckets_mu_);
  // A clock that went back keeps writing into the newest bucket.
  if (!buckets_.empty() && now_ns < buckets_.back()->range().end_ns) return buckets_.back();
  BucketRange range;
  range.start_ns = now_ns / bucket_width_ns_ * bucket_width_ns_;
  // Buckets never overlap, also when the width changed since the newest one was created.
  if (!buckets_.empty()) range.start_ns = std::max(range.start_ns, buckets_.back()->range().end_ns);
  range.end_ns = now_ns / bucket_width_ns_ * bucket_width_ns_;
  range.end_ns = range.end_ns > std::numeric_limits<int64_t>::max() - bucket_width_ns_
                     ? std::numeric_limits<int64_t>::max()
                     : range.end_ns + bucket_width_ns_;
  const std::string name = BucketColumnFamilyName(range.start_ns, range.end_ns);
  rocksdb::ColumnFamilyHandle* handle = nullptr;
  rocksdb::Status s = db_->CreateColumnFamily(bucket_options_->cf, name, &handle);
  if (!s.ok()) {
    return FromRocks(s, absl::StrCat("creating bucket ", name, " in storage.path ", path_));
  }
  buckets_.push_back(std::make_shared<RocksBucket>(db_, handle, range, SegmentOptions()));
  *created = true;
  return buckets_.back();
}

std::vector<RocksTraceStore::BucketPtr> RocksTraceStore::SnapshotBuckets() const {
  std::lock_guard lock(buckets_mu_);
  return buckets_;
}

std::vector<RocksTraceStore::BucketPtr> RocksTraceStore::BucketsWithStartsIn(
    int64_t min_start_ns, int64_t max_start_ns) const {
  std::vector<BucketPtr> buckets;
  for (BucketPtr& b : SnapshotBuckets()) {
    if (b->has_traces() && b->max_start() >= min_start_ns && b->min_start() <= max_start_ns) {
      buckets.push_back(std::move(b));
    }
  }
  std::sort(buckets.begin(), buckets.end(),
            [](const BucketPtr& a, const BucketPtr& b) { return a->max_start() > b->max_start(); });
  return buckets;
}

absl::StatusOr<int> RocksTraceStore::EnforceRetention() {
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  std::unique_lock drop_lock(drop_mu_);
  const int64_t now = clock_->UnixNanos();
  const int64_t cutoff = now < std::numeric_limits<int64_t>::min() + options_.retention_ns
                             ? std::numeric_limits<int64_t>::min()
                             : now - options_.retention_ns;
  std::vector<BucketPtr> buckets = SnapshotBuckets();  // oldest first
  size_t drop = 0;
  while (drop < buckets.size() && buckets[drop]->range().end_ns <= cutoff) ++drop;
  const size_t expired = drop;
  if (options_.max_disk_bytes > 0) {
    std::vector<uint64_t> sizes(buckets.size(), 0);
    uint64_t total = 0;
    for (size_t i = 0; i < buckets.size(); ++i) {
      db_->GetIntProperty(buckets[i]->handle(), rocksdb::DB::Properties::kLiveSstFilesSize,
                          &sizes[i]);
      if (i >= drop) total += sizes[i];
    }
    // Never the newest bucket: it is the one being written.
    while (total > options_.max_disk_bytes && drop + 1 < buckets.size()) {
      total -= sizes[drop];
      ++drop;
    }
  }
  for (size_t i = 0; i < drop; ++i) {
    RocksBucket& bucket = *buckets[i];
    const std::string name = bucket.handle()->GetName();
    rocksdb::Status s = db_->DropColumnFamily(bucket.handle());
    if (!s.ok()) {
      return FromRocks(s, absl::StrCat("dropping bucket ", name, " of storage.path ", path_));
    }
    {
      std::lock_guard lock(buckets_mu_);
      buckets_.erase(std::find(buckets_.begin(), buckets_.end(), buckets[i]));
    }
    terms_cache_->ForgetBucket(&bucket);
    buckets_dropped_.fetch_add(1, std::memory_order_relaxed);
    spdlog::info("storage: dropped bucket {} ({})", name,
                 i < expired ? "retention passed" : "storage.max_disk_bytes exceeded");
  }
  if (absl::Status expired_points = ExpireMetricPoints(now); !expired_points.ok()) {
    return expired_points;
  }
  // The handles (and with them the dropped files) go when the last reader releases them.
  return static_cast<int>(drop);
}

void RocksTraceStore::RetentionLoop() {
  std::unique_lock lock(retention_mu_);
  while (!stop_retention_) {
    // Waking is operational wall time; what is old is decided by the store clock.
    retention_cv_.wait_for(lock, std::chrono::milliseconds(options_.retention_check_interval_ms),
                           [this] { return stop_retention_; });
    if (stop_retention_) break;
    lock.unlock();
    // Segments of buckets no write touches any more would otherwise wait for Flush or Close.
    if (CheckFreeSpace().ok()) {
      for (const BucketPtr& b : SnapshotBuckets()) SealSegments(*b, /*all=*/false);
    }
    absl::StatusOr<int> dropped = EnforceRetention();
    if (!dropped.ok())
      spdlog::error("storage: enforcing retention: {}", dropped.status().ToString());
    lock.lock();
  }
}

std::vector<RocksTraceStore::BucketInfo> RocksTraceStore::BucketsForTest() const {
  std::vector<BucketInfo> out;
  for (const BucketPtr& b : SnapshotBuckets()) {
    out.push_back(BucketInfo{b->handle()->GetName(), b->range().start_ns, b->range().end_ns});
  }
  return out;
}

}  // namespace tailtrace::storage
