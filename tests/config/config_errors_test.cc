// ParseConfig errors: each names the source, the 1-based line and the full dotted key.

#include <string>

#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/config/config_test_util.h"

namespace tailtrace::config {
namespace {

using test_util::Error;
using test_util::Parse;
using ::testing::HasSubstr;
using ::testing::Not;

// ------------------------------------------------------------------------------------------------
// Errors: each names the source, the 1-based line and the full dotted key.

TEST(ParseConfigErrorTest, UnknownKeyWithSuggestion) {
  EXPECT_EQ(Error("storage:\n  path: ./x\n  pth: ./y\n"),
            "test.yaml:3: storage.pth: unknown key (did you mean \"path\"?)");
}

TEST(ParseConfigErrorTest, UnknownKeyWithoutCloseMatchListsTheKnownKeys) {
  EXPECT_EQ(Error("log:\n  colour: red\n"),
            "test.yaml:2: log.colour: unknown key (known keys: level)");
}

TEST(ParseConfigErrorTest, UnknownKeysAtEveryLevel) {
  EXPECT_EQ(Error("storag:\n  path: x\n"),
            "test.yaml:1: storag: unknown key (did you mean \"storage\"?)");
  EXPECT_EQ(Error("receivers:\n  otlp:\n    protocols:\n      grpcc: {}\n"),
            "test.yaml:4: receivers.otlp.protocols.grpcc: unknown key (did you mean \"grpc\"?)");
  EXPECT_THAT(Error("receivers:\n  otlp:\n    protocols:\n      grpc:\n        port: 1\n"),
              HasSubstr("test.yaml:5: receivers.otlp.protocols.grpc.port: unknown key"));
  EXPECT_THAT(Error("sampling:\n  decision_cache:\n    sampled_cache: 5\n"),
              HasSubstr("test.yaml:3: sampling.decision_cache.sampled_cache: unknown key"));
  EXPECT_THAT(Error("receivers:\n  jaeger: {}\n"),
              HasSubstr("test.yaml:2: receivers.jaeger: unknown key"));
}

TEST(ParseConfigErrorTest, MappingWhereAScalarIsExpected) {
  EXPECT_EQ(Error("storage:\n  retention:\n    hours: 5\n"),
            "test.yaml:3: storage.retention: expected a duration (e.g. \"10s\"), got a mapping");
  EXPECT_EQ(Error("storage:\n  path: [a, b]\n"),
            "test.yaml:2: storage.path: expected a string, got a list");
}

TEST(ParseConfigErrorTest, ScalarWhereAMappingIsExpected) {
  EXPECT_EQ(Error("storage: ./data\n"),
            "test.yaml:1: storage: expected a mapping of keys to values, got a scalar "
            "\"./data\"");
  EXPECT_EQ(Error("query:\n  - endpoint: x\n"),
            "test.yaml:2: query: expected a mapping of keys to values, got a list");
  EXPECT_EQ(Error("just text\n"),
            "test.yaml:1: expected a mapping of keys to values, got a scalar \"just text\"");
}

TEST(ParseConfigErrorTest, MissingValue) {
  EXPECT_EQ(Error("storage:\n  retention:\nquery: {}\n"),
            "test.yaml:2: storage.retention: missing value (expected a duration (e.g. \"10s\"))");
}

TEST(ParseConfigErrorTest, NotAnInteger) {
  EXPECT_EQ(Error("sampling:\n  num_shards: abc\n"),
            "test.yaml:2: sampling.num_shards: expected an integer, got \"abc\"");
  EXPECT_THAT(Error("sampling:\n  num_shards: 1.5\n"), HasSubstr("expected an integer"));
  EXPECT_THAT(Error("sampling:\n  num_shards: 0x10\n"), HasSubstr("expected an integer"));
  EXPECT_THAT(Error("query:\n  num_threads: \"\"\n"), HasSubstr("expected an integer, got \"\""));
}

TEST(ParseConfigErrorTest, NotABoolean) {
  EXPECT_EQ(Error("receivers:\n  otlp:\n    protocols:\n      http:\n        enabled: maybe\n"),
            "test.yaml:5: receivers.otlp.protocols.http.enabled: expected a boolean (true or "
            "false), got \"maybe\"");
  EXPECT_THAT(Error("receivers: {otlp: {protocols: {http: {enabled: 1}}}}"),
              HasSubstr("expected a boolean"));
}

TEST(ParseConfigErrorTest, IntegerRanges) {
  EXPECT_EQ(Error("sampling:\n  num_shards: 1025\n"),
            "test.yaml:2: sampling.num_shards: must be at most 1024, got 1025");
  EXPECT_EQ(Error("sampling:\n  num_shards: -1\n"),
            "test.yaml:2: sampling.num_shards: must be at least 0, got -1");
  EXPECT_EQ(Error("sampling:\n  num_shards: 99999999999999999999\n"),
            "test.yaml:2: sampling.num_shards: must be at most 1024, got 99999999999999999999");
  EXPECT_EQ(Error("query:\n  num_threads: -99999999999999999999\n"),
            "test.yaml:2: query.num_threads: must be at least 1, got -99999999999999999999");
  EXPECT_EQ(Error("query:\n  num_threads: 0\n"),
            "test.yaml:2: query.num_threads: must be at least 1, got 0");
  EXPECT_THAT(Error("receivers: {otlp: {protocols: {http: {num_threads: 0}}}}"),
              HasSubstr("receivers.otlp.protocols.http.num_threads: must be at least 1"));
  EXPECT_EQ(Error("sampling:\n  decision_cache:\n    sampled_cache_size: -1\n"),
            "test.yaml:3: sampling.decision_cache.sampled_cache_size: must be at least 0, got -1");
  EXPECT_EQ(Error("sampling:\n  num_traces: 0\n"),
            "test.yaml:2: sampling.num_traces: must be at least 1, got 0");
}

TEST(ParseConfigErrorTest, Durations) {
  EXPECT_EQ(Error("sampling:\n  decision_wait: 10\n"),
            "test.yaml:2: sampling.decision_wait: invalid duration \"10\": missing unit (use ns, "
            "us (or \xC2\xB5s), ms, s, m or h, e.g. \"10s\")");
  EXPECT_EQ(Error("sampling:\n  decision_wait: 0s\n"),
            "test.yaml:2: sampling.decision_wait: must be greater than 0, got \"0s\"");
  EXPECT_EQ(Error("sampling:\n  decision_wait: -1s\n"),
            "test.yaml:2: sampling.decision_wait: invalid duration \"-1s\": must not be negative");
  EXPECT_THAT(Error("sampling:\n  decision_wait_after_root_received: 0ms\n"),
              HasSubstr("test.yaml:2: sampling.decision_wait_after_root_received: must be greater "
                        "than 0"));
  EXPECT_THAT(Error("sampling:\n  tick_interval: 0s\n"),
              HasSubstr("test.yaml:2: sampling.tick_interval: must be greater than 0"));
  EXPECT_EQ(Error("storage:\n  retention: 7 days\n"),
            "test.yaml:2: storage.retention: invalid duration \"7 days\": unknown unit \" days\" "
            "(use ns, us (or \xC2\xB5s), ms, s, m or h)");
  EXPECT_EQ(Error("storage:\n  retention: 59s\n"),
            "test.yaml:2: storage.retention: must be at least 1m, got \"59s\"");
}

TEST(ParseConfigErrorTest, Sizes) {
  EXPECT_EQ(Error("storage:\n  block_cache_size: 0\n"),
            "test.yaml:2: storage.block_cache_size: must be greater than 0");
  EXPECT_THAT(Error("storage:\n  write_buffer_size: 0MiB\n"),
              HasSubstr("test.yaml:2: storage.write_buffer_size: must be greater than 0"));
  EXPECT_THAT(Error("sampling:\n  max_buffer_bytes: 0\n"),
              HasSubstr("sampling.max_buffer_bytes: must be greater than 0"));
  EXPECT_THAT(Error("sampling:\n  max_queue_bytes_per_shard: 0\n"),
              HasSubstr("sampling.max_queue_bytes_per_shard: must be greater than 0"));
  EXPECT_THAT(Error("receivers: {otlp: {protocols: {http: {max_request_body_size: 0}}}}"),
              HasSubstr("receivers.otlp.protocols.http.max_request_body_size: must be greater"));
  EXPECT_EQ(Error("receivers:\n  otlp:\n    protocols:\n      grpc:\n        max_recv_msg_size: "
                  "2GiB\n"),
            "test.yaml:5: receivers.otlp.protocols.grpc.max_recv_msg_size: must be at most "
            "2147483647 bytes, got 2147483648");
  EXPECT_EQ(Error("storage:\n  block_cache_size: 64 mb\n"),
            "test.yaml:2: storage.block_cache_size: invalid size \"64 mb\": unknown unit \"mb\" "
            "(use B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024))");
}

TEST(ParseConfigErrorTest, Endpoints) {
  EXPECT_EQ(Error("query:\n  endpoint: localhost\n"),
            "test.yaml:2: query.endpoint: invalid endpoint \"localhost\": expected host:port, "
            "e.g. \"0.0.0.0:4317\"");
  EXPECT_EQ(Error("admin:\n  endpoint: 0.0.0.0:65536\n"),
            "test.yaml:2: admin.endpoint: invalid endpoint \"0.0.0.0:65536\": the port must be a "
            "number from 0 to 65535");
  EXPECT_THAT(Error("admin: {endpoint: \"0.0.0.0:-1\"}"), HasSubstr("the port must be"));
  EXPECT_THAT(Error("admin: {endpoint: \"0.0.0.0:\"}"), HasSubstr("the port must be"));
  EXPECT_THAT(Error("admin: {endpoint: \"0.0.0.0:http\"}"), HasSubstr("the port must be"));
  EXPECT_THAT(Error("admin: {endpoint: \":8888\"}"), HasSubstr("missing host"));
  EXPECT_THAT(Error("admin: {endpoint: \"::1:8888\"}"), HasSubstr("in brackets"));
  EXPECT_THAT(Error("admin: {endpoint: \"[::1:8888\"}"), HasSubstr("in brackets"));
  EXPECT_THAT(Error("admin: {endpoint: \"[]:8888\"}"), HasSubstr("in brackets"));
  EXPECT_THAT(Error("admin: {endpoint: \"my host:8888\"}"), HasSubstr("invalid character"));
  EXPECT_THAT(Error("admin: {endpoint: \"\"}"), HasSubstr("admin.endpoint: invalid endpoint"));
  EXPECT_THAT(
      Error("receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 4317\n"),
      HasSubstr("test.yaml:5: receivers.otlp.protocols.grpc.endpoint: invalid endpoint \"4317\""));
}

TEST(ParseConfigErrorTest, TwoServersOnOnePort) {
  EXPECT_EQ(Error("query:\n  endpoint: 0.0.0.0:4317\n"),
            "test.yaml:2: query.endpoint: \"0.0.0.0:4317\" uses the same port as "
            "receivers.otlp.protocols.grpc.endpoint (\"localhost:4317\")");
  // localhost is the loopback address: it conflicts with 127.0.0.1 and ::1 on the same port.
  EXPECT_THAT(Error("query:\n  endpoint: \"[::1]:8888\"\n"),
              HasSubstr("uses the same port as admin.endpoint (\"localhost:8888\")"));
  EXPECT_THAT(Error("query:\n  endpoint: localhost:9000\nadmin:\n  endpoint: 127.0.0.1:9000\n"),
              HasSubstr("test.yaml:4: admin.endpoint: \"127.0.0.1:9000\" uses the same port"));
  EXPECT_THAT(Error("admin:\n  endpoint: 127.0.0.1:16686\n"),
              HasSubstr("test.yaml:2: admin.endpoint: \"127.0.0.1:16686\" uses the same port as "
                        "query.endpoint"));
  // Different concrete addresses, port 0, or a disabled receiver do not conflict.
  Parse("query: {endpoint: \"127.0.0.1:9000\"}\nadmin: {endpoint: \"127.0.0.2:9000\"}\n");
  Parse("query: {endpoint: \"0.0.0.0:0\"}\nadmin: {endpoint: \"0.0.0.0:0\"}\n");
  Parse(
      "receivers: {otlp: {protocols: {grpc: {enabled: false}}}}\n"
      "query: {endpoint: \"0.0.0.0:4317\"}\n");
}

TEST(ParseConfigErrorTest, LogLevel) {
  EXPECT_EQ(Error("log:\n  level: verbose\n"),
            "test.yaml:2: log.level: expected one of trace, debug, info, warn, error, got "
            "\"verbose\"");
  EXPECT_THAT(Error("log:\n  level: INFO\n"), HasSubstr("got \"INFO\""));
}

TEST(ParseConfigErrorTest, EmptyPath) {
  EXPECT_EQ(Error("storage:\n  path: \"\"\n"), "test.yaml:2: storage.path: must not be empty");
}

TEST(ParseConfigErrorTest, YamlSyntaxErrorHasItsLine) {
  EXPECT_THAT(Error("storage:\n  path: ./data\nquery: [1\nadmin: {}\n"),
              HasSubstr("test.yaml:4: invalid YAML at column"));
  EXPECT_THAT(Error("storage:\n\tpath: x\n"), HasSubstr("test.yaml:2: invalid YAML"));
  EXPECT_THAT(Error("storage:\n  path: \"a\\q\"\n"),
              HasSubstr("test.yaml:2: invalid YAML at column"));
}

TEST(ParseConfigErrorTest, SyntaxErrorHints) {
  EXPECT_THAT(Error("storage:\n\tpath: x\n"),
              HasSubstr("(YAML does not allow tabs for indentation; use spaces)"));
  EXPECT_THAT(Error("query: { endpoint: ${env:HOST:-0.0.0.0}:16686 }\n"),
              HasSubstr("test.yaml:1: invalid YAML at column"));
  EXPECT_THAT(Error("query: { endpoint: ${env:HOST:-0.0.0.0}:16686 }\n"),
              HasSubstr("(inside { } put a value that uses ${...} in quotes)"));
  // Quoted, it works.
  EXPECT_EQ(Parse("query: { endpoint: \"${env:HOST:-0.0.0.0}:16686\" }\n").query.endpoint,
            "0.0.0.0:16686");
}

TEST(ParseConfigErrorTest, DuplicateKey) {
  EXPECT_EQ(Error("storage:\n  path: a\n  retention: 1h\n  path: b\n"),
            "test.yaml:4: storage.path: duplicate key (first set at line 2)");
}

TEST(ParseConfigErrorTest, NonScalarKey) {
  EXPECT_THAT(Error("storage:\n  ? [a, b]\n  : 1\n"), HasSubstr("storage: keys must be strings"));
}

TEST(ParseConfigErrorTest, MoreThanOneDocument) {
  EXPECT_THAT(Error("log: {level: info}\n---\nlog: {level: debug}\n"),
              HasSubstr("test.yaml:3: the file holds more than one YAML document"));
}

TEST(ParseConfigErrorTest, AllErrorsAreReportedInLineOrder) {
  EXPECT_EQ(Error("query:\n  endpoint: nope\nstorage:\n  retention: 1\n  pth: x\nlog:\n  level: "
                  "x\n"),
            "test.yaml:2: query.endpoint: invalid endpoint \"nope\": expected host:port, e.g. "
            "\"0.0.0.0:4317\"\n"
            "test.yaml:4: storage.retention: invalid duration \"1\": missing unit (use ns, us (or "
            "\xC2\xB5s), ms, s, m or h, e.g. \"10s\")\n"
            "test.yaml:5: storage.pth: unknown key (did you mean \"path\"?)\n"
            "test.yaml:7: log.level: expected one of trace, debug, info, warn, error, got \"x\"");
}

TEST(ParseConfigErrorTest, ManyErrorsAreCapped) {
  std::string yaml = "storage:\n";
  for (int i = 0; i < 25; ++i) yaml += "  unknown" + std::to_string(i) + ": 1\n";
  const std::string message = Error(yaml);
  EXPECT_THAT(message, HasSubstr("storage.unknown19: unknown key"));
  EXPECT_THAT(message, Not(HasSubstr("storage.unknown20")));
  EXPECT_THAT(message, HasSubstr("... and 5 more errors"));
}

}  // namespace
}  // namespace tailtrace::config
