#pragma once

// Requests to and answers from the query service, for its tests.

#include <zlib.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/http_server.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace tailtrace::query::testing {

using Params = std::vector<std::pair<std::string, std::string>>;

inline http::Request Get(std::string path, Params query = {}) {
  http::Request r;
  r.method = "GET";
  r.target = path;
  r.path = std::move(path);
  r.query = std::move(query);
  return r;
}

inline http::Request Post(std::string path, std::string body) {
  http::Request r = Get(std::move(path));
  r.method = "POST";
  r.body = std::move(body);
  return r;
}

// The answer's body as JSON; fails the test unless it parses and is sent as application/json.
inline rapidjson::Document ParseJson(const http::Response& r) {
  rapidjson::Document doc;
  doc.Parse(r.body.c_str(), r.body.size());
  EXPECT_FALSE(doc.HasParseError()) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  return doc;
}

// `data` gunzipped; fails the test unless it is one whole gzip member.
inline std::string Gunzip(std::string_view data) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buffer[4096];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buffer);
    z.avail_out = sizeof(buffer);
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - z.avail_out);
  }
  EXPECT_EQ(rc, Z_STREAM_END);
  inflateEnd(&z);
  return out;
}

}  // namespace tailtrace::query::testing
