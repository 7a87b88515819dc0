#include "storage/trace_terms_builder.h"

#include <algorithm>
#include <limits>

#include "absl/container/flat_hash_set.h"
#include "storage/keys.h"

namespace tailtrace::storage {
namespace {

namespace trace_v1 = opentelemetry::proto::trace::v1;

// Per map or set entry, besides the bytes of its strings.
constexpr size_t kEntryOverhead = 48;

}  // namespace

TraceTermsBuilder::TraceTermsBuilder(const TraceId& id, const IndexOptions& options)
    : options_(options) {
  summary_.trace_id = id;
  summary_.start_ns = std::numeric_limits<int64_t>::max();
}

void TraceTermsBuilder::AddStream(std::string stream, Delta* delta) {
  const size_t size = stream.size();
  if (streams_.insert(stream).second) {
    bytes_ += size + kEntryOverhead;
    delta->streams.insert(std::move(stream));
  }
}

bool TraceTermsBuilder::Add(const trace_v1::TracesData& chunk, Delta* delta) {
  struct NewSpan {
    const trace_v1::ResourceSpans* rs;
    const trace_v1::ScopeSpans* ss;
    const trace_v1::Span* span;
    size_t service;  // index into `services`
  };
  std::vector<std::string> services;
  std::vector<NewSpan> spans;
  absl::flat_hash_set<std::string_view> chunk_ids;
  for (const auto& rs : chunk.resource_spans()) {
    services.push_back(ServiceNameOf(rs));
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) {
        if (span_services_.contains(span.span_id()) || !chunk_ids.insert(span.span_id()).second) {
          return false;  // a repeated span ID: the caller recomputes from every chunk
        }
        spans.push_back(NewSpan{&rs, &ss, &span, services.size() - 1});
      }
    }
  }
  if (spans.empty()) return true;

  // Pass 1: every new span is known before parents are looked up.
  for (const NewSpan& s : spans) {
    span_services_.emplace(s.span->span_id(), services[s.service]);
    bytes_ += s.span->span_id().size() + services[s.service].size() + kEntryOverhead;
  }
  const bool was_empty = empty();
  if (was_empty) AddStream(TimeStream(), delta);

  // Pass 2: summary, terms, and the parent of each new span.
  for (const NewSpan& s : spans) {
    const trace_v1::Span& span = *s.span;
    const std::string& service = services[s.service];
    const int64_t start = SpanStartNs(span);
    summary_.start_ns = std::min(summary_.start_ns, start);
    end_ns_ = std::max({end_ns_, start, SpanEndNs(span)});
    ++summary_.span_count;
    const bool error = span.status().code() == trace_v1::Status::STATUS_CODE_ERROR;
    if (error) ++summary_.error_count;
    ServiceSummary& svc = services_[service];
    if (svc.name.empty()) {
      svc.name = service;
      bytes_ += service.size() + kEntryOverhead;
    }
    ++svc.span_count;
    if (error) ++svc.error_count;

    AddStream(ServiceStream(service), delta);
    AddStream(OperationStream(service, span.name()), delta);
    ForEachSpanTag(*s.rs, *s.ss, span, [&](std::string_view key, std::string_view value) {
      if (!IsIndexedTag(key, value, options_)) return;
      AddStream(ServiceTagStream(service, key, value), delta);
      AddStream(TagStream(key, value), delta);
    });
    const int64_t duration = SpanDurationNs(span);
    const int coarse = DurationClass(duration);
    const int fine = FineDurationClass(duration);
    for (DurationTerm term :
         {DurationTerm{DurationScope::kAny, "", "", coarse, false},
          DurationTerm{DurationScope::kService, service, "", coarse, false},
          DurationTerm{DurationScope::kOperation, service, span.name(), coarse, false}}) {
      AddStream(DurationStream(term), delta);  // coarse: no value
      term.duration_class = fine;
      term.fine = true;
      auto [it, inserted_term] = durations_.try_emplace(term);
      if (inserted_term) bytes_ += term.service.size() + term.operation.size() + kEntryOverhead;
      if (it->second.insert(duration).second) {
        bytes_ += kEntryOverhead;
        delta->durations.insert(std::move(term));
      }
    }

    RootKey key{0, start, span.span_id(), service, span.name()};
    const std::string& parent = span.parent_span_id();
    if (parent.empty()) {
      if (!best_parentless_ || key < *best_parentless_) best_parentless_ = key;
      continue;
    }
    auto parent_it = span_services_.find(parent);
    if (parent_it == span_services_.end()) {
      std::get<0>(key) = 1;
      orphan_keys_.insert(key);
      orphans_by_parent_[parent].push_back(Orphan{key, service, start});
      bytes_ += 2 * (span.span_id().size() + service.size() + span.name().size()) + parent.size() +
                3 * kEntryOverhead;
      continue;
    }
    std::get<0>(key) = 2;
    if (!best_child_ || key < *best_child_) best_child_ = key;
    if (parent_it->second != service) {
      const DependencyKey call{DependencySlot(start), parent_it->second, service};
      ++calls_[call];
      ++delta->calls[call];
    }
  }

  // Pass 3: earlier spans waiting for one of the new spans as their parent.
  for (const NewSpan& s : spans) {
    auto waiting = orphans_by_parent_.find(s.span->span_id());
    if (waiting == orphans_by_parent_.end()) continue;
    const std::string& parent_service = services[s.service];
    for (Orphan& orphan : waiting->second) {
      orphan_keys_.erase(orphan.key);
      std::get<0>(orphan.key) = 2;
      if (!best_child_ || orphan.key < *best_child_) best_child_ = orphan.key;
      if (parent_service != orphan.service) {
        const DependencyKey call{DependencySlot(orphan.start_ns), parent_service, orphan.service};
        ++calls_[call];
        ++delta->calls[call];
      }
    }
    orphans_by_parent_.erase(waiting);
  }

  summary_.orphan_span_count = static_cast<uint32_t>(orphan_keys_.size());
  summary_.duration_ns = end_ns_ - summary_.start_ns;
  summary_.services.clear();
  for (const auto& [name, svc] : services_) summary_.services.push_back(svc);
  UpdateRoot();
  return true;
}

void TraceTermsBuilder::UpdateRoot() {
  const RootKey* root = nullptr;
  if (best_parentless_) {
    root = &*best_parentless_;
  } else if (!orphan_keys_.empty()) {
    root = &*orphan_keys_.begin();
  } else if (best_child_) {
    root = &*best_child_;
  }
  if (root == nullptr) return;
  summary_.root_service = std::get<3>(*root);
  summary_.root_operation = std::get<4>(*root);
}

std::map<std::string, std::string> TraceTermsBuilder::Streams() const {
  std::map<std::string, std::string> out;
  for (const std::string& stream : streams_) out.emplace(stream, "");
  for (const auto& [term, values] : durations_) {
    out.emplace(DurationStream(term), EncodeDurations({values.begin(), values.end()}));
  }
  return out;
}

std::string TraceTermsBuilder::DurationValue(const DurationTerm& term) const {
  auto it = durations_.find(term);
  if (it == durations_.end()) return EncodeDurations({});
  return EncodeDurations({it->second.begin(), it->second.end()});
}

}  // namespace tailtrace::storage
