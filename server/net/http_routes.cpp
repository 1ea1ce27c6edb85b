// SPDX-License-Identifier: AGPL-3.0-or-later
#include "net/http_routes.hpp"

#include <utility>

namespace lotse::net {
namespace {

HttpResponse json(unsigned status, const char* body) {
  return HttpResponse{status, "application/json", body};
}

}  // namespace

std::string_view target_path(std::string_view target) noexcept {
  return target.substr(0, target.find('?'));
}

HttpResponse route_http(const HttpRequest& request, HttpHandler* extra) {
  if (target_path(request.target) == "/healthz") {
    if (request.method != "GET") {
      return json(405, R"({"error":"method not allowed"})");
    }
    return json(200, R"({"status":"ok"})");
  }
  if (extra != nullptr) {
    try {
      if (auto response = extra->handle(request)) {
        return std::move(*response);
      }
    } catch (...) {
      return json(500, R"({"error":"internal"})");
    }
  }
  return json(404, R"({"error":"not found"})");
}

}  // namespace lotse::net
