#pragma once

// Private to daemon/: opening the process's trace stores from the config.

#include <memory>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "config/config.h"
#include "exporter/exporting_trace_store.h"
#include "exporter/otlp_trace_exporter.h"
#include "storage/clickhouse/clickhouse_trace_store.h"
#include "storage/null_trace_store.h"
#include "storage/recovering_trace_store.h"

namespace tailtrace {

// The trace stores of the process: the RocksDB store or the ClickHouse store (storage.backend;
// with storage.enabled false a NullTraceStore) and, with exporters.otlp, the exporter and the
// ExportingTraceStore around the store that feeds it.
struct Stores {
  std::unique_ptr<storage::RecoveringTraceStore> rocks;
  std::unique_ptr<storage::ClickHouseTraceStore> clickhouse;
  std::unique_ptr<storage::NullTraceStore> none;
  std::unique_ptr<exporter::OtlpTraceExporter> exporter;
  std::unique_ptr<exporter::ExportingTraceStore> exporting;

  storage::TraceStore* base() const {
    if (rocks != nullptr) return rocks.get();
    if (clickhouse != nullptr) return clickhouse.get();
    return none.get();
  }
  storage::TraceStore* write_path() const {
    return exporting != nullptr ? static_cast<storage::TraceStore*>(exporting.get()) : base();
  }
  // After the pipeline is gone: the decorator first, then what it refers to.
  void Close() {
    exporting.reset();
    exporter.reset();
    rocks.reset();
    clickhouse.reset();
    none.reset();
  }
};

// Opens the store storage.backend names (none with storage.enabled false) and, with
// exporters.otlp, the exporter around it; registers the store's gauges in `metrics`.
[[nodiscard]] absl::StatusOr<Stores> OpenStores(const config::DaemonConfig& cfg, Clock* clock,
                                                MetricsRegistry* metrics);

}  // namespace tailtrace
