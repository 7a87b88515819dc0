#pragma once

// What a reader of a TracesData sees, grouping aside: shared by the span column tests and their
// fuzz harness, which compare a decoded block with protobuf's parse of what was encoded.

#include <string>
#include <tuple>
#include <vector>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace tailtrace::span_columns_test {

// Each span as (its ResourceSpans without scopes, its ScopeSpans without spans, the span), each
// serialized deterministically.
using Flat = std::vector<std::tuple<std::string, std::string, std::string>>;

inline std::string Deterministic(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

inline void Flatten(const opentelemetry::proto::trace::v1::TracesData& data, Flat* out) {
  for (const auto& rs : data.resource_spans()) {
    opentelemetry::proto::trace::v1::ResourceSpans own = rs;
    own.clear_scope_spans();
    for (const auto& ss : rs.scope_spans()) {
      opentelemetry::proto::trace::v1::ScopeSpans scope = ss;
      scope.clear_spans();
      for (const auto& span : ss.spans()) {
        out->emplace_back(Deterministic(own), Deterministic(scope), Deterministic(span));
      }
    }
  }
}

}  // namespace tailtrace::span_columns_test
