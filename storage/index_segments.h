#pragma once

// Private to RocksTraceStore: the unsealed index segments of one bucket (see "The search index"
// in keys.h). Writes add trace entries to open segments; sealing turns a segment into the keys
// and values of its trace table and posting lists; searches copy what they need of the unsealed
// segments. No RocksDB types. Thread-safe.

#include <cstdint>
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
#include "absl/status/statusor.h"
#include "proto/otlp_ids.h"
#include "storage/keys.h"
#include "storage/trace_analysis.h"

namespace tailtrace::storage {

// What a trace's segment entry holds: every stored stream and its value (keys.h).
using StoredStreams = std::vector<std::pair<std::string, std::string>>;

// Turns a trace's index streams (TraceTermsBuilder's, fed in ascending byte order) into the
// streams a segment stores: the duration-class streams ('I' 'd', 'I' 'e') are folded into the
// duration range value of the time, service and operation streams.
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

// One stream's entries in an unsealed segment: ordinals in the order they were added (ascending),
// and for streams with values (StreamHasValues) one value each.
struct Posting {
  std::vector<uint32_t> ordinals;
  std::vector<std::string> values;
};

// What a search sees of one unsealed segment: its trace positions by ordinal and the postings of
// the streams the search asked for.
struct SegmentView {
  SegmentRef ref;
  std::vector<IndexPos> positions;
  std::map<std::string, Posting, std::less<>> postings;
};

// The keys and values of a sealed segment, sorted by key.
struct SealedSegment {
  SegmentRef ref;
  std::vector<std::pair<std::string, std::string>> puts;
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

  // Adds the entry of a trace (every stream it has -> value, "" for streams without values) to
  // the pinned segment `segment` and unpins it.
  void Add(uint64_t segment, int64_t start_ns, const TraceId& trace_id,
           const StoredStreams& streams);
  // Releases a pin without adding (the write failed).
  void Unpin(uint64_t segment);

  // Marks the segments due for sealing (full, older than max_age_ns, or every one with `all`) that
  // no write has pinned, and returns them sealed. Each must be passed to Sealed() once written,
  // or to SealFailed() when writing failed.
  std::vector<SealedSegment> TakeDue(int64_t now_ns, bool all);
  void Sealed(const SegmentRef& ref);
  void SealFailed(const SegmentRef& ref);

  // The unsealed segments whose slot is in [min_slot, max_slot], with the postings of `streams`.
  std::vector<SegmentView> Snapshot(int64_t min_slot, int64_t max_slot,
                                    const std::vector<std::string>& streams) const;

  size_t unsealed() const;

 private:
  struct Segment {
    SegmentRef ref;
    int64_t created_ns = 0;
    int pending = 0;
    bool sealing = false;
    std::vector<IndexPos> positions;  // by ordinal
    std::vector<TraceId> ids;         // by ordinal
    absl::flat_hash_map<std::string, Posting> postings;
    absl::flat_hash_map<TraceId, uint32_t> latest;  // trace -> its newest ordinal
  };

  static SealedSegment Seal(const Segment& s);

  const Options options_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Segment>> segments_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tailtrace::storage
