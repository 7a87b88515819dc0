#pragma once

// A fixture for contract tests that must hold for every store: the test runs with an
// InMemoryTraceStore, with a RocksTraceStore on a fresh directory (removed afterwards) and, where
// a suite instantiates it, with a ClickHouseTraceStore in a fresh database of the test's
// ClickHouse server. A test adjusts options_ (the RocksDB store's; the in-memory store takes its
// index options) in its constructor or before Reopen().

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "common/clock.h"
#include "gtest/gtest.h"
#include "storage/rocks/rocks_trace_store.h"
#include "storage/testing/in_memory_trace_store.h"
#include "tests/storage/clickhouse_test_store.h"

namespace tailtrace::storage::testing {

enum class StoreKind { kInMemory, kRocks, kClickHouse };

class BothStoresTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  // The store clock starts at `now_ns`.
  explicit BothStoresTest(int64_t now_ns) : clock_(now_ns) {
    options_.retention_check_interval_ms = 0;
    options_.write_buffer_bytes = 1 << 20;
    options_.min_free_disk_bytes = 1;
  }

  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           (std::string("tailtrace_") + info->test_suite_name() + "_" + info->name() + "_" +
            std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    options_.path = dir_.string();
    if (GetParam() == StoreKind::kClickHouse) {
      auto options = ClickHouseTestOptions(options_, TestDatabaseName());
      ASSERT_TRUE(options.ok()) << options.status();
      options_ = *std::move(options);
    }
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A new store: the in-memory one starts empty, the others open what they hold.
  void Reopen() {
    store_.reset();
    rocks_ = nullptr;
    if (GetParam() == StoreKind::kInMemory) {
      store_ = std::make_unique<InMemoryTraceStore>(options_.index);
      return;
    }
    if (GetParam() == StoreKind::kClickHouse) {
      auto opened = ClickHouseTraceStore::Open(options_, &clock_);
      ASSERT_TRUE(opened.ok()) << opened.status();
      store_ = std::move(*opened);
      return;
    }
    auto opened = RocksTraceStore::Open(options_, &clock_);
    ASSERT_TRUE(opened.ok()) << opened.status();
    rocks_ = opened->get();
    store_ = std::move(*opened);
  }

  std::filesystem::path dir_;
  StoreOptions options_;
  FakeClock clock_;
  std::unique_ptr<TraceStore> store_;
  RocksTraceStore* rocks_ = nullptr;  // store_ when it is a RocksTraceStore
};

inline std::string StoreKindName(const ::testing::TestParamInfo<StoreKind>& info) {
  switch (info.param) {
    case StoreKind::kInMemory:
      return "InMemory";
    case StoreKind::kRocks:
      return "Rocks";
    case StoreKind::kClickHouse:
      return "ClickHouse";
  }
  return "";
}

}  // namespace tailtrace::storage::testing
