#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tls_context_internal.h"

namespace tailtrace::http::internal {

namespace ssl = boost::asio::ssl;

namespace {

// Why `path` could not be loaded: the OS error when it cannot be opened, else OpenSSL's reason.
absl::Status FileError(const char* key, const std::string& path,
                       const boost::system::error_code& ec) {
  std::string why;
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    std::fclose(f);
    char buf[256];
    ERR_error_string_n(static_cast<unsigned long>(ec.value()), buf, sizeof(buf));
    why = absl::StrCat("not a valid PEM file (", buf, ")");
  } else {
    why = std::strerror(errno);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("tls.", key, " \"", path, "\": cannot load: ", why));
}

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

absl::StatusOr<std::shared_ptr<ssl::context>> MakeServerTlsContext(
    const security::TlsOptions& options) {
  if (options.key_file.empty()) {
    return absl::InvalidArgumentError("tls.key_file is required with tls.cert_file");
  }
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::single_dh_use);
  const int min_version = options.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (SSL_CTX_set_min_proto_version(ctx->native_handle(), min_version) != 1) {
    return absl::InternalError("tls.min_version: OpenSSL refused the minimum version");
  }
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(options.cert_file, ec);
  if (ec) return FileError("cert_file", options.cert_file, ec);
  ctx->use_private_key_file(options.key_file, ssl::context::pem, ec);
  if (ec) return FileError("key_file", options.key_file, ec);
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("tls.key_file \"", options.key_file,
                                                   "\" does not match tls.cert_file \"",
                                                   options.cert_file, "\""));
  }
  if (!options.client_ca_file.empty()) {
    ctx->load_verify_file(options.client_ca_file, ec);
    if (ec) return FileError("client_ca_file", options.client_ca_file, ec);
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
    if (ec) return FileError("client_ca_file", options.client_ca_file, ec);
  }
  return ctx;
}

absl::StatusOr<std::unique_ptr<TlsContextHolder>> TlsContextHolder::Create(
    security::TlsOptions options) {
  std::unique_ptr<TlsContextHolder> holder(new TlsContextHolder(std::move(options)));
  auto ctx = MakeServerTlsContext(holder->options_);
  if (!ctx.ok()) return ctx.status();
  std::lock_guard lock(holder->mu_);
  holder->context_ = *std::move(ctx);
  holder->stamps_ = holder->StatFiles();
  holder->next_check_ns_ = SteadyNanos() + holder->options_.reload_interval_ns;
  return holder;
}

std::vector<TlsContextHolder::Stamp> TlsContextHolder::StatFiles() const {
  std::vector<Stamp> stamps;
  for (const std::string* path :
       {&options_.cert_file, &options_.key_file, &options_.client_ca_file}) {
    Stamp stamp;
    struct stat st {};
    if (!path->empty() && ::stat(path->c_str(), &st) == 0) {
      stamp = Stamp{st.st_mtim, st.st_size, st.st_ino};
    }
    stamps.push_back(stamp);
  }
  return stamps;
}

std::shared_ptr<ssl::context> TlsContextHolder::Current() {
  bool check = false;
  {
    std::lock_guard lock(mu_);
    if (options_.reload_interval_ns > 0 && SteadyNanos() >= next_check_ns_) {
      next_check_ns_ = SteadyNanos() + options_.reload_interval_ns;
      check = true;
    }
  }
  if (check) ReloadIfChanged();
  std::lock_guard lock(mu_);
  return context_;
}

void TlsContextHolder::ReloadIfChanged() {
  const std::vector<Stamp> now = StatFiles();
  {
    std::lock_guard lock(mu_);
    bool same = now.size() == stamps_.size();
    for (size_t i = 0; same && i < now.size(); ++i) {
      same = now[i].mtime.tv_sec == stamps_[i].mtime.tv_sec &&
             now[i].mtime.tv_nsec == stamps_[i].mtime.tv_nsec && now[i].size == stamps_[i].size &&
             now[i].inode == stamps_[i].inode;
    }
    if (same) return;
    stamps_ = now;
  }
  auto ctx = MakeServerTlsContext(options_);
  if (!ctx.ok()) {
    spdlog::warn("TLS files changed but cannot be loaded ({}); keeping the previous certificate",
                 std::string(ctx.status().message()));
    return;
  }
  std::lock_guard lock(mu_);
  context_ = *std::move(ctx);
  spdlog::info("TLS certificate \"{}\" re-read", options_.cert_file);
}

}  // namespace tailtrace::http::internal
