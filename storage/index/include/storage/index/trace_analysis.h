#pragma once

// Pure functions that derive searchable facts from a trace's spans: tags as the index sees them,
// the trace summary, the dependency calls, and (for RocksTraceStore) the full set of index terms.
// The definitions are those of "Search semantics" and "Dependency semantics" in trace_store.h.
// Thread-safe (no state).

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "proto/span_kind.h"
#include "proto/wire_traces.h"
#include "storage/options.h"
#include "storage/span_tags.h"
#include "storage/trace_store.h"

namespace tailtrace::storage {

using TraceChunks = std::span<const opentelemetry::proto::trace::v1::TracesData* const>;

// The service.name resource attribute, or "unknown_service" (the SDKs' default) when absent.
std::string ServiceNameOf(const opentelemetry::proto::trace::v1::ResourceSpans& rs);

// Span times in nanoseconds, clamped to [0, INT64_MAX].
int64_t SpanStartNs(const opentelemetry::proto::trace::v1::Span& span);
int64_t SpanEndNs(const opentelemetry::proto::trace::v1::Span& span);
// end - start, or 0 when the end is before the start.
int64_t SpanDurationNs(const opentelemetry::proto::trace::v1::Span& span);

// CallFailureOf the span's kind and status.
inline CallFailure CallFailureOfSpan(const opentelemetry::proto::trace::v1::Span& span) {
  return CallFailureOf(span.kind(), span.status().code());
}

// An attribute value as the index stores it and a tag search compares it (see trace_store.h).
std::string IndexValueString(const opentelemetry::proto::common::v1::AnyValue& value);

// The same text as IndexValueString, without a copy where possible: a view of the string value
// itself, of a constant, or of `*scratch` (overwritten) for values that are rendered. The view
// is valid until `value` or `*scratch` changes.
std::string_view IndexValueView(const opentelemetry::proto::common::v1::AnyValue& value,
                                std::string* scratch);
// The same for a value read from wire bytes (proto/wire_traces.h).
std::string_view IndexValueView(const WireValue& value, std::string* scratch);

// Whether a tag is indexed under `options` (key not excluded, key and value not too long).
bool IsIndexedTag(std::string_view key, std::string_view value, const IndexOptions& options);
// Whether tags with `key` can be indexed under `options` (not excluded, not too long).
bool IsIndexedKey(std::string_view key, const IndexOptions& options);

// The resource attribute that names the service (the first one with key service.name and a
// string value), or null. ServiceNameOf is its value.
const opentelemetry::proto::common::v1::KeyValue* ServiceNameAttribute(
    const opentelemetry::proto::trace::v1::ResourceSpans& rs);

// The parts of ForEachSpanTag, each calling `fn(key, value)` in ForEachSpanTag's order. The
// value passed may point into `*scratch`: it is valid during the call only.
//   span attributes:
template <typename Fn>
void ForEachSpanAttributeTag(const opentelemetry::proto::trace::v1::Span& span,
                             std::string* scratch, Fn&& fn) {
  for (const auto& kv : span.attributes()) {
    const auto& v = kv.value();
    const std::string_view value =
        v.has_string_value() ? std::string_view(v.string_value()) : IndexValueView(v, scratch);
    fn(std::string_view(kv.key()), value);
  }
}
//   resource attributes except the service name attribute (the same for every span of `rs`):
template <typename Fn>
void ForEachResourceTag(const opentelemetry::proto::trace::v1::ResourceSpans& rs,
                        std::string* scratch, Fn&& fn) {
  const opentelemetry::proto::common::v1::KeyValue* service = ServiceNameAttribute(rs);
  for (const auto& kv : rs.resource().attributes()) {
    if (&kv == service) continue;
    const auto& v = kv.value();
    const std::string_view value =
        v.has_string_value() ? std::string_view(v.string_value()) : IndexValueView(v, scratch);
    fn(std::string_view(kv.key()), value);
  }
}
//   the scope's tags and the span's derived tags (kind, status, trace state): storage/span_tags.h.
//   span events, as Jaeger's log fields: "event" with the event's name (when set), then the
//   event's attributes:
inline constexpr std::string_view kEventTagKey = "event";
template <typename Fn>
void ForEachEventTag(const opentelemetry::proto::trace::v1::Span& span, std::string* scratch,
                     Fn&& fn) {
  for (const auto& event : span.events()) {
    if (!event.name().empty()) fn(std::string_view(kEventTagKey), std::string_view(event.name()));
    for (const auto& kv : event.attributes()) {
      const auto& v = kv.value();
      const std::string_view value =
          v.has_string_value() ? std::string_view(v.string_value()) : IndexValueView(v, scratch);
      fn(std::string_view(kv.key()), value);
    }
  }
}

// The same parts for spans read from wire bytes (proto/wire_traces.h).
template <typename Fn>
void ForEachSpanAttributeTag(const WireTraces& chunk, const WireTraces::Span& span,
                             std::string* scratch, Fn&& fn) {
  for (uint32_t i = span.attributes.begin; i < span.attributes.end; ++i) {
    const WireAttribute& a = chunk.span_attributes[i];
    fn(a.key, IndexValueView(a.value, scratch));
  }
}
template <typename Fn>
void ForEachResourceTag(const WireTraces& chunk, const WireTraces::Resource& rs,
                        std::string* scratch, Fn&& fn) {
  for (uint32_t i = rs.attributes.begin; i < rs.attributes.end; ++i) {
    if (static_cast<int64_t>(i) == rs.service_attribute) continue;
    const WireAttribute& a = chunk.resource_attributes[i];
    fn(a.key, IndexValueView(a.value, scratch));
  }
}
template <typename Fn>
void ForEachEventTag(const WireTraces& chunk, const WireTraces::Span& span, std::string* scratch,
                     Fn&& fn) {
  for (uint32_t e = span.events.begin; e < span.events.end; ++e) {
    const WireTraces::Event& event = chunk.events[e];
    if (!event.name.empty()) fn(std::string_view(kEventTagKey), event.name);
    for (uint32_t i = event.attributes.begin; i < event.attributes.end; ++i) {
      const WireAttribute& a = chunk.event_attributes[i];
      fn(a.key, IndexValueView(a.value, scratch));
    }
  }
}

// Calls `fn(key, value)` (both std::string_view, valid during the call only) for every tag of
// `span`: span attributes, resource attributes except service.name, then the derived tags
// (storage/span_tags.h: scope, kind, status, trace state) and the events' tags, indexed or not,
// possibly with repeated keys.
template <typename Fn>
void ForEachSpanTag(const opentelemetry::proto::trace::v1::ResourceSpans& rs,
                    const opentelemetry::proto::trace::v1::ScopeSpans& ss,
                    const opentelemetry::proto::trace::v1::Span& span, Fn&& fn) {
  std::string scratch;
  ForEachSpanAttributeTag(span, &scratch, fn);
  ForEachResourceTag(rs, &scratch, fn);
  if (ss.has_scope()) ForEachScopeTag(ss.scope(), fn);
  ForEachDerivedSpanTag(span, fn);
  ForEachEventTag(span, &scratch, fn);
}

// The summary of the trace made of all spans in `chunks`; requires at least one span.
TraceSummary ComputeSummary(const TraceId& id, TraceChunks chunks);

// A dependency count key: calls parent -> child whose child span started in slot `slot`
// (start_ns / kDependencySlotNs, rounded down).
struct DependencyKey {
  int64_t slot = 0;
  std::string parent;
  std::string child;
  friend auto operator<=>(const DependencyKey&, const DependencyKey&) = default;
  friend bool operator==(const DependencyKey&, const DependencyKey&) = default;
};

// The calls of one dependency key, and how many of them failed. Signed: a store adds the
// difference between two states of a trace.
struct CallCounts {
  int64_t calls = 0;
  int64_t failed = 0;
  CallCounts& operator+=(const CallCounts& o) {
    calls += o.calls;
    failed += o.failed;
    return *this;
  }
  CallCounts& operator-=(const CallCounts& o) {
    calls -= o.calls;
    failed -= o.failed;
    return *this;
  }
  friend bool operator==(const CallCounts&, const CallCounts&) = default;
};

// One call, failed or not.
inline CallCounts OneCall(bool failed) { return CallCounts{1, failed ? 1 : 0}; }
// The counts of calls added with WriteDependencyCalls.
inline CallCounts CountsOf(const DependencyCalls& c) {
  return CallCounts{static_cast<int64_t>(c.calls), static_cast<int64_t>(c.failed)};
}

using DependencyCounts = std::map<DependencyKey, CallCounts>;

// The calls of the trace made of all spans in `chunks`, counted per key.
DependencyCounts ComputeDependencyCalls(TraceChunks chunks);

// Sums of calls per edge (parent, child).
using EdgeCounts = std::map<std::pair<std::string, std::string>, CallCounts>;

// The links of GetDependencies from summed counts: the edges with calls, sorted by parent then
// child, their failed calls clamped to [0, calls].
std::vector<DependencyLink> LinksOf(const EdgeCounts& sums);

// The dependency slot of a time.
int64_t DependencySlot(int64_t time_ns);

// The dependency slots GetDependencies(end_ns, lookback_ns) sums: from the slot of
// end_ns - lookback_ns (saturating) to the slot of end_ns. InvalidArgument when lookback_ns < 0.
struct DependencySlots {
  int64_t first = 0;
  int64_t last = 0;
};
[[nodiscard]] absl::StatusOr<DependencySlots> DependencySlotsOf(int64_t end_ns,
                                                                int64_t lookback_ns);

// Durations are indexed in classes at two granularities. A coarse class covers a factor of 4:
// class 0 holds 0 ns, class c >= 1 holds [4^(c-1), 4^c - 1] ns; kDurationClasses classes cover
// every int64 duration. A fine class covers a factor of 2^(1/4): fine class 0 holds 0 ns, and
// for a duration with bit width w >= 1 the fine class is 4(w-1) + 1 + the two bits after the
// leading one. Coarse class c is exactly fine classes FirstFineClass(c)..LastFineClass(c) (some
// of which are empty for the smallest durations). A search reads coarse classes inside its
// range, and fine classes (whose entries hold the exact durations) at its edges.
inline constexpr int kDurationClasses = 33;
inline constexpr int kFineDurationClasses = 253;
int DurationClass(int64_t duration_ns);
int FineDurationClass(int64_t duration_ns);
int FirstFineClass(int coarse_class);
int LastFineClass(int coarse_class);

// Scopes of the duration index: every span, the spans of one service, or of one operation.
enum class DurationScope : char { kAny = '*', kService = 's', kOperation = 'o' };

struct DurationTerm {
  DurationScope scope = DurationScope::kAny;
  std::string service;    // "" for kAny
  std::string operation;  // "" unless kOperation
  int duration_class = 0;
  bool fine = false;  // a fine class (else coarse)
  friend auto operator<=>(const DurationTerm&, const DurationTerm&) = default;
  friend bool operator==(const DurationTerm&, const DurationTerm&) = default;
};

// Everything RocksTraceStore indexes for one trace, as a pure function of all its spans.
struct TraceIndexTerms {
  TraceSummary summary;
  std::set<std::string> services;
  std::set<std::pair<std::string, std::string>> operations;  // (service, span name)
  // Indexed tags per service, and over every service.
  std::set<std::tuple<std::string, std::string, std::string>> service_tags;  // (service, k, v)
  std::set<std::pair<std::string, std::string>> tags;                        // (k, v)
  // Coarse duration terms (their index entries have no value).
  std::set<DurationTerm> coarse_durations;
  // Fine duration terms with the distinct span durations of each, ascending.
  std::map<DurationTerm, std::vector<int64_t>> durations;
  DependencyCounts calls;
};

// Requires at least one span in `chunks`.
TraceIndexTerms ComputeIndexTerms(const TraceId& id, TraceChunks chunks,
                                  const IndexOptions& options);

}  // namespace tailtrace::storage
