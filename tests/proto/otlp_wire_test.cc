#include "proto/otlp_wire.h"

#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"
#include "tests/proto/otlp_wire_test_util.h"

namespace tailtrace::wire_test {
namespace {

using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::ScopeSpans;
using ::testing::HasSubstr;

// protobuf logs every string field with invalid UTF-8 it refuses; the tests make many.
class OtlpWireTest : public ::testing::Test {
 protected:
  static void Silent(google::protobuf::LogLevel, const char*, int, const std::string&) {}
  void SetUp() override { previous_ = google::protobuf::SetLogHandler(&Silent); }
  void TearDown() override { google::protobuf::SetLogHandler(previous_); }

  google::protobuf::LogHandler* previous_ = nullptr;
};

// Replaces the first occurrence of `marker` in `bytes` with `with` (same length).
std::string Replace(std::string bytes, std::string_view marker, std::string_view with) {
  const size_t at = bytes.find(marker);
  EXPECT_NE(at, std::string::npos) << marker;
  EXPECT_EQ(marker.size(), with.size());
  if (at != std::string::npos) bytes.replace(at, marker.size(), with);
  return bytes;
}

// A request of one resource and one scope holding spans given as wire bytes.
std::string RequestOfSpanBytes(const std::vector<std::string>& spans) {
  std::string scope = Len(1, Len(1, "lib"));
  for (const std::string& s : spans) scope += Len(2, s);
  return Len(1, Len(2, scope));
}

std::string ScanError(const std::string& bytes) {
  WireRequest wire;
  const absl::Status status = ScanExportRequest(bytes, &wire);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  return std::string(status.message());
}

TEST_F(OtlpWireTest, RealisticRequestMatchesProtobuf) {
  const ExportTraceServiceRequest req = RealisticRequest();
  const std::string bytes = req.SerializeAsString();
  ASSERT_TRUE(ScanAgreesWithProtobuf(bytes));

  WireRequest wire;
  ASSERT_TRUE(ScanExportRequest(bytes, &wire).ok());
  ASSERT_EQ(wire.spans.size(), 30u);
  EXPECT_EQ(wire.groups.size(), 6u);
  EXPECT_EQ(wire.resources.size(), 3u);
  EXPECT_EQ(wire.rejected_spans, 0);
  EXPECT_EQ(wire.error_message, "");
  for (size_t k = 0; k < wire.spans.size(); ++k) {
    const Span& want = req.resource_spans(k / 10).scope_spans(k / 5 % 2).spans(k % 5);
    EXPECT_EQ(wire.spans[k].group, k / 5);
    EXPECT_EQ(wire.groups[k / 5].resource, k / 10);
    EXPECT_EQ(wire.spans[k].trace_id, TraceId::FromBytes(want.trace_id()));
    EXPECT_EQ(wire.spans[k].has_parent, k % 5 % 2 == 1);
  }
  // The resource key is the ResourceSpans without its scope_spans.
  ResourceSpans resource;
  ASSERT_TRUE(resource.ParseFromString(wire.resources[1]));
  EXPECT_EQ(resource.resource().attributes(0).value().string_value(), "svc-1");
  EXPECT_EQ(resource.scope_spans_size(), 0);
  EXPECT_EQ(resource.schema_url(), "https://opentelemetry.io/schemas/1.21.0");
}

TEST_F(OtlpWireTest, ReusedOutputIsCleared) {
  WireRequest wire;
  ASSERT_TRUE(ScanExportRequest(RealisticRequest().SerializeAsString(), &wire).ok());
  ExportTraceServiceRequest small;
  *small.add_resource_spans()->add_scope_spans()->add_spans() = SimpleSpan(1, 2, 0);
  ASSERT_TRUE(ScanExportRequest(small.SerializeAsString(), &wire).ok());
  EXPECT_EQ(wire.spans.size(), 1u);
  EXPECT_EQ(wire.groups.size(), 1u);
  EXPECT_EQ(wire.resources.size(), 1u);
  ASSERT_TRUE(ScanExportRequest("", &wire).ok());
  EXPECT_TRUE(wire.spans.empty() && wire.groups.empty() && wire.resources.empty());
}

TEST_F(OtlpWireTest, InvalidIdsAreLeftOutAndCounted) {
  ExportTraceServiceRequest req;
  // Resource 0: one scope with only invalid spans, one with a valid one.
  auto* rs = req.add_resource_spans();
  auto* bad_scope = rs->add_scope_spans();
  Span span = SimpleSpan(1, 1, 0);
  span.set_trace_id("short");
  *bad_scope->add_spans() = span;
  span = SimpleSpan(1, 2, 0);
  span.set_trace_id(std::string(16, '\0'));
  *bad_scope->add_spans() = span;
  auto* good_scope = rs->add_scope_spans();
  good_scope->mutable_scope()->set_name("good");
  span = SimpleSpan(1, 3, 0);
  span.set_span_id("1234");
  *good_scope->add_spans() = span;
  *good_scope->add_spans() = SimpleSpan(1, 4, 3);
  // Resource 1: nothing valid.
  auto* bad_scope2 = req.add_resource_spans()->add_scope_spans();
  span = SimpleSpan(2, 5, 0);
  span.set_span_id(std::string(8, '\0'));
  *bad_scope2->add_spans() = span;
  span = SimpleSpan(2, 6, 0);
  span.set_parent_span_id("123");
  *bad_scope2->add_spans() = span;
  // Resource 2: a valid span with a parent.
  req.add_resource_spans()->add_scope_spans()->add_spans()->CopyFrom(SimpleSpan(3, 7, 1));

  const std::string bytes = req.SerializeAsString();
  ASSERT_TRUE(ScanAgreesWithProtobuf(bytes));
  WireRequest wire;
  ASSERT_TRUE(ScanExportRequest(bytes, &wire).ok());
  EXPECT_EQ(wire.rejected_spans, 5);
  EXPECT_EQ(wire.error_message,
            "resource_spans[0].scope_spans[0].spans[0]: trace_id must be 16 bytes, got 5; "
            "resource_spans[0].scope_spans[0].spans[1]: trace_id is all zero; "
            "resource_spans[0].scope_spans[1].spans[0]: span_id must be 8 bytes, got 4"
            " (and 2 more invalid spans)");
  ASSERT_EQ(wire.spans.size(), 2u);
  ASSERT_EQ(wire.groups.size(), 2u);
  ASSERT_EQ(wire.resources.size(), 2u);
  EXPECT_EQ(wire.spans[0].group, 0u);
  EXPECT_EQ(wire.spans[1].group, 1u);
  EXPECT_EQ(wire.groups[0].resource, 0u);
  EXPECT_EQ(wire.groups[1].resource, 1u);
  EXPECT_TRUE(wire.spans[0].has_parent);
  EXPECT_EQ(wire.spans[1].trace_id, TraceId::FromBytes(TraceIdBytes(3)));
  ScopeSpans scope;
  ASSERT_TRUE(scope.ParseFromString(wire.groups[0].scope));
  EXPECT_EQ(scope.scope().name(), "good");
}

TEST_F(OtlpWireTest, RemainingIdProblemsAreReported) {
  Span span = SimpleSpan(1, 1, 0);
  span.set_span_id(std::string(8, '\0'));
  Span parent = SimpleSpan(1, 2, 0);
  parent.set_parent_span_id("123456789");
  const std::string bytes =
      RequestOfSpanBytes({span.SerializeAsString(), parent.SerializeAsString(),
                          SimpleSpan(1, 3, 0).SerializeAsString()});
  ASSERT_TRUE(ScanAgreesWithProtobuf(bytes));
  WireRequest wire;
  ASSERT_TRUE(ScanExportRequest(bytes, &wire).ok());
  EXPECT_EQ(wire.rejected_spans, 2);
  EXPECT_EQ(wire.error_message,
            "resource_spans[0].scope_spans[0].spans[0]: span_id is all zero; "
            "resource_spans[0].scope_spans[0].spans[1]: parent_span_id must be empty or 8 bytes, "
            "got 9");
  EXPECT_EQ(wire.spans.size(), 1u);
}

TEST_F(OtlpWireTest, EveryPrefixAgreesWithProtobuf) {
  const std::string bytes = RealisticRequest().SerializeAsString();
  int ok = 0;
  for (size_t n = 0; n <= bytes.size(); ++n) {
    bool scanned_ok = false;
    ASSERT_TRUE(ScanAgreesWithProtobuf(bytes.substr(0, n), &scanned_ok)) << "prefix " << n;
    ok += scanned_ok;
  }
  EXPECT_GE(ok, 4);  // at least the empty request, the whole one and the resource boundaries
}

TEST_F(OtlpWireTest, TruncationNamesThePosition) {
  const std::string span = SimpleSpan(1, 1, 0).SerializeAsString();
  // The second spans entry claims more bytes than its scope holds.
  const std::string scope = Len(2, span) + Tag(2, 2) + Varint(span.size()) + span.substr(0, 60);
  EXPECT_EQ(ScanError(Len(1, Len(2, scope))),
            "resource_spans[0].scope_spans[0]: field 2: truncated length-delimited value");
  // A span whose own attributes entry is longer than the span.
  std::string cut = span.substr(0, span.size() - 3);
  EXPECT_EQ(ScanError(RequestOfSpanBytes({span, cut})),
            "resource_spans[0].scope_spans[0].spans[1]: field 9: truncated length-delimited value");
}

TEST_F(OtlpWireTest, InvalidUtf8IsRefusedWhereProtobufRefusesIt) {
  ExportTraceServiceRequest req;
  auto* rs = req.add_resource_spans();
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("SCOPE_");
  Span span = SimpleSpan(1, 1, 0);
  span.set_name("NAME__");
  span.mutable_attributes(1)->set_key("KEY___");
  span.mutable_attributes(0)->mutable_value()->set_string_value("VALUE_");
  span.mutable_links()->Add()->set_trace_id("BYTES_");  // bytes: anything goes
  *ss->add_spans() = span;
  const std::string bytes = req.SerializeAsString();
  ASSERT_TRUE(ScanAgreesWithProtobuf(bytes));
  const std::string bad("\xC3\x28\xED\xA0\x80!", 6);  // bad continuation, then a surrogate
  ASSERT_TRUE(ScanAgreesWithProtobuf(Replace(bytes, "BYTES_", bad)));
  const std::string span_at = "resource_spans[0].scope_spans[0].spans[0]";
  EXPECT_EQ(ScanError(Replace(bytes, "NAME__", bad)),
            span_at + ": field 5: invalid UTF-8 in a string field");
  EXPECT_EQ(ScanError(Replace(bytes, "KEY___", bad)),
            span_at + ".attributes: field 1: invalid UTF-8 in a string field");
  EXPECT_EQ(ScanError(Replace(bytes, "VALUE_", bad)),
            span_at + ".attributes.value: field 1: invalid UTF-8 in a string field");
  EXPECT_EQ(ScanError(Replace(bytes, "SCOPE_", bad)),
            "resource_spans[0].scope_spans[0].scope: field 1: invalid UTF-8 in a string field");
  for (const char* marker : {"NAME__", "KEY___", "VALUE_", "SCOPE_"}) {
    ASSERT_TRUE(ScanAgreesWithProtobuf(Replace(bytes, marker, bad))) << marker;
    // Overlong encodings and a lone continuation byte are refused too.
    ASSERT_TRUE(ScanAgreesWithProtobuf(Replace(bytes, marker, "\xC0\xAF!!!!"))) << marker;
    ASSERT_TRUE(ScanAgreesWithProtobuf(Replace(bytes, marker, "ok\x80!!!"))) << marker;
    ASSERT_TRUE(ScanAgreesWithProtobuf(Replace(bytes, marker, "\xF0\x9F\x98\x80ok"))) << marker;
  }
}

// A span attribute whose value nests `levels` arrays or key-value lists.
std::string DeepRequest(int levels, bool kvlist) {
  AnyValue value;
  value.set_string_value("leaf");
  for (int i = 0; i < levels; ++i) {
    AnyValue outer;
    if (kvlist) {
      auto* kv = outer.mutable_kvlist_value()->add_values();
      kv->set_key("k");
      *kv->mutable_value() = value;
    } else {
      *outer.mutable_array_value()->add_values() = value;
    }
    value = outer;
  }
  ExportTraceServiceRequest req;
  Span span = SimpleSpan(1, 1, 0);
  *span.mutable_attributes(0)->mutable_value() = value;
  *req.add_resource_spans()->add_scope_spans()->add_spans() = span;
  return req.SerializeAsString();
}

TEST_F(OtlpWireTest, NestingDeeperThanTheCapIsRefused) {
  // The attribute value is at depth 6; each array level adds 2 (ArrayValue, AnyValue), each
  // key-value list level 3 (KeyValueList, KeyValue, AnyValue).
  static_assert((kMaxWireNestingDepth - 6) % 2 == 0);
  const int arrays = (kMaxWireNestingDepth - 6) / 2;  // the innermost value exactly at the cap
  ASSERT_TRUE(ScanAgreesWithProtobuf(DeepRequest(arrays, false)));
  EXPECT_THAT(ScanError(DeepRequest(arrays + 1, false)),
              HasSubstr(absl::StrCat("nesting deeper than ", kMaxWireNestingDepth)));
  const int kvlists = (kMaxWireNestingDepth - 6) / 3;
  ASSERT_TRUE(ScanAgreesWithProtobuf(DeepRequest(kvlists, true)));
  const std::string message = ScanError(DeepRequest(kvlists + 1, true));
  EXPECT_THAT(message, HasSubstr("resource_spans[0].scope_spans[0].spans[0].attributes.value."
                                 "kvlist_value.values.value.kvlist_value"));
  EXPECT_THAT(message, HasSubstr(absl::StrCat("nesting deeper than ", kMaxWireNestingDepth)));
  // protobuf itself would accept it (its limit is 100).
  ExportTraceServiceRequest req;
  EXPECT_TRUE(req.ParseFromString(DeepRequest(kvlists + 1, true)));
  // Unknown groups count as nesting too.
  std::string group = Tag(1, 0) + "\x01";
  for (int i = 0; i < kMaxWireNestingDepth; ++i) group = Tag(20, 3) + group + Tag(20, 4);
  EXPECT_THAT(ScanError(RequestOfSpanBytes({SimpleSpan(1, 1, 0).SerializeAsString() + group})),
              HasSubstr("nesting deeper than"));
}

TEST_F(OtlpWireTest, MalformedWireFormatIsRefused) {
  const std::string span = SimpleSpan(1, 1, 0).SerializeAsString();
  const std::string at = "resource_spans[0].scope_spans[0].spans[0]: ";
  struct Case {
    std::string suffix;  // appended to the span's bytes
    std::string message;
  };
  const std::vector<Case> cases = {
      {Tag(7, 7), at + "field 7: invalid wire type 7"},
      {Tag(3, 6) + "x", at + "field 3: invalid wire type 6"},
      {Len(0, "ab"), at + "field number 0"},
      {std::string(1, '\0'), at + "field number 0"},
      {Tag(9, 4), at + "field 9: end-group tag without a start-group tag"},
      {Tag(10, 0) + std::string(10, '\x80') + "\x01", at + "field 10: varint longer than 10 bytes"},
      {Tag(10, 0) + "\x80", at + "field 10: truncated varint"},
      {Tag(7, 1) + "1234567", at + "field 7: truncated fixed64 value"},
      {Tag(16, 5) + "123", at + "field 16: truncated fixed32 value"},
      {Tag(99, 2) + "\x85\x80\x80\x80\x80", at + "field 99: malformed length"},
      {std::string("\x80\x80\x80\x80\x80\x01", 6), at + "tag longer than 5 bytes"},
      {std::string("\x80\x80\x80\x80\x10", 5), at + "field number 0"},
      {Tag(20, 3) + Tag(1, 0) + "\x01", at + "field 20: unterminated group"},
      {Tag(20, 3) + Tag(21, 4),
       "resource_spans[0].scope_spans[0].spans[0].group: field 21: "
       "end-group tag does not match start-group field 20"},
  };
  for (const Case& c : cases) {
    const std::string bytes = RequestOfSpanBytes({span + c.suffix});
    EXPECT_EQ(ScanError(bytes), c.message);
    EXPECT_TRUE(ScanAgreesWithProtobuf(bytes)) << c.message;
  }
  EXPECT_EQ(ScanError(Tag(2, 7)), "field 2: invalid wire type 7");
  EXPECT_EQ(ScanError(Tag(1, 2) + "\x05" + "ab"), "field 1: truncated length-delimited value");
}

// A request full of unknown fields (groups included) and known fields with other wire types,
// in every message down to the span, and the parts the scan must give back.
struct UnknownFields {
  std::string span_extra, scope_head, resource_head, bytes;
};

UnknownFields UnknownFieldsRequest() {
  UnknownFields u;
  const std::string span = SimpleSpan(1, 1, 0).SerializeAsString();
  // A group with nested content, a varint, fixed values and a mistyped known field.
  const std::string unknown = Tag(50, 3) + Tag(1, 0) + "\x05" + Tag(2, 3) + Len(3, "\xff") +
                              Tag(2, 4) + Tag(50, 4) + Tag(99, 0) + Varint(1u << 30) +
                              Fixed64(98, 7) + Tag(97, 5) + "abcd";
  u.span_extra = span + unknown + Tag(5, 0) + "\x01" +  // name as a varint
                 Tag(9, 5) + "wxyz";                    // attributes as fixed32
  u.scope_head = Len(1, Len(1, "lib")) + unknown + Tag(2, 0) + "\x07";
  const std::string scope = u.scope_head + Len(2, u.span_extra) + Len(3, "s");
  u.resource_head = Len(1, Len(1, Len(1, "k"))) + unknown + Tag(2, 1) + "12345678";
  const std::string resource = u.resource_head + Len(2, scope) + Tag(3, 0) + "\x02";
  u.bytes = unknown + Len(1, resource) + Tag(1, 0) + "\x01";
  return u;
}

TEST_F(OtlpWireTest, UnknownAndMistypedFieldsAreSkippedAndKept) {
  const UnknownFields u = UnknownFieldsRequest();
  const std::string& bytes = u.bytes;
  ASSERT_TRUE(ScanAgreesWithProtobuf(bytes));
  WireRequest wire;
  ASSERT_TRUE(ScanExportRequest(bytes, &wire).ok());
  ASSERT_EQ(wire.spans.size(), 1u);
  EXPECT_EQ(wire.bytes.substr(wire.spans[0].offset, wire.spans[0].size), u.span_extra);
  EXPECT_EQ(wire.groups[0].scope, u.scope_head + Len(3, "s"));
  EXPECT_EQ(wire.resources[0], u.resource_head + Tag(3, 0) + "\x02");
}

TEST_F(OtlpWireTest, NonCanonicalEncodingsAgreeWithProtobuf) {
  const std::string span = SimpleSpan(1, 1, 0).SerializeAsString();
  const std::vector<std::string> suffixes = {
      Tag(10, 0) + std::string(9, '\xff') + "\x7f",  // 10-byte varint, high bits dropped
      Tag(99, 2) + std::string("\x83\x80\x80\x80\x00", 5) + "abc",      // a 5-byte length
      std::string("\x8a\x00", 2) + Varint(16) + TraceIdBytes(4),        // trace_id, 2-byte tag
      std::string("\x8a\x80\x80\x80\x70", 5) + Varint(3) + "abc",       // tag bits past 32 dropped
      Tag(99, 2) + "\x83\x80\x80\x80\x08" + "abc",                      // a length of 2 GiB or more
      Tag(99, 2) + std::string("\x83\x80\x80\x80\x80\x00", 6) + "abc",  // a 6-byte length
  };
  for (size_t i = 0; i < suffixes.size(); ++i) {
    bool ok = false;
    EXPECT_TRUE(ScanAgreesWithProtobuf(RequestOfSpanBytes({span + suffixes[i]}), &ok)) << i;
    EXPECT_EQ(ok, i < 4) << i;  // the last two are refused
  }
  WireRequest wire;
  ASSERT_TRUE(ScanExportRequest(RequestOfSpanBytes({span + suffixes[2]}), &wire).ok());
  ASSERT_EQ(wire.spans.size(), 1u);
  EXPECT_EQ(wire.spans[0].trace_id, TraceId::FromBytes(TraceIdBytes(4)));
}

TEST_F(OtlpWireTest, LastOccurrenceOfAnIdCounts) {
  const std::string span = SimpleSpan(1, 1, 0).SerializeAsString();
  const std::string later_valid = Len(1, "") + span + Len(1, TraceIdBytes(5));
  const std::string later_invalid = span + Len(1, std::string(16, '\0')) + Len(4, "");
  const std::string parent_then_none = span + Len(4, SpanIdBytes(3)) + Len(4, "");
  const std::string bytes = RequestOfSpanBytes({later_valid, later_invalid, parent_then_none});
  ASSERT_TRUE(ScanAgreesWithProtobuf(bytes));
  WireRequest wire;
  ASSERT_TRUE(ScanExportRequest(bytes, &wire).ok());
  ASSERT_EQ(wire.spans.size(), 2u);
  EXPECT_EQ(wire.spans[0].trace_id, TraceId::FromBytes(TraceIdBytes(5)));
  EXPECT_FALSE(wire.spans[1].has_parent);
  EXPECT_EQ(wire.error_message, "resource_spans[0].scope_spans[0].spans[1]: trace_id is all zero");
}

TEST_F(OtlpWireTest, KeptFieldsFollowProtobufsRulesForRepeatedFields) {
  Span first = SimpleSpan(1, 1, 2);
  first.set_kind(Span::SPAN_KIND_CLIENT);
  first.mutable_status()->set_code(opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
  const std::string span = first.SerializeAsString();
  // A later name, kind and end time replace the first; a later status merges into it (its code
  // stays); an open-enum kind is kept as it came.
  const std::string status_message_only = Len(15, Len(2, "later message"));
  const std::string repeated =
      span + Len(5, "renamed") + Tag(6, 0) + Varint(77) + Fixed64(8, 5) + status_message_only;
  const std::string bytes = RequestOfSpanBytes({repeated});
  ASSERT_TRUE(ScanAgreesWithProtobuf(bytes));
  WireRequest wire;
  ASSERT_TRUE(ScanExportRequest(bytes, &wire).ok());
  ASSERT_EQ(wire.spans.size(), 1u);
  const WireSpan& ws = wire.spans[0];
  EXPECT_EQ(ws.Name(wire.bytes), "renamed");
  EXPECT_EQ(ws.kind, 77);
  EXPECT_EQ(ws.status_code, 2);
  EXPECT_EQ(ws.end_ns, 5u);
  EXPECT_EQ(ws.start_ns, first.start_time_unix_nano());
  uint64_t parent = 0;
  std::memcpy(&parent, SpanIdBytes(2).data(), 8);
  EXPECT_EQ(ws.parent_span_id, parent);
}

// Random byte flips, insertions, deletions, duplications and truncations of valid requests:
// the scanner accepts exactly what protobuf accepts and lists the same spans.
TEST_F(OtlpWireTest, RandomMutationsAgreeWithProtobuf) {
  std::vector<std::string> bases = {RealisticRequest().SerializeAsString(),
                                    UnknownFieldsRequest().bytes};
  {
    Span bad = SimpleSpan(2, 9, 0);
    bad.set_trace_id("x");
    bases.push_back(RequestOfSpanBytes(
        {SimpleSpan(1, 1, 0).SerializeAsString(), bad.SerializeAsString(),
         SimpleSpan(1, 2, 1).SerializeAsString() + Tag(20, 3) + Tag(1, 0) + "\x01" + Tag(20, 4)}));
  }
  const char* seed = std::getenv("OTLP_WIRE_MUTATION_SEED");  // to explore by hand
  std::mt19937_64 rng(seed != nullptr ? std::strtoull(seed, nullptr, 10) : 20261124);
  auto pick = [&](size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng() % n); };
  int accepted = 0;
  const char* rounds = std::getenv("OTLP_WIRE_MUTATION_ROUNDS");
  const int kRounds = rounds != nullptr ? std::atoi(rounds) : 4000;
  for (int round = 0; round < kRounds; ++round) {
    std::string bytes = bases[pick(bases.size())];
    MutateBytes(rng, &bytes);
    bool ok = false;
    ASSERT_TRUE(ScanAgreesWithProtobuf(bytes, &ok)) << "round " << round;
    accepted += ok;
  }
  // Both outcomes are exercised.
  EXPECT_GT(accepted, kRounds / 20);
  EXPECT_LT(accepted, kRounds * 19 / 20);
}

}  // namespace
}  // namespace tailtrace::wire_test
