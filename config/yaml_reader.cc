#include <algorithm>
#include <charconv>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "env_expand_internal.h"
#include "units_internal.h"
#include "yaml_reader_internal.h"

namespace tailtrace::config::internal {
namespace {

// Levenshtein distance, for "did you mean".
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitute = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, substitute});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string MessageOf(const absl::Status& status) { return std::string(status.message()); }

std::string Quote(std::string_view s) { return absl::StrCat("\"", AbslView(s), "\""); }

}  // namespace

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

int LineOf(const YAML::Node& node) { return node.IsDefined() ? node.Mark().line : -1; }

std::string_view KindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "an empty value";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

// ---------------------------------------------------------------------------------------------
// ParseContext

ParseContext::ParseContext(std::string source, EnvLookup env)
    : source_(std::move(source)), env_(std::move(env)) {}

void ParseContext::AddError(int line0, std::string_view key, std::string_view what) {
  std::string message = source_;
  if (line0 >= 0) absl::StrAppend(&message, ":", line0 + 1);
  absl::StrAppend(&message, ": ");
  if (!key.empty()) absl::StrAppend(&message, AbslView(key), ": ");
  absl::StrAppend(&message, AbslView(what));
  errors_.emplace_back(line0, std::move(message));
}

absl::Status ParseContext::ToStatus() const {
  if (errors_.empty()) return absl::OkStatus();
  std::vector<std::pair<int, std::string>> sorted = errors_;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> lines;
  for (size_t i = 0; i < sorted.size() && i < kMaxReportedErrors; ++i) {
    lines.push_back(sorted[i].second);
  }
  if (sorted.size() > kMaxReportedErrors) {
    lines.push_back(absl::StrCat("... and ", sorted.size() - kMaxReportedErrors, " more errors"));
  }
  return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
}

// ---------------------------------------------------------------------------------------------
// Field and typed values

int Field::line() const {
  if (value.IsDefined() && !value.IsNull()) return LineOf(value);
  return LineOf(key);
}

int Field::key_line() const { return LineOf(key); }

void ReportValueError(ParseContext& ctx, const Field& field, std::string_view what) {
  std::string message(what);
  if (field.value.IsScalar() && field.value.Scalar().find("${") != std::string::npos) {
    absl::StrAppend(&message, " (value as written: ", Quote(field.value.Scalar()), ")");
  }
  ctx.AddError(field.line(), field.path, message);
}

std::optional<std::string> ReadScalar(ParseContext& ctx, const Field& field,
                                      std::string_view expected) {
  if (!field.value.IsScalar()) {
    ctx.AddError(field.line(), field.path,
                 field.value.IsNull()
                     ? absl::StrCat("missing value (expected ", AbslView(expected), ")")
                     : absl::StrCat("expected ", AbslView(expected), ", got ",
                                    AbslView(KindName(field.value))));
    return std::nullopt;
  }
  absl::StatusOr<std::string> expanded = ExpandEnv(field.value.Scalar(), ctx.env());
  if (!expanded.ok()) {
    ctx.AddError(field.line(), field.path, MessageOf(expanded.status()));
    return std::nullopt;
  }
  return *std::move(expanded);
}

std::optional<bool> ReadBool(ParseContext& ctx, const Field& field) {
  std::optional<std::string> text = ReadScalar(ctx, field, "a boolean (true or false)");
  if (!text) return std::nullopt;
  static constexpr std::string_view kTrue[] = {"true", "True", "TRUE", "yes", "Yes",
                                               "YES",  "on",   "On",   "ON"};
  static constexpr std::string_view kFalse[] = {"false", "False", "FALSE", "no", "No",
                                                "NO",    "off",   "Off",   "OFF"};
  for (std::string_view t : kTrue) {
    if (*text == t) return true;
  }
  for (std::string_view f : kFalse) {
    if (*text == f) return false;
  }
  ReportValueError(ctx, field,
                   absl::StrCat("expected a boolean (true or false), got ", Quote(*text)));
  return std::nullopt;
}

std::optional<int64_t> ReadInt(ParseContext& ctx, const Field& field, int64_t min, int64_t max) {
  std::optional<std::string> text = ReadScalar(ctx, field, "an integer");
  if (!text) return std::nullopt;
  int64_t value = 0;
  const char* begin = text->data();
  const char* end = begin + text->size();
  const auto [ptr, ec] = std::from_chars(begin, end, value);
  if (text->empty() || ptr != end || ec == std::errc::invalid_argument) {
    ReportValueError(ctx, field, absl::StrCat("expected an integer, got ", Quote(*text)));
    return std::nullopt;
  }
  const bool out_of_range = ec == std::errc::result_out_of_range;
  if (out_of_range ? text->front() == '-' : value < min) {
    ReportValueError(ctx, field, absl::StrCat("must be at least ", min, ", got ", *text));
    return std::nullopt;
  }
  if (out_of_range || value > max) {
    ReportValueError(ctx, field, absl::StrCat("must be at most ", max, ", got ", *text));
    return std::nullopt;
  }
  return value;
}

std::optional<uint64_t> ReadBytes(ParseContext& ctx, const Field& field, uint64_t min_bytes,
                                  uint64_t max_bytes) {
  std::optional<std::string> text =
      ReadScalar(ctx, field, "a size in bytes (an integer, or e.g. \"64MiB\")");
  if (!text) return std::nullopt;
  absl::StatusOr<uint64_t> bytes = ParseBytes(*text);
  if (!bytes.ok()) {
    ReportValueError(ctx, field, MessageOf(bytes.status()));
    return std::nullopt;
  }
  if (*bytes < min_bytes) {
    ReportValueError(ctx, field,
                     min_bytes == 1
                         ? std::string("must be greater than 0")
                         : absl::StrCat("must be at least ", min_bytes, " bytes, got ", *bytes));
    return std::nullopt;
  }
  if (*bytes > max_bytes) {
    ReportValueError(ctx, field,
                     absl::StrCat("must be at most ", max_bytes, " bytes, got ", *bytes));
    return std::nullopt;
  }
  return *bytes;
}

std::optional<int64_t> ReadDuration(ParseContext& ctx, const Field& field, int64_t min_ns) {
  std::optional<std::string> text = ReadScalar(ctx, field, "a duration (e.g. \"10s\")");
  if (!text) return std::nullopt;
  absl::StatusOr<int64_t> ns = ParseDuration(*text);
  if (!ns.ok()) {
    ReportValueError(ctx, field, MessageOf(ns.status()));
    return std::nullopt;
  }
  if (*ns < min_ns) {
    ReportValueError(ctx, field,
                     min_ns == 1 ? absl::StrCat("must be greater than 0, got ", Quote(*text))
                                 : absl::StrCat("must be at least ", FormatDuration(min_ns),
                                                ", got ", Quote(*text)));
    return std::nullopt;
  }
  return *ns;
}

std::optional<std::string> ReadNonEmptyString(ParseContext& ctx, const Field& field) {
  std::optional<std::string> text = ReadScalar(ctx, field, "a string");
  if (!text) return std::nullopt;
  if (text->empty()) {
    ReportValueError(ctx, field, "must not be empty");
    return std::nullopt;
  }
  return text;
}

absl::StatusOr<HostPort> ParseHostPort(std::string_view endpoint) {
  const auto error = [&](std::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid endpoint ", Quote(endpoint), ": ", AbslView(what)));
  };
  const size_t colon = endpoint.rfind(':');
  if (colon == std::string_view::npos) {
    return error("expected host:port, e.g. \"0.0.0.0:4317\"");
  }
  std::string_view host = endpoint.substr(0, colon);
  const std::string_view port_text = endpoint.substr(colon + 1);
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') {
      return error("an IPv6 host must be written in brackets, e.g. \"[::1]:4317\"");
    }
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return error("an IPv6 host must be written in brackets, e.g. \"[::1]:4317\"");
  }
  if (host.empty()) return error("missing host (use 0.0.0.0 for all interfaces)");
  for (char c : host) {
    if (c == ' ' || c == '\t' || c == '/' || c == '[' || c == ']') {
      return error("the host contains an invalid character");
    }
  }
  int port = -1;
  const auto [ptr, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ptr != port_text.data() + port_text.size() || ec != std::errc() ||
      port < 0 || port > 65535) {
    return error("the port must be a number from 0 to 65535");
  }
  return HostPort{std::string(host), port};
}

std::optional<std::string> ReadEndpoint(ParseContext& ctx, const Field& field) {
  std::optional<std::string> text = ReadScalar(ctx, field, "a host:port string");
  if (!text) return std::nullopt;
  absl::StatusOr<HostPort> parsed = ParseHostPort(*text);
  if (!parsed.ok()) {
    ReportValueError(ctx, field, MessageOf(parsed.status()));
    return std::nullopt;
  }
  return text;
}

std::optional<std::string> ReadEnum(ParseContext& ctx, const Field& field,
                                    const std::vector<std::string_view>& allowed) {
  std::vector<std::string> names(allowed.begin(), allowed.end());
  const std::string one_of = absl::StrCat("one of ", absl::StrJoin(names, ", "));
  std::optional<std::string> text = ReadScalar(ctx, field, one_of);
  if (!text) return std::nullopt;
  if (std::find(allowed.begin(), allowed.end(), *text) != allowed.end()) return text;
  ReportValueError(ctx, field, absl::StrCat("expected ", one_of, ", got ", Quote(*text)));
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// MapReader

MapReader::MapReader(ParseContext& ctx, std::string path, const YAML::Node& node, int line0)
    : ctx_(&ctx), path_(std::move(path)) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsMap()) {
    std::string what =
        absl::StrCat("expected a mapping of keys to values, got ", AbslView(KindName(node)));
    if (node.IsScalar()) absl::StrAppend(&what, " ", Quote(node.Scalar()));
    ctx.AddError(line0, path_, what);
    return;
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    // Copies: yaml-cpp's iterator hands out a temporary pair.
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    if (!key.IsScalar()) {
      ctx.AddError(LineOf(key), path_,
                   absl::StrCat("keys must be strings, got ", AbslView(KindName(key))));
      continue;
    }
    const std::string name = key.Scalar();
    auto previous = std::find_if(entries_.begin(), entries_.end(),
                                 [&](const Entry& e) { return e.name == name; });
    if (previous != entries_.end()) {
      ctx.AddError(
          LineOf(key), ChildPath(name),
          absl::StrCat("duplicate key (first set at line ", previous->field.key_line() + 1, ")"));
      continue;
    }
    entries_.push_back(Entry{Field{ChildPath(name), key, value}, name});
  }
}

std::string MapReader::ChildPath(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  return absl::StrCat(path_, ".", AbslView(key));
}

std::optional<Field> MapReader::Take(std::string_view key) {
  known_.emplace_back(key);
  for (Entry& entry : entries_) {
    if (entry.name == key) {
      entry.taken = true;
      return entry.field;
    }
  }
  return std::nullopt;
}

void MapReader::Bool(std::string_view key, bool* out) {
  if (std::optional<Field> f = Take(key)) {
    if (std::optional<bool> v = ReadBool(*ctx_, *f)) *out = *v;
  }
}

void MapReader::Bytes(std::string_view key, uint64_t min_bytes, uint64_t max_bytes, uint64_t* out) {
  if (std::optional<Field> f = Take(key)) {
    if (std::optional<uint64_t> v = ReadBytes(*ctx_, *f, min_bytes, max_bytes)) *out = *v;
  }
}

void MapReader::Duration(std::string_view key, int64_t min_ns, int64_t* out) {
  if (std::optional<Field> f = Take(key)) {
    if (std::optional<int64_t> v = ReadDuration(*ctx_, *f, min_ns)) *out = *v;
  }
}

void MapReader::NonEmptyString(std::string_view key, std::string* out) {
  if (std::optional<Field> f = Take(key)) {
    if (std::optional<std::string> v = ReadNonEmptyString(*ctx_, *f)) *out = *std::move(v);
  }
}

void MapReader::Enum(std::string_view key, const std::vector<std::string_view>& allowed,
                     std::string* out) {
  if (std::optional<Field> f = Take(key)) {
    if (std::optional<std::string> v = ReadEnum(*ctx_, *f, allowed)) *out = *std::move(v);
  }
}

MapReader MapReader::Map(std::string_view key) {
  std::optional<Field> f = Take(key);
  if (!f) return MapReader(*ctx_, ChildPath(key), YAML::Node(), -1);
  return MapReader(*ctx_, f->path, f->value, f->line());
}

void MapReader::ReportUnknownKeys() {
  for (const Entry& entry : entries_) {
    if (entry.taken) continue;
    std::string what = "unknown key";
    const std::string* best = nullptr;
    size_t best_distance = std::numeric_limits<size_t>::max();
    for (const std::string& known : known_) {
      const size_t d = EditDistance(entry.name, known);
      if (d < best_distance) {
        best_distance = d;
        best = &known;
      }
    }
    if (best != nullptr && best_distance <= 2 && best_distance < entry.name.size()) {
      absl::StrAppend(&what, " (did you mean \"", *best, "\"?)");
    } else if (!known_.empty()) {
      absl::StrAppend(&what, " (known keys: ", absl::StrJoin(known_, ", "), ")");
    }
    ctx_->AddError(entry.field.key_line(), entry.field.path, what);
  }
}

}  // namespace tailtrace::config::internal
