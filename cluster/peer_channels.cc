#include "cluster/peer_channels.h"

#include <algorithm>
#include <climits>

namespace tailtrace::cluster {

std::shared_ptr<grpc::Channel> PeerChannels::Get(std::string_view member) {
  std::lock_guard lock(mu_);
  auto it = channels_.find(member);
  if (it != channels_.end()) return it->second;
  grpc::ChannelArguments args;
  // Peers' messages are as large as the receiver takes; the receiver enforces its own limit.
  args.SetMaxReceiveMessageSize(INT_MAX);
  args.SetMaxSendMessageSize(INT_MAX);
  // Reconnect soon after a peer comes back (gRPC's default backoff grows to 120 s).
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2'000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
  // Each member gets a channel of its own even when two names resolve alike.
  args.SetString(GRPC_ARG_CHANNEL_POOL_DOMAIN, std::string(member));
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (options_.tls.enabled) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options_.tls.ca_pem;
    ssl.pem_cert_chain = options_.tls.cert_pem;
    ssl.pem_private_key = options_.tls.key_pem;
    credentials = grpc::SslCredentials(ssl);
    if (!options_.tls.server_name.empty()) {
      args.SetSslTargetNameOverride(options_.tls.server_name);
    }
  }
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(std::string(member), credentials, args);
  channels_.emplace(std::string(member), channel);
  return channel;
}

void PeerChannels::Retain(const std::vector<std::string>& members) {
  std::lock_guard lock(mu_);
  for (auto it = channels_.begin(); it != channels_.end();) {
    if (std::binary_search(members.begin(), members.end(), it->first)) {
      ++it;
    } else {
      it = channels_.erase(it);
    }
  }
}

void PeerChannels::Prepare(grpc::ClientContext* context) const {
  context->AddMetadata(collector::kPeerCallMetadata, options_.self);
  if (!options_.authorization.empty()) {
    context->AddMetadata("authorization", options_.authorization);
  }
}

}  // namespace tailtrace::cluster
