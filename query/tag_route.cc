#include "tag_route_internal.h"

#include <string>
#include <vector>

#include "api_responses_internal.h"
#include "search_params.h"

namespace tailtrace::query::internal {

http::Response TagSuggestionsResponse(bool values, const http::Request& request,
                                      TraceReader* reader, PartialErrors* partial, int64_t now_ns) {
  absl::StatusOr<storage::TagSuggestionQuery> query =
      ParseTagSuggestionQuery(request, values, now_ns);
  if (!query.ok()) return V3Error(400, MessageOf(query.status()), partial->messages());
  absl::StatusOr<std::vector<std::string>> names = reader->SuggestTags(*query, partial);
  if (!names.ok()) {
    if (absl::IsInvalidArgument(names.status())) {
      return V3Error(400, MessageOf(names.status()), partial->messages());
    }
    return StoreError(Api::kV3, values ? "listing tag values" : "listing tag keys", names.status(),
                      partial->messages());
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key(values ? "tagValues" : "tagKeys");
  w.StartArray();
  for (const std::string& name : *names) WriteString(w, name);
  w.EndArray();
  WriteV3PartialErrors(w, partial->messages());
  w.EndObject();
  return JsonResponse(200, buf);
}

}  // namespace tailtrace::query::internal
