#pragma once

// A ClickHouseTraceStore for tests: on the test process's ClickHouse server
// (clickhouse_server.h), in a database of its own that starts empty.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "clickhouse_client.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "storage/clickhouse/clickhouse_trace_store.h"
#include "tests/storage/clickhouse_server.h"

namespace tailtrace::storage::testing {

// A database name for the current test: "t_" and its name's letters and digits.
inline std::string TestDatabaseName() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = "t_";
  for (char c : std::string(info->test_suite_name()) + "_" + info->name()) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    name.push_back(alnum ? c : '_');
  }
  return name;
}

// `options` pointed at the test server's database `database`, which is dropped first. Writes are
// not batched (flush_interval 0), retention runs only when a test enforces it.
inline absl::StatusOr<StoreOptions> ClickHouseTestOptions(StoreOptions options,
                                                          const std::string& database) {
  absl::StatusOr<ClickHouseServer*> server = ClickHouseServer::Shared();
  if (!server.ok()) return server.status();
  options.backend = StorageBackend::kClickHouse;
  options.clickhouse.endpoint = (*server)->endpoint();
  options.clickhouse.database = database;
  options.clickhouse.flush_interval_ns = 0;
  options.retention_check_interval_ms = 0;
  auto client = clickhouse::ClickHouseClient::Create(options.clickhouse);
  if (!client.ok()) return client.status();
  absl::StatusOr<std::string> dropped =
      (*client)->Execute(absl::StrCat("DROP DATABASE IF EXISTS ", database));
  if (!dropped.ok()) return dropped.status();
  return options;
}

}  // namespace tailtrace::storage::testing
