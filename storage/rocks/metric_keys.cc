#include "metric_keys.h"

#include <algorithm>
#include <bit>
#include <utility>

#include "storage/index/keys.h"

namespace tailtrace::storage {
namespace {

void PutDouble(std::string* dst, double v) { PutFixed64BE(dst, std::bit_cast<uint64_t>(v)); }

bool GetDouble(std::string_view* src, double* v) {
  if (src->size() < 8) return false;
  *v = std::bit_cast<double>(DecodeFixed64BE(src->substr(0, 8)));
  src->remove_prefix(8);
  return true;
}

// The point count a value may hold at most: far above any configured histogram, so that a corrupt
// value cannot make the decoder allocate gigabytes.
constexpr uint32_t kMaxBounds = 4096;

}  // namespace

std::string MetricServicePrefix(std::string_view service) {
  std::string key;
  PutLengthPrefixed(&key, service);
  return key;
}

std::string MetricServiceTimePrefix(std::string_view service, int64_t time_ns) {
  std::string key = MetricServicePrefix(service);
  PutFixed64BE(&key, static_cast<uint64_t>(std::max<int64_t>(time_ns, 0)));
  return key;
}

std::string MetricPointKey(const MetricSeries& series, int64_t time_ns) {
  std::string key = MetricServiceTimePrefix(series.service, time_ns);
  PutLengthPrefixed(&key, series.operation);
  PutVarint32(&key, static_cast<uint32_t>(series.span_kind));
  PutVarint32(&key, static_cast<uint32_t>(series.status_code));
  return key;
}

std::optional<std::string> DecodeMetricKeyService(std::string_view key) {
  std::string_view service;
  if (!GetLengthPrefixed(&key, &service)) return std::nullopt;
  return std::string(service);
}

std::optional<std::pair<MetricSeries, int64_t>> DecodeMetricPointKey(std::string_view key) {
  std::string_view service, operation;
  if (!GetLengthPrefixed(&key, &service) || key.size() < 8) return std::nullopt;
  const uint64_t time = DecodeFixed64BE(key.substr(0, 8));
  key.remove_prefix(8);
  uint32_t kind = 0, status = 0;
  if (!GetLengthPrefixed(&key, &operation) || !GetVarint32(&key, &kind) ||
      !GetVarint32(&key, &status) || !key.empty() || time > INT64_MAX) {
    return std::nullopt;
  }
  MetricSeries series{std::string(service), std::string(operation), static_cast<int>(kind),
                      static_cast<int>(status)};
  return std::make_pair(std::move(series), static_cast<int64_t>(time));
}

std::string EncodeMetricValue(const MetricPoint& point) {
  std::string value;
  PutVarint64(&value, point.calls);
  PutVarint32(&value, static_cast<uint32_t>(point.bounds_ms.size()));
  for (double bound : point.bounds_ms) PutDouble(&value, bound);
  for (uint64_t count : point.counts) PutVarint64(&value, count);
  PutDouble(&value, point.sum_ms);
  return value;
}

bool DecodeMetricValue(std::string_view value, MetricPoint* point) {
  uint32_t n = 0;
  if (!GetVarint64(&value, &point->calls) || !GetVarint32(&value, &n) || n > kMaxBounds) {
    return false;
  }
  point->bounds_ms.resize(n);
  for (double& bound : point->bounds_ms) {
    if (!GetDouble(&value, &bound)) return false;
  }
  point->counts.resize(n + 1);
  for (uint64_t& count : point->counts) {
    if (!GetVarint64(&value, &count)) return false;
  }
  return GetDouble(&value, &point->sum_ms) && value.empty();
}

}  // namespace tailtrace::storage
