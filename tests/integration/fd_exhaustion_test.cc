// Running out of file descriptors, against the real daemon. tailtraced runs with RLIMIT_NOFILE =
// 256 and a 64 KiB write buffer, so its memtables flush to new SST files every few traces and the
// store keeps needing new files. The test holds idle TCP connections to the gRPC receiver (which,
// unlike the HTTP listeners, has no connection limit) until the daemon has no descriptor left,
// while a client keeps sending traces over both transports; then it closes them.
//
// What must hold: while the descriptors are gone no request gets a success for data that is then
// lost (answers are 503 / UNAVAILABLE, or the request does not get through); once they are back
// the daemon recovers by itself (/readyz 200, new connections on both receivers served); every
// acknowledged trace is readable through the query API; SIGTERM exits 0.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/common/descriptor_shortage.h"
#include "tests/integration/http_client.h"
#include "tests/integration/test_util.h"

namespace tailtrace::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr uint64_t kMaxOpenFiles = 256;
// More than the daemon can take: those it cannot accept wait in the listen backlog.
constexpr int kIdleConnections = 320;
constexpr int kSpansPerTrace = 10;
constexpr size_t kPaddingBytes = 2000;  // ~20 KB a trace: a 64 KiB memtable flushes every few
constexpr char kService[] = "fd-exhaustion";
// Refusals to see before the descriptors are given back.
constexpr int kRefusalsWhileExhausted = 10;
// Requests while descriptors are short must not hang the test for long.
constexpr int64_t kRequestTimeoutMs = 2'000;
// A new connection while the daemon cannot accept waits in the backlog until this deadline.
constexpr int64_t kProbeTimeoutMs = 500;

// The number of descriptors process `pid` has open, or -1.
int OpenFds(pid_t pid) {
  std::error_code ec;
  std::filesystem::directory_iterator it(absl::StrCat("/proc/", pid, "/fd"), ec);
  if (ec) return -1;
  int n = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) return -1;
    ++n;
  }
  return n;
}

// A TCP connection to 127.0.0.1:`port` that never sends anything, or -1 when the connect does not
// complete within a second (e.g. a full listen backlog).
int ConnectIdle(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof(err);
    if (errno != EINPROGRESS || ::poll(&p, 1, 1000) != 1 ||
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      ::close(fd);
      return -1;
    }
  }
  return fd;
}

ExportTraceServiceRequest TraceRequest(uint64_t trace) {
  ExportTraceServiceRequest request;
  AddTrace(&request, trace, kSpansPerTrace, kService, kPaddingBytes);
  return request;
}

// What one export got.
enum class Outcome {
  kAcknowledged,  // 200 / OK: the daemon has it
  kRefused,       // 503 + Retry-After / UNAVAILABLE
  kNotThrough,    // no answer: the connection could not be made or the deadline passed
};

// Counts of outcomes and the acknowledged traces.
struct Tally {
  std::vector<uint64_t> acknowledged;
  int refused = 0;
  int not_through = 0;

  void Add(uint64_t trace, Outcome outcome) {
    if (outcome == Outcome::kAcknowledged) acknowledged.push_back(trace);
    if (outcome == Outcome::kRefused) ++refused;
    if (outcome == Outcome::kNotThrough) ++not_through;
  }
};

// POSTs trace `trace` over OTLP/HTTP. Any answer but 200 or 503 + Retry-After fails the test. The
// body of a 503 goes to `*refusal` when given.
Outcome SendHttp(HttpClient& client, uint64_t trace, std::string* refusal = nullptr) {
  absl::StatusOr<HttpResponse> r =
      client.Post("/v1/traces", "application/x-protobuf", TraceRequest(trace).SerializeAsString());
  if (!r.ok()) return Outcome::kNotThrough;
  if (r->status == 200) return Outcome::kAcknowledged;
  EXPECT_EQ(r->status, 503) << "trace " << trace << ": " << r->body;
  EXPECT_EQ(r->Header("retry-after"), "1") << "trace " << trace;
  if (refusal != nullptr) *refusal = r->body;
  return Outcome::kRefused;
}

// Exports trace `trace` over OTLP/gRPC. Any status but OK, UNAVAILABLE and DEADLINE_EXCEEDED
// fails the test (UNAVAILABLE is also what a client sees when it cannot connect). The message of
// an UNAVAILABLE goes to `*refusal` when given.
Outcome SendGrpc(OtlpGrpcClient& client, uint64_t trace, std::string* refusal = nullptr) {
  ExportTraceServiceResponse response;
  const grpc::Status s =
      client.Export(TraceRequest(trace), &response, /*gzip=*/false, kRequestTimeoutMs);
  if (s.ok()) {
    EXPECT_EQ(response.partial_success().rejected_spans(), 0) << "trace " << trace;
    return Outcome::kAcknowledged;
  }
  if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) return Outcome::kNotThrough;
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE)
      << "trace " << trace << ": " << s.error_message();
  if (refusal != nullptr) *refusal = s.error_message();
  return Outcome::kRefused;
}

// Idle connections, closed on destruction.
class IdleConnections {
 public:
  ~IdleConnections() { CloseAll(); }
  bool Open(int port) {
    const int fd = ConnectIdle(port);
    if (fd >= 0) fds_.push_back(fd);
    return fd >= 0;
  }
  void CloseAll() {
    for (int fd : fds_) ::close(fd);
    fds_.clear();
  }
  int size() const { return static_cast<int>(fds_.size()); }

 private:
  std::vector<int> fds_;
};

using FdExhaustionTest = DaemonTest;

TEST_F(FdExhaustionTest, RefusesWhileOutOfDescriptorsAndRecoversWithoutLosingAcknowledgedTraces) {
  TAILTRACE_SKIP_WITHOUT_DESCRIPTORS_UNDER_SANITIZERS();
  spawn_.max_open_files = kMaxOpenFiles;
  settings_.extra_storage_yaml = "  write_buffer_size: 64KiB\n";
  StartDaemon();
  const pid_t pid = daemon_->pid();
  const int fds_at_start = OpenFds(pid);
  ASSERT_GT(fds_at_start, 0);
  ASSERT_LT(fds_at_start, static_cast<int>(kMaxOpenFiles) / 2);

  uint64_t next = 1;
  // Connected before the descriptors run out, and kept alive: over them the daemon can still be
  // asked while it cannot accept new connections.
  HttpClient http(daemon_->http_port(), kRequestTimeoutMs);
  OtlpGrpcClient grpc_client(daemon_->grpc_target(), /*own_connection=*/true);
  HttpClient admin(daemon_->admin_port(), kRequestTimeoutMs);
  Tally before;
  for (int i = 0; i < 3; ++i) {
    const uint64_t a = next++;
    const uint64_t b = next++;
    ASSERT_EQ(SendHttp(http, a), Outcome::kAcknowledged);
    ASSERT_EQ(SendGrpc(grpc_client, b), Outcome::kAcknowledged);
    before.Add(a, Outcome::kAcknowledged);
    before.Add(b, Outcome::kAcknowledged);
  }
  absl::StatusOr<HttpResponse> ready = admin.Get("/readyz");
  ASSERT_TRUE(ready.ok()) << ready.status();
  ASSERT_EQ(ready->status, 200) << ready->body;

  // Ramp: idle connections to the gRPC receiver, a trace on each transport every 16 of them.
  Tally ramp;
  Tally exhausted;
  Tally* tally = &ramp;
  int max_fds = fds_at_start;
  bool readyz_refused = false;
  // Refusals on each transport that named the store as the cause.
  bool http_named_store = false;
  bool grpc_named_store = false;
  const auto send_round = [&] {
    const uint64_t a = next++;
    const uint64_t b = next++;
    std::string refusal;
    tally->Add(a, SendHttp(http, a, &refusal));
    http_named_store |= refusal.find("trace store cannot write") != std::string::npos;
    refusal.clear();
    tally->Add(b, SendGrpc(grpc_client, b, &refusal));
    grpc_named_store |= refusal.find("trace store cannot write") != std::string::npos;
    max_fds = std::max(max_fds, OpenFds(pid));
    absl::StatusOr<HttpResponse> r = admin.Get("/readyz");
    if (r.ok() && r->status == 503) readyz_refused = true;
  };
  IdleConnections idle;
  for (int i = 0; i < kIdleConnections; ++i) {
    if (!idle.Open(daemon_->grpc_port())) break;
    if (i % 16 == 15) send_round();
  }
  ASSERT_GT(idle.size(), static_cast<int>(kMaxOpenFiles)) << "could not open the connections";
  const auto full_deadline = SteadyClock::now() + std::chrono::seconds(10);
  while (OpenFds(pid) < static_cast<int>(kMaxOpenFiles) && SteadyClock::now() < full_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  max_fds = std::max(max_fds, OpenFds(pid));
  ASSERT_EQ(max_fds, static_cast<int>(kMaxOpenFiles)) << "the daemon never ran out of descriptors";

  // Exhausted: the store fails at its next flush (a new SST file); what it frees by closing itself
  // the receiver's backlog takes at once, so it keeps failing, and so does its reopening.
  tally = &exhausted;
  const auto exhausted_deadline = SteadyClock::now() + std::chrono::seconds(10);
  while ((exhausted.refused < kRefusalsWhileExhausted || !readyz_refused) &&
         SteadyClock::now() < exhausted_deadline) {
    send_round();
  }
  // New connections cannot be accepted now: they wait in the backlog (or get refused) and must
  // not end in a success for data that is then lost.
  {
    HttpClient fresh_http(daemon_->http_port(), kProbeTimeoutMs);
    OtlpGrpcClient fresh_grpc(daemon_->grpc_target(), /*own_connection=*/true);
    const uint64_t a = next++;
    const uint64_t b = next++;
    exhausted.Add(a, SendHttp(fresh_http, a));
    ExportTraceServiceResponse response;
    const grpc::Status s = fresh_grpc.Export(TraceRequest(b), &response, false, kProbeTimeoutMs);
    exhausted.Add(b, s.ok()                                            ? Outcome::kAcknowledged
                     : s.error_code() == grpc::StatusCode::UNAVAILABLE ? Outcome::kRefused
                                                                       : Outcome::kNotThrough);
  }
  ASSERT_TRUE(daemon_->running());
  ASSERT_GE(exhausted.refused, kRefusalsWhileExhausted)
      << "requests were not refused while the daemon was out of descriptors";
  EXPECT_TRUE(readyz_refused) << "/readyz never answered 503 while the store could not write";
  EXPECT_TRUE(http_named_store) << "no 503 named the store as the cause";
  EXPECT_TRUE(grpc_named_store) << "no UNAVAILABLE named the store as the cause";
  EXPECT_NE(daemon_->Stderr().find("Too many open files"), std::string::npos);

  // Recover: close the idle connections; the daemon must get going again by itself.
  const int held = idle.size();
  idle.CloseAll();
  bool readyz_ok = false;
  const auto ready_deadline = SteadyClock::now() + std::chrono::seconds(10);
  while (!readyz_ok && SteadyClock::now() < ready_deadline) {
    // A new connection each time: the admin listener must accept again.
    HttpClient fresh(daemon_->admin_port(), kRequestTimeoutMs);
    absl::StatusOr<HttpResponse> r = fresh.Get("/readyz");
    readyz_ok = r.ok() && r->status == 200;
    if (!readyz_ok) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(readyz_ok) << "/readyz did not return to 200 after the connections were closed";

  // New connections on both receivers are served and their data acknowledged.
  Tally after;
  bool http_ok = false;
  bool grpc_ok = false;
  const auto serve_deadline = SteadyClock::now() + std::chrono::seconds(10);
  while (!(http_ok && grpc_ok) && SteadyClock::now() < serve_deadline) {
    if (!http_ok) {
      HttpClient fresh(daemon_->http_port(), kRequestTimeoutMs);
      const uint64_t t = next++;
      const Outcome o = SendHttp(fresh, t);
      after.Add(t, o);
      http_ok = o == Outcome::kAcknowledged;
    }
    if (!grpc_ok) {
      OtlpGrpcClient fresh(daemon_->grpc_target(), /*own_connection=*/true);
      const uint64_t t = next++;
      const Outcome o = SendGrpc(fresh, t);
      after.Add(t, o);
      grpc_ok = o == Outcome::kAcknowledged;
    }
  }
  EXPECT_TRUE(http_ok) << "a new OTLP/HTTP connection was not served after recovery";
  EXPECT_TRUE(grpc_ok) << "a new OTLP/gRPC connection was not served after recovery";
  // The connections made before go on working too.
  for (int i = 0; i < 2; ++i) {
    const uint64_t a = next++;
    const uint64_t b = next++;
    after.Add(a, SendHttp(http, a));
    after.Add(b, SendGrpc(grpc_client, b));
  }
  EXPECT_EQ(after.refused, 0) << "requests refused after /readyz answered 200";
  EXPECT_EQ(after.not_through, 0) << "requests not through after /readyz answered 200";

  // Every acknowledged trace is stored, whole.
  std::vector<uint64_t> acknowledged = before.acknowledged;
  for (const Tally* t : {&ramp, &exhausted}) {
    acknowledged.insert(acknowledged.end(), t->acknowledged.begin(), t->acknowledged.end());
  }
  acknowledged.insert(acknowledged.end(), after.acknowledged.begin(), after.acknowledged.end());
  int found = 0;
  for (uint64_t t : acknowledged) {
    absl::StatusOr<HttpResponse> got = WaitForTrace(daemon_->query_port(), Hex(TraceIdBytes(t)));
    ASSERT_TRUE(got.ok()) << got.status();
    if (got->status != 200) {
      ADD_FAILURE() << "acknowledged trace " << t << " lost: " << got->status << " " << got->body;
      continue;
    }
    EXPECT_EQ(JaegerSpans(got->body), ExpectedSpans(t, kSpansPerTrace, kService)) << "trace " << t;
    ++found;
  }

  HttpClient metrics_client(daemon_->admin_port());
  absl::StatusOr<HttpResponse> metrics = metrics_client.Get("/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  const double reopens = MetricValue(metrics->body, "tailtrace_store_reopens_total").value_or(-1);
  const double accept_failures =
      MetricValue(metrics->body, "tailtrace_accept_failures_total{listener=\"otlp_grpc\"}")
          .value_or(-1);
  EXPECT_GT(accept_failures, 0) << "the gRPC listener never met EMFILE";
  const std::string figures = absl::StrCat(
      "RLIMIT_NOFILE ", kMaxOpenFiles, " (", fds_at_start, " open at start, ", max_fds,
      " at most); idle gRPC connections held: ", held,
      "; while opening them: ", ramp.acknowledged.size(), " acknowledged, ", ramp.refused,
      " refused; out of descriptors: ", exhausted.acknowledged.size(), " acknowledged, ",
      exhausted.refused, " refused (503 / UNAVAILABLE), ", exhausted.not_through,
      " not through; failed gRPC accepts: ", accept_failures, "; store reopens: ", reopens,
      "; after recovery: ", after.acknowledged.size(), " acknowledged, ", after.refused,
      " refused; acknowledged traces found: ", found, " of ", acknowledged.size());
  std::cout << "[ figures  ] " << figures << "\n";
  RecordProperty("figures", figures);

  StopDaemonExpectSuccess();
}

}  // namespace
}  // namespace tailtrace::testing
