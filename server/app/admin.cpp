// SPDX-License-Identifier: AGPL-3.0-or-later
#include "app/admin.hpp"

#include "net/tls.hpp"
#include "relay/retention.hpp"
#include "store/blob_files.hpp"

#include "crypto/hash.hpp"
#include "crypto/rng.hpp"
#include "wire/invite_link.hpp"

#include <ctime>
#include <stdexcept>
#include <string>
#include <vector>

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
  wire::InviteLink link;
  link.host = address.host;
  link.port = address.port;
  link.token = token;
  link.pin = address.pin;
  link.role = role_name;
  return link.to_string();
}

namespace {

std::string iso_time(std::int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

const char* role_name(store::Role role) {
  switch (role) {
    case store::Role::admin: return "admin";
    case store::Role::staff: return "staff";
    case store::Role::client: return "client";
  }
  return "client";
}

}  // namespace

std::string list_users(store::RelayStore& store) {
  std::vector<const store::Account*> accounts = store.staff_directory();
  std::vector<const store::Account*> clients;
  auto q = store.db().prepare("SELECT id FROM accounts WHERE role = 3 ORDER BY public_id");
  while (q.step()) {
    if (const auto* a = store.account(q.column_int(0))) {
      clients.push_back(a);
    }
  }
  accounts.insert(accounts.end(), clients.begin(), clients.end());
  std::string out;
  for (const auto* a : accounts) {
    out += a->public_id + " " + role_name(a->role) +
           " handle=" + (a->handle.empty() ? "-" : a->handle) +
           " devices=" + std::to_string(store.devices_of(a->id).size()) +
           " created=" + iso_time(a->created_at) + " last_seen=" + iso_time(a->last_seen_at) + "\n";
  }
  return out;
}

std::string remove_user(const Config& config, store::RelayStore& store, const std::string& account,
                        std::int64_t now_ms) {
  const store::Account* a = store.account_by_public_id(account);
  if (a == nullptr) {
    a = store.account_by_handle(account);
  }
  if (a == nullptr) {
    throw std::runtime_error("no account \"" + account +
                             "\" on this relay (give an account id or a staff handle; "
                             "`lotse-relay users list` shows them)");
  }
  relay::ErasedAccount erased;
  store.begin();
  try {
    erased = relay::erase_account(store, config.limits, a->id, now_ms, "relay-admin",
                                  "account.erased.admin");
    store.commit();
  } catch (...) {
    store.rollback();
    store.reload();
    throw;
  }
  // The rows are gone for good: now the files (a file without a row is removed at the next
  // start anyway, so a crash here loses nothing that should stay).
  const store::BlobFiles files(store.blob_directory());
  for (const auto& id : erased.blobs) {
    files.remove(id);
  }
  store.make_deletions_final();
  return "erased " + erased.public_id + ": " + std::to_string(erased.erasure.devices.size()) +
         " device(s), " + std::to_string(erased.blobs.size()) + " blob(s); " +
         std::to_string(erased.erasure.notices.size()) + " contact device(s) notified";
}

std::string show_policy(const Config& config) {
  std::string out;
  for (const auto& spec : option_specs()) {
    const bool retention =
        spec.name.rfind("policy.", 0) == 0 || spec.name == "limits.envelope_lifetime" ||
        spec.name == "limits.blob_lifetime" || spec.name == "limits.upload_timeout" ||
        spec.name == "limits.send_dedup_window" || spec.name == "limits.max_invite_lifetime" ||
        spec.name == "limits.deletion_journal_lifetime" ||
        spec.name == "limits.blob_sweep_interval";
    if (retention) {
      out += spec.name + " = " + spec.get(config) + "\n";
    }
  }
  return out;
}

}  // namespace lotse::app
