// The tls, auth and cors sections of the listeners, max_connections and
// max_request_bytes_in_flight.

#include <cstdlib>
#include <fstream>
#include <string>

#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/config/config_test_util.h"

namespace tailtrace::config {
namespace {

using test_util::Error;
using test_util::kMs;
using test_util::kS;
using test_util::Parse;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(SecurityConfigTest, DefaultsArePlainTextWithoutAuthOrCors) {
  const DaemonConfig c = Parse("");
  for (const security::ListenerSecurity* s :
       {&c.grpc.security, &c.http.security, &c.query.security, &c.admin.security}) {
    EXPECT_FALSE(s->tls.enabled());
    EXPECT_EQ(s->tls.min_version, "1.2");
    EXPECT_EQ(s->tls.reload_interval_ns, 0);
    EXPECT_FALSE(s->auth.enabled());
    EXPECT_FALSE(s->cors.enabled());
  }
  EXPECT_EQ(c.http.max_connections, 1000);
  EXPECT_EQ(c.http.max_request_bytes_in_flight, 256ull << 20);
  EXPECT_EQ(c.query.max_connections, 1000);
  EXPECT_EQ(c.admin.max_connections, 100);
}

TEST(SecurityConfigTest, EveryKeyOnEveryListener) {
  const DaemonConfig c = Parse(R"(receivers:
  otlp:
    protocols:
      grpc:
        tls: {cert_file: /c.pem, key_file: /k.pem, client_ca_file: /ca.pem, reload_interval: 5m}
        auth: {bearer_token_file: /tokens}
      http:
        max_connections: 10
        max_request_bytes_in_flight: 1MiB
        tls: {cert_file: /c.pem, key_file: /k.pem, min_version: "1.3"}
        auth: {bearer_token_file: /tokens}
        cors:
          allowed_origins: ["https://*.example.com", "http://localhost:3000"]
          allowed_headers: [Authorization]
          max_age: 7200
query:
  max_connections: 0
  tls: {cert_file: /q.pem, key_file: /qk.pem, reload_interval: 250ms}
  auth: {bearer_token_file: /qtokens}
  cors: {allowed_origins: ["*"]}
admin:
  max_connections: 5
  tls: {cert_file: /a.pem, key_file: /ak.pem}
  auth: {bearer_token_file: /atokens}
)");
  EXPECT_EQ(c.grpc.security.tls.cert_file, "/c.pem");
  EXPECT_EQ(c.grpc.security.tls.key_file, "/k.pem");
  EXPECT_EQ(c.grpc.security.tls.client_ca_file, "/ca.pem");
  EXPECT_EQ(c.grpc.security.tls.reload_interval_ns, 300 * kS);
  EXPECT_EQ(c.grpc.security.auth.bearer_token_file, "/tokens");
  EXPECT_EQ(c.http.max_connections, 10);
  EXPECT_EQ(c.http.max_request_bytes_in_flight, 1u << 20);
  EXPECT_EQ(c.http.security.tls.min_version, "1.3");
  EXPECT_THAT(c.http.security.cors.allowed_origins,
              ElementsAre("https://*.example.com", "http://localhost:3000"));
  EXPECT_THAT(c.http.security.cors.allowed_headers, ElementsAre("Authorization"));
  EXPECT_EQ(c.http.security.cors.max_age_s, 7200);
  EXPECT_EQ(c.query.max_connections, 0);
  EXPECT_EQ(c.query.security.tls.reload_interval_ns, 250 * kMs);
  EXPECT_EQ(c.query.security.auth.bearer_token_file, "/qtokens");
  EXPECT_THAT(c.query.security.cors.allowed_origins, ElementsAre("*"));
  EXPECT_EQ(c.admin.max_connections, 5);
  EXPECT_EQ(c.admin.security.tls.cert_file, "/a.pem");
  EXPECT_EQ(c.admin.security.auth.bearer_token_file, "/atokens");
}

TEST(SecurityConfigTest, Errors) {
  EXPECT_EQ(Error("query:\n  tls:\n    cert_file: /c.pem\n"),
            "test.yaml:3: query.tls.key_file: cert_file and key_file must be set together");
  EXPECT_EQ(Error("admin:\n  tls: {client_ca_file: /ca.pem}\n"),
            "test.yaml:2: admin.tls.client_ca_file: client_ca_file needs cert_file and key_file "
            "(mTLS runs over TLS)");
  EXPECT_THAT(Error("query:\n  tls: {cert_file: a, key_file: b, min_version: \"1.1\"}\n"),
              HasSubstr("test.yaml:2: query.tls.min_version: expected one of 1.2, 1.3"));
  EXPECT_THAT(Error("query:\n  tls: {cert_file: a, key_file: b, reload_interval: 10}\n"),
              HasSubstr("test.yaml:2: query.tls.reload_interval: invalid duration"));
  EXPECT_THAT(Error("query:\n  auth: {bearer_token: x}\n"),
              HasSubstr("test.yaml:2: query.auth.bearer_token: unknown key"));
  EXPECT_THAT(Error("query:\n  auth: {bearer_token_file: \"\"}\n"),
              HasSubstr("query.auth.bearer_token_file"));
  EXPECT_THAT(Error("admin:\n  cors: {allowed_origins: [\"*\"]}\n"),
              HasSubstr("test.yaml:2: admin.cors: unknown key"));
  EXPECT_THAT(Error("receivers:\n  otlp:\n    protocols:\n      grpc:\n        cors: {}\n"),
              HasSubstr("receivers.otlp.protocols.grpc.cors: unknown key"));
  EXPECT_THAT(Error("query:\n  cors: {allowed_origins: \"*\"}\n"),
              HasSubstr("test.yaml:2: query.cors.allowed_origins: expected a list"));
  EXPECT_THAT(Error("query:\n  cors: {max_age: -1}\n"), HasSubstr("query.cors.max_age"));
  EXPECT_THAT(Error("query:\n  max_connections: -1\n"), HasSubstr("query.max_connections"));
  EXPECT_THAT(Error("receivers:\n  otlp:\n    protocols:\n      grpc:\n        tls: "
                    "{cert_file: a, key_file: b, min_version: \"1.3\"}\n"),
              HasSubstr("receivers.otlp.protocols.grpc.tls.min_version: only \"1.2\" is "
                        "supported on the gRPC receiver"));
}

// The deployment examples parse, and bind every listener explicitly.
TEST(SecurityConfigTest, DeploymentExamplesBindExplicitly) {
  const char* source_dir = std::getenv("TAILTRACE_SOURCE_DIR");
  const std::string root = source_dir != nullptr ? source_dir : TAILTRACE_SOURCE_DIR_FALLBACK;
  absl::StatusOr<DaemonConfig> docker =
      LoadConfigFile(root + "/deploy/docker/tailtrace.yaml", test_util::kEmptyEnv);
  ASSERT_TRUE(docker.ok()) << docker.status();
  EXPECT_EQ(docker->grpc.endpoint, "0.0.0.0:4317");
  EXPECT_EQ(docker->http.endpoint, "0.0.0.0:4318");
  EXPECT_EQ(docker->query.endpoint, "0.0.0.0:16686");
  EXPECT_EQ(docker->admin.endpoint, "0.0.0.0:8888");

  // The ConfigMaps of the Kubernetes examples: the block under "tailtrace.yaml: |".
  for (const char* name : {"tailtraced.yaml", "sidecar.yaml"}) {
    std::ifstream in(root + "/deploy/kubernetes/" + name);
    ASSERT_TRUE(in) << name;
    std::string line;
    std::string config;
    bool inside = false;
    while (std::getline(in, line)) {
      if (line.find("tailtrace.yaml: |") != std::string::npos) {
        inside = true;
      } else if (inside && line.rfind("    ", 0) == 0) {
        config += line.substr(4) + "\n";
      } else if (inside) {
        break;
      }
    }
    absl::StatusOr<DaemonConfig> k8s = ParseConfig(config, name, test_util::kEmptyEnv);
    ASSERT_TRUE(k8s.ok()) << k8s.status();
    EXPECT_EQ(k8s->query.endpoint, "0.0.0.0:16686") << name;
    EXPECT_TRUE(k8s->query.security.tls.enabled()) << name;
    EXPECT_TRUE(k8s->query.security.auth.enabled()) << name;
  }
}

}  // namespace
}  // namespace tailtrace::config
