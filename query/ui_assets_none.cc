// EmbeddedUiAssets() of a build with TAILTRACE_BUILD_UI=OFF: no files. The query port then answers
// the UI's paths with a page saying so (query_port.h).

#include "query/ui_assets.h"

namespace tailtrace::query {

std::span<const UiAsset> EmbeddedUiAssets() { return {}; }

}  // namespace tailtrace::query
