// The sampling decision of a trace written in parts (trace_store.h, "Sampling decision") against
// every store: GetTrace and the summaries FindTraces lists agree on it, within one Write call and
// across calls, and RocksTraceStore keeps it in the summary record across reopening.

#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/storage/both_stores_fixture.h"
#include "tests/storage/trace_builder.h"

namespace tailtrace::storage {
namespace {

using opentelemetry::proto::trace::v1::TracesData;
using testing::BuildChunk;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::MakeTraceId;
using ::testing::Pair;

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kT0 = 1'700'000'000 * kSec;

class SamplingDecisionTest : public testing::BothStoresTest {
 protected:
  SamplingDecisionTest() : BothStoresTest(kT0) {}

  // A write of span `span_id` of trace `id` kept by `policy` at `rate`.
  TraceWrite Part(const TraceId& id, uint64_t span_id, std::string policy, double rate) {
    chunks_.push_back(BuildChunk(id, {{.span_id = span_id, .start_ns = kT0}}));
    return TraceWrite{id, &chunks_.back(), std::move(policy), rate, {}};
  }

  void Write(std::vector<TraceWrite> writes) { ASSERT_TRUE(store_->Write(writes).ok()); }

  // The decision as the summary of `id` and as GetTrace answer it, checking that they agree.
  std::pair<std::string, double> DecisionOf(const TraceId& id) {
    absl::StatusOr<std::vector<TraceSummary>> found = store_->FindTraces(TraceQuery{});
    EXPECT_TRUE(found.ok()) << found.status();
    absl::StatusOr<std::optional<StoredTrace>> trace = store_->GetTrace(id);
    EXPECT_TRUE(trace.ok() && trace->has_value());
    if (!found.ok() || !trace.ok() || !trace->has_value()) return {};
    for (const TraceSummary& s : *found) {
      if (s.trace_id != id) continue;
      EXPECT_EQ(s.sampling_policy, (*trace)->sampling_policy);
      EXPECT_EQ(s.sample_rate, (*trace)->sample_rate);
      return {s.sampling_policy, s.sample_rate};
    }
    ADD_FAILURE() << "no summary of " << id.Hex();
    return {};
  }

  std::deque<TracesData> chunks_;  // a TraceWrite points into it: no reallocation
};

const TraceId kA = MakeTraceId(1, 1);
const TraceId kB = MakeTraceId(1, 2);
const TraceId kC = MakeTraceId(1, 3);

TEST_P(SamplingDecisionTest, TheFirstWritesDecisionStaysWhenLaterWritesHaveAnother) {
  Write({Part(kA, 1, "errors", 1.0)});
  Write({Part(kA, 2, "probabilistic", 10.0)});
  EXPECT_THAT(DecisionOf(kA), Pair("errors", 1.0));
}

TEST_P(SamplingDecisionTest, AWriteWithoutPolicyGivesWayToTheFirstLaterPolicy) {
  Write({Part(kB, 1, "", 1.0)});
  EXPECT_THAT(DecisionOf(kB), Pair("", 1.0));
  Write({Part(kB, 2, "latency", 2.0)});
  Write({Part(kB, 3, "errors", 3.0)});
  EXPECT_THAT(DecisionOf(kB), Pair("latency", 2.0));
}

TEST_P(SamplingDecisionTest, PartsOfOneWriteCallFollowTheSameRule) {
  Write({Part(kC, 1, "", 5.0), Part(kC, 2, "", 6.0), Part(kC, 3, "string-attribute", 7.0),
         Part(kC, 4, "errors", 8.0), Part(kA, 1, "always", 1.0)});
  EXPECT_THAT(DecisionOf(kC), Pair("string-attribute", 7.0));
  EXPECT_THAT(DecisionOf(kA), Pair("always", 1.0));
}

TEST_P(SamplingDecisionTest, RocksKeepsTheDecisionInTheSummaryRecord) {
  if (rocks_ == nullptr) GTEST_SKIP() << "the in-memory store forgets everything on reopening";
  Write({Part(kA, 1, "", 1.0), Part(kB, 1, "errors", 4.0)});
  ASSERT_TRUE(rocks_->Close().ok());
  Reopen();
  EXPECT_THAT(DecisionOf(kB), Pair("errors", 4.0));
  // A late write after reopening (no cached index state) still merges with the stored decision.
  Write({Part(kB, 2, "latency", 2.0), Part(kA, 2, "latency", 2.0)});
  EXPECT_THAT(DecisionOf(kB), Pair("errors", 4.0));
  EXPECT_THAT(DecisionOf(kA), Pair("latency", 2.0));
}

// ---- Searching the decision: sampling.policy and sampling.rate (trace_store.h) ----

class SamplingSearchTest : public SamplingDecisionTest {
 protected:
  // A write of one root span of `service` (with tag http.route=`route`) of trace `id`.
  TraceWrite Kept(const TraceId& id, uint64_t span_id, const std::string& service,
                  const std::string& route, std::string policy, double rate) {
    chunks_.push_back(BuildChunk(id, {{.service = service,
                                       .span_id = span_id,
                                       .start_ns = kT0 + static_cast<int64_t>(span_id),
                                       .attributes = {{"http.route", route}}}}));
    return TraceWrite{id, &chunks_.back(), std::move(policy), rate, {}};
  }

  // The IDs FindTraces lists for `query`, newest first.
  std::vector<TraceId> Find(TraceQuery query) {
    absl::StatusOr<std::vector<TraceSummary>> found = store_->FindTraces(query);
    EXPECT_TRUE(found.ok()) << found.status();
    std::vector<TraceId> ids;
    if (found.ok()) {
      for (const TraceSummary& s : *found) ids.push_back(s.trace_id);
    }
    return ids;
  }
  static TraceQuery Tags(std::vector<std::pair<std::string, std::string>> tags,
                         std::string service = "") {
    TraceQuery q;
    q.service = std::move(service);
    q.attributes = std::move(tags);
    return q;
  }
};

TEST_P(SamplingSearchTest, ThePolicyAndTheRateFindTheTracesTheyKept) {
  Write({Kept(kA, 1, "api", "/a", "errors", 1.0), Kept(kB, 2, "api", "/b", "p10", 10.0),
         Kept(kC, 3, "api", "/c", "", 1.0)});
  EXPECT_THAT(Find(Tags({{"sampling.policy", "errors"}})), ElementsAre(kA));
  EXPECT_THAT(Find(Tags({{"sampling.policy", "p10"}})), ElementsAre(kB));
  EXPECT_THAT(Find(Tags({{"sampling.policy", ""}})), IsEmpty()) << "no policy is not a value";
  EXPECT_THAT(Find(Tags({{"sampling.policy", "latency"}})), IsEmpty());
  EXPECT_THAT(Find(Tags({{"sampling.rate", "10"}})), ElementsAre(kB));
  EXPECT_THAT(Find(Tags({{"sampling.rate", "10.0"}})), IsEmpty()) << "the text as shown";
  EXPECT_THAT(Find(Tags({{"sampling.rate", "1"}})), ElementsAre(kC, kA));
  EXPECT_THAT(Find(Tags({{"sampling.policy", "errors"}, {"sampling.rate", "10"}})), IsEmpty());
}

TEST_P(SamplingSearchTest, TheyCombineWithServiceAndSpanTags) {
  Write({Kept(kA, 1, "api", "/a", "errors", 1.0), Kept(kB, 2, "db", "/a", "errors", 1.0),
         Kept(kC, 3, "api", "/c", "errors", 1.0)});
  EXPECT_THAT(Find(Tags({{"sampling.policy", "errors"}}, "api")), ElementsAre(kC, kA));
  EXPECT_THAT(Find(Tags({{"sampling.policy", "errors"}, {"http.route", "/a"}})),
              ElementsAre(kB, kA));
  EXPECT_THAT(Find(Tags({{"http.route", "/a"}, {"sampling.policy", "errors"}}, "db")),
              ElementsAre(kB));
  TraceQuery limited = Tags({{"sampling.policy", "errors"}});
  limited.limit = 2;
  EXPECT_THAT(Find(limited), ElementsAre(kC, kB)) << "newest first, within the limit";
}

TEST_P(SamplingSearchTest, TheTracesDecisionIsSearchedNotEachParts) {
  // kA: the first part's policy stays; kB: a later part brings the first policy.
  Write({Kept(kA, 1, "api", "/a", "errors", 1.0), Kept(kB, 2, "api", "/b", "", 1.0)});
  Write({Kept(kA, 4, "api", "/a", "p10", 10.0), Kept(kB, 5, "api", "/b", "latency", 2.0)});
  EXPECT_THAT(Find(Tags({{"sampling.policy", "errors"}})), ElementsAre(kA));
  EXPECT_THAT(Find(Tags({{"sampling.policy", "p10"}})), IsEmpty());
  EXPECT_THAT(Find(Tags({{"sampling.policy", "latency"}})), ElementsAre(kB));
  EXPECT_THAT(Find(Tags({{"sampling.rate", "2"}})), ElementsAre(kB));
}

TEST_P(SamplingSearchTest, ASpanAttributeWithTheKeyIsNotTheDecision) {
  chunks_.push_back(BuildChunk(
      kA,
      {{.span_id = 1, .start_ns = kT0, .attributes = {{"sampling.policy", std::string("mine")}}}}));
  Write({TraceWrite{kA, &chunks_.back(), "errors", 1.0, {}}});
  EXPECT_THAT(Find(Tags({{"sampling.policy", "mine"}})), IsEmpty());
  EXPECT_THAT(Find(Tags({{"sampling.policy", "errors"}})), ElementsAre(kA));
}

TEST_P(SamplingSearchTest, ExcludingTheKeysFromTheIndexDoesNotRefuseThem) {
  IndexOptions options;
  options.exclude_keys = {"sampling.policy"};
  EXPECT_TRUE(ValidateTraceQuery(Tags({{"sampling.policy", "errors"}}), options).ok());
  EXPECT_FALSE(
      ValidateTraceQuery(Tags({{"other", "x"}}), IndexOptions{.exclude_keys = {"other"}}).ok());
}

INSTANTIATE_TEST_SUITE_P(Stores, SamplingSearchTest,
                         ::testing::Values(testing::StoreKind::kInMemory,
                                           testing::StoreKind::kRocks,
                                           testing::StoreKind::kClickHouse),
                         testing::StoreKindName);

INSTANTIATE_TEST_SUITE_P(Stores, SamplingDecisionTest,
                         ::testing::Values(testing::StoreKind::kInMemory,
                                           testing::StoreKind::kRocks,
                                           testing::StoreKind::kClickHouse),
                         testing::StoreKindName);

}  // namespace
}  // namespace tailtrace::storage
