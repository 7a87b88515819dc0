#include <utility>

#include "absl/strings/str_cat.h"
#include "query_codec_internal.h"

namespace tailtrace::cluster::internal {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message().data(), status.message().size()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

void ToProto(const storage::TraceQuery& query, pb::FindTracesRequest* out) {
  out->set_service(query.service);
  out->set_operation(query.operation);
  for (const auto& [key, value] : query.attributes) {
    pb::Attribute* attribute = out->add_attributes();
    attribute->set_key(key);
    attribute->set_value(value);
  }
  if (query.start_time_min_ns) out->set_start_time_min_ns(*query.start_time_min_ns);
  if (query.start_time_max_ns) out->set_start_time_max_ns(*query.start_time_max_ns);
  if (query.duration_min_ns) out->set_duration_min_ns(*query.duration_min_ns);
  if (query.duration_max_ns) out->set_duration_max_ns(*query.duration_max_ns);
  out->set_limit(query.limit);
}

storage::TraceQuery FromProto(const pb::FindTracesRequest& request) {
  storage::TraceQuery query;
  query.service = request.service();
  query.operation = request.operation();
  for (const pb::Attribute& attribute : request.attributes()) {
    query.attributes.emplace_back(attribute.key(), attribute.value());
  }
  if (request.has_start_time_min_ns()) query.start_time_min_ns = request.start_time_min_ns();
  if (request.has_start_time_max_ns()) query.start_time_max_ns = request.start_time_max_ns();
  if (request.has_duration_min_ns()) query.duration_min_ns = request.duration_min_ns();
  if (request.has_duration_max_ns()) query.duration_max_ns = request.duration_max_ns();
  query.limit = request.limit();
  return query;
}

void ToProto(const storage::TagSuggestionQuery& query, pb::SuggestTagsRequest* out) {
  out->set_service(query.service);
  out->set_key(query.key);
  out->set_start_time_min_ns(query.start_time_min_ns);
  out->set_start_time_max_ns(query.start_time_max_ns);
  out->set_limit(query.limit);
}

storage::TagSuggestionQuery FromProto(const pb::SuggestTagsRequest& request) {
  storage::TagSuggestionQuery query;
  query.service = request.service();
  query.key = request.key();
  query.start_time_min_ns = request.start_time_min_ns();
  query.start_time_max_ns = request.start_time_max_ns();
  query.limit = request.limit();
  return query;
}

void ToProto(const storage::TraceSummary& summary, pb::TraceSummary* out) {
  out->set_trace_id(std::string(summary.trace_id.view()));
  out->set_root_service(summary.root_service);
  out->set_root_operation(summary.root_operation);
  out->set_start_ns(summary.start_ns);
  out->set_duration_ns(summary.duration_ns);
  out->set_span_count(summary.span_count);
  out->set_error_count(summary.error_count);
  out->set_orphan_span_count(summary.orphan_span_count);
  for (const storage::ServiceSummary& service : summary.services) {
    pb::ServiceSummary* s = out->add_services();
    s->set_name(service.name);
    s->set_span_count(service.span_count);
    s->set_error_count(service.error_count);
  }
  out->set_sampling_policy(summary.sampling_policy);
  out->set_sample_rate(summary.sample_rate);
}

absl::StatusOr<storage::TraceSummary> FromProto(const pb::TraceSummary& summary) {
  if (summary.trace_id().size() != kTraceIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat("a trace summary's trace_id has ",
                                                   summary.trace_id().size(), " bytes, expected ",
                                                   kTraceIdBytes));
  }
  storage::TraceSummary out;
  out.trace_id = TraceId::FromBytes(summary.trace_id());
  out.root_service = summary.root_service();
  out.root_operation = summary.root_operation();
  out.start_ns = summary.start_ns();
  out.duration_ns = summary.duration_ns();
  out.span_count = summary.span_count();
  out.error_count = summary.error_count();
  out.orphan_span_count = summary.orphan_span_count();
  out.services.reserve(summary.services_size());
  for (const pb::ServiceSummary& s : summary.services()) {
    out.services.push_back({s.name(), s.span_count(), s.error_count()});
  }
  out.sampling_policy = summary.sampling_policy();
  out.sample_rate = summary.sample_rate();
  return out;
}

void ToProto(const std::optional<storage::StoredTrace>& trace, pb::GetTraceResponse* out) {
  if (!trace.has_value()) return;
  out->set_found(true);
  trace->data.SerializeToString(out->mutable_traces_data());
  out->set_sampling_policy(trace->sampling_policy);
  out->set_sample_rate(trace->sample_rate);
  out->set_truncated(trace->truncated);
}

absl::StatusOr<std::optional<storage::StoredTrace>> FromProto(
    const TraceId& id, const pb::GetTraceResponse& response) {
  if (!response.found()) return std::nullopt;
  storage::StoredTrace trace;
  trace.trace_id = id;
  if (!trace.data.ParseFromString(response.traces_data())) {
    return absl::InvalidArgumentError("traces_data is not a valid TracesData protobuf");
  }
  trace.sampling_policy = response.sampling_policy();
  trace.sample_rate = response.sample_rate();
  trace.truncated = response.truncated();
  return trace;
}

void ToProto(const storage::MetricPoint& point, pb::MetricPoint* out) {
  out->set_service(point.series.service);
  out->set_operation(point.series.operation);
  out->set_span_kind(point.series.span_kind);
  out->set_status_code(point.series.status_code);
  out->set_time_ns(point.time_ns);
  out->set_calls(point.calls);
  out->mutable_bounds_ms()->Add(point.bounds_ms.begin(), point.bounds_ms.end());
  out->mutable_counts()->Add(point.counts.begin(), point.counts.end());
  out->set_sum_ms(point.sum_ms);
}

storage::MetricPoint FromProto(const pb::MetricPoint& point) {
  storage::MetricPoint out;
  out.series = {point.service(), point.operation(), point.span_kind(), point.status_code()};
  out.time_ns = point.time_ns();
  out.calls = point.calls();
  out.bounds_ms.assign(point.bounds_ms().begin(), point.bounds_ms().end());
  out.counts.assign(point.counts().begin(), point.counts().end());
  out.sum_ms = point.sum_ms();
  return out;
}

void ToProto(storage::DependencyLink link, pb::DependencyLink* out) {
  out->set_parent(std::move(link.parent));
  out->set_child(std::move(link.child));
  out->set_call_count(link.call_count);
  out->set_error_count(link.error_count);
}

storage::DependencyLink FromProto(const pb::DependencyLink& link) {
  return storage::DependencyLink{link.parent(), link.child(), link.call_count(),
                                 link.error_count()};
}

}  // namespace tailtrace::cluster::internal
