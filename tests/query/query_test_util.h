#pragma once

// Requests to and answers from the query service, for its tests.

#include <string>
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

}  // namespace tailtrace::query::testing
