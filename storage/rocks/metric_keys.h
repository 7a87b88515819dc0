#pragma once

// Private to storage/: key and value encoding of the span metrics history in the RocksDB store's
// "span_metrics" column family (see keys.h, "Column families"). Pure functions.
//
//   varint32 len(service) | service | time_ns(8 BE) | varint32 len(operation) | operation |
//   varint32 span_kind | varint32 status_code
//       ->  varint64 calls | varint32 n | n x bound(8, IEEE 754 bits) | (n + 1) x varint64 count |
//           sum(8, IEEE 754 bits)
//
// One service's points are contiguous and in time order, so a query reads one range per service
// and retention deletes one range per service (DeleteRange, no scan of the points). Values are
// added up by a merge operator (AddMetricPoint's rule).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/metric_points.h"

namespace tailtrace::storage {

inline constexpr char kMetricsColumnFamily[] = "span_metrics";

std::string MetricPointKey(const MetricSeries& series, int64_t time_ns);
// The keys of `service` whose time is >= time_ns (negative times count as 0).
std::string MetricServiceTimePrefix(std::string_view service, int64_t time_ns);
// Series and time of a key; nullopt when it is not one.
std::optional<std::pair<MetricSeries, int64_t>> DecodeMetricPointKey(std::string_view key);
// The service of a key (the range of its points is [MetricServiceTimePrefix(service, 0),
// PrefixSuccessor(MetricServicePrefix(service)))).
std::optional<std::string> DecodeMetricKeyService(std::string_view key);
std::string MetricServicePrefix(std::string_view service);

// The value of a point (calls and histogram; series and time are in the key).
std::string EncodeMetricValue(const MetricPoint& point);
// Fills calls, bounds_ms, counts and sum_ms; false when `value` is not an encoded point.
bool DecodeMetricValue(std::string_view value, MetricPoint* point);

}  // namespace tailtrace::storage
