#pragma once

// The search property test's fixture (search_property_test.cc; the ClickHouse cluster's in
// clickhouse_cluster_test.cc). Property test: random traces (several services, operations, tags,
// durations and start times, many written in several chunks interleaved with other traces, across
// several retention buckets) and random queries. RocksTraceStore's index-based answers must equal
// the brute-force answers of InMemoryTraceStore: same traces, same summaries, same order, same
// limit behaviour; and the same dependency counts. Tag suggestions are equal too without a time
// window; with one, RocksTraceStore may also count a trace at a start it had before late spans
// moved it earlier: its answer lies between InMemoryTraceStore's and that of every start each trace
// ever had. After a clean close, half the segments are rewritten as store format 4 wrote them (no
// service masks, service tag postings instead): the answers stay the same.

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "common/clock.h"
#include "gtest/gtest.h"
#include "storage/index/trace_analysis.h"
#include "storage/rocks/rocks_trace_store.h"
#include "storage/testing/in_memory_trace_store.h"
#include "tests/storage/format4_segments.h"
#include "tests/storage/trace_builder.h"

namespace tailtrace::storage::property {

using opentelemetry::proto::trace::v1::TracesData;
using testing::AttrValue;
using testing::BuildChunk;
using testing::MakeTraceId;
using testing::SpanSpec;

inline constexpr int64_t kMs = 1'000'000;
inline constexpr int64_t kSec = 1'000 * kMs;
inline constexpr int64_t kT0 = 1'700'000'000'000'000'000;

inline const std::vector<std::string> kServices = {"a", "ab", "b", "checkout"};
inline const std::vector<std::string> kOperations = {"x", "xy", "GET /", ""};
inline const std::vector<std::string> kTagKeys = {"user", "code", "flag", "ratio"};
inline const std::vector<std::string> kUsers = {"ann", "bob", "cy"};
// Durations around class edges (4^k) and a few everyday values.
inline const std::vector<int64_t> kDurations = {
    0,       1,       3,       4,         1023,     1024,     4095,         4096,
    999'999, 1 * kMs, 5 * kMs, 100 * kMs, 1 * kSec, 3 * kSec, 3 * kSec + 1, 10 * kSec};

class Random {
 public:
  explicit Random(uint32_t seed) : gen_(seed) {}
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(gen_); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(Int(0, static_cast<int>(v.size()) - 1))];
  }
  std::mt19937& gen() { return gen_; }

 private:
  std::mt19937 gen_;
};

inline AttrValue RandomTagValue(Random& r, const std::string& key) {
  if (key == "user") return r.Pick(kUsers);
  if (key == "code") return int64_t{r.Chance(0.5) ? 200 : 503};
  if (key == "flag") return r.Chance(0.5);
  return r.Chance(0.5) ? 0.25 : 1.5;
}

inline std::string TagValueString(const AttrValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  return std::get<double>(v) == 0.25 ? "0.25" : "1.5";
}

struct GeneratedTrace {
  TraceId id;
  std::vector<std::vector<SpanSpec>> chunks;
};

inline GeneratedTrace RandomTrace(Random& r, uint64_t n) {
  GeneratedTrace t;
  // A few trace IDs share their low half so ID ordering is exercised across all bytes.
  t.id = MakeTraceId(static_cast<uint64_t>(r.Int(0, 3)), n);
  // Starts from a small set so that equal trace starts (ID tie-breaks) happen.
  const int64_t base = kT0 + static_cast<int64_t>(r.Int(0, 40)) * 7 * kSec;
  const int spans = r.Int(1, 7);
  std::vector<SpanSpec> all;
  for (int i = 1; i <= spans; ++i) {
    SpanSpec s;
    s.service = r.Pick(kServices);
    s.name = r.Pick(kOperations);
    // Now and then a span ID repeats (broken instrumentation happens): the store then recomputes
    // the trace from all its chunks instead of continuing from its index state.
    s.span_id = static_cast<uint64_t>(i > 1 && r.Chance(0.03) ? r.Int(1, i - 1) : i);
    if (i > 1 || r.Chance(0.2)) {
      // A parent in the trace, or (rarely) one that never arrives.
      s.parent_id = r.Chance(0.9) ? static_cast<uint64_t>(r.Int(1, i == 1 ? 1 : i - 1)) : 1000;
      if (s.parent_id == s.span_id) s.parent_id = 1000;
    }
    s.start_ns = base + (i == 1 ? 0 : static_cast<int64_t>(r.Int(-2, 30)) * kSec);
    s.duration_ns = r.Pick(kDurations);
    s.kind = r.Int(0, 5);
    s.error = r.Chance(0.15);
    for (const std::string& key : kTagKeys) {
      if (r.Chance(0.3)) s.attributes.emplace_back(key, RandomTagValue(r, key));
    }
    if (r.Chance(0.5))
      s.resource_attributes.emplace_back("region", std::string(r.Chance(0.5) ? "eu" : "us"));
    if (r.Chance(0.2)) {  // an event whose name and attribute are tags too
      const std::string& key = r.Pick(kTagKeys);
      s.events.push_back({r.Chance(0.5) ? "exception" : "retry", {{key, RandomTagValue(r, key)}}});
    }
    all.push_back(std::move(s));
  }
  std::shuffle(all.begin(), all.end(), r.gen());
  const int chunks = std::min<int>(spans, r.Int(1, 3));
  t.chunks.resize(static_cast<size_t>(chunks));
  for (size_t i = 0; i < all.size(); ++i) {
    // Every chunk gets at least one span.
    const size_t c =
        i < static_cast<size_t>(chunks) ? i : static_cast<size_t>(r.Int(0, chunks - 1));
    t.chunks[c].push_back(all[i]);
  }
  return t;
}

// The sampling decisions of the writes: no policy (rate 1), then the three policies.
inline const std::vector<std::string> kPolicies = {"errors", "p10", "latency"};
inline constexpr double kRates[] = {1.0, 1.0, 10.0, 1.0 / 0.3};

inline TraceQuery RandomQuery(Random& r) {
  TraceQuery q;
  if (r.Chance(0.7)) q.service = r.Chance(0.95) ? r.Pick(kServices) : "unknown";
  if (!q.service.empty() && r.Chance(0.4)) q.operation = r.Pick(kOperations);
  const int tags = r.Chance(0.5) ? r.Int(1, 2) : 0;
  for (int i = 0; i < tags; ++i) {
    if (r.Chance(0.15)) {
      // The trace's decision, not a span's tag (a policy, or a rate as its text).
      if (r.Chance(0.6)) {
        q.attributes.emplace_back("sampling.policy", r.Pick(kPolicies));
      } else {
        q.attributes.emplace_back("sampling.rate", SamplingRateText(kRates[r.Int(0, 3)]));
      }
    } else if (r.Chance(0.25)) {
      q.attributes.emplace_back("error", "true");
    } else if (r.Chance(0.15)) {
      q.attributes.emplace_back("region", r.Chance(0.5) ? "eu" : "us");
    } else if (r.Chance(0.1)) {
      q.attributes.emplace_back("event", r.Chance(0.5) ? "exception" : "retry");
    } else {
      const std::string& key = r.Pick(kTagKeys);
      q.attributes.emplace_back(key, TagValueString(RandomTagValue(r, key)));
    }
  }
  if (r.Chance(0.4)) {
    int64_t a = r.Pick(kDurations) + (r.Chance(0.3) ? 1 : 0);
    int64_t b = r.Pick(kDurations);
    if (a > b) std::swap(a, b);
    if (r.Chance(0.7)) q.duration_min_ns = a;
    if (r.Chance(0.5)) q.duration_max_ns = b;
  }
  if (r.Chance(0.4)) {
    int64_t a = kT0 + static_cast<int64_t>(r.Int(-5, 45)) * 7 * kSec;
    int64_t b = kT0 + static_cast<int64_t>(r.Int(-5, 45)) * 7 * kSec;
    if (a > b) std::swap(a, b);
    if (r.Chance(0.7)) q.start_time_min_ns = a;
    if (r.Chance(0.7)) q.start_time_max_ns = b;
  }
  const std::vector<int> limits = {1, 2, 5, 20, 1000};
  q.limit = r.Pick(limits);
  return q;
}

// A trace as the index saw it after one of its writes: its start then and its tags.
struct IndexedEntry {
  int64_t start_ns = 0;
  std::set<std::tuple<std::string, std::string, std::string>> service_tags;
};

// The tag suggestion query of a random service (or any), keys or the values of a random key,
// with or without a random window (`*windowed` tells), limit 1000.
inline TagSuggestionQuery RandomTagSuggestionQuery(Random& r, bool* windowed) {
  static const std::vector<std::string> kKeys = {
      "user", "code", "flag", "ratio", "region", "event", "error", "span.kind", "otel.status_code"};
  TagSuggestionQuery q;
  if (r.Chance(0.6)) q.service = r.Pick(kServices);
  if (r.Chance(0.6)) q.key = r.Pick(kKeys);
  *windowed = r.Chance(0.6);
  if (*windowed) {
    q.start_time_min_ns = kT0 + static_cast<int64_t>(r.Int(-5, 45)) * 7 * kSec;
    q.start_time_max_ns = kT0 + static_cast<int64_t>(r.Int(-5, 45)) * 7 * kSec;
    if (q.start_time_min_ns > q.start_time_max_ns) {
      std::swap(q.start_time_min_ns, q.start_time_max_ns);
    }
  }
  q.limit = 1000;
  return q;
}

inline std::string Describe(const TagSuggestionQuery& q) {
  return "service=" + q.service + " key=" + q.key +
         " tmin=" + std::to_string((q.start_time_min_ns - kT0) / kSec) +
         " tmax=" + std::to_string((q.start_time_max_ns - kT0) / kSec);
}

inline std::string Describe(const TraceQuery& q) {
  std::string s = "service=" + q.service + " operation=" + q.operation;
  for (const auto& [k, v] : q.attributes) s += " " + k + "=" + v;
  if (q.duration_min_ns) s += " dmin=" + std::to_string(*q.duration_min_ns);
  if (q.duration_max_ns) s += " dmax=" + std::to_string(*q.duration_max_ns);
  if (q.start_time_min_ns) s += " tmin=" + std::to_string(*q.start_time_min_ns - kT0);
  if (q.start_time_max_ns) s += " tmax=" + std::to_string(*q.start_time_max_ns - kT0);
  return s + " limit=" + std::to_string(q.limit);
}

inline std::string Ids(const std::vector<TraceSummary>& v) {
  std::string s;
  for (const TraceSummary& t : v)
    s += t.trace_id.Hex().substr(14) + "@" + std::to_string((t.start_ns - kT0) / kSec) + " ";
  return s;
}

// (seed, with the trace terms cache): without the cache every late chunk re-reads its trace.
class SearchPropertyTest : public ::testing::TestWithParam<std::tuple<uint32_t, bool>> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("tailtrace_search_property_" + std::to_string(std::get<0>(GetParam())) +
            (std::get<1>(GetParam()) ? "_cache_" : "_nocache_") + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    options_.path = (dir_ / "db").string();
    options_.block_cache_bytes = 1 << 20;
    options_.write_buffer_bytes = 256 << 10;
    options_.retention_check_interval_ms = 0;
    // One-hour buckets and a long retention: traces spread over several buckets, none expire.
    options_.retention_ns = 1000ll * 3600 * kSec;
    options_.retention_buckets = 1000;
    if (!std::get<1>(GetParam())) {
      options_.trace_terms_cache_bytes = 0;
      // Tiny index segments: several per slot, and a trace's entries spread over segments.
      options_.index_segment_max_traces = 3;
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void CompareQueries(Random& r, TraceStore& rocks, int count) {
    for (int i = 0; i < count; ++i) {
      const TraceQuery q = RandomQuery(r);
      absl::StatusOr<std::vector<TraceSummary>> want = memory_.FindTraces(q);
      absl::StatusOr<std::vector<TraceSummary>> got = rocks.FindTraces(q);
      ASSERT_EQ(want.status(), got.status()) << Describe(q);
      if (!want.ok()) continue;
      ASSERT_EQ(*want, *got) << Describe(q) << "\n want: " << Ids(*want)
                             << "\n got:  " << Ids(*got);
      ++compared_;
      if (!want->empty()) ++non_empty_;
      if (!want->empty() && std::any_of(q.attributes.begin(), q.attributes.end(),
                                        [](auto& kv) { return IsSamplingTag(kv.first); })) {
        ++non_empty_sampling_;
      }
    }
    for (int i = 0; i < 20; ++i) {
      const int64_t end =
          kT0 + static_cast<int64_t>(r.Int(-2, 8)) * 60 * kSec + r.Int(0, 59) * kSec;
      const int64_t lookback = static_cast<int64_t>(r.Int(0, 10)) * 60 * kSec;
      auto want = memory_.GetDependencies(end, lookback);
      auto got = rocks.GetDependencies(end, lookback);
      ASSERT_TRUE(want.ok() && got.ok());
      ASSERT_EQ(*want, *got) << "end=" << end - kT0 << " lookback=" << lookback;
    }
  }

  // Records the index entry of every trace of a batch just written (as the in-memory store holds
  // it now).
  void RecordEntries(const std::vector<TraceWrite>& batch) {
    for (const TraceWrite& w : batch) {
      absl::StatusOr<std::optional<StoredTrace>> trace = memory_.GetTrace(w.trace_id);
      ASSERT_TRUE(trace.ok() && trace->has_value());
      const TracesData* data = &(*trace)->data;
      TraceIndexTerms terms = ComputeIndexTerms(w.trace_id, TraceChunks(&data, 1), options_.index);
      entries_.push_back({terms.summary.start_ns, std::move(terms.service_tags)});
    }
  }

  // What the suggestions would be if every entry ever written counted at its own start.
  std::vector<std::string> EveryEntrysSuggestions(const TagSuggestionQuery& q) const {
    std::set<std::string> names;
    for (const IndexedEntry& e : entries_) {
      const int64_t slot = IndexSlot(e.start_ns);
      if (slot < IndexSlot(q.start_time_min_ns) || slot > IndexSlot(q.start_time_max_ns)) continue;
      for (const auto& [service, key, value] : e.service_tags) {
        if (!q.service.empty() && service != q.service) continue;
        if (q.key.empty()) {
          names.insert(key);
        } else if (key == q.key) {
          names.insert(value);
        }
      }
    }
    return {names.begin(), names.end()};
  }

  void CompareTagSuggestions(Random& r, TraceStore& rocks, int count) {
    auto includes = [](const std::vector<std::string>& all, const std::vector<std::string>& part) {
      return std::includes(all.begin(), all.end(), part.begin(), part.end());
    };
    for (int i = 0; i < count; ++i) {
      bool windowed = false;
      TagSuggestionQuery q = RandomTagSuggestionQuery(r, &windowed);
      absl::StatusOr<std::vector<std::string>> want = memory_.SuggestTags(q);
      absl::StatusOr<std::vector<std::string>> got = rocks.SuggestTags(q);
      ASSERT_TRUE(want.ok() && got.ok()) << Describe(q);
      if (windowed) {
        ASSERT_TRUE(includes(*got, *want)) << Describe(q);
        ASSERT_TRUE(includes(EveryEntrysSuggestions(q), *got)) << Describe(q);
      } else {
        ASSERT_EQ(*want, *got) << Describe(q);
      }
      if (!want->empty()) ++non_empty_suggestions_;
      // A limit keeps the first names of the whole answer.
      q.limit = r.Pick(std::vector<int>{1, 2, 5});
      absl::StatusOr<std::vector<std::string>> cut = rocks.SuggestTags(q);
      ASSERT_TRUE(cut.ok());
      got->resize(std::min(got->size(), static_cast<size_t>(q.limit)));
      ASSERT_EQ(*cut, *got) << Describe(q) << " limit=" << q.limit;
    }
  }

  // Writes random traces to memory_ and `store`: every chunk is a pending write; batches take
  // random pending chunks (a trace's chunks stay in order), so late chunks come after writes of
  // other traces and sometimes in the same batch.
  void WriteRandomTraces(Random& r, TraceStore& store) {
    constexpr int kTraces = 250;
    std::vector<GeneratedTrace> traces;
    for (int i = 0; i < kTraces; ++i) {
      traces.push_back(RandomTrace(r, static_cast<uint64_t>(i + 1)));
      trace_ids_.push_back(traces.back().id);
    }
    std::vector<std::pair<size_t, size_t>> pending;  // (trace, next chunk)
    for (size_t t = 0; t < traces.size(); ++t) pending.emplace_back(t, 0);
    std::vector<TracesData> keep_alive;
    keep_alive.reserve(1000);
    while (!pending.empty()) {
      std::vector<TraceWrite> batch;
      std::vector<TracesData> datas;
      datas.reserve(8);
      const int n = r.Int(1, 6);
      for (int i = 0; i < n && !pending.empty(); ++i) {
        const size_t p = static_cast<size_t>(r.Int(0, static_cast<int>(pending.size()) - 1));
        auto& [t, c] = pending[p];
        datas.push_back(BuildChunk(traces[t].id, traces[t].chunks[c]));
        // Decisions vary by part, so that the trace's decision (its first part with a policy)
        // is what sampling.* conditions must find.
        const int d = r.Int(0, 3);
        batch.push_back(
            TraceWrite{traces[t].id, nullptr, d == 0 ? "" : kPolicies[d - 1], kRates[d], {}});
        if (++c == traces[t].chunks.size()) pending.erase(pending.begin() + static_cast<long>(p));
      }
      for (size_t i = 0; i < batch.size(); ++i) batch[i].spans = &datas[i];
      ASSERT_TRUE(memory_.Write(batch).ok());
      ASSERT_TRUE(store.Write(batch).ok());
      RecordEntries(batch);
      // Minutes pass between batches: writes spread over several one-hour buckets.
      clock_.Advance(static_cast<int64_t>(r.Int(0, 4)) * 60 * kSec);
    }
  }

  // The checks of a ClickHouseTraceStore (one server or a cluster), its SQL against the
  // brute-force scan: searches, dependencies, tag suggestions (exact, so within the bounds the
  // RocksDB store is held to), every trace read back, services and operations.
  void CheckClickHouseStore(Random& r, TraceStore& store) {
    WriteRandomTraces(r, store);
    if (HasFatalFailure()) return;
    CompareQueries(r, store, 300);
    if (HasFatalFailure()) return;
    CompareTagSuggestions(r, store, 150);
    if (HasFatalFailure()) return;
    EXPECT_GT(non_empty_, compared_ / 3) << non_empty_ << " of " << compared_;
    EXPECT_GT(non_empty_suggestions_, 60) << non_empty_suggestions_ << " of 150";
    EXPECT_GT(non_empty_sampling_, 10) << "queries with sampling.* conditions that found traces";
    for (const TraceId& id : trace_ids_) {
      auto want = memory_.GetTrace(id);
      auto got = store.GetTrace(id);
      ASSERT_TRUE(want.ok() && got.ok()) << got.status();
      ASSERT_EQ(want->has_value(), got->has_value()) << id.Hex();
      if (!want->has_value()) continue;
      EXPECT_EQ((*want)->data.SerializeAsString(), (*got)->data.SerializeAsString()) << id.Hex();
      EXPECT_EQ((*want)->sampling_policy, (*got)->sampling_policy) << id.Hex();
      EXPECT_EQ((*want)->sample_rate, (*got)->sample_rate) << id.Hex();
    }
    auto services = store.GetServices();
    auto want_services = memory_.GetServices();
    ASSERT_TRUE(services.ok() && want_services.ok());
    EXPECT_EQ(*services, *want_services);
    for (const std::string& service : *want_services) {
      EXPECT_EQ(*memory_.GetOperations(service, -1), *store.GetOperations(service, -1)) << service;
      EXPECT_EQ(*memory_.GetOperations(service, 2), *store.GetOperations(service, 2)) << service;
    }
  }

  std::filesystem::path dir_;
  StoreOptions options_;
  FakeClock clock_{kT0};
  InMemoryTraceStore memory_;
  std::vector<IndexedEntry> entries_;
  std::vector<TraceId> trace_ids_;  // of every trace written
  int compared_ = 0;
  int non_empty_ = 0;
  int non_empty_sampling_ = 0;  // of non_empty_, queries with a sampling.* condition
  int non_empty_suggestions_ = 0;
};

}  // namespace tailtrace::storage::property
