// The exporters.otlp and storage.enabled keys of the config file.

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/config/config_test_util.h"

namespace tailtrace::config {
namespace {

using test_util::Error;
using test_util::FakeEnv;
using test_util::kMs;
using test_util::kS;
using test_util::Parse;
using ::testing::HasSubstr;

TEST(ExportersConfigTest, AbsentMeansNoExporterAndAStore) {
  const DaemonConfig c = Parse("");
  EXPECT_FALSE(c.otlp_exporter.has_value());
  EXPECT_TRUE(c.storage_enabled);
  EXPECT_FALSE(Parse("exporters:\n").otlp_exporter.has_value());
}

TEST(ExportersConfigTest, AnEndpointAloneKeepsTheDefaults) {
  const DaemonConfig c = Parse("exporters:\n  otlp:\n    endpoint: tempo:4317\n");
  ASSERT_TRUE(c.otlp_exporter.has_value());
  const exporter::OtlpExporterOptions& o = *c.otlp_exporter;
  EXPECT_EQ(o.endpoint, "tempo:4317");
  EXPECT_EQ(o.protocol, exporter::OtlpProtocol::kGrpc);
  EXPECT_EQ(o.compression, exporter::OtlpCompression::kGzip);
  EXPECT_EQ(o.timeout_ns, 5 * kS);
  EXPECT_FALSE(o.tls.insecure.has_value());
  EXPECT_EQ(o.queue_size_bytes, 64u << 20);
  EXPECT_TRUE(o.retry.enabled);
  EXPECT_EQ(o.retry.initial_interval_ns, 1 * kS);
  EXPECT_EQ(o.retry.max_interval_ns, 30 * kS);
  EXPECT_EQ(o.retry.max_elapsed_time_ns, 300 * kS);
  EXPECT_TRUE(o.headers.empty());
}

TEST(ExportersConfigTest, ReadsEveryKey) {
  const DaemonConfig c = Parse(R"(
storage:
  enabled: false
exporters:
  otlp:
    endpoint: https://api.honeycomb.io
    protocol: http/protobuf
    headers:
      x-honeycomb-team: ${env:HONEYCOMB_KEY}
      X-Dataset: checkout
    compression: none
    timeout: 10s
    tls:
      insecure: false
      ca_file: /etc/ssl/ca.pem
      cert_file: /etc/tls/client.crt
      key_file: /etc/tls/client.key
      insecure_skip_verify: false
    sending_queue:
      queue_size: 16MiB
    retry_on_failure:
      enabled: true
      initial_interval: 500ms
      max_interval: 10s
      max_elapsed_time: 0s
      multiplier: 2
      randomization_factor: 0.25
)",
                               FakeEnv({{"HONEYCOMB_KEY", "abc123"}}));
  EXPECT_FALSE(c.storage_enabled);
  ASSERT_TRUE(c.otlp_exporter.has_value());
  const exporter::OtlpExporterOptions& o = *c.otlp_exporter;
  EXPECT_EQ(o.endpoint, "https://api.honeycomb.io");
  EXPECT_EQ(o.protocol, exporter::OtlpProtocol::kHttpProtobuf);
  ASSERT_EQ(o.headers.size(), 2u);
  EXPECT_EQ(o.headers[0], (std::pair<std::string, std::string>{"x-honeycomb-team", "abc123"}));
  EXPECT_EQ(o.headers[1], (std::pair<std::string, std::string>{"X-Dataset", "checkout"}));
  EXPECT_EQ(o.compression, exporter::OtlpCompression::kNone);
  EXPECT_EQ(o.timeout_ns, 10 * kS);
  EXPECT_EQ(o.tls.insecure, false);
  EXPECT_EQ(o.tls.ca_file, "/etc/ssl/ca.pem");
  EXPECT_EQ(o.tls.cert_file, "/etc/tls/client.crt");
  EXPECT_EQ(o.tls.key_file, "/etc/tls/client.key");
  EXPECT_EQ(o.queue_size_bytes, 16u << 20);
  EXPECT_EQ(o.retry.initial_interval_ns, 500 * kMs);
  EXPECT_EQ(o.retry.max_interval_ns, 10 * kS);
  EXPECT_EQ(o.retry.max_elapsed_time_ns, 0);
  EXPECT_EQ(o.retry.multiplier, 2);
  EXPECT_EQ(o.retry.randomization_factor, 0.25);
}

TEST(ExportersConfigTest, MistakesAreNamedWithTheirKeyAndLine) {
  EXPECT_THAT(Error("exporters:\n  otlp:\n    protocol: grpc\n"),
              HasSubstr("test.yaml:2: exporters.otlp.endpoint: missing (required)"));
  EXPECT_THAT(Error("exporters:\n  otlp:\n    endpoint: tempo\n"),
              HasSubstr("test.yaml:3: exporters.otlp.endpoint: invalid grpc endpoint \"tempo\": "
                        "needs a port"));
  EXPECT_THAT(Error("exporters:\n  otlp:\n    endpoint: t:1\n    protocol: http/json\n"),
              HasSubstr("test.yaml:4: exporters.otlp.protocol: expected one of grpc, "
                        "http/protobuf, got \"http/json\""));
  EXPECT_THAT(Error("exporters:\n  otlp:\n    endpoint: t:1\n    compression: zstd\n"),
              HasSubstr("exporters.otlp.compression: expected one of gzip, none"));
  EXPECT_THAT(Error("exporters:\n  otlp:\n    endpoint: t:1\n    headers: [a]\n"),
              HasSubstr("exporters.otlp.headers: expected a mapping of header names"));
  EXPECT_THAT(Error("exporters:\n  otlp:\n    endpoint: t:1\n    headers:\n      Host: x\n"),
              HasSubstr("test.yaml:5: exporters.otlp.headers.Host: header name \"Host\" is set "
                        "by the exporter itself"));
  EXPECT_THAT(Error("exporters:\n  otlp:\n    endpoint: t:1\n    headers: {\"a b\": x}\n"),
              HasSubstr("is not a valid header name"));
  EXPECT_THAT(Error("exporters:\n  otlp:\n    endpoint: t:1\n    tls: {ca_file: /ca.pem}\n"),
              HasSubstr("test.yaml:4: exporters.otlp.tls.ca_file: is set but the exporter sends "
                        "in plain text"));
  EXPECT_THAT(Error("exporters:\n  otlp:\n    endpoint: http://t:1\n    tls:\n"
                    "      insecure_skip_verify: true\n"),
              HasSubstr("test.yaml:5: exporters.otlp.tls.insecure_skip_verify: is set but"));
  EXPECT_THAT(Error("exporters:\n  otlp:\n    endpoint: https://t:1\n    tls: {cert_file: /c}\n"),
              HasSubstr("exporters.otlp.tls.key_file: cert_file and key_file must be set "
                        "together"));
  EXPECT_THAT(
      Error("exporters:\n  otlp:\n    endpoint: t:1\n    retry_on_failure: {multiplier: 0.5}\n"),
      HasSubstr("exporters.otlp.retry_on_failure.multiplier: must be at least 1, got 0.5"));
  EXPECT_THAT(Error("exporters:\n  otlp:\n    endpoint: t:1\n    retry_on_failure:\n"
                    "      randomization_factor: 2\n"),
              HasSubstr("test.yaml:5: exporters.otlp.retry_on_failure.randomization_factor: "
                        "must be from 0 to 1"));
  EXPECT_THAT(Error("exporters:\n  otlp:\n    endpoint: t:1\n    retry_on_failure:\n"
                    "      initial_interval: 5s\n      max_interval: 1s\n"),
              HasSubstr("exporters.otlp.retry_on_failure.max_interval: must be at least "
                        "initial_interval"));
  EXPECT_THAT(Error("exporters:\n  otlp:\n    endpoint: t:1\n    timeout: 0s\n"),
              HasSubstr("exporters.otlp.timeout: must be at least 1ms"));
  EXPECT_THAT(
      Error("exporters:\n  otlp:\n    endpoint: t:1\n    sending_queue: {queue_size: 10}\n"),
      HasSubstr("exporters.otlp.sending_queue.queue_size: must be at least 1024 bytes"));
  EXPECT_THAT(Error("exporters:\n  otlp:\n    endpoint: t:1\n    endpiont: x\n"),
              HasSubstr("test.yaml:4: exporters.otlp.endpiont: unknown key (did you mean "
                        "\"endpoint\"?)"));
  EXPECT_THAT(Error("exporters:\n  otlphttp:\n    endpoint: t:1\n"),
              HasSubstr("exporters.otlphttp: unknown key"));
}

TEST(ExportersConfigTest, StorageDisabledNeedsAnExporter) {
  EXPECT_THAT(Error("storage:\n  path: /x\n  enabled: false\n"),
              HasSubstr("test.yaml:3: storage.enabled: false needs exporters.otlp"));
  EXPECT_FALSE(
      Parse("storage: {enabled: false}\nexporters: {otlp: {endpoint: b:4317}}\n").storage_enabled);
}

// The commented exporters example at the end of the shipped config/tailtrace.yaml, uncommented,
// holds the built-in defaults (and parses).
TEST(ExportersConfigTest, TheShippedExampleShowsTheDefaults) {
  const char* source_dir = std::getenv("TAILTRACE_SOURCE_DIR");
  const std::string root = source_dir != nullptr ? source_dir : TAILTRACE_SOURCE_DIR_FALLBACK;
  std::ifstream in(root + "/config/tailtrace.yaml");
  std::stringstream file;
  file << in.rdbuf();
  const std::string text = file.str();
  const size_t begin = text.find("# exporters:");
  ASSERT_NE(begin, std::string::npos);
  std::stringstream lines(text.substr(begin));
  std::string yaml;
  for (std::string line; std::getline(lines, line);) {
    yaml += (line.rfind("# ", 0) == 0 ? line.substr(2) : "") + "\n";
  }
  const DaemonConfig c = Parse(yaml);
  ASSERT_TRUE(c.otlp_exporter.has_value()) << yaml;
  const exporter::OtlpExporterOptions& o = *c.otlp_exporter;
  const exporter::OtlpExporterOptions defaults;
  EXPECT_EQ(o.endpoint, "otel-collector:4317");
  EXPECT_EQ(o.protocol, defaults.protocol);
  EXPECT_TRUE(o.headers.empty());
  EXPECT_EQ(o.compression, defaults.compression);
  EXPECT_EQ(o.timeout_ns, defaults.timeout_ns);
  EXPECT_EQ(o.tls.insecure, true);  // what the default derives for a bare host:port
  EXPECT_EQ(o.tls.insecure_skip_verify, defaults.tls.insecure_skip_verify);
  EXPECT_EQ(o.queue_size_bytes, defaults.queue_size_bytes);
  EXPECT_EQ(o.retry.enabled, defaults.retry.enabled);
  EXPECT_EQ(o.retry.initial_interval_ns, defaults.retry.initial_interval_ns);
  EXPECT_EQ(o.retry.max_interval_ns, defaults.retry.max_interval_ns);
  EXPECT_EQ(o.retry.max_elapsed_time_ns, defaults.retry.max_elapsed_time_ns);
  EXPECT_EQ(o.retry.multiplier, defaults.retry.multiplier);
  EXPECT_EQ(o.retry.randomization_factor, defaults.retry.randomization_factor);
}

}  // namespace
}  // namespace tailtrace::config
