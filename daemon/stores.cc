// The process's trace stores: the RocksDB store behind RecoveringTraceStore, or the ClickHouse
// store, or none; the OTLP exporter around it.

#include "stores.h"

#include <string>

#include "spdlog/spdlog.h"
#include "storage/rocks/rocks_trace_store.h"

namespace tailtrace {
namespace {

// tailtrace_store_writable, for either backend.
void AddWritableGauge(const storage::TraceStore* s, MetricsRegistry* metrics) {
  metrics->SetCallbackGauge(
      "tailtrace_store_writable",
      "1 while the store can write, 0 while a write fault lasts (new data is refused).", {},
      [s] { return s->WriteHealth().ok() ? 1.0 : 0.0; });
}

// A write fault (disk full, EMFILE, EIO) makes the store unwritable, not the process abort: the
// admission gate refuses new data meanwhile and the store reopens itself once the fault clears.
absl::StatusOr<std::unique_ptr<storage::RecoveringTraceStore>> OpenRocksStore(
    const config::DaemonConfig& cfg, Clock* clock, MetricsRegistry* metrics) {
  auto store = storage::RecoveringTraceStore::Create(
      [&cfg, clock]() -> absl::StatusOr<std::unique_ptr<storage::TraceStore>> {
        auto opened = storage::RocksTraceStore::Open(cfg.storage, clock);
        if (!opened.ok()) return opened.status();
        return std::unique_ptr<storage::TraceStore>(*std::move(opened));
      },
      [](storage::TraceStore& s) { return static_cast<storage::RocksTraceStore&>(s).Close(); },
      clock,
      storage::RecoveringTraceStore::Options{.needs_reopen = [](const storage::TraceStore& s) {
        return static_cast<const storage::RocksTraceStore&>(s).NeedsReopen();
      }});
  if (!store.ok()) {
    return absl::Status(store.status().code(),
                        "cannot open the store: " + std::string(store.status().message()));
  }
  storage::RecoveringTraceStore* s = store->get();
  metrics->SetCallbackGauge("tailtrace_store_disk_bytes", "Bytes of the store on disk.", {},
                            [s] { return static_cast<double>(s->Stats().disk_bytes); });
  metrics->SetCallbackGauge(
      "tailtrace_store_background_jobs",
      "RocksDB flushes and compactions of the store running or due (0 once it caught up).", {},
      [s] { return static_cast<double>(s->Stats().background_jobs); });
  metrics->SetCallbackGauge(
      "tailtrace_store_pending_compaction_bytes",
      "Bytes RocksDB estimates the store's compactions still have to rewrite.", {},
      [s] { return static_cast<double>(s->Stats().pending_compaction_bytes); });
  AddWritableGauge(s, metrics);
  metrics->SetCallbackGauge("tailtrace_store_reopens_total",
                            "Times the store was reopened to recover from a write fault.", {},
                            [s] { return static_cast<double>(s->reopens()); });
  return store;
}

// The ClickHouse store; its write failures are the server's, and clear when it answers again
// (no reopening). Start-up fails when the server cannot be reached.
absl::StatusOr<std::unique_ptr<storage::ClickHouseTraceStore>> OpenClickHouseStore(
    const config::DaemonConfig& cfg, Clock* clock, MetricsRegistry* metrics) {
  auto store = storage::ClickHouseTraceStore::Open(cfg.storage, clock);
  if (!store.ok()) {
    return absl::Status(store.status().code(), "cannot open the ClickHouse store: " +
                                                   std::string(store.status().message()));
  }
  storage::ClickHouseTraceStore* s = store->get();
  AddWritableGauge(s, metrics);
  return store;
}

}  // namespace

absl::StatusOr<Stores> OpenStores(const config::DaemonConfig& cfg, Clock* clock,
                                  MetricsRegistry* metrics) {
  Stores stores;
  if (cfg.storage_enabled && cfg.storage.backend == storage::StorageBackend::kClickHouse) {
    auto clickhouse = OpenClickHouseStore(cfg, clock, metrics);
    if (!clickhouse.ok()) return clickhouse.status();
    stores.clickhouse = *std::move(clickhouse);
  } else if (cfg.storage_enabled) {
    auto rocks = OpenRocksStore(cfg, clock, metrics);
    if (!rocks.ok()) return rocks.status();
    stores.rocks = *std::move(rocks);
  } else {
    stores.none = std::make_unique<storage::NullTraceStore>();
    spdlog::info("storage: disabled; kept traces are only exported");
  }
  if (cfg.otlp_exporter) {
    const exporter::OtlpExporterOptions& options = *cfg.otlp_exporter;
    auto otlp = exporter::OtlpTraceExporter::Create(options, clock, metrics);
    if (!otlp.ok()) return otlp.status();
    stores.exporter = *std::move(otlp);
    stores.exporting =
        std::make_unique<exporter::ExportingTraceStore>(stores.base(), stores.exporter.get());
    spdlog::info("exporters.otlp: every kept trace is also sent to {} over {}{}", options.endpoint,
                 exporter::ProtocolName(options.protocol),
                 options.compression == exporter::OtlpCompression::kGzip ? " (gzip)" : "");
  }
  return stores;
}

}  // namespace tailtrace
