// storage.backend and storage.clickhouse: the ClickHouse backend's keys, their defaults and the
// errors that name them.

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/options.h"
#include "tests/config/config_test_util.h"

namespace tailtrace::config {
namespace {

using storage::ClickHouseOptions;
using storage::StorageBackend;
using test_util::Error;
using test_util::FakeEnv;
using test_util::kH;
using test_util::kMs;
using test_util::kS;
using test_util::Parse;
using ::testing::HasSubstr;

// A config with `body` under storage.clickhouse (indented by four spaces), backend clickhouse.
std::string ClickHouse(const std::string& body) {
  return "storage:\n  backend: clickhouse\n  clickhouse:\n" + body;
}

void ExpectDefaults(const ClickHouseOptions& c) {
  EXPECT_EQ(c.endpoint, "http://127.0.0.1:8123");
  EXPECT_EQ(c.database, "tailtrace");
  EXPECT_EQ(c.username, "default");
  EXPECT_EQ(c.password, "");
  EXPECT_EQ(c.table_prefix, "");
  EXPECT_EQ(c.ttl_ns, 0);
  EXPECT_EQ(c.batch_size, 10'000u);
  EXPECT_EQ(c.flush_interval_ns, 1 * kS);
  EXPECT_EQ(c.timeout_ns, 30 * kS);
  EXPECT_EQ(c.tls.ca_file, "");
  EXPECT_EQ(c.tls.cert_file, "");
  EXPECT_EQ(c.tls.key_file, "");
  EXPECT_FALSE(c.tls.insecure_skip_verify);
  EXPECT_TRUE(c.create_schema);
  EXPECT_EQ(c.cluster, "");
}

TEST(ClickHouseConfigTest, DefaultsAreRocksDbAndTheDocumentedClickHouseValues) {
  EXPECT_EQ(DaemonConfig{}.storage.backend, StorageBackend::kRocksDb);
  ExpectDefaults(DaemonConfig{}.storage.clickhouse);
  const storage::StoreOptions parsed = Parse("").storage;
  EXPECT_EQ(parsed.backend, StorageBackend::kRocksDb);
  ExpectDefaults(parsed.clickhouse);
  EXPECT_EQ(Parse("storage:\n  backend: rocksdb\n").storage.backend, StorageBackend::kRocksDb);
  // The backend alone: every ClickHouse key keeps its default; an empty section too.
  const storage::StoreOptions alone = Parse("storage:\n  backend: clickhouse\n").storage;
  EXPECT_EQ(alone.backend, StorageBackend::kClickHouse);
  ExpectDefaults(alone.clickhouse);
  ExpectDefaults(Parse(ClickHouse("")).storage.clickhouse);
}

TEST(ClickHouseConfigTest, ReadsEveryKey) {
  const storage::StoreOptions s = Parse(R"(
storage:
  backend: clickhouse
  retention: 72h
  index: {exclude_keys: [user.email]}
  clickhouse:
    endpoint: https://clickhouse.example.com:8443/
    database: traces_db
    username: tailtrace
    password: s3cret
    table_prefix: tt_
    ttl: 720h
    batch_size: 5000
    flush_interval: 250ms
    timeout: 10s
    tls:
      ca_file: /etc/ssl/ca.pem
      cert_file: /etc/tls/client.crt
      key_file: /etc/tls/client.key
      insecure_skip_verify: true
    create_schema: false
    cluster: traces_cluster
    insert_quorum: 2
)")
                                      .storage;
  EXPECT_EQ(s.backend, StorageBackend::kClickHouse);
  EXPECT_EQ(s.retention_ns, 72 * kH);
  EXPECT_EQ(s.index.exclude_keys, std::vector<std::string>{"user.email"});
  const ClickHouseOptions& c = s.clickhouse;
  EXPECT_EQ(c.endpoint, "https://clickhouse.example.com:8443/");
  EXPECT_EQ(c.database, "traces_db");
  EXPECT_EQ(c.username, "tailtrace");
  EXPECT_EQ(c.password, "s3cret");
  EXPECT_EQ(c.table_prefix, "tt_");
  EXPECT_EQ(c.ttl_ns, 720 * kH);
  EXPECT_EQ(c.batch_size, 5000u);
  EXPECT_EQ(c.flush_interval_ns, 250 * kMs);
  EXPECT_EQ(c.timeout_ns, 10 * kS);
  EXPECT_EQ(c.tls.ca_file, "/etc/ssl/ca.pem");
  EXPECT_EQ(c.tls.cert_file, "/etc/tls/client.crt");
  EXPECT_EQ(c.tls.key_file, "/etc/tls/client.key");
  EXPECT_TRUE(c.tls.insecure_skip_verify);
  EXPECT_FALSE(c.create_schema);
  EXPECT_EQ(c.cluster, "traces_cluster");
  EXPECT_EQ(c.insert_quorum, 2u);
}

TEST(ClickHouseConfigTest, ZeroAndEmptyValuesWhereTheyMeanSomething) {
  const ClickHouseOptions c = Parse(ClickHouse("    endpoint: http://[::1]:8123\n"
                                               "    password: \"\"\n"
                                               "    table_prefix: \"\"\n"
                                               "    cluster: \"\"\n"
                                               "    insert_quorum: 0\n"
                                               "    ttl: 0s\n"
                                               "    flush_interval: 0s\n"
                                               "    batch_size: 1\n"
                                               "    tls: {}\n"))
                                  .storage.clickhouse;
  EXPECT_EQ(c.endpoint, "http://[::1]:8123");
  EXPECT_EQ(c.password, "");
  EXPECT_EQ(c.table_prefix, "");
  EXPECT_EQ(c.cluster, "");
  EXPECT_EQ(c.insert_quorum, 0u);
  EXPECT_EQ(c.ttl_ns, 0);
  EXPECT_EQ(c.flush_interval_ns, 0);
  EXPECT_EQ(c.batch_size, 1u);
  for (const std::string endpoint :
       {"http://localhost:8123", "http://localhost:8123/", "https://10.0.0.5:8443",
        "http://ch-1.internal:80", "https://[2001:db8::1]:8443/"}) {
    EXPECT_EQ(Parse(ClickHouse("    endpoint: \"" + endpoint + "\"\n")).storage.clickhouse.endpoint,
              endpoint);
  }
}

// The section is read and checked with the rocksdb backend too (as the parser treats the keys of
// anything switched off), so that one line switches backends.
TEST(ClickHouseConfigTest, TheSectionIsCheckedButUnusedWithRocksDb) {
  const storage::StoreOptions s =
      Parse("storage:\n  clickhouse:\n    database: other\n    batch_size: 10\n").storage;
  EXPECT_EQ(s.backend, StorageBackend::kRocksDb);
  EXPECT_EQ(s.clickhouse.database, "other");
  EXPECT_EQ(Error("storage:\n  backend: rocksdb\n  clickhouse:\n    batch_size: 0\n"),
            "test.yaml:4: storage.clickhouse.batch_size: must be at least 1, got 0");
  // With the store off, both are accepted (and unused) too.
  EXPECT_FALSE(Parse("storage: {enabled: false, backend: clickhouse, clickhouse: {ttl: 1h}}\n"
                     "exporters: {otlp: {endpoint: b:4317}}\n")
                   .storage_enabled);
}

TEST(ClickHouseConfigTest, ThePasswordAndOtherValuesExpandEnvironmentVariables) {
  const EnvLookup env = FakeEnv({{"CLICKHOUSE_PASSWORD", "pa$$ word}"}, {"CH_HOST", "ch-0"}});
  const ClickHouseOptions c = Parse(ClickHouse("    endpoint: http://${env:CH_HOST}:8123\n"
                                               "    password: ${env:CLICKHOUSE_PASSWORD}\n"
                                               "    username: ${env:CLICKHOUSE_USER:-default}\n"),
                                    env)
                                  .storage.clickhouse;
  EXPECT_EQ(c.endpoint, "http://ch-0:8123");
  EXPECT_EQ(c.password, "pa$$ word}");
  EXPECT_EQ(c.username, "default");
  EXPECT_EQ(Error(ClickHouse("    password: ${env:CLICKHOUSE_PASSWORD}\n")),
            "test.yaml:4: storage.clickhouse.password: environment variable CLICKHOUSE_PASSWORD "
            "is not set (write ${env:CLICKHOUSE_PASSWORD:-default} to give a default)");
  // The shell's ${NAME} is not the config's syntax: refused, not sent as the password.
  EXPECT_THAT(Error(ClickHouse("    password: ${CLICKHOUSE_PASSWORD}\n"), env),
              HasSubstr("test.yaml:4: storage.clickhouse.password: unsupported substitution "
                        "\"${CLICKHOUSE_PASSWORD}\""));
}

TEST(ClickHouseConfigTest, AnUnknownBackendListsTheKnownOnes) {
  EXPECT_EQ(Error("storage:\n  backend: postgres\n"),
            "test.yaml:2: storage.backend: expected one of rocksdb, clickhouse, got \"postgres\"");
  EXPECT_THAT(Error("storage:\n  backend: ClickHouse\n"),
              HasSubstr("storage.backend: expected one of rocksdb, clickhouse"));
}

TEST(ClickHouseConfigTest, TheEndpointMustBeHttpOrHttpsHostAndPort) {
  EXPECT_EQ(Error(ClickHouse("    endpoint: 127.0.0.1:8123\n")),
            "test.yaml:4: storage.clickhouse.endpoint: invalid endpoint \"127.0.0.1:8123\": "
            "expected http://host:port or https://host:port, e.g. \"http://127.0.0.1:8123\"");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"tcp://ch:9000", "unsupported scheme \"tcp\""},
      {"HTTP://ch:8123", "write the scheme in lower case: http:// or https://"},
      {"ch:8123/x", "expected http://host:port or https://host:port"},
      {"http://ch", "missing port"},
      {"https://[::1]", "missing port"},
      {"http://ch:8123/db", "no path allowed"},
      {"http://ch:8123//", "no path allowed"},
      {"http://ch:8123/?database=x", "no query or fragment allowed"},
      {"http://ch:8123?user=x", "no query or fragment allowed"},
      {"http://ch:8123#x", "no query or fragment allowed"},
      {"http://user:pw@ch:8123", "no credentials in the URL"},
      {"http://:8123", "missing host"},
      {"http://", "missing host"},
      {"http://ch:0", "port 0 cannot be dialled"},
      {"http://ch:99999", "the port must be a number from 0 to 65535"},
      {"http://ch:port", "the port must be a number from 0 to 65535"},
      {"http://::1:8123", "an IPv6 host must be written in brackets"},
  };
  for (const auto& [endpoint, problem] : cases) {
    const std::string error = Error(ClickHouse("    endpoint: \"" + endpoint + "\"\n"));
    EXPECT_THAT(error, HasSubstr("test.yaml:4: storage.clickhouse.endpoint: invalid endpoint \"" +
                                 endpoint + "\": " + problem))
        << endpoint;
  }
  EXPECT_EQ(Error(ClickHouse("    endpoint: \"\"\n")),
            "test.yaml:4: storage.clickhouse.endpoint: must not be empty");
}

TEST(ClickHouseConfigTest, NamesSplicedIntoSqlMustBeIdentifiers) {
  EXPECT_EQ(Error(ClickHouse("    database: my-db\n")),
            "test.yaml:4: storage.clickhouse.database: \"my-db\" is not a name ClickHouse "
            "accepts unquoted: letters, digits and _, not starting with a digit (it is spliced "
            "into SQL)");
  EXPECT_EQ(Error(ClickHouse("    database: \"\"\n")),
            "test.yaml:4: storage.clickhouse.database: must not be empty");
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"database", "1db"},
           {"database", "db; DROP TABLE x"},
           {"database", "`db`"},
           {"table_prefix", "tt-"},
           {"table_prefix", "9_"},
           {"table_prefix", "a.b"},
           {"cluster", "my cluster"},
           {"cluster", "c'1"},
       }) {
    EXPECT_THAT(Error(ClickHouse("    " + key + ": \"" + value + "\"\n")),
                HasSubstr("test.yaml:4: storage.clickhouse." + key + ": \"" + value +
                          "\" is not a name ClickHouse accepts unquoted"))
        << key << ": " << value;
  }
  // A quorum counts a shard's replicas: only replicated tables (cluster) have them.
  EXPECT_EQ(Error(ClickHouse("    insert_quorum: 2\n")),
            "test.yaml:4: storage.clickhouse.insert_quorum: needs storage.clickhouse.cluster: a "
            "quorum counts the replicas of a shard's replicated tables");
  EXPECT_THAT(Error(ClickHouse("    cluster: c1\n    insert_quorum: -1\n")),
              HasSubstr("test.yaml:5: storage.clickhouse.insert_quorum:"));
  EXPECT_THAT(Error(ClickHouse("    cluster:\n")),
              HasSubstr("storage.clickhouse.cluster: missing value (expected a string)"));
  EXPECT_THAT(Error(ClickHouse("    username: \"\"\n")),
              HasSubstr("storage.clickhouse.username: must not be empty"));
  EXPECT_THAT(Error(ClickHouse("    password: [a]\n")),
              HasSubstr("storage.clickhouse.password: expected a string, got a list"));
}

TEST(ClickHouseConfigTest, TlsNeedsAnHttpsEndpointAndBothClientFiles) {
  EXPECT_EQ(Error(ClickHouse("    tls:\n      ca_file: /ca.pem\n")),
            "test.yaml:5: storage.clickhouse.tls.ca_file: is set but the endpoint "
            "\"http://127.0.0.1:8123\" is http://, which never uses TLS; use an https:// "
            "endpoint or remove it");
  EXPECT_THAT(Error(ClickHouse("    endpoint: http://ch:8123\n"
                               "    tls: {insecure_skip_verify: true}\n")),
              HasSubstr("test.yaml:5: storage.clickhouse.tls.insecure_skip_verify: is set but "
                        "the endpoint \"http://ch:8123\" is http://"));
  EXPECT_THAT(Error(ClickHouse("    endpoint: http://ch:8123\n"
                               "    tls: {cert_file: /c, key_file: /k}\n")),
              HasSubstr("storage.clickhouse.tls.cert_file: is set but the endpoint"));
  // Settings that change nothing are accepted with http://.
  EXPECT_FALSE(Parse(ClickHouse("    tls: {insecure_skip_verify: false}\n"))
                   .storage.clickhouse.tls.insecure_skip_verify);
  EXPECT_EQ(Error(ClickHouse("    endpoint: https://ch:8443\n    tls:\n      cert_file: /c\n")),
            "test.yaml:6: storage.clickhouse.tls.key_file: cert_file and key_file must be set "
            "together");
  EXPECT_EQ(Error(ClickHouse("    endpoint: https://ch:8443\n    tls:\n      key_file: /k\n")),
            "test.yaml:6: storage.clickhouse.tls.cert_file: cert_file and key_file must be set "
            "together");
  EXPECT_THAT(Error(ClickHouse("    endpoint: https://ch:8443\n    tls: {ca_file: \"\"}\n")),
              HasSubstr("storage.clickhouse.tls.ca_file: must not be empty"));
  EXPECT_THAT(Error(ClickHouse("    endpoint: https://ch:8443\n    tls: {insecure: true}\n")),
              HasSubstr("storage.clickhouse.tls.insecure: unknown key"));
  EXPECT_THAT(Error(ClickHouse("    tls: /ca.pem\n")),
              HasSubstr("test.yaml:4: storage.clickhouse.tls: expected a mapping"));
}

TEST(ClickHouseConfigTest, NumbersAndDurationsOutOfRangeAreNamed) {
  for (const auto& [line, expected] : std::vector<std::pair<std::string, std::string>>{
           {"batch_size: 0", "storage.clickhouse.batch_size: must be at least 1, got 0"},
           {"batch_size: -5", "storage.clickhouse.batch_size: must be at least 1, got -5"},
           {"batch_size: 4294967296",
            "storage.clickhouse.batch_size: must be at most 4294967295, got 4294967296"},
           {"batch_size: lots", "storage.clickhouse.batch_size: expected an integer"},
           {"ttl: -1h", "storage.clickhouse.ttl: invalid duration \"-1h\": must not be negative"},
           {"ttl: 30", "storage.clickhouse.ttl: invalid duration \"30\": missing unit"},
           {"flush_interval: -1s",
            "storage.clickhouse.flush_interval: invalid duration \"-1s\": must not be negative"},
           {"timeout: 0s", "storage.clickhouse.timeout: must be greater than 0, got \"0s\""},
           {"timeout: -30s",
            "storage.clickhouse.timeout: invalid duration \"-30s\": must not be negative"},
           {"create_schema: maybe", "storage.clickhouse.create_schema: expected a boolean"},
       }) {
    EXPECT_THAT(Error(ClickHouse("    " + line + "\n")), HasSubstr("test.yaml:4: " + expected))
        << line;
  }
}

TEST(ClickHouseConfigTest, UnknownKeysAreRefused) {
  EXPECT_EQ(Error(ClickHouse("    databse: x\n")),
            "test.yaml:4: storage.clickhouse.databse: unknown key (did you mean \"database\"?)");
  EXPECT_THAT(Error(ClickHouse("    compression: lz4\n")),
              HasSubstr("test.yaml:4: storage.clickhouse.compression: unknown key (known keys: "
                        "endpoint, database, username, password, table_prefix, cluster, ttl, "
                        "batch_size, flush_interval, timeout, tls, create_schema, "
                        "insert_quorum)"));
  EXPECT_THAT(Error("storage:\n  backnd: clickhouse\n"),
              HasSubstr("storage.backnd: unknown key (did you mean \"backend\"?)"));
  EXPECT_THAT(Error("storage:\n  clickhouse: http://ch:8123\n"),
              HasSubstr("test.yaml:2: storage.clickhouse: expected a mapping"));
}

// config/tailtrace.yaml lists the ClickHouse keys with their defaults (it parses to the defaults).
TEST(ClickHouseConfigTest, ShippedConfigFileHasTheClickHouseDefaults) {
  const char* source_dir = std::getenv("TAILTRACE_SOURCE_DIR");
  const std::string root = source_dir != nullptr ? source_dir : TAILTRACE_SOURCE_DIR_FALLBACK;
  std::ifstream in(root + "/config/tailtrace.yaml");
  std::stringstream file;
  file << in.rdbuf();
  ASSERT_THAT(file.str(), HasSubstr("  clickhouse:\n"));
  const storage::StoreOptions s = Parse(file.str()).storage;
  EXPECT_EQ(s.backend, StorageBackend::kRocksDb);
  ExpectDefaults(s.clickhouse);
}

}  // namespace
}  // namespace tailtrace::config
