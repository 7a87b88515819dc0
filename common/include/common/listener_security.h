#pragma once

// Security settings shared by every listener (OTLP/gRPC, OTLP/HTTP, query, admin) with the
// OpenTelemetry Collector's key names (configtls, configauth's bearertokenauth, confighttp cors),
// the bearer-token check and the CORS origin match. No gRPC, Asio or OpenSSL here.

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"

namespace tailtrace::security {

struct TlsOptions {
  // PEM certificate chain served to clients; TLS is on when set (key_file is then required).
  // Default: "" (plain text)
  std::string cert_file;
  // PEM private key of cert_file.
  // Default: ""
  std::string key_file;
  // PEM CA bundle; when set, clients must present a certificate signed by it (mTLS).
  // Default: "" (no client certificates asked for)
  std::string client_ca_file;
  // Oldest TLS version accepted: "1.2" or "1.3".
  // Default: "1.2"
  std::string min_version = "1.2";
  // How often the cert/key/CA files are checked for changes and re-read; 0 = never.
  // Default: 0
  int64_t reload_interval_ns = 0;

  bool enabled() const { return !cert_file.empty(); }
};

struct AuthOptions {
  // File of accepted bearer tokens, one per line; blank lines and lines starting with '#' are
  // ignored. When set, requests need "Authorization: Bearer <token>".
  // Default: "" (no authentication)
  std::string bearer_token_file;

  bool enabled() const { return !bearer_token_file.empty(); }
};

struct CorsOptions {
  // Origins allowed to call from a browser: exact ("https://app.example.com"), with one '*'
  // wildcard ("https://*.example.com"), or "*" for any. Empty: no CORS headers at all.
  // Default: []
  std::vector<std::string> allowed_origins;
  // Request headers a browser may send, beyond the CORS-safelisted ones ("*" for any).
  // Default: []
  std::vector<std::string> allowed_headers;
  // Seconds a browser may cache a preflight answer; 0 = not sent.
  // Default: 0
  int64_t max_age_s = 0;

  bool enabled() const { return !allowed_origins.empty(); }
};

// The security settings of one listener.
struct ListenerSecurity {
  TlsOptions tls;
  AuthOptions auth;
  CorsOptions cors;  // only used by HTTP listeners
};

// The accepted bearer tokens of one token file. The file is checked (stat: mtime, size, inode)
// on every Check() and re-read when it changed, so editing the file takes effect on the next
// request; a file that became unreadable or empty keeps the tokens read last (logged).
// Thread-safe.
class BearerTokens {
 public:
  // Reads the file; a missing, unreadable or token-less file is an error naming the path.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<BearerTokens>> Create(std::string path);

  // True when `authorization` (the header's value) is "Bearer <token>" with a token of the file
  // (the scheme is case-insensitive; tokens are compared in constant time).
  bool Check(std::string_view authorization);

  // Re-reads the file if it changed since the last read. Check() calls it.
  void ReloadIfChanged();

  const std::string& path() const { return path_; }

  // The file's first token (what a client of this listener presents, e.g. a cluster peer).
  std::string First() const;

 private:
  struct FileStamp {
    timespec mtime{};
    off_t size = -1;
    ino_t inode = 0;
    bool operator==(const FileStamp& o) const {
      return mtime.tv_sec == o.mtime.tv_sec && mtime.tv_nsec == o.mtime.tv_nsec && size == o.size &&
             inode == o.inode;
    }
  };

  explicit BearerTokens(std::string path) : path_(std::move(path)) {}
  absl::Status Load();

  const std::string path_;
  mutable std::mutex mu_;
  std::shared_ptr<const std::vector<std::string>> tokens_ ABSL_GUARDED_BY(mu_);
  FileStamp stamp_ ABSL_GUARDED_BY(mu_);
};

// Parses a token file's text: one token per line, surrounding spaces trimmed, blank lines and
// '#' comments skipped.
std::vector<std::string> ParseTokenFile(std::string_view text);

// Splits at `separator` and trims ASCII spaces from each part (empty parts kept).
std::vector<std::string_view> SplitAndTrim(std::string_view text, char separator);

// ASCII case-insensitive equality.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Constant-time equality (time depends only on the lengths).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// True when `origin` matches one of `allowed` ("*", exact, or one '*' wildcard; case-insensitive).
bool OriginAllowed(std::string_view origin, const std::vector<std::string>& allowed);

}  // namespace tailtrace::security
