#include "wal/wal.h"

#include <fcntl.h>
#include <libdeflate.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tailtrace::wal {
namespace {

namespace fs = std::filesystem;

constexpr size_t kHeaderBytes = 16;  // length, CRC, LSN
constexpr size_t kSegmentNameDigits = 20;
constexpr std::string_view kSegmentSuffix = ".wal";

absl::Status ErrnoError(const char* what, const std::string& path, int error_number) {
  return absl::UnavailableError(
      absl::StrCat("wal: ", what, " \"", path, "\": ", std::strerror(error_number)));
}

void PutU32(char* at, uint32_t v) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<char>(v >> (8 * i));
}
void PutU64(char* at, uint64_t v) {
  for (int i = 0; i < 8; ++i) at[i] = static_cast<char>(v >> (8 * i));
}
uint32_t GetU32(const char* at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(at[i]);
  return v;
}
uint64_t GetU64(const char* at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(at[i]);
  return v;
}

// CRC-32 (gzip's, as zlib's crc32) with libdeflate: several times zlib 1.2's speed (PCLMUL).
uint32_t Crc32(uint32_t crc, std::string_view bytes) {
  return libdeflate_crc32(crc, bytes.data(), bytes.size());
}

// CRC-32 of the LSN's 8 bytes followed by the payload.
uint32_t FrameCrc(const char* lsn_bytes, std::string_view payload) {
  return Crc32(Crc32(0, std::string_view(lsn_bytes, 8)), payload);
}

// CRC-32 of the concatenated pieces.
uint32_t PiecesCrc(std::span<const std::string_view> pieces) {
  uint32_t crc = 0;
  for (std::string_view piece : pieces) crc = Crc32(crc, piece);
  return crc;
}

// Appends the frame of a payload (the concatenated `pieces`, `size` bytes, whose CRC-32 is
// `payload_crc`) with `lsn`. The frame's CRC covers LSN and payload; combining the two CRCs
// keeps the pass over the payload out of the caller's lock.
void AppendFrame(uint64_t lsn, std::span<const std::string_view> pieces, uint64_t size,
                 uint32_t payload_crc, std::string* out) {
  char header[kHeaderBytes];
  PutU32(header, static_cast<uint32_t>(size));
  PutU64(header + 8, lsn);
  const uLong lsn_crc = Crc32(0, std::string_view(header + 8, 8));
  PutU32(header + 4,
         static_cast<uint32_t>(crc32_combine(lsn_crc, payload_crc, static_cast<z_off_t>(size))));
  out->append(header, kHeaderBytes);
  for (std::string_view piece : pieces) out->append(piece);
}

std::string SegmentName(uint64_t first_lsn) {
  return absl::StrFormat("%020u%s", first_lsn, kSegmentSuffix);
}

// The first LSN a segment file name stands for, or 0 when the name is not a segment's.
uint64_t ParseSegmentName(const std::string& name) {
  if (name.size() != kSegmentNameDigits + kSegmentSuffix.size() ||
      name.substr(kSegmentNameDigits) != kSegmentSuffix) {
    return 0;
  }
  uint64_t lsn = 0;
  for (size_t i = 0; i < kSegmentNameDigits; ++i) {
    if (name[i] < '0' || name[i] > '9') return 0;
    lsn = lsn * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  return lsn;
}

absl::Status WriteAll(int fd, const std::string& path, std::string_view data, uint64_t offset) {
  while (!data.empty()) {
    const ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open directory", dir, errno);
  const int rc = ::fsync(fd);
  const int error_number = errno;
  ::close(fd);
  if (rc != 0) return ErrnoError("cannot sync directory", dir, error_number);
  return absl::OkStatus();
}

struct Segment {
  std::string path;
  uint64_t first_lsn = 0;
  uint64_t last_lsn = 0;  // 0 while nothing is in it
  uint64_t bytes = 0;
};

// One group-commit batch: the frames of every Append that joined it.
struct Batch {
  std::string frames;
  uint64_t first_lsn = 0;
  uint64_t last_lsn = 0;
  bool done = false;
  absl::Status status;
};

}  // namespace

class Wal::Impl {
 public:
  explicit Impl(const WalOptions& options) : options_(options) {}
  ~Impl() { CloseActive(); }

  absl::Status Replay(const RecordFn& on_record, ReplayStats* stats);
  absl::StatusOr<uint64_t> Append(std::span<const std::string_view> pieces);
  absl::Status DeleteBefore(uint64_t lsn);

  uint64_t next_lsn() const {
    std::lock_guard lock(mu_);
    return next_lsn_;
  }

  uint64_t segments() const {
    std::lock_guard lock(mu_);
    return closed_.size() + (active_bytes_ > 0 ? 1 : 0);
  }
  uint64_t bytes() const {
    std::lock_guard lock(mu_);
    uint64_t total = active_bytes_;
    for (const Segment& s : closed_) total += s.bytes;
    return total;
  }

 private:
  absl::Status ReplaySegment(Segment* segment, const RecordFn& on_record, ReplayStats* stats);
  // Writes `batch` to the active segment (opened first when there is none). Called by the one
  // leader, without mu_ held; touches only the active segment, which only the leader uses.
  absl::Status WriteBatch(const Batch& batch);
  void CloseActive();

  const WalOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Segment> closed_ ABSL_GUARDED_BY(mu_);
  uint64_t next_lsn_ ABSL_GUARDED_BY(mu_) = 1;
  std::shared_ptr<Batch> pending_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // active_.bytes as of the last finished batch, for bytes() and segments().
  uint64_t active_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Used only by the leader (the one Append with writing_ set) and, between batches, under mu_.
  Segment active_;
  int fd_ = -1;
};

absl::Status Wal::Impl::Replay(const RecordFn& on_record, ReplayStats* stats) {
  std::error_code ec;
  fs::create_directories(options_.dir, ec);
  if (ec)
    return absl::UnavailableError(
        absl::StrCat("wal: cannot create \"", options_.dir, "\": ", ec.message()));
  std::vector<Segment> found;
  for (const fs::directory_entry& entry : fs::directory_iterator(options_.dir, ec)) {
    const uint64_t first = ParseSegmentName(entry.path().filename().string());
    if (first != 0) found.push_back(Segment{entry.path().string(), first, 0, 0});
  }
  if (ec)
    return absl::UnavailableError(
        absl::StrCat("wal: cannot list \"", options_.dir, "\": ", ec.message()));
  std::sort(found.begin(), found.end(),
            [](const Segment& a, const Segment& b) { return a.first_lsn < b.first_lsn; });
  // The log is not shared yet: `on_record` runs without mu_ held (it may take locks of its own).
  std::vector<Segment> kept;
  for (Segment& segment : found) {
    if (absl::Status s = ReplaySegment(&segment, on_record, stats); !s.ok()) return s;
    if (segment.last_lsn == 0) {
      fs::remove(segment.path, ec);  // nothing intact in it
      continue;
    }
    kept.push_back(segment);
  }
  std::lock_guard lock(mu_);
  closed_.insert(closed_.end(), kept.begin(), kept.end());
  next_lsn_ = stats->last_lsn + 1;
  return absl::OkStatus();
}

absl::Status Wal::Impl::ReplaySegment(Segment* segment, const RecordFn& on_record,
                                      ReplayStats* stats) {
  std::ifstream in(segment->path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return ErrnoError("cannot read", segment->path, errno);
  size_t at = 0;
  while (at < data.size()) {
    const size_t left = data.size() - at;
    const uint64_t length = left >= kHeaderBytes ? GetU32(data.data() + at) : 0;
    if (left < kHeaderBytes || length > options_.max_record_bytes || length > left - kHeaderBytes) {
      break;  // a torn frame: nothing after it can be found
    }
    const char* header = data.data() + at;
    const std::string_view payload(header + kHeaderBytes, length);
    const uint64_t lsn = GetU64(header + 8);
    at += kHeaderBytes + length;
    if (GetU32(header + 4) != FrameCrc(header + 8, payload) || lsn <= stats->last_lsn) {
      ++stats->corrupt_records;
      continue;
    }
    ++stats->records;
    stats->payload_bytes += length;
    stats->last_lsn = lsn;
    segment->last_lsn = lsn;
    if (on_record) on_record(lsn, payload);
  }
  if (at < data.size()) {
    stats->torn_tail_bytes += data.size() - at;
    if (::truncate(segment->path.c_str(), static_cast<off_t>(at)) != 0) {
      return ErrnoError("cannot cut the torn tail of", segment->path, errno);
    }
  }
  segment->bytes = at;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Wal::Impl::Append(std::span<const std::string_view> pieces) {
  uint64_t size = 0;
  for (std::string_view piece : pieces) size += piece.size();
  if (size > options_.max_record_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("wal: a record of ", size,
                                                   " bytes is larger than the limit of ",
                                                   options_.max_record_bytes));
  }
  const uint32_t payload_crc = PiecesCrc(pieces);
  std::unique_lock lock(mu_);
  if (pending_ == nullptr) {
    pending_ = std::make_shared<Batch>();
    pending_->first_lsn = next_lsn_;
  }
  const uint64_t lsn = next_lsn_++;
  std::shared_ptr<Batch> mine = pending_;
  AppendFrame(lsn, pieces, size, payload_crc, &mine->frames);
  mine->last_lsn = lsn;
  while (!mine->done) {
    if (writing_) {
      cv_.wait(lock);
      continue;
    }
    // Leader: write the pending batch (ours, or an earlier one still waiting).
    std::shared_ptr<Batch> batch = std::move(pending_);
    writing_ = true;
    lock.unlock();
    const absl::Status status = WriteBatch(*batch);
    lock.lock();
    writing_ = false;
    batch->status = status;
    batch->done = true;
    active_bytes_ = active_.bytes;
    if (status.ok() && active_.bytes >= options_.segment_bytes) {
      closed_.push_back(active_);
      CloseActive();
      active_bytes_ = 0;
    }
    cv_.notify_all();
  }
  if (!mine->status.ok()) return mine->status;
  return lsn;
}

absl::Status Wal::Impl::WriteBatch(const Batch& batch) {
  if (fd_ < 0) {
    active_ = Segment{(fs::path(options_.dir) / SegmentName(batch.first_lsn)).string(),
                      batch.first_lsn, 0, 0};
    fd_ = ::open(active_.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return ErrnoError("cannot create", active_.path, errno);
    if (options_.fsync) {
      if (absl::Status s = SyncDirectory(options_.dir); !s.ok()) return s;
    }
  }
  absl::Status status = WriteAll(fd_, active_.path, batch.frames, active_.bytes);
  if (status.ok() && options_.fsync && ::fdatasync(fd_) != 0) {
    status = ErrnoError("cannot sync", active_.path, errno);
  }
  if (!status.ok()) {
    // Nothing of the batch may be replayed: its appenders were told it failed.
    (void)::ftruncate(fd_, static_cast<off_t>(active_.bytes));
    return status;
  }
  active_.bytes += batch.frames.size();
  active_.last_lsn = batch.last_lsn;
  return absl::OkStatus();
}

void Wal::Impl::CloseActive() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  active_ = Segment{};
}

absl::Status Wal::Impl::DeleteBefore(uint64_t lsn) {
  std::vector<std::string> doomed;
  {
    std::lock_guard lock(mu_);
    while (!closed_.empty() && closed_.front().last_lsn < lsn) {
      doomed.push_back(closed_.front().path);
      closed_.pop_front();
    }
    // The active segment too, once everything in it is released and no write is under way (the
    // next write starts a new segment).
    if (closed_.empty() && !writing_ && fd_ >= 0 && active_.last_lsn != 0 &&
        active_.last_lsn < lsn) {
      doomed.push_back(active_.path);
      CloseActive();
      active_bytes_ = 0;
    }
  }
  for (const std::string& path : doomed) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return ErrnoError("cannot delete", path, errno);
    }
  }
  return absl::OkStatus();
}

Wal::Wal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Wal::~Wal() = default;

absl::StatusOr<std::unique_ptr<Wal>> Wal::Open(const WalOptions& options, const RecordFn& on_record,
                                               ReplayStats* stats) {
  if (options.dir.empty()) return absl::InvalidArgumentError("wal: dir is required");
  if (options.segment_bytes == 0) return absl::InvalidArgumentError("wal: segment_bytes is 0");
  ReplayStats local;
  ReplayStats* out = stats != nullptr ? stats : &local;
  *out = ReplayStats{};
  auto impl = std::make_unique<Impl>(options);
  if (absl::Status s = impl->Replay(on_record, out); !s.ok()) return s;
  return std::unique_ptr<Wal>(new Wal(std::move(impl)));
}

absl::StatusOr<uint64_t> Wal::Append(std::string_view payload) {
  return impl_->Append(std::span<const std::string_view>(&payload, 1));
}
absl::StatusOr<uint64_t> Wal::Append(std::span<const std::string_view> pieces) {
  return impl_->Append(pieces);
}
uint64_t Wal::next_lsn() const { return impl_->next_lsn(); }
absl::Status Wal::DeleteBefore(uint64_t lsn) { return impl_->DeleteBefore(lsn); }
uint64_t Wal::segments() const { return impl_->segments(); }
uint64_t Wal::bytes() const { return impl_->bytes(); }

}  // namespace tailtrace::wal
