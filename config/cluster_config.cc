// The `cluster` section: self, peers.static, peers.dns, peer_timeout, query_timeout, compression
// and tls, with the checks that catch a cluster whose members cannot reach each other.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cluster/options.h"
#include "cluster_config_internal.h"
#include "policies_internal.h"
#include "yaml_reader_internal.h"

namespace tailtrace::config::internal {
namespace {

// Re-resolving a name more often than this only loads the DNS server.
constexpr int64_t kMinDnsIntervalNs = 1'000'000'000;
// Below a round trip under load, healthy peers would flap between up and down.
constexpr int64_t kMinPeerTimeoutNs = 100'000'000;
// A fan-out shorter than a loaded round trip would leave out healthy members.
constexpr int64_t kMinQueryTimeoutNs = 10'000'000;

bool IsLoopback(std::string_view host) {
  return host == "localhost" || host == "::1" || absl::StartsWith(AbslView(host), "127.");
}

// A member name: a host:port that peers can dial, so neither a wildcard address nor port 0.
// (ParseHostPort's hints are about listening, hence the own messages for a missing part.)
std::optional<std::string> ReadMember(ParseContext& ctx, const Field& field) {
  std::optional<std::string> text = ReadScalar(ctx, field, "a host:port string");
  if (!text) return std::nullopt;
  const auto error = [&](std::string_view what) -> std::optional<std::string> {
    ReportValueError(ctx, field, absl::StrCat("\"", AbslView(*text), "\": ", AbslView(what)));
    return std::nullopt;
  };
  if (text->find(':') == std::string::npos) {
    return error("expected host:port as peers dial it, e.g. \"10.0.0.1:4317\"");
  }
  if (text->front() == ':') return error("missing host: give the address peers reach it at");
  const absl::StatusOr<HostPort> parsed = ParseHostPort(*text);
  if (!parsed.ok()) {
    ReportValueError(ctx, field, std::string(parsed.status().message()));
    return std::nullopt;
  }
  if (parsed->port == 0) return error("port 0 cannot be dialled; give the port peers connect to");
  if (parsed->host == "0.0.0.0" || parsed->host == "::") {
    return error("a wildcard address cannot be dialled; give the address peers reach it at");
  }
  return text;
}

// cluster.peers.static: a list of member names (an empty value is an empty list).
void ReadStaticPeers(ParseContext& ctx, const Field& field, std::vector<std::string>* out) {
  if (field.value.IsNull()) return;
  std::optional<std::vector<Field>> elements = ReadList(ctx, field, "host:port members");
  if (!elements) return;
  for (const Field& element : *elements) {
    if (std::optional<std::string> member = ReadMember(ctx, element)) {
      out->push_back(*std::move(member));
    }
  }
}

// cluster.peers.dns: name and port are required once the key is there.
void ParseDns(ParseContext& ctx, const Field& field, cluster::DnsPeersOptions* out) {
  MapReader map(ctx, field.path, field.value, field.line());
  if (std::optional<Field> name = Required(map, "name", field.key_line())) {
    if (std::optional<std::string> value = ReadNonEmptyString(ctx, *name)) out->name = *value;
  }
  if (std::optional<Field> port = Required(map, "port", field.key_line())) {
    if (std::optional<int64_t> value = ReadInt(ctx, *port, 1, 65535)) {
      out->port = static_cast<int>(*value);
    }
  }
  map.Duration("interval", kMinDnsIntervalNs, &out->interval_ns);
  map.ReportUnknownKeys();
}

void ParsePeers(MapReader map, cluster::ClusterOptions* out) {
  if (std::optional<Field> f = map.Take("static")) {
    ReadStaticPeers(map.context(), *f, &out->static_peers);
  }
  if (std::optional<Field> f = map.Take("dns")) ParseDns(map.context(), *f, &out->dns);
  map.ReportUnknownKeys();
}

// Peers send spans to self over OTLP/gRPC, so that receiver must be on and reachable.
void CheckReceiver(ParseContext& ctx, const Field& self, const DaemonConfig& config) {
  if (!config.grpc.enabled) {
    ctx.AddError(self.line(), self.path,
                 "cluster mode needs the OTLP/gRPC receiver (peers forward spans to it), but "
                 "receivers.otlp.protocols.grpc.enabled is false");
    return;
  }
  const absl::StatusOr<HostPort> listen = ParseHostPort(config.grpc.endpoint);
  const absl::StatusOr<HostPort> member = ParseHostPort(config.cluster.self);
  if (!listen.ok() || !member.ok()) return;  // reported where they were read
  if (IsLoopback(listen->host) && !IsLoopback(member->host)) {
    ctx.AddError(self.line(), self.path,
                 absl::StrCat("peers cannot reach \"", AbslView(config.cluster.self),
                              "\": receivers.otlp.protocols.grpc.endpoint listens on loopback "
                              "only (\"",
                              AbslView(config.grpc.endpoint),
                              "\"); bind it to 0.0.0.0 or to this address (with tls and auth, "
                              "README \"Security\")"));
  }
}

// cluster.tls: only with TLS on the receiver (members dial each other as its clients).
void ParseTls(ParseContext& ctx, std::optional<Field> field, int section_line0,
              const DaemonConfig& config, cluster::PeerTlsOptions* out) {
  const security::TlsOptions& receiver = config.grpc.security.tls;
  out->enabled = receiver.enabled();
  if (!field) {
    if (!receiver.client_ca_file.empty()) {
      ctx.AddError(section_line0, "cluster.tls",
                   "missing: receivers.otlp.protocols.grpc.tls.client_ca_file asks every client "
                   "for a certificate, so members need cluster.tls.cert_file and key_file to "
                   "reach each other");
    }
    return;
  }
  if (!receiver.enabled()) {
    ctx.AddError(field->key_line(), field->path,
                 "members dial each other in plain text because "
                 "receivers.otlp.protocols.grpc.tls is not set; remove cluster.tls or set it");
    return;
  }
  MapReader map(ctx, field->path, field->value, field->line());
  map.NonEmptyString("ca_file", &out->ca_file);
  map.NonEmptyString("cert_file", &out->cert_file);
  map.NonEmptyString("key_file", &out->key_file);
  map.NonEmptyString("server_name", &out->server_name);
  map.ReportUnknownKeys();
  if (out->cert_file.empty() != out->key_file.empty()) {
    ctx.AddError(field->key_line(), field->path, "cert_file and key_file go together");
  } else if (out->cert_file.empty() && !receiver.client_ca_file.empty()) {
    ctx.AddError(field->key_line(), field->path,
                 "cert_file and key_file are needed: receivers.otlp.protocols.grpc.tls."
                 "client_ca_file asks every client, members too, for a certificate");
  }
}

}  // namespace

void ParseCluster(MapReader& root, DaemonConfig* config) {
  std::optional<Field> section = root.Take("cluster");
  if (!section) return;
  ParseContext& ctx = root.context();
  cluster::ClusterOptions& out = config->cluster;
  MapReader map(ctx, section->path, section->value, section->line());
  std::optional<Field> self = map.Take("self");
  if (self) {
    if (std::optional<std::string> member = ReadMember(ctx, *self)) out.self = *member;
  } else {
    ctx.AddError(section->key_line(), "cluster.self",
                 "missing (required with a cluster section): this node's OTLP/gRPC host:port as "
                 "its peers reach it, e.g. \"${env:POD_IP}:4317\"");
  }
  ParsePeers(map.Map("peers"), &out);
  map.Duration("peer_timeout", kMinPeerTimeoutNs, &out.peer_timeout_ns);
  map.Duration("query_timeout", kMinQueryTimeoutNs, &out.query_timeout_ns);
  std::string compression = "lz4";
  map.Enum("compression", {"lz4", "gzip", "none"}, &compression);
  using cluster::PeerCompression;
  out.compression = compression == "lz4"    ? PeerCompression::kLz4
                    : compression == "gzip" ? PeerCompression::kGzip
                                            : PeerCompression::kNone;
  ParseTls(ctx, map.Take("tls"), section->key_line(), *config, &out.tls);
  map.ReportUnknownKeys();
  if (self && !out.self.empty()) CheckReceiver(ctx, *self, *config);
}

}  // namespace tailtrace::config::internal
