// The ClickHouse backend's rows (storage/clickhouse/clickhouse_rows.h, row_binary.h): RowBinary
// reads back what it wrote and refuses what is cut short, and a trace rebuilt from its rows is
// the trace written, each write's resources and scopes as they were, copies of a retried INSERT
// read once.

#include "clickhouse_rows.h"

#include <string>

#include "gtest/gtest.h"
#include "row_binary.h"
#include "tests/storage/trace_builder.h"

namespace tailtrace::storage::clickhouse {
namespace {

using opentelemetry::proto::trace::v1::TracesData;
using testing::BuildChunk;
using testing::MakeTraceId;

TEST(RowBinaryTest, ReadsBackWhatItWroteAndRefusesATruncatedRow) {
  std::string out;
  RowBinaryWriter w(&out);
  w.UInt16(19700);
  w.String(std::string(300, 'x'));  // a two-byte length
  w.FixedString("0123456789abcdef");
  w.Int64(-5);
  w.Float64(0.25);
  RowBinaryReader in(out);
  uint16_t day = 0;
  std::string_view s, fixed;
  int64_t i = 0;
  double d = 0;
  ASSERT_TRUE(in.Fixed(&day) && in.String(&s) && in.FixedString(16, &fixed) && in.Fixed(&i) &&
              in.Fixed(&d));
  EXPECT_TRUE(in.done());
  EXPECT_EQ(day, 19700);
  EXPECT_EQ(s, std::string(300, 'x'));
  EXPECT_EQ(fixed, "0123456789abcdef");
  EXPECT_EQ(i, -5);
  EXPECT_EQ(d, 0.25);
  RowBinaryReader cut(std::string_view(out).substr(0, 100));
  EXPECT_TRUE(cut.Fixed(&day));
  EXPECT_FALSE(cut.String(&s));
  EXPECT_FALSE(cut.ok());
  EXPECT_FALSE(cut.done());
}

TEST(TraceAssemblerTest, RebuildsEachWriteAsWrittenAndReadsARetriedCopyOnce) {
  const TraceId id = MakeTraceId(0, 1);
  const TracesData first = BuildChunk(id, {{.service = "a", .span_id = 1},
                                           {.service = "b", .span_id = 2},
                                           {.service = "a", .span_id = 3}});
  const TracesData second = BuildChunk(id, {{.service = "a", .span_id = 4}});
  // The rows as `spans` holds them: (write_id, ordinal, rs, ss, resource, scope, span).
  std::vector<TraceAssembler::Row> rows;
  std::vector<std::string> keep;
  keep.reserve(64);
  auto add = [&](uint64_t write_id, const TracesData& data) {
    uint32_t ordinal = 0;
    for (int r = 0; r < data.resource_spans_size(); ++r) {
      auto head = data.resource_spans(r);
      head.clear_scope_spans();
      const std::string& resource = keep.emplace_back(head.SerializeAsString());
      for (int s = 0; s < data.resource_spans(r).scope_spans_size(); ++s) {
        auto scope_head = data.resource_spans(r).scope_spans(s);
        scope_head.clear_spans();
        const std::string& scope = keep.emplace_back(scope_head.SerializeAsString());
        for (const auto& span : data.resource_spans(r).scope_spans(s).spans()) {
          const std::string& bytes = keep.emplace_back(span.SerializeAsString());
          rows.push_back({write_id, ordinal++, static_cast<uint32_t>(r), static_cast<uint32_t>(s),
                          resource, scope, bytes});
        }
      }
    }
  };
  add(7, first);
  add(7, first);  // an INSERT retried after it had succeeded: the same rows again
  add(9, second);
  std::stable_sort(rows.begin(), rows.end(), [](const auto& x, const auto& y) {
    return std::tie(x.write_id, x.ordinal) < std::tie(y.write_id, y.ordinal);
  });
  TraceAssembler assembler;
  for (const auto& row : rows) ASSERT_TRUE(assembler.Add(row).ok());
  TracesData want = first;
  for (const auto& rs : second.resource_spans()) *want.add_resource_spans() = rs;
  EXPECT_EQ(assembler.spans(), 4u);
  EXPECT_EQ(assembler.data().SerializeAsString(), want.SerializeAsString());
}

TEST(PartitionIdTest, IsTheDaysDateAsClickHouseNamesDatePartitions) {
  EXPECT_EQ(PartitionIdOf(0), "19700101");
  EXPECT_EQ(PartitionIdOf(DayOf(1'700'000'000'000'000'000)), "20231114");
  EXPECT_EQ(PartitionIdOf(20794), "20261207");
}

TEST(TraceAssemblerTest, BytesThatDoNotParseAreDataLoss) {
  TraceAssembler assembler;
  const absl::Status s = assembler.Add({1, 0, 0, 0, "", "", "\xff\xff\xff"});
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace tailtrace::storage::clickhouse
