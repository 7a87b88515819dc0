// TcpListener: binding, handing connections over, shutdown, and accepting again after the process
// ran out of file descriptors (a real EMFILE, under a lowered RLIMIT_NOFILE).

#include "common/tcp_listener.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/common/descriptor_shortage.h"

namespace tailtrace {
namespace {

using ::tailtrace::testing::DescriptorShortage;
using ::tailtrace::testing::WaitFor;
using ::testing::HasSubstr;

// Connections handed over by a listener, kept open until destruction.
class Sink {
 public:
  ~Sink() {
    for (int fd : fds_) ::close(fd);
  }
  TcpListener::OnAccept AsCallback() {
    return [this](int /*listener_fd*/, int fd) {
      std::lock_guard lock(mu_);
      fds_.push_back(fd);
    };
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return fds_.size();
  }

 private:
  std::mutex mu_;
  std::vector<int> fds_;
};

// A connected TCP socket to 127.0.0.1:`port` (the kernel completes the handshake from the
// listen backlog, accepted or not), or -1.
int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

absl::StatusOr<std::unique_ptr<TcpListener>> Listen(Sink* sink, const std::string& endpoint,
                                                    int64_t retry_delay_ms = 50,
                                                    MetricsRegistry* metrics = nullptr) {
  TcpListenerOptions options;
  options.endpoint = endpoint;
  options.name = "test listener";
  options.retry_delay_ms = retry_delay_ms;
  options.metrics = metrics;
  return TcpListener::Create(options, sink->AsCallback());
}

TEST(TcpListenerTest, HandsAcceptedConnectionsToTheCallback) {
  Sink sink;
  auto listener = Listen(&sink, "127.0.0.1:0");
  ASSERT_TRUE(listener.ok()) << listener.status();
  ASSERT_GT((*listener)->port(), 0);
  ASSERT_TRUE((*listener)->Start().ok());
  const int a = Connect((*listener)->port());
  const int b = Connect((*listener)->port());
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  EXPECT_TRUE(WaitFor([&] { return sink.size() == 2; }));
  EXPECT_EQ((*listener)->accepted(), 2u);
  EXPECT_EQ((*listener)->accept_failures(), 0u);
  ::close(a);
  ::close(b);
}

TEST(TcpListenerTest, BusyPortIsAnErrorNamingTheEndpoint) {
  Sink sink;
  auto first = Listen(&sink, "127.0.0.1:0");
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string endpoint = absl::StrCat("127.0.0.1:", (*first)->port());
  auto second = Listen(&sink, endpoint);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(endpoint));
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("Address already in use"));
}

TEST(TcpListenerTest, MalformedEndpointIsInvalidArgument) {
  Sink sink;
  auto listener = Listen(&sink, "127.0.0.1");
  ASSERT_FALSE(listener.ok());
  EXPECT_EQ(listener.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(listener.status().message()), HasSubstr("missing \":port\""));
}

TEST(TcpListenerTest, ShutdownStopsAcceptingAndIsIdempotent) {
  Sink sink;
  auto listener = Listen(&sink, "127.0.0.1:0");
  ASSERT_TRUE(listener.ok()) << listener.status();
  ASSERT_TRUE((*listener)->Start().ok());
  EXPECT_FALSE((*listener)->Start().ok());
  const int port = (*listener)->port();
  (*listener)->Shutdown();
  (*listener)->Shutdown();
  EXPECT_EQ(Connect(port), -1) << "the port still accepts connections after Shutdown";
  EXPECT_FALSE((*listener)->Start().ok());
}

// gRPC 1.51's own listener stops for good after one EMFILE; this one retries and gets going again
// by itself once descriptors are back.
TEST(TcpListenerTest, KeepsAcceptingAfterRunningOutOfDescriptors) {
  TAILTRACE_SKIP_WITHOUT_DESCRIPTORS_UNDER_SANITIZERS();
  Sink sink;
  MetricsRegistry metrics;
  auto listener = Listen(&sink, "127.0.0.1:0", /*retry_delay_ms=*/5, &metrics);
  ASSERT_TRUE(listener.ok()) << listener.status();
  ASSERT_TRUE((*listener)->Start().ok());
  const int port = (*listener)->port();
  {
    DescriptorShortage shortage;
    ASSERT_TRUE(shortage.ok()) << "cannot lower RLIMIT_NOFILE";
    // One descriptor for the client's socket: none is left for accepting it.
    shortage.Release(1);
    const int client = Connect(port);
    ASSERT_GE(client, 0);
    EXPECT_TRUE(WaitFor([&] { return (*listener)->accept_failures() >= 3; }))
        << "accept did not fail (and get retried) without descriptors";
    EXPECT_EQ(sink.size(), 0u);
    // Retried after a delay, not at once: a few failures per retry period, not a spin.
    const uint64_t failures = (*listener)->accept_failures();
    EXPECT_LT(failures, 1000u) << "accept spins while out of descriptors";
    EXPECT_GE(AcceptFailuresCounter(metrics, "test listener")->Value(), failures);

    shortage.Release(1);
    EXPECT_TRUE(WaitFor([&] { return sink.size() == 1; }))
        << "the waiting connection was not accepted once a descriptor was free";
    ::close(client);
  }
  // And later connections as usual.
  const int later = Connect(port);
  ASSERT_GE(later, 0);
  EXPECT_TRUE(WaitFor([&] { return sink.size() == 2; }));
  ::close(later);
}

}  // namespace
}  // namespace tailtrace
