// SpanRouter over real gRPC: peers are OTLP/gRPC receivers on 127.0.0.1; each span must reach
// the member that owns its trace, the client's answer must wait for them, and the failure modes
// (a peer refusing, a peer unreachable, a full forward queue) must behave as documented in
// cluster/span_router.h.

#include "cluster/span_router.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "cluster/membership.h"
#include "cluster/ownership.h"
#include "cluster/peer_channels.h"
#include "collector/grpc_byte_buffer_peer.h"
#include "collector/gzip.h"
#include "collector/receivers.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "tests/collector/test_spans.h"
#include "tests/integration/tls_test_util.h"

namespace tailtrace::cluster {
namespace {

using ::opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using ::opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using ::testing::HasSubstr;

// Records the trace IDs of what it takes (and whether a peer sent it), or refuses.
class RecordingSink : public collector::SpanSink {
 public:
  absl::Status Consume(WireRequest&& request) override {
    std::lock_guard lock(mu_);
    if (!refusal_.ok()) return refusal_;
    for (const WireSpan& span : request.spans) traces_.insert(span.trace_id);
    spans_ += request.spans.size();
    return absl::OkStatus();
  }
  void ConsumeAsync(WireRequest&& request, const collector::ConsumeContext& context,
                    collector::ConsumeDone done) override {
    {
      std::lock_guard lock(mu_);
      if (context.from_peer) ++peer_calls_;
      if (held_) {
        parked_.push_back({std::move(request), std::move(done)});
        parked_changed_.notify_all();
        return;
      }
    }
    std::move(done)(Consume(std::move(request)));
  }
  // While held, requests wait unanswered until Release.
  void Hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  void Release() {
    std::vector<Parked> parked;
    {
      std::lock_guard lock(mu_);
      held_ = false;
      parked.swap(parked_);
    }
    for (Parked& p : parked) std::move(p.done)(Consume(std::move(p.request)));
  }
  // Waits until `n` requests are held (false after 10 s).
  bool WaitUntilHeld(size_t n) {
    std::unique_lock lock(mu_);
    return parked_changed_.wait_for(lock, std::chrono::seconds(10),
                                    [&] { return parked_.size() >= n; });
  }
  void Refuse(absl::Status status) {
    std::lock_guard lock(mu_);
    refusal_ = std::move(status);
  }
  std::set<TraceId> traces() {
    std::lock_guard lock(mu_);
    return traces_;
  }
  size_t spans() {
    std::lock_guard lock(mu_);
    return spans_;
  }
  int peer_calls() {
    std::lock_guard lock(mu_);
    return peer_calls_;
  }

 private:
  struct Parked {
    WireRequest request;
    collector::ConsumeDone done;
  };
  std::mutex mu_;
  std::condition_variable parked_changed_;
  bool held_ = false;
  std::vector<Parked> parked_;
  absl::Status refusal_;
  std::set<TraceId> traces_;
  size_t spans_ = 0;
  int peer_calls_ = 0;
};

// A peer: an OTLP/gRPC receiver on 127.0.0.1 feeding a RecordingSink.
struct Peer {
  RecordingSink sink;
  std::unique_ptr<collector::GrpcReceiver> receiver;
  std::string name;
};

// A port on 127.0.0.1 where nothing listens (bound, then closed).
int DeadPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TraceId IdOf(uint64_t n) { return TraceId::FromBytes(collector::testing::TestTraceId(n)); }

// `traces` traces of two spans each, in one request.
ExportTraceServiceRequest Traces(uint64_t traces) {
  ExportTraceServiceRequest request;
  for (uint64_t t = 0; t < traces; ++t) {
    collector::testing::AddSpan(&request, "checkout", t, 2 * t + 1, 0);
    collector::testing::AddSpan(&request, "cart", t, 2 * t + 2, 2 * t + 1);
  }
  return request;
}

// A member of an older version, which knows no LZ4 frames (nor kPeerEncodingMetadata): an
// OTLP/gRPC server on 127.0.0.1 that parses each request as protobuf, refusing what does not
// parse as our receivers do (INVALID_ARGUMENT), and records the trace IDs of what it took.
class OldMember final
    : public opentelemetry::proto::collector::trace::v1::TraceService::WithRawCallbackMethod_Export<
          opentelemetry::proto::collector::trace::v1::TraceService::Service> {
 public:
  OldMember() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    // As our receivers: messages arrive as sent, so a gzip-compressed one can be told apart.
    builder.AddChannelArgument(GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION, 0);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~OldMember() override { server_->Shutdown(); }

  std::string name() const { return absl::StrCat("127.0.0.1:", port_); }
  int refused() {
    std::lock_guard lock(mu_);
    return refused_;
  }
  int gzip_calls() {
    std::lock_guard lock(mu_);
    return gzip_calls_;
  }
  std::set<TraceId> traces() {
    std::lock_guard lock(mu_);
    return traces_;
  }

  grpc::ServerUnaryReactor* Export(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    const bool gzip =
        grpc::internal::GrpcByteBufferPeer(request).compression() == GRPC_COMPRESS_GZIP;
    std::vector<grpc::Slice> slices;
    std::string bytes;
    if (request->Dump(&slices).ok()) {
      for (const grpc::Slice& slice : slices) {
        bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
      }
    }
    if (gzip) bytes = collector::Gunzip(bytes, 1 << 30).value_or("");
    ExportTraceServiceRequest parsed;
    const bool ok = parsed.ParseFromString(bytes);
    std::lock_guard lock(mu_);
    if (!ok) {
      ++refused_;
      reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                   "request body is not a valid ExportTraceServiceRequest"));
      return reactor;
    }
    if (gzip) ++gzip_calls_;
    for (const auto& rs : parsed.resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& span : ss.spans()) traces_.insert(TraceId::FromBytes(span.trace_id()));
      }
    }
    bool own_buffer = false;
    reactor->Finish(grpc::SerializationTraits<ExportTraceServiceResponse>::Serialize(
        ExportTraceServiceResponse(), response, &own_buffer));
    return reactor;
  }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::mutex mu_;
  int refused_ = 0;
  int gzip_calls_ = 0;
  std::set<TraceId> traces_;
};

PeerForwarderOptions GiveUpAtOnce() {
  PeerForwarderOptions options;
  options.give_up_after_ns = 0;
  return options;
}

PeerForwarderOptions QueueOf(uint64_t bytes) {
  PeerForwarderOptions options;
  options.queue_bytes = bytes;
  return options;
}

PeerChannelsTls ClientTls(const testing::TestPki& pki, bool client_cert) {
  PeerChannelsTls tls;
  tls.enabled = true;
  tls.ca_pem = testing::ReadFileOrEmpty(pki.ca_cert);
  if (client_cert) {
    tls.cert_pem = testing::ReadFileOrEmpty(pki.client_cert);
    tls.key_pem = testing::ReadFileOrEmpty(pki.client_key);
  }
  return tls;
}

class SpanRouterTest : public ::testing::Test {
 protected:
  static constexpr char kSelf[] = "127.0.0.1:1";

  void AddPeers(int n, const security::TlsOptions& tls = {}) {
    for (int i = 0; i < n; ++i) {
      auto peer = std::make_unique<Peer>();
      collector::GrpcReceiverOptions options;
      options.endpoint = "127.0.0.1:0";
      options.security.tls = tls;
      auto receiver = collector::GrpcReceiver::Create(options, &peer->sink, &metrics_);
      ASSERT_TRUE(receiver.ok()) << receiver.status();
      peer->receiver = *std::move(receiver);
      peer->name = absl::StrCat("127.0.0.1:", peer->receiver->port());
      peers_.push_back(std::move(peer));
    }
  }

  // The router of node kSelf over the peers (and `extra` members).
  void StartRouter(std::vector<std::string> extra = {}, PeerForwarderOptions forward = {},
                   PeerChannelsTls tls = {}) {
    ClusterOptions options;
    options.self = kSelf;
    for (const auto& peer : peers_) options.static_peers.push_back(peer->name);
    for (auto& name : extra) options.static_peers.push_back(std::move(name));
    auto membership = Membership::Create(options, nullptr, &clock_);
    ASSERT_TRUE(membership.ok()) << membership.status();
    membership_ = *std::move(membership);
    PeerChannelsOptions channels;
    channels.self = kSelf;
    channels.tls = std::move(tls);
    channels_ = std::make_unique<PeerChannels>(std::move(channels));
    SpanRouterOptions router;
    router.forward = forward;
    router_ = std::make_unique<SpanRouter>(router, membership_.get(), channels_.get(), &local_,
                                           &clock_, &metrics_);
  }

  absl::Status Send(const ExportTraceServiceRequest& request) {
    return router_->Consume(collector::testing::Scanned(request));
  }

  // The traces of `request` that `member` owns among every member.
  std::set<TraceId> OwnedBy(const std::string& member, uint64_t traces) {
    const Ring ring(membership_->Live()->members());
    std::set<TraceId> owned;
    for (uint64_t t = 0; t < traces; ++t) {
      if (ring.member(ring.OwnerOf(IdOf(t))) == member) owned.insert(IdOf(t));
    }
    return owned;
  }

  uint64_t Counter(const std::string& name, const Labels& labels = {}) {
    return metrics_.GetCounter(name, "", labels)->Value();
  }

  FakeClock clock_;
  MetricsRegistry metrics_;
  RecordingSink local_;
  std::vector<std::unique_ptr<Peer>> peers_;
  std::unique_ptr<Membership> membership_;
  std::unique_ptr<PeerChannels> channels_;
  std::unique_ptr<SpanRouter> router_;
};

TEST_F(SpanRouterTest, EverySpanReachesTheOwnerOfItsTrace) {
  AddPeers(2);
  StartRouter();
  constexpr uint64_t kTraces = 90;
  ASSERT_TRUE(Send(Traces(kTraces)).ok());
  // Consume answered: the peers hold their shares already.
  EXPECT_EQ(local_.traces(), OwnedBy(kSelf, kTraces));
  for (const auto& peer : peers_) {
    EXPECT_EQ(peer->sink.traces(), OwnedBy(peer->name, kTraces)) << peer->name;
    EXPECT_FALSE(peer->sink.traces().empty());
    EXPECT_GT(peer->sink.peer_calls(), 0) << "forwarded calls are marked as peer calls";
  }
  EXPECT_EQ(local_.spans() + peers_[0]->sink.spans() + peers_[1]->sink.spans(), 2 * kTraces);
  EXPECT_EQ(local_.peer_calls(), 0);
  // The batches went out LZ4-framed (the default): the receivers decoded about the peers' share
  // of the request.
  const uint64_t decoded = metrics_.GetCounter("tailtrace_grpc_inflated_bytes_total", "")->Value();
  EXPECT_GT(decoded, Traces(kTraces).ByteSizeLong() / 3);
  EXPECT_LT(decoded, Traces(kTraces).ByteSizeLong());
}

TEST_F(SpanRouterTest, RequestsQueuedTogetherGoAsOneBatchOfLz4Frames) {
  AddPeers(2);
  StartRouter();
  for (const auto& peer : peers_) peer->sink.Hold();
  // One call per peer goes out and waits; the other requests queue behind it (a second call goes
  // out only with a full batch).
  constexpr int kRequests = 8;
  constexpr uint64_t kTraces = 60;
  std::latch answered(kRequests);
  std::vector<absl::Status> answers(kRequests, absl::UnknownError("not answered"));
  for (int i = 0; i < kRequests; ++i) {
    router_->ConsumeAsync(collector::testing::Scanned(Traces(kTraces)), collector::ConsumeContext{},
                          [&answers, &answered, i](absl::Status s) {
                            answers[i] = std::move(s);
                            answered.count_down();
                          });
  }
  for (const auto& peer : peers_) peer->sink.Release();
  answered.wait();
  for (const absl::Status& answer : answers) EXPECT_TRUE(answer.ok()) << answer;
  for (const auto& peer : peers_) {
    EXPECT_EQ(peer->sink.traces(), OwnedBy(peer->name, kTraces)) << peer->name;
    EXPECT_EQ(peer->sink.spans(), kRequests * 2 * OwnedBy(peer->name, kTraces).size());
    // The call that waited, then one batch of the seven queued requests: one call holding seven
    // LZ4 frames back to back.
    EXPECT_EQ(peer->sink.peer_calls(), 2) << peer->name;
  }
  EXPECT_EQ(Counter("tailtrace_grpc_requests_total", {{"code", "INVALID_ARGUMENT"}}), 0u)
      << "no batch of frames was refused (and sent again gzip-compressed)";
}

// When a full batch waits, a second call takes it while the first is in flight (at most two).
TEST_F(SpanRouterTest, AFullBatchGoesOutBesideTheCallInFlight) {
  AddPeers(1);
  PeerForwarderOptions forward;
  forward.max_batch_bytes = 1;  // every request is a full batch
  StartRouter({}, forward);
  RecordingSink& peer = peers_[0]->sink;
  peer.Hold();
  constexpr int kRequests = 6;
  constexpr uint64_t kTraces = 40;
  std::latch answered(kRequests);
  std::atomic<int> failed{0};
  for (int i = 0; i < kRequests; ++i) {
    router_->ConsumeAsync(collector::testing::Scanned(Traces(kTraces)), collector::ConsumeContext{},
                          [&](absl::Status s) {
                            if (!s.ok()) ++failed;
                            answered.count_down();
                          });
  }
  EXPECT_TRUE(peer.WaitUntilHeld(2)) << "a second call went out beside the first";
  peer.Release();
  answered.wait();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(peer.peer_calls(), kRequests) << "each request a batch of its own";
  EXPECT_EQ(peer.spans(), kRequests * 2 * OwnedBy(peers_[0]->name, kTraces).size());
}

TEST_F(SpanRouterTest, WithGzipBatchesGoGzipCompressed) {
  AddPeers(2);
  PeerForwarderOptions gzip;
  gzip.compression = PeerCompression::kGzip;
  StartRouter({}, gzip);
  constexpr uint64_t kTraces = 60;
  ASSERT_TRUE(Send(Traces(kTraces)).ok());
  for (const auto& peer : peers_) {
    EXPECT_EQ(peer->sink.traces(), OwnedBy(peer->name, kTraces)) << peer->name;
  }
  const uint64_t inflated = metrics_.GetCounter("tailtrace_grpc_inflated_bytes_total", "")->Value();
  EXPECT_GT(inflated, Traces(kTraces).ByteSizeLong() / 3);
  EXPECT_LT(inflated, Traces(kTraces).ByteSizeLong());
}

TEST_F(SpanRouterTest, AMemberThatCannotReadLz4FramesGetsGzip) {
  OldMember old;
  StartRouter({old.name()});
  constexpr uint64_t kTraces = 60;
  const std::set<TraceId> owned = OwnedBy(old.name(), kTraces);
  ASSERT_FALSE(owned.empty());
  ASSERT_TRUE(Send(Traces(kTraces)).ok());
  // It refused the first call (an LZ4 frame is no protobuf); the batch came again gzip-compressed.
  EXPECT_EQ(old.refused(), 1);
  EXPECT_EQ(old.traces(), owned);
  EXPECT_GT(old.gzip_calls(), 0);
  // Later batches go gzip-compressed at once.
  ASSERT_TRUE(Send(Traces(kTraces)).ok());
  EXPECT_EQ(old.refused(), 1);
  EXPECT_EQ(old.gzip_calls(), 2);
}

TEST_F(SpanRouterTest, WithoutCompressionBatchesGoAsTheyAre) {
  AddPeers(2);
  PeerForwarderOptions plain;
  plain.compression = PeerCompression::kNone;
  StartRouter({}, plain);
  constexpr uint64_t kTraces = 60;
  ASSERT_TRUE(Send(Traces(kTraces)).ok());
  for (const auto& peer : peers_) {
    EXPECT_EQ(peer->sink.traces(), OwnedBy(peer->name, kTraces)) << peer->name;
  }
  EXPECT_EQ(metrics_.GetCounter("tailtrace_grpc_inflated_bytes_total", "")->Value(), 0u);
}

TEST_F(SpanRouterTest, ARequestOfOwnTracesStaysLocal) {
  StartRouter();  // a cluster of one
  ASSERT_TRUE(Send(Traces(10)).ok());
  EXPECT_EQ(local_.spans(), 20u);
}

TEST_F(SpanRouterTest, AForwardedRequestIsNeverForwardedAgain) {
  AddPeers(2);
  StartRouter();
  absl::Status answer = absl::UnknownError("not answered");
  router_->ConsumeAsync(collector::testing::Scanned(Traces(30)),
                        collector::ConsumeContext{.from_peer = true},
                        [&answer](absl::Status s) { answer = std::move(s); });
  EXPECT_TRUE(answer.ok()) << answer;
  EXPECT_EQ(local_.spans(), 60u);
  EXPECT_EQ(peers_[0]->sink.spans() + peers_[1]->sink.spans(), 0u);
}

TEST_F(SpanRouterTest, APeersRefusalReachesTheClientAsBackpressure) {
  AddPeers(2);
  StartRouter();
  peers_[0]->sink.Refuse(absl::UnavailableError("trace pipeline is full"));
  const absl::Status status = Send(Traces(60));
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr(absl::StrCat("member ", peers_[0]->name)));
  EXPECT_THAT(status.message(), HasSubstr("trace pipeline is full"));
  // The peer answered: it is alive, and its traces did not move elsewhere.
  EXPECT_EQ(peers_[1]->sink.traces(), OwnedBy(peers_[1]->name, 60));
  EXPECT_EQ(local_.traces(), OwnedBy(kSelf, 60));
  EXPECT_EQ(Counter("tailtrace_cluster_rerouted_spans_total"), 0u);
  for (const MemberStatus& m : membership_->StatusSnapshot().members) {
    EXPECT_EQ(m.state, PeerState::kUp) << m.name;
  }
}

TEST_F(SpanRouterTest, AnUnreachableOwnersTracesGoToTheNextMemberInHashOrder) {
  AddPeers(1);
  const std::string dead = absl::StrCat("127.0.0.1:", DeadPort());
  StartRouter({dead}, GiveUpAtOnce());
  constexpr uint64_t kTraces = 90;
  const std::set<TraceId> dead_owned = OwnedBy(dead, kTraces);
  ASSERT_FALSE(dead_owned.empty());
  ASSERT_TRUE(Send(Traces(kTraces)).ok()) << "the client gets a success: its spans are held";

  // Each of the dead member's traces went to the first other member in its preference order.
  const Ring ring(membership_->Live()->members());
  for (const TraceId& id : dead_owned) {
    const std::vector<size_t> order = ring.OwnersInOrder(id, ring.size());
    ASSERT_EQ(ring.member(order[0]), dead);
    const std::string& next = ring.member(order[1]);
    RecordingSink& sink = next == kSelf ? local_ : peers_[0]->sink;
    EXPECT_TRUE(sink.traces().count(id)) << next;
  }
  EXPECT_EQ(local_.spans() + peers_[0]->sink.spans(), 2 * kTraces);
  EXPECT_EQ(Counter("tailtrace_cluster_rerouted_spans_total"), 2 * dead_owned.size());
  bool reported = false;
  for (const MemberStatus& m : membership_->StatusSnapshot().members) {
    if (m.name == dead) reported = !m.last_error.empty();
  }
  EXPECT_TRUE(reported) << "membership heard of the failure";
}

TEST_F(SpanRouterTest, AFullForwardQueueRefusesTheWholeRequestBeforeTakingAnything) {
  AddPeers(2);
  StartRouter({}, QueueOf(64));
  const absl::Status status = Send(Traces(60));
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("forward queue to cluster member"));
  EXPECT_EQ(local_.spans(), 0u);
  EXPECT_EQ(peers_[0]->sink.spans() + peers_[1]->sink.spans(), 0u);
  EXPECT_EQ(Counter("tailtrace_cluster_refused_spans_total"), 120u);
}

TEST_F(SpanRouterTest, ALocalRefusalGivesThePeersReservationsBack) {
  AddPeers(1);
  StartRouter();
  local_.Refuse(absl::UnavailableError("memory limit"));
  EXPECT_TRUE(absl::IsUnavailable(Send(Traces(40))));
  EXPECT_EQ(peers_[0]->sink.spans(), 0u) << "nothing forwarded for a refused request";
  EXPECT_EQ(metrics_
                .GetGauge("tailtrace_cluster_forward_queue_bytes", "",
                          {{"peer", peers_[0]->name}, {"kind", "owner"}})
                ->Value(),
            0);
  local_.Refuse(absl::OkStatus());
  EXPECT_TRUE(Send(Traces(40)).ok());
}

TEST_F(SpanRouterTest, ConcurrentRequestsToAPeerAllArrive) {
  AddPeers(2);
  StartRouter();
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([this] {
      for (int i = 0; i < 10; ++i) EXPECT_TRUE(Send(Traces(30)).ok());
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(local_.spans() + peers_[0]->sink.spans() + peers_[1]->sink.spans(), 4u * 10 * 60);
}

// Peers whose receivers require client certificates (mTLS), with their PKI in a temporary
// directory that the fixture removes.
class SpanRouterTlsTest : public SpanRouterTest {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/tailtrace-cluster-tls-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    absl::StatusOr<testing::TestPki> pki = testing::MakeTestPki(dir_, "cluster");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = *std::move(pki);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void AddMtlsPeers(int n) {
    security::TlsOptions server;
    server.cert_file = pki_.server_cert;
    server.key_file = pki_.server_key;
    server.client_ca_file = pki_.ca_cert;
    AddPeers(n, server);
  }

  std::string dir_;
  testing::TestPki pki_;
};

TEST_F(SpanRouterTlsTest, PeersReachEachOtherOverMutualTls) {
  AddMtlsPeers(2);
  StartRouter({}, GiveUpAtOnce(), ClientTls(pki_, /*client_cert=*/true));
  ASSERT_TRUE(Send(Traces(60)).ok());
  for (const auto& peer : peers_) {
    EXPECT_EQ(peer->sink.traces(), OwnedBy(peer->name, 60)) << peer->name;
  }
  EXPECT_EQ(Counter("tailtrace_cluster_rerouted_spans_total"), 0u);
}

TEST_F(SpanRouterTlsTest, APeerThatRefusesTheHandshakeIsUnreachable) {
  AddMtlsPeers(1);
  // No client certificate: the peer refuses the handshake; its traces stay here.
  StartRouter({}, GiveUpAtOnce(), ClientTls(pki_, /*client_cert=*/false));
  ASSERT_TRUE(Send(Traces(60)).ok());
  EXPECT_EQ(peers_[0]->sink.spans(), 0u);
  EXPECT_EQ(local_.spans(), 120u);
  EXPECT_GT(Counter("tailtrace_cluster_rerouted_spans_total"), 0u);
}

}  // namespace
}  // namespace tailtrace::cluster
