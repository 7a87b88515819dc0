#pragma once

// The storage seam: everything the collector writes and the query API reads goes through
// TraceStore. The RocksDB implementation is RocksTraceStore (rocks_trace_store.h); unit tests use
// InMemoryTraceStore (in_memory_trace_store.h), whose search is the brute-force reference that
// RocksTraceStore's indexes must reproduce exactly.
//
// ---- Search semantics (FindTraces), shared by every implementation ----
//
// Definitions, over all spans ever written for a trace (every chunk):
// - A span's service is the service.name string attribute of its resource, else
//   "unknown_service" (ServiceNameOf). Its duration is end - start in nanoseconds (0 when the end
//   is before the start). Times above INT64_MAX nanoseconds are taken as INT64_MAX.
// - The trace start is the earliest span start; the trace end is the latest span end (or start,
//   whichever is later); trace duration = end - start.
// - A span's tags are (key, value) string pairs: each span attribute and each resource attribute
//   except service.name, with the value stringified by IndexValueString (strings as they are,
//   "true"/"false", decimal integers, doubles as printf "%.10g" like Jaeger's AsString, bytes as
//   base64, arrays and maps as the JSON our Jaeger API renders for them); plus the tags derived
//   from the span's scope, kind, status and trace state that our Jaeger API shows too
//   (storage/span_tags.h: otel.scope.name, otel.scope.version, span.kind, otel.status_code,
//   error, otel.status_description, w3c.tracestate). A tag is indexed unless its key is in
//   IndexOptions::exclude_keys or its key or value is longer than IndexOptions::max_value_length
//   (IsIndexedTag). Event attributes and links are not tags.
// - The trace's sampling decision (see "Sampling decision") is a fact of the whole trace, shown by
//   the Jaeger API as the tags sampling.policy (when the policy is not "") and sampling.rate (when
//   the rate is above 0, as a double: printf "%.10g") of its root spans. Conditions on these two
//   keys compare the decision, never a span's attributes (SamplingTagMatches); a span attribute
//   with either key cannot be searched.
//
// A trace matches a TraceQuery when every condition that is set holds. Let "scope spans" be the
// spans of `service` (every span when `service` is empty):
// - service:    the trace has a span of `service`.
// - operation:  a span of `service` is named `operation` (operation requires service).
// - attributes: for EACH (key, value), some scope span has that tag. Different pairs may be
//               satisfied by different spans. For sampling.policy and sampling.rate: the trace's
//               decision has that value (whatever `service` is).
// - duration:   some scope span (also named `operation` when that is set) has
//               duration_min_ns <= duration <= duration_max_ns (a missing bound is open).
// - time:       start_time_min_ns <= trace start <= start_time_max_ns (a missing bound is open).
//               Time bounds apply to the trace start, not to the start of individual spans.
// Results are ordered newest first: by trace start descending, then by trace ID descending
// (bytewise); the first `limit` of that order are returned.
//
// FindTraces refuses (InvalidArgument, naming the field) a query with limit <= 0, an operation
// without a service, a negative duration bound, duration_min > duration_max, start_time_min >
// start_time_max, an empty attribute key, or an attribute that can never be indexed (excluded
// key, key or value longer than max_value_length): see ValidateTraceQuery.
//
// ---- Archive semantics (ArchiveTrace, GetArchivedTrace) ----
//
// The archive keeps copies of traces that a user chose to keep (the Jaeger UI's "Archive Trace"
// button): an archived copy is never removed by retention or by max_disk_bytes, and it is
// separate from the trace as stored by Write (a later Write of the trace does not change the
// copy; retention removing the trace does not remove the copy).
// - ArchiveTrace(trace) merges `trace` into the archived copy of trace.trace_id: the copy becomes
//   the union of the spans already archived and the spans of `trace`, where a span whose span ID
//   is already archived under the same resource and scope (compared by their serialized bytes) is
//   the same span and is not added again. So archiving the same trace again changes nothing
//   (idempotent), archiving it after late spans arrived adds them, and no archived span is ever
//   lost. The sampling policy and rate of the first archived copy stay, unless it had no policy
//   and a later copy has one.
// - A trace without spans archives nothing (OK). A truncated trace (StoredTrace::truncated) is
//   refused with InvalidArgument: the archive holds whole traces.
// - GetArchivedTrace answers the archived copy (never truncated), or nullopt when the trace was
//   never archived.
//
// ---- Tag suggestion semantics (SuggestTags) ----
//
// What a UI offers while a user writes a tag filter: the tag keys, or the values of one key, that
// the search index holds for the traces of a time window. Definitions as in "Search semantics":
// - Tags: the indexed tags (IsIndexedTag under the store's IndexOptions as they are now, so a key
//   added to exclude_keys is not suggested from traces stored before either) of the spans of
//   `service` (every span when empty): span and resource attributes, the synthetic tags (error,
//   span.kind, otel.status_code, ...) and the events' tags. A tag whose key is empty, or is
//   sampling.policy or sampling.rate, is not suggested (no search can name it: those keys search
//   the sampling decision, which is not in the index and not suggested either).
// - Window: the traces whose start lies in [start_time_min_ns, start_time_max_ns], widened to
//   whole index slots (kIndexSlotNs, 10 s; starts below 0 count as 0): a trace that starts up to
//   10 s outside the window may count. In RocksTraceStore, a trace whose start moved earlier
//   through late spans may also still count at its former start.
// - Answer: the distinct keys (with `key` empty) or the distinct values of `key`, sorted bytewise
//   ascending, the first `limit` of them.
// - Bounded work: RocksTraceStore reads index keys only, never a trace, newest bucket first; it
//   stops after StoreOptions::tag_scan_max_keys index reads and then answers what it found so far
//   (the names of the newest buckets, sorted, at most `limit`).
// SuggestTags refuses (InvalidArgument, naming the field) limit <= 0, start_time_min_ns >
// start_time_max_ns, and a `key` that can never be indexed (excluded, or longer than
// max_value_length): see ValidateTagSuggestionQuery.
//
// ---- Dependency semantics (GetDependencies) ----
//
// A call parent -> child is a span C with a parent_span_id such that a span P of the same trace
// has that span ID and a different service (when several spans share P's span ID, the smallest
// service name among them is P's service). Calls are counted per dependency time slot
// (kDependencySlotNs) of C's start time. GetDependencies(end, lookback) sums the calls whose slot
// is between the slot of (end - lookback) and the slot of end, inclusive. Links are not calls.
// A parent and its child may arrive in different writes of the trace (in either order): the call
// counts once both are stored. A child whose parent never arrives (or whose parent was in a part
// of the trace that retention already removed) is no call.
// A call failed when C's status is ERROR, or when P is a CLIENT or PRODUCER span with status
// ERROR (the call itself failed); when several spans share P's span ID, P fails its calls when
// any of them of P's service does. The service graph counts failed calls by the same rule
// (CallFailureOf, CallParent, CallFailed). GetDependencies sums the failed calls along with the
// calls (DependencyLink::error_count).
//
// With StoreOptions::dependencies_from_traces false (the daemon with span metrics on), writes of
// traces count no calls: GetDependencies sums only what WriteDependencyCalls added (the service
// graph counts the same calls from every trace, kept or not, before sampling).

#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "proto/otlp_ids.h"
#include "storage/metric_points.h"
#include "storage/options.h"

namespace tailtrace::storage {

// Spans of one trace to be written, grouped by resource and scope as OTLP groups them. Writing
// the same trace again (late spans) adds to it; nothing is overwritten.
struct TraceWrite {
  TraceId trace_id;
  // Every span in here belongs to trace_id. Not owned; must outlive the Write call. May be null
  // when `spans_bytes` is set: a store then reads the spans from the bytes.
  const opentelemetry::proto::trace::v1::TracesData* spans = nullptr;
  // The sampling policy that kept the trace ("" when none applies).
  std::string sampling_policy;
  // 1 / probability of keeping such a trace; 1 keeps all.
  double sample_rate = 1.0;
  // Wire bytes of a TracesData that parses to exactly `*spans` (e.g. the bytes `spans` was parsed
  // from), or, with `spans` null, the spans themselves. A store that keeps serialized spans keeps
  // these instead of serializing `spans` again. Not owned; must outlive the Write call.
  std::string_view spans_bytes;
};

// ---- Sampling decision ----
// A trace written in several parts (late spans, a trace archived again) has one sampling policy
// and rate: those of its first part, unless that part has no policy and a later one has (then the
// first such part's). GetTrace, GetArchivedTrace and the summaries of FindTraces answer it;
// MergeSamplingDecision applies the rule.

// Adds the decision of a later part (`policy`, `rate`) to the decision of the parts before it
// (`*trace_policy`, `*trace_rate`).
inline void MergeSamplingDecision(std::string_view policy, double rate, std::string* trace_policy,
                                  double* trace_rate) {
  if (!trace_policy->empty() || policy.empty()) return;
  trace_policy->assign(policy);
  *trace_rate = rate;
}

// A trace read back: all spans ever written for it, grouped by resource and scope.
struct StoredTrace {
  TraceId trace_id;
  opentelemetry::proto::trace::v1::TracesData data;
  // The trace's sampling decision (see "Sampling decision").
  std::string sampling_policy;
  // As TraceWrite's; 0 for a trace tailtraced did not sample (e.g. an uploaded file), which is
  // rendered without sampling tags.
  double sample_rate = 1.0;
  // Set by GetTraceUpTo when the trace has more spans than asked for: `data` then holds only the
  // spans read before the bound was passed (more than max_spans of them, whole chunks).
  bool truncated = false;
};

struct Operation {
  std::string name;
  // OTLP SpanKind number (0 unspecified .. 5 consumer).
  int span_kind = 0;
  friend bool operator==(const Operation&, const Operation&) = default;
  friend auto operator<=>(const Operation&, const Operation&) = default;
};

struct StoreStats {
  uint64_t traces_written = 0;  // trace writes (a late-span write counts again)
  uint64_t spans_written = 0;
  uint64_t disk_bytes = 0;       // live SST + WAL bytes on disk
  uint64_t buckets = 0;          // live retention buckets (RocksTraceStore only)
  uint64_t buckets_dropped = 0;  // buckets dropped by retention or max_disk_bytes since open
  // Late chunks whose trace had to be read back to index them (not in the index state cache).
  uint64_t trace_rereads = 0;
  // RocksTraceStore only: flushes and compactions running or due, and the bytes RocksDB estimates
  // its compactions still have to rewrite (the store's compaction debt).
  uint64_t background_jobs = 0;
  uint64_t pending_compaction_bytes = 0;
};

// A trace search; see "Search semantics" above. Times and durations in nanoseconds.
struct TraceQuery {
  // "" = any service.
  std::string service;
  // "" = any operation; requires `service`.
  std::string operation;
  // (key, value) tags, all of which must match (AND).
  std::vector<std::pair<std::string, std::string>> attributes;
  std::optional<int64_t> start_time_min_ns;
  std::optional<int64_t> start_time_max_ns;
  std::optional<int64_t> duration_min_ns;
  std::optional<int64_t> duration_max_ns;
  // At most this many traces, newest first. Must be > 0.
  int limit = 100;
};

struct ServiceSummary {
  std::string name;
  uint32_t span_count = 0;
  uint32_t error_count = 0;  // spans with status ERROR
  friend bool operator==(const ServiceSummary&, const ServiceSummary&) = default;
};

// What a search lists without loading whole traces.
struct TraceSummary {
  TraceId trace_id;
  // Service and name of the root span: the earliest (then smallest span ID) span without a
  // parent; if every span has a parent, the earliest orphan (parent not in the trace); if there
  // is none either, the earliest span.
  std::string root_service;
  std::string root_operation;
  int64_t start_ns = 0;     // trace start (earliest span start)
  int64_t duration_ns = 0;  // trace end - trace start
  uint32_t span_count = 0;
  uint32_t error_count = 0;              // spans with status ERROR
  uint32_t orphan_span_count = 0;        // spans whose parent span is not in the trace
  std::vector<ServiceSummary> services;  // sorted by name
  // The trace's sampling decision, as GetTrace answers it (StoredTrace::sampling_policy and
  // sample_rate, see "Sampling decision"). "" and 0 when unknown: a summary a version before
  // these fields wrote (a later write of the trace adds the decision of that write).
  std::string sampling_policy;
  double sample_rate = 0;
  friend bool operator==(const TraceSummary&, const TraceSummary&) = default;
};

// Which tag keys, or values of one key, to suggest; see "Tag suggestion semantics". Times in
// nanoseconds.
struct TagSuggestionQuery {
  // "" = any service.
  std::string service;
  // "": suggest tag keys. Else: suggest the values of this key.
  std::string key;
  int64_t start_time_min_ns = 0;
  int64_t start_time_max_ns = std::numeric_limits<int64_t>::max();
  // At most this many names. Must be > 0.
  int limit = 100;
};

// Calls from spans of `parent` to spans of `child`.
struct DependencyLink {
  std::string parent;
  std::string child;
  uint64_t call_count = 0;
  uint64_t error_count = 0;  // of call_count, the failed calls (<= call_count)
  friend bool operator==(const DependencyLink&, const DependencyLink&) = default;
};

// What a span adds to whether the calls it takes part in failed ("Dependency semantics").
struct CallFailure {
  bool as_parent = false;  // a CLIENT or PRODUCER span with status ERROR: its calls failed
  bool as_child = false;   // status ERROR: the call to it failed
};

// The CallFailure of a span of OTLP SpanKind `span_kind` with Status.code `status_code`.
constexpr CallFailure CallFailureOf(int span_kind, int status_code) {
  using opentelemetry::proto::trace::v1::Span;
  const bool error = status_code == opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR;
  const bool outgoing =
      span_kind == Span::SPAN_KIND_CLIENT || span_kind == Span::SPAN_KIND_PRODUCER;
  return CallFailure{error && outgoing, error};
}

// Whether a call failed: `parent_fails` is CallFailure::as_parent of its parent (true when it is
// of any span with the parent's span ID and service, see CallParent), `child_fails`
// CallFailure::as_child of its child.
constexpr bool CallFailed(bool parent_fails, bool child_fails) {
  return parent_fails || child_fails;
}

// The parent of the calls to the children of a span ID, from the spans with that ID seen so far
// (in any order): the smallest service name among them, failing its calls when any span of that
// ID and service does. `Name` is std::string or std::string_view.
template <typename Name>
struct CallParent {
  Name service;
  bool fails = false;
  // One more span with the ID.
  void Merge(const Name& span_service, CallFailure failure) {
    if (span_service < service) {
      service = span_service;
      fails = failure.as_parent;
    } else if (span_service == service) {
      fails = fails || failure.as_parent;
    }
  }
};

// A span time as tailtrace keeps it: the OTLP nanoseconds clamped to [0, INT64_MAX].
inline int64_t ClampSpanTime(uint64_t ns) {
  return ns > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(ns);
}

// Calls are counted per slot of this width (of the child span's start time).
inline constexpr int64_t kDependencySlotNs = 60ll * 1'000'000'000;

// Calls counted outside the store (the service graph, spanmetrics/service_graph.h), added with
// WriteDependencyCalls: `calls` calls from `parent` to `child` whose child span started at
// `time_ns` (counted in that time's slot), `failed` of them failed.
struct DependencyCalls {
  int64_t time_ns = 0;
  std::string parent;
  std::string child;
  uint64_t calls = 0;
  uint64_t failed = 0;  // <= calls
  friend bool operator==(const DependencyCalls&, const DependencyCalls&) = default;
};

// The keys of the trace's sampling decision as tags (see "Search semantics").
inline constexpr std::string_view kSamplingPolicyTag = "sampling.policy";
inline constexpr std::string_view kSamplingRateTag = "sampling.rate";

// Whether `key` names the trace's sampling decision rather than span tags.
inline bool IsSamplingTag(std::string_view key) {
  return key == kSamplingPolicyTag || key == kSamplingRateTag;
}

// Whether a decision has (shows, and a search finds) a sampling.policy tag: its policy is known.
inline bool HasSamplingPolicyTag(std::string_view policy) { return !policy.empty(); }
// Whether a decision has a sampling.rate tag: its rate is known (above 0).
inline bool HasSamplingRateTag(double rate) { return rate > 0; }

// A sampling rate as the sampling.rate tag's value is compared: as tag values of doubles are
// (DoubleText in proto/any_value_text.h: 10 is "10", 1/0.3 is "3.333333333").
std::string SamplingRateText(double rate);

// Whether the decision (`policy`, `rate`) satisfies every condition of `query` on a sampling tag:
// sampling.policy = the policy, sampling.rate = SamplingRateText(rate), each only when the
// decision has that tag. True when there is no such condition.
bool SamplingTagMatches(const TraceQuery& query, std::string_view policy, double rate);

// OK, or InvalidArgument naming the offending field (see "Search semantics").
[[nodiscard]] absl::Status ValidateTraceQuery(const TraceQuery& query,
                                              const IndexOptions& index_options);

// OK, or InvalidArgument naming the offending field (see "Tag suggestion semantics").
[[nodiscard]] absl::Status ValidateTagSuggestionQuery(const TagSuggestionQuery& query,
                                                      const IndexOptions& index_options);

// The spans of each write: `spans`, or, where it is null, `spans_bytes` parsed into a new entry
// of `*parsed` (which must outlive the answer). InvalidArgument naming the write when neither
// is given or the bytes are not a TracesData.
[[nodiscard]] absl::StatusOr<std::vector<const opentelemetry::proto::trace::v1::TracesData*>>
SpansOfWrites(std::span<const TraceWrite> traces,
              std::deque<opentelemetry::proto::trace::v1::TracesData>* parsed);

// OK, or InvalidArgument naming the offending entry (see WriteDependencyCalls).
[[nodiscard]] absl::Status ValidateDependencyCalls(std::span<const DependencyCalls> calls);

// The number of spans in `data`.
inline uint64_t SpanCountOf(const opentelemetry::proto::trace::v1::TracesData& data) {
  uint64_t n = 0;
  for (const auto& rs : data.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) n += static_cast<uint64_t>(ss.spans_size());
  }
  return n;
}

// Thread-safe: every method may be called concurrently.
class TraceStore {
 public:
  virtual ~TraceStore() = default;

  // Writes several traces atomically (one batch). Unavailable for a retryable failure (e.g. disk
  // full), another code for a permanent one; on error nothing of the batch is stored.
  [[nodiscard]] virtual absl::Status Write(std::span<const TraceWrite> traces) = 0;

  // The whole trace, or nullopt if no span of it is stored.
  [[nodiscard]] virtual absl::StatusOr<std::optional<StoredTrace>> GetTrace(const TraceId& id) = 0;

  // As GetTrace, but stops reading once more than `max_spans` spans were read (0: no bound) and
  // returns what was read with `truncated` set, so that a huge trace costs at most about
  // max_spans spans of memory. The default implementation reads the whole trace first (for test
  // doubles).
  [[nodiscard]] virtual absl::StatusOr<std::optional<StoredTrace>> GetTraceUpTo(
      const TraceId& id, uint64_t max_spans) {
    absl::StatusOr<std::optional<StoredTrace>> trace = GetTrace(id);
    if (trace.ok() && trace->has_value() && max_spans > 0 &&
        SpanCountOf((*trace)->data) > max_spans) {
      (*trace)->truncated = true;
    }
    return trace;
  }

  // Every service name seen, sorted.
  [[nodiscard]] virtual absl::StatusOr<std::vector<std::string>> GetServices() = 0;

  // The operations of `service`, sorted by name then kind; `span_kind` < 0 means every kind.
  [[nodiscard]] virtual absl::StatusOr<std::vector<Operation>> GetOperations(
      const std::string& service, int span_kind = -1) = 0;

  // The summaries of the traces matching `query`, newest first (see "Search semantics").
  // InvalidArgument for a query ValidateTraceQuery refuses. The default implementation answers
  // Unimplemented (for test doubles).
  [[nodiscard]] virtual absl::StatusOr<std::vector<TraceSummary>> FindTraces(
      const TraceQuery& query) {
    (void)query;
    return absl::UnimplementedError("this trace store cannot search traces");
  }

  // The tag keys, or the values of query.key, that the index holds for the traces of the window
  // (see "Tag suggestion semantics"), sorted, at most query.limit. InvalidArgument for a query
  // ValidateTagSuggestionQuery refuses. The default implementation answers Unimplemented (for
  // test doubles).
  [[nodiscard]] virtual absl::StatusOr<std::vector<std::string>> SuggestTags(
      const TagSuggestionQuery& query) {
    (void)query;
    return absl::UnimplementedError("this trace store cannot suggest tags");
  }

  // Calls between services whose child span started in [end_ns - lookback_ns, end_ns] (at slot
  // granularity, see "Dependency semantics"), with their failed calls, sorted by parent then
  // child. InvalidArgument when
  // lookback_ns < 0. The default implementation answers Unimplemented (for test doubles).
  [[nodiscard]] virtual absl::StatusOr<std::vector<DependencyLink>> GetDependencies(
      int64_t end_ns, int64_t lookback_ns) {
    (void)end_ns;
    (void)lookback_ns;
    return absl::UnimplementedError("this trace store cannot compute dependencies");
  }

  // Adds `points` to the span metrics history (metric_points.h), atomically. InvalidArgument for a
  // point whose counts do not have one more entry than its bounds, or with a negative time;
  // Unavailable for a retryable failure. The default implementation answers Unimplemented (for
  // test doubles).
  [[nodiscard]] virtual absl::Status WriteMetricPoints(std::span<const MetricPoint> points) {
    (void)points;
    return absl::UnimplementedError("this trace store keeps no span metrics");
  }

  // The stored points of query.services whose slot starts in [start_ns, end_ns], sorted by
  // series then time. InvalidArgument when no service is given or start_ns > end_ns. The default
  // implementation answers Unimplemented (for test doubles).
  [[nodiscard]] virtual absl::StatusOr<std::vector<MetricPoint>> ReadMetricPoints(
      const MetricPointQuery& query) {
    (void)query;
    return absl::UnimplementedError("this trace store keeps no span metrics");
  }

  // Adds calls to what GetDependencies answers (kept with the data written now: they expire with
  // it). InvalidArgument for a negative time, an empty service name or more failed calls than
  // calls. The default implementation answers Unimplemented (for test doubles).
  [[nodiscard]] virtual absl::Status WriteDependencyCalls(std::span<const DependencyCalls> calls) {
    (void)calls;
    return absl::UnimplementedError("this trace store cannot add dependency calls");
  }

  // Merges `trace` into its archived copy (see "Archive semantics"). Unavailable for a retryable
  // failure (e.g. disk full): then the archived copy is as before. The default implementation
  // answers Unimplemented (for test doubles).
  [[nodiscard]] virtual absl::Status ArchiveTrace(const StoredTrace& trace) {
    (void)trace;
    return absl::UnimplementedError("this trace store keeps no trace archive");
  }

  // The archived copy of the trace, or nullopt when it was never archived (see "Archive
  // semantics"). The default implementation answers Unimplemented (for test doubles).
  [[nodiscard]] virtual absl::StatusOr<std::optional<StoredTrace>> GetArchivedTrace(
      const TraceId& id) {
    (void)id;
    return absl::UnimplementedError("this trace store keeps no trace archive");
  }

  // Makes everything written so far durable (memtables flushed).
  [[nodiscard]] virtual absl::Status Flush() = 0;

  virtual StoreStats Stats() const = 0;

  // Whether the store can take writes now: OK, or Unavailable naming the cause (disk full, out
  // of file descriptors, any write error the store is still recovering from). Receivers refuse
  // new data while it is not OK. Cheap enough for every request (an atomic load when OK).
  [[nodiscard]] virtual absl::Status WriteHealth() const { return absl::OkStatus(); }
};

}  // namespace tailtrace::storage
