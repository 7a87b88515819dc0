#include "tests/integration/test_util.h"

#include <zlib.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"

namespace tailtrace::testing {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(20);

std::string Str(const rapidjson::Value& v) {
  return v.IsString() ? std::string(v.GetString(), v.GetStringLength()) : std::string();
}

const rapidjson::Value* Member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(name);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

}  // namespace

std::string TraceIdBytes(uint64_t n) {
  std::string id(16, '\0');
  id[0] = 0x7a;
  id[1] = 0x11;
  // A multiplicative hash spreads consecutive n over the shard-routing low half.
  const uint64_t low = (n + 1) * 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < 8; ++i) id[15 - i] = static_cast<char>(low >> (8 * i));
  for (int i = 0; i < 4; ++i) id[7 - i] = static_cast<char>((n + 1) >> (8 * i));
  return id;
}

std::string SpanIdBytes(uint64_t trace, uint64_t index) {
  std::string id(8, '\0');
  const uint64_t v = ((trace + 1) << 16) | (index + 1);
  for (int i = 0; i < 8; ++i) id[7 - i] = static_cast<char>(v >> (8 * i));
  return id;
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

uint64_t NowUnixNanos() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

void AddTrace(ExportTraceServiceRequest* request, uint64_t trace, int num_spans,
              const std::string& service, size_t padding_bytes) {
  auto* rs = request->add_resource_spans();
  auto* attr = rs->mutable_resource()->add_attributes();
  attr->set_key("service.name");
  attr->mutable_value()->set_string_value(service);
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("integration-test");
  const uint64_t start = NowUnixNanos() - 5'000'000;  // 5 ms ago
  for (int i = 0; i < num_spans; ++i) {
    auto* span = ss->add_spans();
    span->set_trace_id(TraceIdBytes(trace));
    span->set_span_id(SpanIdBytes(trace, static_cast<uint64_t>(i)));
    if (i > 0) span->set_parent_span_id(SpanIdBytes(trace, static_cast<uint64_t>((i - 1) / 2)));
    span->set_name(i == 0 ? "root-op" : absl::StrCat("child-op-", i));
    span->set_kind(i == 0 ? opentelemetry::proto::trace::v1::Span::SPAN_KIND_SERVER
                          : opentelemetry::proto::trace::v1::Span::SPAN_KIND_INTERNAL);
    span->set_start_time_unix_nano(start + static_cast<uint64_t>(i) * 1000);
    span->set_end_time_unix_nano(start + 4'000'000 - static_cast<uint64_t>(i) * 1000);
    if (padding_bytes > 0) {
      auto* pad = span->add_attributes();
      pad->set_key("padding");
      pad->mutable_value()->set_string_value(std::string(padding_bytes, 'x'));
    }
  }
}

void AddRawSpan(ExportTraceServiceRequest* request, const std::string& service,
                const std::string& trace_id, const std::string& span_id,
                const std::string& parent_span_id, const std::string& name) {
  auto* rs = request->add_resource_spans();
  auto* attr = rs->mutable_resource()->add_attributes();
  attr->set_key("service.name");
  attr->mutable_value()->set_string_value(service);
  auto* span = rs->add_scope_spans()->add_spans();
  span->set_trace_id(trace_id);
  span->set_span_id(span_id);
  span->set_parent_span_id(parent_span_id);
  span->set_name(name);
  const uint64_t start = NowUnixNanos() - 5'000'000;
  span->set_start_time_unix_nano(start);
  span->set_end_time_unix_nano(start + 1'000'000);
}

std::string GzipBytes(std::string_view data) {
  z_stream z{};
  // windowBits 15 + 16: a gzip header and trailer.
  if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    ADD_FAILURE() << "deflateInit2 failed";
    return "";
  }
  std::string out(deflateBound(&z, data.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) ADD_FAILURE() << "deflate did not finish: " << rc;
  return out;
}

namespace {

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target, bool own_connection) {
  grpc::ChannelArguments args;
  if (own_connection) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

}  // namespace

OtlpGrpcClient::OtlpGrpcClient(const std::string& target, bool own_connection)
    : channel_(MakeChannel(target, own_connection)),
      stub_(opentelemetry::proto::collector::trace::v1::TraceService::NewStub(channel_)) {}

grpc::Status OtlpGrpcClient::Export(const ExportTraceServiceRequest& request,
                                    ExportTraceServiceResponse* response, bool gzip,
                                    int64_t timeout_ms) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  if (gzip) context.set_compression_algorithm(GRPC_COMPRESS_GZIP);
  return stub_->Export(&context, request, response);
}

absl::StatusOr<HttpResponse> WaitForTrace(int query_port, const std::string& trace_hex,
                                          int64_t timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  HttpClient client(query_port);
  while (true) {
    absl::StatusOr<HttpResponse> response = client.Get("/api/traces/" + trace_hex);
    if (!response.ok() || response->status != 404 || std::chrono::steady_clock::now() >= deadline) {
      return response;
    }
    // Polling the real server: the decision is made by the daemon's own clock.
    std::this_thread::sleep_for(kPollInterval);
  }
}

std::optional<double> WaitForMetric(int admin_port, const std::string& series, double at_least,
                                    int64_t timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  HttpClient client(admin_port);
  std::optional<double> last;
  while (true) {
    absl::StatusOr<HttpResponse> response = client.Get("/metrics");
    if (response.ok() && response->status == 200) last = MetricValue(response->body, series);
    if ((last.has_value() && *last >= at_least) || std::chrono::steady_clock::now() >= deadline) {
      return last;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

std::optional<double> MetricValue(const std::string& text, const std::string& series) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + pos, end - pos);
    if (line.size() > series.size() && line.substr(0, series.size()) == series &&
        line[series.size()] == ' ') {
      return std::strtod(std::string(line.substr(series.size() + 1)).c_str(), nullptr);
    }
    pos = end + 1;
  }
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<rapidjson::Document>> ParseJson(const std::string& json) {
  auto doc = std::make_unique<rapidjson::Document>();
  doc->Parse(json.data(), json.size());
  if (doc->HasParseError()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not JSON (error at offset ", doc->GetErrorOffset(), "): ", json));
  }
  return doc;
}

std::map<std::string, JaegerSpanInfo> JaegerSpans(const std::string& body) {
  std::map<std::string, JaegerSpanInfo> out;
  absl::StatusOr<std::unique_ptr<rapidjson::Document>> doc = ParseJson(body);
  if (!doc.ok()) {
    ADD_FAILURE() << doc.status();
    return out;
  }
  const rapidjson::Value* data = Member(**doc, "data");
  if (data == nullptr || !data->IsArray() || data->Size() != 1) {
    ADD_FAILURE() << "expected \"data\" to hold one trace: " << body;
    return out;
  }
  const rapidjson::Value& trace = (*data)[0];
  const rapidjson::Value* spans = Member(trace, "spans");
  const rapidjson::Value* processes = Member(trace, "processes");
  if (spans == nullptr || !spans->IsArray() || processes == nullptr) {
    ADD_FAILURE() << "trace without spans/processes: " << body;
    return out;
  }
  for (const rapidjson::Value& span : spans->GetArray()) {
    JaegerSpanInfo info;
    if (const auto* v = Member(span, "traceID")) info.trace_id = Str(*v);
    if (const auto* v = Member(span, "operationName")) info.operation = Str(*v);
    if (const auto* refs = Member(span, "references"); refs != nullptr && refs->IsArray()) {
      for (const rapidjson::Value& ref : refs->GetArray()) {
        const auto* type = Member(ref, "refType");
        const auto* id = Member(ref, "spanID");
        if (type != nullptr && Str(*type) == "CHILD_OF" && id != nullptr) {
          info.parent_span_id = Str(*id);
        }
      }
    }
    if (const auto* pid = Member(span, "processID")) {
      if (const auto* process = Member(*processes, Str(*pid).c_str())) {
        if (const auto* name = Member(*process, "serviceName")) info.service = Str(*name);
      }
    }
    const auto* span_id = Member(span, "spanID");
    out[span_id != nullptr ? Str(*span_id) : ""] = info;
  }
  return out;
}

std::map<std::string, JaegerSpanInfo> V3Spans(const std::string& body) {
  std::map<std::string, JaegerSpanInfo> out;
  absl::StatusOr<std::unique_ptr<rapidjson::Document>> doc = ParseJson(body);
  if (!doc.ok()) {
    ADD_FAILURE() << doc.status();
    return out;
  }
  const rapidjson::Value* result = Member(**doc, "result");
  const rapidjson::Value* all_rs = result != nullptr ? Member(*result, "resourceSpans") : nullptr;
  if (all_rs == nullptr || !all_rs->IsArray()) {
    ADD_FAILURE() << "expected result.resourceSpans: " << body;
    return out;
  }
  for (const rapidjson::Value& rs : all_rs->GetArray()) {
    std::string service;
    const auto* resource = Member(rs, "resource");
    const auto* attrs = resource != nullptr ? Member(*resource, "attributes") : nullptr;
    if (attrs != nullptr && attrs->IsArray()) {
      for (const rapidjson::Value& kv : attrs->GetArray()) {
        const auto* key = Member(kv, "key");
        const auto* value = Member(kv, "value");
        const auto* s = value != nullptr ? Member(*value, "stringValue") : nullptr;
        if (key != nullptr && Str(*key) == "service.name" && s != nullptr) service = Str(*s);
      }
    }
    const auto* scopes = Member(rs, "scopeSpans");
    if (scopes == nullptr || !scopes->IsArray()) continue;
    for (const rapidjson::Value& ss : scopes->GetArray()) {
      const auto* spans = Member(ss, "spans");
      if (spans == nullptr || !spans->IsArray()) continue;
      for (const rapidjson::Value& span : spans->GetArray()) {
        JaegerSpanInfo info;
        info.service = service;
        if (const auto* v = Member(span, "traceId")) info.trace_id = Str(*v);
        if (const auto* v = Member(span, "parentSpanId")) info.parent_span_id = Str(*v);
        if (const auto* v = Member(span, "name")) info.operation = Str(*v);
        const auto* span_id = Member(span, "spanId");
        out[span_id != nullptr ? Str(*span_id) : ""] = info;
      }
    }
  }
  return out;
}

std::map<std::string, JaegerSpanInfo> ExpectedSpans(uint64_t trace, int num_spans,
                                                    const std::string& service) {
  std::map<std::string, JaegerSpanInfo> out;
  for (int i = 0; i < num_spans; ++i) {
    JaegerSpanInfo info;
    info.trace_id = Hex(TraceIdBytes(trace));
    info.parent_span_id = i == 0 ? "" : Hex(SpanIdBytes(trace, static_cast<uint64_t>((i - 1) / 2)));
    info.operation = i == 0 ? "root-op" : absl::StrCat("child-op-", i);
    info.service = service;
    out[Hex(SpanIdBytes(trace, static_cast<uint64_t>(i)))] = info;
  }
  return out;
}

bool operator==(const JaegerSpanInfo& a, const JaegerSpanInfo& b) {
  return a.trace_id == b.trace_id && a.parent_span_id == b.parent_span_id &&
         a.operation == b.operation && a.service == b.service;
}

void PrintTo(const JaegerSpanInfo& info, std::ostream* os) {
  *os << "{trace " << info.trace_id << ", parent \"" << info.parent_span_id << "\", op \""
      << info.operation << "\", service \"" << info.service << "\"}";
}

// ---------------------------------------------------------------------------------------------
// DaemonTest

void DaemonTest::SetUp() {
  absl::StatusOr<TempDir> dir = TempDir::Create("tailtraced-integ");
  ASSERT_TRUE(dir.ok()) << dir.status();
  dir_.emplace(std::move(*dir));
  settings_.storage_path = dir_->Join("data");
}

void DaemonTest::TearDown() {
  if (daemon_ != nullptr && HasFailure()) {
    std::cerr << "---- tailtraced stderr ----\n" << daemon_->Stderr() << "---- end ----\n";
  }
  daemon_.reset();
}

void DaemonTest::StartDaemon() {
  absl::StatusOr<std::unique_ptr<Daemon>> daemon =
      Daemon::Start(dir_->path(), settings_.ToYaml(), spawn_);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  daemon_ = std::move(*daemon);
}

void DaemonTest::StopDaemonExpectSuccess() {
  ASSERT_NE(daemon_, nullptr);
  absl::StatusOr<int> code = daemon_->Stop();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << "tailtraced exited with " << *code << " after SIGTERM; stderr:\n"
                      << daemon_->Stderr();
}

}  // namespace tailtrace::testing
