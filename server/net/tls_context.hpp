// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Internal to server/net (Asio): the server's TLS context.
#include <boost/asio/ssl/context.hpp>

#include <filesystem>

namespace lotse::net {

// TLS 1.3 only (minimum and maximum), the certificate chain and key loaded and checked against each
// other, no compression, no session tickets and no session cache (clients reconnect rarely and a
// ticket key would be one more secret), SSL_MODE_RELEASE_BUFFERS so an idle connection does not
// keep its record buffers. Throws std::runtime_error with a sentence naming the file on failure.
[[nodiscard]] boost::asio::ssl::context make_server_tls_context(
    const std::filesystem::path& cert_file, const std::filesystem::path& key_file);

}  // namespace lotse::net
