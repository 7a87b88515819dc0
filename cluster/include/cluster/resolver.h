#pragma once

// Name resolution for DNS membership, behind an interface so that tests feed membership changes.

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tailtrace::cluster {

class PeerResolver {
 public:
  virtual ~PeerResolver() = default;

  // The addresses of `name`'s A and AAAA records as member names "ip:port" ("[ip6]:port" for
  // IPv6), sorted and deduplicated. NotFound when the name has no such records; Unavailable when
  // resolution failed (the server did not answer, a temporary failure). May block for as long as
  // the resolver takes; implementations must be thread-safe.
  [[nodiscard]] virtual absl::StatusOr<std::vector<std::string>> Resolve(const std::string& name,
                                                                         int port) = 0;
};

// The system resolver (getaddrinfo: /etc/hosts, then DNS as nsswitch.conf says). Thread-safe.
class SystemResolver : public PeerResolver {
 public:
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> Resolve(const std::string& name,
                                                                 int port) override;
};

}  // namespace tailtrace::cluster
