#pragma once

// Private to common/: the OpenSSL server context of an HTTP listener, built from TlsOptions and
// rebuilt when its files change. Pulls in Boost.Asio SSL; not for public headers.

#include <sys/types.h>

#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <ctime>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/listener_security.h"

namespace tailtrace::http::internal {

// Builds a TLS server context: certificate chain and key, the minimum version, and with a
// client CA file, required and verified client certificates. Errors name the file.
absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    const security::TlsOptions& options);

// The current context of a listener. Current() is cheap; every reload_interval it stats the
// files and, when one changed, builds a new context (a failure keeps the old one, logged).
// Connections keep the context they started with. Thread-safe.
class TlsContextHolder {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<TlsContextHolder>> Create(
      security::TlsOptions options);

  std::shared_ptr<boost::asio::ssl::context> Current();
  // Stats the files now and reloads if they changed.
  void ReloadIfChanged();

 private:
  struct Stamp {
    timespec mtime{};
    off_t size = -1;
    ino_t inode = 0;
  };
  explicit TlsContextHolder(security::TlsOptions options) : options_(std::move(options)) {}
  std::vector<Stamp> StatFiles() const;

  const security::TlsOptions options_;
  std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> context_ ABSL_GUARDED_BY(mu_);
  std::vector<Stamp> stamps_ ABSL_GUARDED_BY(mu_);
  int64_t next_check_ns_ ABSL_GUARDED_BY(mu_) = 0;  // steady clock
};

}  // namespace tailtrace::http::internal
