// SystemResolver: getaddrinfo for A and AAAA records, rendered as member names.

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cluster/resolver.h"

namespace tailtrace::cluster {
namespace {

using AddrInfoPtr = std::unique_ptr<addrinfo, void (*)(addrinfo*)>;

// "ip:port" or "[ip6]:port"; empty for another address family.
std::string MemberName(const addrinfo& info, int port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (info.ai_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(info.ai_addr);
    if (inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text)) == nullptr) return "";
    return absl::StrCat(text, ":", port);
  }
  if (info.ai_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(info.ai_addr);
    if (inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text)) == nullptr) return "";
    return absl::StrCat("[", text, "]:", port);
  }
  return "";
}

absl::Status ResolveError(const std::string& name, int code) {
  const std::string what = absl::StrCat("cannot resolve \"", name, "\": ", gai_strerror(code));
  // EAI_NONAME: no such name; EAI_NODATA (glibc): the name exists but has no address records.
  if (code == EAI_NONAME) return absl::NotFoundError(what);
#ifdef EAI_NODATA
  if (code == EAI_NODATA) return absl::NotFoundError(what);
#endif
  return absl::UnavailableError(what);
}

}  // namespace

absl::StatusOr<std::vector<std::string>> SystemResolver::Resolve(const std::string& name,
                                                                 int port) {
  addrinfo hints = {};
  // Both families and no AI_ADDRCONFIG: a member's AAAA record counts even when this host has no
  // IPv6 address of its own. One socket type, so each address comes once.
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  const int code = getaddrinfo(name.c_str(), nullptr, &hints, &result);
  if (code != 0) return ResolveError(name, code);
  const AddrInfoPtr owned(result, &freeaddrinfo);
  std::vector<std::string> members;
  for (const addrinfo* info = result; info != nullptr; info = info->ai_next) {
    std::string member = MemberName(*info, port);
    if (!member.empty()) members.push_back(std::move(member));
  }
  if (members.empty()) {
    return absl::NotFoundError(absl::StrCat("\"", name, "\" has no A or AAAA records"));
  }
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  return members;
}

}  // namespace tailtrace::cluster
