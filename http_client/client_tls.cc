#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client_tls_internal.h"
#include "http_client/http_client.h"

namespace tailtrace::http_client {

namespace ssl = boost::asio::ssl;

ClientTls::ClientTls(std::unique_ptr<Context> context, bool verify)
    : context_(std::move(context)), verify_(verify) {}

ClientTls::~ClientTls() = default;

absl::StatusOr<std::shared_ptr<const ClientTls>> ClientTls::Create(const ClientTlsOptions& options,
                                                                   std::string_view key_prefix) {
  auto context = std::make_unique<Context>();
  ssl::context& ssl = context->ssl;
  ssl.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  const auto file_error = [&ec, key_prefix](std::string_view key, const std::string& path) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(key_prefix), ".", std::string(key),
                                                   ": cannot load \"", path, "\": ", ec.message()));
  };
  if (options.insecure_skip_verify) {
    ssl.set_verify_mode(ssl::verify_none);
  } else {
    ssl.set_verify_mode(ssl::verify_peer);
    if (!options.ca_file.empty()) {
      if (ssl.load_verify_file(options.ca_file, ec); ec) {
        return file_error("ca_file", options.ca_file);
      }
    } else {
      ssl.set_default_verify_paths(ec);
    }
  }
  if (!options.cert_file.empty()) {
    if (ssl.use_certificate_chain_file(options.cert_file, ec); ec) {
      return file_error("cert_file", options.cert_file);
    }
    if (ssl.use_private_key_file(options.key_file, ssl::context::pem, ec); ec) {
      return file_error("key_file", options.key_file);
    }
  }
  return std::shared_ptr<const ClientTls>(
      new ClientTls(std::move(context), !options.insecure_skip_verify));
}

}  // namespace tailtrace::http_client
