#include "common/tcp_listener.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/http_server_internal.h"
#include "common/thread_name.h"
#include "spdlog/spdlog.h"

namespace tailtrace {
namespace {

std::string ErrnoText(int err) { return std::strerror(err); }

// accept4() errors after which the next accept may succeed at once: the connection went away, a
// signal, or (Linux passes these on from the new connection) a network error of that connection.
bool RetryAtOnce(int err) {
  switch (err) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EOPNOTSUPP:
      return true;
    default:
      return false;
  }
}

}  // namespace

Counter* AcceptFailuresCounter(MetricsRegistry& metrics, const std::string& listener) {
  return metrics.GetCounter(
      "tailtrace_accept_failures_total",
      "Failed accept() calls of a listener, e.g. out of file descriptors (EMFILE); each is retried "
      "after 50 ms while the connection waits in the listen backlog.",
      {{"listener", listener}});
}

absl::StatusOr<std::unique_ptr<TcpListener>> TcpListener::Create(const TcpListenerOptions& options,
                                                                 OnAccept on_accept) {
  const std::string where = absl::StrCat(options.name, " endpoint \"", options.endpoint, "\"");
  if (!on_accept) return absl::InvalidArgumentError(absl::StrCat(where, ": no callback"));
  if (options.retry_delay_ms < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": retry_delay_ms must be at least 1, got ", options.retry_delay_ms));
  }
  absl::StatusOr<boost::asio::ip::tcp::endpoint> endpoint =
      http::internal::ResolveEndpoint(options.endpoint);
  if (!endpoint.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.name, ": ", endpoint.status().message()));
  }
  const int fd =
      ::socket(endpoint->protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat(where, ": cannot open socket: ", ErrnoText(errno)));
  }
  const auto fail = [&](const std::string& what) {
    const int err = errno;
    ::close(fd);
    return absl::UnavailableError(absl::StrCat(where, ": ", what, ": ", ErrnoText(err)));
  };
  const int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
    return fail("cannot set SO_REUSEADDR");
  }
  if (::bind(fd, endpoint->data(), static_cast<socklen_t>(endpoint->size())) != 0) {
    return fail("cannot bind");
  }
  if (::listen(fd, SOMAXCONN) != 0) return fail("cannot listen");
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0) {
    return fail("cannot read the bound port");
  }
  const int port = bound.ss_family == AF_INET6
                       ? ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port)
                       : ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
  const int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) return fail("cannot create an eventfd");
  return std::unique_ptr<TcpListener>(
      new TcpListener(options, std::move(on_accept), fd, wake_fd, port));
}

TcpListener::TcpListener(TcpListenerOptions options, OnAccept on_accept, int listen_fd, int wake_fd,
                         int port)
    : options_(std::move(options)),
      on_accept_(std::move(on_accept)),
      listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      port_(port) {
  if (options_.metrics != nullptr)
    failures_counter_ = AcceptFailuresCounter(*options_.metrics, options_.name);
}

TcpListener::~TcpListener() { Shutdown(); }

absl::Status TcpListener::Start() {
  std::lock_guard lock(mu_);
  if (started_ || shut_down_) {
    return absl::FailedPreconditionError(
        absl::StrCat(options_.name, ": listener already started or shut down"));
  }
  try {
    thread_ = std::thread([this] { Run(); });
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(
        absl::StrCat(options_.name, ": cannot start the accept thread: ", e.what()));
  }
  started_ = true;
  return absl::OkStatus();
}

void TcpListener::Shutdown() {
  std::lock_guard lock(mu_);
  if (shut_down_) return;
  shut_down_ = true;
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  ::close(wake_fd_);
}

void TcpListener::Run() {
  SetCurrentThreadName("tt-" + options_.name);
  // Failed accepts in a row; logged when the first happens and when accepting works again, so that
  // a long shortage of descriptors does not flood the log.
  uint64_t failing = 0;
  while (true) {
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("{}: poll failed, no longer accepting: {}", options_.name, ErrnoText(errno));
      return;
    }
    if (fds[0].revents != 0) return;  // Shutdown
    // Accept everything waiting.
    int err = 0;
    while (true) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        err = errno;
        if (RetryAtOnce(err)) continue;
        break;
      }
      if (failing > 0) {
        spdlog::info("{}: accepting connections again after {} failed attempts", options_.name,
                     failing);
        failing = 0;
      }
      // Small frames go out at once (gRPC sets the same on its own listening sockets).
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      accepted_.fetch_add(1, std::memory_order_relaxed);
      on_accept_(listen_fd_, fd);
    }
    if (err == EAGAIN || err == EWOULDBLOCK) continue;
    // Out of descriptors (EMFILE, ENFILE), of memory (ENOBUFS, ENOMEM), or anything else: the
    // connection stays in the backlog, and the listening socket stays readable, so accepting again
    // at once would spin. Wait, then try again.
    accept_failures_.fetch_add(1, std::memory_order_relaxed);
    if (failures_counter_ != nullptr) failures_counter_->Increment();
    if (failing++ == 0) {
      spdlog::warn("{}: accept failed: {}; retrying every {} ms", options_.name, ErrnoText(err),
                   options_.retry_delay_ms);
    }
    pollfd wake{wake_fd_, POLLIN, 0};
    if (::poll(&wake, 1, static_cast<int>(options_.retry_delay_ms)) > 0) return;  // Shutdown
  }
}

}  // namespace tailtrace
