// The validation functions of trace_store.h: what every TraceStore refuses.

#include <algorithm>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "proto/any_value_text.h"
#include "storage/trace_store.h"

namespace tailtrace::storage {

absl::Status ValidateDependencyCalls(std::span<const DependencyCalls> calls) {
  for (size_t i = 0; i < calls.size(); ++i) {
    const DependencyCalls& c = calls[i];
    auto refuse = [&](const std::string& why) {
      return absl::InvalidArgumentError(
          absl::StrCat("dependency calls[", i, "] (", c.parent, " -> ", c.child, "): ", why));
    };
    if (c.time_ns < 0) return refuse(absl::StrCat("negative time ", c.time_ns));
    if (c.parent.empty() || c.child.empty()) return refuse("empty service name");
    if (c.failed > c.calls) {
      return refuse(absl::StrCat(c.failed, " failed calls of only ", c.calls));
    }
  }
  return absl::OkStatus();
}

namespace {

// OK, or InvalidArgument when no tag with `key` is ever indexed (or the key is empty).
absl::Status CheckSearchableKey(const std::string& key, const IndexOptions& index_options) {
  if (key.empty()) return absl::InvalidArgumentError("attribute key must not be empty");
  if (std::find(index_options.exclude_keys.begin(), index_options.exclude_keys.end(), key) !=
      index_options.exclude_keys.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "attribute \"", key, "\" is not searchable: it is in storage.index.exclude_keys"));
  }
  if (key.size() > index_options.max_value_length) {
    return absl::InvalidArgumentError(absl::StrCat(
        "attribute key \"", key.substr(0, 64), "...\" is not searchable: it is longer than ",
        "storage.index.max_value_length (", index_options.max_value_length, " bytes)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateTagSuggestionQuery(const TagSuggestionQuery& query,
                                        const IndexOptions& index_options) {
  if (query.limit <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit must be greater than 0, got ", query.limit));
  }
  if (query.start_time_min_ns > query.start_time_max_ns) {
    return absl::InvalidArgumentError(absl::StrCat("start_time_min (", query.start_time_min_ns,
                                                   " ns) is after start_time_max (",
                                                   query.start_time_max_ns, " ns)"));
  }
  if (query.key.empty()) return absl::OkStatus();
  return CheckSearchableKey(query.key, index_options);
}

std::string SamplingRateText(double rate) {
  std::string scratch;
  return std::string(DoubleText(rate, &scratch));
}

bool SamplingTagMatches(const TraceQuery& query, std::string_view policy, double rate) {
  for (const auto& [key, value] : query.attributes) {
    if (key == kSamplingPolicyTag && (!HasSamplingPolicyTag(policy) || value != policy)) {
      return false;
    }
    if (key == kSamplingRateTag && (!HasSamplingRateTag(rate) || value != SamplingRateText(rate))) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<std::vector<const opentelemetry::proto::trace::v1::TracesData*>> SpansOfWrites(
    std::span<const TraceWrite> traces,
    std::deque<opentelemetry::proto::trace::v1::TracesData>* parsed) {
  std::vector<const opentelemetry::proto::trace::v1::TracesData*> data(traces.size());
  for (size_t i = 0; i < traces.size(); ++i) {
    const TraceWrite& w = traces[i];
    data[i] = w.spans;
    if (data[i] != nullptr) continue;
    auto& p = parsed->emplace_back();
    if (w.spans_bytes.empty() ||
        !p.ParseFromArray(w.spans_bytes.data(), static_cast<int>(w.spans_bytes.size()))) {
      return absl::InvalidArgumentError(
          absl::StrCat("TraceWrite[", i, "] for trace ", w.trace_id.Hex(),
                       w.spans_bytes.empty() ? ": spans is null and spans_bytes empty"
                                             : ": spans_bytes is not a TracesData"));
    }
    data[i] = &p;
  }
  return data;
}

absl::Status ValidateTraceQuery(const TraceQuery& query, const IndexOptions& index_options) {
  if (query.limit <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit must be greater than 0, got ", query.limit));
  }
  if (!query.operation.empty() && query.service.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("operation \"", query.operation, "\" requires a service"));
  }
  if (query.duration_min_ns && *query.duration_min_ns < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("duration_min must not be negative, got ", *query.duration_min_ns, " ns"));
  }
  if (query.duration_max_ns && *query.duration_max_ns < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("duration_max must not be negative, got ", *query.duration_max_ns, " ns"));
  }
  if (query.duration_min_ns && query.duration_max_ns &&
      *query.duration_min_ns > *query.duration_max_ns) {
    return absl::InvalidArgumentError(absl::StrCat("duration_min (", *query.duration_min_ns,
                                                   " ns) is greater than duration_max (",
                                                   *query.duration_max_ns, " ns)"));
  }
  if (query.start_time_min_ns && query.start_time_max_ns &&
      *query.start_time_min_ns > *query.start_time_max_ns) {
    return absl::InvalidArgumentError(absl::StrCat("start_time_min (", *query.start_time_min_ns,
                                                   " ns) is after start_time_max (",
                                                   *query.start_time_max_ns, " ns)"));
  }
  for (const auto& [key, value] : query.attributes) {
    if (IsSamplingTag(key)) continue;  // compared with the decision, not indexed
    if (absl::Status searchable = CheckSearchableKey(key, index_options); !searchable.ok()) {
      return searchable;
    }
    if (value.size() > index_options.max_value_length) {
      return absl::InvalidArgumentError(
          absl::StrCat("attribute \"", key, "\" value is not searchable: it is ", value.size(),
                       " bytes, longer than storage.index.max_value_length (",
                       index_options.max_value_length, " bytes)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace tailtrace::storage
