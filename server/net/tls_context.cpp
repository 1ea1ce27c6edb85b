// SPDX-License-Identifier: AGPL-3.0-or-later
#include "net/tls_context.hpp"

#include <boost/system/error_code.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdexcept>
#include <string>

namespace lotse::net {

boost::asio::ssl::context make_server_tls_context(const std::filesystem::path& cert_file,
                                                  const std::filesystem::path& key_file) {
  namespace ssl = boost::asio::ssl;
  ssl::context ctx(ssl::context::tls_server);
  SSL_CTX* native = ctx.native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(native, TLS1_3_VERSION) != 1) {
    ERR_clear_error();
    throw std::runtime_error("This OpenSSL cannot restrict TLS to version 1.3.");
  }
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_num_tickets(native, 0);
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);

  boost::system::error_code ec;
  ctx.use_certificate_chain_file(cert_file.string(), ec);
  if (ec) {
    ERR_clear_error();
    throw std::runtime_error("Could not load the TLS certificate " + cert_file.string() + ": " +
                             ec.message() + ".");
  }
  ctx.use_private_key_file(key_file.string(), ssl::context::pem, ec);
  if (ec) {
    ERR_clear_error();
    throw std::runtime_error("Could not load the TLS private key " + key_file.string() + ": " +
                             ec.message() + ".");
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    throw std::runtime_error("The TLS private key " + key_file.string() +
                             " does not belong to the certificate " + cert_file.string() + ".");
  }
  return ctx;
}

}  // namespace lotse::net
