// The sampler's memory bound under a flood: with a small max_buffer_bytes and a decision wait far
// longer than the test, the daemon must decide the oldest traces early (here: dropped by a 0%
// policy, so nothing is written) and its resident memory must stay near the bound instead of
// growing with the flood.

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "tests/integration/test_util.h"

namespace tailtrace::testing {
namespace {

using MemoryBoundTest = DaemonTest;

// VmRSS of `pid` in bytes (0 when unreadable).
uint64_t ResidentBytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

TEST_F(MemoryBoundTest, FloodOfUndecidedTracesStaysWithinTheBufferBound) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "resident memory is not meaningful under a sanitizer (shadow memory, quarantine)";
#endif
  settings_.decision_wait = "60s";
  settings_.decision_wait_after_root_received = "60s";
  settings_.num_shards = 1;
  settings_.extra_sampling_yaml =
      "  max_buffer_bytes: 16MiB\n"
      "  policies:\n"
      "    - {name: none, type: probabilistic, probabilistic: {sampling_percentage: 0}}\n";
  StartDaemon();
  const uint64_t rss_before = ResidentBytes(daemon_->pid());
  ASSERT_GT(rss_before, 0u);

  // 250 requests of 20 traces x 20 spans = 100,000 spans; held whole they would occupy several
  // hundred MiB as protobuf objects.
  constexpr int kRequests = 250;
  constexpr int kTracesPerRequest = 20;
  constexpr int kSpansPerTrace = 20;
  {
    OtlpGrpcClient client(daemon_->grpc_target());
    for (int r = 0; r < kRequests; ++r) {
      ExportTraceServiceRequest request;
      for (int t = 0; t < kTracesPerRequest; ++t) {
        AddTrace(&request, 1'000'000 + r * kTracesPerRequest + t, kSpansPerTrace, "flood",
                 /*padding_bytes=*/200);
      }
      ExportTraceServiceResponse response;
      grpc::Status status = client.Export(request, &response);
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
        --r;  // backpressure: retry the same request, as an SDK would
        continue;
      }
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
  }
  // Every trace was taken; the oldest ones were decided early because of memory.
  std::optional<double> early = WaitForMetric(
      daemon_->admin_port(), "tailtrace_sampler_early_decisions_total{cause=\"memory\"}", 1);
  ASSERT_TRUE(early.has_value());
  EXPECT_GT(*early, 100);
  std::optional<double> buffered =
      WaitForMetric(daemon_->admin_port(), "tailtrace_sampler_buffered_bytes", 0);
  ASSERT_TRUE(buffered.has_value());
  EXPECT_LE(*buffered, 16.0 * (1 << 20) + 4.0 * (1 << 20)) << "bound plus one request";

  const uint64_t rss_after = ResidentBytes(daemon_->pid());
  EXPECT_LT(rss_after - rss_before, 120ull << 20)
      << "resident memory grew from " << (rss_before >> 20) << " MiB to " << (rss_after >> 20)
      << " MiB";
  StopDaemonExpectSuccess();
}

}  // namespace
}  // namespace tailtrace::testing
