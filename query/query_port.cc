#include "query/query_port.h"

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ui_files_internal.h"

namespace tailtrace::query {
namespace {

http::Response PlainText(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

// The API's paths, relative to the base path.
bool IsApiPath(std::string_view relative) {
  return relative == "/api" || relative.starts_with("/api/");
}

}  // namespace

absl::StatusOr<std::unique_ptr<QueryPort>> QueryPort::Create(const QueryOptions& options,
                                                             std::span<const UiAsset> assets,
                                                             ApiHandler api) {
  absl::StatusOr<std::string> base = NormalizeBasePath(options.base_path);
  if (!base.ok()) return base.status();
  if (*base != options.base_path) {
    return absl::InvalidArgumentError(absl::StrCat("base path \"", options.base_path,
                                                   "\" is not normalised; use \"", *base, "\""));
  }
  absl::StatusOr<std::unique_ptr<internal::UiFiles>> ui =
      internal::UiFiles::Create(assets, options.base_path);
  if (!ui.ok()) return ui.status();
  return std::unique_ptr<QueryPort>(new QueryPort(options, *std::move(ui), std::move(api)));
}

QueryPort::QueryPort(const QueryOptions& options, std::unique_ptr<internal::UiFiles> ui,
                     ApiHandler api)
    : base_path_(options.base_path),
      ui_enabled_(options.ui_enabled),
      ui_(std::move(ui)),
      api_(std::move(api)) {}

QueryPort::~QueryPort() = default;

std::optional<std::string_view> QueryPort::Relative(std::string_view path) const {
  if (!path.starts_with('/')) return std::nullopt;
  if (base_path_ == "/") return path;
  if (path.size() <= base_path_.size() || !path.starts_with(base_path_) ||
      path[base_path_.size()] != '/') {
    return std::nullopt;
  }
  return path.substr(base_path_.size());
}

std::string QueryPort::UiPath() const {
  return base_path_ == "/" ? "/" : absl::StrCat(base_path_, "/");
}

bool QueryPort::IsUiPath(std::string_view path) const {
  if (!ui_enabled_) return false;
  if (base_path_ != "/" && path == base_path_) return true;
  const std::optional<std::string_view> relative = Relative(path);
  return relative.has_value() && !IsApiPath(*relative);
}

http::Response QueryPort::Handle(const http::Request& request) const {
  const std::optional<std::string_view> relative = Relative(request.path);
  if (!relative.has_value()) {
    if (base_path_ != "/" && request.path == base_path_) {
      const size_t query = request.target.find('?');
      http::Response r = PlainText(302, absl::StrCat("see ", UiPath(), "\n"));
      r.headers.emplace_back(
          "Location",
          absl::StrCat(UiPath(), query == std::string::npos ? "" : request.target.substr(query)));
      return r;
    }
    return PlainText(404, absl::StrCat("not found: ", request.path, " is outside the base path ",
                                       base_path_, " (query.base_path); the UI is at ", UiPath(),
                                       " and the API at ", UiPath(), "api/\n"));
  }
  if (IsApiPath(*relative)) return api_(request, *relative);
  if (!ui_enabled_) {
    return PlainText(404, absl::StrCat("not found: ", request.path,
                                       "; the built-in UI is off (query.ui.enabled: false) and "
                                       "the API is at ",
                                       UiPath(), "api/\n"));
  }
  return ui_->Serve(request, *relative);
}

}  // namespace tailtrace::query
