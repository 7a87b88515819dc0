#include "collector/span_log.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <span>

#include "absl/strings/str_cat.h"
#include "collector/lz4_frame.h"
#include "spdlog/spdlog.h"
#include "wal/wal.h"

namespace tailtrace::collector {

namespace {

constexpr size_t kRecordHeaderBytes = 9;
// LZ4 cannot expand its input more than 255 times: a frame declaring more content is corrupt.
constexpr uint64_t kMaxLz4Expansion = 255;

int64_t GetI64(const char* at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(at[i]);
  return static_cast<int64_t>(v);
}

// The request bytes of a record's payload: what follows its header (format 1) or that LZ4 frame's
// content, decoded into `*scratch` (format 2). DataLoss or InvalidArgument naming the problem.
absl::StatusOr<std::string_view> RequestBytes(std::string_view payload, std::string* scratch) {
  if (payload.size() < kRecordHeaderBytes) {
    return absl::DataLossError(absl::StrCat("record of ", payload.size(), " bytes, shorter than ",
                                            "its header (", kRecordHeaderBytes, " bytes)"));
  }
  const std::string_view body = payload.substr(kRecordHeaderBytes);
  switch (static_cast<SpanLog::RecordFormat>(payload[0])) {
    case SpanLog::RecordFormat::kRaw:
      return body;
    case SpanLog::RecordFormat::kLz4: {
      absl::StatusOr<std::string> content =
          Lz4FrameDecompress(body, kMaxLz4Expansion * body.size());
      if (!content.ok()) return content.status();
      *scratch = *std::move(content);
      return std::string_view(*scratch);
    }
  }
  return absl::DataLossError(
      absl::StrCat("unknown record format ", static_cast<int>(static_cast<uint8_t>(payload[0]))));
}

}  // namespace

std::string SpanLog::RecordHeader(int64_t arrival_unix_ns, RecordFormat format) {
  std::string header(kRecordHeaderBytes, '\0');
  header[0] = static_cast<char>(format);
  const auto v = static_cast<uint64_t>(arrival_unix_ns);
  for (int i = 0; i < 8; ++i) header[1 + i] = static_cast<char>(v >> (8 * i));
  return header;
}

SpanLog::SpanLog(const DurabilityOptions& options, uint32_t num_shards, MetricsRegistry* metrics)
    : options_(options),
      shard_oldest_(new std::atomic<uint64_t>[num_shards]),
      num_shards_(num_shards),
      appended_records_(metrics->GetCounter("tailtrace_wal_appended_records_total",
                                            "Requests written to the write-ahead log.")),
      appended_bytes_(metrics->GetCounter("tailtrace_wal_appended_bytes_total",
                                          "Bytes written to the write-ahead log.")),
      append_errors_(metrics->GetCounter(
          "tailtrace_wal_append_errors_total",
          "Requests refused because the write-ahead log could not be written.")),
      truncate_errors_(metrics->GetCounter("tailtrace_wal_truncate_errors_total",
                                           "Failed deletions of write-ahead log segments.")),
      replayed_records_(metrics->GetCounter("tailtrace_wal_replayed_records_total",
                                            "Requests read back from the write-ahead log.")),
      corrupt_records_(metrics->GetCounter(
          "tailtrace_wal_corrupt_records_total",
          "Records of the write-ahead log skipped on start-up (bad checksum or format).")),
      append_latency_(metrics->GetHistogram("tailtrace_wal_append_duration_seconds",
                                            "Latency of one write-ahead log append (and sync).",
                                            MetricsRegistry::LatencyBuckets())) {
  for (uint32_t i = 0; i < num_shards; ++i) shard_oldest_[i].store(kNothingHeld);
}

SpanLog::~SpanLog() = default;

absl::StatusOr<std::unique_ptr<SpanLog>> SpanLog::Create(const DurabilityOptions& options,
                                                         uint32_t num_shards,
                                                         MetricsRegistry* metrics) {
  if (options.wal_dir.empty()) return absl::InvalidArgumentError("wal.path is empty");
  if (num_shards == 0 || metrics == nullptr) {
    return absl::InvalidArgumentError("span log: shards and metrics are required");
  }
  std::unique_ptr<SpanLog> log(new SpanLog(options, num_shards, metrics));
  metrics->SetCallbackGauge("tailtrace_wal_segments", "Segment files of the write-ahead log.", {},
                            [p = log.get()] { return static_cast<double>(p->segments()); });
  metrics->SetCallbackGauge("tailtrace_wal_bytes", "Bytes of the write-ahead log on disk.", {},
                            [p = log.get()] { return static_cast<double>(p->bytes()); });
  return log;
}

absl::Status SpanLog::Open(const ReplayFn& replay) {
  wal::WalOptions options;
  options.dir = options_.wal_dir;
  options.fsync = options_.fsync;
  options.segment_bytes = options_.segment_bytes;
  uint64_t bad_format = 0;
  std::string first_problem;
  std::string scratch;
  const auto on_record = [&](uint64_t lsn, std::string_view payload) {
    const absl::StatusOr<std::string_view> request = RequestBytes(payload, &scratch);
    if (!request.ok()) {
      if (bad_format++ == 0) first_problem = absl::StrCat(lsn, ": ", request.status().message());
      return;
    }
    {
      std::lock_guard lock(mu_);
      pins_.Hold(lsn);
    }
    replayed_records_->Increment();
    replay(lsn, GetI64(payload.data() + 1), *request);
  };
  wal::ReplayStats stats;
  absl::StatusOr<std::unique_ptr<wal::Wal>> opened = wal::Wal::Open(options, on_record, &stats);
  if (!opened.ok()) return opened.status();
  corrupt_records_->Increment(stats.corrupt_records + bad_format);
  if (stats.records > 0 || stats.corrupt_records > 0 || stats.torn_tail_bytes > 0) {
    spdlog::info(
        "wal: replayed {} requests ({} bytes) from {}; {} corrupt records skipped, {} torn bytes "
        "cut",
        stats.records - bad_format, stats.payload_bytes, options_.wal_dir,
        stats.corrupt_records + bad_format, stats.torn_tail_bytes);
  }
  if (bad_format > 0) {
    spdlog::warn(
        "wal: {} records in {} hold no readable request and were skipped (the first, LSN {})",
        bad_format, options_.wal_dir, first_problem);
  }
  std::lock_guard lock(mu_);
  wal_ = *std::move(opened);
  return absl::OkStatus();
}

void SpanLog::Unpin(uint64_t lsn) {
  std::lock_guard lock(mu_);
  pins_.Release(lsn);
}

absl::StatusOr<uint64_t> SpanLog::Append(const WireRequest& request, int64_t arrival_unix_ns) {
  if (request.scanned_size == 0 || request.scanned_size > request.bytes.size()) {
    // Replay could not give its spans back: refuse rather than acknowledge.
    return absl::InternalError("write-ahead log: the request was not scanned");
  }
  const std::string_view scanned = std::string_view(request.bytes).substr(0, request.scanned_size);
  std::string packed;
  if (options_.compress) packed = Lz4FrameCompress(std::span(&scanned, 1));
  // Without compression, or should lz4 fail (out of memory), the bytes go as they are.
  const RecordFormat format = packed.empty() ? RecordFormat::kRaw : RecordFormat::kLz4;
  const std::string header = RecordHeader(arrival_unix_ns, format);
  const std::array<std::string_view, 2> pieces{header, packed.empty() ? scanned : packed};
  wal::Wal* wal = nullptr;
  uint64_t lsn = kNoLsn;
  {
    std::lock_guard lock(mu_);
    if (wal_ == nullptr) return absl::FailedPreconditionError("wal: not open");
    wal = wal_.get();
    lsn = wal->next_lsn();
    pins_.Hold(lsn);
  }
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<uint64_t> appended = wal->Append(pieces);
  append_latency_->Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (!appended.ok()) {
    Unpin(lsn);
    append_errors_->Increment();
    return absl::UnavailableError(
        absl::StrCat("write-ahead log: ", std::string(appended.status().message())));
  }
  appended_records_->Increment();
  appended_bytes_->Increment(header.size() + pieces[1].size());
  return lsn;
}

void SpanLog::SetOldestHeld(uint32_t shard, uint64_t lsn) {
  shard_oldest_[shard].store(lsn, std::memory_order_release);
}

void SpanLog::Truncate() {
  uint64_t limit = kNothingHeld;
  wal::Wal* wal = nullptr;
  {
    // Pins first, then the shards: a record unpinned meanwhile was taken by its shards before.
    std::lock_guard lock(mu_);
    if (wal_ == nullptr) return;
    wal = wal_.get();
    limit = std::min(wal->next_lsn(), pins_.oldest());
  }
  for (uint32_t i = 0; i < num_shards_; ++i) {
    limit = std::min(limit, shard_oldest_[i].load(std::memory_order_acquire));
  }
  absl::Status s = wal->DeleteBefore(limit);
  if (!s.ok()) truncate_errors_->Increment();
  // Logged when deleting starts or stops failing, not on every attempt.
  if (truncate_failing_.exchange(!s.ok()) != !s.ok()) {
    if (s.ok()) {
      spdlog::info("wal: segments are deleted again");
    } else {
      spdlog::warn("{} (segments are kept until deleting succeeds)", std::string(s.message()));
    }
  }
}

uint64_t SpanLog::segments() const {
  std::lock_guard lock(mu_);
  return wal_ == nullptr ? 0 : wal_->segments();
}

uint64_t SpanLog::bytes() const {
  std::lock_guard lock(mu_);
  return wal_ == nullptr ? 0 : wal_->bytes();
}

}  // namespace tailtrace::collector
