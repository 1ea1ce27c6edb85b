// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Internal to client-lib/net: TLS trust by pin. The relay is recognised by the SHA-256 of its
// certificate's DER SubjectPublicKeyInfo and nothing else: no CA, no name check, no expiry check
// (a self-hosted relay's self-signed certificate is pinned by the invite).
#include "net/relay_endpoint.hpp"

#include <boost/asio/ssl/context.hpp>

#include <openssl/x509.h>

#include <optional>

namespace lotse::net_client {

// TLS 1.3 only, peer verification on, no trust store loaded.
void configure_client_tls(boost::asio::ssl::context& tls);

// SHA-256 of the certificate's DER SubjectPublicKeyInfo; nullopt if it cannot be encoded.
[[nodiscard]] std::optional<CertificatePin> spki_sha256(X509* certificate);

}  // namespace lotse::net_client
