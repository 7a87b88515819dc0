#include "bench/workload.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace tailtrace::bench {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::Status;
using opentelemetry::proto::trace::v1::TracesData;

namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A small deterministic generator (SplitMix64 stream).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    state_ += 0x9E3779B97F4A7C15ull;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  // [0, 1)
  double Uniform() { return static_cast<double>(Next() >> 11) * (1.0 / 9007199254740992.0); }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }

 private:
  uint64_t state_;
};

constexpr const char* kServiceNames[] = {"frontend", "api-gateway",    "checkout", "cart",
                                         "payment",  "inventory",      "shipping", "currency",
                                         "email",    "recommendation", "ad",       "user",
                                         "auth",     "search",         "catalog",  "pricing"};
constexpr const char* kLanguages[] = {"go", "java", "nodejs", "python", "dotnet"};
constexpr const char* kResources[] = {"items", "items/{id}", "search",  "status",
                                      "batch", "config",     "history", "summary"};
constexpr const char* kMethods[] = {"GET", "GET", "GET", "POST", "PUT", "DELETE"};
constexpr const char* kTiers[] = {"free", "pro", "enterprise"};
constexpr const char* kRegions[] = {"us-east-1", "us-west-2", "eu-west-1", "ap-south-1"};
constexpr const char* kDbSystems[] = {"postgresql", "redis", "mongodb", "kafka"};
constexpr int kOperationsPerService = 8;
constexpr int kUsers = 10'000;
constexpr std::string_view kStatement =
    "SELECT o.id, o.status, o.total, o.currency, o.created_at, c.email FROM orders o JOIN "
    "customers c ON c.id = o.customer_id WHERE o.customer_id = $1 AND o.created_at > $2 AND "
    "o.status IN ('paid', 'shipped', 'delivered') ORDER BY o.created_at DESC LIMIT 50 OFFSET $3";

void SetString(KeyValue* kv, std::string_view key, std::string_view value) {
  kv->set_key(key.data(), key.size());
  kv->mutable_value()->set_string_value(value.data(), value.size());
}

void SetInt(KeyValue* kv, std::string_view key, int64_t value) {
  kv->set_key(key.data(), key.size());
  kv->mutable_value()->set_int_value(value);
}

void SetBool(KeyValue* kv, std::string_view key, bool value) {
  kv->set_key(key.data(), key.size());
  kv->mutable_value()->set_bool_value(value);
}

// Varint length of a length prefix.
size_t VarintSize(size_t v) {
  size_t n = 1;
  while (v >= 128) {
    v >>= 7;
    ++n;
  }
  return n;
}

}  // namespace

void AddWorkloadFlags(CLI::App& app, WorkloadOptions* o) {
  AddInt(app, "--seed", &o->seed, "random seed of the workload");
  AddInt(app, "--services", &o->services,
         "services (resources) the spans of a trace are spread over");
  AddInt(app, "--spans-per-trace", &o->spans_per_trace, "spans of every trace");
  AddInt(app, "--attributes", &o->attributes_per_span, "attributes per span");
  AddInt(app, "--span-bytes", &o->span_bytes, "target serialized bytes per span on the wire");
  app.add_option("--error-percent", o->error_percent, "percent of traces with a failed span")
      ->capture_default_str();
  app.add_option("--slow-percent", o->slow_percent, "percent of traces taking 3-10 s")
      ->capture_default_str();
  AddInt(app, "--batch", &o->batch_spans, "spans per request");
  app.parse_complete_callback([o] {
    o->services = std::clamp(o->services, 1, 1000);
    o->spans_per_trace = std::clamp(o->spans_per_trace, 1, 100'000);
    o->attributes_per_span = std::clamp(o->attributes_per_span, 0, 1000);
    o->batch_spans = std::clamp(o->batch_spans, 1, 1'000'000);
  });
}

std::string DescribeWorkload(const WorkloadOptions& o) {
  return absl::StrCat("seed=", o.seed, " services=", o.services,
                      " spans_per_trace=", o.spans_per_trace, " attributes=", o.attributes_per_span,
                      " span_bytes=", o.span_bytes, " error_percent=", o.error_percent,
                      " slow_percent=", o.slow_percent, " batch=", o.batch_spans);
}

TraceGenerator::TraceGenerator(const WorkloadOptions& options) : options_(options) {
  if (options_.start_unix_ns == 0) options_.start_unix_ns = UnixNanos();
  Rng rng(SplitMix64(options_.seed ^ 0x5EED5EED5EEDull));
  constexpr size_t kNamed = sizeof(kServiceNames) / sizeof(kServiceNames[0]);
  for (int s = 0; s < options_.services; ++s) {
    std::string name =
        static_cast<size_t>(s) < kNamed ? kServiceNames[s] : absl::StrCat("service-", s);
    auto& res = resources_.emplace_back();
    SetString(res.add_attributes(), "service.name", name);
    SetString(res.add_attributes(), "service.namespace", "shop");
    SetString(res.add_attributes(), "service.version", absl::StrCat("1.", s % 7, ".", s % 3));
    SetString(res.add_attributes(), "service.instance.id",
              absl::StrCat(name, "-", absl::Hex(rng.Next() & 0xffffffffffull)));
    SetString(res.add_attributes(), "host.name", absl::StrCat("node-", rng.Below(40)));
    SetString(res.add_attributes(), "deployment.environment", "production");
    SetString(res.add_attributes(), "telemetry.sdk.name", "opentelemetry");
    SetString(res.add_attributes(), "telemetry.sdk.language",
              kLanguages[s % (sizeof(kLanguages) / sizeof(kLanguages[0]))]);
    SetString(res.add_attributes(), "telemetry.sdk.version", "1.24.0");
    auto& scope = scopes_.emplace_back();
    scope.set_name(absl::StrCat("io.opentelemetry.instrumentation.", s % 2 ? "grpc" : "http"));
    scope.set_version("2.1.0");
    auto& ops = operations_.emplace_back();
    auto& routes = routes_.emplace_back();
    for (int op = 0; op < kOperationsPerService; ++op) {
      const std::string route = absl::StrCat("/api/v1/", name, "/", kResources[op]);
      routes.push_back(route);
      ops.push_back(absl::StrCat(kMethods[op % 6], " ", route));
    }
    service_names_.push_back(std::move(name));
  }
}

std::string TraceGenerator::TraceIdBytes(uint64_t index) const {
  const uint64_t hi = SplitMix64(options_.seed * 0x100000001B3ull + index * 2 + 1);
  const uint64_t lo = SplitMix64(options_.seed * 0x100000001B3ull + index * 2 + 2);
  std::string id(16, '\0');
  for (int i = 0; i < 8; ++i) {
    id[i] = static_cast<char>(hi >> (56 - 8 * i));
    id[8 + i] = static_cast<char>(lo >> (56 - 8 * i));
  }
  if (id == std::string(16, '\0')) id[0] = 1;
  return id;
}

void TraceGenerator::Generate(uint64_t index, std::vector<GeneratedSpan>* out) const {
  out->clear();
  Rng rng(SplitMix64(options_.seed ^ SplitMix64(index + 0xABCDEFull)));
  const int n = options_.spans_per_trace;
  const bool slow = rng.Uniform() * 100 < options_.slow_percent;
  const bool failed = rng.Uniform() * 100 < options_.error_percent;
  const std::string trace_id = TraceIdBytes(index);
  const int64_t start =
      options_.start_unix_ns + static_cast<int64_t>(index) * options_.trace_spacing_ns;
  const int64_t root_duration =
      slow ? static_cast<int64_t>(rng.Uniform(3e9, 10e9))
           : static_cast<int64_t>(5e6 * std::exp(rng.Uniform(0, 4)));  // 5-270 ms
  // Trace-level values (the same on every span: the user of a request).
  const std::string user = absl::StrCat("user-", rng.Below(kUsers));
  const char* tier = kTiers[rng.Below(3)];
  const char* region = kRegions[rng.Below(4)];
  const int error_span = failed ? (n > 1 ? 1 + static_cast<int>(rng.Below(n - 1)) : 0) : -1;

  struct Shape {
    uint32_t service;
    int parent;
    int64_t start;
    int64_t end;
  };
  std::vector<Shape> shapes(n);
  const uint32_t services = static_cast<uint32_t>(options_.services);
  shapes[0] = {static_cast<uint32_t>(rng.Below(std::min<uint32_t>(2, services))), -1, start,
               start + root_duration};
  for (int i = 1; i < n; ++i) {
    Shape& s = shapes[i];
    s.parent = i == 1 ? 0 : static_cast<int>(rng.Below(i));
    const Shape& p = shapes[s.parent];
    if (services > 1 && rng.Uniform() >= 0.4) {
      s.service = static_cast<uint32_t>(rng.Below(services - 1));
      if (s.service >= p.service) ++s.service;
    } else {
      s.service = p.service;
    }
    const int64_t pd = std::max<int64_t>(p.end - p.start, 2000);
    s.start = p.start + static_cast<int64_t>(rng.Uniform(0, 0.4) * static_cast<double>(pd));
    s.end = s.start + static_cast<int64_t>(rng.Uniform(0.05, 0.5) * static_cast<double>(pd));
    s.end = std::min(s.end, p.end - 1000);
    if (s.end <= s.start) s.end = s.start + 1;
  }

  std::vector<std::string> span_ids(n);
  for (int i = 0; i < n; ++i) {
    uint64_t v = rng.Next();
    if (v == 0) v = 1;
    span_ids[i].resize(8);
    for (int b = 0; b < 8; ++b) span_ids[i][b] = static_cast<char>(v >> (56 - 8 * b));
  }

  out->resize(n);
  for (int i = 0; i < n; ++i) {
    const Shape& s = shapes[i];
    GeneratedSpan& g = (*out)[i];
    g.service = s.service;
    Span& span = g.span;
    span.Clear();
    span.set_trace_id(trace_id);
    span.set_span_id(span_ids[i]);
    if (s.parent >= 0) span.set_parent_span_id(span_ids[s.parent]);
    const int op = static_cast<int>(rng.Below(kOperationsPerService));
    span.set_name(operations_[s.service][op]);
    const bool remote = s.parent < 0 || shapes[s.parent].service != s.service;
    span.set_kind(remote ? Span::SPAN_KIND_SERVER
                         : (rng.Below(2) ? Span::SPAN_KIND_CLIENT : Span::SPAN_KIND_INTERNAL));
    span.set_start_time_unix_nano(static_cast<uint64_t>(s.start));
    span.set_end_time_unix_nano(static_cast<uint64_t>(s.end));
    const bool error = i == error_span || (failed && i == 0);
    if (error) {
      span.mutable_status()->set_code(Status::STATUS_CODE_ERROR);
      span.mutable_status()->set_message("upstream call failed");
    }

    const int attrs = options_.attributes_per_span;
    for (int a = 0; a + 1 < attrs; ++a) {
      KeyValue* kv = span.add_attributes();
      switch (a) {
        case 0:
          SetString(kv, "http.request.method", kMethods[op % 6]);
          break;
        case 1:
          SetString(kv, "http.route", routes_[s.service][op]);
          break;
        case 2:
          SetInt(kv, "http.response.status_code", error ? 500 : (rng.Below(50) == 0 ? 404 : 200));
          break;
        case 3:
          SetString(kv, "server.address",
                    absl::StrCat(service_names_[s.service], ".prod.svc.cluster.local"));
          break;
        case 4:
          SetString(kv, "user.id", user);
          break;
        case 5:
          SetString(kv, "customer.tier", tier);
          break;
        case 6:
          SetString(kv, "cloud.region", region);
          break;
        case 7:
          SetInt(kv, "thread.id", 1 + static_cast<int64_t>(rng.Below(64)));
          break;
        case 8:
          SetString(kv, "db.system", kDbSystems[rng.Below(4)]);
          break;
        case 9:
          SetBool(kv, "app.cache_hit", rng.Below(3) == 0);
          break;
        default:
          SetString(kv, absl::StrCat("app.attr", a), absl::StrCat("value-", rng.Below(100)));
      }
    }
    if (attrs > 0) {
      // The last attribute pads the span to the target size.
      KeyValue* kv = span.add_attributes();
      SetString(kv, "db.statement", "");
      // Span tag (1 byte) and length prefix are part of the per-span wire cost.
      auto wire = [&span] {
        const size_t n = span.ByteSizeLong();
        return n + 1 + VarintSize(n);
      };
      const size_t target = static_cast<size_t>(std::max(options_.span_bytes, 0));
      const size_t base = wire();
      if (base < target) {
        std::string value;
        size_t pad = target - base;
        while (value.size() < pad) value.append(kStatement);
        value.resize(pad);
        kv->mutable_value()->set_string_value(value);
        // Length prefixes may have grown by a byte or two at the 128-byte boundaries.
        while (wire() > target && pad > 0) {
          value.resize(--pad);
          kv->mutable_value()->set_string_value(value);
        }
      }
    }
  }
  // Export order: by end time, children (which end earlier) before their parents. Sorting
  // indices and swapping messages into place avoids copying them.
  std::vector<int> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&shapes](int a, int b) { return shapes[a].end < shapes[b].end; });
  std::vector<GeneratedSpan> sorted(n);
  for (int j = 0; j < n; ++j) {
    sorted[j].service = (*out)[order[j]].service;
    sorted[j].span.Swap(&(*out)[order[j]].span);
  }
  out->swap(sorted);
}

void TraceGenerator::BuildTracesData(uint64_t index, TracesData* out) const {
  std::vector<GeneratedSpan> spans;
  Generate(index, &spans);
  out->Clear();
  std::vector<opentelemetry::proto::trace::v1::ScopeSpans*> by_service(options_.services, nullptr);
  for (GeneratedSpan& g : spans) {
    auto*& ss = by_service[g.service];
    if (ss == nullptr) {
      auto* rs = out->add_resource_spans();
      *rs->mutable_resource() = resources_[g.service];
      ss = rs->add_scope_spans();
      *ss->mutable_scope() = scopes_[g.service];
    }
    *ss->add_spans() = std::move(g.span);
  }
}

void RequestPool::Materialize(size_t i, uint64_t cycle, char* dst) const {
  const std::string& src = requests[i];
  std::memcpy(dst, src.data(), src.size());
  if (cycle == 0) return;
  const uint64_t high = SplitMix64(cycle * 0x9E3779B97F4A7C15ull);
  const uint64_t low = SplitMix64(high ^ cycle);
  uint8_t mask[16];
  for (int b = 0; b < 8; ++b) {
    mask[b] = static_cast<uint8_t>(high >> (8 * b));
    mask[8 + b] = static_cast<uint8_t>(low >> (8 * b));
  }
  for (const uint32_t off : trace_id_offsets[i]) {
    auto* p = reinterpret_cast<uint8_t*>(dst + off);
    for (int b = 0; b < 16; ++b) p[b] ^= mask[b];
  }
}

uint64_t RequestPool::RequestsFor(uint64_t want) const {
  if (want == 0 || spans == 0) return 0;
  const uint64_t full_cycles = (want - 1) / spans;
  uint64_t n = full_cycles * requests.size();
  uint64_t have = full_cycles * spans;
  for (size_t i = 0; i < requests.size() && have < want; ++i, ++n) have += span_counts[i];
  return n;
}

uint64_t RequestPool::SpansIn(uint64_t n) const {
  if (requests.empty()) return 0;
  uint64_t total = (n / requests.size()) * spans;
  for (size_t i = 0; i < n % requests.size(); ++i) total += span_counts[i];
  return total;
}

RequestPool BuildRequestPool(const WorkloadOptions& options, uint64_t min_spans) {
  const double t0 = WallSeconds();
  TraceGenerator gen(options);
  RequestPool pool;
  const int services = options.services;
  std::vector<ExportTraceServiceRequest> exporters(services);
  for (int s = 0; s < services; ++s) {
    auto* rs = exporters[s].add_resource_spans();
    *rs->mutable_resource() = gen.resource(s);
    rs->set_schema_url("https://opentelemetry.io/schemas/1.24.0");
    *rs->add_scope_spans()->mutable_scope() = gen.scope(s);
  }
  auto emit = [&](int s) {
    auto* spans = exporters[s].mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans();
    if (spans->empty()) return;
    std::string bytes = exporters[s].SerializeAsString();
    std::vector<uint32_t> offsets;
    offsets.reserve(spans->size());
    size_t from = 0;
    for (const Span& span : *spans) {
      const std::string needle = "\x0a\x10" + span.trace_id();
      const size_t at = std::string_view(bytes).find(needle, from);
      offsets.push_back(static_cast<uint32_t>(at + 2));
      from = at + needle.size();
    }
    pool.span_counts.push_back(static_cast<uint32_t>(spans->size()));
    pool.spans += spans->size();
    pool.bytes += bytes.size();
    pool.requests.push_back(std::move(bytes));
    pool.trace_id_offsets.push_back(std::move(offsets));
    spans->Clear();
  };
  std::vector<GeneratedSpan> trace;
  uint64_t generated = 0;
  for (uint64_t t = 0; generated < std::max<uint64_t>(min_spans, 1); ++t) {
    gen.Generate(t, &trace);
    ++pool.traces;
    for (GeneratedSpan& g : trace) {
      auto* spans =
          exporters[g.service].mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans();
      *spans->Add() = std::move(g.span);
      if (spans->size() >= options.batch_spans) emit(static_cast<int>(g.service));
    }
    generated += trace.size();
  }
  for (int s = 0; s < services; ++s) emit(s);
  pool.generate_seconds = WallSeconds() - t0;
  return pool;
}

}  // namespace tailtrace::bench
