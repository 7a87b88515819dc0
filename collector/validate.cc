#include "collector/validate.h"

#include "absl/strings/str_cat.h"
#include "proto/otlp_ids.h"

namespace tailtrace::collector {
namespace {

constexpr int kMaxReportedProblems = 3;

// Returns "" when the span is valid, otherwise what is wrong with it.
std::string SpanProblem(const opentelemetry::proto::trace::v1::Span& span) {
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

}  // namespace

ValidationResult ValidateAndStrip(
    opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest* request) {
  ValidationResult result;
  int reported = 0;
  auto* all_rs = request->mutable_resource_spans();
  for (int r = 0; r < all_rs->size(); ++r) {
    auto* scopes = all_rs->Mutable(r)->mutable_scope_spans();
    for (int s = 0; s < scopes->size(); ++s) {
      auto* spans = scopes->Mutable(s)->mutable_spans();
      int kept = 0;
      for (int i = 0; i < spans->size(); ++i) {
        std::string problem = SpanProblem(spans->Get(i));
        if (problem.empty()) {
          if (kept != i) spans->SwapElements(kept, i);
          ++kept;
          continue;
        }
        ++result.rejected_spans;
        if (reported < kMaxReportedProblems) {
          absl::StrAppend(&result.error_message, result.error_message.empty() ? "" : "; ",
                          "resource_spans[", r, "].scope_spans[", s, "].spans[", i, "]: ", problem);
          ++reported;
        }
      }
      result.accepted_spans += kept;
      while (spans->size() > kept) spans->RemoveLast();
    }
  }
  if (result.rejected_spans > reported) {
    absl::StrAppend(&result.error_message, " (and ", result.rejected_spans - reported,
                    " more invalid spans)");
  }
  if (result.rejected_spans > 0) {
    // Drop groups left empty so downstream never sees a resource without spans.
    for (int r = all_rs->size() - 1; r >= 0; --r) {
      auto* scopes = all_rs->Mutable(r)->mutable_scope_spans();
      for (int s = scopes->size() - 1; s >= 0; --s) {
        if (scopes->Get(s).spans_size() == 0) scopes->DeleteSubrange(s, 1);
      }
      if (scopes->empty()) all_rs->DeleteSubrange(r, 1);
    }
  }
  return result;
}

}  // namespace tailtrace::collector
