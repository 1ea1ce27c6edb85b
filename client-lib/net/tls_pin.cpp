// SPDX-License-Identifier: AGPL-3.0-or-later
#include "net/tls_pin.hpp"

#include <openssl/evp.h>
#include <openssl/ssl.h>

namespace lotse::net_client {

void configure_client_tls(boost::asio::ssl::context& tls) {
  SSL_CTX* ctx = tls.native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  // No session tickets to keep: every connection proves the pinned key afresh.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  tls.set_verify_mode(boost::asio::ssl::verify_peer);
}

std::optional<CertificatePin> spki_sha256(X509* certificate) {
  if (certificate == nullptr) {
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int size = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(certificate), &der);
  if (size <= 0) {
    return std::nullopt;
  }
  CertificatePin pin{};
  unsigned int out = 0;
  const int ok =
      EVP_Digest(der, static_cast<std::size_t>(size), pin.data(), &out, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  if (ok != 1 || out != pin.size()) {
    return std::nullopt;
  }
  return pin;
}

}  // namespace lotse::net_client
