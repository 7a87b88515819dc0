// RocksTraceStore's span metrics history: points in the "span_metrics" column family (layout in
// metric_keys.h), added up by its merge operator (rocks_options.cc), expired by time with one
// DeleteRange per service.

#include <algorithm>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "metric_keys.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"
#include "spdlog/spdlog.h"
#include "storage/index/keys.h"
#include "storage/rocks/rocks_trace_store.h"

namespace tailtrace::storage {
absl::Status RocksTraceStore::WriteMetricPoints(std::span<const MetricPoint> points) {
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  for (const MetricPoint& point : points) {
    if (absl::Status valid = ValidateMetricPoint(point); !valid.ok()) return valid;
  }
  if (absl::Status health = WriteHealth(); !health.ok()) return health;
  if (absl::Status space = CheckFreeSpace(); !space.ok()) return space;
  rocksdb::WriteBatch batch;
  for (const MetricPoint& point : points) {
    rocksdb::Status s = batch.Merge(metrics_cf_, MetricPointKey(point.series, point.time_ns),
                                    EncodeMetricValue(point));
    if (!s.ok()) return FromRocks(s, "batching span metric points");
  }
  rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &batch);
  return FromRocks(s, absl::StrCat("writing span metric points to storage.path ", path_));
}

absl::StatusOr<std::vector<MetricPoint>> RocksTraceStore::ReadMetricPoints(
    const MetricPointQuery& query) {
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  if (absl::Status valid = ValidateMetricPointQuery(query); !valid.ok()) return valid;
  std::vector<MetricPoint> out;
  for (const std::string& service :
       std::set<std::string>(query.services.begin(), query.services.end())) {
    const std::string lower = MetricServiceTimePrefix(service, query.start_ns);
    const std::string upper = query.end_ns == std::numeric_limits<int64_t>::max()
                                  ? PrefixSuccessor(MetricServicePrefix(service))
                                  : MetricServiceTimePrefix(service, query.end_ns + 1);
    const rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, metrics_cf_));
    for (it->Seek(lower); it->Valid(); it->Next()) {
      auto key = DecodeMetricPointKey(it->key().ToStringView());
      MetricPoint point;
      if (!key || !DecodeMetricValue(it->value().ToStringView(), &point)) {
        return absl::DataLossError(absl::StrCat("a span metric point of service \"", service,
                                                "\" in storage.path ", path_, " is corrupt"));
      }
      point.series = std::move(key->first);
      point.time_ns = key->second;
      out.push_back(std::move(point));
    }
    if (!it->status().ok()) return FromRocks(it->status(), "reading span metric points");
  }
  std::sort(out.begin(), out.end(), [](const MetricPoint& a, const MetricPoint& b) {
    return std::tie(a.series, a.time_ns) < std::tie(b.series, b.time_ns);
  });
  return out;
}

absl::Status RocksTraceStore::ExpireMetricPoints(int64_t now_ns) {
  const int64_t retention =
      options_.metrics_retention_ns > 0 ? options_.metrics_retention_ns : options_.retention_ns;
  if (now_ns <= retention) return absl::OkStatus();
  const int64_t cutoff = now_ns - retention;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), metrics_cf_));
  // The first live key of each service is its oldest point: a range is deleted only when it
  // holds something, so idle services add no tombstones.
  for (it->SeekToFirst(); it->Valid();) {
    const auto key = DecodeMetricPointKey(it->key().ToStringView());
    const std::optional<std::string> service = DecodeMetricKeyService(it->key().ToStringView());
    if (!service) break;  // not a point key: nothing of ours follows
    if (key && key->second < cutoff) {
      rocksdb::Status s =
          db_->DeleteRange(rocksdb::WriteOptions(), metrics_cf_, MetricServicePrefix(*service),
                           MetricServiceTimePrefix(*service, cutoff));
      if (!s.ok()) return FromRocks(s, "expiring span metric points");
    }
    it->Seek(PrefixSuccessor(MetricServicePrefix(*service)));
  }
  return FromRocks(it->status(), "expiring span metric points");
}

}  // namespace tailtrace::storage
