// SelectSpans: a request of some of another's spans scans back to exactly those spans, with
// their resources and scopes.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proto/otlp_wire.h"
#include "tests/proto/otlp_wire_test_util.h"

namespace tailtrace {
namespace {

using wire_test::ExportTraceServiceRequest;
using wire_test::RealisticRequest;

WireRequest Scan(std::string bytes, const SpanLimits& limits = SpanLimits::None()) {
  WireRequest request;
  EXPECT_TRUE(ScanExportRequest(std::move(bytes), limits, &request).ok());
  return request;
}

std::string_view SpanBytes(const WireRequest& r, const WireSpan& s) {
  return std::string_view(r.bytes).substr(s.offset, s.size);
}

// `selected` holds the spans `indices` of `from`, each with its own resource and scope, and its
// ranges are what a scan of its bytes finds.
void ExpectSelection(const WireRequest& from, const std::vector<uint32_t>& indices,
                     const WireRequest& selected) {
  ASSERT_EQ(selected.spans.size(), indices.size());
  EXPECT_EQ(selected.scanned_size, selected.bytes.size());
  for (size_t k = 0; k < indices.size(); ++k) {
    const WireSpan& a = from.spans[indices[k]];
    const WireSpan& b = selected.spans[k];
    EXPECT_EQ(b.trace_id, a.trace_id);
    EXPECT_EQ(b.has_parent, a.has_parent);
    EXPECT_EQ(SpanBytes(selected, b), SpanBytes(from, a));
    EXPECT_EQ(selected.groups[b.group].scope, from.groups[a.group].scope);
    EXPECT_EQ(selected.resources[selected.groups[b.group].resource],
              from.resources[from.groups[a.group].resource]);
  }
  const WireRequest rescanned = Scan(selected.bytes);
  ASSERT_EQ(rescanned.spans.size(), selected.spans.size());
  for (size_t k = 0; k < rescanned.spans.size(); ++k) {
    EXPECT_EQ(rescanned.spans[k].offset, selected.spans[k].offset);
    EXPECT_EQ(rescanned.spans[k].size, selected.spans[k].size);
    EXPECT_EQ(rescanned.spans[k].group, selected.spans[k].group);
  }
  EXPECT_EQ(rescanned.groups.size(), selected.groups.size());
  EXPECT_EQ(rescanned.resources, selected.resources);
  ExportTraceServiceRequest parsed;
  EXPECT_TRUE(parsed.ParseFromString(selected.bytes));
}

TEST(SelectSpansTest, EverySubsetScansBackToItsSpans) {
  const WireRequest request = Scan(RealisticRequest().SerializeAsString());
  ASSERT_GE(request.spans.size(), 8u);
  ASSERT_GE(request.groups.size(), 3u);
  std::vector<uint32_t> all, even, odd_tail;
  for (uint32_t i = 0; i < request.spans.size(); ++i) {
    all.push_back(i);
    (i % 2 == 0 ? even : odd_tail).push_back(i);
  }
  ExpectSelection(request, all, SelectSpans(request, all));
  ExpectSelection(request, even, SelectSpans(request, even));
  ExpectSelection(request, odd_tail, SelectSpans(request, odd_tail));
  ExpectSelection(request, {all.back()}, SelectSpans(request, std::vector<uint32_t>{all.back()}));
}

TEST(SelectSpansTest, SelectingEverySpanKeepsTheRequestsSpansAndGroups) {
  const WireRequest request = Scan(RealisticRequest().SerializeAsString());
  std::vector<uint32_t> all;
  for (uint32_t i = 0; i < request.spans.size(); ++i) all.push_back(i);
  const WireRequest selected = SelectSpans(request, all);
  ExportTraceServiceRequest a, b;
  ASSERT_TRUE(a.ParseFromString(request.bytes));
  ASSERT_TRUE(b.ParseFromString(selected.bytes));
  // Same spans under the same resources and scopes, group by group.
  std::vector<std::string> spans_a, spans_b;
  for (const auto* req : {&a, &b}) {
    auto& out = req == &a ? spans_a : spans_b;
    for (const auto& rs : req->resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& span : ss.spans()) {
          out.push_back(rs.resource().SerializeAsString() + "|" + ss.scope().SerializeAsString() +
                        "|" + span.SerializeAsString());
        }
      }
    }
  }
  EXPECT_EQ(spans_a, spans_b);
}

TEST(SelectSpansTest, TakesSpansRewrittenByTheLimits) {
  ExportTraceServiceRequest proto = RealisticRequest();
  auto* span = proto.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0);
  for (int i = 0; i < 10; ++i) {
    auto* kv = span->add_attributes();
    kv->set_key(absl::StrCat("k", i));
    kv->mutable_value()->set_string_value("v");
  }
  SpanLimits limits = SpanLimits::None();
  limits.max_attributes_per_span = 2;
  WireRequest request = Scan(proto.SerializeAsString(), limits);
  ASSERT_FALSE(request.spans_over_limits.empty());
  ApplySpanLimits(limits, &request);
  ASSERT_GE(request.spans[0].offset, request.scanned_size);  // rewritten after the request
  const WireRequest selected = SelectSpans(request, std::vector<uint32_t>{0});
  ExportTraceServiceRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(selected.bytes));
  EXPECT_EQ(parsed.resource_spans(0).scope_spans(0).spans(0).attributes_size(), 2);
}

}  // namespace
}  // namespace tailtrace
