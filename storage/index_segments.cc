#include "storage/index_segments.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace tailtrace::storage {

void IndexSegments::Add(uint64_t segment, int64_t start_ns, const TraceId& trace_id,
                        const StoredStreams& streams) {
  std::lock_guard lock(mu_);
  for (const auto& s : segments_) {
    if (s->ref.segment != segment) continue;
    const uint32_t ordinal = static_cast<uint32_t>(s->positions.size());
    s->positions.push_back(MakeIndexPos(start_ns, trace_id));
    s->ids.push_back(trace_id);
    s->latest[trace_id] = ordinal;
    for (const auto& [stream, value] : streams) {
      Posting& p = s->postings[stream];
      p.ordinals.push_back(ordinal);
      if (StreamHasValues(stream)) p.values.push_back(value);
    }
    --s->pending;
    return;
  }
}

void IndexSegments::Unpin(uint64_t segment) {
  std::lock_guard lock(mu_);
  for (const auto& s : segments_) {
    if (s->ref.segment == segment) --s->pending;
  }
}

std::vector<SealedSegment> IndexSegments::TakeDue(int64_t now_ns, bool all) {
  std::vector<std::shared_ptr<Segment>> due;
  {
    std::lock_guard lock(mu_);
    // A segment whose writes all failed has nothing to seal.
    std::erase_if(segments_, [](const std::shared_ptr<Segment>& s) {
      return !s->sealing && s->pending == 0 && s->positions.empty();
    });
    for (const auto& s : segments_) {
      if (s->sealing || s->pending > 0) continue;
      if (all || s->positions.size() >= options_.max_traces ||
          now_ns - s->created_ns >= options_.max_age_ns) {
        s->sealing = true;
        due.push_back(s);
      }
    }
  }
  // A segment marked sealing is immutable (no pins, no adds), so it is encoded without the lock.
  std::vector<SealedSegment> out;
  out.reserve(due.size());
  for (const auto& s : due) out.push_back(Seal(*s));
  return out;
}

void IndexSegments::Sealed(const SegmentRef& ref) {
  std::lock_guard lock(mu_);
  std::erase_if(segments_, [&](const std::shared_ptr<Segment>& s) { return s->ref == ref; });
}

void IndexSegments::SealFailed(const SegmentRef& ref) {
  std::lock_guard lock(mu_);
  for (const auto& s : segments_) {
    if (s->ref == ref) s->sealing = false;  // retried by a later TakeDue
  }
}

SealedSegment IndexSegments::Seal(const Segment& s) {
  SealedSegment out;
  out.ref = s.ref;
  out.marker_begin = SegmentMarkerPrefix(s.ref.segment);
  out.marker_end = SegmentMarkerPrefix(s.ref.segment + 1);

  // Sealed ordinals: the newest entry of each trace, newest position first.
  const uint32_t n = static_cast<uint32_t>(s.positions.size());
  std::vector<uint32_t> order;
  order.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    auto it = s.latest.find(s.ids[i]);
    if (it != s.latest.end() && it->second == i) order.push_back(i);
  }
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return s.positions[a] > s.positions[b]; });
  constexpr uint32_t kDropped = UINT32_MAX;
  std::vector<uint32_t> sealed_ordinal(n, kDropped);
  std::string table;
  table.reserve(order.size() * kIndexPositionBytes);
  for (uint32_t rank = 0; rank < order.size(); ++rank) {
    sealed_ordinal[order[rank]] = rank;
    const IndexPos& pos = s.positions[order[rank]];
    table.append(reinterpret_cast<const char*>(pos.data()), pos.size());
  }
  out.traces = order.size();

  std::vector<const std::pair<const std::string, Posting>*> streams;
  streams.reserve(s.postings.size());
  for (const auto& entry : s.postings) streams.push_back(&entry);
  std::sort(streams.begin(), streams.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });

  // Key order: 'G' (table) sorts before 'I' (postings) and after 'D'.
  out.puts.reserve(streams.size() + 1);
  out.puts.emplace_back(SegmentTableKey(s.ref.slot, s.ref.segment), std::move(table));
  std::vector<std::pair<uint32_t, uint32_t>> mapped;  // (sealed ordinal, index in the posting)
  std::vector<uint32_t> ordinals;
  std::vector<std::string_view> values;
  for (const auto* entry : streams) {
    const Posting& p = entry->second;
    const bool has_values = StreamHasValues(entry->first);
    mapped.clear();
    for (uint32_t i = 0; i < p.ordinals.size(); ++i) {
      const uint32_t o = sealed_ordinal[p.ordinals[i]];
      if (o != kDropped) mapped.emplace_back(o, i);
    }
    if (mapped.empty()) continue;
    std::sort(mapped.begin(), mapped.end());
    ordinals.clear();
    values.clear();
    for (const auto& [o, i] : mapped) {
      ordinals.push_back(o);
      if (has_values) values.push_back(p.values[i]);
    }
    out.puts.emplace_back(PostingKey(entry->first, s.ref.slot, s.ref.segment),
                          EncodePosting(ordinals, has_values ? &values : nullptr));
  }
  return out;
}

std::vector<SegmentView> IndexSegments::Snapshot(int64_t min_slot, int64_t max_slot,
                                                 const std::vector<std::string>& streams) const {
  std::vector<SegmentView> out;
  std::lock_guard lock(mu_);
  for (const auto& s : segments_) {
    if (s->ref.slot < min_slot || s->ref.slot > max_slot || s->positions.empty()) continue;
    SegmentView& view = out.emplace_back();
    view.ref = s->ref;
    view.positions = s->positions;
    // Only the newest entry of each trace, as sealing keeps it.
    std::vector<bool> newest(s->positions.size(), false);
    for (const auto& [id, ordinal] : s->latest) newest[ordinal] = true;
    for (const std::string& stream : streams) {
      auto it = s->postings.find(stream);
      if (it == s->postings.end()) continue;
      const Posting& p = it->second;
      Posting copy;
      for (size_t i = 0; i < p.ordinals.size(); ++i) {
        if (!newest[p.ordinals[i]]) continue;
        copy.ordinals.push_back(p.ordinals[i]);
        if (!p.values.empty()) copy.values.push_back(p.values[i]);
      }
      if (!copy.ordinals.empty()) view.postings.emplace(stream, std::move(copy));
    }
  }
  return out;
}

size_t IndexSegments::unsealed() const {
  std::lock_guard lock(mu_);
  return segments_.size();
}

bool StoredStreamsBuilder::Add(std::string_view stream, std::string_view value) {
  if (stream.size() < 2 || stream[0] != kIndexTag) return true;
  const char type = stream[1];
  if (type == kDurationIndex) return true;  // the coarse classes add nothing to the ranges
  if (type == kFineDurationIndex) {
    if (!DecodeDurations(value, &durations_)) return false;
    if (durations_.empty()) return true;
    // The scope: the stream without 'I' 'e' and the class byte.
    const std::string_view scope = stream.substr(2, stream.size() - 3);
    auto [it, inserted] =
        ranges_.try_emplace(std::string(scope), durations_.front(), durations_.back());
    if (!inserted) {
      it->second.first = std::min(it->second.first, durations_.front());
      it->second.second = std::max(it->second.second, durations_.back());
    }
    return true;
  }
  if (!StreamHasValues(stream)) {
    out_.emplace_back(stream, std::string());
    return true;
  }
  // The scope key of the time ('*'), service ('s' | v(service)) or operation
  // ('o' | v(service) | v(name)) stream, as the fine duration streams spell it.
  key_.assign(1, type == kTimeIndex      ? static_cast<char>(DurationScope::kAny)
                 : type == kServiceIndex ? static_cast<char>(DurationScope::kService)
                                         : static_cast<char>(DurationScope::kOperation));
  key_.append(stream.substr(2));
  auto it = ranges_.find(key_);
  // Every span has a duration, so a scope without one cannot happen; an unknown range would
  // only make searches check the trace itself.
  const auto [min, max] = it != ranges_.end()
                              ? it->second
                              : std::pair<int64_t, int64_t>{0, std::numeric_limits<int64_t>::max()};
  out_.emplace_back(stream, EncodeDurationRange(min, max));
  return true;
}

StoredStreams StoredStreamsOf(const TraceIndexTerms& terms) {
  std::map<std::string, std::string> all;
  all.emplace(TimeStream(), "");
  for (const std::string& service : terms.services) all.emplace(ServiceStream(service), "");
  for (const auto& [service, operation] : terms.operations) {
    all.emplace(OperationStream(service, operation), "");
  }
  for (const auto& [service, key, value] : terms.service_tags) {
    all.emplace(ServiceTagStream(service, key, value), "");
  }
  for (const auto& [key, value] : terms.tags) all.emplace(TagStream(key, value), "");
  for (const auto& [term, durations] : terms.durations) {
    all.emplace(DurationStream(term), EncodeDurations(durations));
  }
  StoredStreamsBuilder builder;
  for (const auto& [stream, value] : all) builder.Add(stream, value);
  return builder.Finish();
}

}  // namespace tailtrace::storage
