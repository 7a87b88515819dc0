#include "storage/index/index_segments.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>
#include <span>

namespace tailtrace::storage {

const char* IndexSegments::Names::Store(std::string_view s, size_t hash) {
  const size_t need = sizeof(size_t) + sizeof(uint32_t) + s.size();
  if (need > left_) {
    const size_t size = std::max<size_t>(need, 64 << 10);
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(size));
    next_ = blocks_.back().get();
    left_ = size;
  }
  char* at = next_;
  const uint32_t length = static_cast<uint32_t>(s.size());
  std::memcpy(at, &hash, sizeof(hash));
  std::memcpy(at + sizeof(hash), &length, sizeof(length));
  if (!s.empty()) std::memcpy(at + sizeof(hash) + sizeof(length), s.data(), s.size());
  next_ += need;
  left_ -= need;
  return at;
}

IndexSegments::Segment* IndexSegments::Find(uint64_t segment) {
  for (const auto& s : segments_) {
    if (s->ref.segment == segment) return s.get();
  }
  return nullptr;
}

void IndexSegments::AddEntry(uint64_t segment, int64_t start_ns, const TraceId& trace_id,
                             absl::FunctionRef<void(Segment& s, uint32_t ordinal)> add_streams) {
  std::lock_guard lock(mu_);
  Segment* s = Find(segment);
  if (s == nullptr) return;
  const uint32_t ordinal = static_cast<uint32_t>(s->positions.size());
  s->positions.push_back(MakeIndexPos(start_ns, trace_id));
  s->ids.push_back(trace_id);
  s->latest[trace_id] = ordinal;
  s->first_item.push_back(static_cast<uint32_t>(s->items.size()));
  add_streams(*s, ordinal);
  --s->pending;
}

uint32_t IndexSegments::Intern(Segment& s, std::string_view name) {
  // One hash per lookup; a stream new to the segment is copied once.
  const Probe probe{name, HashOf(name)};
  auto it = s.streams.lazy_emplace(probe, [&](const auto& construct) {
    const char* stored = s.names.Store(name, probe.hash);
    construct(stored, static_cast<uint32_t>(s.names_by_id.size()));
    s.names_by_id.push_back(Names::View(stored));
    s.has_values_by_id.push_back(PostingHasValues(name));
    s.last_by_id.push_back(kNone);
  });
  return it->second;
}

void IndexSegments::Touch(Segment& s, uint32_t ordinal, uint32_t id, std::string_view value) {
  uint32_t value_offset = 0;
  if (s.has_values_by_id[id]) {
    value_offset = static_cast<uint32_t>(s.values.size());
    PutLengthPrefixed(&s.values, value);
  }
  const uint32_t item = static_cast<uint32_t>(s.items.size());
  s.items.push_back(Item{ordinal, id, s.last_by_id[id], value_offset});
  s.last_by_id[id] = item;
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

// The tag streams come to the seal in key order, so the streams of one tag key are consecutive:
// the union of their kept entries' service masks names the services that have the key.
class IndexSegments::ServiceKeys {
 public:
  ServiceKeys(const Segment& s, std::string_view suffix) : s_(s), suffix_(suffix) {}

  // The stream `name` is next.
  void Begin(std::string_view name) {
    const auto parts = DecodeTagStream(name);
    in_tag_ = parts.has_value();
    if (!in_tag_ || parts->first == key_) return;
    Flush();
    key_ = parts->first;
  }
  // An entry of that stream has the value `v` (a service mask if it is a tag stream).
  void Add(std::string_view v) {
    if (!in_tag_) return;
    if (v.size() > union_.size()) union_.resize(v.size(), '\0');
    for (size_t i = 0; i < v.size(); ++i) union_[i] = static_cast<char>(union_[i] | v[i]);
  }
  // Puts the keys into `out`, sorted.
  void Finish(KeyValueList* out) {
    Flush();
    std::sort(keys_.begin(), keys_.end());
    for (const auto& [key, value] : keys_) out->Add(key, value);
  }

 private:
  void Flush() {
    const size_t services = std::min(union_.size() * 8, s_.service_names.size());
    for (uint32_t n = 0; n < services; ++n) {
      if (!ServiceMaskHas(union_, n)) continue;
      auto& [key, value] = keys_.emplace_back(ServiceKeyStream(s_.service_names[n], key_), "");
      key.append(suffix_);
      PutVarint32(&value, n);
    }
    union_.clear();
  }

  const Segment& s_;
  const std::string_view suffix_;
  bool in_tag_ = false;
  std::string_view key_;  // the tag key of the current streams (into s_'s names)
  std::string union_;
  std::vector<std::pair<std::string, std::string>> keys_;
};

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
  std::string table;
  table.reserve(order.size() * kIndexPositionBytes);
  for (uint32_t rank = 0; rank < order.size(); ++rank) {
    const IndexPos& pos = s.positions[order[rank]];
    table.append(reinterpret_cast<const char*>(pos.data()), pos.size());
  }
  out.traces = order.size();

  // The streams in key order.
  std::vector<uint32_t> streams(s.names_by_id.size());
  std::iota(streams.begin(), streams.end(), 0);
  std::sort(streams.begin(), streams.end(),
            [&](uint32_t a, uint32_t b) { return s.names_by_id[a] < s.names_by_id[b]; });

  // Key order: 'G' (table) sorts before 'I' (postings) and after 'D'.
  const std::string suffix = SegmentSuffix(s.ref.slot, s.ref.segment);
  out.puts.Reserve(streams.size() + 1, table.size() + 32 + s.items.size() * 3 + s.values.size() +
                                           streams.size() * (suffix.size() + 8));
  out.puts.Add(SegmentTableKey(s.ref.slot, s.ref.segment), table);
  // The kept items grouped by stream, each group in sealed ordinal order (a counting sort: the
  // entries are walked in sealed order): (sealed ordinal << 32 | the item's value offset), so
  // that writing the postings reads no item again (they are in entry order, the postings not).
  auto items_of = [&](uint32_t ordinal) {
    const uint32_t end =
        ordinal + 1 < n ? s.first_item[ordinal + 1] : static_cast<uint32_t>(s.items.size());
    return std::pair<uint32_t, uint32_t>{s.first_item[ordinal], end};
  };
  std::vector<uint32_t> group(s.names_by_id.size() + 1, 0);
  for (const uint32_t ordinal : order) {
    const auto [begin, end] = items_of(ordinal);
    for (uint32_t i = begin; i < end; ++i) ++group[s.items[i].stream + 1];
  }
  for (size_t g = 1; g < group.size(); ++g) group[g] += group[g - 1];
  std::vector<uint64_t> mapped(group.back());
  {
    std::vector<uint32_t> fill(group.begin(), group.end() - 1);
    for (uint32_t rank = 0; rank < order.size(); ++rank) {
      const auto [begin, end] = items_of(order[rank]);
      for (uint32_t i = begin; i < end; ++i) {
        mapped[fill[s.items[i].stream]++] = (uint64_t{rank} << 32) | s.items[i].value_offset;
      }
    }
  }
  std::string key;
  std::string value;
  const std::string_view values(s.values);
  // The 'k' keys sort after the 'A' postings and before those of any stream after "Ik".
  ServiceKeys service_keys(s, suffix);
  bool service_keys_added = false;
  for (const uint32_t id : streams) {
    if (group[id] == group[id + 1]) continue;  // only in dropped entries
    const std::span<const uint64_t> posting(mapped.data() + group[id], group[id + 1] - group[id]);
    if (!service_keys_added && s.names_by_id[id] > std::string_view("Ik")) {
      service_keys.Finish(&out.puts);
      service_keys_added = true;
    }
    service_keys.Begin(s.names_by_id[id]);
    // PostingKey and EncodePosting (keys.h).
    key.assign(s.names_by_id[id]);
    key.append(suffix);
    value.clear();
    PutVarint32(&value, static_cast<uint32_t>(posting.size()));
    uint32_t previous = 0;
    for (size_t k = 0; k < posting.size(); ++k) {
      const uint32_t o = static_cast<uint32_t>(posting[k] >> 32);
      PutVarint32(&value, k == 0 ? o : o - previous);
      previous = o;
    }
    if (s.has_values_by_id[id]) {
      for (const uint64_t m : posting) {
        // The stored v(value), copied as it is.
        const size_t at = m & 0xffffffff;
        std::string_view rest = values.substr(at);
        std::string_view v;
        GetLengthPrefixed(&rest, &v);
        service_keys.Add(v);
        value.append(
            values.substr(at, static_cast<size_t>(v.data() + v.size() - (values.data() + at))));
      }
    }
    out.puts.Add(key, value);
  }
  if (!service_keys_added) service_keys.Finish(&out.puts);
  return out;
}

std::vector<SegmentView> IndexSegments::Snapshot(int64_t min_slot, int64_t max_slot,
                                                 const std::vector<std::string>& streams,
                                                 const std::vector<std::string>& services) const {
  std::vector<SegmentView> out;
  std::lock_guard lock(mu_);
  for (const auto& s : segments_) {
    if (s->ref.slot < min_slot || s->ref.slot > max_slot || s->positions.empty()) continue;
    SegmentView& view = out.emplace_back();
    view.ref = s->ref;
    view.positions = s->positions;
    for (const std::string& service : services) {
      auto it = s->services.find(absl::string_view(service.data(), service.size()));
      if (it != s->services.end()) view.services.emplace(service, it->second.number);
    }
    // Only the newest entry of each trace, as sealing keeps it.
    std::vector<bool> newest(s->positions.size(), false);
    for (const auto& [id, ordinal] : s->latest) newest[ordinal] = true;
    for (const std::string& stream : streams) {
      auto it = s->streams.find(Probe{stream, HashOf(stream)});
      if (it == s->streams.end()) continue;
      const uint32_t id = it->second;
      Posting copy;
      for (uint32_t i = s->last_by_id[id]; i != kNone; i = s->items[i].previous) {
        const Item& item = s->items[i];
        if (!newest[item.ordinal]) continue;
        copy.ordinals.push_back(item.ordinal);
        if (s->has_values_by_id[id]) {
          std::string_view rest = std::string_view(s->values).substr(item.value_offset);
          std::string_view v;
          GetLengthPrefixed(&rest, &v);
          copy.values.emplace_back(v);
        }
      }
      // The list runs newest first: ordinals ascending.
      std::reverse(copy.ordinals.begin(), copy.ordinals.end());
      std::reverse(copy.values.begin(), copy.values.end());
      if (!copy.ordinals.empty()) view.postings.emplace(stream, std::move(copy));
    }
  }
  return out;
}

void IndexSegments::ForEachTagStreamOf(int64_t min_slot, int64_t max_slot, std::string_view service,
                                       std::string_view prefix,
                                       absl::FunctionRef<void(std::string_view)> fn) const {
  std::lock_guard lock(mu_);
  for (const auto& s : segments_) {
    if (s->ref.slot < min_slot || s->ref.slot > max_slot || s->positions.empty()) continue;
    auto number = s->services.find(absl::string_view(service.data(), service.size()));
    if (number == s->services.end()) continue;
    const std::string_view values(s->values);
    for (uint32_t id = 0; id < s->names_by_id.size(); ++id) {
      const std::string_view name = s->names_by_id[id];
      if (!name.starts_with(prefix) || !DecodeTagStream(name)) continue;
      for (uint32_t i = s->last_by_id[id]; i != kNone; i = s->items[i].previous) {
        std::string_view rest = values.substr(s->items[i].value_offset);
        std::string_view mask;
        if (GetLengthPrefixed(&rest, &mask) && ServiceMaskHas(mask, number->second.number)) {
          fn(name);
          break;
        }
      }
    }
  }
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
    out_.Add(stream, {});
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
  out_.Add(stream, EncodeDurationRange(min, max));
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
