// tailtrace-bench-terms: index-term building alone. Feeds pre-built traces of the canonical
// workload, as the wire bytes of their chunks, through storage::TraceTermsBuilder as
// RocksTraceStore's writer does (DecodeWireTraces, then Add), and reports spans per CPU-second of
// the one thread doing it:
//
//   whole:   a new builder per trace, Add(the whole trace), then every stream of it (the first
//            write of a trace puts every index entry), then the builder is destroyed.
//   chunked: a new builder per trace, the trace's spans (in export order: children first, the
//            root last) added in --chunks chunks; the first chunk's streams are read as for a
//            first write, each later chunk's Delta (new streams, the value of every changed fine
//            duration term) as for a late write.
//   index:   the whole write path of a kept trace's index entry in RocksTraceStore::Write: a new
//            builder per trace, Add(the whole trace), its segment entry (--stored=parts: the
//            builder's GetSegmentEntry, as the store does; fold: ForEachStream through a
//            StoredStreamsBuilder, the encoded streams, as it did before), IndexSegments::Pin +
//            Add, and every full segment sealed (TakeDue) with its keys and values copied into a
//            batch buffer as SealSegments copies them into a WriteBatch. Its checksum covers every
//            sealed key and value, so equal checksums mean byte-identical index records.
//
// Google Benchmark times each of them over the traces --spans needs (a fixed iteration count of
// one trace each) and reports spans per CPU-second of the process (one thread). Generating the
// traces is not timed, nor the checksum pass before each run: a checksum of everything the
// builder returned (streams, values, deltas, summaries, calls), the benchmark's label, so that
// two builds can be checked for the same results on the same workload. Next to each figure, the
// "read floor" (read_floor_cpu_seconds): the CPU time of just decoding the chunks and reading
// the fields the builder needs, over the same spans.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/bench_util.h"
#include "bench/micro_bench.h"
#include "bench/workload.h"
#include "proto/otlp_ids.h"
#include "proto/wire_traces.h"
#include "storage/index/index_segments.h"
#include "storage/index/keys.h"
#include "storage/index/trace_analysis.h"
#include "storage/index/trace_terms_builder.h"
#include "storage/options.h"

namespace tailtrace::bench {
namespace {

using opentelemetry::proto::trace::v1::TracesData;
using storage::TraceTermsBuilder;

// The benchmark also builds against the builder before ForEachStream, stream_count and
// Delta::recording existed (for before/after figures); those calls are then skipped.
template <typename B>
constexpr bool kHasForEachStream = requires(const B& b) {
  b.stream_count();
};
template <typename D>
constexpr bool kHasRecording = requires(D& d) {
  d.recording = D::Recording::kNone;
};

// The Delta of a write through the cheapest API: none of the streams on a first write (read with
// ForEachStream), compact references on a later one (read with ForEachChangedStream).
template <typename Delta>
void SetCheapestRecording(Delta* delta, bool first) {
  if constexpr (kHasRecording<Delta>) {
    delta->recording = first ? Delta::Recording::kNone : Delta::Recording::kCompact;
  }
}

template <typename Builder>
size_t StreamCount(const Builder& builder) {
  if constexpr (kHasForEachStream<Builder>) {
    return builder.stream_count();
  } else {
    return builder.Streams().size();
  }
}

// FNV-1a over the bytes of everything hashed, in order.
class Checksum {
 public:
  void Add(std::string_view s) {
    Byte(static_cast<uint8_t>(s.size()));
    for (char c : s) Byte(static_cast<uint8_t>(c));
  }
  void Add(int64_t v) {
    for (int i = 0; i < 8; ++i) Byte(static_cast<uint8_t>(v >> (8 * i)));
  }
  uint64_t value() const { return h_; }

 private:
  void Byte(uint8_t b) {
    h_ ^= b;
    h_ *= 0x100000001B3ull;
  }
  uint64_t h_ = 0xCBF29CE484222325ull;
};

struct Trace {
  TraceId id;
  uint64_t spans = 0;
  std::vector<std::string> chunks;  // serialized TracesData; one element in whole mode
};

// Decodes `chunk` and adds it to `builder`, as the store's writer does.
bool AddChunk(TraceTermsBuilder& builder, const std::string& chunk,
              TraceTermsBuilder::Delta* delta) {
  thread_local WireTraces wire;
  if (!DecodeWireTraces(chunk, &wire)) std::abort();  // built here from objects
  return builder.Add(wire, delta);
}

// The spans of trace `index` in `chunks` consecutive slices of export order, each grouped by
// service into one ResourceSpans (with one ScopeSpans) as a store write groups them, serialized.
Trace BuildTrace(const TraceGenerator& gen, uint64_t index, int chunks) {
  std::vector<GeneratedSpan> spans;
  gen.Generate(index, &spans);
  Trace t;
  t.id = TraceId::FromBytes(gen.TraceIdBytes(index));
  t.spans = spans.size();
  const size_t n = spans.size();
  const size_t k = std::clamp<size_t>(static_cast<size_t>(chunks), 1, std::max<size_t>(n, 1));
  std::vector<TracesData> parts(k);
  for (size_t c = 0; c < k; ++c) {
    TracesData& data = parts[c];
    std::vector<opentelemetry::proto::trace::v1::ScopeSpans*> by_service(gen.options().services,
                                                                         nullptr);
    for (size_t i = c * n / k; i < (c + 1) * n / k; ++i) {
      GeneratedSpan& g = spans[i];
      auto*& ss = by_service[g.service];
      if (ss == nullptr) {
        auto* rs = data.add_resource_spans();
        *rs->mutable_resource() = gen.resource(g.service);
        ss = rs->add_scope_spans();
        *ss->mutable_scope() = gen.scope(g.service);
      }
      *ss->add_spans() = std::move(g.span);
    }
  }
  for (const TracesData& data : parts) t.chunks.push_back(data.SerializeAsString());
  return t;
}

// What the writer reads from the builder after a first write: every stream and its value.
// Returns the bytes seen (so that nothing is optimized away).
size_t ConsumeAllStreams(const TraceTermsBuilder& builder, Checksum* sum) {
  size_t bytes = 0;
  for (const auto& [stream, value] : builder.Streams()) {
    bytes += stream.size() + value.size();
    if (sum != nullptr) {
      sum->Add(stream);
      sum->Add(value);
    }
  }
  return bytes;
}

// The same through ForEachStream, which allocates nothing per stream.
template <typename Builder>
size_t VisitAllStreams(const Builder& builder, Checksum* sum) {
  if constexpr (kHasForEachStream<Builder>) {
    size_t bytes = 0;
    builder.ForEachStream([&](std::string_view stream, std::string_view value) {
      bytes += stream.size() + value.size();
      if (sum != nullptr) {
        sum->Add(stream);
        sum->Add(value);
      }
    });
    return bytes;
  } else {
    return ConsumeAllStreams(builder, sum);
  }
}

// What the writer reads after a late write: the new streams, the changed duration values.
// The changed streams of a delta are hashed in any order: the sum of their hashes.
uint64_t ItemHash(std::string_view stream, std::string_view value) {
  Checksum item;
  item.Add(stream);
  item.Add(value);
  return item.value();
}

size_t ConsumeDelta(const TraceTermsBuilder& builder, const TraceTermsBuilder::Delta& delta,
                    Checksum* sum) {
  size_t bytes = 0;
  uint64_t changed = 0;
  for (const std::string& stream : delta.streams) {
    bytes += stream.size();
    if (sum != nullptr) changed += ItemHash(stream, "");
  }
  for (const storage::DurationTerm& term : delta.durations) {
    const std::string value = builder.DurationValue(term);
    bytes += value.size();
    if (sum != nullptr) changed += ItemHash(storage::DurationStream(term), value);
  }
  if (sum != nullptr) sum->Add(static_cast<int64_t>(changed));
  return bytes;
}

// The same through ForEachChangedStream (a Delta recorded compactly).
template <typename Builder, typename Delta>
size_t VisitDelta(const Builder& builder, const Delta& delta, Checksum* sum) {
  if constexpr (kHasRecording<Delta>) {
    size_t bytes = 0;
    uint64_t changed = 0;
    builder.ForEachChangedStream(delta, [&](std::string_view stream, std::string_view value) {
      bytes += stream.size() + value.size();
      if (sum != nullptr) changed += ItemHash(stream, value);
    });
    if (sum != nullptr) sum->Add(static_cast<int64_t>(changed));
    return bytes;
  } else {
    return ConsumeDelta(builder, delta, sum);
  }
}

// The calls of a delta (the same in every mode).
size_t ConsumeCalls(const TraceTermsBuilder::Delta& delta, Checksum* sum) {
  for (const auto& [key, count] : delta.calls) {
    if (sum != nullptr) {
      sum->Add(storage::DependencyKeyOf(key));
      sum->Add(storage::EncodeCallCounts(count));
    }
  }
  return 8 * delta.calls.size();
}

// One trace through a fresh builder, as the writer does; false if the builder refused a chunk.
// With `visit`, through the cheapest API (SetCheapestRecording, ForEachStream and
// ForEachChangedStream); otherwise through Streams() and the Delta's sets, as callers did before.
bool RunTrace(const Trace& t, const storage::IndexOptions& options, bool visit, Checksum* sum,
              size_t* bytes) {
  TraceTermsBuilder builder(t.id, options);
  for (size_t c = 0; c < t.chunks.size(); ++c) {
    TraceTermsBuilder::Delta delta;
    if (visit) SetCheapestRecording(&delta, c == 0);
    if (!AddChunk(builder, t.chunks[c], &delta)) return false;
    if (c == 0) {
      *bytes += visit ? VisitAllStreams(builder, sum) : ConsumeAllStreams(builder, sum);
    } else {
      *bytes += visit ? VisitDelta(builder, delta, sum) : ConsumeDelta(builder, delta, sum);
    }
    *bytes += ConsumeCalls(delta, sum);
  }
  if (sum != nullptr) {
    sum->Add(storage::EncodeSummary(builder.summary()));
    for (const auto& [key, count] : builder.calls()) {
      sum->Add(storage::DependencyKeyOf(key));
      sum->Add(storage::EncodeCallCounts(count));
    }
  }
  return true;
}

// How the index mode gets a trace's segment entry from its builder (--stored).
enum class Stored { kParts, kFold };

// The stored streams of a builder: ForEachStream through a StoredStreamsBuilder.
template <typename Builder>
bool StoredStreamsOfBuilder(const Builder& builder, storage::StoredStreams* out) {
  storage::StoredStreamsBuilder stored;
  bool ok = true;
  builder.ForEachStream([&](std::string_view stream, std::string_view value) {
    ok = stored.Add(stream, value) && ok;
  });
  *out = stored.Finish();
  return ok;
}

// The index side of a write: what RocksTraceStore::Write does with a kept trace's builder, and
// what its SealSegments does with a full segment (the batch is a byte buffer here).
class IndexPath {
 public:
  explicit IndexPath(Stored stored)
      : stored_(stored), segments_(storage::IndexSegments::Options{}) {}

  bool Run(const Trace& t, const storage::IndexOptions& options, Checksum* sum) {
    TraceTermsBuilder builder(t.id, options);
    TraceTermsBuilder::Delta delta;
    SetCheapestRecording(&delta, true);
    if (!AddChunk(builder, t.chunks[0], &delta)) return false;
    const int64_t start = builder.summary().start_ns;
    absl::StatusOr<uint64_t> segment =
        segments_.Pin(storage::IndexSlot(start), 0,
                      [this]() -> absl::StatusOr<uint64_t> { return next_segment_++; });
    if (!segment.ok()) return false;
    if (stored_ == Stored::kParts) {
      builder.GetSegmentEntry(&entry_);
      segments_.Add(*segment, start, t.id, entry_);
    } else {
      storage::StoredStreams streams;
      if (!StoredStreamsOfBuilder(builder, &streams)) return false;
      segments_.Add(*segment, start, t.id, streams);
    }
    Seal(false, sum);
    return true;
  }
  // Seals what is due (full segments), or every segment with `all`.
  void Seal(bool all, Checksum* sum) {
    for (storage::SealedSegment& sealed : segments_.TakeDue(0, all)) {
      batch_.clear();
      for (const auto& [key, value] : sealed.puts) {
        batch_.append(key);
        batch_.append(value);
        if (sum != nullptr) {
          sum->Add(key);
          sum->Add(value);
        }
      }
      bytes_ += batch_.size();
      segments_.Sealed(sealed.ref);
    }
  }
  size_t bytes() const { return bytes_; }

 private:
  const Stored stored_;
  storage::SegmentEntry entry_;
  storage::IndexSegments segments_;
  uint64_t next_segment_ = 1;
  std::string batch_;
  size_t bytes_ = 0;
};

// The floor: decoding each chunk and reading every field the builder reads (span IDs, times,
// names, status, every tag) with no index work. Returns a value derived from them (so that
// nothing is optimized away).
uint64_t ReadTrace(const Trace& t) {
  uint64_t h = 0;
  std::string scratch;
  auto tag = [&h](std::string_view key, std::string_view value) {
    h += key.size() + value.size() + static_cast<uint8_t>(value.empty() ? 0 : value[0]);
  };
  thread_local WireTraces wire;
  for (const std::string& bytes : t.chunks) {
    if (!DecodeWireTraces(bytes, &wire)) std::abort();
    for (const WireTraces::Resource& rs : wire.resources) {
      h += wire.ServiceName(rs).size();
      storage::ForEachResourceTag(wire, rs, &scratch, tag);
      for (uint32_t sc = rs.scopes.begin; sc < rs.scopes.end; ++sc) {
        const WireTraces::Scope& scope = wire.scopes[sc];
        storage::ForEachScopeTag(scope.name, scope.version, tag);
        for (uint32_t i = scope.spans.begin; i < scope.spans.end; ++i) {
          const WireTraces::Span& span = wire.spans[i];
          h += span.span_id.size() + span.parent_span_id.size() + span.name.size();
          h += span.start_ns ^ span.end_ns;
          storage::ForEachSpanAttributeTag(wire, span, &scratch, tag);
          storage::ForEachDerivedSpanTag(span.kind, span.status_code, span.status_message,
                                         span.trace_state, tag);
          storage::ForEachEventTag(wire, span, &scratch, tag);
        }
      }
    }
  }
  return h;
}

// The CPU seconds of ReadTrace over the first `spans` spans of `traces` (cycling), as a measured
// run goes over them: what reading the fields costs, without building anything.
double ReadFloorSeconds(const std::vector<Trace>& traces, uint64_t spans) {
  const double f0 = ThreadCpuSeconds();
  uint64_t read = 0;
  uint64_t read_spans = 0;
  for (size_t i = 0; read_spans < spans;) {
    read += ReadTrace(traces[i]);
    read_spans += traces[i].spans;
    if (++i == traces.size()) i = 0;
  }
  benchmark::DoNotOptimize(read);
  return ThreadCpuSeconds() - f0;
}

// Iterations (one trace each, cycling) until at least `spans` spans.
benchmark::IterationCount TracesFor(const std::vector<Trace>& traces, uint64_t spans) {
  benchmark::IterationCount n = 0;
  for (uint64_t seen = 0; seen < spans; ++n) seen += traces[n % traces.size()].spans;
  return n;
}

// What the benchmarks share: the traces, the index options, how much to run.
struct TermsSetup {
  std::vector<Trace> whole;
  std::vector<Trace> chunked;
  storage::IndexOptions options;  // the daemon's defaults
  uint64_t spans = 0;
  Stored stored = Stored::kParts;
};

// whole / chunked: RunTrace per iteration. Before the timed loop (not timed): a checksum pass
// over the pool, the streams and builder bytes of each whole trace, and a warm-up.
void MeasureTerms(benchmark::State& state, const std::vector<Trace>& traces,
                  const storage::IndexOptions& options, bool visit, uint64_t want_spans) {
  Checksum sum;
  size_t bytes = 0;
  bool ok = true;
  for (const Trace& t : traces) ok = RunTrace(t, options, visit, &sum, &bytes) && ok;
  size_t streams = 0;
  size_t approximate_bytes = 0;
  for (const Trace& t : traces) {
    TraceTermsBuilder builder(t.id, options);
    TraceTermsBuilder::Delta delta;
    for (const std::string& chunk : t.chunks) AddChunk(builder, chunk, &delta);
    streams += StreamCount(builder);
    approximate_bytes += builder.ApproximateBytes();
  }
  for (size_t i = 0; i < std::min<size_t>(traces.size(), 200); ++i) {
    RunTrace(traces[i], options, visit, nullptr, &bytes);
  }
  uint64_t spans = 0;
  size_t i = 0;
  for (auto _ : state) {
    ok = RunTrace(traces[i], options, visit, nullptr, &bytes) && ok;
    spans += traces[i].spans;
    if (++i == traces.size()) i = 0;
  }
  benchmark::DoNotOptimize(bytes);
  if (!ok) state.SkipWithError("a chunk was REFUSED");
  const double n = static_cast<double>(traces.size());
  state.counters["streams_per_trace"] = static_cast<double>(streams) / n;
  state.counters["builder_bytes_per_trace"] = static_cast<double>(approximate_bytes) / n;
  state.counters["read_floor_cpu_seconds"] = ReadFloorSeconds(traces, spans);
  ReportSpans(state, spans, sum.value());
}

// index: IndexPath::Run per iteration, every segment sealed after the last. The checksum pass
// (every sealed key and value) and a warm-up come first, not timed.
void MeasureIndex(benchmark::State& state, const std::vector<Trace>& traces,
                  const storage::IndexOptions& options, Stored how) {
  Checksum sum;
  bool ok = true;
  {
    IndexPath path(how);
    for (const Trace& t : traces) ok = path.Run(t, options, &sum) && ok;
    path.Seal(true, &sum);
  }
  size_t streams = 0;
  for (const Trace& t : traces) {
    TraceTermsBuilder builder(t.id, options);
    TraceTermsBuilder::Delta delta;
    AddChunk(builder, t.chunks[0], &delta);
    storage::SegmentEntry entry;
    builder.GetSegmentEntry(&entry);
    streams += entry.Encode().size();
  }
  {
    IndexPath warm(how);
    for (size_t i = 0; i < std::min<size_t>(traces.size(), 200); ++i) {
      warm.Run(traces[i], options, nullptr);
    }
    warm.Seal(true, nullptr);
  }
  IndexPath path(how);
  uint64_t spans = 0;
  size_t i = 0;
  benchmark::IterationCount done = 0;
  for (auto _ : state) {
    ok = path.Run(traces[i], options, nullptr) && ok;
    spans += traces[i].spans;
    if (++i == traces.size()) i = 0;
    if (++done == state.max_iterations) path.Seal(true, nullptr);  // the last segments
  }
  benchmark::DoNotOptimize(path.bytes());
  if (!ok) state.SkipWithError("a trace was REFUSED");
  state.counters["streams_per_trace"] =
      static_cast<double>(streams) / static_cast<double>(traces.size());
  state.counters["read_floor_cpu_seconds"] = ReadFloorSeconds(traces, spans);
  ReportSpans(state, spans, sum.value());
}

std::vector<Trace> BuildTraces(const TraceGenerator& gen, int64_t count, int chunks) {
  std::vector<Trace> traces;
  traces.reserve(static_cast<size_t>(count));
  for (int64_t t = 0; t < count; ++t) {
    traces.push_back(BuildTrace(gen, static_cast<uint64_t>(t), chunks));
  }
  return traces;
}

benchmark::internal::Benchmark* Register(const std::string& name, const TermsSetup& setup,
                                         const std::vector<Trace>& traces,
                                         std::function<void(benchmark::State&)> fn) {
  return benchmark::RegisterBenchmark(name.c_str(), std::move(fn))
      ->Iterations(TracesFor(traces, setup.spans))
      ->MeasureProcessCPUTime()
      ->Unit(benchmark::kMillisecond);
}

// Registers the benchmarks --mode and --api select.
void RegisterAll(const TermsSetup& setup, const std::string& mode, const std::string& api) {
  auto terms = [&](const std::string& name, const std::vector<Trace>& traces) {
    for (bool visit : {false, true}) {
      if ((visit && api == "streams") || (!visit && api == "visit")) continue;
      if (visit && !kHasForEachStream<TraceTermsBuilder>) continue;  // an old builder
      Register(visit ? name + "_visit" : name, setup, traces,
               [&setup, &traces, visit](benchmark::State& state) {
                 MeasureTerms(state, traces, setup.options, visit, setup.spans);
               });
    }
  };
  if (mode == "whole" || mode == "both" || mode == "all") terms("whole", setup.whole);
  if (mode == "chunked" || mode == "both" || mode == "all") terms("chunked", setup.chunked);
  if (mode == "index" || mode == "all") {
    const char* name = setup.stored == Stored::kParts ? "index" : "index_fold";
    Register(name, setup, setup.whole, [&setup](benchmark::State& state) {
      MeasureIndex(state, setup.whole, setup.options, setup.stored);
    });
  }
}

int Main(int argc, char** argv) {
  int64_t spans = 400'000;
  int64_t pool_traces = 2000;
  int64_t chunks_flag = 4;
  std::string mode = "all";
  std::string stored = "parts";
  std::string api = "both";
  WorkloadOptions workload;
  auto app = NewCommandLine(
      "tailtrace-bench-terms",
      "Index-term building: storage::TraceTermsBuilder Add + streams, spans per\n"
      "CPU-second of one core, for whole traces and for traces written in chunks; and\n"
      "the whole index write path (builder, stored streams, IndexSegments Add + Seal).");
  AddInt(*app, "--spans", &spans, "spans fed through the builder in each mode");
  AddInt(*app, "--pool-traces", &pool_traces, "traces pre-generated and cycled");
  AddInt(*app, "--chunks", &chunks_flag, "chunks each trace is written in for the chunked mode");
  app->add_option("--stored", stored,
                  "how the index mode gets a trace's segment entry: parts (the builder's "
                  "GetSegmentEntry, as the store does) or fold (ForEachStream through a "
                  "StoredStreamsBuilder, the encoded streams)")
      ->check(CLI::IsMember({"parts", "fold"}))
      ->capture_default_str();
  app->add_option("--mode", mode,
                  "whole, chunked, both (whole and chunked), index (the write path of a trace's "
                  "index entry: builder, stored streams, IndexSegments Add and Seal) or all")
      ->check(CLI::IsMember({"whole", "chunked", "both", "index", "all"}))
      ->capture_default_str();
  app->add_option("--api", api,
                  "streams (Streams() map on a first write, Delta sets on later ones), visit "
                  "(ForEachStream on a first write, ForEachChangedStream on later ones) or both")
      ->check(CLI::IsMember({"streams", "visit", "both"}))
      ->capture_default_str();
  AddWorkloadFlags(*app, &workload);
  if (const int code = ParseMicroBenchmarkFlags(*app, argc, argv); code >= 0) return code;
  const int chunks = static_cast<int>(std::clamp<int64_t>(chunks_flag, 1, 1000));
  workload.start_unix_ns = 1'700'000'000'000'000'000;  // deterministic checksums
  const TraceGenerator gen(workload);
  TermsSetup setup;
  setup.spans = static_cast<uint64_t>(std::max<int64_t>(spans, 1));
  setup.stored = stored == "parts" ? Stored::kParts : Stored::kFold;
  pool_traces = std::max<int64_t>(pool_traces, 1);
  if (mode != "chunked") setup.whole = BuildTraces(gen, pool_traces, 1);
  if (mode == "chunked" || mode == "both" || mode == "all") {
    setup.chunked = BuildTraces(gen, pool_traces, chunks);
  }
  RegisterAll(setup, mode, api);
  const std::vector<MicroResult> results = RunMicroBenchmarks();

  JsonLine json;
  json.Add("bench", "terms").Add("workload", DescribeWorkload(workload));
  const bool ok = AddMicroResults(results, &json);
  json.Add("chunks", chunks).Add("ok", ok);
  std::printf("%s\n", json.str().c_str());
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace tailtrace::bench

int main(int argc, char** argv) { return tailtrace::bench::Main(argc, argv); }
