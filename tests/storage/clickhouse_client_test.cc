// ClickHouseClient against a real clickhouse-server (clickhouse_server.h): results, INSERT with
// RowBinary data, every kind of error, a server that goes away and comes back, and many threads.

#include "clickhouse_client.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/storage/clickhouse_server.h"

namespace tailtrace::storage::clickhouse {
namespace {

using testing::ClickHouseServer;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr int64_t kSecondNs = 1'000'000'000;

class ClickHouseClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<ClickHouseServer*> server = ClickHouseServer::Shared();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *server;
    // A test that stopped the server and failed before restarting it.
    ASSERT_TRUE(server_->Start().ok());
  }

  ClickHouseOptions Options() const {
    ClickHouseOptions options;
    options.endpoint = server_->endpoint();
    options.timeout_ns = 10 * kSecondNs;
    return options;
  }

  std::unique_ptr<ClickHouseClient> Client(const ClickHouseOptions& options, int max_idle = 4) {
    absl::StatusOr<std::unique_ptr<ClickHouseClient>> client =
        ClickHouseClient::Create(options, max_idle);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }
  std::unique_ptr<ClickHouseClient> Client() { return Client(Options()); }

  // Runs `statement`, which must succeed, and returns its output.
  static std::string Run(ClickHouseClient& client, std::string_view statement) {
    absl::StatusOr<std::string> out = client.Execute(statement);
    EXPECT_TRUE(out.ok()) << statement << ": " << out.status();
    return out.ok() ? *out : "";
  }

  ClickHouseServer* server_ = nullptr;
};

// RowBinary: UInt64 little-endian, String as a LEB128 length and the bytes.
void AppendUInt64(std::string* out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(value >> (8 * i)));
}
void AppendString(std::string* out, std::string_view value) {
  uint64_t size = value.size();
  do {
    out->push_back(static_cast<char>((size & 0x7f) | (size > 0x7f ? 0x80 : 0)));
    size >>= 7;
  } while (size != 0);
  out->append(value);
}

TEST_F(ClickHouseClientTest, SelectReturnsTheOutputInItsFormat) {
  auto client = Client();
  EXPECT_EQ(Run(*client, "SELECT 1 + 1, 'a b' FORMAT TabSeparated"), "2\ta b\n");
  EXPECT_EQ(Run(*client, "SELECT number FROM system.numbers LIMIT 3 FORMAT CSV"), "0\n1\n2\n");
  EXPECT_EQ(Run(*client, "CREATE DATABASE IF NOT EXISTS select_test"), "");
}

TEST_F(ClickHouseClientTest, ALargeStatementAndALargeResult) {
  auto client = Client();
  // Over the gzip threshold as a request body.
  EXPECT_EQ(Run(*client, absl::StrCat("SELECT length('", std::string(20'000, 'x'), "')")),
            "20000\n");
  // Over http_client's default 1 MiB answer.
  const std::string numbers =
      Run(*client, "SELECT toString(number) FROM system.numbers LIMIT 1000000");
  EXPECT_EQ(numbers.size(), 6'888'890u);
  EXPECT_TRUE(numbers.ends_with("\n999999\n"));
}

TEST_F(ClickHouseClientTest, InsertsRowBinaryDataSmallAndGzipped) {
  auto client = Client();
  Run(*client, "CREATE DATABASE IF NOT EXISTS insert_test");
  Run(*client, "DROP TABLE IF EXISTS insert_test.rows");
  Run(*client, "CREATE TABLE insert_test.rows (id UInt64, name String) ENGINE = Memory");
  // The first bytes are a line feed and a space: they are data, not the statement's end.
  std::string small;
  AppendUInt64(&small, 10);
  AppendString(&small, " leading space");
  std::string large;
  std::string expected = "10\t leading space\n";
  for (uint64_t id = 32; id < 1032; ++id) {
    AppendUInt64(&large, id);
    AppendString(&large, absl::StrCat("name-", id));
    absl::StrAppend(&expected, id, "\tname-", id, "\n");
  }
  ASSERT_GT(large.size(), 8u << 10);
  // A statement's trailing line feed is not taken for data.
  for (const std::string& data : {small, large}) {
    absl::StatusOr<std::string> out =
        client->Execute("INSERT INTO insert_test.rows FORMAT RowBinary\n", data);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, "");
  }
  EXPECT_EQ(Run(*client, "SELECT id, name FROM insert_test.rows ORDER BY id FORMAT TabSeparated"),
            expected);
}

TEST_F(ClickHouseClientTest, SyntaxErrorIsInvalidArgumentWithClickHousesMessage) {
  auto client = Client();
  absl::StatusOr<std::string> out = client->Execute("SELEC 1");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << out.status();
  EXPECT_EQ(ClickHouseClient::ErrorCode(out.status()), 62);
  EXPECT_THAT(
      std::string(out.status().message()),
      StartsWith(absl::StrCat("ClickHouse at 127.0.0.1:", server_->http_port(), ": HTTP ")));
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("Code: 62"));
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("Syntax error"));
  // ClickHouse's long message, cut to a few hundred bytes on one line.
  EXPECT_LT(out.status().message().size(), 600u);
  EXPECT_EQ(out.status().message().find('\n'), std::string::npos);
}

TEST_F(ClickHouseClientTest, UnknownTableAndDatabaseAreInvalidArgument) {
  auto client = Client();
  absl::StatusOr<std::string> out = client->Execute("SELECT * FROM no_such_table");
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << out.status();
  EXPECT_EQ(ClickHouseClient::ErrorCode(out.status()), 60);
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("no_such_table"));
  out = client->Execute("SELECT 1", {}, {}, "no_such_database");
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << out.status();
  EXPECT_EQ(ClickHouseClient::ErrorCode(out.status()), 81);
}

TEST_F(ClickHouseClientTest, TheDatabaseAndSettingsGoWithTheRequest) {
  auto client = Client();
  Run(*client, "CREATE DATABASE IF NOT EXISTS db_test");
  Run(*client, "CREATE TABLE IF NOT EXISTS db_test.only_here (x UInt8) ENGINE = Memory");
  absl::StatusOr<std::string> out =
      client->Execute("SELECT currentDatabase(), count() FROM only_here", {}, {}, "db_test");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "db_test\t0\n");
  EXPECT_EQ(Run(*client, "SELECT currentDatabase()"), "default\n");
  out = client->Execute("SELECT value FROM system.settings WHERE name = 'max_result_rows'", {},
                        {{"max_result_rows", "7"}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "7\n");
  // A setting's value is URL-encoded.
  out = client->Execute("SELECT value FROM system.settings WHERE name = 'format_csv_delimiter'", {},
                        {{"format_csv_delimiter", "&"}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "&\n");
}

TEST_F(ClickHouseClientTest, TransientServerErrorsAreUnavailable) {
  auto client = Client();
  // (Bounded, so that the server does not run it on after its answer.)
  absl::StatusOr<std::string> out =
      client->Execute("SELECT count() FROM (SELECT number FROM system.numbers LIMIT 100000000000)",
                      {}, {{"max_execution_time", "1"}});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kUnavailable) << out.status();
  EXPECT_EQ(ClickHouseClient::ErrorCode(out.status()), 159);  // TIMEOUT_EXCEEDED
  out = client->Execute(
      "SELECT groupArray(number) FROM (SELECT number FROM system.numbers LIMIT "
      "10000000)",
      {}, {{"max_memory_usage", "10000000"}});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kUnavailable) << out.status();
  EXPECT_EQ(ClickHouseClient::ErrorCode(out.status()), 241);  // MEMORY_LIMIT_EXCEEDED
}

TEST_F(ClickHouseClientTest, CredentialsGoAsBasicAuthentication) {
  ClickHouseOptions options = Options();
  options.username = ClickHouseServer::kUser;
  options.password = ClickHouseServer::kPassword;
  EXPECT_EQ(Run(*Client(options), "SELECT user FROM system.processes WHERE query LIKE '%whoami%'"),
            "tailtrace\n");

  options.password = "wrong";
  absl::StatusOr<std::string> out = Client(options)->Execute("SELECT 1");
  EXPECT_EQ(out.status().code(), absl::StatusCode::kPermissionDenied) << out.status();
  EXPECT_EQ(ClickHouseClient::ErrorCode(out.status()), 193);  // WRONG_PASSWORD

  options.username = "nobody";
  out = Client(options)->Execute("SELECT 1");
  EXPECT_EQ(out.status().code(), absl::StatusCode::kPermissionDenied) << out.status();
  EXPECT_EQ(ClickHouseClient::ErrorCode(out.status()), 192);  // UNKNOWN_USER
}

TEST_F(ClickHouseClientTest, ATimeoutIsUnavailableAndTheNextCallWorks) {
  ClickHouseOptions options = Options();
  options.timeout_ns = kSecondNs / 5;
  auto client = Client(options);
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::string> out = client->Execute("SELECT sleep(2)");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
  EXPECT_EQ(out.status().code(), absl::StatusCode::kUnavailable) << out.status();
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("timed out"));
  EXPECT_EQ(Run(*client, "SELECT 1"), "1\n");
}

TEST_F(ClickHouseClientTest, AServerThatRestartedOrIsDownMeanwhile) {
  auto client = Client();
  EXPECT_EQ(Run(*client, "SELECT 1"), "1\n");
  // The kept-alive connection died with the server: the call goes again on a new one.
  server_->Stop();
  ASSERT_TRUE(server_->Start().ok());
  EXPECT_EQ(Run(*client, "SELECT 2"), "2\n");

  server_->Stop();
  absl::StatusOr<std::string> out = client->Execute("SELECT 3");
  EXPECT_EQ(out.status().code(), absl::StatusCode::kUnavailable) << out.status();
  EXPECT_THAT(std::string(out.status().message()),
              HasSubstr(absl::StrCat("connecting 127.0.0.1:", server_->http_port())));
  EXPECT_EQ(ClickHouseClient::ErrorCode(out.status()), 0);
  ASSERT_TRUE(server_->Start().ok());
  EXPECT_EQ(Run(*client, "SELECT 4"), "4\n");
}

TEST_F(ClickHouseClientTest, ConcurrentCallsFromManyThreads) {
  auto client = Client(Options(), /*max_idle=*/2);
  constexpr int kThreads = 8;
  constexpr int kCalls = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        const int n = t * 1000 + i;
        absl::StatusOr<std::string> out = client->Execute(absl::StrCat("SELECT ", n));
        if (!out.ok() || *out != absl::StrCat(n, "\n")) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(ClickHouseClientCreateTest, ABadEndpointOrTlsFileIsNamed) {
  ClickHouseOptions options;
  for (const char* endpoint : {"127.0.0.1:8123", "ftp://h:1", "http://h", "http://h:0",
                               "http://h:8123/db", "http://u:p@h:8123", "http://::1:8123"}) {
    options.endpoint = endpoint;
    absl::StatusOr<std::unique_ptr<ClickHouseClient>> client = ClickHouseClient::Create(options);
    ASSERT_FALSE(client.ok()) << endpoint;
    EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(client.status().message()),
                StartsWith(absl::StrCat("storage.clickhouse.endpoint: \"", endpoint, "\": ")));
  }
  for (const char* endpoint : {"http://h:8123", "http://h:8123/", "https://[::1]:8443"}) {
    options.endpoint = endpoint;
    EXPECT_TRUE(ClickHouseClient::Create(options).ok()) << endpoint;
  }
  options.endpoint = "https://h:8443";
  options.tls.ca_file = "/no/such/ca.pem";
  absl::StatusOr<std::unique_ptr<ClickHouseClient>> client = ClickHouseClient::Create(options);
  EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(client.status().message()),
              StartsWith("storage.clickhouse.tls.ca_file: cannot load \"/no/such/ca.pem\""));
  // TLS settings are not used with http://.
  options.endpoint = "http://h:8123";
  EXPECT_TRUE(ClickHouseClient::Create(options).ok());
}

TEST(ClickHouseClientCreateTest, ErrorCodeReadsTheNumberAfterCode) {
  EXPECT_EQ(ClickHouseClient::ErrorCode(absl::OkStatus()), 0);
  EXPECT_EQ(ClickHouseClient::ErrorCode(absl::UnavailableError("connecting: refused")), 0);
  EXPECT_EQ(ClickHouseClient::ErrorCode(absl::InvalidArgumentError(
                "ClickHouse at h:1: HTTP 404 Not Found: Code: 60. DB::Exception: ...")),
            60);
}

}  // namespace
}  // namespace tailtrace::storage::clickhouse
