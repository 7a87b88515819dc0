#pragma once

// Test members of a cluster in one process: a store, the ClusterQuery service over it and a real
// gRPC server on 127.0.0.1; and trace builders.

#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cluster/query_server.h"
#include "gtest/gtest.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "proto/otlp_ids.h"
#include "storage/trace_store.h"

namespace tailtrace::cluster::testing {

// A port on 127.0.0.1 that nothing listens on, held for the object's lifetime (bound, not
// listening): connections to it are refused, and no other socket (another test
// running in parallel, or a later FreePort) can take it meanwhile.
class ReservedPort {
 public:
  ReservedPort() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~ReservedPort() { close(fd_); }
  ReservedPort(const ReservedPort&) = delete;
  ReservedPort& operator=(const ReservedPort&) = delete;

  int port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

// A port nothing listens on right now (reserved, then released).
inline int FreePort() { return ReservedPort().port(); }

inline std::string MemberAt(int port) { return "127.0.0.1:" + std::to_string(port); }

// A member serving ClusterQuery over `store` (not owned) at `name` ("127.0.0.1:port"). It
// answers Ping as `name` unless options.self is set.
class TestMember {
 public:
  TestMember(std::string name, storage::TraceStore* store, QueryServerOptions options = {})
      : name_(std::move(name)) {
    if (options.self.empty()) options.self = name_;
    auto query = QueryServer::Create(options, store);
    EXPECT_TRUE(query.ok()) << query.status();
    if (!query.ok()) return;
    query_ = *std::move(query);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(name_, grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(query_->service());
    server_ = builder.BuildAndStart();
    EXPECT_NE(server_, nullptr);
    EXPECT_EQ(MemberAt(port), name_);
  }
  ~TestMember() { Stop(); }

  // Stops listening (calls in flight are cancelled).
  void Stop() {
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
  }

  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::unique_ptr<QueryServer> query_;
  std::unique_ptr<grpc::Server> server_;
};

inline TraceId Id(uint8_t n) {
  TraceId id;
  id.bytes[0] = 0x10;
  id.bytes[15] = n;
  return id;
}

inline std::string SpanId(uint8_t n) { return std::string(7, '\0') + static_cast<char>(n); }

struct SpanSpec {
  std::string service;
  std::string name;
  int64_t start_ns = 0;
  int64_t duration_ns = 1000;
  uint8_t span_id = 1;
  uint8_t parent_id = 0;  // 0: a root span
  bool error = false;
};

// Writes one trace with `spans` (one resource per span) to `store`.
inline void WriteTrace(storage::TraceStore* store, const TraceId& id,
                       const std::vector<SpanSpec>& spans, const std::string& policy = "",
                       double rate = 1.0) {
  opentelemetry::proto::trace::v1::TracesData data;
  for (const SpanSpec& s : spans) {
    auto* rs = data.add_resource_spans();
    auto* kv = rs->mutable_resource()->add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value(s.service);
    auto* span = rs->add_scope_spans()->add_spans();
    span->set_trace_id(std::string(id.view()));
    span->set_span_id(SpanId(s.span_id));
    if (s.parent_id != 0) span->set_parent_span_id(SpanId(s.parent_id));
    span->set_name(s.name);
    span->set_kind(opentelemetry::proto::trace::v1::Span::SPAN_KIND_SERVER);
    span->set_start_time_unix_nano(static_cast<uint64_t>(s.start_ns));
    span->set_end_time_unix_nano(static_cast<uint64_t>(s.start_ns + s.duration_ns));
    if (s.error) {
      span->mutable_status()->set_code(opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
    }
  }
  storage::TraceWrite write{id, &data, policy, rate, {}};
  ASSERT_TRUE(store->Write({&write, 1}).ok());
}

}  // namespace tailtrace::cluster::testing
