// tailtrace-bench-terms: index-term building alone. Feeds pre-built traces of the canonical
// workload through storage::TraceTermsBuilder as RocksTraceStore's writer does, and reports spans
// per CPU-second of the one thread doing it:
//
//   whole:   a new builder per trace, Add(the whole trace), then every stream of it (the first
//            write of a trace puts every index entry), then the builder is destroyed.
//   chunked: a new builder per trace, the trace's spans (in export order: children first, the
//            root last) added in --chunks chunks; the first chunk's streams are read as for a
//            first write, each later chunk's Delta (new streams, the value of every changed fine
//            duration term) as for a late write.
//   index:   the whole write path of a kept trace's index entry in RocksTraceStore::Write: a new
//            builder per trace, Add(the whole trace), its stored streams (--stored=direct: the
//            builder's AppendStoredStreams when the build has it; --stored=fold: ForEachStream
//            through a StoredStreamsBuilder, as the store did before), IndexSegments::Pin + Add,
//            and every full segment sealed (TakeDue) with its keys and values copied into a batch
//            buffer as SealSegments copies them into a WriteBatch. Its checksum covers every
//            sealed key and value, so equal checksums mean byte-identical index records.
//
// Generating the traces is not timed. A checksum of everything the builder returned (streams,
// values, deltas, summaries, calls) is printed so that two builds can be checked for the same
// results on the same workload.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/bench_util.h"
#include "bench/workload.h"
#include "proto/otlp_ids.h"
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
  std::vector<TracesData> chunks;  // one element in whole mode
};

// The spans of trace `index` in `chunks` consecutive slices of export order, each grouped by
// service into one ResourceSpans (with one ScopeSpans) as a store write groups them. Each chunk
// is serialized and parsed back, so that its memory is laid out as the daemon's parsed requests.
Trace BuildTrace(const TraceGenerator& gen, uint64_t index, int chunks) {
  std::vector<GeneratedSpan> spans;
  gen.Generate(index, &spans);
  Trace t;
  t.id = TraceId::FromBytes(gen.TraceIdBytes(index));
  t.spans = spans.size();
  const size_t n = spans.size();
  const size_t k = std::clamp<size_t>(static_cast<size_t>(chunks), 1, std::max<size_t>(n, 1));
  t.chunks.resize(k);
  for (size_t c = 0; c < k; ++c) {
    TracesData& data = t.chunks[c];
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
  for (TracesData& data : t.chunks) {
    const std::string bytes = data.SerializeAsString();
    data.Clear();
    if (!data.ParseFromString(bytes)) std::abort();
  }
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
    if (!builder.Add(t.chunks[c], &delta)) return false;
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

// The stored streams of a builder: through the builder's AppendStoredStreams when the build has
// it and `fold` is false; otherwise ForEachStream through a StoredStreamsBuilder.
template <typename Builder>
bool StoredStreamsOfBuilder(const Builder& builder, bool fold, storage::StoredStreams* out) {
  if constexpr (requires { builder.AppendStoredStreams(out); }) {
    if (!fold) {
      builder.AppendStoredStreams(out);
      return true;
    }
  }
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
  explicit IndexPath(bool fold) : fold_(fold), segments_(storage::IndexSegments::Options{}) {}

  bool Run(const Trace& t, const storage::IndexOptions& options, Checksum* sum) {
    TraceTermsBuilder builder(t.id, options);
    TraceTermsBuilder::Delta delta;
    SetCheapestRecording(&delta, true);
    if (!builder.Add(t.chunks[0], &delta)) return false;
    storage::StoredStreams streams;
    if (!StoredStreamsOfBuilder(builder, fold_, &streams)) return false;
    const int64_t start = builder.summary().start_ns;
    absl::StatusOr<uint64_t> segment =
        segments_.Pin(storage::IndexSlot(start), 0,
                      [this]() -> absl::StatusOr<uint64_t> { return next_segment_++; });
    if (!segment.ok()) return false;
    segments_.Add(*segment, start, t.id, streams);
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
  const bool fold_;
  storage::IndexSegments segments_;
  uint64_t next_segment_ = 1;
  std::string batch_;
  size_t bytes_ = 0;
};

// The floor: reading every field the builder reads (span IDs, times, names, status, every tag)
// with no index work. Returns a value derived from them (so that nothing is optimized away).
uint64_t ReadTrace(const Trace& t) {
  uint64_t h = 0;
  std::string scratch;
  for (const TracesData& chunk : t.chunks) {
    for (const auto& rs : chunk.resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& span : ss.spans()) {
          h += span.span_id().size() + span.parent_span_id().size() + span.name().size();
          h += span.start_time_unix_nano() ^ span.end_time_unix_nano();
          storage::ForEachSpanTag(rs, ss, span, [&](std::string_view key, std::string_view value) {
            h += key.size() + value.size() + static_cast<uint8_t>(value.empty() ? 0 : value[0]);
          });
        }
      }
    }
  }
  return h;
}

struct Result {
  uint64_t spans = 0;
  double cpu = 0;
  uint64_t checksum = 0;
  double streams_per_trace = 0;
  double bytes_per_trace = 0;  // ApproximateBytes of a builder holding the whole trace
  double floor_cpu = 0;        // ReadTrace over the same spans
  bool ok = true;
};

Result Measure(const std::vector<Trace>& traces, const storage::IndexOptions& options, bool visit,
               uint64_t want_spans) {
  Result r;
  // Checksum pass over the pool (not timed).
  Checksum sum;
  size_t bytes = 0;
  for (const Trace& t : traces) {
    if (!RunTrace(t, options, visit, &sum, &bytes)) r.ok = false;
  }
  r.checksum = sum.value();
  // The streams of a whole trace.
  size_t streams = 0;
  size_t approximate_bytes = 0;
  for (const Trace& t : traces) {
    TraceTermsBuilder builder(t.id, options);
    TraceTermsBuilder::Delta delta;
    for (const TracesData& chunk : t.chunks) builder.Add(chunk, &delta);
    streams += StreamCount(builder);
    approximate_bytes += builder.ApproximateBytes();
  }
  r.streams_per_trace = static_cast<double>(streams) / static_cast<double>(traces.size());
  r.bytes_per_trace = static_cast<double>(approximate_bytes) / static_cast<double>(traces.size());
  // Warm-up, then the timed passes.
  for (size_t i = 0; i < std::min<size_t>(traces.size(), 200); ++i) {
    RunTrace(traces[i], options, visit, nullptr, &bytes);
  }
  const double c0 = ThreadCpuSeconds();
  size_t i = 0;
  while (r.spans < want_spans) {
    const Trace& t = traces[i];
    if (!RunTrace(t, options, visit, nullptr, &bytes)) r.ok = false;
    r.spans += t.spans;
    if (++i == traces.size()) i = 0;
  }
  r.cpu = ThreadCpuSeconds() - c0;
  const double f0 = ThreadCpuSeconds();
  uint64_t read = 0;
  uint64_t read_spans = 0;
  for (i = 0; read_spans < r.spans;) {
    read += ReadTrace(traces[i]);
    read_spans += traces[i].spans;
    if (++i == traces.size()) i = 0;
  }
  r.floor_cpu = ThreadCpuSeconds() - f0;
  if (read == 42) std::fprintf(stderr, " ");
  if (bytes == 42) std::fprintf(stderr, " ");  // keeps `bytes` alive
  return r;
}

// The index mode: IndexPath over the pool (checksum pass, then timed passes).
Result MeasureIndex(const std::vector<Trace>& traces, const storage::IndexOptions& options,
                    bool fold, uint64_t want_spans) {
  Result r;
  {
    Checksum sum;
    IndexPath path(fold);
    for (const Trace& t : traces) {
      if (!path.Run(t, options, &sum)) r.ok = false;
    }
    path.Seal(true, &sum);
    r.checksum = sum.value();
  }
  size_t streams = 0;
  for (const Trace& t : traces) {
    storage::StoredStreams stored;
    TraceTermsBuilder builder(t.id, options);
    TraceTermsBuilder::Delta delta;
    builder.Add(t.chunks[0], &delta);
    StoredStreamsOfBuilder(builder, fold, &stored);
    streams += stored.size();
  }
  r.streams_per_trace = static_cast<double>(streams) / static_cast<double>(traces.size());
  size_t bytes = 0;
  {
    IndexPath warm(fold);
    for (size_t i = 0; i < std::min<size_t>(traces.size(), 200); ++i) {
      warm.Run(traces[i], options, nullptr);
    }
    warm.Seal(true, nullptr);
  }
  const double c0 = ThreadCpuSeconds();
  {
    IndexPath path(fold);
    size_t i = 0;
    while (r.spans < want_spans) {
      const Trace& t = traces[i];
      if (!path.Run(t, options, nullptr)) r.ok = false;
      r.spans += t.spans;
      if (++i == traces.size()) i = 0;
    }
    path.Seal(true, nullptr);
    bytes = path.bytes();
  }
  r.cpu = ThreadCpuSeconds() - c0;
  const double f0 = ThreadCpuSeconds();
  uint64_t read = 0;
  uint64_t read_spans = 0;
  for (size_t i = 0; read_spans < r.spans;) {
    read += ReadTrace(traces[i]);
    read_spans += traces[i].spans;
    if (++i == traces.size()) i = 0;
  }
  r.floor_cpu = ThreadCpuSeconds() - f0;
  if (read == 42 || bytes == 42) std::fprintf(stderr, " ");
  return r;
}

int Main(int argc, char** argv) {
  std::map<std::string, std::string> known = {
      {"spans", "spans fed through the builder in each mode (default 400000)"},
      {"pool-traces", "traces pre-generated and cycled (default 2000)"},
      {"chunks", "chunks each trace is written in for the chunked mode (default 4)"},
      {"stored",
       "how the index mode gets a trace's stored streams: direct (the builder's\n"
       "      AppendStoredStreams, when the build has it) or fold (ForEachStream through a\n"
       "      StoredStreamsBuilder) (default direct)"},
      {"mode",
       "whole, chunked, both (whole and chunked), index (the write path of a trace's index\n"
       "      entry: builder, stored streams, IndexSegments Add and Seal) or all (default all)"},
      {"api",
       "streams (Streams() map on a first write, Delta sets on later ones), visit\n"
       "      (ForEachStream on a first write, ForEachChangedStream on later ones) or both\n"
       "      (default both)"},
  };
  AddWorkloadFlags(&known);
  Flags flags("tailtrace-bench-terms",
              "Index-term building: storage::TraceTermsBuilder Add + streams, spans per\n"
              "CPU-second of one core, for whole traces and for traces written in chunks; and\n"
              "the whole index write path (builder, stored streams, IndexSegments Add + Seal).",
              known);
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  const uint64_t spans = static_cast<uint64_t>(std::max<int64_t>(flags.Int("spans", 400'000), 1));
  const int64_t pool_traces = std::max<int64_t>(flags.Int("pool-traces", 2000), 1);
  const int chunks = static_cast<int>(std::clamp<int64_t>(flags.Int("chunks", 4), 1, 1000));
  const std::string mode = flags.String("mode", "all");
  if (mode != "whole" && mode != "chunked" && mode != "both" && mode != "index" && mode != "all") {
    std::cerr << "tailtrace-bench-terms: --mode must be whole, chunked, both, index or all, got "
              << mode << "\n";
    return 2;
  }
  const std::string stored = flags.String("stored", "direct");
  if (stored != "direct" && stored != "fold") {
    std::cerr << "tailtrace-bench-terms: --stored must be direct or fold, got " << stored << "\n";
    return 2;
  }
  const bool fold = stored == "fold";
  const std::string api = flags.String("api", "both");
  if (api != "streams" && api != "visit" && api != "both") {
    std::cerr << "tailtrace-bench-terms: --api must be streams, visit or both, got " << api << "\n";
    return 2;
  }
  WorkloadOptions workload = WorkloadFromFlags(flags);
  workload.start_unix_ns = 1'700'000'000'000'000'000;  // deterministic checksums
  const TraceGenerator gen(workload);
  const storage::IndexOptions options;  // the daemon's defaults

  JsonLine json;
  json.Add("bench", "terms").Add("workload", DescribeWorkload(workload));
  bool ok = true;
  auto measure = [&](const std::string& name, const std::vector<Trace>& traces, int k, bool visit,
                     bool index = false) {
    const Result r =
        index ? MeasureIndex(traces, options, fold, spans) : Measure(traces, options, visit, spans);
    ok = ok && r.ok;
    const double rate = r.cpu > 0 ? static_cast<double>(r.spans) / r.cpu : 0;
    char checksum[17];
    std::snprintf(checksum, sizeof(checksum), "%016llx",
                  static_cast<unsigned long long>(r.checksum));
    std::fprintf(stderr,
                 "terms %s (%d chunk%s per trace): %llu spans in %.3f CPU-s = %.0f spans/CPU-s "
                 "(%.2f us per span; reading the spans alone: %.2f us); %.1f streams and %.0f "
                 "builder bytes (ApproximateBytes) per trace; checksum %s%s\n",
                 name.c_str(), k, k == 1 ? "" : "s", static_cast<unsigned long long>(r.spans),
                 r.cpu, rate, r.spans > 0 ? r.cpu * 1e6 / static_cast<double>(r.spans) : 0,
                 r.spans > 0 ? r.floor_cpu * 1e6 / static_cast<double>(r.spans) : 0,
                 r.streams_per_trace, r.bytes_per_trace, checksum,
                 r.ok ? "" : " (a chunk was REFUSED)");
    json.Add(name + "_spans", r.spans)
        .Add(name + "_cpu_seconds", r.cpu)
        .Add(name + "_spans_per_cpu_second", rate)
        .Add(name + "_checksum", checksum)
        .Add(name + "_builder_bytes_per_trace", r.bytes_per_trace)
        .Add(name + "_read_floor_cpu_seconds", r.floor_cpu);
  };
  auto run = [&](const std::string& mode_name, int k) {
    std::vector<Trace> traces;
    traces.reserve(static_cast<size_t>(pool_traces));
    for (int64_t t = 0; t < pool_traces; ++t) {
      traces.push_back(BuildTrace(gen, static_cast<uint64_t>(t), k));
    }
    for (bool visit : {false, true}) {
      if ((visit && api == "streams") || (!visit && api == "visit")) continue;
      if (visit && !kHasForEachStream<TraceTermsBuilder>) continue;  // an old builder
      measure(visit ? mode_name + "_visit" : mode_name, traces, k, visit);
    }
  };
  if (mode == "whole" || mode == "both" || mode == "all") run("whole", 1);
  if (mode == "chunked" || mode == "both" || mode == "all") run("chunked", chunks);
  if (mode == "index" || mode == "all") {
    std::vector<Trace> traces;
    traces.reserve(static_cast<size_t>(pool_traces));
    for (int64_t t = 0; t < pool_traces; ++t) {
      traces.push_back(BuildTrace(gen, static_cast<uint64_t>(t), 1));
    }
    measure(fold ? "index_fold" : "index", traces, 1, true, /*index=*/true);
  }
  json.Add("chunks", chunks).Add("ok", ok);
  std::printf("%s\n", json.str().c_str());
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace tailtrace::bench

int main(int argc, char** argv) { return tailtrace::bench::Main(argc, argv); }
