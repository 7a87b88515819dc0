#include "retried_writes.h"

#include <string>

#include "absl/hash/hash.h"

namespace tailtrace::storage::clickhouse {

RetriedWrites::Key RetriedWrites::KeyOf(const TraceWrite& write,
                                        const opentelemetry::proto::trace::v1::TracesData& data) {
  std::string serialized;
  std::string_view spans = write.spans_bytes;
  if (spans.empty()) {
    data.SerializeToString(&serialized);
    spans = serialized;
  }
  return Key{write.trace_id,
             absl::HashOf(spans, std::string_view(write.sampling_policy), write.sample_rate)};
}

bool RetriedWrites::any() const {
  std::lock_guard lock(mu_);
  return !ids_.empty();
}

uint64_t RetriedWrites::IdOf(const Key& key) const {
  std::lock_guard lock(mu_);
  auto found = ids_.find(key);
  return found == ids_.end() ? 0 : found->second;
}

void RetriedWrites::Failed(std::span<const Key> keys, std::span<const uint64_t> ids) {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < keys.size() && i < ids.size(); ++i) {
    if (ids_.insert_or_assign(keys[i], ids[i]).second) order_.push_back(keys[i]);
  }
  if (order_.size() > 2 * max_writes_) {
    // Keys written again successfully linger in order_; keep the remembered ones, in order.
    std::erase_if(order_, [this](const Key& k) { return !ids_.contains(k); });
  }
  if (ids_.size() <= max_writes_) return;
  // Forget the oldest half (keys already forgotten are skipped).
  size_t drop = ids_.size() - max_writes_ / 2;
  size_t i = 0;
  for (; i < order_.size() && drop > 0; ++i) drop -= ids_.erase(order_[i]);
  order_.erase(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(i));
}

void RetriedWrites::Succeeded(std::span<const Key> keys) {
  std::lock_guard lock(mu_);
  for (const Key& key : keys) ids_.erase(key);
  if (ids_.empty()) order_.clear();
}

}  // namespace tailtrace::storage::clickhouse
