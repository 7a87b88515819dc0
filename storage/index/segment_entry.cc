// IndexSegments::Add for an entry given by its parts (SegmentEntry), and SegmentEntry itself.
//
// The segment keeps, next to its streams by name, the ways from an entry's parts to stream IDs:
// services and tags by their bytes, operations by (service number, name). Their keys are views
// into the stored stream names (a service is the tail of its 's' stream's name, a tag's value the
// tail of its 'A' stream's, ...), so they cost no copies. A part that is new to the segment is
// encoded once and interned by name. An entry's service tags become the service masks of its tag
// streams' entries (keys.h, "Services in a segment").

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "storage/index/index_segments.h"
#include "storage/index/trace_terms_internal.h"

namespace tailtrace::storage {

using terms_internal::Absl;
using terms_internal::EncodeStream;
using terms_internal::IndexHead;
using terms_internal::LengthPrefixedSize;

namespace {

constexpr IndexHead Head(char type) { return IndexHead{{kIndexTag, type}}; }

std::string_view RangeBytes(const SegmentEntry::Range& range) { return {range.data(), 2}; }

}  // namespace

void SegmentEntry::Clear() {
  time_.reset();
  services_.clear();
  operations_.clear();
  tags_.clear();
  service_tags_.clear();
  strings_.clear();
}

StoredStreams SegmentEntry::Encode() const {
  std::map<std::string, std::string> all;
  if (time_) all.emplace(TimeStream(), RangeBytes(*time_));
  for (const Service& s : services_) all.emplace(ServiceStream(Str(s.name)), RangeBytes(s.range));
  for (const Operation& o : operations_) {
    all.emplace(OperationStream(Str(services_[o.service].name), Str(o.name)), RangeBytes(o.range));
  }
  for (const Tag& t : tags_) all.emplace(TagStream(Str(t.key), Str(t.value)), "");
  for (const ServiceTag& st : service_tags_) {
    const Tag& t = tags_[st.tag];
    all.emplace(ServiceTagStream(Str(services_[st.service].name), Str(t.key), Str(t.value)), "");
  }
  StoredStreams out;
  for (const auto& [stream, value] : all) out.Add(stream, value);
  return out;
}

namespace {

// The two-byte duration range of a stream's value; nullopt when it is not one.
std::optional<SegmentEntry::Range> RangeOf(std::string_view value) {
  if (value.size() != 2) return std::nullopt;
  return SegmentEntry::Range{value[0], value[1]};
}

// The length-prefixed names after a stream's two type bytes, all of them; nullopt when the
// stream is not `count` names.
std::optional<std::array<std::string_view, 3>> NamesOf(std::string_view stream, size_t count) {
  std::array<std::string_view, 3> out;
  stream.remove_prefix(2);
  for (size_t i = 0; i < count; ++i) {
    if (!GetLengthPrefixed(&stream, &out[i])) return std::nullopt;
  }
  if (!stream.empty()) return std::nullopt;
  return out;
}

}  // namespace

SegmentEntry SegmentEntry::Decode(const StoredStreams& streams) {
  SegmentEntry out;
  // Services first (operations and service tags refer to them), then tags.
  absl::flat_hash_map<absl::string_view, uint32_t> services;
  absl::flat_hash_map<std::pair<absl::string_view, absl::string_view>, uint32_t> tags;
  for (const auto& [stream, value] : streams) {
    if (stream.size() < 2 || stream[0] != kIndexTag) continue;
    const std::optional<Range> range = RangeOf(value);
    if (stream[1] == kTimeIndex && stream.size() == 2 && range) out.SetTime(*range);
    const auto names = NamesOf(stream, 1);
    if (stream[1] == kServiceIndex && names && range &&
        services.emplace(Absl((*names)[0]), out.services_.size()).second) {
      out.AddService((*names)[0], *range);
    }
  }
  for (const auto& [stream, value] : streams) {
    if (stream.size() < 2 || stream[0] != kIndexTag || stream[1] != kTagIndex) continue;
    const auto names = NamesOf(stream, 2);
    if (names &&
        tags.emplace(std::pair(Absl((*names)[0]), Absl((*names)[1])), out.tags_.size()).second) {
      out.AddTag((*names)[0], (*names)[1]);
    }
  }
  for (const auto& [stream, value] : streams) {
    if (stream.size() < 2 || stream[0] != kIndexTag) continue;
    if (stream[1] == kOperationIndex) {
      const auto names = NamesOf(stream, 2);
      const std::optional<Range> range = RangeOf(value);
      auto service = names ? services.find(Absl((*names)[0])) : services.end();
      if (range && service != services.end()) {
        out.AddOperation(service->second, (*names)[1], *range);
      }
    } else if (stream[1] == kServiceTagIndex) {
      const auto names = NamesOf(stream, 3);
      auto service = names ? services.find(Absl((*names)[0])) : services.end();
      if (service == services.end()) continue;
      auto [tag, added] =
          tags.emplace(std::pair(Absl((*names)[1]), Absl((*names)[2])), out.tags_.size());
      if (added) out.AddTag((*names)[1], (*names)[2]);
      out.AddServiceTag(service->second, tag->second);
    }
  }
  return out;
}

IndexSegments::Part IndexSegments::InternService(Segment& s, std::string_view name) {
  auto it = s.services.find(Absl(name));
  if (it != s.services.end()) return it->second;
  EncodeStream(&scratch_, 0, Head(kServiceIndex), {name});
  const uint32_t stream = Intern(s, scratch_);
  const std::string_view stored = s.names_by_id[stream];
  const std::string_view stored_name = stored.substr(stored.size() - name.size());
  const Part part{static_cast<uint32_t>(s.service_names.size()), stream};
  s.services.emplace(Absl(stored_name), part);
  s.service_names.push_back(stored_name);
  return part;
}

void IndexSegments::InternServices(Segment& s, const SegmentEntry& entry) {
  entry_services_.clear();
  new_services_.clear();
  for (size_t i = 0; i < entry.services().size(); ++i) {
    const std::string_view name = entry.Str(entry.services()[i].name);
    auto it = s.services.find(Absl(name));
    if (it != s.services.end()) {
      entry_services_.push_back(it->second);
    } else {
      entry_services_.push_back(Part{kNone, kNone});
      new_services_.emplace_back(ServiceStream(name), i);
    }
  }
  std::sort(new_services_.begin(), new_services_.end());
  for (const auto& [stream, i] : new_services_) {
    entry_services_[i] = InternService(s, entry.Str(entry.services()[i].name));
  }
}

IndexSegments::Part IndexSegments::InternTag(Segment& s, std::string_view key,
                                             std::string_view value) {
  auto it = s.tags.find(TagBytes(Absl(key), Absl(value)));
  if (it != s.tags.end()) return it->second;
  EncodeStream(&scratch_, 0, Head(kTagIndex), {key, value});
  const uint32_t stream = Intern(s, scratch_);
  // The name is 'I' 'A' v(key) v(value).
  const std::string_view stored = s.names_by_id[stream];
  const std::string_view stored_key = stored.substr(2 + LengthPrefixedSize(key) - key.size());
  const Part part{static_cast<uint32_t>(s.tags.size()), stream};
  s.tags.emplace(TagBytes(Absl(stored_key.substr(0, key.size())),
                          Absl(stored.substr(stored.size() - value.size()))),
                 part);
  return part;
}

uint32_t IndexSegments::InternOperation(Segment& s, const Part& service,
                                        std::string_view service_name, std::string_view name) {
  auto it = s.operations.find(OperationBytes(service.number, Absl(name)));
  if (it != s.operations.end()) return it->second;
  EncodeStream(&scratch_, 0, Head(kOperationIndex), {service_name, name});
  const uint32_t stream = Intern(s, scratch_);
  const std::string_view stored = s.names_by_id[stream];
  s.operations.emplace(
      OperationBytes(service.number, Absl(stored.substr(stored.size() - name.size()))), stream);
  return stream;
}

void IndexSegments::Add(uint64_t segment, int64_t start_ns, const TraceId& trace_id,
                        const SegmentEntry& entry) {
  AddEntry(segment, start_ns, trace_id, [&](Segment& s, uint32_t ordinal) {
    if (entry.time()) {
      if (s.time_stream == kNone) s.time_stream = Intern(s, TimeStream());
      Touch(s, ordinal, s.time_stream, RangeBytes(*entry.time()));
    }
    InternServices(s, entry);
    for (size_t i = 0; i < entry.services().size(); ++i) {
      Touch(s, ordinal, entry_services_[i].stream, RangeBytes(entry.services()[i].range));
    }
    for (const SegmentEntry::Operation& op : entry.operations()) {
      const uint32_t stream =
          InternOperation(s, entry_services_[op.service],
                          entry.Str(entry.services()[op.service].name), entry.Str(op.name));
      Touch(s, ordinal, stream, RangeBytes(op.range));
    }
    // Each tag's services, as the bits of their numbers in the segment.
    uint32_t top = 0;
    for (const Part& service : entry_services_) top = std::max(top, service.number);
    const size_t words = top / 64 + 1;
    entry_masks_.assign(entry.tags().size() * words, 0);
    for (const SegmentEntry::ServiceTag& st : entry.service_tags()) {
      const uint32_t n = entry_services_[st.service].number;
      entry_masks_[st.tag * words + n / 64] |= uint64_t{1} << (n % 64);
    }
    for (size_t t = 0; t < entry.tags().size(); ++t) {
      const SegmentEntry::Tag& tag = entry.tags()[t];
      const Part part = InternTag(s, entry.Str(tag.key), entry.Str(tag.value));
      mask_.clear();
      AppendServiceMask(&mask_, entry_masks_.data() + t * words, words);
      Touch(s, ordinal, part.stream, mask_);
    }
  });
}

}  // namespace tailtrace::storage
