#include "status_json.h"

#include <ctime>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace tailtrace::cluster {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void WriteString(Writer& w, const std::string& s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// RFC 3339 UTC with milliseconds, or null for 0 (never).
void WriteTime(Writer& w, int64_t unix_ns) {
  if (unix_ns <= 0) {
    w.Null();
    return;
  }
  const time_t seconds = static_cast<time_t>(unix_ns / 1'000'000'000);
  tm utc{};
  gmtime_r(&seconds, &utc);
  WriteString(w, absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                                 utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                                 static_cast<int>(unix_ns / 1'000'000 % 1000)));
}

void WriteMember(Writer& w, const MemberStatus& m) {
  w.StartObject();
  w.Key("name");
  WriteString(w, m.name);
  w.Key("self");
  w.Bool(m.self);
  w.Key("static");
  w.Bool(m.is_static);
  w.Key("dns");
  w.Bool(m.from_dns);
  w.Key("state");
  w.String(m.state == PeerState::kUp ? "up" : "down");
  w.Key("lastSuccess");
  WriteTime(w, m.last_success_unix_ns);
  w.Key("lastFailure");
  WriteTime(w, m.last_failure_unix_ns);
  w.Key("lastError");
  WriteString(w, m.last_error);
  w.EndObject();
}

void WriteDns(Writer& w, const ClusterStatus& status) {
  if (status.dns_name.empty()) {
    w.Null();
    return;
  }
  w.StartObject();
  w.Key("name");
  WriteString(w, status.dns_name);
  w.Key("lastSuccess");
  WriteTime(w, status.dns_last_success_unix_ns);
  w.Key("lastError");
  WriteString(w, status.dns_last_error);
  w.Key("resolutions");
  w.Uint64(status.dns_resolutions_total);
  w.Key("failures");
  w.Uint64(status.dns_failures_total);
  w.Key("selfMissing");
  w.Bool(status.self_missing_from_dns);
  w.EndObject();
}

}  // namespace

std::string RenderClusterStatusJson(const ClusterStatus& status) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("self");
  WriteString(w, status.self);
  w.Key("liveMembers");
  w.Uint64(status.live_members);
  w.Key("members");
  w.StartArray();
  for (const MemberStatus& m : status.members) WriteMember(w, m);
  w.EndArray();
  w.Key("dns");
  WriteDns(w, status);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace tailtrace::cluster
