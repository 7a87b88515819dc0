#include "common/http_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/http_server_internal.h"
#include "common/tcp_listener.h"
#include "common/thread_name.h"
#include "http_server_impl_internal.h"
#include "tls_context_internal.h"

namespace tailtrace::http {
namespace internal {

absl::Status ServerImpl::Start(const tcp::endpoint& endpoint) {
  const std::string where = absl::StrCat(options_.name, " endpoint \"", options_.endpoint, "\"");
  if (options_.security.tls.enabled()) {
    auto tls = internal::TlsContextHolder::Create(options_.security.tls);
    if (!tls.ok())
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", tls.status().message()));
    tls_ = *std::move(tls);
  }
  if (options_.security.auth.enabled()) {
    auto tokens = security::BearerTokens::Create(options_.security.auth.bearer_token_file);
    if (!tokens.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", tokens.status().message()));
    }
    tokens_ = *std::move(tokens);
  }
  if (options_.metrics != nullptr) {
    const Labels listener = {{"listener", options_.name}};
    connections_gauge_ = options_.metrics->GetGauge(
        "tailtrace_http_connections", "Open connections of an HTTP listener.", listener);
    const std::string help = "Requests or connections an HTTP listener refused, by reason.";
    refused_limit_ =
        options_.metrics->GetCounter("tailtrace_http_refused_total", help,
                                     {{"listener", options_.name}, {"reason", "max_connections"}});
    refused_body_ =
        options_.metrics->GetCounter("tailtrace_http_refused_total", help,
                                     {{"listener", options_.name}, {"reason", "body_bytes"}});
    refused_auth_ =
        options_.metrics->GetCounter("tailtrace_http_refused_total", help,
                                     {{"listener", options_.name}, {"reason", "unauthenticated"}});
    accept_failures_counter_ = AcceptFailuresCounter(*options_.metrics, options_.name);
  }
  beast::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (ec)
    return absl::UnavailableError(absl::StrCat(where, ": cannot open socket: ", ec.message()));
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat(where, ": cannot set SO_REUSEADDR: ", ec.message()));
  }
  acceptor_.bind(endpoint, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(where, ": cannot bind: ", ec.message()));
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(where, ": cannot listen: ", ec.message()));
  const tcp::endpoint bound = acceptor_.local_endpoint(ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat(where, ": cannot read bound port: ", ec.message()));
  }
  port_ = bound.port();

  DoAccept();
  try {
    threads_.reserve(options_.num_threads);
    for (int i = 0; i < options_.num_threads; ++i) threads_.emplace_back([this] { RunLoop(); });
  } catch (const std::system_error& e) {
    Shutdown();
    return absl::ResourceExhaustedError(
        absl::StrCat(where, ": cannot start I/O threads: ", e.what()));
  }
  spdlog::info("{}: listening on port {}", options_.name, port_);
  return absl::OkStatus();
}

void ServerImpl::RunLoop() {
  SetCurrentThreadName("tt-" + options_.name);
  for (;;) {
    try {
      ioc_.run();
      return;
    } catch (const std::exception& e) {
      spdlog::error("{}: exception escaped an I/O handler: {}", options_.name, e.what());
    } catch (...) {
      spdlog::error("{}: unknown exception escaped an I/O handler", options_.name);
    }
  }
}

void ServerImpl::DoAccept() {
  acceptor_.async_accept(asio::make_strand(ioc_),
                         beast::bind_front_handler(&ServerImpl::OnAccept, this));
}

void ServerImpl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (stopping() || !acceptor_.is_open()) return;
  if (ec) {
    // Out of file descriptors (EMFILE) and the like: the connection waits in the backlog and the
    // accept is retried after kAcceptRetryDelay. Logged when it starts and when it ends, not on
    // every retry (that was 20 lines a second per listener while the process was out of fds).
    if (accept_failures_counter_ != nullptr) accept_failures_counter_->Increment();
    if (accept_failing_++ == 0) {
      spdlog::warn("{}: accept failed: {}; retrying every {} ms", options_.name, ec.message(),
                   kAcceptRetryDelay.count());
    }
    accept_retry_timer_.expires_after(kAcceptRetryDelay);
    accept_retry_timer_.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && !stopping()) DoAccept();
    });
    return;
  }
  if (accept_failing_ > 0) {
    spdlog::info("{}: accepting connections again after {} failed attempts", options_.name,
                 accept_failing_);
    accept_failing_ = 0;
  }
  socket.set_option(tcp::no_delay(true), ec);
  ServeConnection(this, std::move(socket), tls_.get());
  DoAccept();
}

bool ServerImpl::Register(const std::shared_ptr<ConnectionBase>& connection) {
  std::lock_guard lock(mu_);
  if (stopping_.load(std::memory_order_relaxed)) return false;
  if (options_.max_connections > 0 &&
      static_cast<int64_t>(connections_.size()) >= options_.max_connections) {
    // The connection is destroyed unstarted (its socket closed) by the caller; the fd is back.
    CountRefused("max_connections");
    return false;
  }
  connections_.emplace(connection.get(), connection);
  if (connections_gauge_ != nullptr) connections_gauge_->Set(connections_.size());
  return true;
}

void ServerImpl::Unregister(ConnectionBase* connection) {
  std::lock_guard lock(mu_);
  if (connections_.erase(connection) == 0) return;
  if (connections_gauge_ != nullptr) connections_gauge_->Set(connections_.size());
  if (connections_.empty()) cv_.notify_all();
}

bool ServerImpl::ReserveBody(uint64_t bytes) {
  const uint64_t limit = options_.max_inflight_body_bytes;
  if (limit == 0) {
    inflight_body_bytes_.fetch_add(bytes);
    return true;
  }
  uint64_t current = inflight_body_bytes_.load();
  do {
    if (current + bytes > limit) return false;
  } while (!inflight_body_bytes_.compare_exchange_weak(current, current + bytes));
  return true;
}

bool ServerImpl::Authorized(std::string_view path, std::string_view authorization) {
  if (tokens_ == nullptr) return true;
  if (std::find(options_.open_paths.begin(), options_.open_paths.end(), path) !=
          options_.open_paths.end() ||
      (options_.is_open_path && options_.is_open_path(path))) {
    return true;
  }
  if (tokens_->Check(authorization)) return true;
  CountRefused("unauthenticated");
  return false;
}

std::vector<std::pair<std::string, std::string>> ServerImpl::CorsHeaders(
    std::string_view origin) const {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!security::OriginAllowed(origin, options_.security.cors.allowed_origins)) return headers;
  headers.emplace_back("Access-Control-Allow-Origin", std::string(origin));
  headers.emplace_back("Vary", "Origin");
  return headers;
}

Response ServerImpl::Preflight(std::string_view origin, std::string_view request_method,
                               std::string_view request_headers) const {
  Response res;
  res.status = 204;
  res.content_type.clear();
  const security::CorsOptions& cors = options_.security.cors;
  if (!security::OriginAllowed(origin, cors.allowed_origins)) return res;
  // The Access-Control-Allow-Origin and Vary headers are added with the connection's others.
  res.headers.emplace_back("Access-Control-Allow-Methods", std::string(request_method));
  const bool any_header = std::find(cors.allowed_headers.begin(), cors.allowed_headers.end(),
                                    "*") != cors.allowed_headers.end();
  std::string allowed;
  for (std::string_view name : security::SplitAndTrim(request_headers, ',')) {
    if (name.empty()) continue;
    bool ok = any_header;
    for (std::string_view implicit : kImplicitCorsHeaders) {
      ok = ok || security::EqualsIgnoreCase(name, implicit);
    }
    for (const std::string& h : cors.allowed_headers)
      ok = ok || security::EqualsIgnoreCase(h, name);
    if (ok) {
      if (!allowed.empty()) allowed += ", ";
      allowed += name;
    }
  }
  if (!allowed.empty()) res.headers.emplace_back("Access-Control-Allow-Headers", allowed);
  if (cors.max_age_s > 0) {
    res.headers.emplace_back("Access-Control-Max-Age", absl::StrCat(cors.max_age_s));
  }
  return res;
}

void ServerImpl::CountRefused(const char* reason) {
  if (options_.metrics == nullptr) return;
  Counter* counter = std::string_view(reason) == "max_connections" ? refused_limit_
                     : std::string_view(reason) == "body_bytes"    ? refused_body_
                                                                   : refused_auth_;
  counter->Increment();
}

void ServerImpl::CallHandler(const Request& request, Respond respond) {
  // A handler that throws before it answered is answered 500 here; one that answered and then
  // threw is only logged (the response goes once).
  struct Once {
    Respond respond;
    std::atomic<bool> answered{false};
    void operator()(Response res) {
      if (!answered.exchange(true)) std::move(respond)(std::move(res));
    }
  };
  auto once = std::make_shared<Once>();
  once->respond = std::move(respond);
  try {
    handler_(request, [once](Response res) { (*once)(std::move(res)); });
    return;
  } catch (const std::exception& e) {
    spdlog::error("{}: handler for {} {} threw: {}", options_.name, request.method, request.target,
                  e.what());
  } catch (...) {
    spdlog::error("{}: handler for {} {} threw an unknown exception", options_.name, request.method,
                  request.target);
  }
  Response res;
  res.status = 500;
  res.content_type = "application/json";
  res.body = ErrorBody(13, "internal error while handling the request");
  (*once)(std::move(res));
}

void ServerImpl::Shutdown() {
  {
    std::lock_guard lock(shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  std::vector<std::shared_ptr<ConnectionBase>> live;
  {
    std::lock_guard lock(mu_);
    stopping_.store(true, std::memory_order_release);
    live.reserve(connections_.size());
    for (auto& [ptr, weak] : connections_) {
      if (auto connection = weak.lock()) live.push_back(std::move(connection));
    }
  }
  asio::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_timer_.cancel();
  });
  for (auto& connection : live) connection->RequestClose();
  live.clear();
  {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, kShutdownGrace, [this] { return connections_.empty(); })) {
      spdlog::warn("{}: {} connections still open after {} s; closing them", options_.name,
                   connections_.size(),
                   std::chrono::duration_cast<std::chrono::seconds>(kShutdownGrace).count());
    }
  }
  work_.reset();
  ioc_.stop();
  for (auto& thread : threads_) {
    if (!thread.joinable()) continue;
    if (thread.get_id() == std::this_thread::get_id()) {
      spdlog::error("{}: Shutdown() called from an I/O thread; not joining it", options_.name);
      thread.detach();
    } else {
      thread.join();
    }
  }
  threads_.clear();
  // No thread runs handlers any more: closing directly is safe and frees the port now.
  beast::error_code ignored;
  acceptor_.close(ignored);
}

}  // namespace internal

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(HttpServerOptions options,
                                                               Handler handler) {
  if (!handler) {
    return absl::InvalidArgumentError(absl::StrCat(options.name, ": handler is empty"));
  }
  return CreateAsync(std::move(options),
                     [handler = std::move(handler)](const Request& request, Respond respond) {
                       std::move(respond)(handler(request));
                     });
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::CreateAsync(HttpServerOptions options,
                                                                    AsyncHandler handler) {
  if (!handler) {
    return absl::InvalidArgumentError(absl::StrCat(options.name, ": handler is empty"));
  }
  if (options.num_threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.name, ": num_threads must be at least 1, got ", options.num_threads));
  }
  absl::StatusOr<internal::tcp::endpoint> endpoint = internal::ResolveEndpoint(options.endpoint);
  if (!endpoint.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.name, ": ", endpoint.status().message()));
  }
  auto server = std::make_unique<internal::ServerImpl>(std::move(options), std::move(handler));
  if (absl::Status status = server->Start(*endpoint); !status.ok()) return status;
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace tailtrace::http
