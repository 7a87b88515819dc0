#include "clickhouse_rows.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "row_binary.h"
#include "storage/index/trace_analysis.h"

namespace tailtrace::storage::clickhouse {
namespace {

using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::ScopeSpans;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::TracesData;
using Tags = std::vector<std::pair<std::string, std::string>>;

// A ResourceSpans without its scopes, serialized.
std::string ResourceBytes(const ResourceSpans& rs) {
  ResourceSpans head;
  if (rs.has_resource()) *head.mutable_resource() = rs.resource();
  head.set_schema_url(rs.schema_url());
  return head.SerializeAsString();
}

// A ScopeSpans without its spans, serialized.
std::string ScopeBytes(const ScopeSpans& ss) {
  ScopeSpans head;
  if (ss.has_scope()) *head.mutable_scope() = ss.scope();
  head.set_schema_url(ss.schema_url());
  return head.SerializeAsString();
}

// The span's indexed tags, each distinct pair once, sorted.
void IndexedTags(const ResourceSpans& rs, const ScopeSpans& ss, const Span& span,
                 const IndexOptions& options, Tags* tags) {
  tags->clear();
  ForEachSpanTag(rs, ss, span, [&](std::string_view key, std::string_view value) {
    if (IsSamplingTag(key) || !IsIndexedTag(key, value, options)) return;
    tags->emplace_back(key, value);
  });
  std::sort(tags->begin(), tags->end());
  tags->erase(std::unique(tags->begin(), tags->end()), tags->end());
}

// What every span of one resource and scope shares.
struct Group {
  uint32_t rs = 0;
  uint32_t ss = 0;
  std::string_view resource;
  std::string_view scope;
  std::string_view service;
};

void AppendSpanRow(const TraceWrite& write, const WriteRowsContext& ctx, const Group& g,
                   uint32_t ordinal, const Span& span, const Tags& tags, std::string* out) {
  RowBinaryWriter w(out);
  w.UInt16(ctx.day);
  w.FixedString(write.trace_id.view());
  w.UInt64(ctx.write_id);
  w.UInt32(ordinal);
  w.UInt32(g.rs);
  w.UInt32(g.ss);
  w.String(g.resource);
  w.String(g.scope);
  w.String(span.SerializeAsString());
  w.String(g.service);
  w.String(span.name());
  w.UInt8(static_cast<uint8_t>(std::clamp(static_cast<int>(span.kind()), 0, 255)));
  w.UInt8(static_cast<uint8_t>(std::clamp(static_cast<int>(span.status().code()), 0, 255)));
  w.String(span.span_id());
  w.String(span.parent_span_id());
  w.Int64(SpanStartNs(span));
  w.Int64(SpanDurationNs(span));
  w.Length(tags.size());
  for (const auto& [key, value] : tags) w.String(key);
  w.Length(tags.size());
  for (const auto& [key, value] : tags) w.String(value);
  w.String(write.sampling_policy);
  w.Float64(write.sample_rate);
  w.String(SamplingRateText(write.sample_rate));
}

// Calls fn(group, rs, ss, ordinal, span) for every span of `data` in order; returns how many.
template <typename Fn>
uint64_t ForEachSpanRow(const TracesData& data, Fn&& fn) {
  uint32_t ordinal = 0;
  for (int r = 0; r < data.resource_spans_size(); ++r) {
    const ResourceSpans& rs = data.resource_spans(r);
    const std::string resource = ResourceBytes(rs);
    const std::string service = ServiceNameOf(rs);
    for (int s = 0; s < rs.scope_spans_size(); ++s) {
      const ScopeSpans& ss = rs.scope_spans(s);
      const std::string scope = ScopeBytes(ss);
      const Group group{static_cast<uint32_t>(r), static_cast<uint32_t>(s), resource, scope,
                        service};
      for (const Span& span : ss.spans()) fn(group, rs, ss, ordinal++, span);
    }
  }
  return ordinal;
}

}  // namespace

uint16_t DayOf(int64_t unix_ns) {
  return static_cast<uint16_t>(std::clamp<int64_t>(unix_ns / kDayNs, 0, 65535));
}

std::string PartitionIdOf(uint16_t day) {
  const absl::CivilDay civil = absl::CivilDay(1970, 1, 1) + day;
  return absl::StrFormat("%04d%02d%02d", civil.year(), civil.month(), civil.day());
}

uint64_t AppendInputRows(const TraceWrite& write, const TracesData& data,
                         const WriteRowsContext& ctx, std::string* out) {
  Tags tags;
  return ForEachSpanRow(data, [&](const Group& g, const ResourceSpans& rs, const ScopeSpans& ss,
                                  uint32_t ordinal, const Span& span) {
    IndexedTags(rs, ss, span, *ctx.index, &tags);
    AppendSpanRow(write, ctx, g, ordinal, span, tags, out);
  });
}

uint64_t AppendArchiveRows(const StoredTrace& trace, uint64_t write_id, std::string* out) {
  return ForEachSpanRow(trace.data, [&](const Group& g, const ResourceSpans&, const ScopeSpans&,
                                        uint32_t ordinal, const Span& span) {
    RowBinaryWriter w(out);
    w.FixedString(trace.trace_id.view());
    w.UInt64(write_id);
    w.UInt32(ordinal);
    w.UInt32(g.rs);
    w.UInt32(g.ss);
    w.String(g.resource);
    w.String(g.scope);
    w.String(span.SerializeAsString());
    w.String(trace.sampling_policy);
    w.Float64(trace.sample_rate);
  });
}

absl::Status TraceAssembler::Add(const Row& row) {
  if (any_ && row.write_id == write_id_ && row.ordinal == ordinal_) return absl::OkStatus();
  const bool new_write = !any_ || row.write_id != write_id_;
  const bool new_resource = new_write || row.rs != rs_;
  const bool new_scope = new_resource || row.ss != ss_;
  if (new_resource) {
    ResourceSpans* rs = data_.add_resource_spans();
    if (!rs->ParseFromArray(row.resource.data(), static_cast<int>(row.resource.size()))) {
      return absl::DataLossError(absl::StrCat("a stored resource does not parse (write ",
                                              row.write_id, ", span ", row.ordinal, ")"));
    }
  }
  ResourceSpans& rs = *data_.mutable_resource_spans()->rbegin();
  if (new_scope) {
    ScopeSpans* ss = rs.add_scope_spans();
    if (!ss->ParseFromArray(row.scope.data(), static_cast<int>(row.scope.size()))) {
      return absl::DataLossError(absl::StrCat("a stored scope does not parse (write ", row.write_id,
                                              ", span ", row.ordinal, ")"));
    }
  }
  ScopeSpans& ss = *rs.mutable_scope_spans()->rbegin();
  if (!ss.add_spans()->ParseFromArray(row.span.data(), static_cast<int>(row.span.size()))) {
    return absl::DataLossError(absl::StrCat("a stored span does not parse (write ", row.write_id,
                                            ", span ", row.ordinal, ")"));
  }
  any_ = true;
  write_id_ = row.write_id;
  ordinal_ = row.ordinal;
  rs_ = row.rs;
  ss_ = row.ss;
  ++spans_;
  return absl::OkStatus();
}

absl::Status AssembleSpanRows(std::string_view body, std::map<TraceId, TraceAssembler>* traces) {
  RowBinaryReader in(body);
  while (!in.done()) {
    std::string_view id;
    TraceAssembler::Row row;
    if (!in.FixedString(16, &id) || !in.Fixed(&row.write_id) || !in.Fixed(&row.ordinal) ||
        !in.Fixed(&row.rs) || !in.Fixed(&row.ss) || !in.String(&row.resource) ||
        !in.String(&row.scope) || !in.String(&row.span)) {
      return absl::InternalError("ClickHouse answered a malformed span row");
    }
    if (absl::Status s = (*traces)[TraceId::FromBytes(id)].Add(row); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace tailtrace::storage::clickhouse
