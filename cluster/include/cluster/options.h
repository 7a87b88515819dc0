#pragma once

// The options of cluster mode (the `cluster:` config section). A plain header with no
// dependencies, so that config/config.h can hold it without pulling in the cluster library.
//
// A member is named by its OTLP/gRPC receiver endpoint "host:port", exactly as its peers reach
// it. Members are compared as strings: every node must spell a member the same way (with DNS
// membership, `self` is this node's address as the DNS answer lists it, e.g. the pod IP).

#include <cstdint>
#include <string>
#include <vector>

namespace tailtrace::cluster {

// cluster.peers.dns: members found by resolving a name's A and AAAA records (e.g. a Kubernetes
// headless service), so that nodes join and leave without a restart.
struct DnsPeersOptions {
  // The name to resolve. Empty: no DNS membership.
  // Default: ""
  std::string name;
  // The port every resolved address is a member on (the members' OTLP/gRPC port); 1-65535.
  // Default: 0 (must be set when `name` is)
  int port = 0;
  // How often the name is resolved again.
  // Default: 10 s
  int64_t interval_ns = 10'000'000'000;

  bool enabled() const { return !name.empty(); }
};

// cluster.tls: how members dial each other when their OTLP/gRPC receivers speak TLS.
struct PeerTlsOptions {
  // Peers are dialled over TLS: set when the OTLP/gRPC receiver has tls (every member has the
  // same receiver settings).
  // Default: false
  bool enabled = false;
  // PEM CA bundle that verifies the members' certificates.
  // Default: "" (the system's roots)
  std::string ca_file;
  // PEM client certificate and key presented to peers (needed when their receiver asks for
  // client certificates, tls.client_ca_file).
  // Default: "" (none)
  std::string cert_file;
  std::string key_file;
  // The name the members' certificates are verified against (members are usually dialled by
  // IP address; e.g. a name all members' certificates carry).
  // Default: "" (the member's host)
  std::string server_name;
};

// cluster: this node, its peers and how long a silent peer stays a member of the live set.
enum class PeerCompression { kLz4, kGzip, kNone };

struct ClusterOptions {
  // This node's member name: its OTLP/gRPC endpoint as its peers reach it ("host:port"). Set
  // whenever the `cluster:` section is present; empty means no cluster (a single node).
  // Default: "" (single node)
  std::string self;
  // Members listed by hand ("host:port" each). May include `self`, so that every node can share
  // one list.
  // Default: empty
  std::vector<std::string> static_peers;
  DnsPeersOptions dns;
  // A peer that has not answered for this long since a failure is down (left out of the live
  // set) until it answers again.
  // Default: 5 s
  int64_t peer_timeout_ns = 5'000'000'000;
  // How long a query fanned out to the members waits for their answers; a member slower than
  // this is left out of the answer and named in its errors (cluster_reader.h).
  // Default: 5 s
  int64_t query_timeout_ns = 5'000'000'000;
  // How spans forwarded to their owners are compressed (cluster.compression):
  //   kLz4: LZ4 frames (collector/lz4_frame.h), about a third of gzip's CPU to compress and far
  //         less to decode, for about a fifth more bytes; a member too old to take them gets gzip;
  //   kGzip: gRPC's gzip encoding (compressed at zlib's fastest level);
  //   kNone: as they are, no CPU on either end, several times the bytes (7x on the benchmark's
  //         workload).
  // Default: kLz4 (cluster.compression: lz4)
  PeerCompression compression = PeerCompression::kLz4;
  PeerTlsOptions tls;

  // Cluster mode is on: the `cluster:` section was given (ParseConfig then requires `self`).
  bool enabled() const { return !self.empty(); }
};

}  // namespace tailtrace::cluster
