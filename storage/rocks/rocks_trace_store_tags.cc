// RocksTraceStore::SuggestTags (trace_store.h, "Tag suggestion semantics"): tag keys, or the
// values of one key, read from the names in the tag streams' posting keys (keys.h, "The search
// index"), never from a trace.
//
// Within a bucket the posting keys of the tag streams of a service (or of every service) sort by
// key, then value, then slot and segment, so the distinct names after a prefix are found by
// seeking past each name's keys: one seek per name. Names are length-prefixed, so they sort by
// their length prefix first and bytewise only among names of one length: a scan leaves a length
// once its next name is after the `limit` smallest found so far (one seek to the next length). In
// a bucket whose traces do not all start within the window (widened to whole index slots), a name
// counts only with a posting of a slot in the window: a seek to the window's first slot in its
// stream (for a key, in the stream of each of its values until one has such a posting). Buckets
// are read newest first; all scans together seek at most StoreOptions::tag_scan_max_keys times.
// Unsealed segments are read from memory.

#include <algorithm>
#include <iterator>
#include <limits>
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

// What the scans of one SuggestTags look for.
struct TagScan {
  // TagKeysPrefix or TagValuesPrefix: the suggested name follows it, length-prefixed.
  std::string prefix;
  // Names are keys (each stream goes on with v(value)) or values (the stream ends there).
  bool keys = false;
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

// The name at `offset` of `key` (length-prefixed) and where it ends; nullopt when malformed.
std::optional<std::pair<std::string_view, size_t>> NameAt(std::string_view key, size_t offset) {
  std::string_view rest = key.substr(offset);
  std::string_view name;
  if (!GetLengthPrefixed(&rest, &name)) return std::nullopt;
  return std::make_pair(name, key.size() - rest.size());
}

// The names of one bucket's sealed posting keys.
class BucketTagScan {
 public:
  // `*budget`: the seeks left, shared by the scans of one SuggestTags.
  BucketTagScan(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const TagScan& scan,
                uint64_t* budget)
      : scan_(scan), upper_(PrefixSuccessor(scan.prefix)), upper_slice_(upper_), budget_(budget) {
    rocksdb::ReadOptions ro;
    ro.total_order_seek = true;
    ro.iterate_upper_bound = &upper_slice_;
    it_.reset(db->NewIterator(ro, cf));
  }

  // Adds the names to `names` (with `check_window`, only those with a posting in the window's
  // slots) until the budget is spent or `names` wants none of those left. false when a posting
  // key is malformed.
  bool Run(bool check_window, SmallestNames* names) {
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
        const std::optional<bool> in_window = InWindow();
        if (!in_window.has_value()) return false;
        suggested = *in_window;
      }
      if (suggested) names->Add(name_);
      if (!Seek(PrefixSuccessor(name_prefix_))) break;
    }
    return true;
  }

  rocksdb::Status status() const { return it_->status(); }

 private:
  bool Seek(std::string_view target) {
    if (*budget_ == 0) return false;
    --*budget_;
    it_->Seek(rocksdb::Slice(target.data(), target.size()));
    return true;
  }

  // The iterator is at the first posting key of the name `name_prefix_` ends with: whether one
  // of its postings has a slot in the window (false also when the budget runs out). Moves the
  // iterator. nullopt when a posting key is malformed.
  std::optional<bool> InWindow() {
    while (it_->Valid()) {
      const std::string_view key = it_->key().ToStringView();
      if (!key.starts_with(name_prefix_)) return false;
      size_t stream_end = name_prefix_.size();
      if (scan_.keys) {
        const auto value = NameAt(key, stream_end);
        if (!value.has_value()) return std::nullopt;
        stream_end = value->second;
      }
      const std::optional<SegmentRef> ref = DecodeSegmentSuffix(key);
      if (!ref.has_value() || key.size() != stream_end + 16) return std::nullopt;
      if (ref->slot >= scan_.min_slot && ref->slot <= scan_.max_slot) return true;
      // After the window: the next value's stream; before it: the stream's first posting at or
      // after the window's first slot (or the next stream).
      stream_.assign(key.substr(0, stream_end));
      if (ref->slot > scan_.max_slot) {
        if (!scan_.keys) return false;
        if (!Seek(PrefixSuccessor(stream_))) return false;
      } else if (!Seek(PostingKey(stream_, scan_.min_slot, 0))) {
        return false;
      }
    }
    return false;
  }

  const TagScan& scan_;
  const std::string upper_;
  const rocksdb::Slice upper_slice_;
  uint64_t* const budget_;
  std::unique_ptr<rocksdb::Iterator> it_;
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
  scan.prefix =
      scan.keys ? TagKeysPrefix(query.service) : TagValuesPrefix(query.service, query.key);
  scan.query = &query;
  scan.index = &options_.index;
  scan.min_slot = IndexSlot(query.start_time_min_ns);
  scan.max_slot = IndexSlot(query.start_time_max_ns);
  // The window widened to whole slots, as the index sees it.
  const int64_t first_ns = SlotFirstNs(scan.min_slot);
  const int64_t last_ns = SlotLastNs(scan.max_slot);

  SmallestNames names(static_cast<size_t>(query.limit));
  uint64_t budget = options_.tag_scan_max_keys;
  for (const BucketPtr& b : BucketsWithStartsIn(first_ns, last_ns)) {
    // Unsealed segments first (their slots are checked there): what they add lets the scan of
    // the sealed ones stop earlier.
    b->segments().ForEachStream(scan.min_slot, scan.max_slot, scan.prefix,
                                [&](std::string_view stream) {
                                  const auto name = NameAt(stream, scan.prefix.size());
                                  if (name.has_value() && scan.Suggestible(name->first)) {
                                    names.Add(name->first);
                                  }
                                });
    if (budget == 0) continue;
    const bool inside = b->min_start() >= first_ns && b->max_start() <= last_ns;
    BucketTagScan sealed(db_, b->handle(), scan, &budget);
    if (!sealed.Run(/*check_window=*/!inside, &names)) {
      return absl::DataLossError(absl::StrCat("a malformed tag index key in bucket ",
                                              b->handle()->GetName(), " of storage.path ", path_));
    }
    if (!sealed.status().ok()) {
      return FromRocks(sealed.status(),
                       absl::StrCat("reading tag names from storage.path ", path_));
    }
  }
  return names.Take();
}

}  // namespace tailtrace::storage
