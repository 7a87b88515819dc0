// The cluster keys of the config file: self, peers.static, peers.dns, peer_timeout,
// query_timeout.

#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/config/config_test_util.h"

namespace tailtrace::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using test_util::Error;
using test_util::FakeEnv;
using test_util::kMs;
using test_util::kS;
using test_util::Parse;

// Peers reach this node over its gRPC receiver, which listens on loopback by default.
constexpr std::string_view kReachableGrpc =
    "receivers: {otlp: {protocols: {grpc: {endpoint: 0.0.0.0:4317}}}}\n";

std::string WithGrpc(std::string_view cluster) {
  return std::string(kReachableGrpc) + std::string(cluster);
}

TEST(ClusterConfigTest, WithoutTheSectionASingleNodeAsBefore) {
  const cluster::ClusterOptions c = Parse("").cluster;
  EXPECT_FALSE(c.enabled());
  EXPECT_EQ(c.self, "");
  EXPECT_THAT(c.static_peers, IsEmpty());
  EXPECT_FALSE(c.dns.enabled());
  EXPECT_EQ(c.dns.port, 0);
  EXPECT_EQ(c.dns.interval_ns, 10 * kS);
  EXPECT_EQ(c.peer_timeout_ns, 5 * kS);
  EXPECT_EQ(c.query_timeout_ns, 5 * kS);
  EXPECT_EQ(c.compression, cluster::PeerCompression::kLz4);
  EXPECT_FALSE(Defaults().cluster.enabled());
}

TEST(ClusterConfigTest, ReadsEveryKey) {
  const cluster::ClusterOptions c = Parse(WithGrpc(R"(
cluster:
  self: 10.0.0.1:4317
  peers:
    static:
      - 10.0.0.1:4317
      - tailtrace-1.tailtrace:4317
      - "[fd00::3]:4317"
    dns:
      name: tailtrace-headless.observability.svc.cluster.local
      port: 4317
      interval: 30s
  peer_timeout: 2500ms
  query_timeout: 750ms
  compression: none
)"))
                                        .cluster;
  EXPECT_TRUE(c.enabled());
  EXPECT_EQ(c.self, "10.0.0.1:4317");
  EXPECT_THAT(c.static_peers,
              ElementsAre("10.0.0.1:4317", "tailtrace-1.tailtrace:4317", "[fd00::3]:4317"));
  EXPECT_TRUE(c.dns.enabled());
  EXPECT_EQ(c.dns.name, "tailtrace-headless.observability.svc.cluster.local");
  EXPECT_EQ(c.dns.port, 4317);
  EXPECT_EQ(c.dns.interval_ns, 30 * kS);
  EXPECT_EQ(c.peer_timeout_ns, 2500 * kMs);
  EXPECT_EQ(c.query_timeout_ns, 750 * kMs);
  EXPECT_EQ(c.compression, cluster::PeerCompression::kNone);
}

TEST(ClusterConfigTest, TheIssuesFlowStyleAndAnAddressFromTheEnvironment) {
  const cluster::ClusterOptions c =
      Parse(WithGrpc("cluster: {self: \"${env:POD_IP}:4317\", peers: {dns: {name: tailtrace, "
                     "port: 4317}}}\n"),
            FakeEnv({{"POD_IP", "10.1.2.3"}}))
          .cluster;
  EXPECT_EQ(c.self, "10.1.2.3:4317");
  EXPECT_EQ(c.dns.name, "tailtrace");
  EXPECT_EQ(c.dns.interval_ns, 10 * kS);  // the default
  EXPECT_THAT(c.static_peers, IsEmpty());
}

TEST(ClusterConfigTest, SelfAloneAndEmptyPeerListsAreAccepted) {
  EXPECT_TRUE(Parse(WithGrpc("cluster:\n  self: node-0:4317\n")).cluster.enabled());
  EXPECT_EQ(
      Parse(WithGrpc("cluster:\n  self: node-0:4317\n  compression: gzip\n")).cluster.compression,
      cluster::PeerCompression::kGzip);
  EXPECT_EQ(
      Parse(WithGrpc("cluster:\n  self: node-0:4317\n  compression: lz4\n")).cluster.compression,
      cluster::PeerCompression::kLz4);
  EXPECT_THAT(Parse(WithGrpc("cluster:\n  self: node-0:4317\n  peers:\n    static:\n"))
                  .cluster.static_peers,
              IsEmpty());
  EXPECT_THAT(Parse(WithGrpc("cluster: {self: \"node-0:4317\", peers: {static: []}}\n"))
                  .cluster.static_peers,
              IsEmpty());
}

TEST(ClusterConfigTest, LoopbackMembersNeedNoWildcardListener) {
  // A cluster on one machine (tests, a demo) over 127/8 addresses.
  EXPECT_EQ(Parse("receivers: {otlp: {protocols: {grpc: {endpoint: 127.0.0.2:4317}}}}\n"
                  "cluster: {self: \"127.0.0.2:4317\", peers: {static: [127.0.0.3:4317]}}\n")
                .cluster.self,
            "127.0.0.2:4317");
  EXPECT_EQ(Parse("cluster: {self: \"localhost:4317\"}\n").cluster.self, "localhost:4317");
}

// Each error names the key and its line.
void ExpectError(std::string_view yaml, std::string_view where, std::string_view what) {
  const std::string error = Error(yaml);
  EXPECT_THAT(error, HasSubstr(std::string(where))) << yaml;
  EXPECT_THAT(error, HasSubstr(std::string(what))) << yaml;
}

TEST(ClusterConfigTest, SelfMustBeADialableHostPort) {
  ExpectError(WithGrpc("cluster:\n  self: node-0\n"), "test.yaml:3: cluster.self",
              "\"node-0\": expected host:port as peers dial it, e.g. \"10.0.0.1:4317\"");
  ExpectError(WithGrpc("cluster:\n  self: \":4317\"\n"), "test.yaml:3: cluster.self",
              "\":4317\": missing host");
  ExpectError(WithGrpc("cluster:\n  self: node-0:http\n"), "test.yaml:3: cluster.self",
              "the port must be a number");
  ExpectError(WithGrpc("cluster:\n  self: node-0:0\n"), "test.yaml:3: cluster.self",
              "port 0 cannot be dialled");
  ExpectError(WithGrpc("cluster:\n  self: 0.0.0.0:4317\n"), "test.yaml:3: cluster.self",
              "a wildcard address cannot be dialled");
  ExpectError(WithGrpc("cluster:\n  self: fd00::1:4317\n"), "test.yaml:3: cluster.self",
              "in brackets");
  ExpectError(WithGrpc("cluster:\n  self: [a, b]\n"), "test.yaml:3: cluster.self",
              "expected a host:port string, got a list");
}

TEST(ClusterConfigTest, SelfIsRequiredWithTheSection) {
  ExpectError(WithGrpc("cluster:\n  peers:\n    static: [a:4317, b:4317]\n"),
              "test.yaml:2: cluster.self", "missing (required with a cluster section)");
  ExpectError(WithGrpc("cluster:\n"), "test.yaml:2: cluster.self", "missing");
  ExpectError(WithGrpc("cluster: {}\n"), "test.yaml:2: cluster.self", "missing");
}

TEST(ClusterConfigTest, StaticPeersMustBeAListOfHostPorts) {
  ExpectError(WithGrpc("cluster:\n  self: a:4317\n  peers:\n    static:\n      - b:4317\n"
                       "      - c\n"),
              "test.yaml:7: cluster.peers.static[1]", "\"c\": expected host:port");
  ExpectError(WithGrpc("cluster:\n  self: a:4317\n  peers:\n    static: b:4317\n"),
              "test.yaml:5: cluster.peers.static", "expected a list of host:port members");
  ExpectError(WithGrpc("cluster:\n  self: a:4317\n  peers:\n    static: [\"0.0.0.0:4317\"]\n"),
              "test.yaml:5: cluster.peers.static[0]", "wildcard");
}

TEST(ClusterConfigTest, DnsNeedsANameAndAPort) {
  ExpectError(WithGrpc("cluster:\n  self: a:4317\n  peers:\n    dns:\n      port: 4317\n"),
              "test.yaml:5: cluster.peers.dns.name", "missing (required)");
  ExpectError(WithGrpc("cluster:\n  self: a:4317\n  peers:\n    dns:\n      name: tailtrace\n"),
              "test.yaml:5: cluster.peers.dns.port", "missing (required)");
  ExpectError(WithGrpc("cluster:\n  self: a:4317\n  peers:\n    dns:\n"),
              "test.yaml:5: cluster.peers.dns.name", "missing (required)");
  ExpectError(WithGrpc("cluster:\n  self: a:4317\n  peers:\n    dns: {name: t, port: 70000}\n"),
              "test.yaml:5: cluster.peers.dns.port", "65535");
  ExpectError(WithGrpc("cluster:\n  self: a:4317\n  peers:\n    dns: {name: \"\", port: 1}\n"),
              "test.yaml:5: cluster.peers.dns.name", "");
  ExpectError(WithGrpc("cluster:\n  self: a:4317\n  peers:\n    dns: {name: t, port: 1, "
                       "interval: 10ms}\n"),
              "test.yaml:5: cluster.peers.dns.interval", "");
}

TEST(ClusterConfigTest, PeerTimeoutAndUnknownKeys) {
  ExpectError(WithGrpc("cluster:\n  self: a:4317\n  peer_timeout: 10ms\n"),
              "test.yaml:4: cluster.peer_timeout", "");
  ExpectError(WithGrpc("cluster:\n  self: a:4317\n  peer_timeout: 5\n"),
              "test.yaml:4: cluster.peer_timeout", "");
  ExpectError(WithGrpc("cluster:\n  self: a:4317\n  query_timeout: 1ms\n"),
              "test.yaml:4: cluster.query_timeout", "");
  ExpectError(WithGrpc("cluster:\n  self: a:4317\n  query_timeout: soon\n"),
              "test.yaml:4: cluster.query_timeout", "");
  ExpectError(WithGrpc("cluster:\n  self: a:4317\n  compression: zstd\n"),
              "test.yaml:4: cluster.compression", "zstd");
  ExpectError(WithGrpc("cluster:\n  self: a:4317\n  peer: [b:4317]\n"), "test.yaml:4: cluster.peer",
              "unknown key");
  ExpectError(
      WithGrpc("cluster:\n  self: a:4317\n  peers:\n    dns: {name: t, port: 1, ttl: 5s}\n"),
      "test.yaml:5: cluster.peers.dns.ttl", "unknown key");
  ExpectError(WithGrpc("cluster:\n  self: a:4317\n  peers:\n    kubernetes: {}\n"),
              "test.yaml:5: cluster.peers.kubernetes", "unknown key");
}

// The commented-out cluster example in the shipped config/tailtrace.yaml works uncommented.
TEST(ClusterConfigTest, TheShippedExampleParsesWhenUncommented) {
  const char* source_dir = std::getenv("TAILTRACE_SOURCE_DIR");
  const std::string root = source_dir != nullptr ? source_dir : TAILTRACE_SOURCE_DIR_FALLBACK;
  std::ifstream file(root + "/config/tailtrace.yaml");
  ASSERT_TRUE(file) << root;
  std::string line;
  std::string example;
  bool in_example = false;
  while (std::getline(file, line)) {
    if (in_example && line.empty()) break;  // the next section's example follows
    in_example = in_example || line == "# cluster:";
    if (in_example && line.rfind("# ", 0) == 0) example += line.substr(2) + "\n";
  }
  ASSERT_FALSE(example.empty());
  const cluster::ClusterOptions c =
      Parse(WithGrpc(example), FakeEnv({{"POD_IP", "10.0.0.2"}})).cluster;
  EXPECT_EQ(c.self, "10.0.0.2:4317");
  EXPECT_EQ(c.static_peers.size(), 3u);
  EXPECT_TRUE(c.dns.enabled());
  EXPECT_EQ(c.peer_timeout_ns, 5 * kS);
  EXPECT_EQ(c.query_timeout_ns, 5 * kS);
}

TEST(ClusterConfigTest, PeersMustBeAbleToReachTheGrpcReceiver) {
  // The default gRPC endpoint is localhost:4317: no peer on another machine reaches it.
  ExpectError("cluster:\n  self: 10.0.0.1:4317\n", "test.yaml:2: cluster.self",
              "receivers.otlp.protocols.grpc.endpoint listens on loopback only");
  ExpectError(
      "receivers: {otlp: {protocols: {grpc: {enabled: false}}}}\ncluster:\n  self: a:4317\n",
      "test.yaml:3: cluster.self", "receivers.otlp.protocols.grpc.enabled is false");
}

constexpr char kTlsReceiver[] =
    "receivers: {otlp: {protocols: {grpc: {endpoint: 0.0.0.0:4317, tls: {cert_file: /c.pem, "
    "key_file: /k.pem}}}}}\n";
constexpr char kMtlsReceiver[] =
    "receivers: {otlp: {protocols: {grpc: {endpoint: 0.0.0.0:4317, tls: {cert_file: /c.pem, "
    "key_file: /k.pem, client_ca_file: /ca.pem}}}}}\n";

TEST(ClusterConfigTest, MembersDialEachOtherOverTlsWhenTheReceiverSpeaksIt) {
  const cluster::ClusterOptions plain =
      Parse(WithGrpc("cluster:\n  self: 10.0.0.1:4317\n")).cluster;
  EXPECT_FALSE(plain.tls.enabled);

  const cluster::ClusterOptions defaults =
      Parse(std::string(kTlsReceiver) + "cluster:\n  self: 10.0.0.1:4317\n").cluster;
  EXPECT_TRUE(defaults.tls.enabled);
  EXPECT_EQ(defaults.tls.ca_file, "");  // the system's roots

  const cluster::ClusterOptions c =
      Parse(std::string(kMtlsReceiver) +
            "cluster:\n  self: 10.0.0.1:4317\n  tls: {ca_file: /ca.pem, cert_file: /p.pem, "
            "key_file: /p.key, server_name: tailtraced.internal}\n")
          .cluster;
  EXPECT_TRUE(c.tls.enabled);
  EXPECT_EQ(c.tls.ca_file, "/ca.pem");
  EXPECT_EQ(c.tls.cert_file, "/p.pem");
  EXPECT_EQ(c.tls.key_file, "/p.key");
  EXPECT_EQ(c.tls.server_name, "tailtraced.internal");
}

TEST(ClusterConfigTest, TlsSettingsThatCannotWorkAreRefused) {
  ExpectError(WithGrpc("cluster:\n  self: 10.0.0.1:4317\n  tls: {ca_file: /ca.pem}\n"),
              "test.yaml:4: cluster.tls", "receivers.otlp.protocols.grpc.tls is not set");
  ExpectError(std::string(kMtlsReceiver) + "cluster:\n  self: 10.0.0.1:4317\n",
              "test.yaml:2: cluster.tls", "need cluster.tls.cert_file and key_file");
  ExpectError(
      std::string(kMtlsReceiver) + "cluster:\n  self: 10.0.0.1:4317\n  tls: {ca_file: /ca.pem}\n",
      "test.yaml:4: cluster.tls", "cert_file and key_file are needed");
  ExpectError(
      std::string(kTlsReceiver) + "cluster:\n  self: 10.0.0.1:4317\n  tls: {cert_file: /p.pem}\n",
      "test.yaml:4: cluster.tls", "cert_file and key_file go together");
  ExpectError(std::string(kTlsReceiver) + "cluster:\n  self: 10.0.0.1:4317\n  tls: {sni: x}\n",
              "test.yaml:4: cluster.tls.sni", "unknown key");
}

}  // namespace
}  // namespace tailtrace::config
