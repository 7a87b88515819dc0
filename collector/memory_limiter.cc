#include "collector/memory_limiter.h"

#include <unistd.h>

#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "spdlog/spdlog.h"

namespace tailtrace::collector {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

class ProcRssSource final : public RssSource {
 public:
  absl::StatusOr<uint64_t> RssBytes() override {
    std::ifstream in("/proc/self/statm");
    uint64_t size_pages = 0;
    uint64_t resident_pages = 0;
    if (!(in >> size_pages >> resident_pages)) {
      return absl::UnavailableError("cannot read /proc/self/statm");
    }
    return resident_pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  }
};

uint64_t ReadCgroupLimit() {
  std::ifstream in("/sys/fs/cgroup/memory.max");
  std::string value;
  uint64_t n = 0;
  if (in >> value && absl::SimpleAtoi(value, &n)) return n;  // "max" means no limit
  return 0;
}

uint64_t ReadMemTotal() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view v = line;
    if (!absl::ConsumePrefix(&v, "MemTotal:")) continue;
    std::istringstream fields{std::string(v)};
    uint64_t kib = 0;
    if (fields >> kib) return kib * 1024;
  }
  return 0;
}

std::string Mib(uint64_t bytes) { return absl::StrCat(bytes / kMiB, " MiB"); }

}  // namespace

RssSource* RssSource::Proc() {
  static ProcRssSource* source = new ProcRssSource();
  return source;
}

uint64_t AvailableMemoryBytes() {
  const uint64_t total = ReadMemTotal();
  const uint64_t cgroup = ReadCgroupLimit();
  if (cgroup > 0 && (total == 0 || cgroup < total)) return cgroup;
  return total;
}

MemoryLimiter::MemoryLimiter(int64_t interval_ns, uint64_t limit, uint64_t spike, RssSource* rss,
                             Clock* clock)
    : interval_ns_(interval_ns),
      limit_bytes_(limit),
      spike_limit_bytes_(spike),
      rss_(rss),
      clock_(clock),
      next_check_ns_(std::numeric_limits<int64_t>::min()) {}

absl::StatusOr<std::unique_ptr<MemoryLimiter>> MemoryLimiter::Create(
    const MemoryLimiterOptions& options, uint64_t available_bytes, RssSource* rss, Clock* clock) {
  if (rss == nullptr || clock == nullptr) {
    return absl::InvalidArgumentError("MemoryLimiter: rss source or clock is null");
  }
  if (options.check_interval_ns <= 0) {
    return absl::InvalidArgumentError("memory_limiter.check_interval must be greater than 0");
  }
  for (auto [key, pct] : {std::pair{"limit_percentage", options.limit_percentage},
                          std::pair{"spike_limit_percentage", options.spike_limit_percentage}}) {
    if (pct < 1 || pct > 100) {
      return absl::InvalidArgumentError(
          absl::StrCat("memory_limiter.", key, " must be between 1 and 100, got ", pct));
    }
  }
  uint64_t limit = 0;
  uint64_t spike = 0;
  if (options.limit_mib > 0) {
    limit = options.limit_mib * kMiB;
    spike = options.spike_limit_mib > 0 ? options.spike_limit_mib * kMiB : limit / 5;
  } else {
    if (available_bytes == 0) {
      return absl::InvalidArgumentError(
          "memory_limiter: the machine's memory cannot be read (/sys/fs/cgroup/memory.max, "
          "/proc/meminfo); set memory_limiter.limit_mib");
    }
    limit = available_bytes / 100 * static_cast<uint64_t>(options.limit_percentage);
    spike = options.spike_limit_mib > 0
                ? options.spike_limit_mib * kMiB
                : available_bytes / 100 * static_cast<uint64_t>(options.spike_limit_percentage);
  }
  if (limit == 0 || spike >= limit) {
    return absl::InvalidArgumentError(absl::StrCat(
        "memory_limiter: the spike limit (", Mib(spike), ") must be below the limit (", Mib(limit),
        "); lower memory_limiter.spike_limit_mib or spike_limit_percentage"));
  }
  return std::unique_ptr<MemoryLimiter>(
      new MemoryLimiter(options.check_interval_ns, limit, spike, rss, clock));
}

void MemoryLimiter::Refresh(int64_t now_ns) {
  absl::StatusOr<uint64_t> rss = rss_->RssBytes();
  if (!rss.ok()) return;  // keep the last reading
  rss_bytes_.store(*rss, std::memory_order_relaxed);
  const bool refuse = *rss > soft_limit_bytes();
  if (refusing_.exchange(refuse, std::memory_order_relaxed) != refuse) {
    if (refuse) {
      spdlog::warn("memory_limiter: RSS {} is above the soft limit {} (limit {}): refusing data",
                   Mib(*rss), Mib(soft_limit_bytes()), Mib(limit_bytes_));
    } else {
      spdlog::info("memory_limiter: RSS {} is below the soft limit {}: accepting data", Mib(*rss),
                   Mib(soft_limit_bytes()));
    }
  }
  (void)now_ns;
}

bool MemoryLimiter::Refusing() {
  const int64_t now = clock_->MonotonicNanos();
  int64_t next = next_check_ns_.load(std::memory_order_relaxed);
  if (now >= next && next_check_ns_.compare_exchange_strong(next, now + interval_ns_)) {
    Refresh(now);
  }
  return refusing_.load(std::memory_order_relaxed);
}

absl::Status MemoryLimiter::Check() {
  if (!Refusing()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("memory limit: RSS ", Mib(rss_bytes()),
                                             " is above the soft limit ", Mib(soft_limit_bytes()),
                                             "; retry later"));
}

}  // namespace tailtrace::collector
