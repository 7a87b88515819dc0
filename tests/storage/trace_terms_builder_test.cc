// TraceTermsBuilder against the full computation (ComputeIndexTerms) on random traces written in
// random chunks: summary, calls, every stream and value (through Streams, AppendStreams and
// ForEachStream), DurationValue, and each Delta against the difference of the states around it.
// Also the helpers behind it: IndexValueView and the length-prefixed order.

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/index/keys.h"
#include "storage/index/trace_analysis.h"
#include "storage/index/trace_terms_builder.h"
#include "storage/index/trace_terms_internal.h"
#include "tests/storage/trace_builder.h"

namespace tailtrace::storage {
namespace {

namespace common = opentelemetry::proto::common::v1;
namespace trace_v1 = opentelemetry::proto::trace::v1;
using testing::MakeTraceId;

constexpr int64_t kT0 = 1'700'000'000'000'000'000;

// Every stream of `terms` and its value, as keys.h encodes them.
std::map<std::string, std::string> ReferenceStreams(const TraceIndexTerms& terms) {
  std::map<std::string, std::string> out;
  out.emplace(TimeStream(), "");
  for (const auto& s : terms.services) out.emplace(ServiceStream(s), "");
  for (const auto& [s, o] : terms.operations) out.emplace(OperationStream(s, o), "");
  for (const auto& [s, k, v] : terms.service_tags) out.emplace(ServiceTagStream(s, k, v), "");
  for (const auto& [k, v] : terms.tags) out.emplace(TagStream(k, v), "");
  for (const DurationTerm& term : terms.coarse_durations) out.emplace(DurationStream(term), "");
  for (const auto& [term, values] : terms.durations) {
    out.emplace(DurationStream(term), EncodeDurations(values));
  }
  return out;
}

class Random {
 public:
  explicit Random(uint32_t seed) : gen_(seed) {}
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(gen_); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(Int(0, static_cast<int>(v.size()) - 1))];
  }

 private:
  std::mt19937 gen_;
};

// Names whose length prefixes take one and two bytes, and lengths 255/256 where the first byte of
// the varint no longer orders the lengths.
std::vector<std::string> Names(const std::string& base) {
  return {base,
          base + "b",
          "",
          std::string(127, 'x'),
          std::string(128, 'x'),
          std::string(255, 'y'),
          std::string(256, 'a'),
          std::string(300, 'b'),
          base + "\xff"};
}

void RandomValue(Random& r, common::AnyValue* v) {
  switch (r.Int(0, 9)) {
    case 0:
      v->set_int_value(r.Chance(0.5) ? 200 : -503);
      break;
    case 1:
      v->set_bool_value(r.Chance(0.5));
      break;
    case 2: {
      const std::vector<double> doubles = {0.25, 3.0, 1e21, std::nan(""),
                                           std::numeric_limits<double>::infinity()};
      v->set_double_value(r.Pick(doubles));
      break;
    }
    case 3:
      v->set_bytes_value(std::string("\x01\x02\xff", 3));
      break;
    case 4: {
      auto* array = v->mutable_array_value();
      array->add_values()->set_string_value("a");
      array->add_values()->set_int_value(1);
      break;
    }
    case 5: {
      auto* kv = v->mutable_kvlist_value()->add_values();
      kv->set_key("k");
      kv->mutable_value()->set_string_value("v");
      break;
    }
    case 6:
      break;  // unset
    default: {
      const std::vector<std::string> strings = {"ann",
                                                "bob",
                                                "",
                                                std::string(20, 'v'),
                                                std::string(40, 'w'),
                                                std::string(41, 'w'),
                                                std::string(130, 'z')};
      v->set_string_value(r.Pick(strings));
    }
  }
}

std::string SpanId(Random& r, uint64_t n) {
  if (r.Chance(0.1))
    return std::string(r.Pick(std::vector<std::string>{"", "ab", "abcd"})) +
           std::to_string(n);  // not 8 bytes
  return testing::SpanIdBytes(n);
}

// A random trace of up to `max_spans` spans over `services` services, as chunks to add in order.
std::vector<trace_v1::TracesData> RandomChunks(Random& r, const TraceId& id, int max_spans,
                                               int services) {
  const std::vector<std::string> service_names = Names("svc");
  const std::vector<std::string> operations = Names("op");
  const std::vector<std::string> keys = {
      "user", "code", "service.name", "excluded", std::string(41, 'k'), "k2"};
  const int spans = r.Int(1, max_spans);
  const int chunk_count = r.Int(1, std::min(spans, 5));
  std::vector<trace_v1::TracesData> chunks(static_cast<size_t>(chunk_count));
  std::vector<std::string> ids;
  for (int i = 0; i < spans; ++i) ids.push_back(SpanId(r, static_cast<uint64_t>(i + 1)));
  for (int i = 0; i < spans; ++i) {
    trace_v1::TracesData& chunk = chunks[static_cast<size_t>(r.Int(0, chunk_count - 1))];
    // Often a new resource (same or another service), sometimes one without spans too.
    if (chunk.resource_spans_size() == 0 || r.Chance(0.4)) {
      auto* rs = chunk.add_resource_spans();
      const int s = r.Int(0, services - 1);
      if (!r.Chance(0.1)) {  // else no service.name: "unknown_service"
        auto* attr = rs->mutable_resource()->add_attributes();
        attr->set_key("service.name");
        attr->mutable_value()->set_string_value(services <= static_cast<int>(service_names.size())
                                                    ? service_names[static_cast<size_t>(s)]
                                                    : absl::StrCat("s", s));
      }
      for (int a = r.Int(0, 2); a > 0; --a) {
        auto* attr = rs->mutable_resource()->add_attributes();
        attr->set_key(r.Pick(keys));
        RandomValue(r, attr->mutable_value());
      }
      if (r.Chance(0.1)) chunk.add_resource_spans();  // no spans at all
      auto* ss = rs->add_scope_spans();
      if (r.Chance(0.7)) ss->mutable_scope()->set_name(r.Chance(0.5) ? "lib" : "other");
      if (r.Chance(0.3)) ss->mutable_scope()->set_version("1.0");
      if (r.Chance(0.1)) rs->add_scope_spans();  // an empty scope
    }
    auto* rs = chunk.mutable_resource_spans(chunk.resource_spans_size() - 1);
    if (rs->scope_spans_size() == 0) rs->add_scope_spans();
    trace_v1::Span* span = rs->mutable_scope_spans(0)->add_spans();
    span->set_trace_id(std::string(id.view()));
    span->set_span_id(ids[static_cast<size_t>(i)]);
    if (i > 0 && r.Chance(0.9)) {
      // A parent of the trace (maybe added later or in another chunk), or a missing one.
      span->set_parent_span_id(r.Chance(0.85) ? ids[static_cast<size_t>(r.Int(0, spans - 1))]
                                              : testing::SpanIdBytes(999'999));
    }
    span->set_name(r.Pick(operations));
    span->set_kind(static_cast<trace_v1::Span::SpanKind>(r.Int(0, 6)));
    const std::vector<int64_t> durations = {0, 1, 3, 4, 1023, 1024, 5'000'000, 3'000'000'000};
    const int64_t start = kT0 + r.Int(-3, 3) * 60'000'000'000 + r.Int(0, 5);
    span->set_start_time_unix_nano(static_cast<uint64_t>(start));
    span->set_end_time_unix_nano(
        static_cast<uint64_t>(r.Chance(0.05) ? start - 10 : start + r.Pick(durations)));
    const int status = r.Int(0, 3);
    if (status == 1) span->mutable_status()->set_code(trace_v1::Status::STATUS_CODE_OK);
    if (status >= 2) {
      span->mutable_status()->set_code(trace_v1::Status::STATUS_CODE_ERROR);
      if (status == 3) span->mutable_status()->set_message("boom");
    }
    for (int a = r.Int(0, 4); a > 0; --a) {
      auto* attr = span->add_attributes();
      attr->set_key(r.Pick(keys));
      RandomValue(r, attr->mutable_value());
    }
  }
  return chunks;
}

// The state of a builder, read every way it can be read.
struct State {
  std::map<std::string, std::string> streams;
  TraceSummary summary;
  DependencyCounts calls;
};

std::vector<std::pair<std::string, std::string>> Items(const StoredStreams& streams) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [stream, value] : streams) out.emplace_back(stream, value);
  return out;
}

State Read(const TraceTermsBuilder& builder) {
  State s{builder.Streams(), builder.summary(), builder.calls()};
  std::vector<std::pair<std::string, std::string>> appended;
  builder.AppendStreams(&appended);
  const std::vector<std::pair<std::string, std::string>> want(s.streams.begin(), s.streams.end());
  EXPECT_EQ(appended, want);
  EXPECT_EQ(builder.stream_count(), s.streams.size());
  return s;
}

// Adds random traces chunk by chunk and checks every state and every delta.
void CheckRandomTraces(uint32_t seed, int traces, int max_spans, int services,
                       const IndexOptions& options) {
  Random r(seed);
  for (int t = 0; t < traces; ++t) {
    const TraceId id = MakeTraceId(1, static_cast<uint64_t>(t));
    const std::vector<trace_v1::TracesData> chunks = RandomChunks(r, id, max_spans, services);
    TraceTermsBuilder builder(id, options);
    std::vector<const trace_v1::TracesData*> added;
    State before = Read(builder);
    std::vector<std::string> ids;  // of the spans added
    for (const trace_v1::TracesData& chunk : chunks) {
      std::vector<std::string> chunk_ids;
      for (const auto& rs : chunk.resource_spans()) {
        for (const auto& ss : rs.scope_spans()) {
          for (const auto& span : ss.spans()) chunk_ids.push_back(span.span_id());
        }
      }
      if (r.Chance(0.2) && !(ids.empty() && chunk_ids.empty())) {
        // The chunk with a span whose ID repeats one added before or one of the chunk: refused,
        // changing nothing.
        trace_v1::TracesData bad = chunk;
        if (bad.resource_spans_size() == 0) bad.add_resource_spans()->add_scope_spans();
        auto* rs = bad.mutable_resource_spans(bad.resource_spans_size() - 1);
        if (rs->scope_spans_size() == 0) rs->add_scope_spans();
        trace_v1::Span* span = rs->mutable_scope_spans(0)->add_spans();
        span->set_span_id(ids.empty() || (!chunk_ids.empty() && r.Chance(0.5)) ? r.Pick(chunk_ids)
                                                                               : r.Pick(ids));
        const size_t bytes = builder.ApproximateBytes();
        TraceTermsBuilder::Delta delta;
        EXPECT_FALSE(builder.Add(bad, &delta));
        const State after = Read(builder);
        EXPECT_EQ(after.streams, before.streams);
        EXPECT_EQ(after.summary, before.summary);
        EXPECT_EQ(after.calls, before.calls);
        EXPECT_EQ(builder.ApproximateBytes(), bytes);
        EXPECT_TRUE(delta.streams.empty() && delta.durations.empty() && delta.calls.empty());
      }
      ids.insert(ids.end(), chunk_ids.begin(), chunk_ids.end());
      TraceTermsBuilder::Delta delta;
      using Recording = TraceTermsBuilder::Delta::Recording;
      const int mode = r.Int(0, 4);
      delta.recording = mode <= 2   ? Recording::kSets
                        : mode == 3 ? Recording::kNone
                                    : Recording::kCompact;
      const bool record = delta.recording == Recording::kSets;
      added.push_back(&chunk);
      ASSERT_TRUE(builder.Add(chunk, &delta));
      const State after = Read(builder);
      if (ids.empty()) {  // no span yet (ComputeIndexTerms requires one)
        EXPECT_TRUE(builder.empty());
        EXPECT_TRUE(after.streams.empty());
        EXPECT_TRUE(delta.streams.empty() && delta.durations.empty() && delta.calls.empty());
        continue;
      }
      const TraceIndexTerms want = ComputeIndexTerms(id, added, options);
      ASSERT_EQ(after.summary, want.summary)
          << "seed " << seed << " trace " << t << ": spans " << after.summary.span_count << "/"
          << want.summary.span_count << " start " << after.summary.start_ns << "/"
          << want.summary.start_ns << " root " << after.summary.root_service << "|"
          << after.summary.root_operation << " / " << want.summary.root_service << "|"
          << want.summary.root_operation << " orphans " << after.summary.orphan_span_count << "/"
          << want.summary.orphan_span_count << " chunk " << chunk.DebugString().substr(0, 3000);
      ASSERT_EQ(after.calls, want.calls) << "seed " << seed << " trace " << t;
      ASSERT_EQ(after.streams, ReferenceStreams(want)) << "seed " << seed << " trace " << t;
      // The segment entry: straight from the state, through a StoredStreamsBuilder, and from
      // scratch (StoredStreamsOf) are the same streams and values in the same order.
      SegmentEntry entry;
      builder.GetSegmentEntry(&entry);
      const StoredStreams direct = entry.Encode();
      StoredStreamsBuilder folded;
      bool well_formed = true;
      builder.ForEachStream([&](std::string_view stream, std::string_view value) {
        well_formed = folded.Add(stream, value) && well_formed;
      });
      EXPECT_TRUE(well_formed);
      EXPECT_EQ(Items(direct), Items(folded.Finish())) << "seed " << seed << " trace " << t;
      EXPECT_EQ(Items(direct), Items(StoredStreamsOf(want))) << "seed " << seed << " trace " << t;
      for (const auto& [term, values] : want.durations) {
        EXPECT_EQ(builder.DurationValue(term), EncodeDurations(values));
      }

      // The delta is the difference between the states around the Add.
      std::set<std::string> new_streams;
      std::set<std::string> changed_fine;
      for (const auto& [stream, value] : after.streams) {
        auto old = before.streams.find(stream);
        const bool fine = stream[1] == kFineDurationIndex;
        if (!fine && old == before.streams.end()) new_streams.insert(stream);
        if (fine && (old == before.streams.end() || old->second != value)) {
          changed_fine.insert(stream);
        }
      }
      std::set<std::string> delta_fine;
      for (const DurationTerm& term : delta.durations) delta_fine.insert(DurationStream(term));
      EXPECT_EQ(delta.streams, record ? new_streams : std::set<std::string>());
      EXPECT_EQ(delta_fine, record ? changed_fine : std::set<std::string>());
      if (delta.recording == Recording::kCompact) {
        // The same changes, each visited once, fine duration streams with their values.
        std::map<std::string, std::string> visited;
        builder.ForEachChangedStream(delta, [&](std::string_view stream, std::string_view value) {
          EXPECT_TRUE(visited.emplace(stream, value).second) << "visited twice";
        });
        std::map<std::string, std::string> want_visited;
        for (const std::string& stream : new_streams) want_visited.emplace(stream, "");
        for (const std::string& stream : changed_fine) {
          want_visited.emplace(stream, after.streams.at(stream));
        }
        EXPECT_EQ(visited, want_visited);
      } else {
        EXPECT_TRUE(delta.changed.empty());
      }
      DependencyCounts calls = before.calls;
      for (const auto& [key, count] : delta.calls) calls[key] += count;
      EXPECT_EQ(calls, after.calls);
      before = after;
    }
  }
}

TEST(TraceTermsBuilderRandomTest, EqualsTheFullComputationChunkByChunk) {
  CheckRandomTraces(1, 300, 25, 9, IndexOptions{});
}

// Large traces written without recording (as the store writes): Add folds the durations it
// keeps aside once they are many; every read still sees all of them.
TEST(TraceTermsBuilderRandomTest, LargeTracesWrittenWithoutRecording) {
  Random r(5);
  const IndexOptions options;
  for (int t = 0; t < 4; ++t) {
    const TraceId id = MakeTraceId(3, static_cast<uint64_t>(t));
    std::vector<trace_v1::TracesData> chunks;
    size_t spans = 0;
    while (spans < 1500) {  // over kMaxUnfoldedDurations / 3
      for (trace_v1::TracesData& c : RandomChunks(r, id, 800, 6)) {
        // Span IDs unique across the calls of RandomChunks.
        for (auto& rs : *c.mutable_resource_spans()) {
          for (auto& ss : *rs.mutable_scope_spans()) {
            for (auto& span : *ss.mutable_spans()) {
              span.set_span_id(SpanId(r, 1'000'000 + spans++));
              span.clear_parent_span_id();
            }
          }
        }
        chunks.push_back(std::move(c));
      }
    }
    TraceTermsBuilder builder(id, options);
    std::vector<const trace_v1::TracesData*> added;
    for (const trace_v1::TracesData& chunk : chunks) {
      TraceTermsBuilder::Delta delta;
      delta.recording = TraceTermsBuilder::Delta::Recording::kNone;
      ASSERT_TRUE(builder.Add(chunk, &delta));
      added.push_back(&chunk);
      SegmentEntry entry;
      builder.GetSegmentEntry(&entry);
      const TraceIndexTerms want = ComputeIndexTerms(id, added, options);
      EXPECT_EQ(Items(entry.Encode()), Items(StoredStreamsOf(want)));
    }
    const TraceIndexTerms want = ComputeIndexTerms(id, added, options);
    EXPECT_EQ(Read(builder).streams, ReferenceStreams(want)) << "trace " << t;
  }
}

TEST(TraceTermsBuilderRandomTest, ShortLimitAndExcludedKeys) {
  IndexOptions options;
  options.max_value_length = 40;
  options.exclude_keys = {"excluded", "code"};
  CheckRandomTraces(2, 200, 20, 9, options);
}

TEST(TraceTermsBuilderRandomTest, MoreThan64Services) {
  // Services at and beyond index 64 keep their tags in a separate set.
  CheckRandomTraces(3, 20, 400, 100, IndexOptions{});
}

TEST(TraceTermsBuilderTest, DurationValueOfAbsentTermsIsEmpty) {
  const TraceId id = MakeTraceId(0, 1);
  IndexOptions options;
  TraceTermsBuilder builder(id, options);
  TraceTermsBuilder::Delta delta;
  ASSERT_TRUE(builder.Add(
      testing::BuildChunk(id, {{.service = "s", .name = "o", .duration_ns = 1000}}), &delta));
  const int fine = FineDurationClass(1000);
  const std::string none = EncodeDurations({});
  EXPECT_EQ(builder.DurationValue({DurationScope::kOperation, "s", "o", fine, true}),
            EncodeDurations({1000}));
  EXPECT_EQ(builder.DurationValue({DurationScope::kService, "s", "", fine, true}),
            EncodeDurations({1000}));
  EXPECT_EQ(builder.DurationValue({DurationScope::kAny, "", "", fine, true}),
            EncodeDurations({1000}));
  EXPECT_EQ(builder.DurationValue({DurationScope::kAny, "", "", fine, false}), none);
  EXPECT_EQ(builder.DurationValue({DurationScope::kAny, "s", "", fine, true}), none);
  EXPECT_EQ(builder.DurationValue({DurationScope::kService, "s", "o", fine, true}), none);
  EXPECT_EQ(builder.DurationValue({DurationScope::kService, "t", "", fine, true}), none);
  EXPECT_EQ(builder.DurationValue({DurationScope::kOperation, "s", "p", fine, true}), none);
  EXPECT_EQ(builder.DurationValue({DurationScope::kAny, "", "", fine + 1, true}), none);
  EXPECT_EQ(builder.DurationValue({DurationScope::kAny, "", "", fine + 256, true}), none);
  EXPECT_EQ(builder.DurationValue({DurationScope::kAny, "", "", -1, true}), none);
}

TEST(TraceTermsBuilderTest, ManyDurationsOfOneTerm) {
  // Beyond the small sorted vector of a term's durations.
  const TraceId id = MakeTraceId(0, 1);
  IndexOptions options;
  TraceTermsBuilder builder(id, options);
  std::vector<int64_t> want;
  for (int chunk = 0; chunk < 4; ++chunk) {
    std::vector<testing::SpanSpec> spans;
    for (int i = 0; i < 50; ++i) {
      const int64_t d = 1'000'000 + ((i * 37 + chunk * 11) % 200) * 1000;  // repeats too
      spans.push_back({.span_id = static_cast<uint64_t>(chunk * 100 + i + 1), .duration_ns = d});
      want.push_back(d);
    }
    TraceTermsBuilder::Delta delta;
    ASSERT_TRUE(builder.Add(testing::BuildChunk(id, spans), &delta));
  }
  std::sort(want.begin(), want.end());
  want.erase(std::unique(want.begin(), want.end()), want.end());
  ASSERT_GT(want.size(), 64u);
  std::vector<int64_t> got;
  std::vector<int64_t> values;
  builder.ForEachStream([&](std::string_view stream, std::string_view value) {
    if (stream.size() > 2 && stream[1] == kFineDurationIndex && stream[2] == '*') {
      ASSERT_TRUE(DecodeDurations(value, &values));
      got.insert(got.end(), values.begin(), values.end());
    }
  });
  EXPECT_EQ(got, want);
}

TEST(TraceTermsBuilderTest, StreamsReadWhileVisitingAnotherBuilder) {
  Random r(7);
  const IndexOptions options;
  const TraceId a_id = MakeTraceId(2, 1);
  const TraceId b_id = MakeTraceId(2, 2);
  TraceTermsBuilder a(a_id, options);
  TraceTermsBuilder b(b_id, options);
  TraceTermsBuilder::Delta delta;
  for (const auto& chunk : RandomChunks(r, a_id, 20, 4)) EXPECT_TRUE(a.Add(chunk, &delta));
  for (const auto& chunk : RandomChunks(r, b_id, 20, 4)) EXPECT_TRUE(b.Add(chunk, &delta));
  const std::map<std::string, std::string> want_a = a.Streams();
  const std::map<std::string, std::string> want_b = b.Streams();
  std::map<std::string, std::string> got_a;
  a.ForEachStream([&](std::string_view stream, std::string_view value) {
    got_a.emplace(stream, value);
    EXPECT_EQ(b.Streams(), want_b);  // a nested read does not disturb the outer one
  });
  EXPECT_EQ(got_a, want_a);
}

TEST(IndexValueViewTest, EqualsIndexValueString) {
  Random r(7);
  std::string scratch = "stale";
  for (int i = 0; i < 200; ++i) {
    common::AnyValue v;
    RandomValue(r, &v);
    EXPECT_EQ(IndexValueView(v, &scratch), IndexValueString(v));
  }
  common::AnyValue v;
  v.set_int_value(std::numeric_limits<int64_t>::min());
  EXPECT_EQ(IndexValueView(v, &scratch), "-9223372036854775808");
}

TEST(LengthPrefixedOrderTest, OrdersAsTheEncodings) {
  std::vector<std::string> values;
  for (size_t n : {0, 1, 2, 127, 128, 129, 255, 256, 257, 16383, 16384}) {
    values.push_back(std::string(n, 'a'));
    values.push_back(std::string(n, 'b'));
  }
  for (const std::string& a : values) {
    for (const std::string& b : values) {
      std::string ea;
      std::string eb;
      PutLengthPrefixed(&ea, a);
      PutLengthPrefixed(&eb, b);
      const int want = ea < eb ? -1 : (ea == eb ? 0 : 1);
      EXPECT_EQ(terms_internal::CompareLengthPrefixed(a, b), want) << a.size() << " " << b.size();
      std::string written(terms_internal::LengthPrefixedSize(a), '\0');
      EXPECT_EQ(terms_internal::WriteLengthPrefixed(written.data(), a),
                written.data() + written.size());
      EXPECT_EQ(written, ea);
    }
  }
}

}  // namespace
}  // namespace tailtrace::storage
