#include "absl/strings/str_cat.h"
#include "config/policies_internal.h"

namespace tailtrace::config::internal {

void ParseSamplingPolicies(ParseContext& ctx, const Field& field,
                           [[maybe_unused]] DaemonConfig* config) {
  if (field.value.IsNull()) return;
  if (!field.value.IsSequence()) {
    ctx.AddError(field.line(), field.path,
                 absl::StrCat("expected a list of policies, got ",
                              field.value.IsMap() ? "a mapping" : "a scalar"));
    return;
  }
  if (field.value.size() == 0) return;
  ctx.AddError(field.line(), field.path, "policies are not supported by this build yet");
}

}  // namespace tailtrace::config::internal
