// Fuzz harness: the query API's search parameters (query/search_params.h), parsed from a request
// target as the server does, and the Jaeger `tags` JSON parameter on its own. Invariants: every
// error is InvalidArgument; an accepted search has a positive limit and min <= max duration.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/http_server.h"
#include "common/http_server_internal.h"
#include "query/search_params.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

constexpr int64_t kNowNs = 1'700'000'000'000'000'000;

void CheckQuery(const tailtrace::storage::TraceQuery& q) {
  FUZZ_CHECK(q.limit > 0);
  if (q.duration_min_ns && q.duration_max_ns) FUZZ_CHECK(*q.duration_min_ns <= *q.duration_max_ns);
}

void Check(const absl::Status& st) { FUZZ_CHECK(st.ok() || absl::IsInvalidArgument(st)); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace q = tailtrace::query;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  tailtrace::http::Request req;
  tailtrace::http::internal::ParseTarget("/api/traces?" + std::string(input), &req);
  if (auto s = q::ParseJaegerSearch(req, kNowNs); s.ok()) {
    if (s->trace_ids.empty()) CheckQuery(s->query);
  } else {
    Check(s.status());
  }
  if (auto s = q::ParseV3Search(req, kNowNs); s.ok()) {
    CheckQuery(*s);
  } else {
    Check(s.status());
  }
  Check(q::ParseDependenciesQuery(req, kNowNs).status());

  tailtrace::http::Request tags;
  tags.query = {{"service", "s"}, {"tags", std::string(input)}};
  if (auto s = q::ParseJaegerSearch(tags, kNowNs); s.ok()) {
    CheckQuery(s->query);
  } else {
    Check(s.status());
  }
  return 0;
}
