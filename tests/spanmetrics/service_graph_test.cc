#include "spanmetrics/service_graph.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/collector/test_spans.h"
#include "tests/spanmetrics/decide_util.h"

namespace tailtrace::spanmetrics {
namespace {

using collector::testing::AddSpan;
using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::Status;
using testing::Decide;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

// AddSpan's spans start at this time (plus span * 1 us): all in one dependency slot.
constexpr int64_t kSpanTime = 1'700'000'000'000'000'000;
constexpr int64_t kSlot = kSpanTime - kSpanTime % storage::kDependencySlotNs;

// A ServiceCall with copies of its names, to keep after its spans are gone.
struct OwnedCall {
  std::string parent;
  std::string child;
  int64_t child_start_ns = 0;
  bool failed = false;
  friend bool operator==(const OwnedCall&, const OwnedCall&) = default;
};

OwnedCall Call(std::string parent, std::string child, uint64_t child_span, bool failed = false) {
  return OwnedCall{std::move(parent), std::move(child),
                   kSpanTime + static_cast<int64_t>(child_span) * 1000, failed};
}

// Records the calls of each decided trace, as the graph computes them.
class CallsRecorder final : public collector::TraceObserver {
 public:
  void Decided(const collector::DecidedSpans& spans) override {
    std::vector<ServiceCall> found;
    ComputeServiceCalls(spans, &found);
    std::vector<OwnedCall>& owned = calls.emplace_back();
    for (const ServiceCall& c : found) {
      owned.push_back(
          OwnedCall{std::string(c.parent), std::string(c.child), c.child_start_ns, c.failed});
    }
  }
  std::vector<std::vector<OwnedCall>> calls;
};

TEST(ServiceCallsTest, ACallIsAChildSpanOfAnotherServiceThanItsParent) {
  ExportTraceServiceRequest request;
  AddSpan(&request, "frontend", 1, 1, 0);
  AddSpan(&request, "frontend", 1, 2, 1);    // same service: no call
  AddSpan(&request, "checkout", 1, 3, 2);    // frontend -> checkout
  AddSpan(&request, "inventory", 1, 4, 3);   // checkout -> inventory
  AddSpan(&request, "inventory", 1, 5, 77);  // parent not in the trace: no call
  AddSpan(&request, "payment", 1, 6, 3)->mutable_status()->set_code(Status::STATUS_CODE_ERROR);
  CallsRecorder recorder;
  Decide(request, &recorder, /*keep=*/false);
  ASSERT_EQ(recorder.calls.size(), 1u);
  EXPECT_THAT(
      recorder.calls[0],
      UnorderedElementsAre(Call("frontend", "checkout", 3), Call("checkout", "inventory", 4),
                           Call("checkout", "payment", 6, /*failed=*/true)));
}

TEST(ServiceCallsTest, AFailedClientSpanFailsItsCallAndTheSmallestServiceOwnsASharedSpanId) {
  ExportTraceServiceRequest request;
  Span* client = AddSpan(&request, "frontend", 1, 1, 0);
  client->set_kind(Span::SPAN_KIND_CLIENT);
  client->mutable_status()->set_code(Status::STATUS_CODE_ERROR);
  AddSpan(&request, "checkout", 1, 2, 1);
  // Two spans with ID 3, of "zeta" and "alpha": the child's parent service is "alpha".
  AddSpan(&request, "zeta", 1, 3, 0);
  AddSpan(&request, "alpha", 1, 3, 0);
  AddSpan(&request, "beta", 1, 4, 3);
  // A failed SERVER parent does not fail the calls it makes.
  Span* server = AddSpan(&request, "gamma", 1, 5, 0);
  server->set_kind(Span::SPAN_KIND_SERVER);
  server->mutable_status()->set_code(Status::STATUS_CODE_ERROR);
  AddSpan(&request, "delta", 1, 6, 5);
  CallsRecorder recorder;
  Decide(request, &recorder, /*keep=*/true);
  ASSERT_EQ(recorder.calls.size(), 1u);
  EXPECT_THAT(recorder.calls[0],
              UnorderedElementsAre(Call("frontend", "checkout", 2, /*failed=*/true),
                                   Call("alpha", "beta", 4), Call("gamma", "delta", 6)));
}

TEST(ServiceGraphTest, CountsKeptAndDroppedTracesOnMetricsAndForTheStore) {
  MetricsRegistry registry;
  ServiceGraph graph(100, &registry);
  for (bool keep : {true, false}) {
    for (uint64_t trace = 1; trace <= 3; ++trace) {
      ExportTraceServiceRequest request;
      AddSpan(&request, "frontend", trace, 1, 0);
      Span* child = AddSpan(&request, "checkout", trace, 2, 1);
      if (trace == 3) child->mutable_status()->set_code(Status::STATUS_CODE_ERROR);
      Decide(request, &graph, keep);
    }
  }
  const std::string text = registry.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("traces_service_graph_request_total{client=\"frontend\",server="
                              "\"checkout\"} 6"));
  EXPECT_THAT(text, HasSubstr("traces_service_graph_request_failed_total{client=\"frontend\","
                              "server=\"checkout\"} 2"));
  EXPECT_THAT(graph.TakeCalls(),
              ElementsAre(storage::DependencyCalls{kSlot, "frontend", "checkout", 6, 2}));
  EXPECT_TRUE(graph.TakeCalls().empty()) << "taken once";
}

TEST(ServiceGraphTest, TakeCallsPassesTheFailedCallsOfEachEdgeAndSlot) {
  MetricsRegistry registry;
  ServiceGraph graph(100, &registry);
  // Trace 1: a failed CLIENT span of frontend fails its call to checkout; trace 2: a PRODUCER
  // span of checkout with status ERROR fails its call to queue; trace 3: the same edges, no error.
  for (uint64_t trace = 1; trace <= 3; ++trace) {
    ExportTraceServiceRequest request;
    Span* client = AddSpan(&request, "frontend", trace, 1, 0);
    client->set_kind(Span::SPAN_KIND_CLIENT);
    if (trace == 1) client->mutable_status()->set_code(Status::STATUS_CODE_ERROR);
    AddSpan(&request, "checkout", trace, 2, 1);
    Span* producer = AddSpan(&request, "checkout", trace, 3, 2);
    producer->set_kind(Span::SPAN_KIND_PRODUCER);
    if (trace == 2) producer->mutable_status()->set_code(Status::STATUS_CODE_ERROR);
    AddSpan(&request, "queue", trace, 4, 3);
    Decide(request, &graph, /*keep=*/trace == 3);
  }
  EXPECT_THAT(graph.TakeCalls(),
              ElementsAre(storage::DependencyCalls{kSlot, "checkout", "queue", 3, 1},
                          storage::DependencyCalls{kSlot, "frontend", "checkout", 3, 1}));
}

TEST(ServiceCallsTest, AFailedSpanAmongSpansSharingTheParentsIdAndServiceFailsTheCall) {
  // Two CLIENT spans of "alpha" with ID 1 (broken instrumentation), one failed: whichever comes
  // first, the call to "beta" failed, as the store counts it (storage::CallParent).
  for (bool failed_first : {true, false}) {
    ExportTraceServiceRequest request;
    for (bool failed : {failed_first, !failed_first}) {
      Span* client = AddSpan(&request, "alpha", 1, 1, 0);
      client->set_kind(Span::SPAN_KIND_CLIENT);
      if (failed) client->mutable_status()->set_code(Status::STATUS_CODE_ERROR);
    }
    AddSpan(&request, "beta", 1, 2, 1);
    CallsRecorder recorder;
    Decide(request, &recorder, /*keep=*/true);
    ASSERT_EQ(recorder.calls.size(), 1u);
    EXPECT_THAT(recorder.calls[0], ElementsAre(Call("alpha", "beta", 2, /*failed=*/true)))
        << "failed first: " << failed_first;
  }
}

TEST(ServiceGraphTest, EdgesBeyondTheLimitAreLeftOffMetricsButStillCountForTheStore) {
  MetricsRegistry registry;
  ServiceGraph graph(1, &registry);
  ExportTraceServiceRequest request;
  AddSpan(&request, "a", 1, 1, 0);
  AddSpan(&request, "b", 1, 2, 1);
  AddSpan(&request, "c", 1, 3, 2)->mutable_status()->set_code(Status::STATUS_CODE_ERROR);
  Decide(request, &graph, false);
  const std::string text = registry.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("tailtrace_service_graph_dropped_calls_total 1"));
  EXPECT_THAT(text, HasSubstr("traces_service_graph_request_total{client=\"a\",server=\"b\"} 1"));
  EXPECT_THAT(text, Not(HasSubstr("client=\"b\"")));
  EXPECT_THAT(graph.TakeCalls(), ElementsAre(storage::DependencyCalls{kSlot, "a", "b", 1, 0},
                                             storage::DependencyCalls{kSlot, "b", "c", 1, 1}));
}

}  // namespace
}  // namespace tailtrace::spanmetrics
