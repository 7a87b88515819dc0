#pragma once

// Compression of request bodies (Content-Encoding: gzip).

#include <string>
#include <string_view>

namespace tailtrace::http_client {

// gzip (RFC 1952) of `data`, at zlib's fastest level: trace data compresses well even there, and
// the threads that send it should not spend their time compressing.
std::string GzipFast(std::string_view data);

}  // namespace tailtrace::http_client
