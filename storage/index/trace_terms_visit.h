#pragma once

// Private to trace_terms_builder.cc (included there once): TraceTermsBuilder::VisitStreams, the
// walk over a builder's streams in ascending byte order behind ForEachStream. Not thread-safe (as
// the builder).

#include <algorithm>
#include <bit>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/index/keys.h"
#include "storage/index/trace_terms_builder.h"
#include "storage/index/trace_terms_internal.h"

namespace tailtrace::storage {

namespace visit_internal {

// A duration stream in the order of its encoding (see VisitStreams).
struct DurationEntry {
  uint64_t order;
  uint64_t key;
  const terms_internal::DurationSet* durations;  // fine terms only
};

// The scratch of VisitStreams, reused by the calls of one thread so that reading a trace's
// streams allocates nothing once the vectors have grown.
struct StreamScratch {
  std::vector<uint32_t> service_order, service_rank, key_order, key_rank, tag_order, tag_rank;
  std::vector<uint32_t> operation_order, operation_rank, first, next, by_service;
  std::vector<uint64_t> wide;
  std::vector<DurationEntry> durations;
  std::string stream;
  std::string value;
  bool in_use = false;
};

}  // namespace visit_internal

template <typename Fn>
void TraceTermsBuilder::VisitStreams(Fn&& fn) const {
  using terms_internal::CompareLengthPrefixed;
  using terms_internal::EncodeStream;
  using terms_internal::IndexHead;
  using terms_internal::kOperationScope;
  using terms_internal::kScopeOrder;
  using terms_internal::kServiceScope;
  using visit_internal::DurationEntry;
  using visit_internal::StreamScratch;
  if (empty()) return;
  // A visitor that reads streams itself (of any builder) gets fresh scratch.
  thread_local StreamScratch shared;
  StreamScratch fresh;
  StreamScratch& x = shared.in_use ? fresh : shared;
  x.in_use = true;
  struct Release {
    StreamScratch* x;
    ~Release() {
      // The scratch of a huge trace is not kept.
      if (x->tag_order.capacity() + x->stream.capacity() > (1u << 16)) *x = StreamScratch{};
      x->in_use = false;
    }
  } release{&x};

  // Streams are ordered by their length-prefixed fields, compared here through ranks.
  terms_internal::Rank(
      services_.size(),
      [this](uint32_t a, uint32_t b) {
        return CompareLengthPrefixed(services_[a].name, services_[b].name) < 0;
      },
      &x.service_order, &x.service_rank);
  const std::vector<uint32_t>& service_order = x.service_order;
  const std::vector<uint32_t>& service_rank = x.service_rank;
  terms_internal::Rank(
      keys_.size(),
      [this](uint32_t a, uint32_t b) { return CompareLengthPrefixed(keys_[a], keys_[b]) < 0; },
      &x.key_order, &x.key_rank);
  // Tags by key rank, then by value.
  terms_internal::RankGrouped(
      tags_.size(), keys_.size(), [&](uint32_t t) { return x.key_rank[tags_[t].key_id]; },
      [this](uint32_t a, uint32_t b) {
        return CompareLengthPrefixed(tags_[a].value, tags_[b].value) < 0;
      },
      &x.tag_order, &x.tag_rank, &x.first, &x.next);
  const std::vector<uint32_t>& tag_order = x.tag_order;
  const std::vector<uint32_t>& tag_rank = x.tag_rank;
  terms_internal::Rank(
      operations_.size(),
      [&](uint32_t a, uint32_t b) {
        const Operation& p = operations_[a];
        const Operation& q = operations_[b];
        if (p.service != q.service) return service_rank[p.service] < service_rank[q.service];
        return CompareLengthPrefixed(p.name, q.name) < 0;
      },
      &x.operation_order, &x.operation_rank);
  const std::vector<uint32_t>& operation_rank = x.operation_rank;

  std::string& stream = x.stream;
  stream.reserve(128);
  auto head = [](char type) { return IndexHead{{kIndexTag, type}}; };
  // 'A' < 'a' < 'd' < 'e' < 'o' < 's' < 't'.
  // Consecutive streams share a prefix (the key here, the service below): encoded once.
  uint32_t key_id = kNone;
  size_t prefix = 0;
  for (uint32_t t : tag_order) {
    if (tags_[t].key_id != key_id) {
      key_id = tags_[t].key_id;
      EncodeStream(&stream, 0, head(kTagIndex), {tags_[t].key});
      prefix = stream.size();
    }
    EncodeStream(&stream, prefix, {}, {tags_[t].value});
    fn(stream, std::string_view());
  }
  // 'a': by service, then tag. Services < 64 from their bits (bucketed by service rank, in tag
  // order), wider ones from a sorted list.
  std::vector<uint32_t>& first = x.first;
  first.assign(service_order.size() + 1, 0);
  for (const Tag& tag : tags_) {
    for (uint64_t m = tag.services; m != 0; m &= m - 1)
      ++first[service_rank[std::countr_zero(m)] + 1];
  }
  for (size_t r = 1; r < first.size(); ++r) first[r] += first[r - 1];
  std::vector<uint32_t>& by_service = x.by_service;
  by_service.resize(first.back());
  std::vector<uint32_t>& next = x.next;
  next.assign(first.begin(), first.end() - 1);
  for (uint32_t t : tag_order) {
    for (uint64_t m = tags_[t].services; m != 0; m &= m - 1) {
      by_service[next[service_rank[std::countr_zero(m)]]++] = t;
    }
  }
  std::vector<uint64_t>& wide = x.wide;
  wide.clear();
  for (uint64_t k : wide_service_tags_) {
    wide.push_back((uint64_t{service_rank[k >> 32]} << 32) | tag_rank[k & 0xffffffff]);
  }
  std::sort(wide.begin(), wide.end());
  size_t next_wide = 0;
  for (uint32_t r = 0; r < service_order.size(); ++r) {
    EncodeStream(&stream, 0, head(kServiceTagIndex), {services_[service_order[r]].name});
    prefix = stream.size();
    auto put = [&](const Tag& tag) {
      EncodeStream(&stream, prefix, {}, {tag.key, tag.value});
      fn(stream, std::string_view());
    };
    for (uint32_t i = first[r]; i < first[r + 1]; ++i) put(tags_[by_service[i]]);
    for (; next_wide < wide.size() && (wide[next_wide] >> 32) == r; ++next_wide) {
      put(tags_[tag_order[wide[next_wide] & 0xffffffff]]);
    }
  }

  auto entry = [&](uint64_t key, const terms_internal::DurationSet* durations) {
    const int scope = static_cast<int>((key >> 8) & 0xff);
    const uint32_t id = static_cast<uint32_t>(key >> 24);
    const uint64_t rank = scope == kServiceScope     ? service_rank[id]
                          : scope == kOperationScope ? operation_rank[id]
                                                     : 0;
    return DurationEntry{(kScopeOrder[scope] << 56) | (rank << 8) | (key & 0xff), key, durations};
  };
  auto by_order = [](const DurationEntry& a, const DurationEntry& b) { return a.order < b.order; };
  std::vector<DurationEntry>& durations = x.durations;
  durations.clear();
  for (uint64_t key : coarse_durations_) durations.push_back(entry(key, nullptr));
  std::sort(durations.begin(), durations.end(), by_order);
  for (const DurationEntry& e : durations) {
    EncodeDurationStream(kDurationIndex, e.key, &stream);
    fn(stream, std::string_view());
  }
  durations.clear();
  for (const auto& [key, set] : fine_durations_) durations.push_back(entry(key, &set));
  std::sort(durations.begin(), durations.end(), by_order);
  std::string& value = x.value;
  for (const DurationEntry& e : durations) {
    EncodeDurationStream(kFineDurationIndex, e.key, &stream);
    value.clear();
    terms_internal::AppendDurations(*e.durations, &value);
    fn(stream, std::string_view(value));
  }

  for (uint32_t o : x.operation_order) {
    const Operation& op = operations_[o];
    EncodeStream(&stream, 0, head(kOperationIndex), {services_[op.service].name, op.name});
    fn(stream, std::string_view());
  }
  for (uint32_t s : service_order) {
    EncodeStream(&stream, 0, head(kServiceIndex), {services_[s].name});
    fn(stream, std::string_view());
  }
  EncodeStream(&stream, 0, head(kTimeIndex), {});
  fn(stream, std::string_view());
}

}  // namespace tailtrace::storage
