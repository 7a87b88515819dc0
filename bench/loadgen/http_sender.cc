// OTLP/HTTP sender: POST /v1/traces with application/x-protobuf over keep-alive connections
// (Boost.Beast, synchronous, one thread per connection).

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>

#include "bench/loadgen/sender.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace tailtrace::bench {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;

// The message of an OTLP/HTTP error body (a google.rpc.Status in protobuf), else its printable
// characters.
std::string ErrorMessage(const std::string& body) {
  google::rpc::Status status;
  if (status.ParseFromString(body) && !status.message().empty()) return status.message();
  std::string out;
  for (const char c : body.substr(0, 200)) {
    if (c >= 0x20 && c < 0x7f) out += c;
  }
  return out;
}

bool RetryableStatus(int status) {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

class Connection {
 public:
  Connection(const SenderOptions& options, std::string host, std::string port)
      : options_(options), host_(std::move(host)), port_(std::move(port)), stream_(ioc_) {}

  // Empty on success, else what failed.
  std::string Connect() {
    beast::error_code ec;
    stream_.socket().close(ec);
    tcp::resolver resolver(ioc_);
    auto endpoints = resolver.resolve(host_, port_, ec);
    if (ec) return "resolve " + host_ + ":" + port_ + ": " + ec.message();
    stream_.expires_after(std::chrono::seconds(10));
    stream_.connect(endpoints, ec);
    if (ec) return "connect " + host_ + ":" + port_ + ": " + ec.message();
    stream_.socket().set_option(tcp::no_delay(true), ec);
    connected_ = true;
    return "";
  }

  // One attempt: the HTTP status, or nullopt with *error set when the connection failed.
  std::optional<int> Post(std::string body, std::string* response_body, std::string* error) {
    if (!connected_) {
      *error = Connect();
      if (!error->empty()) return std::nullopt;
    }
    http::request<http::string_body> req{http::verb::post, "/v1/traces", 11};
    req.set(http::field::host, host_);
    req.set(http::field::content_type, "application/x-protobuf");
    req.keep_alive(true);
    req.body() = std::move(body);
    req.prepare_payload();
    beast::error_code ec;
    stream_.expires_after(
        std::chrono::microseconds(static_cast<int64_t>(options_.timeout_seconds * 1e6)));
    http::write(stream_, req, ec);
    if (ec) return Fail("write: " + ec.message(), error);
    http::response<http::string_body> res;
    buffer_.clear();
    http::read(stream_, buffer_, res, ec);
    if (ec) return Fail("read: " + ec.message(), error);
    if (!res.keep_alive()) connected_ = false;
    *response_body = std::move(res.body());
    return res.result_int();
  }

 private:
  std::optional<int> Fail(std::string what, std::string* error) {
    connected_ = false;
    *error = std::move(what);
    return std::nullopt;
  }

  const SenderOptions& options_;
  std::string host_;
  std::string port_;
  boost::asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
};

SenderStats RunConnection(const SenderOptions& options, const std::string& host,
                          const std::string& port, SendPlan* plan) {
  SenderStats stats;
  Connection conn(options, host, port);
  if (std::string error = conn.Connect(); !error.empty()) {
    stats.first_error = error;
    ++stats.errors["connect"];
    return stats;
  }
  uint64_t index = 0;
  std::string response_body;
  while (plan->Claim(&index)) {
    const uint32_t spans = plan->Spans(index);
    ++stats.requests;
    stats.spans_sent += spans;
    for (int attempt = 0;; ++attempt) {
      std::string body(plan->Bytes(index), '\0');
      plan->pool().Materialize(plan->PoolIndex(index), plan->Cycle(index), body.data());
      const double start = WallSeconds();
      std::string error;
      std::optional<int> status = conn.Post(std::move(body), &response_body, &error);
      if (status && *status == 200) {
        stats.latencies_ms.push_back((WallSeconds() - start) * 1e3);
        ++stats.requests_ok;
        stats.bytes_accepted += plan->Bytes(index);
        uint64_t rejected = 0;
        ExportTraceServiceResponse response;
        if (response.ParseFromString(response_body) && response.has_partial_success()) {
          rejected = static_cast<uint64_t>(std::max<int64_t>(
              0, std::min<int64_t>(spans, response.partial_success().rejected_spans())));
          if (rejected > 0 && stats.first_error.empty()) {
            stats.first_error = "partial success: " + response.partial_success().error_message();
          }
        }
        stats.spans_rejected += rejected;
        stats.spans_accepted += spans - rejected;
        break;
      }
      const std::string kind = status ? "http " + std::to_string(*status) : "http connection";
      ++stats.errors[kind];
      if (stats.first_error.empty()) {
        stats.first_error = status ? kind + ": " + ErrorMessage(response_body) : error;
      }
      const bool retry = (!status || RetryableStatus(*status)) && attempt < options.max_retries;
      if (!retry) {
        stats.spans_failed += spans;
        break;
      }
      ++stats.retries;
      const double delay_ms =
          std::min(options.max_backoff_ms, options.backoff_ms * (1 << std::min(attempt, 20)));
      std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(delay_ms * 1e3)));
    }
  }
  return stats;
}

}  // namespace

SenderStats RunHttp(const SenderOptions& options, SendPlan* plan) {
  const size_t colon = options.target.rfind(':');
  if (colon == std::string::npos) {
    SenderStats failed;
    failed.first_error = "--target must be host:port, got " + options.target;
    return failed;
  }
  std::string host = options.target.substr(0, colon);
  const std::string port = options.target.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const int n = std::max(1, options.connections);
  std::vector<SenderStats> results(n);
  std::vector<std::thread> threads;
  for (int c = 0; c < n; ++c) {
    threads.emplace_back([&, c] { results[c] = RunConnection(options, host, port, plan); });
  }
  for (auto& t : threads) t.join();
  SenderStats total;
  for (auto& r : results) total.Merge(std::move(r));
  return total;
}

}  // namespace tailtrace::bench
