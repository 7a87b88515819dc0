#pragma once

// The collector's write-ahead log (wal/wal.h): every accepted request is appended before the
// client is answered, so an acknowledged span outlives a crash of the process (and, with fsync,
// of the machine). On start-up the records are replayed into the sampler shards; a record is
// deleted (whole segments at a time) once no span of it is held anywhere undecided or unwritten.
//
// What is held, and by whom: a record is "pinned" from its append until every shard has taken
// its spans into its buffer; from then on each shard holds the LSNs of the records its buffered
// traces and unwritten decided traces came from, and publishes the oldest one. A record may go
// once it is older than every pin and every shard's oldest. A pin is taken before the append,
// with the log's next LSN (never more than the LSN the record gets), so that a record is never
// deleted between its write and its pin.
//
// A record: u8 format | i64 arrival, Unix ns (little endian) | the request's wire bytes as
// scanned (WireRequest::scanned_size): as they are (format 1) or as one LZ4 frame (format 2,
// collector/lz4_frame.h; DurabilityOptions::compress).

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "collector/lsn_holds.h"
#include "collector/options.h"
#include "common/metrics.h"
#include "proto/otlp_wire.h"

namespace tailtrace::wal {
class Wal;
}

namespace tailtrace::collector {

// Thread-safe.
class SpanLog {
 public:
  // No I/O yet (see Open). `options.wal_dir` must be set; `metrics` must outlive the log.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SpanLog>> Create(
      const DurabilityOptions& options, uint32_t num_shards, MetricsRegistry* metrics);
  ~SpanLog();

  // Reads the log: calls `replay` for every intact record in LSN order (each pinned under its
  // LSN before the call, see Pin), then appends after the last one. Corrupt records and a torn
  // tail are skipped and logged. Fails naming the directory or file on an I/O error.
  using ReplayFn =
      std::function<void(uint64_t lsn, int64_t arrival_unix_ns, std::string_view request_bytes)>;
  [[nodiscard]] absl::Status Open(const ReplayFn& replay);

  // Appends `request` (arrived at `arrival_unix_ns`) and returns the LSN it is pinned under until
  // Unpin. Unavailable, naming the file and the cause, when it cannot be written (then nothing is
  // pinned and the record will not be replayed).
  [[nodiscard]] absl::StatusOr<uint64_t> Append(const WireRequest& request,
                                                int64_t arrival_unix_ns);
  void Unpin(uint64_t lsn);

  // Shard `shard`'s oldest held LSN (kNothingHeld when it holds none), published by the shard's
  // thread after it took a record's spans and before it releases the record's pin.
  void SetOldestHeld(uint32_t shard, uint64_t lsn);

  // Deletes the segments whose records are all older than every pin and every shard's oldest.
  // Cheap when there is nothing to delete; errors are logged and counted.
  void Truncate();

  // Segment files and their bytes on disk.
  uint64_t segments() const;
  uint64_t bytes() const;

  // How a record holds its request's bytes.
  enum class RecordFormat : char { kRaw = 1, kLz4 = 2 };
  // Builds a record's payload header; exposed for tests.
  static std::string RecordHeader(int64_t arrival_unix_ns,
                                  RecordFormat format = RecordFormat::kRaw);

 private:
  SpanLog(const DurabilityOptions& options, uint32_t num_shards, MetricsRegistry* metrics);

  const DurabilityOptions options_;
  mutable std::mutex mu_;
  std::unique_ptr<wal::Wal> wal_ ABSL_GUARDED_BY(mu_);
  // Requests appended (or replayed) and not yet taken by every shard they went to.
  LsnHolds pins_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<std::atomic<uint64_t>[]> shard_oldest_;
  const uint32_t num_shards_;
  std::atomic<bool> truncate_failing_{false};

  Counter* appended_records_;
  Counter* appended_bytes_;
  Counter* append_errors_;
  Counter* truncate_errors_;
  Counter* replayed_records_;
  Counter* corrupt_records_;
  Histogram* append_latency_;
};

}  // namespace tailtrace::collector
