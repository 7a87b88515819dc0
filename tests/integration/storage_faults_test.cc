// Storage faults and the memory limiter against the real daemon: a disk that fills up (a real
// tmpfs of a few MiB, mounted by the test; skipped where mount is not permitted), start-up on a
// full disk, and a memory limit below the daemon's resident size.

#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/http_client.h"
#include "tests/integration/test_util.h"

namespace tailtrace::testing {
namespace {

// A tmpfs of `size` mounted on a directory; unmounted on destruction. ok() is false where the
// sandbox does not permit mount (then the tests relying on it skip; the RocksDB FileSystem wrapper
// of tests/storage/rocks_store_faults_test.cc covers the same faults).
class SmallFileSystem {
 public:
  SmallFileSystem(const std::string& dir, const std::string& size) : dir_(dir) {
    std::filesystem::create_directories(dir);
    const std::string opts = "size=" + size;
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  ~SmallFileSystem() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool ok() const { return mounted_; }
  const std::string& error() const { return error_; }

  // Writes zeros into `name` until the file system is full.
  void Fill(const std::string& name) {
    std::FILE* f = std::fopen((dir_ + "/" + name).c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::vector<char> block(64 << 10, 0);
    while (std::fwrite(block.data(), 1, block.size(), f) == block.size()) {
      if (std::fflush(f) != 0) break;
    }
    std::fclose(f);
    // Leave nothing: smaller writes fill the last partial block too.
    f = std::fopen((dir_ + "/" + name + ".tail").c_str(), "w");
    if (f != nullptr) {
      while (std::fputc(0, f) != EOF && std::fflush(f) == 0) {
      }
      std::fclose(f);
    }
  }
  void Free(const std::string& name) {
    std::filesystem::remove(dir_ + "/" + name);
    std::filesystem::remove(dir_ + "/" + name + ".tail");
  }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string error_;
};

using StorageFaultTest = DaemonTest;

// POSTs one trace of 10 spans (with padding) as OTLP protobuf.
absl::StatusOr<HttpResponse> PostTrace(HttpClient& client, uint64_t trace) {
  ExportTraceServiceRequest request;
  AddTrace(&request, trace, 10, "disk", /*padding_bytes=*/2000);
  return client.Send("POST", "/v1/traces", request.SerializeAsString(),
                     {{"Content-Type", "application/x-protobuf"}});
}

TEST_F(StorageFaultTest, DiskFullAnswers503AndResumesWhenSpaceReturns) {
  SmallFileSystem fs(dir_->Join("small"), "24m");
  if (!fs.ok()) GTEST_SKIP() << "cannot mount a tmpfs here: " << fs.error();
  settings_.storage_path = dir_->Join("small/data");
  settings_.extra_storage_yaml = "  write_buffer_size: 1MiB\n  min_free_disk_bytes: 4MiB\n";
  StartDaemon();
  HttpClient client(daemon_->http_port());
  std::vector<uint64_t> acknowledged;
  uint64_t next = 1;
  ASSERT_TRUE(PostTrace(client, next).ok());
  acknowledged.push_back(next++);

  fs.Fill("filler");
  // Keep sending until the store hits the full disk: then every request gets 503 + Retry-After.
  bool refused = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!refused && std::chrono::steady_clock::now() < deadline) {
    absl::StatusOr<HttpResponse> r = PostTrace(client, next);
    ASSERT_TRUE(r.ok()) << r.status();
    if (r->status == 200) {
      acknowledged.push_back(next++);
    } else {
      ASSERT_EQ(r->status, 503) << r->body;
      EXPECT_EQ(r->Header("retry-after"), "1");
      EXPECT_NE(r->body.find("cannot write"), std::string::npos) << r->body;
      refused = true;
    }
  }
  ASSERT_TRUE(refused) << "the daemon never refused data on the full disk";
  ASSERT_TRUE(daemon_->running());
  {
    // The first to meet the full disk is the write-ahead log (every request is appended) or the
    // store (once traces are decided): either refuses new data, and /readyz follows the store.
    HttpClient admin(daemon_->admin_port());
    absl::StatusOr<HttpResponse> metrics = admin.Get("/metrics");
    ASSERT_TRUE(metrics.ok());
    const double store_writable =
        MetricValue(metrics->body, "tailtrace_store_writable").value_or(-1);
    const double wal_errors =
        MetricValue(metrics->body, "tailtrace_wal_append_errors_total").value_or(0);
    EXPECT_TRUE(store_writable == 0.0 || wal_errors > 0) << metrics->body;
    if (store_writable == 0.0) {
      absl::StatusOr<HttpResponse> ready = admin.Get("/readyz");
      ASSERT_TRUE(ready.ok());
      EXPECT_EQ(ready->status, 503);
    }
  }

  fs.Free("filler");
  // Writing resumes by itself: the next requests are accepted again.
  bool accepted = false;
  const auto deadline2 = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!accepted && std::chrono::steady_clock::now() < deadline2) {
    absl::StatusOr<HttpResponse> r = PostTrace(client, next);
    ASSERT_TRUE(r.ok()) << r.status();
    if (r->status == 200) {
      acknowledged.push_back(next++);
      accepted = true;
    }
  }
  ASSERT_TRUE(accepted) << "writes did not resume after space returned";
  EXPECT_TRUE(WaitForMetric(daemon_->admin_port(), "tailtrace_store_writable", 1).has_value());
  // Every acknowledged trace is stored.
  for (uint64_t t : acknowledged) {
    absl::StatusOr<HttpResponse> got = WaitForTrace(daemon_->query_port(), Hex(TraceIdBytes(t)));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->status, 200) << "acknowledged trace " << t << " lost";
  }
  StopDaemonExpectSuccess();
}

TEST_F(StorageFaultTest, StartOnAFullDiskFailsWithAClearMessage) {
  SmallFileSystem fs(dir_->Join("tiny"), "1m");
  if (!fs.ok()) GTEST_SKIP() << "cannot mount a tmpfs here: " << fs.error();
  fs.Fill("filler");
  settings_.storage_path = dir_->Join("tiny/data");
  const std::string config = dir_->Join("full.yaml");
  std::ofstream(config) << settings_.ToYaml();
  absl::StatusOr<RunResult> run = RunTailtraced({"--config", config}, dir_->path());
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 1) << run->stderr_text;
  EXPECT_NE(run->stderr_text.find(settings_.storage_path), std::string::npos) << run->stderr_text;
  EXPECT_NE(run->stderr_text.find("No space left on device"), std::string::npos)
      << run->stderr_text;
}

TEST_F(StorageFaultTest, MemoryLimitRefusesWith503AndRetryAfter) {
  // Any running daemon is above 8 MiB of RSS: everything is refused.
  settings_.extra_yaml =
      "memory_limiter:\n  check_interval: 10ms\n  limit_mib: 16\n  spike_limit_mib: 8\n";
  StartDaemon();
  HttpClient client(daemon_->http_port());
  absl::StatusOr<HttpResponse> r = PostTrace(client, 1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_EQ(r->Header("retry-after"), "1");
  EXPECT_NE(r->body.find("memory limit"), std::string::npos) << r->body;

  OtlpGrpcClient grpc_client(daemon_->grpc_target());
  ExportTraceServiceRequest request;
  AddTrace(&request, 2, 3, "memory");
  ExportTraceServiceResponse response;
  grpc::Status status = grpc_client.Export(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();

  std::optional<double> refused = WaitForMetric(
      daemon_->admin_port(), "tailtrace_admission_refused_spans_total{cause=\"memory\"}", 13);
  ASSERT_TRUE(refused.has_value());
  EXPECT_GE(*refused, 13);
  HttpClient admin(daemon_->admin_port());
  absl::StatusOr<HttpResponse> metrics = admin.Get("/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(MetricValue(metrics->body, "tailtrace_memory_limit_bytes"), 16.0 * (1 << 20));
  EXPECT_GT(MetricValue(metrics->body, "tailtrace_memory_rss_bytes").value_or(0), 8.0 * (1 << 20));
  StopDaemonExpectSuccess();
}

}  // namespace
}  // namespace tailtrace::testing
