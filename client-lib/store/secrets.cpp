// SPDX-License-Identifier: AGPL-3.0-or-later
#include "store/secrets.hpp"

#include "store/context.hpp"
#include "store/limits.hpp"
#include "store/record.hpp"

#include <algorithm>

namespace lotse::store {
namespace {

// Names of the typed items (put/get should stay clear of the "lotse." prefix).
constexpr std::string_view device_identity_name = "lotse.device_identity";
constexpr std::string_view account_key_name = "lotse.account_key";
constexpr std::string_view own_account_name = "lotse.own_account";
constexpr std::string_view relay_name = "lotse.relay";

constexpr std::uint8_t record_version = 1;

using detail::Table;

}  // namespace

Result<void> Secrets::put_kind(Kind kind, std::string_view name, crypto::ByteView value) {
  if (!detail::valid_id(name) || value.size() > max_value_bytes) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<void> {
    const auto k = static_cast<std::uint8_t>(kind);
    const auto key = ctx_.row_key(Table::secrets, {{&k, 1}, crypto::as_bytes(name)});
    auto plain = detail::RecordWriter(record_version, name.size() + value.size() + 16)
                     .text(name)
                     .bytes(value)
                     .finish();
    const auto sealed = ctx_.seal(Table::secrets, {key, {&k, 1}}, plain.view());
    auto q = ctx_.query("INSERT OR REPLACE INTO secrets (key, kind, value) VALUES (?, ?, ?)");
    q->bind(1, key).bind(2, std::int64_t{k}).bind(3, sealed).run();
    return {};
  });
}

Result<std::optional<crypto::WipedBytes>> Secrets::get_kind(Kind kind, std::string_view name) {
  if (!detail::valid_id(name)) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<std::optional<crypto::WipedBytes>> {
    const auto k = static_cast<std::uint8_t>(kind);
    const auto key = ctx_.row_key(Table::secrets, {{&k, 1}, crypto::as_bytes(name)});
    auto q = ctx_.query("SELECT value FROM secrets WHERE key = ?");
    q->bind(1, key);
    if (!q->step()) {
      return std::nullopt;
    }
    auto plain = ctx_.open(Table::secrets, {key, {&k, 1}}, q->column_blob(0));
    if (!plain) {
      return plain.error();
    }
    detail::RecordReader r(plain->view());
    if (r.u8() != record_version) {
      return errc::corrupt;
    }
    const auto stored_name = r.bytes();
    const auto value = r.bytes();
    if (!r.finish() ||
        !std::equal(stored_name.begin(), stored_name.end(), name.begin(), name.end(),
                    [](std::uint8_t a, char b) { return a == static_cast<std::uint8_t>(b); })) {
      return errc::corrupt;
    }
    return crypto::WipedBytes(crypto::Bytes(value.begin(), value.end()));
  });
}

Result<bool> Secrets::remove_kind(Kind kind, std::string_view name) {
  if (!detail::valid_id(name)) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<bool> {
    const auto k = static_cast<std::uint8_t>(kind);
    const auto key = ctx_.row_key(Table::secrets, {{&k, 1}, crypto::as_bytes(name)});
    auto q = ctx_.query("DELETE FROM secrets WHERE key = ?");
    q->bind(1, key).run();
    return ctx_.db().changes() > 0;
  });
}

Result<void> Secrets::put(std::string_view name, crypto::ByteView value) {
  return put_kind(Kind::item, name, value);
}

Result<std::optional<crypto::WipedBytes>> Secrets::get(std::string_view name) {
  return get_kind(Kind::item, name);
}

Result<bool> Secrets::remove(std::string_view name) {
  return remove_kind(Kind::item, name);
}

Result<void> Secrets::save_device_identity(const protocol::DeviceIdentity& identity) {
  return put(device_identity_name, identity.serialise_secret().view());
}

Result<std::optional<protocol::DeviceIdentity>> Secrets::load_device_identity() {
  auto bytes = get(device_identity_name);
  if (!bytes) {
    return bytes.error();
  }
  if (!*bytes) {
    return std::nullopt;
  }
  auto identity = protocol::DeviceIdentity::parse_secret((*bytes)->view());
  if (!identity) {
    return errc::corrupt;
  }
  return std::move(*identity);
}

Result<void> Secrets::save_account_key(const crypto::SigningKeyPair& key) {
  return put(account_key_name, key.secret_key().secret_bytes());
}

Result<std::optional<crypto::SigningKeyPair>> Secrets::load_account_key() {
  auto bytes = get(account_key_name);
  if (!bytes) {
    return bytes.error();
  }
  if (!*bytes) {
    return std::nullopt;
  }
  auto key = crypto::SigningKeyPair::from_stored((*bytes)->view());
  if (!key) {
    return errc::corrupt;
  }
  return std::move(*key);
}

Result<void> Secrets::save_own_account(const OwnAccount& account) {
  if (!detail::valid_id(account.account_id)) {
    return errc::invalid_argument;
  }
  auto plain = detail::RecordWriter(record_version)
                   .text(account.account_id)
                   .u32(account.device_id)
                   .u8(static_cast<std::uint8_t>(account.role))
                   .finish();
  return put(own_account_name, plain.view());
}

Result<std::optional<OwnAccount>> Secrets::load_own_account() {
  auto bytes = get(own_account_name);
  if (!bytes) {
    return bytes.error();
  }
  if (!*bytes) {
    return std::nullopt;
  }
  detail::RecordReader r((*bytes)->view());
  OwnAccount account;
  const bool version_ok = r.u8() == record_version;
  account.account_id = r.text();
  account.device_id = r.u32();
  const auto role = r.u8();
  if (!version_ok || !r.finish() || role > static_cast<std::uint8_t>(AccountRole::client)) {
    return errc::corrupt;
  }
  account.role = static_cast<AccountRole>(role);
  return account;
}

Result<void> Secrets::save_relay(const RelayEndpoint& relay) {
  if (relay.address.size() > max_text_bytes || relay.certificate_pin.size() > max_text_bytes) {
    return errc::invalid_argument;
  }
  auto plain = detail::RecordWriter(record_version)
                   .text(relay.address)
                   .bytes(crypto::as_bytes(relay.certificate_pin))
                   .finish();
  return put(relay_name, plain.view());
}

Result<std::optional<RelayEndpoint>> Secrets::load_relay() {
  auto bytes = get(relay_name);
  if (!bytes) {
    return bytes.error();
  }
  if (!*bytes) {
    return std::nullopt;
  }
  detail::RecordReader r((*bytes)->view());
  RelayEndpoint relay;
  const bool version_ok = r.u8() == record_version;
  relay.address = r.text();
  relay.certificate_pin = r.text();
  if (!version_ok || !r.finish()) {
    return errc::corrupt;
  }
  return relay;
}

Result<void> Secrets::set_setting(std::string_view name, std::string_view value) {
  if (value.size() > max_text_bytes) {
    return errc::invalid_argument;
  }
  return put_kind(Kind::setting, name, crypto::as_bytes(value));
}

Result<std::optional<std::string>> Secrets::setting(std::string_view name) {
  auto bytes = get_kind(Kind::setting, name);
  if (!bytes) {
    return bytes.error();
  }
  if (!*bytes) {
    return std::nullopt;
  }
  const auto v = (*bytes)->view();
  return std::string(v.begin(), v.end());
}

Result<bool> Secrets::remove_setting(std::string_view name) {
  return remove_kind(Kind::setting, name);
}

Result<std::vector<std::pair<std::string, std::string>>> Secrets::settings() {
  return detail::guarded([&]() -> Result<std::vector<std::pair<std::string, std::string>>> {
    const auto k = static_cast<std::uint8_t>(Kind::setting);
    std::vector<std::pair<std::string, std::string>> out;
    auto q = ctx_.query("SELECT key, value FROM secrets WHERE kind = ?");
    q->bind(1, std::int64_t{k});
    while (q->step()) {
      auto plain = ctx_.open(Table::secrets, {q->column_blob(0), {&k, 1}}, q->column_blob(1));
      if (!plain) {
        return plain.error();
      }
      detail::RecordReader r(plain->view());
      const bool version_ok = r.u8() == record_version;
      auto name = r.text();
      auto value = r.text();
      if (!version_ok || !r.finish()) {
        return errc::corrupt;
      }
      out.emplace_back(std::move(name), std::move(value));
    }
    std::sort(out.begin(), out.end());
    return out;
  });
}

}  // namespace lotse::store
