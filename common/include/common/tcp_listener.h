#pragma once

// A listening TCP socket that hands each accepted connection to a callback, for a server that
// takes its connections from outside (the OTLP/gRPC receiver, through gRPC's external connection
// acceptor).
//
// Why not gRPC's own listener: gRPC 1.51 (Debian 12's) stops accepting on a listening socket for
// good after one failed accept4(), and accept4() fails with EMFILE whenever the process is out of
// file descriptors, so a moment without descriptors left the receiver deaf until a restart. This
// listener never gives up: after a failed accept it waits `retry_delay_ms` and tries again (a
// listening socket with a connection waiting stays readable, so retrying at once would spin), and
// the connections that arrive meanwhile wait in the kernel's listen backlog.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/metrics.h"

namespace tailtrace {

// tailtrace_accept_failures_total{listener=`listener`}: accept() calls on a listening socket that
// failed (EMFILE: the process is out of file descriptors), each retried after a delay. Every
// listener counts there (HttpServer too).
Counter* AcceptFailuresCounter(MetricsRegistry& metrics, const std::string& listener);

struct TcpListenerOptions {
  // host:port as the HTTP listeners take it ("localhost:4317", "0.0.0.0:0", "[::1]:4317", a host
  // name); port 0 picks a free port (see TcpListener::port()).
  // Default: localhost:0
  std::string endpoint = "localhost:0";
  // Used in log lines and error messages.
  // Default: "tcp"
  std::string name = "tcp";
  // Wait after a failed accept (out of descriptors, of socket buffers, ...) before the next one.
  // Default: 50 ms
  int64_t retry_delay_ms = 50;
  // Where failed accepts are counted, as tailtrace_accept_failures_total{listener=name}; not
  // owned, must outlive the listener. Default: null (not counted)
  MetricsRegistry* metrics = nullptr;
};

// Thread-safe. One accept thread, started by Start.
class TcpListener {
 public:
  // Called on the accept thread with the listening socket and an accepted connection (non-blocking,
  // close-on-exec, TCP_NODELAY), which it owns from then on.
  using OnAccept = std::function<void(int listener_fd, int connection_fd)>;

  // Binds and listens (a busy port or an unresolvable host is an error naming the endpoint); does
  // not accept before Start.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<TcpListener>> Create(
      const TcpListenerOptions& options, OnAccept on_accept);
  // Shutdown().
  ~TcpListener();
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  // Starts the accept thread. At most once.
  [[nodiscard]] absl::Status Start();
  // Stops accepting, waits for the accept thread (and a callback in progress) and closes the
  // listening socket; connections still in the backlog are reset. Idempotent.
  void Shutdown();

  // The bound port.
  int port() const { return port_; }
  // Connections handed to the callback, and accept() calls that failed, since Create.
  uint64_t accepted() const { return accepted_.load(std::memory_order_relaxed); }
  uint64_t accept_failures() const { return accept_failures_.load(std::memory_order_relaxed); }

 private:
  TcpListener(TcpListenerOptions options, OnAccept on_accept, int listen_fd, int wake_fd, int port);
  void Run();

  const TcpListenerOptions options_;
  const OnAccept on_accept_;
  const int listen_fd_;  // closed by Shutdown, after the accept thread has ended
  const int wake_fd_;    // an eventfd: readable once Shutdown begins
  const int port_;
  std::mutex mu_;  // Start and Shutdown
  std::thread thread_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> accept_failures_{0};
  Counter* failures_counter_ = nullptr;
};

}  // namespace tailtrace
