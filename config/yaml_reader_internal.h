#pragma once

// The YAML side of the config parser: walking mappings with known keys, reading typed scalar
// values, and collecting "<source>:<line>: <dotted.key>: <problem>" errors. Not part of the public
// API; only the config library's .cc files include it (it pulls in yaml-cpp).
//
// Nothing here throws on bad input; yaml-cpp exceptions are caught once, in ParseConfig.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "config/config.h"
#include "yaml-cpp/yaml.h"

namespace tailtrace::config::internal {

// Collects the errors of one parse. Not thread-safe; one per ParseConfig call.
class ParseContext {
 public:
  ParseContext(std::string source, EnvLookup env);

  // Records "<source>:<line>: <key>: <what>". `line0` is 0-based as in YAML::Mark; a negative
  // line (unknown position) is left out, as is an empty key.
  void AddError(int line0, std::string_view key, std::string_view what);

  [[nodiscard]] bool ok() const { return errors_.empty(); }
  // OK when nothing was recorded; otherwise InvalidArgument with the errors in line order, one
  // per line of the message (at most kMaxReportedErrors of them).
  [[nodiscard]] absl::Status ToStatus() const;

  [[nodiscard]] const std::string& source() const { return source_; }
  [[nodiscard]] const EnvLookup& env() const { return env_; }

  static constexpr size_t kMaxReportedErrors = 20;

 private:
  std::string source_;
  EnvLookup env_;
  std::vector<std::pair<int, std::string>> errors_;  // (line0, full message)
};

// One `key: value` entry of a mapping.
struct Field {
  std::string path;  // full dotted key, e.g. "storage.retention" or "sampling.policies[0].name"
  YAML::Node key;
  YAML::Node value;

  // 0-based line to report for the value: the value's own line, or the key's when the value is
  // empty (yaml-cpp marks an empty value at the token after it, often on the next line).
  [[nodiscard]] int line() const;
  [[nodiscard]] int key_line() const;
};

// Reports an error about `field`'s value; when the value contained `${`, the message also shows
// the value as written, before expansion.
void ReportValueError(ParseContext& ctx, const Field& field, std::string_view what);

// Debian's Abseil has its own string_view: what absl::StrCat takes.
absl::string_view AbslView(std::string_view s);
// The node's 0-based line, or -1 when it is undefined.
int LineOf(const YAML::Node& node);
// "a mapping", "a list", "a scalar", "an empty value" or "nothing", for error messages.
std::string_view KindName(const YAML::Node& node);

// The scalar text of `field` after `${env:...}` expansion. On a mapping, a list, an empty value or
// a failed expansion it reports an error (using `expected`, e.g. "an integer") and returns nullopt.
[[nodiscard]] std::optional<std::string> ReadScalar(ParseContext& ctx, const Field& field,
                                                    std::string_view expected);

// Typed values. Each returns nullopt after reporting an error.
// true/false/yes/no/on/off, in lower case, Capitalized or UPPER case.
[[nodiscard]] std::optional<bool> ReadBool(ParseContext& ctx, const Field& field);
// A decimal integer in [min, max].
[[nodiscard]] std::optional<int64_t> ReadInt(ParseContext& ctx, const Field& field, int64_t min,
                                             int64_t max);
// ParseBytes syntax (a plain integer is bytes), in [min_bytes, max_bytes].
[[nodiscard]] std::optional<uint64_t> ReadBytes(ParseContext& ctx, const Field& field,
                                                uint64_t min_bytes, uint64_t max_bytes);
// ParseDuration syntax, at least min_ns.
[[nodiscard]] std::optional<int64_t> ReadDuration(ParseContext& ctx, const Field& field,
                                                  int64_t min_ns);
// Any non-empty string.
[[nodiscard]] std::optional<std::string> ReadNonEmptyString(ParseContext& ctx, const Field& field);
// "host:port" (see ParseHostPort).
[[nodiscard]] std::optional<std::string> ReadEndpoint(ParseContext& ctx, const Field& field);
// One of `allowed`.
[[nodiscard]] std::optional<std::string> ReadEnum(ParseContext& ctx, const Field& field,
                                                  const std::vector<std::string_view>& allowed);

struct HostPort {
  std::string host;  // without the brackets of an IPv6 address
  int port = 0;
};
// Splits "host:port", "[ipv6]:port"; the host must be non-empty and the port 0-65535. The error
// says what is wrong but not the key.
[[nodiscard]] absl::StatusOr<HostPort> ParseHostPort(std::string_view endpoint);

// A mapping with a fixed set of known keys. Read each known key with Take() (or a Read* helper,
// which leave the output untouched when the key is absent or invalid), then call
// ReportUnknownKeys() once: every key not asked for is an error naming its full dotted key and
// line, with a "did you mean" when a known key is close.
class MapReader {
 public:
  // `node` must be a mapping; an undefined or empty (null) node is read as an empty mapping, so
  // that `storage:` with nothing under it keeps the defaults. `path` is the dotted key of the
  // mapping ("" for the top level) and `line0` the line to report when it is not a mapping.
  MapReader(ParseContext& ctx, std::string path, const YAML::Node& node, int line0);

  // The entry for `key`, if present. Registers `key` as known.
  [[nodiscard]] std::optional<Field> Take(std::string_view key);

  // Take(key) + the Read* function of the same type; `*out` changes only on success.
  void Bool(std::string_view key, bool* out);
  template <typename T>
  void Int(std::string_view key, int64_t min, int64_t max, T* out) {
    if (std::optional<Field> f = Take(key)) {
      if (std::optional<int64_t> v = ReadInt(*ctx_, *f, min, max)) *out = static_cast<T>(*v);
    }
  }
  void Bytes(std::string_view key, uint64_t min_bytes, uint64_t max_bytes, uint64_t* out);
  void Duration(std::string_view key, int64_t min_ns, int64_t* out);
  void NonEmptyString(std::string_view key, std::string* out);
  void Enum(std::string_view key, const std::vector<std::string_view>& allowed, std::string* out);

  // The nested mapping under `key` (an empty one when the key is absent).
  [[nodiscard]] MapReader Map(std::string_view key);

  void ReportUnknownKeys();

  [[nodiscard]] std::string ChildPath(std::string_view key) const;
  [[nodiscard]] ParseContext& context() const { return *ctx_; }

 private:
  struct Entry {
    Field field;
    std::string name;
    bool taken = false;
  };

  ParseContext* ctx_;
  std::string path_;
  std::vector<Entry> entries_;
  std::vector<std::string> known_;
};

}  // namespace tailtrace::config::internal
