#pragma once

// Private to RocksTraceStore's search (rocks_trace_store_search.cc): the conditions of a query as
// RocksDB iterators over their index keys, per segment newest first, merged with the unsealed
// segments' postings (keys.h, "The search index").

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"
#include "storage/index/index_segments.h"
#include "storage/index/keys.h"

namespace tailtrace::storage::search_internal {

// What one search reads: a RocksDB snapshot of a bucket and a copy of its unsealed segments.
struct SearchContext {
  rocksdb::DB* db = nullptr;
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  const rocksdb::Snapshot* snapshot = nullptr;
  int64_t min_slot = 0;
  int64_t max_slot = 0;
  // Unsealed segments, ascending by ref. A segment here is read only from here (it may be on
  // disk as well while it is being sealed, with other ordinals).
  std::vector<SegmentView> memory;
  const SegmentView* Memory(const SegmentRef& ref) const {
    auto it = std::lower_bound(memory.begin(), memory.end(), ref,
                               [](const SegmentView& v, const SegmentRef& r) { return v.ref < r; });
    return it != memory.end() && it->ref == ref ? &*it : nullptr;
  }
};

// A duration condition: some span of the stream's scope lasts between min_ns and max_ns.
struct DurationFilter {
  int64_t min_ns = 0;
  int64_t max_ns = std::numeric_limits<int64_t>::max();
};

// A condition of a query, per segment newest first: the segments that may hold matches, and in
// each the ordinals of the traces that match.
class Condition {
 public:
  virtual ~Condition() = default;
  // Positions at the last segment <= `ref` (or invalid when there is none).
  virtual void SeekAtOrBefore(const SegmentRef& ref) = 0;
  // Moves to the previous (older) segment.
  virtual void Prev() = 0;
  virtual bool Valid() const = 0;
  // Requires Valid().
  virtual SegmentRef Current() const = 0;
  // The current segment's ordinals that satisfy the condition, ascending; `ambiguous` gets those
  // (also in `out`) whose duration range cannot decide the duration filter: their spans do.
  // false when a posting is malformed.
  virtual bool Ordinals(std::vector<uint32_t>* out, std::vector<uint32_t>* ambiguous) = 0;
  virtual rocksdb::Status status() const = 0;
};

// One index stream, per segment newest first: its postings on disk merged with those of the
// unsealed segments.
class PostingStream final : public Condition {
 public:
  PostingStream(const SearchContext& ctx, std::string stream,
                std::optional<DurationFilter> filter = std::nullopt)
      : ctx_(ctx), stream_(std::move(stream)), filter_(filter) {
    for (const SegmentView& v : ctx.memory) {
      auto it = v.postings.find(stream_);
      if (it != v.postings.end()) mem_.push_back({v.ref, &it->second});
    }
    lower_ = PostingKey(stream_, ctx.min_slot, 0);
    std::string last_slot = stream_;
    PutFixed64BE(&last_slot, static_cast<uint64_t>(ctx.max_slot));
    upper_ = PrefixSuccessor(last_slot);
    lower_slice_ = rocksdb::Slice(lower_);
    upper_slice_ = rocksdb::Slice(upper_);
    rocksdb::ReadOptions ro;
    ro.snapshot = ctx.snapshot;
    ro.total_order_seek = true;
    ro.iterate_lower_bound = &lower_slice_;
    if (!upper_.empty()) ro.iterate_upper_bound = &upper_slice_;
    it_.reset(ctx.db->NewIterator(ro, ctx.cf));
  }

  void SeekAtOrBefore(const SegmentRef& ref) override {
    seek_key_ = PostingKey(stream_, ref.slot, ref.segment);
    it_->SeekForPrev(seek_key_);
    SkipShadowed();
    mem_index_ = std::upper_bound(mem_.begin(), mem_.end(), ref,
                                  [](const SegmentRef& r, const Mem& m) { return r < m.ref; }) -
                 mem_.begin() - 1;
  }
  void Prev() override {
    const SegmentRef current = Current();
    if (DiskValid() && DiskRef() == current) {
      it_->Prev();
      SkipShadowed();
    }
    if (mem_index_ >= 0 && mem_[mem_index_].ref == current) --mem_index_;
  }
  bool Valid() const override { return DiskValid() || mem_index_ >= 0; }
  SegmentRef Current() const override {
    if (!DiskValid()) return mem_[mem_index_].ref;
    if (mem_index_ < 0) return DiskRef();
    return std::max(DiskRef(), mem_[mem_index_].ref);
  }
  bool Ordinals(std::vector<uint32_t>* out, std::vector<uint32_t>* ambiguous) override {
    ambiguous->clear();
    const SegmentRef current = Current();
    const bool from_memory = mem_index_ >= 0 && mem_[mem_index_].ref == current;
    if (!filter_) {
      if (from_memory) {
        *out = mem_[mem_index_].posting->ordinals;
        return true;
      }
      return DecodePosting(it_->value().ToStringView(), out, nullptr);
    }
    if (from_memory) {
      ordinals_ = mem_[mem_index_].posting->ordinals;
      values_.assign(mem_[mem_index_].posting->values.begin(),
                     mem_[mem_index_].posting->values.end());
    } else if (!DecodePosting(it_->value().ToStringView(), &ordinals_, &values_)) {
      return false;
    }
    if (values_.size() != ordinals_.size()) return false;
    out->clear();
    for (size_t i = 0; i < ordinals_.size(); ++i) {
      DurationBucket min;
      DurationBucket max;
      if (!DecodeDurationRange(values_[i], &min, &max)) return false;
      // No span of the scope can be in range.
      if (max.hi < filter_->min_ns || min.lo > filter_->max_ns) continue;
      out->push_back(ordinals_[i]);
      // The shortest or the longest span is in range for sure; otherwise look at the spans.
      const bool certain = (min.lo >= filter_->min_ns && min.hi <= filter_->max_ns) ||
                           (max.lo >= filter_->min_ns && max.hi <= filter_->max_ns);
      if (!certain) ambiguous->push_back(ordinals_[i]);
    }
    return true;
  }
  rocksdb::Status status() const override { return it_->status(); }

  // Whether the stream holds the segment `ref`, and if so positions it there. Successive calls
  // must name descending segments.
  bool MoveTo(const SegmentRef& ref) {
    if (!sought_ || (Valid() && Current() > ref)) SeekAtOrBefore(ref);
    sought_ = true;
    return Valid() && Current() == ref;
  }
  // The current segment's posting: in memory (`MemoryPosting`) or on disk (`DiskValue`).
  bool InMemory() const { return mem_index_ >= 0 && mem_[mem_index_].ref == Current(); }
  const Posting& MemoryPosting() const { return *mem_[mem_index_].posting; }
  std::string_view DiskValue() const { return it_->value().ToStringView(); }

 private:
  struct Mem {
    SegmentRef ref;
    const Posting* posting;
  };

  bool DiskValid() const { return it_->Valid(); }
  SegmentRef DiskRef() const { return *DecodeSegmentSuffix(it_->key().ToStringView()); }
  // Segments in memory are read from there only.
  void SkipShadowed() {
    while (it_->Valid() && ctx_.Memory(DiskRef()) != nullptr) it_->Prev();
  }

  const SearchContext& ctx_;
  const std::string stream_;
  const std::optional<DurationFilter> filter_;
  std::vector<Mem> mem_;  // ascending by ref
  std::ptrdiff_t mem_index_ = -1;
  bool sought_ = false;
  std::string lower_;
  std::string upper_;
  rocksdb::Slice lower_slice_;
  rocksdb::Slice upper_slice_;
  std::string seek_key_;
  std::unique_ptr<rocksdb::Iterator> it_;
  std::vector<uint32_t> ordinals_;
  std::vector<std::string_view> values_;
};

// A tag on the spans of a service (keys.h, "Services in a segment"): in a segment of format 5 the
// tag's entries whose service mask has the service's number, which the service's 'k' key of the
// tag key gives (no key: the service has no such tag there); in one of format 4 the service tag's
// own stream.
class ServiceTagCondition final : public Condition {
 public:
  ServiceTagCondition(const SearchContext& ctx, const std::string& service, std::string_view key,
                      std::string_view value)
      : ctx_(ctx),
        service_(service),
        tag_(ctx, TagStream(key, value)),
        numbers_(ctx, ServiceKeyStream(service, key)),
        format4_(ctx, ServiceTagStream(service, key, value)) {}

  // Every segment that holds the service tag holds the tag.
  void SeekAtOrBefore(const SegmentRef& ref) override { tag_.SeekAtOrBefore(ref); }
  void Prev() override { tag_.Prev(); }
  bool Valid() const override { return tag_.Valid(); }
  SegmentRef Current() const override { return tag_.Current(); }
  rocksdb::Status status() const override {
    for (const PostingStream* s : {&tag_, &numbers_, &format4_}) {
      if (!s->status().ok()) return s->status();
    }
    return rocksdb::Status::OK();
  }

  bool Ordinals(std::vector<uint32_t>* out, std::vector<uint32_t>* ambiguous) override {
    out->clear();
    ambiguous->clear();
    const SegmentRef current = tag_.Current();
    if (tag_.InMemory()) {
      const SegmentView* view = ctx_.Memory(current);
      auto number = view->services.find(service_);
      if (number == view->services.end()) return true;
      const Posting& p = tag_.MemoryPosting();
      masks_.assign(p.values.begin(), p.values.end());
      return Keep(p.ordinals, number->second, out);
    }
    std::string_view rest;
    if (!DecodePosting(tag_.DiskValue(), &ordinals_, nullptr, &rest)) return false;
    if (rest.empty()) {  // format 4
      return !format4_.MoveTo(current) || format4_.Ordinals(out, ambiguous);
    }
    if (!numbers_.MoveTo(current)) return true;  // the service has no such tag key here
    std::string_view value = numbers_.DiskValue();
    uint32_t number = 0;
    if (!GetVarint32(&value, &number) || !value.empty()) return false;
    if (!GetLengthPrefixedList(&rest, ordinals_.size(), &masks_) || !rest.empty()) return false;
    return Keep(ordinals_, number, out);
  }

 private:
  // The ordinals whose mask (masks_) has service number `number`.
  bool Keep(const std::vector<uint32_t>& ordinals, uint32_t number, std::vector<uint32_t>* out) {
    if (masks_.size() != ordinals.size()) return false;
    for (size_t i = 0; i < ordinals.size(); ++i) {
      if (ServiceMaskHas(masks_[i], number)) out->push_back(ordinals[i]);
    }
    return true;
  }

  const SearchContext& ctx_;
  const std::string service_;
  PostingStream tag_;
  PostingStream numbers_;
  PostingStream format4_;
  std::vector<uint32_t> ordinals_;
  std::vector<std::string_view> masks_;
};

}  // namespace tailtrace::storage::search_internal
