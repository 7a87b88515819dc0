// The retry schedule and the endpoint syntax: pure functions.

#include "exporter/backoff.h"

#include "exporter/options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tailtrace::exporter {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kS = 1'000'000'000;

TEST(BackoffTest, GrowsByTheMultiplierUpToMaxInterval) {
  RetryOptions options;  // 1s, x1.5, at most 30s
  EXPECT_EQ(BackoffIntervalNs(options, 0), 1 * kS);
  EXPECT_EQ(BackoffIntervalNs(options, 1), 1'500'000'000);
  EXPECT_EQ(BackoffIntervalNs(options, 2), 2'250'000'000);
  EXPECT_EQ(BackoffIntervalNs(options, 8), 25'628'906'250);
  EXPECT_EQ(BackoffIntervalNs(options, 9), 30 * kS);  // 1.5^9 s > 30 s
  EXPECT_EQ(BackoffIntervalNs(options, 1000), 30 * kS);
}

TEST(BackoffTest, RandomizationSpreadsEvenlyAroundTheInterval) {
  RetryOptions options;  // randomization_factor 0.5
  EXPECT_EQ(BackoffDelayNs(options, 0, 0.0), 500'000'000);
  EXPECT_EQ(BackoffDelayNs(options, 0, 0.5), 1 * kS);
  EXPECT_NEAR(static_cast<double>(BackoffDelayNs(options, 0, 0.999999)), 1.5e9, 1e4);
  options.randomization_factor = 0;
  EXPECT_EQ(BackoffDelayNs(options, 3, 0.9), 3'375'000'000);
}

TEST(EndpointTest, GrpcTakesHostPortWithOrWithoutAScheme) {
  auto e = ParseOtlpEndpoint("collector:4317", OtlpProtocol::kGrpc);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_FALSE(e->https);
  EXPECT_EQ(e->Authority(), "collector:4317");
  e = ParseOtlpEndpoint("https://api.honeycomb.io", OtlpProtocol::kGrpc);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(e->https);
  EXPECT_EQ(e->Authority(), "api.honeycomb.io:443");
  e = ParseOtlpEndpoint("http://[::1]:4317/", OtlpProtocol::kGrpc);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->Authority(), "[::1]:4317");
}

TEST(EndpointTest, HttpAppendsV1TracesToTheBasePath) {
  auto e = ParseOtlpEndpoint("http://collector:4318", OtlpProtocol::kHttpProtobuf);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->path, "/v1/traces");
  e = ParseOtlpEndpoint("https://otlp.example.com/otlp/", OtlpProtocol::kHttpProtobuf);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->path, "/otlp/v1/traces");
  EXPECT_EQ(e->port, 443);
  // A full traces URL, as pasted from OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, is kept.
  e = ParseOtlpEndpoint("collector:4318/v1/traces", OtlpProtocol::kHttpProtobuf);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->path, "/v1/traces");
  EXPECT_FALSE(e->https);
}

TEST(EndpointTest, MistakesAreExplained) {
  const auto error = [](std::string_view endpoint, OtlpProtocol protocol) {
    auto e = ParseOtlpEndpoint(endpoint, protocol);
    EXPECT_FALSE(e.ok()) << endpoint;
    return e.ok() ? std::string() : std::string(e.status().message());
  };
  EXPECT_THAT(error("collector", OtlpProtocol::kGrpc), HasSubstr("needs a port"));
  EXPECT_THAT(error("grpc://collector:4317", OtlpProtocol::kGrpc),
              HasSubstr("unsupported scheme \"grpc://\""));
  EXPECT_THAT(error("collector:4317/v1", OtlpProtocol::kGrpc), HasSubstr("no path"));
  EXPECT_THAT(error("collector:99999", OtlpProtocol::kGrpc), HasSubstr("from 1 to 65535"));
  EXPECT_THAT(error("::1:4317", OtlpProtocol::kGrpc), HasSubstr("in brackets"));
  EXPECT_THAT(error("http://c:4318/x?y=1", OtlpProtocol::kHttpProtobuf),
              HasSubstr("no query string"));
  EXPECT_THAT(error("http://:4318", OtlpProtocol::kHttpProtobuf), HasSubstr("host is empty"));
}

}  // namespace
}  // namespace tailtrace::exporter
