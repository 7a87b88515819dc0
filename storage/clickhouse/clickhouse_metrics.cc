// ClickHouseTraceStore: the span metrics' history (storage/metric_points.h). Each write appends
// its points; reading adds up the points of each series and slot in write order by the one rule
// every store applies (AddMetricPoint), so a point may be written in any number of parts.

#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clickhouse_client.h"
#include "clickhouse_rows.h"
#include "clickhouse_sql.h"
#include "row_binary.h"
#include "schema.h"
#include "storage/clickhouse/clickhouse_trace_store.h"

namespace tailtrace::storage {
namespace {

void AppendPointRow(const MetricPoint& p, uint64_t write_id, std::string* out) {
  clickhouse::RowBinaryWriter w(out);
  w.UInt16(clickhouse::DayOf(p.time_ns));
  w.String(p.series.service);
  w.String(p.series.operation);
  w.UInt8(static_cast<uint8_t>(p.series.span_kind));
  w.UInt8(static_cast<uint8_t>(p.series.status_code));
  w.Int64(p.time_ns);
  w.UInt64(write_id);
  w.UInt64(p.calls);
  w.Length(p.bounds_ms.size());
  for (double b : p.bounds_ms) w.Float64(b);
  w.Length(p.counts.size());
  for (uint64_t c : p.counts) w.UInt64(c);
  w.Float64(p.sum_ms);
}

bool ReadPointRow(clickhouse::RowBinaryReader& in, MetricPoint* p) {
  std::string_view service, operation;
  uint8_t kind = 0, status = 0;
  uint64_t bounds = 0, counts = 0;
  if (!in.String(&service) || !in.String(&operation) || !in.Fixed(&kind) || !in.Fixed(&status) ||
      !in.Fixed(&p->time_ns) || !in.Fixed(&p->calls) || !in.Length(&bounds)) {
    return false;
  }
  p->series = MetricSeries{std::string(service), std::string(operation), kind, status};
  p->bounds_ms.resize(bounds);
  for (double& b : p->bounds_ms) {
    if (!in.Fixed(&b)) return false;
  }
  if (!in.Length(&counts)) return false;
  p->counts.resize(counts);
  for (uint64_t& c : p->counts) {
    if (!in.Fixed(&c)) return false;
  }
  return in.Fixed(&p->sum_ms);
}

}  // namespace

absl::Status ClickHouseTraceStore::WriteMetricPoints(std::span<const MetricPoint> points) {
  for (const MetricPoint& point : points) {
    if (absl::Status valid = ValidateMetricPoint(point); !valid.ok()) return valid;
  }
  if (points.empty()) return absl::OkStatus();
  std::string rows;
  const uint64_t write_id = NextWriteId();
  for (const MetricPoint& point : points) AppendPointRow(point, write_id, &rows);
  return InsertInto(tables_->metric_points, rows);
}

absl::StatusOr<std::vector<MetricPoint>> ClickHouseTraceStore::ReadMetricPoints(
    const MetricPointQuery& query) {
  if (absl::Status valid = ValidateMetricPointQuery(query); !valid.ok()) return valid;
  std::vector<std::string> services;
  for (const std::string& s : query.services) services.push_back(clickhouse::Quote(s));
  absl::StatusOr<std::string> body = Query(absl::StrCat(
      "SELECT service, operation, span_kind, status_code, time_ns, calls, bounds_ms, counts, "
      "sum_ms FROM ",
      tables_->metric_points, " WHERE service IN (", absl::StrJoin(services, ", "),
      ") AND time_ns >= ", query.start_ns, " AND time_ns <= ", query.end_ns,
      " ORDER BY write_id FORMAT RowBinary"));
  if (!body.ok()) return body.status();
  std::map<std::tuple<MetricSeries, int64_t>, MetricPoint> points;
  clickhouse::RowBinaryReader in(*body);
  while (!in.done()) {
    MetricPoint p;
    if (!ReadPointRow(in, &p)) {
      return absl::InternalError("ClickHouse answered a malformed metric point");
    }
    auto [it, inserted] = points.try_emplace({p.series, p.time_ns}, p);
    if (!inserted) AddMetricPoint(it->second, p);
  }
  std::vector<MetricPoint> out;
  out.reserve(points.size());
  for (auto& [key, point] : points) out.push_back(std::move(point));
  return out;
}

}  // namespace tailtrace::storage
