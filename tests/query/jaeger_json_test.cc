#include "query/jaeger_json.h"

#include <cmath>
#include <limits>
#include <string>

#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace tailtrace::query {
namespace {

namespace common = opentelemetry::proto::common::v1;
namespace trace_v1 = opentelemetry::proto::trace::v1;

constexpr uint64_t kBaseNs = 1'700'000'000'123'456'789ull;

std::string Bytes(std::initializer_list<uint8_t> b) { return std::string(b.begin(), b.end()); }

const std::string kTraceId = Bytes({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
const std::string kTraceHex = "0102030405060708090a0b0c0d0e0f10";
const std::string kOtherTraceId = Bytes({0xaa, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbb});
const std::string kRootId = Bytes({0, 0, 0, 0, 0, 0, 0, 1});
const std::string kClientId = Bytes({0, 0, 0, 0, 0, 0, 0, 2});
const std::string kInternalId = Bytes({0, 0, 0, 0, 0, 0, 0, 3});
const std::string kOrphanId = Bytes({0, 0, 0, 0, 0, 0, 0, 4});
const std::string kMissingParentId = Bytes({0, 0, 0, 0, 0, 0, 0, 9});
const std::string kHostProcessId = Bytes({0, 0, 0, 0, 0, 0, 0, 5});
const std::string kLinkedSpanId = Bytes({0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1});

void AddString(google::protobuf::RepeatedPtrField<common::KeyValue>* attrs, const std::string& k,
               const std::string& v) {
  auto* kv = attrs->Add();
  kv->set_key(k);
  kv->mutable_value()->set_string_value(v);
}

trace_v1::Span* AddSpan(trace_v1::ScopeSpans* ss, const std::string& id, const std::string& parent,
                        const std::string& name, uint64_t start_ns, uint64_t end_ns) {
  trace_v1::Span* s = ss->add_spans();
  s->set_trace_id(kTraceId);
  s->set_span_id(id);
  s->set_parent_span_id(parent);
  s->set_name(name);
  s->set_start_time_unix_nano(start_ns);
  s->set_end_time_unix_nano(end_ns);
  return s;
}

// A trace over three services/resources:
//   resource 0 (backend):              client span, ERROR, link, starts after root
//   resource 1 (frontend, h1, linux):  root server span with every attribute type, event, scope
//   resource 2 (frontend, linux, h1):  same resource as 1 with attributes reordered: internal
//                                      span + an orphan (parent not in the trace)
//   resource 3 (frontend, h2):         a different process, unspecified kind
storage::StoredTrace MakeTrace() {
  storage::StoredTrace t;
  t.trace_id = TraceId::FromBytes(kTraceId);
  t.sampling_policy = "slow-traces";
  t.sample_rate = 100.0;

  {  // resource 0
    auto* rs = t.data.add_resource_spans();
    AddString(rs->mutable_resource()->mutable_attributes(), "service.name", "backend");
    AddString(rs->mutable_resource()->mutable_attributes(), "host.name", "b1");
    auto* ss = rs->add_scope_spans();
    auto* s =
        AddSpan(ss, kClientId, kRootId, "GET /stock", kBaseNs + 1'000'000, kBaseNs + 3'000'000);
    s->set_kind(trace_v1::Span::SPAN_KIND_CLIENT);
    s->mutable_status()->set_code(trace_v1::Status::STATUS_CODE_ERROR);
    s->mutable_status()->set_message("connection refused");
    auto* link = s->add_links();
    link->set_trace_id(kOtherTraceId);
    link->set_span_id(kLinkedSpanId);
  }
  {  // resource 1
    auto* rs = t.data.add_resource_spans();
    auto* attrs = rs->mutable_resource()->mutable_attributes();
    AddString(attrs, "service.name", "frontend");
    AddString(attrs, "os.type", "linux");
    AddString(attrs, "host.name", "h1");
    auto* ss = rs->add_scope_spans();
    ss->mutable_scope()->set_name("io.opentelemetry.http");
    ss->mutable_scope()->set_version("1.2.3");
    auto* s = AddSpan(ss, kRootId, "", "checkout", kBaseNs, kBaseNs + 2'500'999);
    s->set_kind(trace_v1::Span::SPAN_KIND_SERVER);
    s->set_trace_state("vendor=abc");
    s->set_flags(0x301);
    s->mutable_status()->set_code(trace_v1::Status::STATUS_CODE_OK);
    auto* sa = s->mutable_attributes();
    AddString(sa, "http.method", "POST");
    auto* kv = sa->Add();
    kv->set_key("cache.hit");
    kv->mutable_value()->set_bool_value(false);
    kv = sa->Add();
    kv->set_key("http.status_code");
    kv->mutable_value()->set_int_value(-9'007'199'254'740'993);
    kv = sa->Add();
    kv->set_key("ratio");
    kv->mutable_value()->set_double_value(0.25);
    kv = sa->Add();
    kv->set_key("payload");
    kv->mutable_value()->set_bytes_value(Bytes({0xff, 0x00, 0x41}));
    kv = sa->Add();
    kv->set_key("tags");
    auto* arr = kv->mutable_value()->mutable_array_value();
    arr->add_values()->set_string_value("a");
    arr->add_values()->set_int_value(1);
    arr->add_values()->set_bool_value(true);
    kv = sa->Add();
    kv->set_key("map");
    auto* kvl = kv->mutable_value()->mutable_kvlist_value();
    auto* inner = kvl->add_values();
    inner->set_key("k");
    inner->mutable_value()->set_string_value("v");
    inner = kvl->add_values();
    inner->set_key("n");
    inner->mutable_value()->set_double_value(1.5);
    kv = sa->Add();
    kv->set_key("empty");
    kv = sa->Add();
    kv->set_key("not_a_number");
    kv->mutable_value()->set_double_value(std::numeric_limits<double>::quiet_NaN());
    auto* ev = s->add_events();
    ev->set_time_unix_nano(kBaseNs + 1'500'000);
    ev->set_name("cache miss");
    auto* eattr = ev->add_attributes();
    eattr->set_key("cache.key");
    eattr->mutable_value()->set_string_value("sku-1");
    eattr = ev->add_attributes();
    eattr->set_key("attempt");
    eattr->mutable_value()->set_int_value(2);
  }
  {  // resource 2: same as resource 1, attributes in another order
    auto* rs = t.data.add_resource_spans();
    auto* attrs = rs->mutable_resource()->mutable_attributes();
    AddString(attrs, "host.name", "h1");
    AddString(attrs, "service.name", "frontend");
    AddString(attrs, "os.type", "linux");
    auto* ss = rs->add_scope_spans();
    auto* s = AddSpan(ss, kInternalId, kRootId, "price", kBaseNs + 500'000, kBaseNs + 600'000);
    s->set_kind(trace_v1::Span::SPAN_KIND_INTERNAL);
    AddSpan(ss, kOrphanId, kMissingParentId, "orphan", kBaseNs + 4'000'000, kBaseNs + 4'000'500);
  }
  {  // resource 3
    auto* rs = t.data.add_resource_spans();
    AddString(rs->mutable_resource()->mutable_attributes(), "service.name", "frontend");
    AddString(rs->mutable_resource()->mutable_attributes(), "host.name", "h2");
    auto* ss = rs->add_scope_spans();
    AddSpan(ss, kHostProcessId, kRootId, "render", kBaseNs + 200'000, kBaseNs + 100'000);
  }
  return t;
}

class JaegerJsonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    json_ = RenderJaegerTrace(MakeTrace());
    doc_.Parse(json_.c_str(), json_.size());
    ASSERT_FALSE(doc_.HasParseError()) << json_;
    ASSERT_TRUE(doc_.IsObject());
  }

  const rapidjson::Value& Span(const std::string& id_hex) {
    for (const auto& s : doc_["spans"].GetArray()) {
      if (s["spanID"].GetString() == id_hex) return s;
    }
    ADD_FAILURE() << "no span " << id_hex;
    static rapidjson::Value null;
    return null;
  }

  // The tag with that key, or nullptr; fails the test if the key occurs twice.
  static const rapidjson::Value* Tag(const rapidjson::Value& tags, const std::string& key) {
    const rapidjson::Value* found = nullptr;
    for (const auto& t : tags.GetArray()) {
      if (t["key"].GetString() == key) {
        EXPECT_EQ(found, nullptr) << "duplicate tag " << key;
        found = &t;
      }
    }
    return found;
  }

  std::string json_;
  rapidjson::Document doc_;
};

TEST_F(JaegerJsonTest, TraceShape) {
  EXPECT_EQ(std::string(doc_["traceID"].GetString()), kTraceHex);
  ASSERT_TRUE(doc_["warnings"].IsNull());
  ASSERT_TRUE(doc_["spans"].IsArray());
  EXPECT_EQ(doc_["spans"].Size(), 5u);
  for (const auto& s : doc_["spans"].GetArray()) {
    EXPECT_EQ(std::string(s["traceID"].GetString()), kTraceHex);
    EXPECT_TRUE(s["warnings"].IsNull());
    EXPECT_TRUE(s["references"].IsArray());
    EXPECT_TRUE(s["tags"].IsArray());
    EXPECT_TRUE(s["logs"].IsArray());
    EXPECT_TRUE(s["startTime"].IsUint64());
    EXPECT_TRUE(s["duration"].IsUint64());
    EXPECT_TRUE(s["flags"].IsUint());
    for (const auto& t : s["tags"].GetArray()) {
      EXPECT_TRUE(t["key"].IsString());
      EXPECT_TRUE(t["type"].IsString());
      EXPECT_TRUE(t.HasMember("value"));
    }
  }
}

TEST_F(JaegerJsonTest, SpansSortedByStartTime) {
  std::vector<std::string> order;
  for (const auto& s : doc_["spans"].GetArray()) order.push_back(s["operationName"].GetString());
  EXPECT_EQ(order,
            (std::vector<std::string>{"checkout", "render", "price", "GET /stock", "orphan"}));
}

TEST_F(JaegerJsonTest, MicrosecondsTruncatedFromNanos) {
  const auto& root = Span("0000000000000001");
  EXPECT_EQ(root["startTime"].GetUint64(), kBaseNs / 1000);
  EXPECT_EQ(root["startTime"].GetUint64(), 1'700'000'000'123'456ull);
  EXPECT_EQ(root["duration"].GetUint64(), 2500u);  // 2'500'999 ns
  const auto& client = Span("0000000000000002");
  EXPECT_EQ(client["startTime"].GetUint64(), (kBaseNs + 1'000'000) / 1000);
  EXPECT_EQ(client["duration"].GetUint64(), 2000u);
  // An end before the start is a zero duration, not a huge unsigned number.
  EXPECT_EQ(Span("0000000000000005")["duration"].GetUint64(), 0u);
  const auto& logs = root["logs"];
  ASSERT_EQ(logs.Size(), 1u);
  EXPECT_EQ(logs[0]["timestamp"].GetUint64(), (kBaseNs + 1'500'000) / 1000);
}

TEST_F(JaegerJsonTest, ProcessesDeduplicatedByServiceAndAttributes) {
  const auto& procs = doc_["processes"];
  ASSERT_TRUE(procs.IsObject());
  ASSERT_EQ(procs.MemberCount(), 3u);
  EXPECT_EQ(std::string(procs["p1"]["serviceName"].GetString()), "backend");
  EXPECT_EQ(std::string(procs["p2"]["serviceName"].GetString()), "frontend");
  EXPECT_EQ(std::string(procs["p3"]["serviceName"].GetString()), "frontend");
  // service.name is not repeated as a tag; the others are sorted by key.
  const auto& p2_tags = procs["p2"]["tags"];
  ASSERT_EQ(p2_tags.Size(), 2u);
  EXPECT_EQ(std::string(p2_tags[0]["key"].GetString()), "host.name");
  EXPECT_EQ(std::string(p2_tags[0]["value"].GetString()), "h1");
  EXPECT_EQ(std::string(p2_tags[0]["type"].GetString()), "string");
  EXPECT_EQ(std::string(p2_tags[1]["key"].GetString()), "os.type");
  EXPECT_EQ(std::string(procs["p3"]["tags"][0]["value"].GetString()), "h2");

  EXPECT_EQ(std::string(Span("0000000000000002")["processID"].GetString()), "p1");
  EXPECT_EQ(std::string(Span("0000000000000001")["processID"].GetString()), "p2");
  EXPECT_EQ(std::string(Span("0000000000000003")["processID"].GetString()), "p2");
  EXPECT_EQ(std::string(Span("0000000000000004")["processID"].GetString()), "p2");
  EXPECT_EQ(std::string(Span("0000000000000005")["processID"].GetString()), "p3");
}

TEST_F(JaegerJsonTest, ReferencesForParentAndLinks) {
  EXPECT_EQ(Span("0000000000000001")["references"].Size(), 0u);
  const auto& refs = Span("0000000000000002")["references"];
  ASSERT_EQ(refs.Size(), 2u);
  EXPECT_EQ(std::string(refs[0]["refType"].GetString()), "CHILD_OF");
  EXPECT_EQ(std::string(refs[0]["traceID"].GetString()), kTraceHex);
  EXPECT_EQ(std::string(refs[0]["spanID"].GetString()), "0000000000000001");
  EXPECT_EQ(std::string(refs[1]["refType"].GetString()), "FOLLOWS_FROM");
  EXPECT_EQ(std::string(refs[1]["traceID"].GetString()), "aa0000000000000000000000000000bb");
  EXPECT_EQ(std::string(refs[1]["spanID"].GetString()), "deadbeef00000001");
}

TEST_F(JaegerJsonTest, AttributeTypes) {
  const auto& tags = Span("0000000000000001")["tags"];
  auto check = [&](const std::string& key, const std::string& type) -> const rapidjson::Value& {
    const rapidjson::Value* t = Tag(tags, key);
    EXPECT_NE(t, nullptr) << key;
    static rapidjson::Value null;
    if (t == nullptr) return null;
    EXPECT_EQ(std::string((*t)["type"].GetString()), type) << key;
    return (*t)["value"];
  };
  EXPECT_EQ(std::string(check("http.method", "string").GetString()), "POST");
  const auto& b = check("cache.hit", "bool");
  EXPECT_TRUE(b.IsBool() && !b.GetBool());
  const auto& i = check("http.status_code", "int64");
  EXPECT_TRUE(i.IsInt64());
  EXPECT_EQ(i.GetInt64(), -9'007'199'254'740'993);
  const auto& d = check("ratio", "float64");
  EXPECT_TRUE(d.IsDouble());
  EXPECT_DOUBLE_EQ(d.GetDouble(), 0.25);
  EXPECT_EQ(std::string(check("payload", "binary").GetString()), "/wBB");
  EXPECT_EQ(std::string(check("tags", "string").GetString()), R"(["a",1,true])");
  EXPECT_EQ(std::string(check("map", "string").GetString()), R"({"k":"v","n":1.5})");
  EXPECT_EQ(std::string(check("empty", "string").GetString()), "");
  EXPECT_EQ(std::string(check("not_a_number", "string").GetString()), "NaN");
}

TEST_F(JaegerJsonTest, DerivedSpanTags) {
  const auto& root = Span("0000000000000001")["tags"];
  ASSERT_NE(Tag(root, "span.kind"), nullptr);
  EXPECT_EQ(std::string((*Tag(root, "span.kind"))["value"].GetString()), "server");
  EXPECT_EQ(std::string((*Tag(root, "otel.status_code"))["value"].GetString()), "OK");
  EXPECT_EQ(Tag(root, "error"), nullptr);
  EXPECT_EQ(Tag(root, "otel.status_description"), nullptr);
  EXPECT_EQ(std::string((*Tag(root, "otel.scope.name"))["value"].GetString()),
            "io.opentelemetry.http");
  EXPECT_EQ(std::string((*Tag(root, "otel.scope.version"))["value"].GetString()), "1.2.3");
  EXPECT_EQ(std::string((*Tag(root, "w3c.tracestate"))["value"].GetString()), "vendor=abc");
  EXPECT_EQ(Span("0000000000000001")["flags"].GetUint(), 1u);  // trace flags byte only

  const auto& client = Span("0000000000000002")["tags"];
  EXPECT_EQ(std::string((*Tag(client, "span.kind"))["value"].GetString()), "client");
  EXPECT_EQ(std::string((*Tag(client, "otel.status_code"))["value"].GetString()), "ERROR");
  const rapidjson::Value* error = Tag(client, "error");
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(std::string((*error)["type"].GetString()), "bool");
  EXPECT_TRUE((*error)["value"].IsTrue());
  EXPECT_EQ(std::string((*Tag(client, "otel.status_description"))["value"].GetString()),
            "connection refused");
  EXPECT_EQ(Tag(client, "otel.scope.name"), nullptr);
  EXPECT_EQ(Tag(client, "w3c.tracestate"), nullptr);

  EXPECT_EQ(std::string((*Tag(Span("0000000000000003")["tags"], "span.kind"))["value"].GetString()),
            "internal");
  // Unspecified kind and unset status add nothing.
  const auto& render = Span("0000000000000005")["tags"];
  EXPECT_EQ(Tag(render, "span.kind"), nullptr);
  EXPECT_EQ(Tag(render, "otel.status_code"), nullptr);
}

TEST_F(JaegerJsonTest, SamplingTagsOnRootAndOrphanSpansOnly) {
  for (const std::string id : {"0000000000000001", "0000000000000004"}) {
    const auto& tags = Span(id)["tags"];
    const rapidjson::Value* policy = Tag(tags, "sampling.policy");
    ASSERT_NE(policy, nullptr) << id;
    EXPECT_EQ(std::string((*policy)["value"].GetString()), "slow-traces");
    const rapidjson::Value* rate = Tag(tags, "sampling.rate");
    ASSERT_NE(rate, nullptr) << id;
    EXPECT_EQ(std::string((*rate)["type"].GetString()), "float64");
    EXPECT_DOUBLE_EQ((*rate)["value"].GetDouble(), 100.0);
  }
  for (const std::string id : {"0000000000000002", "0000000000000003", "0000000000000005"}) {
    EXPECT_EQ(Tag(Span(id)["tags"], "sampling.rate"), nullptr) << id;
    EXPECT_EQ(Tag(Span(id)["tags"], "sampling.policy"), nullptr) << id;
  }
}

TEST_F(JaegerJsonTest, EventsBecomeLogs) {
  const auto& logs = Span("0000000000000001")["logs"];
  ASSERT_EQ(logs.Size(), 1u);
  const auto& fields = logs[0]["fields"];
  ASSERT_EQ(fields.Size(), 3u);
  EXPECT_EQ(std::string(fields[0]["key"].GetString()), "event");
  EXPECT_EQ(std::string(fields[0]["type"].GetString()), "string");
  EXPECT_EQ(std::string(fields[0]["value"].GetString()), "cache miss");
  EXPECT_EQ(std::string(fields[1]["key"].GetString()), "cache.key");
  EXPECT_EQ(std::string(fields[1]["value"].GetString()), "sku-1");
  EXPECT_EQ(std::string(fields[2]["type"].GetString()), "int64");
  EXPECT_EQ(fields[2]["value"].GetInt64(), 2);
  EXPECT_EQ(Span("0000000000000002")["logs"].Size(), 0u);
}

TEST(JaegerJsonStandaloneTest, EmptyPolicyOmittedRateAlwaysShown) {
  storage::StoredTrace t;
  t.trace_id = TraceId::FromBytes(kTraceId);
  auto* rs = t.data.add_resource_spans();  // no service.name
  auto* kv = rs->mutable_resource()->mutable_attributes()->Add();
  kv->set_key("service.name");
  kv->mutable_value()->set_int_value(7);  // not a string: kept as a tag
  AddSpan(rs->add_scope_spans(), kRootId, "", "op", kBaseNs, kBaseNs + 1000);
  const std::string json = RenderJaegerTrace(t);
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  ASSERT_FALSE(doc.HasParseError()) << json;
  EXPECT_EQ(std::string(doc["processes"]["p1"]["serviceName"].GetString()), "unknown_service");
  ASSERT_EQ(doc["processes"]["p1"]["tags"].Size(), 1u);
  EXPECT_EQ(doc["processes"]["p1"]["tags"][0]["value"].GetInt64(), 7);
  const auto& tags = doc["spans"][0]["tags"];
  ASSERT_EQ(tags.Size(), 1u);
  EXPECT_EQ(std::string(tags[0]["key"].GetString()), "sampling.rate");
  EXPECT_DOUBLE_EQ(tags[0]["value"].GetDouble(), 1.0);
}

TEST(JaegerJsonStandaloneTest, WriterLevelAppendsTracesToAnArray) {
  storage::StoredTrace a = MakeTrace();
  storage::StoredTrace b;
  b.trace_id = TraceId::FromBytes(kOtherTraceId);
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartArray();
  WriteJaegerTrace(a, w);
  WriteJaegerTrace(b, w);
  w.EndArray();
  ASSERT_TRUE(w.IsComplete());
  rapidjson::Document doc;
  doc.Parse(buf.GetString());
  ASSERT_FALSE(doc.HasParseError()) << buf.GetString();
  ASSERT_EQ(doc.Size(), 2u);
  EXPECT_EQ(std::string(doc[0]["traceID"].GetString()), kTraceHex);
  EXPECT_EQ(std::string(doc[1]["traceID"].GetString()), "aa0000000000000000000000000000bb");
  EXPECT_EQ(doc[1]["spans"].Size(), 0u);
  EXPECT_EQ(doc[1]["processes"].MemberCount(), 0u);
}

TEST(SpanKindTest, NamesRoundTrip) {
  EXPECT_EQ(SpanKindName(0), "");
  EXPECT_EQ(SpanKindName(1), "internal");
  EXPECT_EQ(SpanKindName(2), "server");
  EXPECT_EQ(SpanKindName(3), "client");
  EXPECT_EQ(SpanKindName(4), "producer");
  EXPECT_EQ(SpanKindName(5), "consumer");
  EXPECT_EQ(SpanKindName(6), "");
  for (int k = 1; k <= 5; ++k) EXPECT_EQ(ParseSpanKind(SpanKindName(k)), k);
  EXPECT_EQ(ParseSpanKind("SERVER"), 2);
  EXPECT_EQ(ParseSpanKind("unspecified"), 0);
  EXPECT_EQ(ParseSpanKind(""), std::nullopt);
  EXPECT_EQ(ParseSpanKind("serverx"), std::nullopt);
}

}  // namespace
}  // namespace tailtrace::query
