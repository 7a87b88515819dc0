#include "http_client/gzip.h"

#include <zlib.h>

namespace tailtrace::http_client {

std::string GzipFast(std::string_view data) {
  z_stream z{};
  // 15 window bits + 16: a gzip header and trailer instead of zlib's.
  deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  // deflateBound leaves room for everything, so one Z_FINISH call completes the stream.
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace tailtrace::http_client
