// RocksTraceStore reads and writes: round trips, names, reopening, concurrent writes.

#include "storage/rocks/rocks_trace_store.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "rocksdb/convenience.h"
#include "rocksdb/db.h"
#include "storage/index/keys.h"
#include "storage/testing/in_memory_trace_store.h"
#include "tests/storage/rocks_trace_store_fixture.h"

namespace tailtrace::storage {
namespace {

using namespace rocks_store_test;  // NOLINT(build/namespaces): the shared test fixture

TEST_F(RocksTraceStoreTest, MultiResourceTraceRoundTrips) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const TraceId id = MakeId(7);
  TracesData data;
  AddResource(&data, id, "frontend", {{"GET /checkout", kServer}, {"render", kInternal}});
  AddResource(&data, id, "payment", {{"charge", kServer}, {"SELECT", kClient}});
  const TraceWrite w = MakeWrite(id, &data, "slow-traces", 4.0);
  ASSERT_TRUE(store->Write({&w, 1}).ok());

  auto got = store->GetTrace(id);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  const StoredTrace& t = **got;
  EXPECT_EQ(t.trace_id, id);
  EXPECT_TRUE(MessageDifferencer::Equals(t.data, data)) << t.data.DebugString();
  EXPECT_EQ(t.data.SerializeAsString(), data.SerializeAsString());
  EXPECT_EQ(t.sampling_policy, "slow-traces");
  EXPECT_EQ(t.sample_rate, 4.0);
}

TEST_F(RocksTraceStoreTest, GivenSpanBytesAreStoredAsTheSpans) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const TraceId id = MakeId(8);
  TracesData data;
  AddResource(&data, id, "frontend", {{"GET /cart", kServer}, {"render", kInternal}});
  // Bytes that parse to `data` without being its serialization: each ResourceSpans with its
  // resource after its scope_spans.
  std::string bytes;
  for (const auto& rs : data.resource_spans()) {
    opentelemetry::proto::trace::v1::ResourceSpans scopes_first;
    *scopes_first.mutable_scope_spans() = rs.scope_spans();
    opentelemetry::proto::trace::v1::ResourceSpans resource_only;
    *resource_only.mutable_resource() = rs.resource();
    const std::string inner = scopes_first.SerializeAsString() + resource_only.SerializeAsString();
    bytes.push_back(static_cast<char>((1 << 3) | 2));
    ASSERT_LT(inner.size(), 128u * 128u);
    if (inner.size() < 128) {
      bytes.push_back(static_cast<char>(inner.size()));
    } else {
      bytes.push_back(static_cast<char>(0x80 | (inner.size() & 0x7f)));
      bytes.push_back(static_cast<char>(inner.size() >> 7));
    }
    bytes += inner;
  }
  ASSERT_NE(bytes, data.SerializeAsString());
  TracesData reparsed;
  ASSERT_TRUE(reparsed.ParseFromString(bytes));
  ASSERT_TRUE(MessageDifferencer::Equals(reparsed, data));

  // The same spans written twice: as objects with their bytes, and as the bytes alone.
  const TraceId bytes_only_id = MakeId(9);
  TraceWrite writes[2] = {MakeWrite(id, &data, "p", 2.0),
                          MakeWrite(bytes_only_id, nullptr, "p", 2.0)};
  for (TraceWrite& w : writes) w.spans_bytes = bytes;
  ASSERT_TRUE(store->Write(writes).ok());
  for (const TraceId& stored : {id, bytes_only_id}) {
    auto got = store->GetTrace(stored);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_TRUE(got->has_value());
    EXPECT_TRUE(MessageDifferencer::Equals((*got)->data, data)) << (*got)->data.DebugString();
    EXPECT_EQ((*got)->sampling_policy, "p");
    EXPECT_EQ((*got)->sample_rate, 2.0);
  }
  // Indexed from the bytes: both are found alike, with equal summaries but for the ID.
  auto services = store->GetServices();
  ASSERT_TRUE(services.ok());
  EXPECT_THAT(*services, ::testing::Contains("frontend"));
  TraceQuery query;
  query.service = "frontend";
  query.operation = "render";
  query.attributes = {{"http.status_code", "200"}, {"span.kind", "internal"}};
  auto found = store->FindTraces(query);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 2u);
  TraceSummary first = (*found)[0];
  first.trace_id = (*found)[1].trace_id;
  EXPECT_EQ(first, (*found)[1]);
  EXPECT_EQ(first.root_operation, "GET /cart");
}

TEST_F(RocksTraceStoreTest, SpanBytesThatDoNotDecodeFailTheWholeBatch) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  TracesData a;
  AddResource(&a, MakeId(1), "svc", {{"x"}});
  TraceWrite writes[] = {MakeWrite(MakeId(1), &a), MakeWrite(MakeId(2), nullptr)};
  writes[1].spans_bytes = std::string_view("\x0a\x05\x12\x09", 4);  // a length past the end
  absl::Status s = store->Write(writes);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("TraceWrite[1]"));
  EXPECT_THAT(s.message(), HasSubstr("spans_bytes"));
  EXPECT_EQ(store->Stats().traces_written, 0u);
  auto got = store->GetTrace(MakeId(1));
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
}

TEST_F(RocksTraceStoreTest, UnknownTraceIsNullopt) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto empty = store->GetTrace(MakeId(1));
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_FALSE(empty->has_value());

  // Neighbours in key order (differing in the first or last byte) must not leak in.
  TracesData data;
  AddResource(&data, MakeId(1, 2), "svc", {{"op"}});
  TracesData data2;
  AddResource(&data2, MakeId(2, 1), "svc", {{"op"}});
  const TraceWrite writes[] = {MakeWrite(MakeId(1, 2), &data), MakeWrite(MakeId(2, 1), &data2)};
  ASSERT_TRUE(store->Write(writes).ok());
  ASSERT_TRUE(store->Flush().ok());
  auto missing = store->GetTrace(MakeId(1, 1));
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_FALSE(missing->has_value());
  auto found = store->GetTrace(MakeId(1, 2));
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->data.SerializeAsString(), data.SerializeAsString());
}

TEST_F(RocksTraceStoreTest, LateChunksAppendInWriteOrder) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const TraceId id = MakeId(3);
  TracesData first, late1, late2;
  AddResource(&first, id, "frontend", {{"GET /", kServer}});
  AddResource(&late1, id, "backend", {{"query", kClient}});
  AddResource(&late2, id, "frontend", {{"flush", kInternal}});
  // The first chunk has no policy; the first chunk with one decides policy and rate.
  const TraceWrite w1 = MakeWrite(id, &first, "", 1.0);
  const TraceWrite w2 = MakeWrite(id, &late1, "errors", 10.0);
  const TraceWrite w3 = MakeWrite(id, &late2, "latency", 2.0);
  ASSERT_TRUE(store->Write({&w1, 1}).ok());
  ASSERT_TRUE(store->Flush().ok());  // chunks in an SST file and in the memtable
  ASSERT_TRUE(store->Write({&w2, 1}).ok());
  ASSERT_TRUE(store->Write({&w3, 1}).ok());

  auto got = store->GetTrace(id);
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status();
  TracesData expected = first;
  expected.MergeFrom(late1);
  expected.MergeFrom(late2);
  EXPECT_TRUE(MessageDifferencer::Equals((*got)->data, expected)) << (*got)->data.DebugString();
  EXPECT_EQ((*got)->sampling_policy, "errors");
  EXPECT_EQ((*got)->sample_rate, 10.0);
}

// GetTraceUpTo (query.max_trace_spans): a large trace of 10 chunks of 1000 spans is read no
// further than the chunk that passes the bound.
TEST_F(RocksTraceStoreTest, GetTraceUpToStopsReadingALargeTraceAtTheBound) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const TraceId id = MakeId(9);
  const std::vector<SpanSpec> spans(1000, SpanSpec{"work", kInternal});
  for (int chunk = 0; chunk < 10; ++chunk) {
    TracesData data;
    AddResource(&data, id, "batch", spans);
    const TraceWrite w = MakeWrite(id, &data, chunk == 0 ? "keep" : "", 1.0);
    ASSERT_TRUE(store->Write({&w, 1}).ok());
    if (chunk == 4) {
      ASSERT_TRUE(store->Flush().ok());  // chunks in an SST file and a memtable
    }
  }

  auto bounded = store->GetTraceUpTo(id, 2500);
  ASSERT_TRUE(bounded.ok() && bounded->has_value()) << bounded.status();
  EXPECT_TRUE((*bounded)->truncated);
  EXPECT_EQ(SpanCountOf((*bounded)->data), 3000u);  // whole chunks, up to the one past 2500
  EXPECT_EQ((*bounded)->sampling_policy, "keep");

  for (uint64_t max_spans : {uint64_t{10'000}, uint64_t{0}}) {
    auto whole = store->GetTraceUpTo(id, max_spans);
    ASSERT_TRUE(whole.ok() && whole->has_value()) << whole.status();
    EXPECT_FALSE((*whole)->truncated) << max_spans;
    EXPECT_EQ(SpanCountOf((*whole)->data), 10'000u) << max_spans;
  }
  auto plain = store->GetTrace(id);
  ASSERT_TRUE(plain.ok() && plain->has_value());
  EXPECT_FALSE((*plain)->truncated);
  EXPECT_EQ(SpanCountOf((*plain)->data), 10'000u);
}

TEST_F(RocksTraceStoreTest, WithoutAnyPolicyTheFirstChunkDecidesTheRate) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const TraceId id = MakeId(4);
  TracesData a, b;
  AddResource(&a, id, "svc", {{"a"}});
  AddResource(&b, id, "svc", {{"b"}});
  const TraceWrite writes[] = {MakeWrite(id, &a, "", 3.0), MakeWrite(id, &b, "", 5.0)};
  ASSERT_TRUE(store->Write(writes).ok());  // two chunks of one trace in one batch
  auto got = store->GetTrace(id);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->data.resource_spans_size(), 2);
  EXPECT_EQ((*got)->sampling_policy, "");
  EXPECT_EQ((*got)->sample_rate, 3.0);
}

TEST_F(RocksTraceStoreTest, SummaryOfAnEarlierVersionHasNoDecisionUntilALaterWrite) {
  const TraceId id = MakeId(4, 2);
  TracesData first, late;
  AddResource(&first, id, "svc", {{"a"}});
  AddResource(&late, id, "svc", {{"b"}});
  TraceSummary stored;
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    const TraceWrite w = MakeWrite(id, &first, "errors", 4.0);
    ASSERT_TRUE(store->Write({&w, 1}).ok());
    auto found = store->FindTraces(TraceQuery{});
    ASSERT_TRUE(found.ok() && found->size() == 1u);
    stored = (*found)[0];
    EXPECT_EQ(stored.sampling_policy, "errors");
    EXPECT_EQ(stored.sample_rate, 4.0);
  }
  // The record as a version before the decision was kept wrote it: version 1, without the
  // trailing policy (an empty one is 1 byte) and rate (8 bytes).
  TraceSummary old = stored;
  old.sampling_policy.clear();
  old.sample_rate = 0;
  std::string v1 = EncodeSummary(old);
  v1.resize(v1.size() - 9);
  v1[0] = 1;
  PutRaw("bucket", SummaryKey(id), v1);

  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto found = store->FindTraces(TraceQuery{});
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0], old);  // everything else as stored; the decision unknown
  // A late write fills in its own decision.
  const TraceWrite w = MakeWrite(id, &late, "latency", 2.0);
  ASSERT_TRUE(store->Write({&w, 1}).ok());
  found = store->FindTraces(TraceQuery{});
  ASSERT_TRUE(found.ok() && found->size() == 1u);
  EXPECT_EQ((*found)[0].sampling_policy, "latency");
  EXPECT_EQ((*found)[0].sample_rate, 2.0);
  EXPECT_EQ((*found)[0].span_count, 2u);
}

TEST_F(RocksTraceStoreTest, ServicesAndOperationsAreSortedAndFilteredByKind) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  TracesData data;
  const TraceId id = MakeId(5);
  AddResource(&data, id, "payment", {{"charge", kServer}, {"charge", kClient}, {"audit"}});
  AddResource(&data, id, "frontend", {{"GET /", kServer}});
  // "pay" is a prefix of "payment": its operations must stay apart.
  AddResource(&data, id, "pay", {{"ment", kServer}});
  const TraceWrite w = MakeWrite(id, &data);
  ASSERT_TRUE(store->Write({&w, 1}).ok());
  // Writing the same names again adds nothing.
  ASSERT_TRUE(store->Write({&w, 1}).ok());

  auto services = store->GetServices();
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services, ElementsAre("frontend", "pay", "payment"));

  auto ops = store->GetOperations("payment");
  ASSERT_TRUE(ops.ok()) << ops.status();
  EXPECT_THAT(*ops, ElementsAre(Operation{"audit", kInternal}, Operation{"charge", kServer},
                                Operation{"charge", kClient}));
  auto servers = store->GetOperations("payment", kServer);
  ASSERT_TRUE(servers.ok());
  EXPECT_THAT(*servers, ElementsAre(Operation{"charge", kServer}));
  auto pay = store->GetOperations("pay");
  ASSERT_TRUE(pay.ok());
  EXPECT_THAT(*pay, ElementsAre(Operation{"ment", kServer}));
  auto unknown = store->GetOperations("nope");
  ASSERT_TRUE(unknown.ok());
  EXPECT_TRUE(unknown->empty());
  auto no_consumers = store->GetOperations("payment", Span::SPAN_KIND_CONSUMER);
  ASSERT_TRUE(no_consumers.ok());
  EXPECT_TRUE(no_consumers->empty());
}

TEST_F(RocksTraceStoreTest, MissingServiceNameIsUnknownService) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  TracesData data;
  auto* rs = data.add_resource_spans();
  rs->add_scope_spans()->add_spans()->set_name("orphan");
  const TraceWrite w = MakeWrite(MakeId(6), &data);
  ASSERT_TRUE(store->Write({&w, 1}).ok());
  auto services = store->GetServices();
  ASSERT_TRUE(services.ok());
  EXPECT_THAT(*services, ElementsAre("unknown_service"));
}

TEST_F(RocksTraceStoreTest, BehavesLikeTheInMemoryStore) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  InMemoryTraceStore reference;
  std::vector<TracesData> datas(20);
  std::vector<TraceWrite> writes;
  for (int i = 0; i < 20; ++i) {
    // 10 traces, each written twice (late spans), across 3 services and all span kinds.
    const TraceId trace = MakeId(static_cast<uint8_t>(i % 10));
    AddResource(
        &datas[i], trace, "svc" + std::to_string(i % 3),
        {{"op" + std::to_string(i % 4), i % 6}, {"op" + std::to_string(i % 5), (i + 1) % 6}});
    // Late spans carry the trace's decision: each trace has one policy, on its first write
    // (odd traces) or only on the late one (even traces).
    const int k = i % 10;
    const bool with_policy = (k % 2 == 1) == (i < 10);
    writes.push_back(MakeWrite(trace, &datas[i], with_policy ? "policy" + std::to_string(k) : "",
                               with_policy ? 1.0 + k : 1.0));
  }
  ASSERT_TRUE(store->Write({writes.data(), 7}).ok());
  ASSERT_TRUE(store->Write({writes.data() + 7, writes.size() - 7}).ok());
  ASSERT_TRUE(reference.Write({writes.data(), 7}).ok());
  ASSERT_TRUE(reference.Write({writes.data() + 7, writes.size() - 7}).ok());

  auto services = store->GetServices();
  auto ref_services = reference.GetServices();
  ASSERT_TRUE(services.ok() && ref_services.ok());
  EXPECT_EQ(*services, *ref_services);
  for (const std::string& service : *ref_services) {
    for (int kind = -1; kind <= 5; ++kind) {
      auto ops = store->GetOperations(service, kind);
      auto ref_ops = reference.GetOperations(service, kind);
      ASSERT_TRUE(ops.ok() && ref_ops.ok());
      EXPECT_EQ(*ops, *ref_ops) << service << " kind " << kind;
    }
  }
  for (int i = 0; i < 10; ++i) {
    auto got = store->GetTrace(MakeId(static_cast<uint8_t>(i)));
    auto ref = reference.GetTrace(MakeId(static_cast<uint8_t>(i)));
    ASSERT_TRUE(got.ok() && ref.ok());
    ASSERT_TRUE(got->has_value() && ref->has_value());
    EXPECT_EQ((*got)->data.SerializeAsString(), (*ref)->data.SerializeAsString()) << i;
    EXPECT_EQ((*got)->sampling_policy, (*ref)->sampling_policy) << i;
    EXPECT_EQ((*got)->sample_rate, (*ref)->sample_rate) << i;
  }
  EXPECT_EQ(store->Stats().traces_written, reference.Stats().traces_written);
  EXPECT_EQ(store->Stats().spans_written, reference.Stats().spans_written);
}

TEST_F(RocksTraceStoreTest, DataSurvivesCloseAndReopen) {
  const TraceId id = MakeId(9);
  TracesData first, late;
  AddResource(&first, id, "frontend", {{"GET /", kServer}});
  AddResource(&late, id, "backend", {{"work", kInternal}});
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    const TraceWrite w = MakeWrite(id, &first, "keep-all");
    ASSERT_TRUE(store->Write({&w, 1}).ok());
    // No Flush: the data is only in the WAL when the store closes.
  }
  {
    // Same (frozen) clock: chunk numbers must still not repeat, or the late chunk would replace
    // the first one.
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    auto got = store->GetTrace(id);
    ASSERT_TRUE(got.ok() && got->has_value()) << got.status();
    EXPECT_EQ((*got)->data.SerializeAsString(), first.SerializeAsString());
    const TraceWrite w = MakeWrite(id, &late);
    ASSERT_TRUE(store->Write({&w, 1}).ok());
    ASSERT_TRUE(store->Close().ok());
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto got = store->GetTrace(id);
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status();
  TracesData expected = first;
  expected.MergeFrom(late);
  EXPECT_TRUE(MessageDifferencer::Equals((*got)->data, expected)) << (*got)->data.DebugString();
  EXPECT_EQ((*got)->sampling_policy, "keep-all");
  auto services = store->GetServices();
  ASSERT_TRUE(services.ok());
  EXPECT_THAT(*services, ElementsAre("backend", "frontend"));
  auto ops = store->GetOperations("frontend");
  ASSERT_TRUE(ops.ok());
  EXPECT_THAT(*ops, ElementsAre(Operation{"GET /", kServer}));
}

TEST_F(RocksTraceStoreTest, KnownNamesAreReloadedAndNewOnesStillStored) {
  const TraceId id = MakeId(10);
  TracesData a, b;
  AddResource(&a, id, "svc", {{"old", kServer}});
  AddResource(&b, id, "svc", {{"old", kServer}, {"new", kClient}});
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    const TraceWrite w = MakeWrite(id, &a);
    ASSERT_TRUE(store->Write({&w, 1}).ok());
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const TraceWrite w = MakeWrite(id, &b);
  ASSERT_TRUE(store->Write({&w, 1}).ok());
  auto ops = store->GetOperations("svc");
  ASSERT_TRUE(ops.ok());
  EXPECT_THAT(*ops, ElementsAre(Operation{"new", kClient}, Operation{"old", kServer}));
}

TEST_F(RocksTraceStoreTest, NullSpansFailTheWholeBatch) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  TracesData a;
  AddResource(&a, MakeId(1), "svc", {{"x"}});
  const TraceWrite writes[] = {MakeWrite(MakeId(1), &a), MakeWrite(MakeId(2), nullptr)};
  absl::Status s = store->Write(writes);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("TraceWrite[1]"));
  EXPECT_THAT(s.message(), HasSubstr(MakeId(2).Hex()));
  auto got = store->GetTrace(MakeId(1));
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
  EXPECT_EQ(store->Stats().traces_written, 0u);
  auto services = store->GetServices();
  ASSERT_TRUE(services.ok());
  EXPECT_TRUE(services->empty());
}

TEST_F(RocksTraceStoreTest, WriteWithoutSpansStoresNothing) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  TracesData empty;
  empty.add_resource_spans()->add_scope_spans();
  const TraceWrite w = MakeWrite(MakeId(1), &empty, "policy");
  ASSERT_TRUE(store->Write({&w, 1}).ok());
  ASSERT_TRUE(store->Write({}).ok());
  auto got = store->GetTrace(MakeId(1));
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
  EXPECT_EQ(store->Stats().traces_written, 0u);
}

TEST_F(RocksTraceStoreTest, ConcurrentWritesToOneTraceKeepEveryChunk) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const TraceId shared = MakeId(42);
  constexpr int kThreads = 4;
  constexpr int kWritesPerThread = 50;
  std::vector<std::vector<TracesData>> datas(kThreads, std::vector<TracesData>(kWritesPerThread));
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kWritesPerThread; ++i) {
      AddResource(&datas[t][i], shared, "svc" + std::to_string(t), {{"op" + std::to_string(i)}});
    }
  }
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWritesPerThread; ++i) {
        const TraceWrite w = MakeWrite(shared, &datas[t][i]);
        absl::Status s = store->Write({&w, 1});
        if (!s.ok()) results[t] = s;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& r : results) EXPECT_TRUE(r.ok()) << r;
  auto got = store->GetTrace(shared);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->data.resource_spans_size(), kThreads * kWritesPerThread);
  EXPECT_EQ(store->Stats().spans_written, static_cast<uint64_t>(kThreads * kWritesPerThread));
  auto ops = store->GetOperations("svc3");
  ASSERT_TRUE(ops.ok());
  EXPECT_EQ(ops->size(), static_cast<size_t>(kWritesPerThread));
}

}  // namespace
}  // namespace tailtrace::storage
