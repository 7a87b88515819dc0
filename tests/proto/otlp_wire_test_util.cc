#include "tests/proto/otlp_wire_test_util.h"

#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proto/otlp_ids.h"

namespace tailtrace::wire_test {

using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::ScopeSpans;

std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>(0x80 | (v & 0x7F));
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}

std::string Tag(uint32_t field, uint32_t wire_type) {
  return Varint(static_cast<uint64_t>(field) << 3 | wire_type);
}

std::string Len(uint32_t field, std::string_view payload) {
  return Tag(field, 2) + Varint(payload.size()) + std::string(payload);
}

std::string Fixed64(uint32_t field, uint64_t v) {
  std::string out = Tag(field, 1);
  for (int i = 0; i < 8; ++i) out += static_cast<char>(v >> (8 * i));
  return out;
}

std::string TraceIdBytes(uint64_t n) {
  std::string id(16, '\0');
  for (int i = 0; i < 16; ++i) id[i] = static_cast<char>(0x11 * (i + 1) + n);
  return id;
}

std::string SpanIdBytes(uint64_t n) {
  std::string id(8, '\0');
  for (int i = 0; i < 8; ++i) id[i] = static_cast<char>(0x21 + i + 3 * n);
  return id;
}

namespace {

void AddAttr(google::protobuf::RepeatedPtrField<KeyValue>* attrs, const std::string& key,
             const std::string& value) {
  KeyValue* kv = attrs->Add();
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}

// The fields the scan keeps in a WireSpan, against the parsed span's.
::testing::AssertionResult FieldsAgree(const WireSpan& ws, std::string_view bytes,
                                       const Span& span) {
  auto id_bits = [](const std::string& id) {
    uint64_t bits = 0;
    if (id.size() == 8) std::memcpy(&bits, id.data(), 8);
    return bits;
  };
  if (ws.kind != span.kind() || ws.status_code != span.status().code() ||
      ws.span_id != id_bits(span.span_id()) ||
      ws.parent_span_id != id_bits(span.parent_span_id()) ||
      ws.start_ns != span.start_time_unix_nano() || ws.end_ns != span.end_time_unix_nano() ||
      ws.Name(bytes) != span.name()) {
    return ::testing::AssertionFailure()
           << "scanned fields differ: kind " << ws.kind << " status " << ws.status_code << " start "
           << ws.start_ns << " end " << ws.end_ns << " name '" << ws.Name(bytes) << "', want "
           << span.ShortDebugString();
  }
  return ::testing::AssertionSuccess();
}

}  // namespace

Span SimpleSpan(uint64_t trace, uint64_t id, uint64_t parent) {
  Span span;
  span.set_trace_id(TraceIdBytes(trace));
  span.set_span_id(SpanIdBytes(id));
  if (parent != 0) span.set_parent_span_id(SpanIdBytes(parent));
  span.set_name(absl::StrCat("op-", id));
  span.set_start_time_unix_nano(1'700'000'000'000'000'000 + id);
  span.set_end_time_unix_nano(1'700'000'000'000'500'000 + id);
  AddAttr(span.mutable_attributes(), "http.route", "/api/v1/items");
  AddAttr(span.mutable_attributes(), "peer.service", "db");
  return span;
}

ExportTraceServiceRequest RealisticRequest() {
  ExportTraceServiceRequest req;
  uint64_t next_span = 1;
  for (int r = 0; r < 3; ++r) {
    ResourceSpans* rs = req.add_resource_spans();
    AddAttr(rs->mutable_resource()->mutable_attributes(), "service.name", absl::StrCat("svc-", r));
    AddAttr(rs->mutable_resource()->mutable_attributes(), "host.name", "héllo-host");
    rs->mutable_resource()->set_dropped_attributes_count(r);
    rs->set_schema_url("https://opentelemetry.io/schemas/1.21.0");
    for (int s = 0; s < 2; ++s) {
      ScopeSpans* ss = rs->add_scope_spans();
      ss->mutable_scope()->set_name(absl::StrCat("io.opentelemetry.lib", s));
      ss->mutable_scope()->set_version("1.2.3");
      AddAttr(ss->mutable_scope()->mutable_attributes(), "scope.attr", "x");
      if (s == 1) ss->set_schema_url("https://example.com/schema");
      for (int i = 0; i < 5; ++i) {
        const uint64_t id = next_span++;
        Span* span = ss->add_spans();
        *span = SimpleSpan(/*trace=*/id % 3, id, /*parent=*/i % 2 == 0 ? 0 : id + 100);
        span->set_trace_state("vendor=1");
        span->set_kind(Span::SPAN_KIND_SERVER);
        span->set_flags(0x301);
        KeyValue* kv = span->add_attributes();
        kv->set_key("int");
        kv->mutable_value()->set_int_value(-42);
        kv = span->add_attributes();
        kv->set_key("double");
        kv->mutable_value()->set_double_value(3.5);
        kv = span->add_attributes();
        kv->set_key("bool");
        kv->mutable_value()->set_bool_value(true);
        kv = span->add_attributes();
        kv->set_key("bytes");
        kv->mutable_value()->set_bytes_value(std::string("\xff\x00\x01", 3));
        kv = span->add_attributes();
        kv->set_key("array");
        auto* array = kv->mutable_value()->mutable_array_value();
        array->add_values()->set_string_value("ü");
        array->add_values()->set_int_value(7);
        array->add_values()->mutable_array_value()->add_values()->set_bool_value(false);
        kv = span->add_attributes();
        kv->set_key("kvlist");
        auto* list = kv->mutable_value()->mutable_kvlist_value();
        KeyValue* inner = list->add_values();
        inner->set_key("inner");
        inner->mutable_value()->mutable_kvlist_value()->add_values()->set_key("deepest");
        span->set_dropped_attributes_count(1);
        auto* event = span->add_events();
        event->set_time_unix_nano(1'700'000'000'000'100'000);
        event->set_name("exception");
        AddAttr(event->mutable_attributes(), "exception.message", "boom – ✓");
        auto* link = span->add_links();
        link->set_trace_id(TraceIdBytes(99));
        link->set_span_id(SpanIdBytes(99));
        link->set_trace_state("a=b");
        link->set_flags(1);
        AddAttr(link->mutable_attributes(), "link.kind", "follows");
        span->set_dropped_events_count(2);
        span->set_dropped_links_count(3);
        span->mutable_status()->set_code(
            opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
        span->mutable_status()->set_message("failed");
      }
    }
  }
  return req;
}

std::string SpanProblem(const Span& span) {
  if (span.trace_id().size() != kTraceIdBytes) {
    return absl::StrCat("trace_id must be 16 bytes, got ", span.trace_id().size());
  }
  if (!IsValidTraceId(span.trace_id())) return "trace_id is all zero";
  if (span.span_id().size() != kSpanIdBytes) {
    return absl::StrCat("span_id must be 8 bytes, got ", span.span_id().size());
  }
  if (!IsValidSpanId(span.span_id())) return "span_id is all zero";
  if (!span.parent_span_id().empty() && span.parent_span_id().size() != kSpanIdBytes) {
    return absl::StrCat("parent_span_id must be empty or 8 bytes, got ",
                        span.parent_span_id().size());
  }
  return "";
}

::testing::AssertionResult ScanAgreesWithProtobuf(const std::string& bytes, bool* scanned_ok) {
  WireRequest wire;
  const absl::Status status = ScanExportRequest(bytes, &wire);
  if (scanned_ok != nullptr) *scanned_ok = status.ok();
  ExportTraceServiceRequest req;
  const bool parsed = req.ParseFromString(bytes);
  if (status.ok() != parsed) {
    return ::testing::AssertionFailure() << "scan: " << status << ", protobuf parse ok: " << parsed;
  }
  if (!parsed) {
    if (status.code() != absl::StatusCode::kInvalidArgument || status.message().empty()) {
      return ::testing::AssertionFailure() << "unexpected error " << status;
    }
    return ::testing::AssertionSuccess();
  }
  if (wire.bytes != bytes) return ::testing::AssertionFailure() << "bytes not kept";

  // The expected spans: those with valid IDs, in order, with the rank of their group and
  // resource among the groups and resources that have valid spans.
  struct Expected {
    const Span* span;
    int r, s;
  };
  std::vector<Expected> expected;
  std::string message;
  int64_t rejected = 0;
  for (int r = 0; r < req.resource_spans_size(); ++r) {
    const auto& rs = req.resource_spans(r);
    for (int s = 0; s < rs.scope_spans_size(); ++s) {
      for (int i = 0; i < rs.scope_spans(s).spans_size(); ++i) {
        const Span& span = rs.scope_spans(s).spans(i);
        const std::string problem = SpanProblem(span);
        if (problem.empty()) {
          expected.push_back({&span, r, s});
          continue;
        }
        if (++rejected <= 3) {
          absl::StrAppend(&message, message.empty() ? "" : "; ", "resource_spans[", r,
                          "].scope_spans[", s, "].spans[", i, "]: ", problem);
        }
      }
    }
  }
  if (rejected > 3) absl::StrAppend(&message, " (and ", rejected - 3, " more invalid spans)");
  if (wire.rejected_spans != rejected || wire.error_message != message) {
    return ::testing::AssertionFailure()
           << "rejected " << wire.rejected_spans << " '" << wire.error_message << "', want "
           << rejected << " '" << message << "'";
  }
  if (wire.spans.size() != expected.size()) {
    return ::testing::AssertionFailure() << wire.spans.size() << " spans, want " << expected.size();
  }
  int group = -1, resource = -1, last_r = -1, last_s = -1;
  for (size_t k = 0; k < expected.size(); ++k) {
    const Expected& e = expected[k];
    if (e.r != last_r) ++resource;
    if (e.r != last_r || e.s != last_s) ++group;
    last_r = e.r;
    last_s = e.s;
    const WireSpan& ws = wire.spans[k];
    Span got;
    if (!got.ParseFromArray(wire.bytes.data() + ws.offset, static_cast<int>(ws.size)) ||
        got.SerializeAsString() != e.span->SerializeAsString()) {
      return ::testing::AssertionFailure() << "span " << k << " differs: " << got.DebugString()
                                           << " want " << e.span->DebugString();
    }
    if (ws.trace_id.view() != e.span->trace_id() ||
        ws.has_parent != !e.span->parent_span_id().empty()) {
      return ::testing::AssertionFailure() << "span " << k << ": wrong trace_id or has_parent";
    }
    if (::testing::AssertionResult fields = FieldsAgree(ws, wire.bytes, *e.span); !fields) {
      return fields << " (span " << k << ")";
    }
    if (ws.group != static_cast<uint32_t>(group) || group >= static_cast<int>(wire.groups.size()) ||
        wire.groups[group].resource != static_cast<uint32_t>(resource)) {
      return ::testing::AssertionFailure() << "span " << k << ": wrong group " << ws.group;
    }
    ScopeSpans want_scope = req.resource_spans(e.r).scope_spans(e.s);
    want_scope.clear_spans();
    ScopeSpans got_scope;
    if (!got_scope.ParseFromString(wire.groups[group].scope) ||
        got_scope.SerializeAsString() != want_scope.SerializeAsString()) {
      return ::testing::AssertionFailure() << "group " << group << " differs";
    }
    ResourceSpans want_resource = req.resource_spans(e.r);
    want_resource.clear_scope_spans();
    ResourceSpans got_resource;
    if (!got_resource.ParseFromString(wire.resources[resource]) ||
        got_resource.SerializeAsString() != want_resource.SerializeAsString()) {
      return ::testing::AssertionFailure() << "resource " << resource << " differs";
    }
  }
  if (wire.groups.size() != static_cast<size_t>(group + 1) ||
      wire.resources.size() != static_cast<size_t>(resource + 1)) {
    return ::testing::AssertionFailure() << "extra groups or resources";
  }
  return ::testing::AssertionSuccess();
}

void MutateBytes(std::mt19937_64& rng, std::string* bytes) {
  auto pick = [&](size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng() % n); };
  const int mutations = 1 + static_cast<int>(pick(3));
  for (int m = 0; m < mutations && !bytes->empty(); ++m) {
    const size_t at = pick(bytes->size());
    switch (pick(6)) {
      case 0:
        (*bytes)[at] = static_cast<char>(rng());
        break;
      case 1:
        (*bytes)[at] ^= static_cast<char>(1 << pick(8));
        break;
      case 2: {
        const size_t n = 1 + pick(4);
        for (size_t i = 0; i < n; ++i) bytes->insert(bytes->begin() + at, static_cast<char>(rng()));
        break;
      }
      case 3:
        bytes->erase(at, 1 + pick(8));
        break;
      case 4:
        bytes->resize(at);
        break;
      default:
        bytes->insert(at, bytes->substr(pick(bytes->size()), 1 + pick(16)));
        break;
    }
  }
}

}  // namespace tailtrace::wire_test
