// Golden comparisons: the JsonBuffer rendering of Jaeger traces must write exactly the bytes the
// rapidjson-based rendering wrote (tests/query/jaeger_json_reference.h), for realistic traces and
// for every awkward value (all byte values in strings, every attribute type, non-finite and
// extreme doubles, odd ID lengths, duplicated and reordered resources, links, events).

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "query/jaeger_json.h"
#include "rapidjson/document.h"
#include "tests/query/jaeger_json_reference.h"

namespace tailtrace::query {
namespace {

namespace common = opentelemetry::proto::common::v1;
namespace trace_v1 = opentelemetry::proto::trace::v1;

// Deterministic generator of traces with random structure and values.
class TraceGen {
 public:
  explicit TraceGen(uint32_t seed) : rng_(seed) {}

  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(int percent) { return Int(0, 99) < percent; }

  // Mostly printable text; sometimes any byte (controls, quotes, backslashes, 0x7F, UTF-8
  // sequences, invalid UTF-8), with lengths around the 8-byte blocks of the escaper.
  std::string Text() {
    const int len = Chance(10) ? Int(0, 300) : Int(0, 24);
    std::string s;
    const int mode = Int(0, 3);
    for (int i = 0; i < len; ++i) {
      if (mode == 0) {
        s.push_back(static_cast<char>(Int(0, 255)));
      } else if (mode == 1 && Chance(20)) {
        static constexpr std::string_view kSpecial[] = {"\"",   "\\", "\n", "\t", "\x01", "\x1f",
                                                        "\x7f", "é",  "€",  "😀",  "\xff", "/"};
        s.append(kSpecial[Int(0, 11)]);
      } else {
        s.push_back(static_cast<char>(Int(0x20, 0x7e)));
      }
    }
    return s;
  }

  std::string Id(size_t bytes) {
    std::string s;
    for (size_t i = 0; i < bytes; ++i) s.push_back(static_cast<char>(Int(0, 255)));
    return s;
  }

  double Double() {
    static constexpr double kSpecial[] = {0.0,
                                          -0.0,
                                          1.0,
                                          0.1,
                                          1e21,
                                          1e-7,
                                          123456789.125,
                                          std::numeric_limits<double>::max(),
                                          std::numeric_limits<double>::min(),
                                          std::numeric_limits<double>::denorm_min(),
                                          std::numeric_limits<double>::infinity(),
                                          -std::numeric_limits<double>::infinity(),
                                          std::numeric_limits<double>::quiet_NaN()};
    if (Chance(50)) return kSpecial[Int(0, 12)];
    return std::uniform_real_distribution<double>(-1e6, 1e6)(rng_) * std::pow(10.0, Int(-30, 30));
  }

  void Value(common::AnyValue* v, int depth) {
    switch (Int(0, depth > 1 ? 5 : 7)) {
      case 0:
        v->set_string_value(Text());
        break;
      case 1:
        v->set_bool_value(Chance(50));
        break;
      case 2:
        v->set_int_value(Chance(20) ? std::numeric_limits<int64_t>::min() + Int(0, 1)
                                    : static_cast<int64_t>(rng_()) - (1ll << 31));
        break;
      case 3:
        v->set_double_value(Double());
        break;
      case 4:
        v->set_bytes_value(Id(Int(0, 20)));
        break;
      case 5:
        break;  // unset
      case 6:
        for (int i = Int(0, 3); i > 0; --i)
          Value(v->mutable_array_value()->add_values(), depth + 1);
        break;
      default:
        for (int i = Int(0, 3); i > 0; --i) {
          auto* kv = v->mutable_kvlist_value()->add_values();
          kv->set_key(Text());
          Value(kv->mutable_value(), depth + 1);
        }
        break;
    }
  }

  void Attributes(google::protobuf::RepeatedPtrField<common::KeyValue>* attrs, int n) {
    for (int i = 0; i < n; ++i) {
      auto* kv = attrs->Add();
      kv->set_key(Chance(70) ? "k" + std::to_string(Int(0, 5)) : Text());
      Value(kv->mutable_value(), 0);
    }
  }

  storage::StoredTrace Trace() {
    storage::StoredTrace t;
    t.trace_id = TraceId::FromBytes(Id(16));
    t.sampling_policy = Chance(50) ? Text() : "";
    t.sample_rate = Double();
    std::vector<std::string> span_ids;
    const int resources = Int(0, 6);
    for (int r = 0; r < resources; ++r) {
      auto* rs = t.data.add_resource_spans();
      auto* attrs = rs->mutable_resource()->mutable_attributes();
      // Few distinct resources so that some repeat, sometimes with attributes reordered.
      const int service = Int(0, 2);
      auto add = [&](const std::string& k, const std::string& v) {
        auto* kv = attrs->Add();
        kv->set_key(k);
        kv->mutable_value()->set_string_value(v);
      };
      if (service != 0) add("service.name", "svc\"" + std::to_string(service));
      if (Chance(50)) {
        add("host.name", "h1");
        add("os.type", "linux");
      } else {
        add("os.type", "linux");
        add("host.name", "h1");
      }
      if (Chance(20)) Attributes(attrs, Int(1, 3));
      for (int s = Int(0, 3); s > 0; --s) {
        auto* ss = rs->add_scope_spans();
        if (Chance(60)) {
          ss->mutable_scope()->set_name(Chance(80) ? "io.opentelemetry.http" : "");
          if (Chance(50)) ss->mutable_scope()->set_version(Text());
        }
        for (int n = Int(0, 8); n > 0; --n) Span(ss->add_spans(), t, span_ids);
      }
    }
    return t;
  }

 private:
  void Span(trace_v1::Span* s, const storage::StoredTrace& t, std::vector<std::string>& ids) {
    s->set_trace_id(std::string(t.trace_id.view()));
    s->set_span_id(Chance(95) ? Id(8) : Id(Int(0, 12)));
    if (!ids.empty() && Chance(70)) {
      s->set_parent_span_id(ids[Int(0, static_cast<int>(ids.size()) - 1)]);
    } else if (Chance(30)) {
      s->set_parent_span_id(Id(8));  // a parent outside the trace
    }
    ids.push_back(s->span_id());
    s->set_name(Text());
    s->set_kind(static_cast<trace_v1::Span::SpanKind>(Int(0, 7)));
    const uint64_t start = 1'700'000'000'000'000'000ull + static_cast<uint64_t>(Int(0, 50)) * 999;
    s->set_start_time_unix_nano(start);
    s->set_end_time_unix_nano(Chance(90) ? start + static_cast<uint64_t>(Int(0, 1 << 30)) : 0);
    s->set_flags(static_cast<uint32_t>(Int(0, 1023)));
    if (Chance(20)) s->set_trace_state(Text());
    const int status = Int(0, 3);
    if (status > 0) {
      s->mutable_status()->set_code(static_cast<trace_v1::Status::StatusCode>(status));
      if (Chance(50)) s->mutable_status()->set_message(Text());
    }
    Attributes(s->mutable_attributes(), Int(0, 12));
    for (int i = Chance(30) ? Int(1, 3) : 0; i > 0; --i) {
      auto* e = s->add_events();
      e->set_time_unix_nano(start + static_cast<uint64_t>(Int(0, 100000)));
      if (Chance(70)) e->set_name(Text());
      Attributes(e->mutable_attributes(), Int(0, 3));
    }
    for (int i = Chance(20) ? Int(1, 2) : 0; i > 0; --i) {
      auto* l = s->add_links();
      if (Chance(70)) l->set_trace_id(Chance(90) ? Id(16) : Id(Int(1, 20)));
      l->set_span_id(Id(8));
    }
  }

  std::mt19937 rng_;
};

TEST(JaegerJsonGoldenTest, RandomTracesMatchTheRapidjsonRenderingByteForByte) {
  TraceGen gen(12345);
  size_t bytes = 0;
  for (int i = 0; i < 2000; ++i) {
    const storage::StoredTrace t = gen.Trace();
    const std::string want = reference::RenderJaegerTrace(t);
    const std::string got = RenderJaegerTrace(t);
    ASSERT_EQ(got, want) << "trace " << i;
    bytes += got.size();
  }
  EXPECT_GT(bytes, 1'000'000u);  // the generator did produce substantial traces
}

TEST(JaegerJsonGoldenTest, OutputIsValidJsonWithTheSameContent) {
  TraceGen gen(7);
  for (int i = 0; i < 50; ++i) {
    const std::string json = RenderJaegerTrace(gen.Trace());
    rapidjson::Document doc;
    doc.Parse(json.data(), json.size());
    ASSERT_FALSE(doc.HasParseError()) << json;
    ASSERT_TRUE(doc.IsObject());
    EXPECT_TRUE(doc["spans"].IsArray());
    EXPECT_TRUE(doc["processes"].IsObject());
    EXPECT_TRUE(doc["warnings"].IsNull());
  }
}

TEST(JaegerJsonGoldenTest, EveryControlAndSpecialCharacterIsEscapedLikeRapidjson) {
  storage::StoredTrace t;
  t.trace_id = TraceId::FromBytes(std::string(16, '\x11'));
  auto* span = t.data.add_resource_spans()->add_scope_spans()->add_spans();
  span->set_span_id(std::string(8, '\x22'));
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  span->set_name(all);
  auto* kv = span->add_attributes();
  kv->set_key(all);
  kv->mutable_value()->set_string_value(all + all);
  const std::string got = RenderJaegerTrace(t);
  EXPECT_EQ(got, reference::RenderJaegerTrace(t));
  EXPECT_NE(got.find(R"(\u0000\u0001)"), std::string::npos);
  EXPECT_NE(got.find(R"(\b\t\n\u000B\f\r)"), std::string::npos);
  EXPECT_NE(got.find(R"( !\"#)"), std::string::npos);
  EXPECT_NE(got.find(R"([\\])"), std::string::npos);
  EXPECT_NE(got.find("~\x7f\x80"), std::string::npos);  // DEL and non-ASCII bytes are copied
}

TEST(JaegerJsonGoldenTest, WriterLevelOutputMatchesTheReference) {
  TraceGen gen(99);
  const storage::StoredTrace a = gen.Trace();
  const storage::StoredTrace b = gen.Trace();
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartArray();
  WriteJaegerTrace(a, w);
  WriteJaegerTrace(b, w);
  w.EndArray();
  ASSERT_TRUE(w.IsComplete());
  EXPECT_EQ(std::string(buf.GetString(), buf.GetSize()),
            "[" + reference::RenderJaegerTrace(a) + "," + reference::RenderJaegerTrace(b) + "]");
}

TEST(JaegerJsonGoldenTest, AppendWritesNoSeparator) {
  TraceGen gen(5);
  const storage::StoredTrace a = gen.Trace();
  JsonBuffer b;
  b.Raw("[");
  AppendJaegerTrace(a, b);
  b.Char(',');
  AppendJaegerTrace(a, b);
  b.Char(',');
  b.Close(']');
  const std::string one = reference::RenderJaegerTrace(a);
  EXPECT_EQ(b.Release(), "[" + one + "," + one + "]");
}

TEST(JaegerJsonGoldenTest, SizeEstimateCoversPlainTextTracesWithoutGrossExcess) {
  // A realistic trace: printable attribute values, every span with a parent but the root.
  storage::StoredTrace t;
  t.trace_id = TraceId::FromBytes(std::string(16, '\x07'));
  t.sampling_policy = "keep-errors";
  for (int r = 0; r < 5; ++r) {
    auto* rs = t.data.add_resource_spans();
    for (int a = 0; a < 9; ++a) {
      auto* kv = rs->mutable_resource()->add_attributes();
      kv->set_key(a == 0 ? "service.name" : "resource.attribute." + std::to_string(a));
      kv->mutable_value()->set_string_value("service-value-" + std::to_string(r));
    }
    auto* ss = rs->add_scope_spans();
    ss->mutable_scope()->set_name("io.opentelemetry.instrumentation");
    for (int n = 0; n < 10; ++n) {
      auto* span = ss->add_spans();
      span->set_span_id(std::string(7, '\x01') + static_cast<char>(r * 10 + n + 1));
      if (r + n > 0) span->set_parent_span_id(std::string(7, '\x01') + '\x01');
      span->set_name("GET /api/v1/resource/{id}");
      span->set_kind(trace_v1::Span::SPAN_KIND_SERVER);
      span->mutable_status()->set_code(trace_v1::Status::STATUS_CODE_ERROR);
      span->set_start_time_unix_nano(1'700'000'000'000'000'000ull + n);
      span->set_end_time_unix_nano(1'700'000'000'100'000'000ull);
      for (int a = 0; a < 10; ++a) {
        auto* kv = span->add_attributes();
        kv->set_key("http.attribute." + std::to_string(a));
        if (a % 2 == 0) {
          kv->mutable_value()->set_string_value(std::string(a * 20, 'v'));
        } else {
          kv->mutable_value()->set_int_value(200 + a);
        }
      }
    }
  }
  const size_t actual = RenderJaegerTrace(t).size();
  const size_t estimate = EstimateJaegerTraceBytes(t);
  EXPECT_GE(estimate, actual);
  EXPECT_LE(estimate, actual * 2);
}

}  // namespace
}  // namespace tailtrace::query
