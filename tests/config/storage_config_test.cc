// The storage keys of the config file that search and retention added: retention_buckets,
// max_disk_bytes, index.max_value_length and index.exclude_keys.

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tailtrace::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const EnvLookup kNoEnv = [](std::string_view) -> std::optional<std::string> {
  return std::nullopt;
};

DaemonConfig Parse(std::string_view yaml, const EnvLookup& env = kNoEnv) {
  absl::StatusOr<DaemonConfig> config = ParseConfig(yaml, "test.yaml", env);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : DaemonConfig{};
}

std::string Error(std::string_view yaml) {
  absl::StatusOr<DaemonConfig> config = ParseConfig(yaml, "test.yaml", kNoEnv);
  EXPECT_FALSE(config.ok()) << "accepted:\n" << yaml;
  if (config.ok()) return "";
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(config.status().message());
}

TEST(StorageConfigTest, DefaultsMatchTheDocumentedValues) {
  const storage::StoreOptions d = DaemonConfig{}.storage;
  EXPECT_EQ(d.retention_buckets, 7);
  EXPECT_EQ(d.max_disk_bytes, 0u);
  EXPECT_EQ(d.index.max_value_length, 256u);
  EXPECT_THAT(d.index.exclude_keys, IsEmpty());
  const storage::StoreOptions parsed = Parse("").storage;
  EXPECT_EQ(parsed.retention_buckets, 7);
  EXPECT_EQ(parsed.index.max_value_length, 256u);
}

TEST(StorageConfigTest, EveryNewKeyIsRead) {
  const storage::StoreOptions s = Parse(R"(
storage:
  retention: 24h
  retention_buckets: 24
  max_disk_bytes: 10GiB
  index:
    max_value_length: 64
    exclude_keys: [http.url, "user.email"]
)")
                                      .storage;
  EXPECT_EQ(s.retention_ns, 24ll * 3600 * 1'000'000'000);
  EXPECT_EQ(s.retention_buckets, 24);
  EXPECT_EQ(s.max_disk_bytes, 10ull << 30);
  EXPECT_EQ(s.index.max_value_length, 64u);
  EXPECT_THAT(s.index.exclude_keys, ElementsAre("http.url", "user.email"));
}

TEST(StorageConfigTest, BlockListsEmptyValuesAndEnvironmentVariablesWork) {
  storage::StoreOptions s =
      Parse("storage:\n  index:\n    exclude_keys:\n      - a\n      - b\n").storage;
  EXPECT_THAT(s.index.exclude_keys, ElementsAre("a", "b"));
  s = Parse("storage:\n  index:\n    exclude_keys:\n").storage;
  EXPECT_THAT(s.index.exclude_keys, IsEmpty());
  s = Parse("storage:\n  index:\n").storage;
  EXPECT_EQ(s.index.max_value_length, 256u);
  const EnvLookup env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "SECRET_KEY") return std::string("password");
    return std::nullopt;
  };
  s = Parse("storage:\n  index:\n    exclude_keys: [\"${env:SECRET_KEY}\"]\n", env).storage;
  EXPECT_THAT(s.index.exclude_keys, ElementsAre("password"));
  s = Parse("storage:\n  max_disk_bytes: 0\n").storage;
  EXPECT_EQ(s.max_disk_bytes, 0u);
}

TEST(StorageConfigTest, BadValuesNameTheKeyAndLine) {
  EXPECT_EQ(Error("storage:\n  retention_buckets: 0\n"),
            "test.yaml:2: storage.retention_buckets: must be at least 1, got 0");
  EXPECT_THAT(Error("storage:\n  retention_buckets: 1001\n"),
              HasSubstr("test.yaml:2: storage.retention_buckets: must be at most 1000"));
  EXPECT_THAT(Error("storage:\n  max_disk_bytes: lots\n"),
              HasSubstr("test.yaml:2: storage.max_disk_bytes: invalid size \"lots\""));
  EXPECT_THAT(Error("storage:\n  index:\n    max_value_length: 0\n"),
              HasSubstr("test.yaml:3: storage.index.max_value_length: must be at least 1"));
  EXPECT_EQ(Error("storage:\n  index:\n    exclude_keys: http.url\n"),
            "test.yaml:3: storage.index.exclude_keys: expected a list of attribute keys, e.g. "
            "[http.url, user.email]");
  EXPECT_EQ(Error("storage:\n  index:\n    exclude_keys: [a, \"\"]\n"),
            "test.yaml:3: storage.index.exclude_keys[1]: must not be empty");
  EXPECT_THAT(Error("storage:\n  index:\n    exclude_keys: [a, [b]]\n"),
              HasSubstr("test.yaml:3: storage.index.exclude_keys[1]: expected a string"));
  EXPECT_EQ(Error("storage:\n  index:\n    max_value_lenght: 5\n"),
            "test.yaml:3: storage.index.max_value_lenght: unknown key (did you mean "
            "\"max_value_length\"?)");
  EXPECT_THAT(Error("storage:\n  index: 5\n"),
              HasSubstr("test.yaml:2: storage.index: expected a mapping"));
}

// The shipped config/tailtrace.yaml holds the new storage keys with their default values.
TEST(StorageConfigTest, ShippedConfigFileHasTheStorageDefaults) {
  const char* source_dir = std::getenv("TAILTRACE_SOURCE_DIR");
  const std::string root = source_dir != nullptr ? source_dir : TAILTRACE_SOURCE_DIR_FALLBACK;
  const std::string path = root + "/config/tailtrace.yaml";
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  absl::StatusOr<DaemonConfig> c = LoadConfigFile(path, kNoEnv);
  ASSERT_TRUE(c.ok()) << c.status();
  const storage::StoreOptions want = DaemonConfig{}.storage;
  EXPECT_EQ(c->storage.retention_ns, want.retention_ns);
  EXPECT_EQ(c->storage.retention_buckets, want.retention_buckets);
  EXPECT_EQ(c->storage.max_disk_bytes, want.max_disk_bytes);
  EXPECT_EQ(c->storage.index.max_value_length, want.index.max_value_length);
  EXPECT_EQ(c->storage.index.exclude_keys, want.index.exclude_keys);
}

}  // namespace
}  // namespace tailtrace::config
