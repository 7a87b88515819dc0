// RocksTraceStore::SuggestTags (trace_store.h, "Tag suggestion semantics"): tag keys, or the
// values of one key, read from the names in the index's keys (keys.h, "The search index"), never
// from a trace.
//
// Within a bucket the posting keys of the tag streams sort by key, then value, then slot and
// segment (and the 'k' keys of a service by key, then slot and segment), so the distinct names
// after a prefix are found by seeking past each name's keys: one seek per name. Names are
// length-prefixed, so they sort by their length prefix first and bytewise only among names of one
// length: a scan leaves a length once its next name is after the `limit` smallest found so far
// (one seek to the next length). In a bucket whose traces do not all start within the window
// (widened to whole index slots), a name counts only with a posting of a slot in the window: a
// seek to the window's first slot in its stream (for a key, in the stream of each of its values
// until one has such a posting).
//
// The tags of a service: its keys are the names of its 'k' keys; the values of one of its keys
// are those of the key's tag postings that have an entry with the service's bit, the service's
// number in each segment coming from its 'k' keys of that key. Segments of format 4 have neither
// but the service's own tag postings ('a'), read by a scan of their own.
//
// Buckets are read newest first; all scans together read at most StoreOptions::tag_scan_max_keys
// index keys. Unsealed segments are read from memory.

#include <algorithm>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rocks_bucket.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"
#include "storage/index/keys.h"
#include "storage/index/trace_analysis.h"
#include "storage/rocks/rocks_trace_store.h"

namespace tailtrace::storage {
namespace {

// The `limit` smallest distinct names added.
class SmallestNames {
 public:
  explicit SmallestNames(size_t limit) : limit_(limit) {}

  // Whether `name` would be kept; false also means that no greater name would be.
  bool Wants(std::string_view name) const {
    return names_.size() < limit_ || name < *names_.rbegin();
  }
  void Add(std::string_view name) {
    if (!Wants(name)) return;
    names_.emplace(name);
    if (names_.size() > limit_) names_.erase(std::prev(names_.end()));
  }
  std::vector<std::string> Take() {
    return {std::make_move_iterator(names_.begin()), std::make_move_iterator(names_.end())};
  }

 private:
  const size_t limit_;
  std::set<std::string, std::less<>> names_;
};

// What one scan of a bucket's index keys looks for.
struct TagScan {
  // The suggested name follows it, length-prefixed.
  std::string prefix;
  // Names are keys (else values of `query->key`).
  bool keys = false;
  // Each stream goes on with v(value) after the name (the 'A' and 'a' streams of keys).
  bool value_follows = false;
  // It reads the service tag streams of format 4 segments.
  bool format4 = false;
  // The service whose bit a tag posting's entry must have, and the 'k' stream of the query's key
  // that gives its number per segment ("" for a scan that needs none).
  std::string numbers_stream;
  const TagSuggestionQuery* query = nullptr;
  const IndexOptions* index = nullptr;
  int64_t min_slot = 0;
  int64_t max_slot = 0;

  // Whether a name found in the index is suggested under the index options as they are now.
  bool Suggestible(std::string_view name) const {
    // Span tags with a sampling tag's key cannot be searched (trace_store.h).
    return keys ? !name.empty() && !IsSamplingTag(name) && IsIndexedKey(name, *index)
                : !IsSamplingTag(query->key) && IsIndexedTag(query->key, name, *index);
  }
};

// The scans of the sealed segments a query needs (the header comment says which).
std::vector<TagScan> SealedScans(const TagScan& base) {
  const TagSuggestionQuery& q = *base.query;
  std::vector<TagScan> out;
  auto add = [&](std::string prefix, bool value_follows, std::string numbers_stream, bool format4) {
    TagScan& scan = out.emplace_back(base);
    scan.prefix = std::move(prefix);
    scan.value_follows = value_follows;
    scan.numbers_stream = std::move(numbers_stream);
    scan.format4 = format4;
  };
  if (q.service.empty()) {
    add(base.keys ? TagKeysPrefix("") : TagValuesPrefix("", q.key), base.keys, "", false);
  } else if (base.keys) {
    add(ServiceKeysPrefix(q.service), false, "", false);
    add(TagKeysPrefix(q.service), true, "", true);
  } else {
    add(TagValuesPrefix("", q.key), false, ServiceKeyStream(q.service, q.key), false);
    add(TagValuesPrefix(q.service, q.key), false, "", true);
  }
  return out;
}

// The name at `offset` of `key` (length-prefixed) and where it ends; nullopt when malformed.
std::optional<std::pair<std::string_view, size_t>> NameAt(std::string_view key, size_t offset) {
  std::string_view rest = key.substr(offset);
  std::string_view name;
  if (!GetLengthPrefixed(&rest, &name)) return std::nullopt;
  return std::make_pair(name, key.size() - rest.size());
}

// The service's number in each segment of the window that has a 'k' key of `stream`.
using ServiceNumbers = std::map<SegmentRef, uint32_t>;

// The names of one bucket's sealed index keys.
class BucketTagScan {
 public:
  // `*budget`: the keys left to read, shared by the scans of one SuggestTags.
  BucketTagScan(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const TagScan& scan,
                uint64_t* budget)
      : db_(db), cf_(cf), scan_(scan), budget_(budget) {}

  // Adds the names to `names` (with `check_window`, only those with a posting in the window's
  // slots) until the budget is spent or `names` wants none of those left. false when an index
  // key is malformed.
  bool Run(bool check_window, SmallestNames* names) {
    if (!scan_.numbers_stream.empty()) {
      if (!ReadNumbers()) return false;
      if (numbers_.empty() || !numbers_status_.ok()) return true;
      check_window = true;  // a posting counts only with an entry of the service
    }
    Open(scan_.prefix);
    if (!Seek(scan_.prefix)) return true;
    while (it_->Valid()) {
      const std::string_view key = it_->key().ToStringView();
      const auto name = NameAt(key, scan_.prefix.size());
      if (!name.has_value()) return false;
      if (!names->Wants(name->first)) {
        // The names of this length that follow are greater: on to the next length prefix (in
        // byte order, which is not the order of the lengths).
        const size_t length_end = name->second - name->first.size();
        if (!Seek(PrefixSuccessor(key.substr(0, length_end)))) break;
        continue;
      }
      name_.assign(name->first);
      name_prefix_.assign(key.substr(0, name->second));
      bool suggested = scan_.Suggestible(name_);
      if (suggested && check_window) {
        const std::optional<bool> counts = Counts();
        if (!counts.has_value()) return false;
        suggested = *counts;
      }
      if (suggested) names->Add(name_);
      if (!Seek(PrefixSuccessor(name_prefix_))) break;
    }
    return true;
  }

  rocksdb::Status status() const {
    if (!numbers_status_.ok() || !it_) return numbers_status_;
    return it_->status();
  }

 private:
  void Open(std::string_view prefix) {
    upper_ = PrefixSuccessor(prefix);
    upper_slice_ = rocksdb::Slice(upper_);
    rocksdb::ReadOptions ro;
    ro.total_order_seek = true;
    ro.iterate_upper_bound = &upper_slice_;
    it_.reset(db_->NewIterator(ro, cf_));
  }
  bool Seek(std::string_view target) {
    if (*budget_ == 0) return false;
    --*budget_;
    it_->Seek(rocksdb::Slice(target.data(), target.size()));
    return true;
  }
  bool Next() {
    if (*budget_ == 0) return false;
    --*budget_;
    it_->Next();
    return true;
  }

  // The service's numbers in the window's segments (numbers_); false when a key is malformed.
  bool ReadNumbers() {
    Open(scan_.numbers_stream);
    if (!Seek(PostingKey(scan_.numbers_stream, scan_.min_slot, 0))) return true;
    for (; it_->Valid(); Next()) {
      const std::string_view key = it_->key().ToStringView();
      const std::optional<SegmentRef> ref = DecodeSegmentSuffix(key);
      std::string_view value = it_->value().ToStringView();
      uint32_t number = 0;
      if (!ref || key.size() != scan_.numbers_stream.size() + 16 || !GetVarint32(&value, &number)) {
        return false;
      }
      if (ref->slot > scan_.max_slot) break;
      numbers_[*ref] = number;
    }
    numbers_status_ = it_->status();
    return true;
  }

  // Whether the posting at the iterator has an entry of the service; nullopt when malformed.
  std::optional<bool> HasServiceEntry(const SegmentRef& ref) {
    auto number = numbers_.find(ref);
    if (number == numbers_.end()) return false;
    std::string_view rest;
    if (!DecodePosting(it_->value().ToStringView(), &ordinals_, nullptr, &rest) ||
        !GetLengthPrefixedList(&rest, ordinals_.size(), &masks_)) {
      return std::nullopt;
    }
    return std::any_of(masks_.begin(), masks_.end(),
                       [&](std::string_view m) { return ServiceMaskHas(m, number->second); });
  }

  // The iterator is at the first posting key of the name `name_prefix_` ends with: whether one
  // of its postings counts (a slot in the window and, with numbers_, an entry of the service;
  // false also when the budget runs out). Moves the iterator. nullopt when a key is malformed.
  std::optional<bool> Counts() {
    while (it_->Valid()) {
      const std::string_view key = it_->key().ToStringView();
      if (!key.starts_with(name_prefix_)) return false;
      size_t stream_end = name_prefix_.size();
      if (scan_.value_follows) {
        const auto value = NameAt(key, stream_end);
        if (!value.has_value()) return std::nullopt;
        stream_end = value->second;
      }
      const std::optional<SegmentRef> ref = DecodeSegmentSuffix(key);
      if (!ref.has_value() || key.size() != stream_end + 16) return std::nullopt;
      if (ref->slot >= scan_.min_slot && ref->slot <= scan_.max_slot) {
        if (scan_.numbers_stream.empty()) return true;
        const std::optional<bool> has = HasServiceEntry(*ref);
        if (!has.has_value() || *has) return has;
        if (!Next()) return false;
        continue;
      }
      // After the window: the next value's stream; before it: the stream's first posting at or
      // after the window's first slot (or the next stream).
      stream_.assign(key.substr(0, stream_end));
      if (ref->slot > scan_.max_slot) {
        if (!scan_.value_follows) return false;
        if (!Seek(PrefixSuccessor(stream_))) return false;
      } else if (!Seek(PostingKey(stream_, scan_.min_slot, 0))) {
        return false;
      }
    }
    return false;
  }

  rocksdb::DB* const db_;
  rocksdb::ColumnFamilyHandle* const cf_;
  const TagScan& scan_;
  uint64_t* const budget_;
  std::string upper_;
  rocksdb::Slice upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
  ServiceNumbers numbers_;
  rocksdb::Status numbers_status_;
  std::vector<uint32_t> ordinals_;
  std::vector<std::string_view> masks_;
  std::string name_;
  std::string name_prefix_;  // the scan's prefix | v(name)
  std::string stream_;
};

// The first (last) nanosecond of an index slot, clamped to int64.
int64_t SlotFirstNs(int64_t slot) {
  return slot > std::numeric_limits<int64_t>::max() / kIndexSlotNs
             ? std::numeric_limits<int64_t>::max()
             : slot * kIndexSlotNs;
}
int64_t SlotLastNs(int64_t slot) {
  const int64_t first = SlotFirstNs(slot);
  return first > std::numeric_limits<int64_t>::max() - (kIndexSlotNs - 1)
             ? std::numeric_limits<int64_t>::max()
             : first + (kIndexSlotNs - 1);
}

}  // namespace

absl::StatusOr<std::vector<std::string>> RocksTraceStore::SuggestTags(
    const TagSuggestionQuery& query) {
  if (absl::Status valid = ValidateTagSuggestionQuery(query, options_.index); !valid.ok()) {
    return valid;
  }
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  TagScan scan;
  scan.keys = query.key.empty();
  scan.query = &query;
  scan.index = &options_.index;
  scan.min_slot = IndexSlot(query.start_time_min_ns);
  scan.max_slot = IndexSlot(query.start_time_max_ns);
  const std::vector<TagScan> sealed_scans = SealedScans(scan);
  // The tag streams' names in memory, where every segment has service masks.
  const std::string memory_prefix = scan.keys ? TagKeysPrefix("") : TagValuesPrefix("", query.key);
  // The window widened to whole slots, as the index sees it.
  const int64_t first_ns = SlotFirstNs(scan.min_slot);
  const int64_t last_ns = SlotLastNs(scan.max_slot);

  SmallestNames names(static_cast<size_t>(query.limit));
  uint64_t budget = options_.tag_scan_max_keys;
  auto add_memory_name = [&](std::string_view stream) {
    const auto name = NameAt(stream, memory_prefix.size());
    if (name.has_value() && scan.Suggestible(name->first)) names.Add(name->first);
  };
  for (const BucketPtr& b : BucketsWithStartsIn(first_ns, last_ns)) {
    // Unsealed segments first (their slots are checked there): what they add lets the scans of
    // the sealed ones stop earlier.
    if (query.service.empty()) {
      b->segments().ForEachStream(scan.min_slot, scan.max_slot, memory_prefix, add_memory_name);
    } else {
      b->segments().ForEachTagStreamOf(scan.min_slot, scan.max_slot, query.service, memory_prefix,
                                       add_memory_name);
    }
    const bool inside = b->min_start() >= first_ns && b->max_start() <= last_ns;
    for (const TagScan& sealed_scan : sealed_scans) {
      if (budget == 0) break;
      if (sealed_scan.format4 && !b->has_format4_segments()) continue;
      BucketTagScan sealed(db_, b->handle(), sealed_scan, &budget);
      if (!sealed.Run(/*check_window=*/!inside, &names)) {
        return absl::DataLossError(absl::StrCat("a malformed tag index key in bucket ",
                                                b->handle()->GetName(), " of storage.path ",
                                                path_));
      }
      if (!sealed.status().ok()) {
        return FromRocks(sealed.status(),
                         absl::StrCat("reading tag names from storage.path ", path_));
      }
    }
  }
  return names.Take();
}

}  // namespace tailtrace::storage
