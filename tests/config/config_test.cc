// ParseConfig and LoadConfigFile: keys, defaults, errors with their lines, env expansion, and the
// default config file.

#include "config/config.h"

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/config/config_test_util.h"

namespace tailtrace::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using test_util::Error;
using test_util::FakeEnv;
using test_util::kEmptyEnv;
using test_util::kH;
using test_util::kM;
using test_util::kMs;
using test_util::kS;
using test_util::Parse;

// Field by field, so that a failure names the field.
void ExpectConfigEq(const DaemonConfig& a, const DaemonConfig& b) {
  EXPECT_EQ(a.grpc.enabled, b.grpc.enabled);
  EXPECT_EQ(a.grpc.endpoint, b.grpc.endpoint);
  EXPECT_EQ(a.grpc.max_recv_msg_size_bytes, b.grpc.max_recv_msg_size_bytes);
  EXPECT_EQ(a.http.enabled, b.http.enabled);
  EXPECT_EQ(a.http.endpoint, b.http.endpoint);
  EXPECT_EQ(a.http.max_request_body_bytes, b.http.max_request_body_bytes);
  EXPECT_EQ(a.http.num_threads, b.http.num_threads);
  EXPECT_EQ(a.sampling.num_shards, b.sampling.num_shards);
  EXPECT_EQ(a.sampling.decision_wait_ns, b.sampling.decision_wait_ns);
  EXPECT_EQ(a.sampling.decision_wait_after_root_received_ns,
            b.sampling.decision_wait_after_root_received_ns);
  EXPECT_EQ(a.sampling.max_queue_bytes_per_shard, b.sampling.max_queue_bytes_per_shard);
  EXPECT_EQ(a.sampling.max_buffer_bytes, b.sampling.max_buffer_bytes);
  EXPECT_EQ(a.sampling.sampled_cache_size, b.sampling.sampled_cache_size);
  EXPECT_EQ(a.sampling.non_sampled_cache_size, b.sampling.non_sampled_cache_size);
  EXPECT_EQ(a.sampling.num_traces, b.sampling.num_traces);
  EXPECT_EQ(a.sampling.maximum_trace_size_bytes, b.sampling.maximum_trace_size_bytes);
  EXPECT_EQ(a.sampling.tick_interval_ns, b.sampling.tick_interval_ns);
  EXPECT_EQ(a.storage.path, b.storage.path);
  EXPECT_EQ(a.storage.retention_ns, b.storage.retention_ns);
  EXPECT_EQ(a.storage.block_cache_bytes, b.storage.block_cache_bytes);
  EXPECT_EQ(a.storage.write_buffer_bytes, b.storage.write_buffer_bytes);
  EXPECT_EQ(a.query.endpoint, b.query.endpoint);
  EXPECT_EQ(a.query.num_threads, b.query.num_threads);
  EXPECT_EQ(a.query.base_path, b.query.base_path);
  EXPECT_EQ(a.query.ui_enabled, b.query.ui_enabled);
  EXPECT_EQ(a.admin.endpoint, b.admin.endpoint);
  EXPECT_EQ(a.log.level, b.log.level);
  EXPECT_EQ(a.cluster.enabled(), b.cluster.enabled());
  EXPECT_EQ(a.cluster.self, b.cluster.self);
  EXPECT_EQ(a.cluster.static_peers, b.cluster.static_peers);
  EXPECT_EQ(a.cluster.dns.name, b.cluster.dns.name);
  EXPECT_EQ(a.cluster.dns.port, b.cluster.dns.port);
  EXPECT_EQ(a.cluster.dns.interval_ns, b.cluster.dns.interval_ns);
  EXPECT_EQ(a.cluster.peer_timeout_ns, b.cluster.peer_timeout_ns);
  EXPECT_EQ(a.cluster.compression, b.cluster.compression);
  EXPECT_EQ(a.span_metrics.enabled, b.span_metrics.enabled);
  EXPECT_EQ(a.span_metrics.max_series, b.span_metrics.max_series);
  EXPECT_EQ(a.span_metrics.buckets_ms, b.span_metrics.buckets_ms);
  EXPECT_EQ(a.storage_enabled, b.storage_enabled);
  EXPECT_EQ(a.otlp_exporter.has_value(), b.otlp_exporter.has_value());
}

// ------------------------------------------------------------------------------------------------
// Defaults and every key

TEST(ParseConfigTest, EmptyInputGivesDefaults) {
  ExpectConfigEq(Parse(""), DaemonConfig{});
  ExpectConfigEq(Parse("# only a comment\n\n   # and another\n"), DaemonConfig{});
  ExpectConfigEq(Parse("---\n"), DaemonConfig{});
}

TEST(ParseConfigTest, DefaultsMatchTheDocumentedValues) {
  const DaemonConfig d;
  EXPECT_TRUE(d.grpc.enabled);
  EXPECT_EQ(d.grpc.endpoint, "localhost:4317");
  EXPECT_EQ(d.http.endpoint, "localhost:4318");
  EXPECT_EQ(d.sampling.decision_wait_ns, 10 * kS);
  EXPECT_EQ(d.storage.path, "./data");
  EXPECT_EQ(d.storage.retention_ns, 168 * kH);
  EXPECT_EQ(d.query.endpoint, "localhost:16686");
  EXPECT_EQ(d.admin.endpoint, "localhost:8888");
  EXPECT_EQ(d.log.level, "info");
}

TEST(ParseConfigTest, EveryKey) {
  const DaemonConfig c = Parse(R"(
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:14317
        max_recv_msg_size: 16MiB
        enabled: false
      http:
        endpoint: "[::1]:14318"
        max_request_body_size: 8MB
        enabled: no
        num_threads: 4
sampling:
  decision_wait: 30s
  decision_wait_after_root_received: 1.5s
  num_shards: 8
  max_queue_bytes_per_shard: 1KiB
  max_buffer_bytes: 2GiB
  num_traces: 1234
  maximum_trace_size_bytes: 4MiB
  decision_cache:
    sampled_cache_size: 5000
    non_sampled_cache_size: 0
  tick_interval: 250ms
  policies: []
storage:
  path: /var/lib/tailtrace
  retention: 2h30m
  block_cache_size: 1GB
  write_buffer_size: 32 MiB
query:
  endpoint: localhost:26686
  num_threads: 3
admin:
  endpoint: 0.0.0.0:19888
log:
  level: debug
)");
  EXPECT_FALSE(c.grpc.enabled);
  EXPECT_EQ(c.grpc.endpoint, "127.0.0.1:14317");
  EXPECT_EQ(c.grpc.max_recv_msg_size_bytes, 16ull << 20);
  EXPECT_FALSE(c.http.enabled);
  EXPECT_EQ(c.http.endpoint, "[::1]:14318");
  EXPECT_EQ(c.http.max_request_body_bytes, 8'000'000u);
  EXPECT_EQ(c.http.num_threads, 4);
  EXPECT_EQ(c.sampling.decision_wait_ns, 30 * kS);
  EXPECT_EQ(c.sampling.decision_wait_after_root_received_ns, 1500 * kMs);
  EXPECT_EQ(c.sampling.num_shards, 8u);
  EXPECT_EQ(c.sampling.max_queue_bytes_per_shard, 1024u);
  EXPECT_EQ(c.sampling.max_buffer_bytes, 2ull << 30);
  EXPECT_EQ(c.sampling.sampled_cache_size, 5000u);
  EXPECT_EQ(c.sampling.non_sampled_cache_size, 0u);
  EXPECT_EQ(c.sampling.num_traces, 1234u);
  EXPECT_EQ(c.sampling.maximum_trace_size_bytes, 4ull << 20);
  EXPECT_EQ(c.sampling.tick_interval_ns, 250 * kMs);
  EXPECT_EQ(c.storage.path, "/var/lib/tailtrace");
  EXPECT_EQ(c.storage.retention_ns, 150 * kM);
  EXPECT_EQ(c.storage.block_cache_bytes, 1'000'000'000u);
  EXPECT_EQ(c.storage.write_buffer_bytes, 32ull << 20);
  EXPECT_EQ(c.query.endpoint, "localhost:26686");
  EXPECT_EQ(c.query.num_threads, 3);
  EXPECT_EQ(c.admin.endpoint, "0.0.0.0:19888");
  EXPECT_EQ(c.log.level, "debug");
}

TEST(ParseConfigTest, ContractSnippetInFlowStyle) {
  const DaemonConfig c = Parse(R"(
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 0.0.0.0:5317, max_recv_msg_size: 64MiB, enabled: true }
      http: { endpoint: 0.0.0.0:5318, max_request_body_size: 64MiB, enabled: true, num_threads: 2 }
sampling:
  decision_wait: 5s
  decision_cache: { sampled_cache_size: 7 }
  policies: []
storage:
  path: ./data
  retention: 24h
)");
  EXPECT_EQ(c.grpc.endpoint, "0.0.0.0:5317");
  EXPECT_EQ(c.http.endpoint, "0.0.0.0:5318");
  EXPECT_EQ(c.sampling.decision_wait_ns, 5 * kS);
  EXPECT_EQ(c.sampling.sampled_cache_size, 7u);
  EXPECT_EQ(c.storage.retention_ns, 24 * kH);
}

TEST(ParseConfigTest, UnsetKeysKeepTheirDefaults) {
  const DaemonConfig c = Parse("storage:\n  retention: 1h\n");
  DaemonConfig expected;
  expected.storage.retention_ns = kH;
  ExpectConfigEq(c, expected);
}

TEST(ParseConfigTest, EmptySectionsKeepTheDefaults) {
  // As in OpenTelemetry Collector configs: `grpc:` with nothing under it means "with defaults".
  ExpectConfigEq(Parse(R"(
receivers:
  otlp:
    protocols:
      grpc:
      http:
sampling:
  decision_cache:
  policies:
storage:
query: {}
admin:
log:
)"),
                 DaemonConfig{});
}

TEST(ParseConfigTest, SizesAcceptIntegersAndStrings) {
  const DaemonConfig c = Parse(R"(
sampling:
  max_queue_bytes_per_shard: 4096
  max_buffer_bytes: "1 GiB"
storage:
  block_cache_size: 1000000
)");
  EXPECT_EQ(c.sampling.max_queue_bytes_per_shard, 4096u);
  EXPECT_EQ(c.sampling.max_buffer_bytes, 1ull << 30);
  EXPECT_EQ(c.storage.block_cache_bytes, 1'000'000u);
}

TEST(ParseConfigTest, BooleanSpellings) {
  for (const char* yes : {"true", "True", "TRUE", "yes", "Yes", "on", "\"true\""}) {
    const std::string yaml =
        std::string("receivers: {otlp: {protocols: {grpc: {enabled: ") + yes + "}}}}";
    EXPECT_TRUE(Parse(yaml).grpc.enabled) << yes;
  }
  for (const char* no : {"false", "False", "FALSE", "no", "No", "off", "OFF"}) {
    const std::string yaml =
        std::string("receivers: {otlp: {protocols: {grpc: {enabled: ") + no + "}}}}";
    EXPECT_FALSE(Parse(yaml).grpc.enabled) << no;
  }
}

TEST(ParseConfigTest, DecisionWaitAfterRootMayExceedDecisionWait) {
  const DaemonConfig c =
      Parse("sampling:\n  decision_wait: 1s\n  decision_wait_after_root_received: 5s\n");
  EXPECT_EQ(c.sampling.decision_wait_ns, kS);
  EXPECT_EQ(c.sampling.decision_wait_after_root_received_ns, 5 * kS);
}

TEST(ParseConfigTest, BoundaryValuesAreAccepted) {
  const DaemonConfig c = Parse(R"(
receivers:
  otlp:
    protocols:
      grpc: { endpoint: "0.0.0.0:0", max_recv_msg_size: 2147483647 }
      http: { endpoint: "0.0.0.0:65535", num_threads: 1 }
sampling:
  num_shards: 1024
  decision_wait: 1ns
storage:
  retention: 1m
query: { endpoint: "[::]:0" }
admin: { endpoint: "example.com:0" }
)");
  EXPECT_EQ(c.grpc.endpoint, "0.0.0.0:0");
  EXPECT_EQ(c.grpc.max_recv_msg_size_bytes, 2147483647u);
  EXPECT_EQ(c.http.endpoint, "0.0.0.0:65535");
  EXPECT_EQ(c.http.num_threads, 1);
  EXPECT_EQ(c.sampling.num_shards, 1024u);
  EXPECT_EQ(c.sampling.decision_wait_ns, 1);
  EXPECT_EQ(c.storage.retention_ns, kM);
  EXPECT_EQ(c.query.endpoint, "[::]:0");
  EXPECT_EQ(c.admin.endpoint, "example.com:0");
}

TEST(ParseConfigTest, LogLevels) {
  for (const char* level : {"trace", "debug", "info", "warn", "error"}) {
    EXPECT_EQ(Parse(std::string("log: {level: ") + level + "}").log.level, level);
  }
}

// ------------------------------------------------------------------------------------------------
// sampling.policies

TEST(ParseConfigPoliciesTest, EmptyListOrNothingIsAccepted) {
  ExpectConfigEq(Parse("sampling:\n  policies: []\n"), DaemonConfig{});
  ExpectConfigEq(Parse("sampling:\n  policies:\n"), DaemonConfig{});
}

TEST(ParseConfigPoliciesTest, NotAList) {
  EXPECT_EQ(Error("sampling:\n  policies:\n    name: a\n"),
            "test.yaml:3: sampling.policies: expected a list of policies, got a mapping");
  EXPECT_EQ(Error("sampling:\n  policies: all\n"),
            "test.yaml:2: sampling.policies: expected a list of policies, got a scalar");
}

// ------------------------------------------------------------------------------------------------
// ${env:...} expansion

TEST(ParseConfigEnvTest, ExpandsVariables) {
  const DaemonConfig c = Parse(R"(
storage:
  path: ${env:DATA_DIR}
  retention: ${env:RETENTION}
query:
  endpoint: ${env:HOST:-0.0.0.0}:${env:QUERY_PORT}
  num_threads: ${env:THREADS}
receivers:
  otlp:
    protocols:
      grpc:
        enabled: ${env:GRPC_ON}
)",
                               FakeEnv({{"DATA_DIR", "/srv/traces"},
                                        {"RETENTION", "72h"},
                                        {"QUERY_PORT", "9999"},
                                        {"THREADS", "7"},
                                        {"GRPC_ON", "false"}}));
  EXPECT_EQ(c.storage.path, "/srv/traces");
  EXPECT_EQ(c.storage.retention_ns, 72 * kH);
  EXPECT_EQ(c.query.endpoint, "0.0.0.0:9999");
  EXPECT_EQ(c.query.num_threads, 7);
  EXPECT_FALSE(c.grpc.enabled);
}

TEST(ParseConfigEnvTest, DefaultIsUsedWhenUnsetOrEmpty) {
  const std::string yaml = "query:\n  endpoint: \"${env:HOST:-127.0.0.1}:16686\"\n";
  EXPECT_EQ(Parse(yaml, FakeEnv({})).query.endpoint, "127.0.0.1:16686");
  EXPECT_EQ(Parse(yaml, FakeEnv({{"HOST", ""}})).query.endpoint, "127.0.0.1:16686");
  EXPECT_EQ(Parse(yaml, FakeEnv({{"HOST", "10.0.0.1"}})).query.endpoint, "10.0.0.1:16686");
  // An empty default.
  EXPECT_EQ(Parse("storage: {path: \"/a${env:SUFFIX:-}\"}").storage.path, "/a");
}

TEST(ParseConfigEnvTest, SeveralVariablesAndSurroundingText) {
  const DaemonConfig c = Parse("storage:\n  path: /base/${env:A}-${env:B}/x${env:A}\n",
                               FakeEnv({{"A", "one"}, {"B", "two"}}));
  EXPECT_EQ(c.storage.path, "/base/one-two/xone");
}

TEST(ParseConfigEnvTest, ExpandedValuesAreNotExpandedAgain) {
  const DaemonConfig c =
      Parse("storage:\n  path: ${env:A}\n", FakeEnv({{"A", "${env:B}"}, {"B", "no"}}));
  EXPECT_EQ(c.storage.path, "${env:B}");
}

TEST(ParseConfigEnvTest, DollarDollarBraceIsALiteral) {
  EXPECT_EQ(Parse("storage:\n  path: /a/$${env:X}/b\n").storage.path, "/a/${env:X}/b");
  EXPECT_EQ(Parse("storage:\n  path: /a/$b/$$c\n").storage.path, "/a/$b/$$c");
}

TEST(ParseConfigEnvTest, UnsetVariableNamesVariableKeyAndLine) {
  EXPECT_EQ(Error("log:\n  level: info\nstorage:\n  path: ${env:TT_DATA}/x\n"),
            "test.yaml:4: storage.path: environment variable TT_DATA is not set (write "
            "${env:TT_DATA:-default} to give a default)");
}

TEST(ParseConfigEnvTest, BadSubstitutions) {
  EXPECT_THAT(Error("storage:\n  path: ${HOME}/x\n"),
              HasSubstr("test.yaml:2: storage.path: unsupported substitution \"${HOME}\""));
  EXPECT_THAT(Error("storage:\n  path: ${env:HOME\n"),
              HasSubstr("test.yaml:2: storage.path: unterminated \"${\""));
  EXPECT_THAT(Error("storage:\n  path: ${env:1X}\n"),
              HasSubstr("test.yaml:2: storage.path: invalid environment variable name \"1X\""));
  EXPECT_THAT(Error("storage:\n  path: ${env:}\n"),
              HasSubstr("invalid environment variable name \"\""));
}

TEST(ParseConfigEnvTest, ExpandedValueIsValidatedAndTheErrorShowsTheOriginal) {
  EXPECT_EQ(Error("sampling:\n  num_shards: ${env:SHARDS}\n", FakeEnv({{"SHARDS", "many"}})),
            "test.yaml:2: sampling.num_shards: expected an integer, got \"many\" (value as "
            "written: \"${env:SHARDS}\")");
  EXPECT_THAT(Error("sampling:\n  decision_wait: ${env:W:-10}\n"),
              HasSubstr("invalid duration \"10\": missing unit"));
}

TEST(ParseConfigEnvTest, KeysAreNotExpanded) {
  EXPECT_THAT(Error("storage:\n  ${env:K}: x\n", FakeEnv({{"K", "path"}})),
              HasSubstr("test.yaml:2: storage.${env:K}: unknown key"));
}

TEST(ParseConfigEnvTest, NullLookupReadsTheProcessEnvironment) {
  const std::string name = "TAILTRACE_CONFIG_TEST_" + std::to_string(::getpid());
  ASSERT_EQ(::setenv(name.c_str(), "/from/process/env", 1), 0);
  absl::StatusOr<DaemonConfig> c =
      ParseConfig("storage:\n  path: ${env:" + name + "}\n", "test.yaml", nullptr);
  ::unsetenv(name.c_str());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->storage.path, "/from/process/env");
  absl::StatusOr<DaemonConfig> unset =
      ParseConfig("storage:\n  path: ${env:" + name + "}\n", "test.yaml");
  EXPECT_THAT(unset.status().message(), HasSubstr(name + " is not set"));
}

// ------------------------------------------------------------------------------------------------
// Files

class LoadConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tailtrace_config_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << content;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(LoadConfigFileTest, ReadsAFile) {
  const std::string path = Write("a.yaml", "storage:\n  path: ${env:D}\n");
  absl::StatusOr<DaemonConfig> c = LoadConfigFile(path, FakeEnv({{"D", "/d"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->storage.path, "/d");
}

TEST_F(LoadConfigFileTest, ErrorsAreNamedByThePath) {
  const std::string path = Write("bad.yaml", "# comment\nstorage:\n  pth: x\n");
  absl::StatusOr<DaemonConfig> c = LoadConfigFile(path, kEmptyEnv);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), path + ":3: storage.pth: unknown key (did you mean \"path\"?)");
}

TEST_F(LoadConfigFileTest, ReadsALargeFile) {
  std::string content;
  while (content.size() < 100'000) content += "# a comment line that makes the file long\n";
  content += "log:\n  level: warn\n";
  absl::StatusOr<DaemonConfig> c = LoadConfigFile(Write("large.yaml", content), kEmptyEnv);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->log.level, "warn");
}

TEST_F(LoadConfigFileTest, EmptyFileGivesDefaults) {
  absl::StatusOr<DaemonConfig> c = LoadConfigFile(Write("empty.yaml", ""), kEmptyEnv);
  ASSERT_TRUE(c.ok()) << c.status();
  ExpectConfigEq(*c, DaemonConfig{});
}

TEST_F(LoadConfigFileTest, MissingFileNamesThePath) {
  const std::string path = (dir_ / "missing.yaml").string();
  absl::StatusOr<DaemonConfig> c = LoadConfigFile(path, kEmptyEnv);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(c.status().message(), HasSubstr("cannot read config file \"" + path + "\""));
}

TEST_F(LoadConfigFileTest, DirectoryIsAnError) {
  absl::StatusOr<DaemonConfig> c = LoadConfigFile(dir_.string(), kEmptyEnv);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("cannot read config file \"" + dir_.string()));
}

// The shipped config/tailtrace.yaml documents the built-in defaults and must stay equal to them.
TEST(DefaultConfigFileTest, EqualsTheBuiltInDefaults) {
  const char* source_dir = std::getenv("TAILTRACE_SOURCE_DIR");
  const std::string root = source_dir != nullptr ? source_dir : TAILTRACE_SOURCE_DIR_FALLBACK;
  const std::string path = root + "/config/tailtrace.yaml";
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  // No variables set: the default file must not depend on the environment.
  absl::StatusOr<DaemonConfig> c = LoadConfigFile(path, kEmptyEnv);
  ASSERT_TRUE(c.ok()) << c.status();
  ExpectConfigEq(*c, DaemonConfig{});
}

}  // namespace
}  // namespace tailtrace::config