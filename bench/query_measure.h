#pragma once

// The measured side of tailtrace-bench-query: trace by ID and the three searches over a built
// store (any TraceStore), each timed on the wall clock and on the calling thread's CPU clock, and,
// for a store on a server (ClickHouse), with the server's CPU time.

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "bench/workload.h"
#include "query/query_service.h"
#include "storage/trace_store.h"

namespace tailtrace::bench {

// The latencies of one kind of call.
struct Series {
  explicit Series(std::string n) : name(std::move(n)) {}
  std::string name;
  std::vector<double> ms;
  // Thread CPU time of the same calls: separates work from waiting (I/O, preemption).
  std::vector<double> cpu_ms;
  // With QueryData::server_cpu_seconds: the server's CPU time over the measured calls, in ms
  // (their sum; /proc counts in clock ticks, so only the mean over many calls means anything).
  double server_cpu_ms_sum = 0;
  bool server_measured = false;
  double results_sum = 0;
  std::string skipped;  // non-empty: why there are no figures
  std::string how;      // the request used, for the report

  // NAME_p50_ms, NAME_p99_ms, ... (and NAME_server_cpu_ms_avg) or NAME_skipped.
  void AddTo(JsonLine* json) const;
  // One line on stderr.
  void Print() const;
};

// What the measurements read: the store and the traces in it.
struct QueryData {
  storage::TraceStore* store = nullptr;
  query::QueryService* service = nullptr;  // answering over `store`
  const TraceGenerator* gen = nullptr;     // the traces' generator
  uint64_t written_traces = 0;             // traces 0 .. written_traces - 1 are stored
  int64_t start_ns = 0;                    // the first trace's start
  int64_t data_end_ns = 0;                 // the traces' start times end here
  // When the store is a server's (ClickHouse): that server's CPU seconds so far, read around each
  // measured call. Empty: the work is all in this process.
  std::function<double()> server_cpu_seconds;
};

struct LookupSeries {
  Series get{"get_trace"};
  Series api_get{"api_get_trace"};
  // With `detail`: where the CPU of a trace by ID goes (render alone; decode on heap vs Arena,
  // the decode including freeing the decoded objects).
  Series render{"detail_render_jaeger"};
  Series decode_heap{"detail_decode_heap"};
  Series decode_arena{"detail_decode_arena"};
};

// Trace by ID: `lookups` random stored traces (after 20 unmeasured), through
// TraceStore::GetTrace (each checked to have the workload's spans per trace) and through
// GET /api/traces/{id}.
LookupSeries MeasureLookups(const QueryData& data, int lookups, bool detail, std::mt19937_64* rng);

// The three searches, limit 20, `searches` runs each (after 5 unmeasured): service +
// minDuration 2s, service + user.id attribute, time only (a 15-minute window). find_* through
// TraceStore::FindTraces when the build's store has it, api_search_* through the Jaeger API.
std::vector<Series> MeasureSearches(const QueryData& data, int searches, std::mt19937_64* rng);

}  // namespace tailtrace::bench
