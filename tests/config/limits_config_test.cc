// Config keys that bound resources: the gRPC receiver's connection options
// (receivers.otlp.protocols.grpc), attribute limits and query.max_trace_spans.

#include <string>

#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/config/config_test_util.h"

namespace tailtrace::config {
namespace {

using ::testing::HasSubstr;

using test_util::Error;
using test_util::kM;
using test_util::kS;
using test_util::Parse;

TEST(GrpcConnectionConfigTest, Defaults) {
  const collector::GrpcConnectionOptions c = Parse("").grpc.connection;
  EXPECT_EQ(c.max_concurrent_streams, 100u);
  EXPECT_EQ(c.max_memory_bytes, 256ull << 20);
  EXPECT_EQ(c.max_connection_idle_ns, 5 * kM);
  EXPECT_EQ(c.max_connection_age_ns, 0);
  EXPECT_EQ(c.max_connection_age_grace_ns, 0);
  EXPECT_EQ(c.keepalive_time_ns, 2 * kM);
  EXPECT_EQ(c.keepalive_timeout_ns, 20 * kS);
  EXPECT_EQ(c.min_ping_interval_ns, 5 * kS);
  EXPECT_TRUE(c.permit_ping_without_stream);
}

TEST(GrpcConnectionConfigTest, EveryKey) {
  const DaemonConfig config = Parse(R"(
receivers:
  otlp:
    protocols:
      grpc:
        max_concurrent_streams: 16
        max_memory: 128MiB
        keepalive:
          server_parameters:
            max_connection_idle: 1m
            max_connection_age: 30m
            max_connection_age_grace: 10s
            time: 30s
            timeout: 5s
          enforcement_policy:
            min_time: 10s
            permit_without_stream: false
)");
  const collector::GrpcConnectionOptions& c = config.grpc.connection;
  EXPECT_EQ(c.max_concurrent_streams, 16u);
  EXPECT_EQ(c.max_memory_bytes, 128ull << 20);
  EXPECT_EQ(c.max_connection_idle_ns, 1 * kM);
  EXPECT_EQ(c.max_connection_age_ns, 30 * kM);
  EXPECT_EQ(c.max_connection_age_grace_ns, 10 * kS);
  EXPECT_EQ(c.keepalive_time_ns, 30 * kS);
  EXPECT_EQ(c.keepalive_timeout_ns, 5 * kS);
  EXPECT_EQ(c.min_ping_interval_ns, 10 * kS);
  EXPECT_FALSE(c.permit_ping_without_stream);
}

TEST(GrpcConnectionConfigTest, ZeroDisablesIdleAndAgeLimits) {
  const collector::GrpcConnectionOptions c =
      Parse(
          "receivers: {otlp: {protocols: {grpc: {keepalive: {server_parameters: "
          "{max_connection_idle: 0s, max_connection_age: 0s}}}}}}")
          .grpc.connection;
  EXPECT_EQ(c.max_connection_idle_ns, 0);
  EXPECT_EQ(c.max_connection_age_ns, 0);
}

TEST(GrpcConnectionConfigTest, ErrorsNameKeyAndLine) {
  EXPECT_THAT(Error("receivers:\n  otlp:\n    protocols:\n      grpc:\n"
                    "        max_concurrent_streams: 0\n"),
              HasSubstr("test.yaml:5: receivers.otlp.protocols.grpc.max_concurrent_streams"));
  EXPECT_THAT(Error("receivers: {otlp: {protocols: {grpc: {max_memory: 1KiB}}}}"),
              HasSubstr("receivers.otlp.protocols.grpc.max_memory: must be at least"));
  EXPECT_THAT(Error("receivers: {otlp: {protocols: {grpc: {keepalive: {server_parameters: "
                    "{time: 0s}}}}}}"),
              HasSubstr("receivers.otlp.protocols.grpc.keepalive.server_parameters.time"));
  EXPECT_THAT(Error("receivers: {otlp: {protocols: {grpc: {keepalive: {enforcement_policy: "
                    "{min_tme: 1s}}}}}}"),
              HasSubstr("receivers.otlp.protocols.grpc.keepalive.enforcement_policy.min_tme"));
  EXPECT_THAT(Error("receivers: {otlp: {protocols: {grpc: {keepalive: {timeout: 1s}}}}}"),
              HasSubstr("receivers.otlp.protocols.grpc.keepalive.timeout"));
}

TEST(QueryLimitsConfigTest, MaxTraceSpans) {
  EXPECT_EQ(Parse("").query.max_trace_spans, 100'000u);
  EXPECT_EQ(Parse("query: {max_trace_spans: 5000}").query.max_trace_spans, 5000u);
  EXPECT_EQ(Parse("query: {max_trace_spans: 0}").query.max_trace_spans, 0u);
  EXPECT_THAT(Error("query:\n  max_trace_spans: -1\n"),
              HasSubstr("test.yaml:2: query.max_trace_spans"));
  EXPECT_THAT(Error("query:\n  max_trace_spans: lots\n"),
              HasSubstr("test.yaml:2: query.max_trace_spans"));
}

TEST(SpanLimitsConfigTest, DefaultsAreTheSdkDefaults) {
  const DaemonConfig config = Parse("");
  for (const SpanLimits& l : {config.grpc.span_limits, config.http.span_limits}) {
    EXPECT_EQ(l.max_attributes_per_span, 128u);
    EXPECT_EQ(l.max_attribute_value_length, 0u);
    EXPECT_EQ(l.max_events_per_span, 128u);
    EXPECT_EQ(l.max_links_per_span, 128u);
    EXPECT_EQ(l.max_attributes_per_event, 128u);
    EXPECT_EQ(l.max_attributes_per_link, 128u);
  }
}

TEST(SpanLimitsConfigTest, EveryKeyAppliesToBothReceivers) {
  const DaemonConfig config = Parse(R"(
limits:
  max_attributes_per_span: 64
  max_attribute_value_length: 4KiB
  max_events_per_span: 10
  max_links_per_span: 0
  max_attributes_per_event: 8
  max_attributes_per_link: 4
)");
  for (const SpanLimits& l : {config.grpc.span_limits, config.http.span_limits}) {
    EXPECT_EQ(l.max_attributes_per_span, 64u);
    EXPECT_EQ(l.max_attribute_value_length, 4096u);
    EXPECT_EQ(l.max_events_per_span, 10u);
    EXPECT_EQ(l.max_links_per_span, 0u);
    EXPECT_EQ(l.max_attributes_per_event, 8u);
    EXPECT_EQ(l.max_attributes_per_link, 4u);
  }
}

TEST(SpanLimitsConfigTest, ErrorsNameKeyAndLine) {
  EXPECT_THAT(Error("limits:\n  max_attributes_per_span: -1\n"),
              HasSubstr("test.yaml:2: limits.max_attributes_per_span"));
  EXPECT_THAT(Error("limits:\n  max_attribute_value_length: 8GiB\n"),
              HasSubstr("test.yaml:2: limits.max_attribute_value_length"));
  EXPECT_THAT(Error("limits:\n  max_attributes: 5\n"),
              HasSubstr("test.yaml:2: limits.max_attributes"));
}

}  // namespace
}  // namespace tailtrace::config
