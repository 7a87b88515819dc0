#include "common/admin.h"

#include "common/utf8.h"

namespace tailtrace {

http::Handler MakeAdminHandler(MetricsRegistry* metrics, std::function<std::string()> ready) {
  return [metrics, ready = std::move(ready)](const http::Request& request) {
    http::Response response;
    response.content_type = "text/plain; charset=utf-8";
    if (request.method != "GET" && request.method != "HEAD") {
      response.status = 405;
      response.headers.emplace_back("Allow", "GET, HEAD");
      response.body = "method not allowed: " + SanitizeUtf8(request.method) + "\n";
      return response;
    }
    if (request.path == "/healthz") {
      response.body = "ok\n";
    } else if (request.path == "/readyz") {
      const std::string why_not = ready();
      if (why_not.empty()) {
        response.body = "ready\n";
      } else {
        response.status = 503;
        response.body = "not ready: " + why_not + "\n";
      }
    } else if (request.path == "/metrics") {
      response.content_type = "text/plain; version=0.0.4; charset=utf-8";
      response.body = metrics->RenderPrometheus();
    } else {
      response.status = 404;
      response.body =
          "not found: " + SanitizeUtf8(request.path) + " (try /healthz, /readyz, /metrics)\n";
    }
    return response;
  };
}

}  // namespace tailtrace
