// The ClusterQuery messages of cluster/query_codec_internal.h: what one member sends is what the
// other reads, and a message of a member of an earlier version (without the newer fields) reads
// as "not known".

#include <cstdint>
#include <limits>
#include <string>

#include "cluster/query_codec_internal.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tailtrace::cluster::internal {
namespace {

TEST(QueryCodecTest, TraceSummaryRoundTripsWithItsSamplingDecision) {
  storage::TraceSummary s;
  s.trace_id.bytes[0] = 0xab;
  s.trace_id.bytes[15] = 0x01;
  s.root_service = "frontend";
  s.root_operation = "GET /";
  s.start_ns = 1'700'000'000'000'000'000;
  s.duration_ns = 42;
  s.span_count = 3;
  s.error_count = 1;
  s.orphan_span_count = 1;
  s.services = {{"cart", 1, 1}, {"frontend", 2, 0}};
  s.sampling_policy = "errors";
  s.sample_rate = 2.5;
  pb::TraceSummary message;
  ToProto(s, &message);
  absl::StatusOr<storage::TraceSummary> back = FromProto(message);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, s);

  // A member of an earlier version sends no decision.
  message.clear_sampling_policy();
  message.clear_sample_rate();
  back = FromProto(message);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->sampling_policy, "");
  EXPECT_EQ(back->sample_rate, 0);
  EXPECT_EQ(back->services, s.services);
}

TEST(QueryCodecTest, TagSuggestionQueryRoundTrips) {
  storage::TagSuggestionQuery query;
  query.service = "checkout";
  query.key = "http.method";
  query.start_time_min_ns = 1'700'000'000'000'000'000;
  query.start_time_max_ns = std::numeric_limits<int64_t>::max();
  query.limit = 7;
  pb::SuggestTagsRequest message;
  ToProto(query, &message);
  const storage::TagSuggestionQuery back = FromProto(message);
  EXPECT_EQ(back.service, query.service);
  EXPECT_EQ(back.key, query.key);
  EXPECT_EQ(back.start_time_min_ns, query.start_time_min_ns);
  EXPECT_EQ(back.start_time_max_ns, query.start_time_max_ns);
  EXPECT_EQ(back.limit, query.limit);
}

}  // namespace
}  // namespace tailtrace::cluster::internal
