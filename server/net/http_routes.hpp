// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Internal to server/net (plain C++): which answer an HTTP request gets.
#include "net/http_handler.hpp"

#include <string_view>

namespace lotse::net {

// The path a WebSocket upgrade must ask for.
inline constexpr std::string_view websocket_path = "/v1/ws";

// The target without its query string.
[[nodiscard]] std::string_view target_path(std::string_view target) noexcept;

// GET /healthz -> 200 {"status":"ok"}; /healthz with another method -> 405; then `extra` (may be
// null); otherwise 404 {"error":"not found"}. Never throws for an exception in `extra` (500).
[[nodiscard]] HttpResponse route_http(const HttpRequest& request, HttpHandler* extra);

}  // namespace lotse::net
