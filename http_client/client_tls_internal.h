#pragma once

// Private to http_client/: what a ClientTls holds.

#include <utility>
// (Boost.Asio 1.74's headers use std::exchange without including <utility>.)
#include <boost/asio/ssl/context.hpp>

#include "http_client/http_client.h"

namespace tailtrace::http_client {

struct ClientTls::Context {
  boost::asio::ssl::context ssl{boost::asio::ssl::context::tls_client};
};

}  // namespace tailtrace::http_client
