// IndexSegments::Add for an entry given by its parts (SegmentEntry), and SegmentEntry itself.
//
// The segment keeps, next to its streams by name, the ways from an entry's parts to stream IDs:
// services and tags by their bytes, operations by (service number, name), service tags by
// (service number, tag number). Their keys are views into the stored stream names (a service is
// the tail of its 's' stream's name, a tag's value the tail of its 'A' stream's, ...), so they
// cost no copies. A part that is new to the segment is encoded once and interned by name, which
// finds the stream if Add(StoredStreams) made it: both ways give the same streams.

#include <map>
#include <string>
#include <utility>

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

IndexSegments::Part IndexSegments::InternService(Segment& s, std::string_view name) {
  auto it = s.services.find(Absl(name));
  if (it != s.services.end()) return it->second;
  EncodeStream(&scratch_, 0, Head(kServiceIndex), {name});
  const uint32_t stream = Intern(s, scratch_);
  const std::string_view stored = s.names_by_id[stream];
  const Part part{static_cast<uint32_t>(s.services.size()), stream};
  s.services.emplace(Absl(stored.substr(stored.size() - name.size())), part);
  return part;
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

uint32_t IndexSegments::InternServiceTag(Segment& s, const Part& service, const Part& tag,
                                         std::string_view service_name, std::string_view key,
                                         std::string_view value) {
  const uint64_t number = (uint64_t{service.number} << 32) | tag.number;
  auto it = s.service_tags.find(number);
  if (it != s.service_tags.end()) return it->second;
  EncodeStream(&scratch_, 0, Head(kServiceTagIndex), {service_name, key, value});
  const uint32_t stream = Intern(s, scratch_);
  s.service_tags.emplace(number, stream);
  return stream;
}

void IndexSegments::Add(uint64_t segment, int64_t start_ns, const TraceId& trace_id,
                        const SegmentEntry& entry) {
  AddEntry(segment, start_ns, trace_id, [&](Segment& s, uint32_t ordinal) {
    if (entry.time()) {
      if (s.time_stream == kNone) s.time_stream = Intern(s, TimeStream());
      Touch(s, ordinal, s.time_stream, RangeBytes(*entry.time()));
    }
    entry_services_.clear();
    for (const SegmentEntry::Service& service : entry.services()) {
      const Part part = InternService(s, entry.Str(service.name));
      entry_services_.push_back(part);
      Touch(s, ordinal, part.stream, RangeBytes(service.range));
    }
    for (const SegmentEntry::Operation& op : entry.operations()) {
      const uint32_t stream =
          InternOperation(s, entry_services_[op.service],
                          entry.Str(entry.services()[op.service].name), entry.Str(op.name));
      Touch(s, ordinal, stream, RangeBytes(op.range));
    }
    entry_tags_.clear();
    for (const SegmentEntry::Tag& tag : entry.tags()) {
      const Part part = InternTag(s, entry.Str(tag.key), entry.Str(tag.value));
      entry_tags_.push_back(part);
      Touch(s, ordinal, part.stream, {});
    }
    for (const SegmentEntry::ServiceTag& st : entry.service_tags()) {
      const SegmentEntry::Tag& tag = entry.tags()[st.tag];
      const uint32_t stream = InternServiceTag(s, entry_services_[st.service], entry_tags_[st.tag],
                                               entry.Str(entry.services()[st.service].name),
                                               entry.Str(tag.key), entry.Str(tag.value));
      Touch(s, ordinal, stream, {});
    }
  });
}

}  // namespace tailtrace::storage
