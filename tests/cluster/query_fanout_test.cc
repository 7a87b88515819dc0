// Query fan-out over real gRPC servers on 127.0.0.1: ClusterReader asking the members'
// ClusterQuery services (QueryServer) and merging; partial answers for a dead, a slow and an
// unauthenticated member; QueryService showing them in the Jaeger envelope.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/cluster_reader.h"
#include "cluster/membership.h"
#include "cluster/peer_channels.h"
#include "cluster/query_server.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "query/query_service.h"
#include "rapidjson/document.h"
#include "storage/testing/in_memory_trace_store.h"
#include "tailtrace/cluster/v1/cluster.grpc.pb.h"
#include "tests/cluster/cluster_test_support.h"
#include "tests/storage/failing_trace_store.h"

namespace tailtrace::cluster {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Id;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using testing::SpanSpec;
using testing::TestMember;
using testing::WriteTrace;

constexpr int64_t kS = 1'000'000'000;
constexpr int64_t kMs = 1'000'000;
constexpr int64_t kBase = 1'700'000'000'000'000'000;

std::vector<TraceId> IdsOf(const std::vector<storage::TraceSummary>& summaries) {
  std::vector<TraceId> ids;
  for (const storage::TraceSummary& s : summaries) ids.push_back(s.trace_id);
  return ids;
}

// Delegates to an InMemoryTraceStore, but every read waits until Release(): a member that
// answers too late.
class SlowStore final : public storage::TraceStore {
 public:
  absl::Status Write(std::span<const storage::TraceWrite> traces) override {
    return inner_.Write(traces);
  }
  absl::StatusOr<std::optional<storage::StoredTrace>> GetTrace(const TraceId& id) override {
    Wait();
    return inner_.GetTrace(id);
  }
  absl::StatusOr<std::vector<std::string>> GetServices() override {
    Wait();
    return inner_.GetServices();
  }
  absl::StatusOr<std::vector<storage::TraceSummary>> FindTraces(
      const storage::TraceQuery& query) override {
    Wait();
    return inner_.FindTraces(query);
  }
  absl::StatusOr<std::vector<storage::Operation>> GetOperations(const std::string& service,
                                                                int span_kind) override {
    return inner_.GetOperations(service, span_kind);
  }
  absl::Status Flush() override { return absl::OkStatus(); }
  storage::StoreStats Stats() const override { return {}; }

  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    released_cv_.notify_all();
  }

 private:
  void Wait() {
    std::unique_lock lock(mu_);
    released_cv_.wait(lock, [this] { return released_; });
  }

  storage::InMemoryTraceStore inner_;
  std::mutex mu_;
  std::condition_variable released_cv_;
  bool released_ = false;
};

using FailingStore = storage::testing::FailingTraceStore;

class FanOutTest : public ::testing::Test {
 protected:
  // This node (self, reading stores_[0] directly) and one member per entry of `peer_stores`,
  // each serving its store. `authorization` is what this node presents to its peers.
  void Start(std::vector<storage::TraceStore*> peer_stores, int64_t timeout_ns = 5 * kS,
             QueryServerOptions server_options = {}, std::string authorization = "") {
    self_ = NobodyAt();
    ClusterOptions options;
    options.self = self_;
    for (storage::TraceStore* store : peer_stores) {
      members_.push_back(std::make_unique<TestMember>(testing::MemberAt(testing::FreePort()), store,
                                                      server_options));
      options.static_peers.push_back(members_.back()->name());
    }
    Connect(options, timeout_ns, std::move(authorization));
  }

  // A member name nothing answers at, for this node's own name or a dead member (its port held
  // until the test ends, so neither a parallel test nor another name gets it).
  std::string NobodyAt() { return testing::MemberAt(reserved_.emplace_back().port()); }

  // The reader of this node over `local` (default: self_store_).
  void Connect(const ClusterOptions& options, int64_t timeout_ns, std::string authorization,
               storage::TraceStore* local = nullptr) {
    auto membership = Membership::Create(options, nullptr, &clock_);
    ASSERT_TRUE(membership.ok()) << membership.status();
    membership_ = *std::move(membership);
    channels_ = std::make_unique<PeerChannels>(PeerChannelsOptions{self_, authorization, {}});
    auto reader = ClusterReader::Create({timeout_ns}, membership_.get(), channels_.get(),
                                        local != nullptr ? local : &self_store_);
    ASSERT_TRUE(reader.ok()) << reader.status();
    reader_ = *std::move(reader);
  }

  const MemberStatus* StatusOf(const std::string& name) {
    status_ = membership_->StatusSnapshot();
    for (const MemberStatus& m : status_.members) {
      if (m.name == name) return &m;
    }
    return nullptr;
  }

  ~FanOutTest() override {
    // The slow member's call must end before its server goes.
    slow_store_.Release();
    members_.clear();
  }

  FakeClock clock_;
  storage::InMemoryTraceStore self_store_;
  storage::InMemoryTraceStore store1_;
  storage::InMemoryTraceStore store2_;
  SlowStore slow_store_;
  std::string self_;
  std::deque<testing::ReservedPort> reserved_;
  std::vector<std::unique_ptr<TestMember>> members_;
  std::unique_ptr<Membership> membership_;
  std::unique_ptr<PeerChannels> channels_;
  std::unique_ptr<ClusterReader> reader_;
  ClusterStatus status_;
};

TEST_F(FanOutTest, SearchMergesTheMembersNewestFirstThenTakesTheLimit) {
  WriteTrace(&self_store_, Id(1), {{"a", "op", kBase + 1000}});
  WriteTrace(&self_store_, Id(4), {{"a", "op", kBase + 4000}});
  WriteTrace(&store1_, Id(2), {{"b", "op", kBase + 2000}});
  WriteTrace(&store1_, Id(5), {{"b", "op", kBase + 5000}});
  WriteTrace(&store2_, Id(3), {{"c", "op", kBase + 3000}});
  WriteTrace(&store2_, Id(6), {{"c", "op", kBase + 5000}});  // same start as 5: higher ID first
  Start({&store1_, &store2_});

  storage::TraceQuery query;
  query.limit = 4;
  query::PartialErrors errors;
  auto found = reader_->FindTraces(query, &errors);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_THAT(IdsOf(*found), ElementsAre(Id(6), Id(5), Id(4), Id(3)));
  EXPECT_THAT(errors.messages(), IsEmpty());

  query.limit = 100;
  found = reader_->FindTraces(query, &errors);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_THAT(IdsOf(*found), ElementsAre(Id(6), Id(5), Id(4), Id(3), Id(2), Id(1)));
}

TEST_F(FanOutTest, TraceOnTwoMembersIsOneSummary) {
  // The root on this node, a child that went to a peer (e.g. before a membership change).
  WriteTrace(&self_store_, Id(7), {{"frontend", "checkout", kBase + 100, 50, 1}});
  WriteTrace(&store1_, Id(7), {{"cart", "add", kBase + 150, 250, 2, 1, /*error=*/true}});
  Start({&store1_});

  storage::TraceQuery query;
  auto found = reader_->FindTraces(query, nullptr);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_THAT(*found, SizeIs(1));
  const storage::TraceSummary& s = (*found)[0];
  EXPECT_EQ(s.trace_id, Id(7));
  EXPECT_EQ(s.start_ns, kBase + 100);
  EXPECT_EQ(s.duration_ns, 300);
  EXPECT_EQ(s.span_count, 2u);
  EXPECT_EQ(s.error_count, 1u);
  EXPECT_EQ(s.root_service, "frontend");
  EXPECT_EQ(s.root_operation, "checkout");
  EXPECT_THAT(s.services, ElementsAre(storage::ServiceSummary{"cart", 1, 1},
                                      storage::ServiceSummary{"frontend", 1, 0}));
}

TEST_F(FanOutTest, TraceSplitAcrossMembersIsMergedWithTheOwnersPolicy) {
  Start({&store1_});
  // A trace owned by the member that sorts last, so that the owner's copy comes first only
  // because it is the owner's.
  const std::shared_ptr<const Ring> ring = membership_->Live();
  ASSERT_EQ(ring->size(), 2u);
  TraceId id;
  for (uint8_t n = 1; n < 255 && id == TraceId(); ++n) {
    if (ring->OwnerOf(Id(n)) == 1) id = Id(n);
  }
  ASSERT_NE(id, TraceId());
  const bool self_owns = ring->member(1) == self_;
  storage::TraceStore* owner = self_owns ? &self_store_ : &store1_;
  storage::TraceStore* other = self_owns ? &store1_ : &self_store_;
  WriteTrace(owner, id, {{"a", "root", kBase, 100, 1}, {"a", "child", kBase + 10, 10, 2, 1}},
             "owner-policy", 4.0);
  // The other member holds a second copy of span 2, and span 3.
  WriteTrace(other, id, {{"a", "child", kBase + 10, 10, 2, 1}, {"b", "late", kBase + 20, 10, 3, 2}},
             "late", 1.0);

  query::PartialErrors errors;
  auto trace = reader_->GetTrace(id, 0, &errors);
  ASSERT_TRUE(trace.ok()) << trace.status();
  ASSERT_TRUE(trace->has_value());
  EXPECT_EQ(storage::SpanCountOf((*trace)->data), 3u);
  EXPECT_EQ((*trace)->sampling_policy, "owner-policy");
  EXPECT_EQ((*trace)->sample_rate, 4.0);
  EXPECT_FALSE((*trace)->truncated);
  EXPECT_THAT(errors.messages(), IsEmpty());

  // Over the bound when put together, though each part is within it.
  trace = reader_->GetTrace(id, 2, &errors);
  ASSERT_TRUE(trace.ok() && trace->has_value());
  EXPECT_TRUE((*trace)->truncated);

  trace = reader_->GetTrace(Id(0xee), 0, &errors);
  ASSERT_TRUE(trace.ok());
  EXPECT_FALSE(trace->has_value());
}

TEST_F(FanOutTest, ArchivingKeepsTheWholeTraceOnThisNodeAndEveryMembersCopyIsRead) {
  // The trace is split between this node and the peer.
  WriteTrace(&self_store_, Id(8), {{"frontend", "checkout", kBase, 100, 1}}, "errors", 1.0);
  WriteTrace(&store1_, Id(8), {{"cart", "add", kBase + 10, 10, 2, 1}}, "errors", 1.0);
  Start({&store1_});
  query::QueryService service(reader_.get(), &clock_);

  http::Request post;
  post.method = "POST";
  post.path = post.target = "/api/archive/" + Id(8).Hex();
  const http::Response archived = service.Handle(post);
  ASSERT_EQ(archived.status, 200) << archived.body;
  EXPECT_EQ(archived.body, R"({"data":[],"total":0,"limit":0,"offset":0,"errors":[]})");

  // This node keeps the whole trace; the peer keeps no copy.
  auto mine = self_store_.GetArchivedTrace(Id(8));
  ASSERT_TRUE(mine.ok() && mine->has_value());
  EXPECT_EQ(storage::SpanCountOf((*mine)->data), 2u);
  auto theirs = store1_.GetArchivedTrace(Id(8));
  ASSERT_TRUE(theirs.ok());
  EXPECT_FALSE(theirs->has_value());

  // A copy another member archived (e.g. after a late span reached it) is read too, merged.
  storage::InMemoryTraceStore scratch;
  WriteTrace(&scratch, Id(8), {{"db", "query", kBase + 20, 5, 3, 2}}, "errors", 1.0);
  ASSERT_TRUE(store1_.ArchiveTrace(**scratch.GetTrace(Id(8))).ok());
  query::PartialErrors errors;
  auto copy = reader_->GetArchivedTrace(Id(8), 0, &errors);
  ASSERT_TRUE(copy.ok()) << copy.status();
  ASSERT_TRUE(copy->has_value());
  EXPECT_EQ(storage::SpanCountOf((*copy)->data), 3u);
  EXPECT_EQ((*copy)->sampling_policy, "errors");
  EXPECT_THAT(errors.messages(), IsEmpty());
  copy = reader_->GetArchivedTrace(Id(8), 2, &errors);
  ASSERT_TRUE(copy.ok() && copy->has_value());
  EXPECT_TRUE((*copy)->truncated);
  copy = reader_->GetArchivedTrace(Id(0xee), 0, &errors);
  ASSERT_TRUE(copy.ok());
  EXPECT_FALSE(copy->has_value());
}

TEST_F(FanOutTest, ATraceOnlyAPeerArchivedIsFoundByIdFromAnyNode) {
  // Stored nowhere any more (retention removed it), archived on the peer.
  storage::InMemoryTraceStore scratch;
  WriteTrace(&scratch, Id(9), {{"a", "op", kBase, 100, 1}});
  ASSERT_TRUE(store1_.ArchiveTrace(**scratch.GetTrace(Id(9))).ok());
  Start({&store1_});
  query::QueryService service(reader_.get(), &clock_);
  http::Request get;
  get.method = "GET";
  get.path = get.target = "/api/traces/" + Id(9).Hex();
  const http::Response r = service.Handle(get);
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document doc;
  doc.Parse(r.body.c_str(), r.body.size());
  ASSERT_TRUE(doc["data"].IsArray());
  ASSERT_EQ(doc["data"].Size(), 1u);
  EXPECT_EQ(doc["data"][0]["spans"].Size(), 1u);
}

TEST_F(FanOutTest, ServicesOperationsAndDependenciesAreMergedAcrossMembers) {
  WriteTrace(&self_store_, Id(1),
             {{"frontend", "GET /", kBase, 100, 1}, {"cart", "add", kBase + 10, 10, 2, 1}});
  WriteTrace(&store1_, Id(2),
             {{"frontend", "GET /", kBase, 100, 1}, {"cart", "list", kBase + 10, 10, 2, 1, true}});
  WriteTrace(&store2_, Id(3),
             {{"cart", "add", kBase, 100, 1}, {"db", "query", kBase + 10, 10, 2, 1, true}});
  Start({&store1_, &store2_});

  query::PartialErrors errors;
  auto services = reader_->GetServices(&errors);
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services, ElementsAre("cart", "db", "frontend"));

  auto ops = reader_->GetOperations("cart", -1, &errors);
  ASSERT_TRUE(ops.ok()) << ops.status();
  EXPECT_THAT(*ops, ElementsAre(storage::Operation{"add", 2}, storage::Operation{"list", 2}));

  auto links = reader_->GetDependencies(kBase + 60 * kS, 3600 * kS, &errors);
  ASSERT_TRUE(links.ok()) << links.status();
  // The failed calls of the members (cart list, db query) come through and add up too.
  EXPECT_THAT(*links, ElementsAre(storage::DependencyLink{"cart", "db", 1, 1},
                                  storage::DependencyLink{"frontend", "cart", 2, 1}));
  EXPECT_THAT(errors.messages(), IsEmpty());
}

TEST_F(FanOutTest, TagSuggestionsAreTheSortedUnionCutToTheLimitAndAnOlderMemberIsPartial) {
  // Tags: span.kind=server on every span; error=true and otel.status_code=ERROR on the failed one.
  WriteTrace(&self_store_, Id(1), {{"frontend", "GET /", kBase}});
  WriteTrace(&store1_, Id(2), {{"cart", "add", kBase, 10, 1, 0, /*error=*/true}});
  Start({&store1_});
  storage::TagSuggestionQuery keys;
  query::PartialErrors errors;
  auto names = reader_->SuggestTags(keys, &errors);
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names, ElementsAre("error", "otel.status_code", "span.kind"));
  keys.limit = 2;
  names = reader_->SuggestTags(keys, &errors);
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names, ElementsAre("error", "otel.status_code"));
  storage::TagSuggestionQuery values;
  values.key = "otel.status_code";
  names = reader_->SuggestTags(values, &errors);
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names, ElementsAre("ERROR"));
  EXPECT_THAT(errors.messages(), IsEmpty());

  // A member of a version before SuggestTags: gRPC answers UNIMPLEMENTED for a method its
  // ClusterQuery service does not implement.
  v1::ClusterQuery::Service older_service;
  const std::string older = testing::MemberAt(testing::FreePort());
  grpc::ServerBuilder builder;
  builder.AddListeningPort(older, grpc::InsecureServerCredentials());
  builder.RegisterService(&older_service);
  std::unique_ptr<grpc::Server> older_server = builder.BuildAndStart();
  ASSERT_NE(older_server, nullptr);
  ClusterOptions options;
  options.self = self_;
  options.static_peers = {members_[0]->name(), older};
  Connect(options, 5 * kS, "");
  query::QueryService service(reader_.get(), &clock_);
  http::Request request;
  request.method = "GET";
  request.path = request.target = "/api/v3/tag-keys";
  request.query = {{"start_time_min", "2023-11-14T00:00:00Z"},
                   {"start_time_max", "2023-11-15T00:00:00Z"}};
  const http::Response response = service.Handle(request);
  older_server->Shutdown(std::chrono::system_clock::now());
  ASSERT_EQ(response.status, 200) << response.body;
  rapidjson::Document doc;
  doc.Parse(response.body.c_str(), response.body.size());
  ASSERT_TRUE(doc["tagKeys"].IsArray()) << response.body;
  EXPECT_EQ(doc["tagKeys"].Size(), 3u);
  ASSERT_TRUE(doc["partialErrors"].IsArray()) << response.body;
  ASSERT_EQ(doc["partialErrors"].Size(), 1u);
  EXPECT_THAT(doc["partialErrors"][0]["message"].GetString(),
              HasSubstr("member " + older + ": UNIMPLEMENTED"));
  // It answered: membership does not count it as a failure.
  ASSERT_NE(StatusOf(older), nullptr);
  EXPECT_EQ(StatusOf(older)->last_failure_unix_ns, 0);
}

TEST_F(FanOutTest, DeadMemberGivesAPartialAnswerNamingIt) {
  WriteTrace(&self_store_, Id(1), {{"a", "op", kBase}});
  WriteTrace(&store1_, Id(2), {{"b", "op", kBase + 1}});
  Start({&store1_});
  // Nothing listens at the second peer.
  ClusterOptions options;
  options.self = self_;
  const std::string dead = NobodyAt();
  options.static_peers = {members_[0]->name(), dead};
  Connect(options, 5 * kS, "");

  query::PartialErrors errors;
  auto services = reader_->GetServices(&errors);
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services, ElementsAre("a", "b"));
  ASSERT_THAT(errors.messages(), SizeIs(1));
  EXPECT_THAT(errors.messages()[0], HasSubstr("member " + dead + ": UNAVAILABLE: "));

  errors = {};
  auto found = reader_->FindTraces({}, &errors);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_THAT(IdsOf(*found), ElementsAre(Id(2), Id(1)));
  ASSERT_THAT(errors.messages(), SizeIs(1));
  EXPECT_THAT(errors.messages()[0], HasSubstr("member " + dead));

  // Membership heard about both peers.
  ASSERT_NE(StatusOf(dead), nullptr);
  EXPECT_THAT(StatusOf(dead)->last_error, HasSubstr("query: "));
  EXPECT_NE(StatusOf(members_[0]->name())->last_success_unix_ns, 0);
  EXPECT_EQ(StatusOf(members_[0]->name())->last_failure_unix_ns, 0);
}

TEST_F(FanOutTest, AMemberThatIsDownIsNamedWithoutBeingAsked) {
  WriteTrace(&self_store_, Id(1), {{"a", "op", kBase}});
  Start({&store1_});
  const std::string peer = members_[0]->name();
  // The peer stopped answering a peer_timeout ago: membership holds it down.
  membership_->ReportFailure(peer, "connection refused");
  clock_.Advance(6 * kS);
  ASSERT_FALSE(membership_->Refresh().down.empty());
  WriteTrace(&store1_, Id(2), {{"b", "op", kBase + 1}});

  query::PartialErrors errors;
  auto found = reader_->FindTraces({}, &errors);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_THAT(IdsOf(*found), ElementsAre(Id(1))) << "a down member is not asked";
  ASSERT_THAT(errors.messages(), SizeIs(1));
  EXPECT_THAT(errors.messages()[0], HasSubstr("member " + peer + " is down"));
}

TEST_F(FanOutTest, SlowMemberTimesOutIntoAPartialAnswer) {
  WriteTrace(&self_store_, Id(1), {{"a", "op", kBase}});
  WriteTrace(&slow_store_, Id(2), {{"slow", "op", kBase}});
  Start({&slow_store_}, 200 * kMs);

  query::PartialErrors errors;
  const auto start = std::chrono::steady_clock::now();
  auto services = reader_->GetServices(&errors);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services, ElementsAre("a"));
  ASSERT_THAT(errors.messages(), SizeIs(1));
  EXPECT_THAT(errors.messages()[0],
              HasSubstr("member " + members_[0]->name() + ": DEADLINE_EXCEEDED"));
  EXPECT_LT(elapsed, std::chrono::seconds(3));  // the deadline, not the slow store, ended it
  EXPECT_THAT(StatusOf(members_[0]->name())->last_error, HasSubstr("query: "));
}

TEST_F(FanOutTest, ASlowMemberCostsASearchOneTimeoutNotOnePerTrace) {
  for (uint8_t n = 1; n <= 8; ++n) WriteTrace(&self_store_, Id(n), {{"a", "op", kBase + n}});
  Start({&slow_store_}, 250 * kMs);
  query::QueryService service(reader_.get(), &clock_);
  http::Request request;
  request.method = "GET";
  request.path = request.target = "/api/traces";
  request.query = {{"service", "a"},
                   {"start", std::to_string(kBase / 1000)},
                   {"end", std::to_string(kBase / 1000 + 1000)}};

  const auto start = std::chrono::steady_clock::now();
  const http::Response response = service.Handle(request);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(response.status, 200) << response.body;
  rapidjson::Document doc;
  doc.Parse(response.body.c_str(), response.body.size());
  EXPECT_EQ(doc["data"].Size(), 8u);
  ASSERT_EQ(doc["errors"].Size(), 1u);
  EXPECT_THAT(doc["errors"][0]["msg"].GetString(), HasSubstr("DEADLINE_EXCEEDED"));
  // The search's timeout, then 8 trace reads that do not ask the slow member again (asking it
  // would take 9 timeouts, 2.25 s).
  EXPECT_LT(elapsed, std::chrono::milliseconds(1200));
}

TEST_F(FanOutTest, MembersRequireTheBearerTokenWhenTheReceiverDoes) {
  const std::string token_file = ::testing::TempDir() + "/fanout_tokens";
  std::ofstream(token_file) << "# peers\nsecret-1\n";
  WriteTrace(&self_store_, Id(1), {{"a", "op", kBase}});
  WriteTrace(&store1_, Id(2), {{"b", "op", kBase}});
  QueryServerOptions server_options;
  server_options.bearer_token_file = token_file;

  Start({&store1_}, 5 * kS, server_options, /*authorization=*/"");
  query::PartialErrors errors;
  auto services = reader_->GetServices(&errors);
  ASSERT_TRUE(services.ok());
  EXPECT_THAT(*services, ElementsAre("a"));
  ASSERT_THAT(errors.messages(), SizeIs(1));
  EXPECT_THAT(errors.messages()[0], HasSubstr("UNAUTHENTICATED: missing or invalid bearer token"));

  members_.clear();
  Start({&store1_}, 5 * kS, server_options, "Bearer secret-1");
  errors = {};
  services = reader_->GetServices(&errors);
  ASSERT_TRUE(services.ok());
  EXPECT_THAT(*services, ElementsAre("a", "b"));
  EXPECT_THAT(errors.messages(), IsEmpty());
  std::remove(token_file.c_str());
}

TEST_F(FanOutTest, AQueryThisNodeRefusesIsRefusedAsAWhole) {
  Start({&store1_});
  storage::TraceQuery query;
  query.limit = 0;
  query::PartialErrors errors;
  auto found = reader_->FindTraces(query, &errors);
  EXPECT_TRUE(absl::IsInvalidArgument(found.status())) << found.status();
}

TEST_F(FanOutTest, NoMemberAnsweringIsUnavailableNamingEach) {
  FailingStore broken(absl::InternalError("disk gone"));
  self_ = NobodyAt();
  ClusterOptions options;
  options.self = self_;
  const std::string dead = NobodyAt();
  options.static_peers = {dead};
  Connect(options, 5 * kS, "", &broken);

  query::PartialErrors errors;
  auto services = reader_->GetServices(&errors);
  EXPECT_TRUE(absl::IsUnavailable(services.status())) << services.status();
  EXPECT_THAT(services.status().message(), HasSubstr("member " + self_ + ": INTERNAL: disk gone"));
  EXPECT_THAT(services.status().message(), HasSubstr("member " + dead + ": UNAVAILABLE"));

  // Alone, this node's own failure is the answer, as on a single node.
  options.static_peers.clear();
  Connect(options, 5 * kS, "", &broken);
  services = reader_->GetServices(&errors);
  EXPECT_TRUE(absl::IsInternal(services.status())) << services.status();
  EXPECT_THAT(errors.messages(), IsEmpty());
}

TEST_F(FanOutTest, QueryServiceListsTheDeadMemberInTheJaegerEnvelope) {
  WriteTrace(&self_store_, Id(1), {{"a", "op", kBase}});
  WriteTrace(&store1_, Id(2), {{"b", "op", kBase}});
  Start({&store1_});
  ClusterOptions options;
  options.self = self_;
  const std::string dead = NobodyAt();
  options.static_peers = {members_[0]->name(), dead};
  Connect(options, 5 * kS, "");
  query::QueryService service(reader_.get(), &clock_);

  http::Request request;
  request.method = "GET";
  request.path = request.target = "/api/services";
  const http::Response response = service.Handle(request);
  ASSERT_EQ(response.status, 200) << response.body;
  rapidjson::Document doc;
  doc.Parse(response.body.c_str(), response.body.size());
  ASSERT_TRUE(doc["data"].IsArray());
  EXPECT_EQ(doc["data"].Size(), 2u);
  ASSERT_TRUE(doc["errors"].IsArray());
  ASSERT_EQ(doc["errors"].Size(), 1u);
  EXPECT_EQ(doc["errors"][0]["code"].GetInt(), 503);
  EXPECT_THAT(doc["errors"][0]["msg"].GetString(), HasSubstr("member " + dead + ": UNAVAILABLE"));
}

}  // namespace
}  // namespace tailtrace::cluster
