// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The extension point for HTTPS routes next to the WebSocket endpoint (plain C++, no Beast).
// The server answers GET /healthz itself and asks the HttpHandler, if any, about everything else
// that is not a WebSocket upgrade on /v1/ws; what the handler declines gets 404.
#include <optional>
#include <string>

namespace lotse::net {

struct HttpRequest {
  std::string method;         // "GET", "POST", ...
  std::string target;         // path and query as sent, e.g. "/v1/blob/abc?x=1"
  std::string content_type;   // empty if absent
  std::string authorization;  // empty if absent; never log it
  std::string body;           // at most ServerOptions::max_http_body_bytes
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class HttpHandler {
public:
  virtual ~HttpHandler() = default;
  // Called on the connection's I/O thread, concurrently for different connections: must not block
  // and must be thread-safe. nullopt: not mine (404). An exception answers 500.
  [[nodiscard]] virtual std::optional<HttpResponse> handle(const HttpRequest& request) = 0;
};

}  // namespace lotse::net
