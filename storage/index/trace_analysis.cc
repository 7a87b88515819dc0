#include "storage/index/trace_analysis.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <limits>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "proto/any_value_text.h"
#include "proto/otlp_wire_fields.h"
#include "proto/span_kind.h"

namespace tailtrace::storage {
namespace {

namespace common = opentelemetry::proto::common::v1;
namespace trace_v1 = opentelemetry::proto::trace::v1;

struct SpanView {
  const trace_v1::ResourceSpans* rs;
  const trace_v1::ScopeSpans* ss;
  const trace_v1::Span* span;
  const std::string* service;
};

template <typename Fn>
void ForEachSpan(TraceChunks chunks, Fn&& fn) {
  for (const trace_v1::TracesData* data : chunks) {
    for (const auto& rs : data->resource_spans()) {
      const std::string service = ServiceNameOf(rs);
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& span : ss.spans()) fn(SpanView{&rs, &ss, &span, &service});
      }
    }
  }
}

// span_id -> the parent of the calls to its children (see CallParent).
absl::flat_hash_map<std::string, CallParent<std::string>> SpanServices(TraceChunks chunks) {
  absl::flat_hash_map<std::string, CallParent<std::string>> out;
  ForEachSpan(chunks, [&](const SpanView& s) {
    const CallFailure failure = CallFailureOfSpan(*s.span);
    auto [it, inserted] =
        out.try_emplace(s.span->span_id(), CallParent<std::string>{*s.service, failure.as_parent});
    if (!inserted) it->second.Merge(*s.service, failure);
  });
  return out;
}

}  // namespace

const common::KeyValue* ServiceNameAttribute(const trace_v1::ResourceSpans& rs) {
  for (const auto& kv : rs.resource().attributes()) {
    if (kv.key() == kServiceNameKey && kv.value().has_string_value()) return &kv;
  }
  return nullptr;
}

std::string ServiceNameOf(const trace_v1::ResourceSpans& rs) {
  const common::KeyValue* kv = ServiceNameAttribute(rs);
  return kv != nullptr ? kv->value().string_value() : std::string(kUnknownServiceName);
}

int64_t SpanStartNs(const trace_v1::Span& span) {
  return ClampSpanTime(span.start_time_unix_nano());
}

int64_t SpanEndNs(const trace_v1::Span& span) { return ClampSpanTime(span.end_time_unix_nano()); }

int64_t SpanDurationNs(const trace_v1::Span& span) {
  const int64_t start = SpanStartNs(span);
  const int64_t end = SpanEndNs(span);
  return end > start ? end - start : 0;
}

std::string IndexValueString(const common::AnyValue& v) {
  std::string scratch;
  const std::string_view view = IndexValueView(v, &scratch);
  if (view.data() == scratch.data()) return scratch;
  return std::string(view);
}

std::string_view IndexValueView(const WireValue& v, std::string* scratch) {
  using Kind = WireValue::Kind;
  switch (v.kind) {
    case Kind::kString:
      return v.bytes;
    case Kind::kBool:
      return v.number != 0 ? "true" : "false";
    case Kind::kInt: {
      char buf[24];
      const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(v.number));
      scratch->assign(buf, end);
      return *scratch;
    }
    case Kind::kDouble:
      return DoubleText(std::bit_cast<double>(v.number), scratch);
    case Kind::kBytes:
      *scratch = absl::Base64Escape(absl::string_view(v.bytes.data(), v.bytes.size()));
      return *scratch;
    case Kind::kComposite: {
      common::AnyValue parsed;
      if (!parsed.ParseFromArray(v.bytes.data(), static_cast<int>(v.bytes.size()))) return "";
      *scratch = PlainJson(parsed);
      return *scratch;
    }
    case Kind::kNone:
      break;
  }
  return "";
}

std::string_view IndexValueView(const common::AnyValue& v, std::string* scratch) {
  using Kind = WireValue::Kind;
  switch (v.value_case()) {
    case common::AnyValue::kStringValue:
      return v.string_value();
    case common::AnyValue::kBoolValue:
      return IndexValueView(WireValue{Kind::kBool, {}, v.bool_value()}, scratch);
    case common::AnyValue::kIntValue:
      return IndexValueView(WireValue{Kind::kInt, {}, static_cast<uint64_t>(v.int_value())},
                            scratch);
    case common::AnyValue::kDoubleValue:
      return IndexValueView(WireValue{Kind::kDouble, {}, std::bit_cast<uint64_t>(v.double_value())},
                            scratch);
    case common::AnyValue::kBytesValue:
      return IndexValueView(WireValue{Kind::kBytes, v.bytes_value(), 0}, scratch);
    case common::AnyValue::kArrayValue:
    case common::AnyValue::kKvlistValue:
      *scratch = PlainJson(v);  // as a composite WireValue renders, without a parse
      return *scratch;
    case common::AnyValue::VALUE_NOT_SET:
      break;
  }
  return "";
}

bool IsIndexedKey(std::string_view key, const IndexOptions& options) {
  if (key.size() > options.max_value_length) return false;
  return std::find(options.exclude_keys.begin(), options.exclude_keys.end(), key) ==
         options.exclude_keys.end();
}

bool IsIndexedTag(std::string_view key, std::string_view value, const IndexOptions& options) {
  return value.size() <= options.max_value_length && IsIndexedKey(key, options);
}

TraceSummary ComputeSummary(const TraceId& id, TraceChunks chunks) {
  TraceSummary summary;
  summary.trace_id = id;
  const absl::flat_hash_map<std::string, CallParent<std::string>> span_services =
      SpanServices(chunks);
  std::map<std::string, ServiceSummary> services;
  int64_t start = std::numeric_limits<int64_t>::max();
  int64_t end = 0;
  // Root candidates in rank order: 0 = no parent, 1 = orphan, 2 = any other span.
  using RootKey = std::tuple<int, int64_t, std::string, std::string, std::string>;
  std::optional<RootKey> root;
  ForEachSpan(chunks, [&](const SpanView& s) {
    const trace_v1::Span& span = *s.span;
    const int64_t span_start = SpanStartNs(span);
    start = std::min(start, span_start);
    end = std::max({end, span_start, SpanEndNs(span)});
    ++summary.span_count;
    const bool error = span.status().code() == trace_v1::Status::STATUS_CODE_ERROR;
    if (error) ++summary.error_count;
    ServiceSummary& svc = services[*s.service];
    svc.name = *s.service;
    ++svc.span_count;
    if (error) ++svc.error_count;
    int rank = 2;
    if (span.parent_span_id().empty()) {
      rank = 0;
    } else if (!span_services.contains(span.parent_span_id())) {
      rank = 1;
      ++summary.orphan_span_count;
    }
    RootKey key{rank, span_start, span.span_id(), *s.service, span.name()};
    if (!root || key < *root) {
      root = key;
      summary.root_service = *s.service;
      summary.root_operation = span.name();
    }
  });
  if (summary.span_count == 0) return summary;
  summary.start_ns = start;
  summary.duration_ns = end - start;
  for (auto& [name, svc] : services) summary.services.push_back(std::move(svc));
  return summary;
}

int64_t DependencySlot(int64_t time_ns) {
  // Floor division (times are never negative in practice, but stay correct if they are).
  int64_t q = time_ns / kDependencySlotNs;
  if (time_ns % kDependencySlotNs < 0) --q;
  return q;
}

DependencyCounts ComputeDependencyCalls(TraceChunks chunks) {
  const absl::flat_hash_map<std::string, CallParent<std::string>> span_services =
      SpanServices(chunks);
  DependencyCounts calls;
  ForEachSpan(chunks, [&](const SpanView& s) {
    const std::string& parent_id = s.span->parent_span_id();
    if (parent_id.empty()) return;
    auto it = span_services.find(parent_id);
    if (it == span_services.end() || it->second.service == *s.service) return;
    const bool failed = CallFailed(it->second.fails, CallFailureOfSpan(*s.span).as_child);
    calls[DependencyKey{DependencySlot(SpanStartNs(*s.span)), it->second.service, *s.service}] +=
        OneCall(failed);
  });
  return calls;
}

absl::StatusOr<DependencySlots> DependencySlotsOf(int64_t end_ns, int64_t lookback_ns) {
  if (lookback_ns < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("lookback must not be negative, got ", lookback_ns, " ns"));
  }
  const int64_t begin_ns = end_ns < std::numeric_limits<int64_t>::min() + lookback_ns
                               ? std::numeric_limits<int64_t>::min()
                               : end_ns - lookback_ns;
  return DependencySlots{DependencySlot(begin_ns), DependencySlot(end_ns)};
}

std::vector<DependencyLink> LinksOf(const EdgeCounts& sums) {
  std::vector<DependencyLink> out;
  for (const auto& [edge, count] : sums) {
    if (count.calls <= 0) continue;
    const int64_t failed = std::clamp<int64_t>(count.failed, 0, count.calls);
    out.push_back(DependencyLink{edge.first, edge.second, static_cast<uint64_t>(count.calls),
                                 static_cast<uint64_t>(failed)});
  }
  return out;
}

int DurationClass(int64_t duration_ns) {
  if (duration_ns <= 0) return 0;
  const int width = std::bit_width(static_cast<uint64_t>(duration_ns));  // 1..63
  return (width + 1) / 2;
}

int FineDurationClass(int64_t duration_ns) {
  if (duration_ns <= 0) return 0;
  const uint64_t d = static_cast<uint64_t>(duration_ns);
  const int width = std::bit_width(d);  // 1..63
  const uint64_t next_two_bits = width >= 3 ? (d >> (width - 3)) & 3 : (d << (3 - width)) & 3;
  return 4 * (width - 1) + 1 + static_cast<int>(next_two_bits);
}

int FirstFineClass(int coarse_class) { return coarse_class <= 0 ? 0 : 8 * (coarse_class - 1) + 1; }

int LastFineClass(int coarse_class) { return coarse_class <= 0 ? 0 : 8 * coarse_class; }

TraceIndexTerms ComputeIndexTerms(const TraceId& id, TraceChunks chunks,
                                  const IndexOptions& options) {
  TraceIndexTerms terms;
  terms.summary = ComputeSummary(id, chunks);
  terms.calls = ComputeDependencyCalls(chunks);
  ForEachSpan(chunks, [&](const SpanView& s) {
    const std::string& service = *s.service;
    const std::string& name = s.span->name();
    terms.services.insert(service);
    terms.operations.emplace(service, name);
    ForEachSpanTag(*s.rs, *s.ss, *s.span, [&](std::string_view key, std::string_view value) {
      if (!IsIndexedTag(key, value, options)) return;
      terms.service_tags.emplace(service, std::string(key), std::string(value));
      terms.tags.emplace(std::string(key), std::string(value));
    });
    const int64_t duration = SpanDurationNs(*s.span);
    const int coarse = DurationClass(duration);
    const int fine = FineDurationClass(duration);
    for (DurationTerm term :
         {DurationTerm{DurationScope::kAny, "", "", coarse, false},
          DurationTerm{DurationScope::kService, service, "", coarse, false},
          DurationTerm{DurationScope::kOperation, service, name, coarse, false}}) {
      terms.coarse_durations.insert(term);
      term.duration_class = fine;
      term.fine = true;
      terms.durations[std::move(term)].push_back(duration);
    }
  });
  for (auto& [term, values] : terms.durations) {
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
  }
  return terms;
}

}  // namespace tailtrace::storage
