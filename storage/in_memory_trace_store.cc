#include "storage/in_memory_trace_store.h"

namespace tailtrace::storage {

std::string ServiceNameOf(const opentelemetry::proto::trace::v1::ResourceSpans& rs) {
  for (const auto& kv : rs.resource().attributes()) {
    if (kv.key() == "service.name" && kv.value().has_string_value()) {
      return kv.value().string_value();
    }
  }
  return "unknown_service";
}

absl::Status InMemoryTraceStore::Write(std::span<const TraceWrite> traces) {
  std::lock_guard lock(mu_);
  if (!write_failure_.ok()) return write_failure_;
  for (const TraceWrite& w : traces) {
    StoredTrace& t = traces_[w.trace_id];
    t.trace_id = w.trace_id;
    if (!w.sampling_policy.empty() || t.sampling_policy.empty()) {
      t.sampling_policy = w.sampling_policy;
      t.sample_rate = w.sample_rate;
    }
    for (const auto& rs : w.spans->resource_spans()) {
      *t.data.add_resource_spans() = rs;
      auto& ops = operations_[ServiceNameOf(rs)];
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& span : ss.spans()) {
          ops.insert(Operation{span.name(), static_cast<int>(span.kind())});
          ++stats_.spans_written;
        }
      }
    }
    ++stats_.traces_written;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<StoredTrace>> InMemoryTraceStore::GetTrace(const TraceId& id) {
  std::lock_guard lock(mu_);
  auto it = traces_.find(id);
  if (it == traces_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::vector<std::string>> InMemoryTraceStore::GetServices() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [service, ops] : operations_) out.push_back(service);
  return out;
}

absl::StatusOr<std::vector<Operation>> InMemoryTraceStore::GetOperations(const std::string& service,
                                                                         int span_kind) {
  std::lock_guard lock(mu_);
  std::vector<Operation> out;
  auto it = operations_.find(service);
  if (it == operations_.end()) return out;
  for (const Operation& op : it->second) {
    if (span_kind < 0 || op.span_kind == span_kind) out.push_back(op);
  }
  return out;
}

StoreStats InMemoryTraceStore::Stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void InMemoryTraceStore::FailWritesForTest(absl::Status status) {
  std::lock_guard lock(mu_);
  write_failure_ = std::move(status);
}

}  // namespace tailtrace::storage
