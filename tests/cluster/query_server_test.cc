// QueryServer (the ClusterQuery service) called over real gRPC: answers from its store, bounded
// trace reads, store errors as gRPC statuses, the bearer-token check and Ping.

#include "cluster/query_server.h"

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/testing/in_memory_trace_store.h"
#include "tailtrace/cluster/v1/cluster.grpc.pb.h"
#include "tests/cluster/cluster_test_support.h"
#include "tests/storage/failing_trace_store.h"

namespace tailtrace::cluster {
namespace {

namespace pb = ::tailtrace::cluster::v1;
using ::testing::HasSubstr;
using testing::Id;
using testing::TestMember;
using testing::WriteTrace;

constexpr int64_t kBase = 1'700'000'000'000'000'000;

using FailingStore = storage::testing::FailingTraceStore;

std::unique_ptr<pb::ClusterQuery::Stub> StubFor(const TestMember& member) {
  return pb::ClusterQuery::NewStub(
      grpc::CreateChannel(member.name(), grpc::InsecureChannelCredentials()));
}

TEST(QueryServerTest, GetTraceIsBoundedByTheServersOwnLimit) {
  storage::InMemoryTraceStore store;
  WriteTrace(&store, Id(1),
             {{"a", "x", kBase, 10, 1}, {"a", "y", kBase, 10, 2, 1}, {"a", "z", kBase, 10, 3, 1}},
             "p", 2.0);
  QueryServerOptions options;
  options.max_trace_spans = 2;
  TestMember member(testing::MemberAt(testing::FreePort()), &store, options);
  auto stub = StubFor(member);

  pb::GetTraceRequest request;
  request.set_trace_id(std::string(Id(1).view()));
  request.set_max_spans(0);  // the caller asks for everything
  pb::GetTraceResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub->GetTrace(&context, request, &response).ok());
  EXPECT_TRUE(response.found());
  EXPECT_TRUE(response.truncated());
  EXPECT_EQ(response.sampling_policy(), "p");
  EXPECT_EQ(response.sample_rate(), 2.0);
  opentelemetry::proto::trace::v1::TracesData data;
  ASSERT_TRUE(data.ParseFromString(response.traces_data()));

  grpc::ClientContext missing_context;
  request.set_trace_id(std::string(Id(9).view()));
  ASSERT_TRUE(stub->GetTrace(&missing_context, request, &response).ok());
  EXPECT_FALSE(response.found());

  grpc::ClientContext bad_context;
  request.set_trace_id("short");
  EXPECT_EQ(stub->GetTrace(&bad_context, request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST(QueryServerTest, StoreErrorsKeepTheirCodeAndMessage) {
  FailingStore store(absl::UnavailableError("disk full at /data"));
  TestMember member(testing::MemberAt(testing::FreePort()), &store);
  auto stub = StubFor(member);
  grpc::ClientContext context;
  pb::GetServicesResponse response;
  const grpc::Status status = stub->GetServices(&context, pb::GetServicesRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "disk full at /data");
}

TEST(QueryServerTest, CallersNeedATokenOfTheFileWhenOneIsSet) {
  const std::string token_file = ::testing::TempDir() + "/query_server_tokens";
  std::ofstream(token_file) << "t0ken\n";
  storage::InMemoryTraceStore store;
  QueryServerOptions options;
  options.bearer_token_file = token_file;
  TestMember member(testing::MemberAt(testing::FreePort()), &store, options);
  auto stub = StubFor(member);

  grpc::ClientContext anonymous;
  pb::PingResponse ping;
  EXPECT_EQ(stub->Ping(&anonymous, pb::PingRequest(), &ping).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  grpc::ClientContext wrong;
  wrong.AddMetadata("authorization", "Bearer other");
  pb::GetServicesResponse services;
  const grpc::Status refused = stub->GetServices(&wrong, pb::GetServicesRequest(), &services);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(refused.error_message(), HasSubstr("authorization: Bearer <token>"));

  grpc::ClientContext good;
  good.AddMetadata("authorization", "Bearer t0ken");
  ASSERT_TRUE(stub->Ping(&good, pb::PingRequest(), &ping).ok());
  EXPECT_EQ(ping.member(), member.name());
  std::remove(token_file.c_str());
}

TEST(QueryServerTest, CreateRefusesImpossibleOptions) {
  storage::InMemoryTraceStore store;
  QueryServerOptions options;
  options.num_threads = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(QueryServer::Create(options, &store).status()));
  options = {};
  options.bearer_token_file = ::testing::TempDir() + "/no-such-token-file";
  const absl::Status missing = QueryServer::Create(options, &store).status();
  EXPECT_FALSE(missing.ok());
  EXPECT_THAT(missing.message(), HasSubstr("no-such-token-file"));
}

}  // namespace
}  // namespace tailtrace::cluster
