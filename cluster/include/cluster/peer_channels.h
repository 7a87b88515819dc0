#pragma once

// gRPC channels to the other members, shared by everything that talks to peers (span forwarding,
// query fan-out, health probes): one channel per member, created on first use and kept while
// the member exists. Members talk to each other on their OTLP/gRPC receiver port, as any client
// does; when that receiver requires a bearer token, peers present one of its tokens.

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "collector/span_sink.h"

namespace tailtrace::cluster {

// Every peer call carries collector::kPeerCallMetadata (collector/span_sink.h) with this node's
// name: a forwarded Export is never forwarded again, and a fan-out query is answered from the
// receiving node's own store only.

// TLS towards the members, with the PEM contents already read.
struct PeerChannelsTls {
  bool enabled = false;
  std::string ca_pem;    // "" = the system's roots
  std::string cert_pem;  // client certificate; "" = none
  std::string key_pem;
  std::string server_name;  // "" = the member's host
};

struct PeerChannelsOptions {
  // This node's member name (sent as collector::kPeerCallMetadata's value).
  std::string self;
  // "Bearer <token>" value of the authorization metadata; "" sends none.
  std::string authorization;
  PeerChannelsTls tls;
};

// Thread-safe.
class PeerChannels {
 public:
  explicit PeerChannels(PeerChannelsOptions options) : options_(std::move(options)) {}

  // The channel to `member` ("host:port"), created on first use (connecting lazily).
  std::shared_ptr<grpc::Channel> Get(std::string_view member);

  // Drops the channels of members not in `members` (sorted).
  void Retain(const std::vector<std::string>& members);

  // Adds the peer-call marker and the authorization to a call's context.
  void Prepare(grpc::ClientContext* context) const;

  const std::string& self() const { return options_.self; }

 private:
  const PeerChannelsOptions options_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>, std::less<>> channels_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tailtrace::cluster
