#pragma once

// A write-ahead log of opaque records in a directory of segment files, for durable
// acknowledgements: a record is appended before the client is answered, read back on start-up,
// and deleted whole segments at a time once everything in them has been stored.
//
// On disk: segment files "<first LSN, 20 digits>.wal", each a sequence of frames
//   u32 payload length | u32 CRC-32 of (LSN and payload) | u64 LSN | payload      (little endian)
// LSNs (log sequence numbers) start at 1 and grow by one per record across segments.
//
// The collector's use of it (what a record holds, when it is deleted) is collector/span_log.h.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tailtrace::wal {

struct WalOptions {
  // Directory of the segment files; created if missing.
  // Default: "" (required)
  std::string dir;
  // fdatasync after each write, so an appended record survives a power loss. Concurrent appenders
  // share one write and one fdatasync (group commit). Without it a record survives a crash of the
  // process (it is in the OS page cache once Append returns), not of the machine.
  // Default: false
  bool fsync = false;
  // A segment is closed and a new one started once it holds at least this many bytes.
  // Default: 64 MiB
  uint64_t segment_bytes = 64ull << 20;
  // Largest payload accepted by Append and by Replay (a frame announcing more is corrupt).
  // Default: 1 GiB
  uint64_t max_record_bytes = 1ull << 30;
};

// What Replay found.
struct ReplayStats {
  uint64_t records = 0;
  uint64_t payload_bytes = 0;
  // Records skipped because their CRC did not match (the frame itself was readable).
  uint64_t corrupt_records = 0;
  // Bytes cut from the end of the last segment: a frame torn by a crash during its write.
  uint64_t torn_tail_bytes = 0;
  // Highest LSN read (0 when the log is empty).
  uint64_t last_lsn = 0;
};

class Wal {
 public:
  // Opens `options.dir`: reads every segment (calling `on_record` for each intact record in LSN
  // order, with `stats` filled in), cuts a torn tail off the last segment, and appends after the
  // highest LSN found. `on_record` may be null. Fails naming the directory or file on an I/O
  // error or when a segment cannot be understood (an unreadable frame before the end of a segment
  // that is not the last).
  using RecordFn = std::function<void(uint64_t lsn, std::string_view payload)>;
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Wal>> Open(const WalOptions& options,
                                                                 const RecordFn& on_record,
                                                                 ReplayStats* stats);
  ~Wal();

  // Appends one record and returns its LSN once it is written (and synced with `fsync`).
  // Thread-safe; concurrent calls are batched into one write. On an I/O error (e.g. no space)
  // returns Unavailable naming the file; that record and those batched with it are not in the
  // log (the file is cut back to where the batch began), and later appends may succeed.
  [[nodiscard]] absl::StatusOr<uint64_t> Append(std::string_view payload);
  // Appends one record whose payload is the concatenation of `pieces` (no copy is made to join
  // them).
  [[nodiscard]] absl::StatusOr<uint64_t> Append(std::span<const std::string_view> pieces);

  // The LSN the next record will get: every later Append returns at least this. Thread-safe.
  uint64_t next_lsn() const;

  // Deletes every segment whose records all have LSN < `lsn`: the closed ones, and the one being
  // written once no write is under way (the next Append starts a new segment). Thread-safe.
  [[nodiscard]] absl::Status DeleteBefore(uint64_t lsn);

  // Segment files currently in the directory, and their total bytes.
  uint64_t segments() const;
  uint64_t bytes() const;

 private:
  class Impl;
  explicit Wal(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tailtrace::wal
