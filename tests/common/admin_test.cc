#include "common/admin.h"

#include <gtest/gtest.h>

#include <string>

namespace tailtrace {
namespace {

http::Request Get(const std::string& path) {
  http::Request r;
  r.method = "GET";
  r.target = path;
  r.path = path;
  return r;
}

TEST(AdminHandlerTest, HealthzIsAlwaysOk) {
  MetricsRegistry metrics;
  http::Handler handler = MakeAdminHandler(&metrics, [] { return std::string("starting"); });
  EXPECT_EQ(handler(Get("/healthz")).status, 200);
}

TEST(AdminHandlerTest, ReadyzFollowsReadiness) {
  MetricsRegistry metrics;
  std::string why_not = "store not open";
  http::Handler handler = MakeAdminHandler(&metrics, [&why_not] { return why_not; });
  http::Response not_ready = handler(Get("/readyz"));
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_NE(not_ready.body.find("store not open"), std::string::npos);
  why_not.clear();
  EXPECT_EQ(handler(Get("/readyz")).status, 200);
}

TEST(AdminHandlerTest, MetricsRendersRegistry) {
  MetricsRegistry metrics;
  metrics.GetCounter("otelcol_receiver_accepted_spans", "Accepted.", {{"transport", "grpc"}})
      ->Increment(7);
  http::Handler handler = MakeAdminHandler(&metrics, [] { return std::string(); });
  http::Response r = handler(Get("/metrics"));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.content_type.find("version=0.0.4"), std::string::npos);
  EXPECT_NE(r.body.find("otelcol_receiver_accepted_spans{transport=\"grpc\"} 7"), std::string::npos)
      << r.body;
}

TEST(AdminHandlerTest, UnknownPathAndMethod) {
  MetricsRegistry metrics;
  http::Handler handler = MakeAdminHandler(&metrics, [] { return std::string(); });
  EXPECT_EQ(handler(Get("/nope")).status, 404);
  http::Request post = Get("/metrics");
  post.method = "POST";
  http::Response r = handler(post);
  EXPECT_EQ(r.status, 405);
  ASSERT_FALSE(r.headers.empty());
  EXPECT_EQ(r.headers[0].first, "Allow");
}

// The body says charset=utf-8: request bytes it quotes are escaped when they are not UTF-8.
TEST(AdminHandlerTest, QuotedRequestBytesAreEscaped) {
  MetricsRegistry metrics;
  http::Handler handler = MakeAdminHandler(&metrics, [] { return std::string(); });
  EXPECT_EQ(handler(Get("/x\xff\xc3\xa9")).body,
            "not found: /x\\xff\xc3\xa9 (try /healthz, /readyz, /metrics)\n");
}

}  // namespace
}  // namespace tailtrace
