#include "storage/index/index_segments.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tailtrace::storage {
namespace {

TraceId Id(uint8_t n) {
  TraceId id;
  id.bytes[15] = n;
  return id;
}

// Tag streams "k=<name>" (no values) and the time stream (a duration range value).
StoredStreams Streams(std::vector<std::string> names) {
  StoredStreams out;
  for (std::string& n : names) out.Add(TagStream("k", n), "");
  out.Add(TimeStream(), EncodeDurationRange(1, 2));
  return out;
}

// The puts of a sealed segment as strings.
std::vector<std::pair<std::string, std::string>> Puts(const SealedSegment& s) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, value] : s.puts) out.emplace_back(key, value);
  return out;
}

absl::StatusOr<uint64_t> NextId(uint64_t* next) { return (*next)++; }

// The service of a service stream; nullopt for other streams.
std::optional<std::string> ServiceName(std::string_view stream) {
  if (stream.size() < 2 || stream[1] != kServiceIndex) return std::nullopt;
  stream.remove_prefix(2);
  std::string_view name;
  if (!GetLengthPrefixed(&stream, &name)) return std::nullopt;
  return std::string(name);
}

// A trace table record as bytes.
std::string Pos(int64_t start_ns, const TraceId& id) {
  const IndexPos pos = MakeIndexPos(start_ns, id);
  return std::string(pos.begin(), pos.end());
}

TEST(IndexSegmentsTest, SealWritesTheTableNewestFirstAndPostingsInSealedOrdinals) {
  IndexSegments segments({/*max_traces=*/100, /*max_age_ns=*/1000});
  uint64_t next = 7;
  auto seg = segments.Pin(3, 0, [&] { return NextId(&next); });
  ASSERT_TRUE(seg.ok());
  segments.Add(*seg, 30, Id(1), Streams({"a"}));
  ASSERT_EQ(*segments.Pin(3, 0, [&] { return NextId(&next); }), *seg);
  segments.Add(*seg, 50, Id(2), Streams({"b"}));
  ASSERT_EQ(*segments.Pin(3, 0, [&] { return NextId(&next); }), *seg);
  segments.Add(*seg, 40, Id(3), Streams({"a", "b"}));

  EXPECT_TRUE(segments.TakeDue(999, false).empty());  // not old, not full
  std::vector<SealedSegment> sealed = segments.TakeDue(1000, false);
  ASSERT_EQ(sealed.size(), 1u);
  const SealedSegment& s = sealed[0];
  EXPECT_EQ(s.ref, (SegmentRef{3, 7}));
  EXPECT_EQ(s.traces, 3u);
  const std::vector<std::pair<std::string, std::string>> all = Puts(s);
  std::map<std::string, std::string> puts(all.begin(), all.end());
  ASSERT_EQ(puts.size(), s.puts.size());
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  // Table: start 50 (trace 2), 40 (trace 3), 30 (trace 1).
  const std::string table = puts.at(SegmentTableKey(3, 7));
  EXPECT_EQ(table, Pos(50, Id(2)) + Pos(40, Id(3)) + Pos(30, Id(1)));
  std::vector<uint32_t> ordinals;
  ASSERT_TRUE(DecodePosting(puts.at(PostingKey(TagStream("k", "a"), 3, 7)), &ordinals, nullptr));
  EXPECT_EQ(ordinals, (std::vector<uint32_t>{1, 2}));
  ASSERT_TRUE(DecodePosting(puts.at(PostingKey(TagStream("k", "b"), 3, 7)), &ordinals, nullptr));
  EXPECT_EQ(ordinals, (std::vector<uint32_t>{0, 1}));
  ASSERT_TRUE(DecodePosting(puts.at(PostingKey(TimeStream(), 3, 7)), &ordinals, nullptr));
  EXPECT_EQ(ordinals, (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_EQ(s.marker_begin, SegmentMarkerPrefix(7));
  EXPECT_EQ(s.marker_end, SegmentMarkerPrefix(8));

  // Sealing in progress: still searchable, not sealed twice; then gone.
  EXPECT_EQ(segments.Snapshot(0, 10, {TimeStream()}).size(), 1u);
  EXPECT_TRUE(segments.TakeDue(5000, true).empty());
  segments.Sealed(s.ref);
  EXPECT_EQ(segments.unsealed(), 0u);
}

TEST(IndexSegmentsTest, OnlyTheNewestEntryOfATraceIsSealedAndSeen) {
  IndexSegments segments({100, 1000});
  uint64_t next = 1;
  auto seg = *segments.Pin(0, 0, [&] { return NextId(&next); });
  segments.Add(seg, 20, Id(1), Streams({"a"}));
  ASSERT_EQ(*segments.Pin(0, 0, [&] { return NextId(&next); }), seg);
  segments.Add(seg, 10, Id(1), Streams({"a", "b"}));  // a late write moved the start

  std::vector<SegmentView> views = segments.Snapshot(0, 0, {TagStream("k", "a")});
  ASSERT_EQ(views.size(), 1u);
  EXPECT_EQ(views[0].postings.at(TagStream("k", "a")).ordinals, (std::vector<uint32_t>{1}));

  std::vector<SealedSegment> sealed = segments.TakeDue(0, true);
  ASSERT_EQ(sealed.size(), 1u);
  const std::vector<std::pair<std::string, std::string>> all = Puts(sealed[0]);
  std::map<std::string, std::string> puts(all.begin(), all.end());
  EXPECT_EQ(puts.at(SegmentTableKey(0, seg)), Pos(10, Id(1)));
  std::vector<uint32_t> ordinals;
  ASSERT_TRUE(DecodePosting(puts.at(PostingKey(TagStream("k", "a"), 0, seg)), &ordinals, nullptr));
  EXPECT_EQ(ordinals, (std::vector<uint32_t>{0}));
}

TEST(IndexSegmentsTest, PinnedSegmentsWaitAndFullOnesOpenANewSegment) {
  IndexSegments segments({/*max_traces=*/1, /*max_age_ns=*/0});
  uint64_t next = 1;
  auto first = *segments.Pin(0, 0, [&] { return NextId(&next); });
  // Pinned: not sealed even though due by age.
  EXPECT_TRUE(segments.TakeDue(10, true).empty());
  segments.Add(first, 5, Id(1), Streams({"a"}));
  // Full: the next write of the slot gets a new segment; another slot has its own.
  auto second = *segments.Pin(0, 0, [&] { return NextId(&next); });
  auto other_slot = *segments.Pin(1, 0, [&] { return NextId(&next); });
  EXPECT_NE(second, first);
  EXPECT_NE(other_slot, second);
  segments.Unpin(second);
  segments.Unpin(other_slot);
  // Segments whose writes were all released hold nothing: dropped, not sealed.
  std::vector<SealedSegment> sealed = segments.TakeDue(10, false);
  ASSERT_EQ(sealed.size(), 1u);
  EXPECT_EQ(sealed[0].ref.segment, first);
  EXPECT_EQ(segments.unsealed(), 1u);
  // A failed seal is retried later.
  segments.SealFailed(sealed[0].ref);
  EXPECT_EQ(segments.TakeDue(10, false).size(), 1u);
}

TEST(IndexSegmentsTest, DurationRangesTravelWithTheirOrdinals) {
  IndexSegments segments({100, 1000});
  uint64_t next = 1;
  const std::string stream = ServiceStream("checkout");
  auto seg = *segments.Pin(0, 0, [&] { return NextId(&next); });
  segments.Add(seg, 1, Id(1), {{stream, EncodeDurationRange(5, 6)}});
  ASSERT_EQ(*segments.Pin(0, 0, [&] { return NextId(&next); }), seg);
  segments.Add(seg, 2, Id(2), {{stream, EncodeDurationRange(7, 7)}});
  std::vector<SealedSegment> sealed = segments.TakeDue(0, true);
  ASSERT_EQ(sealed.size(), 1u);
  const std::vector<std::pair<std::string, std::string>> all = Puts(sealed[0]);
  std::map<std::string, std::string> puts(all.begin(), all.end());
  std::vector<uint32_t> ordinals;
  std::vector<std::string_view> values;
  ASSERT_TRUE(DecodePosting(puts.at(PostingKey(stream, 0, seg)), &ordinals, &values));
  EXPECT_EQ(ordinals, (std::vector<uint32_t>{0, 1}));
  ASSERT_EQ(values.size(), 2u);
  EXPECT_EQ(values[0], EncodeDurationRange(7, 7));  // trace 2 starts later: ordinal 0
  EXPECT_EQ(values[1], EncodeDurationRange(5, 6));
}

TEST(StoredStreamsTest, DurationClassesFoldIntoTheRangesOfTheirScopes) {
  StoredStreamsBuilder builder;
  DurationTerm any{DurationScope::kAny, "", "", 0, true};
  DurationTerm svc{DurationScope::kService, "cart", "", 0, true};
  DurationTerm op{DurationScope::kOperation, "cart", "add", 0, true};
  std::map<std::string, std::string> in;  // sorted, as TraceTermsBuilder feeds them
  any.duration_class = FineDurationClass(100);
  in.emplace(DurationStream(any), EncodeDurations({100, 101}));
  any.duration_class = FineDurationClass(9000);
  in.emplace(DurationStream(any), EncodeDurations({9000}));
  svc.duration_class = FineDurationClass(100);
  in.emplace(DurationStream(svc), EncodeDurations({101}));
  op.duration_class = FineDurationClass(100);
  in.emplace(DurationStream(op), EncodeDurations({101}));
  DurationTerm coarse = any;
  coarse.fine = false;
  in.emplace(DurationStream(coarse), "");
  in.emplace(TimeStream(), "");
  in.emplace(ServiceStream("cart"), "");
  in.emplace(OperationStream("cart", "add"), "");
  in.emplace(TagStream("k", "v"), "");
  for (const auto& [stream, value] : in) ASSERT_TRUE(builder.Add(stream, value));
  const StoredStreams out = builder.Finish();
  std::map<std::string, std::string> got;
  for (const auto& [stream, value] : out) got.emplace(stream, value);
  const std::map<std::string, std::string> want = {
      {TimeStream(), EncodeDurationRange(100, 9000)},
      {ServiceStream("cart"), EncodeDurationRange(101, 101)},
      {OperationStream("cart", "add"), EncodeDurationRange(101, 101)},
      {TagStream("k", "v"), ""}};
  EXPECT_EQ(got, want);
  EXPECT_FALSE(StoredStreamsBuilder().Add(DurationStream(any), "\xff"));
}

TEST(IndexSegmentsTest, RandomSegmentsSealAsTheReferenceEncoding) {
  std::mt19937 rng(11);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
  for (int round = 0; round < 40; ++round) {
    IndexSegments segments({/*max_traces=*/1000, /*max_age_ns=*/1000});
    uint64_t next = 1;
    // Entries in a random order of starts (mostly rising, as writes come): some traces written
    // again (their older entries dropped by the seal), some with starts that tie.
    struct Entry {
      int64_t start;
      TraceId id;
      std::vector<std::pair<std::string, std::string>> streams;
    };
    std::vector<Entry> entries;
    const int n = 1 + pick(60);
    const bool rising = pick(2) == 0;
    for (int i = 0; i < n; ++i) {
      Entry e;
      e.start = rising ? i * 10 + pick(15) : pick(100);
      e.id = Id(static_cast<uint8_t>(pick(n + 1)));
      e.streams.emplace_back(TimeStream(), EncodeDurationRange(pick(50), 50 + pick(50)));
      std::vector<std::string> services;
      std::vector<std::pair<std::string, std::string>> tags;
      for (int k = 0; k < 6; ++k) {
        if (pick(3) == 0) tags.emplace_back(pick(2) == 0 ? "k" : "j", std::to_string(k));
        if (pick(4) == 0) services.push_back(k == 5 ? std::string(130, 's') : std::to_string(k));
      }
      for (const std::string& service : services) {
        e.streams.emplace_back(ServiceStream(service),
                               EncodeDurationRange(pick(10), 10 + pick(10)));
      }
      for (const auto& [key, value] : tags) {
        e.streams.emplace_back(TagStream(key, value), "");
        for (const std::string& service : services) {
          if (pick(2) == 0) e.streams.emplace_back(ServiceTagStream(service, key, value), "");
        }
      }
      entries.push_back(std::move(e));
    }
    uint64_t seg = 0;
    std::map<TraceId, size_t> newest;  // trace -> index of its newest entry
    for (size_t i = 0; i < entries.size(); ++i) {
      seg = *segments.Pin(0, 0, [&] { return NextId(&next); });
      StoredStreams streams;
      for (const auto& [stream, value] : entries[i].streams) streams.Add(stream, value);
      segments.Add(seg, entries[i].start, entries[i].id, streams);
      newest[entries[i].id] = i;
    }
    // Snapshot before the seal: the newest entries, by unsealed ordinal.
    const std::vector<SegmentView> views =
        segments.Snapshot(0, 0, {TimeStream(), TagStream("k", "1")});
    ASSERT_EQ(views.size(), 1u);
    auto time = views[0].postings.find(TimeStream());
    ASSERT_NE(time, views[0].postings.end());
    std::vector<uint32_t> want_unsealed;
    std::vector<std::string> want_values;
    for (size_t i = 0; i < entries.size(); ++i) {
      if (newest[entries[i].id] != i) continue;
      want_unsealed.push_back(static_cast<uint32_t>(i));
      want_values.push_back(entries[i].streams[0].second);
    }
    EXPECT_EQ(time->second.ordinals, want_unsealed);
    EXPECT_EQ(time->second.values, want_values);

    // The reference: the newest entries sorted newest position first, postings ascending; the
    // services numbered as the segment met them (those new in one entry in stream order).
    std::map<std::string, uint32_t> numbers;
    std::vector<std::string> names;
    for (const Entry& e : entries) {
      std::set<std::string> new_streams;
      for (const auto& [stream, value] : e.streams) {
        const auto service = ServiceName(stream);
        if (service && !numbers.contains(*service)) new_streams.insert(stream);
      }
      for (const std::string& stream : new_streams) {
        numbers.emplace(*ServiceName(stream), static_cast<uint32_t>(names.size()));
        names.push_back(*ServiceName(stream));
      }
    }
    std::vector<size_t> order;
    for (const auto& [id, i] : newest) order.push_back(i);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return MakeIndexPos(entries[a].start, entries[a].id) >
             MakeIndexPos(entries[b].start, entries[b].id);
    });
    std::string table;
    std::map<std::string, std::pair<std::vector<uint32_t>, std::vector<std::string>>> postings;
    std::map<std::string, std::set<uint32_t>> key_services;  // tag key -> service numbers
    for (uint32_t rank = 0; rank < order.size(); ++rank) {
      const Entry& e = entries[order[rank]];
      table += Pos(e.start, e.id);
      for (const auto& [stream, value] : e.streams) {
        if (stream[1] == kServiceTagIndex) continue;  // in the tag's service masks
        postings[stream].first.push_back(rank);
        const auto tag = DecodeTagStream(stream);
        if (!tag) {
          postings[stream].second.push_back(value);
          continue;
        }
        std::vector<uint64_t> words(3, 0);
        for (const auto& [service, n] : numbers) {
          const std::string st = ServiceTagStream(service, tag->first, tag->second);
          if (std::any_of(e.streams.begin(), e.streams.end(),
                          [&](const auto& other) { return other.first == st; })) {
            words[n / 64] |= uint64_t{1} << (n % 64);
            key_services[std::string(tag->first)].insert(n);
          }
        }
        std::string mask;
        AppendServiceMask(&mask, words.data(), words.size());
        postings[stream].second.push_back(mask);
      }
    }
    std::map<std::string, std::string> want;
    want.emplace(SegmentTableKey(0, seg), table);
    for (const auto& [stream, p] : postings) {
      std::vector<std::string_view> values(p.second.begin(), p.second.end());
      want.emplace(PostingKey(stream, 0, seg),
                   EncodePosting(p.first, PostingHasValues(stream) ? &values : nullptr));
    }
    for (const auto& [key, services] : key_services) {
      for (uint32_t n : services) {
        std::string number;
        PutVarint32(&number, n);
        want.emplace(PostingKey(ServiceKeyStream(names[n], key), 0, seg), number);
      }
    }
    std::vector<SealedSegment> sealed = segments.TakeDue(0, true);
    ASSERT_EQ(sealed.size(), 1u);
    EXPECT_EQ(sealed[0].traces, order.size());
    EXPECT_EQ(Puts(sealed[0]),
              (std::vector<std::pair<std::string, std::string>>(want.begin(), want.end())))
        << "round " << round;
  }
}

// A random entry by parts over small pools of names, so that entries share streams (and a
// name may be a service, an operation, a tag key and a tag value at once).
SegmentEntry RandomEntry(std::mt19937& rng) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
  const std::vector<std::string> names = {"", "a", "b", "ab", "a\x01", std::string(200, 'x')};
  auto range = [&] {
    const int min = pick(60);
    return SegmentEntry::Range{static_cast<char>(min), static_cast<char>(min + pick(60))};
  };
  SegmentEntry e;
  if (pick(8) == 0) return e;  // no spans: no streams
  e.SetTime(range());
  std::vector<int> services(names.size());
  std::iota(services.begin(), services.end(), 0);
  std::shuffle(services.begin(), services.end(), rng);
  services.resize(1 + pick(4));
  for (int s : services) e.AddService(names[s], range());
  for (size_t s = 0; s < services.size(); ++s) {
    for (size_t o = 0; o < names.size(); ++o) {
      if (pick(4) == 0) e.AddOperation(static_cast<uint32_t>(s), names[o], range());
    }
  }
  for (size_t k = 0; k < names.size(); ++k) {
    for (size_t v = 0; v < names.size(); ++v) {
      if (pick(6) != 0) continue;
      e.AddTag(names[k], names[v]);
      const uint32_t tag = static_cast<uint32_t>(e.tags().size() - 1);
      for (size_t s = 0; s < services.size(); ++s) {
        if (pick(2) == 0) e.AddServiceTag(static_cast<uint32_t>(s), tag);
      }
    }
  }
  return e;
}

TEST(IndexSegmentsTest, EntriesByPartsSealAndSnapshotAsTheirEncodings) {
  std::mt19937 rng(5);
  for (int round = 0; round < 30; ++round) {
    // `parts` gets each entry by its parts or encoded (at random: both ways must meet in the
    // same streams), `encoded` always encoded.
    IndexSegments parts({/*max_traces=*/1000, /*max_age_ns=*/1000});
    IndexSegments encoded({/*max_traces=*/1000, /*max_age_ns=*/1000});
    uint64_t next_parts = 1;
    uint64_t next_encoded = 1;
    std::set<std::string> streams;
    const int n = 1 + static_cast<int>(rng() % 80);
    for (int i = 0; i < n; ++i) {
      const SegmentEntry entry = RandomEntry(rng);
      const StoredStreams stored = entry.Encode();
      for (const auto& [stream, value] : stored) streams.emplace(stream);
      const TraceId id = Id(static_cast<uint8_t>(rng() % 40));
      const int64_t start = static_cast<int64_t>(rng() % 1000);
      const uint64_t a = *parts.Pin(0, 0, [&] { return NextId(&next_parts); });
      if (rng() % 3 == 0) {
        parts.Add(a, start, id, stored);
      } else {
        parts.Add(a, start, id, entry);
      }
      const uint64_t b = *encoded.Pin(0, 0, [&] { return NextId(&next_encoded); });
      encoded.Add(b, start, id, stored);
    }
    const std::vector<std::string> asked(streams.begin(), streams.end());
    const std::vector<SegmentView> got = parts.Snapshot(0, 0, asked);
    const std::vector<SegmentView> want = encoded.Snapshot(0, 0, asked);
    ASSERT_EQ(got.size(), 1u);
    ASSERT_EQ(want.size(), 1u);
    EXPECT_EQ(got[0].positions, want[0].positions);
    ASSERT_EQ(got[0].postings.size(), want[0].postings.size()) << "round " << round;
    for (const auto& [stream, posting] : want[0].postings) {
      auto it = got[0].postings.find(stream);
      ASSERT_NE(it, got[0].postings.end()) << "round " << round;
      EXPECT_EQ(it->second.ordinals, posting.ordinals) << "round " << round;
      EXPECT_EQ(it->second.values, posting.values) << "round " << round;
    }
    // Every stream but the service tags, which are in the tags' service masks.
    std::set<std::string> got_names;
    parts.ForEachStream(0, 0, "", [&](std::string_view s) { got_names.emplace(s); });
    std::erase_if(streams, [](const std::string& s) { return s[1] == kServiceTagIndex; });
    EXPECT_EQ(got_names, streams);
    std::vector<SealedSegment> sealed_parts = parts.TakeDue(0, true);
    std::vector<SealedSegment> sealed_encoded = encoded.TakeDue(0, true);
    ASSERT_EQ(sealed_parts.size(), 1u);
    ASSERT_EQ(sealed_encoded.size(), 1u);
    EXPECT_EQ(Puts(sealed_parts[0]), Puts(sealed_encoded[0])) << "round " << round;
  }
}

}  // namespace
}  // namespace tailtrace::storage
