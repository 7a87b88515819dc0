#pragma once

// Incremental index terms of one trace, so that a late chunk of a trace costs the work of its own
// spans instead of a re-read and re-analysis of the whole trace (which would make a trace written
// in n chunks cost O(n^2), e.g. a huge trace decided early whose spans keep arriving).
//
// After any sequence of successful Add calls, summary(), Streams() and calls() are exactly what
// ComputeIndexTerms (trace_analysis.h) gives for all the spans added, encoded as index streams
// (keys.h). The one case it does not handle is a span ID that repeats (within the trace), whose
// dependency and root semantics depend on every duplicate: Add refuses it and the caller falls
// back to ComputeIndexTerms over all chunks.
//
// The state is compact: services, operations and tags are interned once (their strings copied
// into an arena), and a stream is a few integers until it is read; streams are encoded and
// sorted only when read (ForEachStream, AppendStreams, Streams).
//
// Not thread-safe, not even for concurrent const calls (calls() fills a cache).

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "proto/wire_traces.h"
#include "storage/index/index_segments.h"
#include "storage/index/trace_analysis.h"
#include "storage/index/trace_roots.h"
#include "storage/index/trace_terms_internal.h"
#include "storage/options.h"
#include "storage/trace_store.h"

namespace tailtrace::storage {

class TraceTermsBuilder {
 public:
  // What one or more Add calls changed.
  struct Delta {
    // How Add records new streams and changed fine duration terms:
    //   kSets: in `streams` and `durations`.
    //   kNone: not at all (only `calls`), for a caller that writes every stream after the Add
    //          anyway (ForEachStream): the first write of a trace, or one that moves its start.
    //   kCompact: as references in `changed`, read by ForEachChangedStream (`streams` and
    //          `durations` stay empty): no allocation per stream, for a late write.
    enum class Recording { kSets, kNone, kCompact };
    // A stream of ForEachChangedStream, as the builder knows it (opaque to callers).
    struct Changed {
      char type;
      uint32_t id;
      uint64_t key;
    };

    std::set<std::string> streams;     // index streams the trace did not have (value "")
    std::set<DurationTerm> durations;  // fine duration terms whose durations changed
    DependencyCounts calls;            // call count increments
    // Default: kSets
    Recording recording = Recording::kSets;
    std::vector<Changed> changed;  // kCompact
  };

  // `options` must outlive the builder.
  TraceTermsBuilder(const TraceId& id, const IndexOptions& options);
  TraceTermsBuilder(const TraceTermsBuilder&) = delete;
  TraceTermsBuilder& operator=(const TraceTermsBuilder&) = delete;

  // Adds the spans of `chunk`, recording the changes in `*delta`. Returns false, changing
  // nothing (neither the builder nor `*delta`), when a span ID of the chunk repeats one already
  // added or another of the chunk. `chunk` may be destroyed after the call.
  bool Add(const WireTraces& chunk, Delta* delta);
  // The same for a chunk given as objects (serialized and decoded first).
  bool Add(const opentelemetry::proto::trace::v1::TracesData& chunk, Delta* delta);

  bool empty() const { return summary_.span_count == 0; }
  const TraceSummary& summary() const { return summary_; }

  // Calls `fn(stream, value)` for every index stream of the trace (keys.h), in ascending byte
  // order of `stream`, each once; `value` is "" except for fine duration streams, whose value is
  // EncodeDurations of the term's distinct durations. Both views are valid during the call only.
  // Allocates nothing per stream: the cheapest way to read every stream.
  void ForEachStream(
      absl::FunctionRef<void(std::string_view stream, std::string_view value)> fn) const;
  // Calls `fn(stream, value)` once for every stream that Add calls with `delta` (recording
  // kCompact) changed: each new stream (value "") and each fine duration stream whose durations
  // changed (with its value in the current state), i.e. what `streams` and `durations` would
  // hold, with DurationValue. In no particular order; best called right after those Adds.
  void ForEachChangedStream(
      const Delta& delta,
      absl::FunctionRef<void(std::string_view stream, std::string_view value)> fn) const;
  // Sets `*out` to the trace's segment entry by its parts: out->Encode() is exactly what feeding
  // ForEachStream through a StoredStreamsBuilder gives (the streams without the duration-class
  // ones, the time, service and operation streams with the duration range of their spans), built
  // straight from the state: no stream is encoded or sorted, no duration term built.
  void GetSegmentEntry(SegmentEntry* out) const;
  // Appends what ForEachStream visits, in the same order, to `*out`.
  void AppendStreams(std::vector<std::pair<std::string, std::string>>* out) const;
  // Every index stream of the trace (keys.h) -> its value (durations for duration streams):
  // what ForEachStream visits, as a map.
  std::map<std::string, std::string> Streams() const;
  // The number of streams ForEachStream visits.
  size_t stream_count() const;

  // The index value of a duration term (EncodeDurations of its distinct durations; of none when
  // the trace has no such fine term).
  std::string DurationValue(const DurationTerm& term) const;
  // Valid until the next Add.
  const DependencyCounts& calls() const;
  // An estimate of the memory held, for cache budgets.
  size_t ApproximateBytes() const { return bytes_; }

 private:
  static constexpr uint32_t kNone = 0xffffffff;
  // Unfolded durations beyond which Add folds them.
  static constexpr size_t kMaxUnfoldedDurations = 3 * 1024;
  // Fine duration term keys: id (a service or operation index, 0 for every span) << 24 | scope
  // << 8 | class, with scope 0 = any, 1 = service, 2 = operation.
  static uint64_t DurationKey(uint32_t id, int scope, int duration_class) {
    return (uint64_t{id} << 24) | (static_cast<uint64_t>(scope) << 8) |
           static_cast<uint64_t>(duration_class);
  }

  // The durations of a scope's spans (for the stored streams' ranges): min > max while none.
  struct DurationRange {
    int64_t min = std::numeric_limits<int64_t>::max();
    int64_t max = std::numeric_limits<int64_t>::min();
    void Add(int64_t d) {
      min = d < min ? d : min;
      max = d > max ? d : max;
    }
  };
  // The stored value of a time, service or operation stream: the range of its spans' durations
  // (every span has one, so an empty range does not happen; it would read as "any duration").
  static SegmentEntry::Range StoredRange(const DurationRange& d);
  struct Service {
    std::string_view name;  // in arena_
    uint32_t span_count = 0;
    uint32_t error_count = 0;
    DurationRange durations;
  };
  struct Operation {
    uint32_t service = 0;
    std::string_view name;  // in arena_
    DurationRange durations;
  };
  struct Tag {
    std::string_view key;    // in arena_ (keys_[key_id])
    std::string_view value;  // in arena_
    uint32_t key_id = 0;
    // Bit s: the tag is on a span of service s < 64 (an 'a' stream); services >= 64 are in
    // wide_service_tags_.
    uint64_t services = 0;
  };
  struct OperationKey {
    uint32_t service;
    absl::string_view name;
    friend bool operator==(const OperationKey&, const OperationKey&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const OperationKey& k) {
      return H::combine(std::move(h), k.service, k.name);
    }
  };
  struct TagKey {
    absl::string_view key;
    absl::string_view value;
    friend bool operator==(const TagKey&, const TagKey&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const TagKey& k) {
      return H::combine(std::move(h), k.key, k.value);
    }
  };
  struct CallKey {
    int64_t slot;
    uint32_t parent;
    uint32_t child;
    friend bool operator==(const CallKey&, const CallKey&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const CallKey& k) {
      return H::combine(std::move(h), k.slot, k.parent, k.child);
    }
  };
  // What one Add changed, for Delta.
  struct Changes {
    using Recording = Delta::Recording;
    Recording recording = Recording::kSets;  // of streams and durations (calls always)
    Delta* delta = nullptr;
    std::vector<uint64_t> durations;  // kSets: fine duration keys whose durations changed
    absl::flat_hash_map<CallKey, CallCounts> calls;

    // A new stream: `make()` encodes it for kSets.
    template <typename Make>
    void Stream(char type, uint32_t id, uint64_t key, Make make) {
      if (recording == Recording::kSets) delta->streams.insert(make());
      if (recording == Recording::kCompact) delta->changed.push_back({type, id, key});
    }
  };

  // The passes of Add over one chunk, and the state they hand on (trace_terms_builder.cc).
  struct ChunkPass;
  struct SpanTimes {
    int64_t start;
    int64_t end;
  };
  // Pass 1: claims the span ID of every span of the chunk (with its service, new services
  // numbered after the known ones). On a repeated span ID, releases the IDs claimed and returns
  // false.
  bool ClaimSpans(ChunkPass& pass);
  uint32_t ServiceIndexOf(std::string_view name, ChunkPass& pass) const;
  // Releases the span IDs of the first `count` spans of `chunk`.
  void UnclaimSpans(const WireTraces& chunk, size_t count);
  // Sets up what the chunk's changes are recorded in, and interns its new services.
  void BeginChanges(ChunkPass& pass, Delta* delta);
  // Pass 2: each span's summary counts, operation, tags, durations, and parent or root.
  void AddSpans(ChunkPass& pass);
  SpanTimes CountSpan(const WireTraces::Span& span, uint32_t service);
  void AddSpanDurations(const SpanTimes& times, uint32_t service, uint32_t operation,
                        Changes* changes);
  void AddSpanParent(const WireTraces::Span& span, int64_t start, uint32_t service,
                     uint32_t operation, Changes* changes);
  // Pass 3: the calls of earlier spans that waited for one of the chunk's spans as their parent.
  void ResolveOrphans(ChunkPass& pass);
  uint32_t InternOperation(uint32_t service, std::string_view name, Changes* changes);
  void AddTag(uint32_t service, std::string_view key, std::string_view value, Changes* changes);
  void AddDuration(uint64_t key, int64_t duration, Changes* changes) const;
  // Moves unfolded_durations_ into fine_durations_ and coarse_durations_.
  void FoldDurations() const;
  void AddCall(int64_t start, uint32_t parent, uint32_t child, bool failed, Changes* changes);
  // Calls `fn(stream, value)` for the streams in ascending byte order: ForEachStream's walk.
  template <typename Fn>
  void VisitStreams(Fn&& fn) const;
  // Completes an Add: the summary, and the delta (every stream and fine duration term of the
  // state with `record_all`, on a first write).
  void Finish(Changes* changes, bool record_all, Delta* delta);
  // The fine duration term of a duration key.
  DurationTerm TermOf(uint64_t key) const;
  // Sets `*out` to the stream of a duration key (type kDurationIndex or kFineDurationIndex).
  void EncodeDurationStream(char type, uint64_t key, std::string* out) const;
  size_t ComputeBytes() const;

  const IndexOptions& options_;
  TraceSummary summary_;
  int64_t end_ns_ = 0;
  DurationRange durations_;  // of every span
  terms_internal::StringArena arena_;
  std::vector<Service> services_;
  absl::flat_hash_map<absl::string_view, uint32_t> service_ids_;
  std::vector<Operation> operations_;
  absl::flat_hash_map<OperationKey, uint32_t> operation_ids_;
  // Distinct tag keys (for ordering), and tags ('A' streams, and 'a' streams through services).
  std::vector<std::string_view> keys_;
  absl::flat_hash_map<absl::string_view, uint32_t> key_ids_;
  std::vector<Tag> tags_;
  absl::flat_hash_map<TagKey, uint32_t> tag_ids_;
  // service index << 32 | tag index for services >= 64.
  absl::flat_hash_set<uint64_t> wide_service_tags_;
  size_t service_tag_count_ = 0;  // 'a' streams
  // Fine duration terms ('e' streams, with their durations) and coarse ones ('d' streams).
  // Mutable: folded in from unfolded_durations_ by const readers.
  mutable absl::flat_hash_map<uint64_t, terms_internal::DurationSet> fine_durations_;
  mutable absl::flat_hash_set<uint64_t> coarse_durations_;
  mutable size_t duration_bytes_ = 0;  // heap held by the DurationSets
  // (fine duration key, duration) of the spans added while nothing recorded duration changes
  // (recording kNone), not yet in fine_durations_ and coarse_durations_: folded in when those
  // are read, or when many. So a writer that reads only GetSegmentEntry (whose duration
  // ranges come from the services and operations) never builds the duration-class terms.
  mutable std::vector<std::pair<uint64_t, int64_t>> unfolded_durations_;
  // A span as the parent of calls.
  struct SpanParent {
    uint32_t service = 0;
    bool fails_calls = false;  // CallFailure::as_parent
  };
  // span ID -> its service index and CallFailure.
  terms_internal::SpanIdMap<SpanParent> span_services_;
  TraceRoots roots_;
  absl::flat_hash_map<CallKey, CallCounts> call_counts_;
  mutable DependencyCounts calls_;  // call_counts_ by name, filled by calls()
  mutable bool calls_stale_ = false;
  mutable size_t bytes_ = 0;
};

}  // namespace tailtrace::storage
