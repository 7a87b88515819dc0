#pragma once

// Private to RocksTraceStore: the unsealed index segments of one bucket (see "The search index"
// in keys.h). Writes add trace entries to open segments; sealing turns a segment into the keys
// and values of its trace table and posting lists; searches copy what they need of the unsealed
// segments. No RocksDB types. Thread-safe.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/hash/hash.h"
#include "absl/status/statusor.h"
#include "proto/otlp_ids.h"
#include "storage/index/keys.h"
#include "storage/index/trace_analysis.h"

namespace tailtrace::storage {

// A list of (key, value) byte string pairs in one buffer, so that building one allocates a few
// times instead of twice per pair. Iterating yields std::pair<std::string_view, std::string_view>
// views (valid until the list changes).
class KeyValueList {
 public:
  using Item = std::pair<std::string_view, std::string_view>;

  KeyValueList() = default;
  KeyValueList(std::initializer_list<Item> items) {
    for (const Item& item : items) Add(item.first, item.second);
  }

  void Add(std::string_view key, std::string_view value) {
    entries_.push_back(Entry{bytes_.size(), static_cast<uint32_t>(key.size()),
                             static_cast<uint32_t>(value.size())});
    bytes_.append(key);
    bytes_.append(value);
  }
  // Room for `pairs` more pairs of `bytes` more bytes (growing geometrically, so that reserving
  // before each of many appends stays linear).
  void Reserve(size_t pairs, size_t bytes) {
    if (entries_.size() + pairs > entries_.capacity()) {
      entries_.reserve(std::max(entries_.size() + pairs, 2 * entries_.capacity()));
    }
    if (bytes_.size() + bytes > bytes_.capacity()) {
      bytes_.reserve(std::max(bytes_.size() + bytes, 2 * bytes_.capacity()));
    }
  }
  void Clear() {
    entries_.clear();
    bytes_.clear();
  }

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  std::string_view key(size_t i) const {
    return {bytes_.data() + entries_[i].offset, entries_[i].key_size};
  }
  std::string_view value(size_t i) const {
    return {bytes_.data() + entries_[i].offset + entries_[i].key_size, entries_[i].value_size};
  }
  Item operator[](size_t i) const { return {key(i), value(i)}; }

  class const_iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Item;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Item;
    const_iterator() = default;
    const_iterator(const KeyValueList* list, size_t i) : list_(list), i_(i) {}
    Item operator*() const { return (*list_)[i_]; }
    const_iterator& operator++() {
      ++i_;
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++i_;
      return old;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) {
      return a.i_ == b.i_;
    }

   private:
    const KeyValueList* list_ = nullptr;
    size_t i_ = 0;
  };
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, entries_.size()}; }

 private:
  struct Entry {
    size_t offset;  // of the key's bytes in bytes_; the value's follow
    uint32_t key_size;
    uint32_t value_size;
  };
  std::vector<Entry> entries_;
  std::string bytes_;
};

// What a trace's segment entry holds: every stored stream (keys.h) and its value ("" for streams
// without values, EncodeDurationRange for the time, service and operation streams).
using StoredStreams = KeyValueList;

// Turns a trace's index streams (TraceTermsBuilder::ForEachStream's, fed in ascending byte
// order) into the streams a segment stores: the duration-class streams ('I' 'd', 'I' 'e') are
// folded into the duration range value of the time, service and operation streams.
// (TraceTermsBuilder::GetSegmentEntry gives the same result without the detour.)
class StoredStreamsBuilder {
 public:
  // `value` is the stream's value (EncodeDurations for fine duration streams, else "").
  // false when a fine duration value is malformed.
  bool Add(std::string_view stream, std::string_view value);
  StoredStreams Finish() { return std::move(out_); }

 private:
  // Duration ranges by scope key (the fine duration stream without 'I' 'e' and class).
  absl::flat_hash_map<std::string, std::pair<int64_t, int64_t>> ranges_;
  std::vector<int64_t> durations_;
  std::string key_;
  StoredStreams out_;
};

// The stored streams of a trace computed from scratch.
StoredStreams StoredStreamsOf(const TraceIndexTerms& terms);

// A trace's segment entry by its parts (TraceTermsBuilder::GetSegmentEntry): the streams of its
// StoredStreams, unencoded. A segment finds each service, operation and tag of an entry by its
// bytes once and every service tag stream by two integers, so adding an entry of hundreds of
// streams encodes and hashes no stream bytes; a stream is encoded once, when new to the segment.
// Each service (by name), operation (by service and name), tag (by key and value) and service tag
// (by service and tag) is added once. The entry holds copies of its strings: the builder it came
// from may be gone (evicted from the store's cache of index states) before the entry reaches its
// segment.
class SegmentEntry {
 public:
  // A duration range as the time, service and operation streams store it (DurationRangeBytes).
  using Range = std::array<char, 2>;
  // A string held by the entry (Str).
  struct Ref {
    uint32_t offset = 0;
    uint32_t size = 0;
  };
  struct Service {
    Ref name;
    Range range;
  };
  struct Operation {
    uint32_t service;  // index in services()
    Ref name;
    Range range;
  };
  struct Tag {
    Ref key;
    Ref value;
  };
  // The ('a') stream of a tag on the spans of a service.
  struct ServiceTag {
    uint32_t service;  // index in services()
    uint32_t tag;      // index in tags()
  };

  // Removes everything; an entry without a time range has no streams.
  void Clear();
  // Reserves room for `bytes` more bytes of strings.
  void Reserve(size_t bytes) { strings_.reserve(strings_.size() + bytes); }
  void SetTime(Range range) { time_ = range; }
  void AddService(std::string_view name, Range range) { services_.push_back({Store(name), range}); }
  void AddOperation(uint32_t service, std::string_view name, Range range) {
    operations_.push_back({service, Store(name), range});
  }
  void AddTag(std::string_view key, std::string_view value) {
    tags_.push_back({Store(key), Store(value)});
  }
  void AddServiceTag(uint32_t service, uint32_t tag) { service_tags_.push_back({service, tag}); }

  const std::optional<Range>& time() const { return time_; }
  const std::vector<Service>& services() const { return services_; }
  const std::vector<Operation>& operations() const { return operations_; }
  const std::vector<Tag>& tags() const { return tags_; }
  const std::vector<ServiceTag>& service_tags() const { return service_tags_; }
  std::string_view Str(Ref r) const { return std::string_view(strings_).substr(r.offset, r.size); }
  // The entry as StoredStreams: its streams encoded, in ascending byte order.
  StoredStreams Encode() const;
  // The entry of `streams` (Encode's inverse); streams that are not well-formed index streams
  // with values where they need them, and service tags of a service without a service stream,
  // are left out.
  static SegmentEntry Decode(const StoredStreams& streams);

 private:
  Ref Store(std::string_view s) {
    const Ref r{static_cast<uint32_t>(strings_.size()), static_cast<uint32_t>(s.size())};
    strings_.append(s);
    return r;
  }

  std::optional<Range> time_;
  std::vector<Service> services_;
  std::vector<Operation> operations_;
  std::vector<Tag> tags_;
  std::vector<ServiceTag> service_tags_;
  std::string strings_;
};

// One stream's entries in an unsealed segment: ordinals in the order they were added (ascending),
// and for streams with values (PostingHasValues: the service masks of 'A' streams) one value each.
struct Posting {
  std::vector<uint32_t> ordinals;
  std::vector<std::string> values;
};

// What a search sees of one unsealed segment: its trace positions by ordinal, the postings of
// the streams the search asked for, and the numbers of the services it asked for (their bits in
// the service masks; a service the segment does not hold is not there).
struct SegmentView {
  SegmentRef ref;
  std::vector<IndexPos> positions;
  std::map<std::string, Posting, std::less<>> postings;
  std::map<std::string, uint32_t, std::less<>> services;
};

// The keys and values of a sealed segment, sorted by key.
struct SealedSegment {
  SegmentRef ref;
  KeyValueList puts;
  std::string marker_begin;  // the segment's markers are [marker_begin, marker_end)
  std::string marker_end;
  size_t traces = 0;
};

class IndexSegments {
 public:
  struct Options {
    // A segment is sealed once it holds this many traces.
    // Default: 4096
    size_t max_traces = 4096;
    // ... or once it is this old (by the store clock).
    // Default: 5 s
    int64_t max_age_ns = 5'000'000'000;
  };

  explicit IndexSegments(const Options& options) : options_(options) {}

  // Reserves a place for a trace entry in an open segment of `slot`, creating one with the ID
  // `new_id()` if needed (which may fail). The segment is not sealed until the matching Add or
  // Unpin. Returns the segment ID (for the trace's marker key).
  template <typename NewId>
  absl::StatusOr<uint64_t> Pin(int64_t slot, int64_t now_ns, NewId&& new_id) {
    std::lock_guard lock(mu_);
    for (const auto& s : segments_) {
      if (s->ref.slot == slot && !s->sealing && s->positions.size() < options_.max_traces) {
        ++s->pending;
        return s->ref.segment;
      }
    }
    absl::StatusOr<uint64_t> id = new_id();
    if (!id.ok()) return id.status();
    auto s = std::make_shared<Segment>();
    s->ref = SegmentRef{slot, *id};
    s->created_ns = now_ns;
    s->pending = 1;
    segments_.push_back(std::move(s));
    return *id;
  }

  // Adds the entry of a trace given by its parts to the pinned segment `segment` and unpins it.
  void Add(uint64_t segment, int64_t start_ns, const TraceId& trace_id, const SegmentEntry& entry);
  // The same for the entry's streams (every stream it has -> value, "" for streams without
  // values): Add(SegmentEntry::Decode(streams)).
  void Add(uint64_t segment, int64_t start_ns, const TraceId& trace_id,
           const StoredStreams& streams) {
    Add(segment, start_ns, trace_id, SegmentEntry::Decode(streams));
  }
  // Releases a pin without adding (the write failed).
  void Unpin(uint64_t segment);

  // Marks the segments due for sealing (full, older than max_age_ns, or every one with `all`) that
  // no write has pinned, and returns them sealed. Each must be passed to Sealed() once written,
  // or to SealFailed() when writing failed.
  std::vector<SealedSegment> TakeDue(int64_t now_ns, bool all);
  void Sealed(const SegmentRef& ref);
  void SealFailed(const SegmentRef& ref);

  // The unsealed segments whose slot is in [min_slot, max_slot], with the postings of `streams`
  // and the numbers of `services`.
  std::vector<SegmentView> Snapshot(int64_t min_slot, int64_t max_slot,
                                    const std::vector<std::string>& streams,
                                    const std::vector<std::string>& services = {}) const;

  // Calls `fn(stream)` (a std::string_view valid during the call) for every stream starting with
  // `prefix` that an unsealed segment whose slot is in [min_slot, max_slot] holds, in no order
  // and possibly more than once (a stream of several segments). Holds the segments' lock: `fn`
  // must not call back into this object.
  template <typename Fn>
  void ForEachStream(int64_t min_slot, int64_t max_slot, std::string_view prefix, Fn&& fn) const {
    std::lock_guard lock(mu_);
    for (const auto& s : segments_) {
      if (s->ref.slot < min_slot || s->ref.slot > max_slot || s->positions.empty()) continue;
      for (const std::string_view stream : s->names_by_id) {
        if (stream.starts_with(prefix)) fn(stream);
      }
    }
  }

  // Calls `fn(stream)` for every tag ('A') stream starting with `prefix` that an unsealed
  // segment whose slot is in [min_slot, max_slot] holds on a span of `service` (an entry with the
  // service's bit), in no order and possibly more than once. Holds the segments' lock.
  void ForEachTagStreamOf(int64_t min_slot, int64_t max_slot, std::string_view service,
                          std::string_view prefix,
                          absl::FunctionRef<void(std::string_view)> fn) const;

  size_t unsealed() const;

 private:
  static constexpr uint32_t kNone = 0xffffffff;
  // The streams of a segment are interned: a stream's bytes are copied once, it is numbered (its
  // ID, the index in Segment::names_by_id), and its entries are a list (newest first) through
  // Segment::items.
  // An entry of a stream: the trace's ordinal, and for streams with values where its value is.
  struct Item {
    uint32_t ordinal;
    uint32_t stream;        // Stream::id
    uint32_t previous;      // the stream's previous item, kNone at the first
    uint32_t value_offset;  // in Segment::values
  };
  // Copies of stream names at addresses that never change (blocks of 64 KiB or more), each
  // after its hash (8 bytes) and length (4 bytes): a stored name is the address of its hash.
  class Names {
   public:
    const char* Store(std::string_view s, size_t hash);
    static size_t HashOf(const char* name) {
      size_t h;
      std::memcpy(&h, name, sizeof(h));
      return h;
    }
    static std::string_view View(const char* name) {
      uint32_t size;
      std::memcpy(&size, name + sizeof(size_t), sizeof(size));
      return {name + sizeof(size_t) + sizeof(size), size};
    }

   private:
    std::vector<std::unique_ptr<char[]>> blocks_;
    char* next_ = nullptr;
    size_t left_ = 0;
  };
  // A stream looked up by its bytes and their hash (computed once).
  struct Probe {
    std::string_view bytes;
    size_t hash;
  };
  static size_t HashOf(std::string_view stream) {
    return absl::Hash<absl::string_view>{}(absl::string_view(stream.data(), stream.size()));
  }
  // The stream table hashes and compares stored names and probes; growing it reads the stored
  // hashes instead of hashing every stream again.
  struct NameHash {
    using is_transparent = void;
    size_t operator()(const char* name) const { return Names::HashOf(name); }
    size_t operator()(const Probe& p) const { return p.hash; }
  };
  struct NameEq {
    using is_transparent = void;
    bool operator()(const char* a, const char* b) const {
      return a == b || Names::View(a) == Names::View(b);
    }
    bool operator()(const char* a, const Probe& b) const { return Names::View(a) == b.bytes; }
    bool operator()(const Probe& a, const char* b) const { return a.bytes == Names::View(b); }
  };
  // A service or tag of a segment (the part of a SegmentEntry): its number among the segment's
  // services or tags, and the ID of its 's' or 'A' stream.
  struct Part {
    uint32_t number;
    uint32_t stream;
  };
  using TagBytes = std::pair<absl::string_view, absl::string_view>;
  using OperationBytes = std::pair<uint32_t, absl::string_view>;  // service number, name
  struct Segment {
    SegmentRef ref;
    int64_t created_ns = 0;
    int pending = 0;
    bool sealing = false;
    std::vector<IndexPos> positions;  // by ordinal
    std::vector<TraceId> ids;         // by ordinal
    Names names;
    // Stored name -> the stream's ID.
    absl::flat_hash_map<const char*, uint32_t, NameHash, NameEq> streams;
    std::vector<std::string_view> names_by_id;  // into names
    std::vector<bool> has_values_by_id;
    std::vector<uint32_t> last_by_id;  // the stream's newest item
    // Add(SegmentEntry)'s ways to a stream ID, keyed by views into the stored names: services
    // and tags by their bytes, operations by service number and name, and the time stream.
    absl::flat_hash_map<absl::string_view, Part> services;
    absl::flat_hash_map<TagBytes, Part> tags;
    absl::flat_hash_map<OperationBytes, uint32_t> operations;
    uint32_t time_stream = kNone;
    std::vector<std::string_view> service_names;  // by number (into names)
    std::vector<Item> items;                      // the items of an entry are consecutive
    std::vector<uint32_t> first_item;             // by ordinal
    // v(value) of every item of a stream with values (keys.h), as EncodePosting writes it.
    std::string values;
    absl::flat_hash_map<TraceId, uint32_t> latest;  // trace -> its newest ordinal
  };

  static SealedSegment Seal(const Segment& s);
  // The seal's 'k' keys (keys.h): one per service and tag key of the sealed entries, sorted.
  class ServiceKeys;
  // The segment `segment` (null when there is none).
  Segment* Find(uint64_t segment) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds a trace's entry to the pinned segment `segment` and unpins it: `add_streams(s, ordinal)`
  // adds its streams (under the lock).
  void AddEntry(uint64_t segment, int64_t start_ns, const TraceId& trace_id,
                absl::FunctionRef<void(Segment& s, uint32_t ordinal)> add_streams);
  // The ID of the stream `name`, interned if new.
  static uint32_t Intern(Segment& s, std::string_view name);
  // Adds the entry `ordinal` (with `value` for streams with values) to the stream `id`.
  static void Touch(Segment& s, uint32_t ordinal, uint32_t id, std::string_view value);
  // The services of `entry` as the segment's parts, into entry_services_ (one lookup each). Those
  // new to the segment are numbered in the byte order of their streams, so that an entry numbers
  // them alike given by its parts or decoded from its streams.
  void InternServices(Segment& s, const SegmentEntry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Add(SegmentEntry)'s lookups: the service, tag and operation of an entry.
  Part InternService(Segment& s, std::string_view name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Part InternTag(Segment& s, std::string_view key, std::string_view value)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint32_t InternOperation(Segment& s, const Part& service, std::string_view service_name,
                           std::string_view name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Segment>> segments_ ABSL_GUARDED_BY(mu_);
  // Scratch of Add(SegmentEntry): a stream's bytes, the entry's services, its tags' services (as
  // words of bits, the same number of words a tag) and a service mask.
  std::string scratch_ ABSL_GUARDED_BY(mu_);
  std::vector<Part> entry_services_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> entry_masks_ ABSL_GUARDED_BY(mu_);
  // The entry's services new to the segment: their streams and their indexes in the entry.
  std::vector<std::pair<std::string, size_t>> new_services_ ABSL_GUARDED_BY(mu_);
  std::string mask_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tailtrace::storage
