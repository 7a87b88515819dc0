// The wal keys of the config file: the write-ahead log behind durable acknowledgements.

#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tailtrace::config {
namespace {

using ::testing::HasSubstr;

const EnvLookup kNoEnv = [](std::string_view) -> std::optional<std::string> {
  return std::nullopt;
};

DaemonConfig Parse(std::string_view yaml) {
  absl::StatusOr<DaemonConfig> c = ParseConfig(yaml, "test.yaml", kNoEnv);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : DaemonConfig{};
}

TEST(WalConfigTest, OnByDefaultUnderTheStorePathWithoutFsync) {
  const DaemonConfig d = Parse("");
  EXPECT_EQ(d.sampling.durability.wal_dir, "./data/wal");
  EXPECT_FALSE(d.sampling.durability.fsync);
  EXPECT_FALSE(d.storage.sync_writes);
  EXPECT_EQ(d.sampling.durability.segment_bytes, 64u << 20);
  EXPECT_TRUE(d.sampling.durability.compress) << "compression: lz4";
  // Without --config the daemon runs Defaults(): the same, log included.
  EXPECT_EQ(Defaults().sampling.durability.wal_dir, "./data/wal");
  EXPECT_EQ(Defaults().storage.path, d.storage.path);
  EXPECT_EQ(Parse("storage: {path: /var/lib/tailtrace}\n").sampling.durability.wal_dir,
            "/var/lib/tailtrace/wal");
}

TEST(WalConfigTest, ReadsEveryKeyAndFsyncAlsoSyncsTheStore) {
  const DaemonConfig c = Parse(
      "wal:\n  enabled: true\n  path: /fast/wal\n  fsync: true\n  segment_size: 8MiB\n"
      "  compression: none\n");
  EXPECT_EQ(c.sampling.durability.wal_dir, "/fast/wal");
  EXPECT_TRUE(c.sampling.durability.fsync);
  EXPECT_TRUE(c.storage.sync_writes);
  EXPECT_EQ(c.sampling.durability.segment_bytes, 8u << 20);
  EXPECT_FALSE(c.sampling.durability.compress);
  EXPECT_TRUE(Parse("wal: {compression: lz4}\n").sampling.durability.compress);
}

TEST(WalConfigTest, DisabledMeansNoLogAndNoSync) {
  const DaemonConfig c = Parse("wal: {enabled: false, fsync: true}\n");
  EXPECT_EQ(c.sampling.durability.wal_dir, "");
  EXPECT_FALSE(c.sampling.durability.fsync);
  EXPECT_FALSE(c.storage.sync_writes);
}

TEST(WalConfigTest, TheReceiversLimitsApplyToReplayedRequests) {
  const DaemonConfig c = Parse("limits: {max_attributes_per_span: 7}\n");
  EXPECT_EQ(c.sampling.span_limits.max_attributes_per_span, 7u);
}

TEST(WalConfigTest, BadValuesAreNamed) {
  for (const auto& [yaml, expected] : std::vector<std::pair<std::string, std::string>>{
           {"wal: {fsync: sometimes}\n", "wal.fsync"},
           {"wal: {path: \"\"}\n", "wal.path"},
           {"wal: {segment_size: 1KiB}\n", "wal.segment_size"},
           {"wal: {sync: true}\n", "wal.sync"},
           {"wal: {compression: zstd}\n", "wal.compression"},
       }) {
    absl::StatusOr<DaemonConfig> c = ParseConfig(yaml, "test.yaml", kNoEnv);
    ASSERT_FALSE(c.ok()) << yaml;
    EXPECT_THAT(std::string(c.status().message()), HasSubstr(expected)) << yaml;
  }
}

}  // namespace
}  // namespace tailtrace::config
