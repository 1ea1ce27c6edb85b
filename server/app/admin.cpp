// SPDX-License-Identifier: AGPL-3.0-or-later
#include "app/admin.hpp"

#include "net/tls.hpp"

#include "crypto/hash.hpp"
#include "crypto/rng.hpp"
#include "wire/invite_link.hpp"

#include <stdexcept>

namespace lotse::app {
namespace {

std::filesystem::path certificate_file(const Config& config) {
  if (!config.certificate.empty()) {
    return config.certificate;
  }
  return net::ensure_self_signed_certificate(config.data_dir).certificate;
}

}  // namespace

void remember_invite_address(store::RelayStore& store, const std::string& host,
                             std::uint16_t port) {
  auto st = store.db().prepare(
      "INSERT INTO meta(key, value) VALUES ('invite_address', ?1) "
      "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  st.bind(1, host + "\n" + std::to_string(port)).run();
}

RelayAddress relay_address(const Config& config, store::RelayStore& store) {
  RelayAddress out;
  out.pin = net::certificate_pin(certificate_file(config));
  out.host = config.invite_host();
  out.port = config.invite_port(config.listen_port);
  if (config.public_host.empty()) {
    // A running relay recorded where it actually listens (the configured port may be 0).
    const auto stored =
        store.db().query_text("SELECT value FROM meta WHERE key = 'invite_address'");
    if (const auto nl = stored.find('\n'); nl != std::string::npos) {
      out.host = stored.substr(0, nl);
      out.port = static_cast<std::uint16_t>(std::stoul(stored.substr(nl + 1)));
    }
  }
  if (out.port == 0) {
    throw std::runtime_error(
        "cannot tell which port clients should use: set server.public_address or start the relay "
        "once");
  }
  return out;
}

std::string create_invite(const Config& config, store::RelayStore& store, store::Role role,
                          std::int64_t lifetime_seconds, std::uint32_t uses, std::int64_t now_ms) {
  const auto address = relay_address(config, store);
  std::array<std::uint8_t, 32> token_bytes{};
  crypto::system_rng().fill(token_bytes);
  const auto token = wire::base64url(token_bytes.data(), token_bytes.size());
  const auto hash = crypto::blake2b(crypto::as_bytes(token));
  store.begin();
  try {
    store.create_invite(hash, role, std::nullopt, uses, now_ms + lifetime_seconds * 1000, now_ms);
    store.commit();
  } catch (...) {
    store.rollback();
    throw;
  }
  const char* role_name = role == store::Role::admin   ? "admin"
                          : role == store::Role::staff ? "staff"
                                                       : "client";
  return wire::InviteLink{address.host, address.port, token, address.pin, role_name}.to_string();
}

}  // namespace lotse::app
