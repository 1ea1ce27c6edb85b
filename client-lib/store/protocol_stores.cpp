// SPDX-License-Identifier: AGPL-3.0-or-later
#include "store/protocol_stores.hpp"

#include "store/context.hpp"
#include "store/limits.hpp"
#include "store/record.hpp"

#include "protocol/sender_key.hpp"

#include <algorithm>
#include <string>

namespace lotse::store {
namespace {

constexpr std::uint8_t record_version = 1;

// Every group id the protocol accepts fits the store's id bound.
static_assert(protocol::max_group_id_bytes <= max_id_bytes);

using detail::Table;

// The protocol interfaces cannot return errors: a failure becomes StoreFailure.
template <class T>
T or_throw(Result<T> r, const char* what) {
  if (!r) {
    throw StoreFailure(static_cast<errc>(r.error().value()), what);
  }
  return std::move(*r);
}

void or_throw(Result<void> r, const char* what) {
  if (!r) {
    throw StoreFailure(static_cast<errc>(r.error().value()), what);
  }
}

crypto::ByteView text_bytes(std::string_view s) {
  return crypto::as_bytes(s);
}

bool same(crypto::ByteView a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](std::uint8_t x, char y) { return x == static_cast<std::uint8_t>(y); });
}

bool same(crypto::ByteView a, crypto::ByteView b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

}  // namespace

// ---- prekeys ---------------------------------------------------------------------------------

Result<void> ProfilePreKeyStore::add_signed_prekey(const protocol::SignedPreKey& spk) {
  return detail::guarded([&]() -> Result<void> {
    const auto k = static_cast<std::uint8_t>(Kind::signed_prekey);
    const auto id = detail::le32(spk.id);
    const auto key = ctx_.row_key(Table::prekeys, {{&k, 1}, id});
    auto plain = detail::RecordWriter(record_version, 160)
                     .u32(spk.id)
                     .bytes(spk.key.secret_key().secret_bytes())
                     .bytes(spk.key.public_key().bytes())
                     .bytes(spk.signature.bytes())
                     .finish();
    auto q = ctx_.query("INSERT OR REPLACE INTO prekeys (key, kind, value) VALUES (?, ?, ?)");
    q->bind(1, key)
        .bind(2, std::int64_t{k})
        .bind(3, ctx_.seal(Table::prekeys, {key, {&k, 1}}, plain.view()))
        .run();
    return {};
  });
}

Result<void> ProfilePreKeyStore::add_one_time_prekeys(
    std::span<const protocol::OneTimePreKey> keys) {
  return detail::guarded([&]() -> Result<void> {
    const auto k = static_cast<std::uint8_t>(Kind::one_time);
    detail::Savepoint sp(ctx_);
    for (const auto& opk : keys) {
      const auto id = detail::le32(opk.id);
      const auto key = ctx_.row_key(Table::prekeys, {{&k, 1}, id});
      auto plain = detail::RecordWriter(record_version, 96)
                       .u32(opk.id)
                       .bytes(opk.key.secret_key().secret_bytes())
                       .bytes(opk.key.public_key().bytes())
                       .finish();
      auto q = ctx_.query("INSERT OR REPLACE INTO prekeys (key, kind, value) VALUES (?, ?, ?)");
      q->bind(1, key)
          .bind(2, std::int64_t{k})
          .bind(3, ctx_.seal(Table::prekeys, {key, {&k, 1}}, plain.view()))
          .run();
    }
    sp.release();
    return {};
  });
}

Result<bool> ProfilePreKeyStore::remove_signed_prekey(std::uint32_t id) {
  return detail::guarded([&]() -> Result<bool> {
    const auto k = static_cast<std::uint8_t>(Kind::signed_prekey);
    const auto key = ctx_.row_key(Table::prekeys, {{&k, 1}, detail::le32(id)});
    auto q = ctx_.query("DELETE FROM prekeys WHERE key = ?");
    q->bind(1, key).run();
    return ctx_.db().changes() > 0;
  });
}

Result<std::vector<std::uint32_t>> ProfilePreKeyStore::ids(Kind kind) {
  return detail::guarded([&]() -> Result<std::vector<std::uint32_t>> {
    const auto k = static_cast<std::uint8_t>(kind);
    std::vector<std::uint32_t> out;
    auto q = ctx_.query("SELECT key, value FROM prekeys WHERE kind = ?");
    q->bind(1, std::int64_t{k});
    while (q->step()) {
      auto plain = ctx_.open(Table::prekeys, {q->column_blob(0), {&k, 1}}, q->column_blob(1));
      if (!plain) {
        return plain.error();
      }
      detail::RecordReader r(plain->view());
      if (r.u8() != record_version) {
        return errc::corrupt;
      }
      out.push_back(r.u32());
      if (r.failed()) {
        return errc::corrupt;
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  });
}

Result<std::vector<std::uint32_t>> ProfilePreKeyStore::signed_prekey_ids() {
  return ids(Kind::signed_prekey);
}

Result<std::vector<std::uint32_t>> ProfilePreKeyStore::one_time_prekey_ids() {
  return ids(Kind::one_time);
}

Result<std::size_t> ProfilePreKeyStore::one_time_prekey_count() {
  return detail::guarded([&]() -> Result<std::size_t> {
    auto q = ctx_.query("SELECT count(*) FROM prekeys WHERE kind = ?");
    q->bind(1, std::int64_t{static_cast<std::uint8_t>(Kind::one_time)});
    return q->step() ? static_cast<std::size_t>(q->column_int(0)) : 0;
  });
}

std::optional<protocol::SignedPreKey> ProfilePreKeyStore::load_signed_prekey(std::uint32_t id) {
  auto r = detail::guarded([&]() -> Result<std::optional<protocol::SignedPreKey>> {
    const auto k = static_cast<std::uint8_t>(Kind::signed_prekey);
    const auto key = ctx_.row_key(Table::prekeys, {{&k, 1}, detail::le32(id)});
    auto q = ctx_.query("SELECT value FROM prekeys WHERE key = ?");
    q->bind(1, key);
    if (!q->step()) {
      return std::nullopt;
    }
    auto plain = ctx_.open(Table::prekeys, {key, {&k, 1}}, q->column_blob(0));
    if (!plain) {
      return plain.error();
    }
    detail::RecordReader rd(plain->view());
    const bool version_ok = rd.u8() == record_version;
    const auto stored_id = rd.u32();
    const auto secret = rd.bytes();
    const auto pub = crypto::X25519PublicKey::from_bytes(rd.bytes());
    const auto sig = crypto::Signature::from_bytes(rd.bytes());
    if (!version_ok || !rd.finish() || stored_id != id || !pub || !sig) {
      return errc::corrupt;
    }
    auto pair = crypto::LongTermDhKeyPair::from_stored(secret, *pub);
    if (!pair) {
      return errc::corrupt;
    }
    return protocol::SignedPreKey{id, std::move(*pair), *sig};
  });
  return or_throw(std::move(r), "load_signed_prekey");
}

std::optional<protocol::OneTimePreKey> ProfilePreKeyStore::load_one_time_prekey(std::uint32_t id) {
  auto r = detail::guarded([&]() -> Result<std::optional<protocol::OneTimePreKey>> {
    const auto k = static_cast<std::uint8_t>(Kind::one_time);
    const auto key = ctx_.row_key(Table::prekeys, {{&k, 1}, detail::le32(id)});
    auto q = ctx_.query("SELECT value FROM prekeys WHERE key = ?");
    q->bind(1, key);
    if (!q->step()) {
      return std::nullopt;
    }
    auto plain = ctx_.open(Table::prekeys, {key, {&k, 1}}, q->column_blob(0));
    if (!plain) {
      return plain.error();
    }
    detail::RecordReader rd(plain->view());
    const bool version_ok = rd.u8() == record_version;
    const auto stored_id = rd.u32();
    const auto secret = rd.bytes();
    const auto pub = crypto::X25519PublicKey::from_bytes(rd.bytes());
    if (!version_ok || !rd.finish() || stored_id != id || !pub) {
      return errc::corrupt;
    }
    auto pair = crypto::LongTermDhKeyPair::from_stored(secret, *pub);
    if (!pair) {
      return errc::corrupt;
    }
    return protocol::OneTimePreKey{id, std::move(*pair)};
  });
  return or_throw(std::move(r), "load_one_time_prekey");
}

void ProfilePreKeyStore::remove_one_time_prekey(std::uint32_t id) {
  or_throw(detail::guarded([&]() -> Result<void> {
             const auto k = static_cast<std::uint8_t>(Kind::one_time);
             const auto key = ctx_.row_key(Table::prekeys, {{&k, 1}, detail::le32(id)});
             auto q = ctx_.query("DELETE FROM prekeys WHERE key = ?");
             q->bind(1, key).run();
             return {};
           }),
           "remove_one_time_prekey");
}

bool ProfilePreKeyStore::base_key_seen(const crypto::X25519PublicKey& base_key) {
  return or_throw(detail::guarded([&]() -> Result<bool> {
                    const auto key = ctx_.row_key(Table::base_keys, {base_key.bytes()});
                    auto q = ctx_.query("SELECT 1 FROM base_keys WHERE key = ?");
                    q->bind(1, key);
                    return q->step();
                  }),
                  "base_key_seen");
}

void ProfilePreKeyStore::remember_base_key(const crypto::X25519PublicKey& base_key) {
  or_throw(detail::guarded([&]() -> Result<void> {
             const auto key = ctx_.row_key(Table::base_keys, {base_key.bytes()});
             auto q = ctx_.query("INSERT OR IGNORE INTO base_keys (key) VALUES (?)");
             q->bind(1, key).run();
             return {};
           }),
           "remember_base_key");
}

// ---- sessions --------------------------------------------------------------------------------

namespace {

constexpr std::string_view address_label = "address";
constexpr std::string_view account_label = "account";

}  // namespace

Result<std::vector<std::uint32_t>> ProfileSessionStore::devices_with_session(
    std::string_view name) {
  if (!detail::valid_id(name)) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<std::vector<std::uint32_t>> {
    const auto name_key =
        ctx_.row_key(Table::sessions, {text_bytes(account_label), text_bytes(name)});
    std::vector<std::uint32_t> out;
    auto q = ctx_.query("SELECT key, value FROM sessions WHERE name_key = ?");
    q->bind(1, name_key);
    while (q->step()) {
      auto plain = ctx_.open(Table::sessions, {q->column_blob(0), name_key}, q->column_blob(1));
      if (!plain) {
        return plain.error();
      }
      detail::RecordReader r(plain->view());
      const bool version_ok = r.u8() == record_version;
      const auto stored_name = r.bytes();
      const auto device = r.u32();
      if (!version_ok || r.failed() || !same(stored_name, name)) {
        return errc::corrupt;
      }
      out.push_back(device);
    }
    std::sort(out.begin(), out.end());
    return out;
  });
}

Result<std::size_t> ProfileSessionStore::remove_sessions(std::string_view name) {
  if (!detail::valid_id(name)) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<std::size_t> {
    const auto name_key =
        ctx_.row_key(Table::sessions, {text_bytes(account_label), text_bytes(name)});
    auto q = ctx_.query("DELETE FROM sessions WHERE name_key = ?");
    q->bind(1, name_key).run();
    return static_cast<std::size_t>(ctx_.db().changes());
  });
}

std::optional<crypto::WipedBytes> ProfileSessionStore::load_session(
    const protocol::Address& address) {
  auto r = detail::guarded([&]() -> Result<std::optional<crypto::WipedBytes>> {
    const auto key = ctx_.row_key(
        Table::sessions,
        {text_bytes(address_label), text_bytes(address.name), detail::le32(address.device)});
    const auto name_key =
        ctx_.row_key(Table::sessions, {text_bytes(account_label), text_bytes(address.name)});
    auto q = ctx_.query("SELECT value FROM sessions WHERE key = ?");
    q->bind(1, key);
    if (!q->step()) {
      return std::nullopt;
    }
    auto plain = ctx_.open(Table::sessions, {key, name_key}, q->column_blob(0));
    if (!plain) {
      return plain.error();
    }
    detail::RecordReader rd(plain->view());
    const bool version_ok = rd.u8() == record_version;
    const auto stored_name = rd.bytes();
    const auto device = rd.u32();
    const auto state = rd.bytes();
    if (!version_ok || !rd.finish() || !same(stored_name, address.name) ||
        device != address.device) {
      return errc::corrupt;
    }
    return crypto::WipedBytes(crypto::Bytes(state.begin(), state.end()));
  });
  return or_throw(std::move(r), "load_session");
}

void ProfileSessionStore::store_session(const protocol::Address& address, crypto::ByteView state) {
  if (!detail::valid_id(address.name) || state.size() > max_value_bytes) {
    throw StoreFailure(errc::invalid_argument, "store_session");
  }
  or_throw(
      detail::guarded([&]() -> Result<void> {
        const auto key = ctx_.row_key(
            Table::sessions,
            {text_bytes(address_label), text_bytes(address.name), detail::le32(address.device)});
        const auto name_key =
            ctx_.row_key(Table::sessions, {text_bytes(account_label), text_bytes(address.name)});
        auto plain = detail::RecordWriter(record_version, state.size() + address.name.size() + 16)
                         .text(address.name)
                         .u32(address.device)
                         .bytes(state)
                         .finish();
        auto q =
            ctx_.query("INSERT OR REPLACE INTO sessions (key, name_key, value) VALUES (?, ?, ?)");
        q->bind(1, key)
            .bind(2, name_key)
            .bind(3, ctx_.seal(Table::sessions, {key, name_key}, plain.view()))
            .run();
        return {};
      }),
      "store_session");
}

void ProfileSessionStore::remove_session(const protocol::Address& address) {
  or_throw(detail::guarded([&]() -> Result<void> {
             const auto key =
                 ctx_.row_key(Table::sessions, {text_bytes(address_label), text_bytes(address.name),
                                                detail::le32(address.device)});
             auto q = ctx_.query("DELETE FROM sessions WHERE key = ?");
             q->bind(1, key).run();
             return {};
           }),
           "remove_session");
}

// ---- sender keys -----------------------------------------------------------------------------

namespace {

constexpr std::string_view sender_label = "sender";
constexpr std::string_view group_label = "group";

}  // namespace

Result<std::size_t> ProfileSenderKeyStore::remove_group(crypto::ByteView group_id) {
  if (!detail::valid_id(group_id)) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<std::size_t> {
    const auto group_key = ctx_.row_key(Table::sender_keys, {text_bytes(group_label), group_id});
    auto q = ctx_.query("DELETE FROM sender_keys WHERE group_key = ?");
    q->bind(1, group_key).run();
    return static_cast<std::size_t>(ctx_.db().changes());
  });
}

std::optional<crypto::WipedBytes> ProfileSenderKeyStore::load_sender_key(
    crypto::ByteView group_id, const protocol::Address& sender) {
  auto r = detail::guarded([&]() -> Result<std::optional<crypto::WipedBytes>> {
    const auto key = ctx_.row_key(
        Table::sender_keys,
        {text_bytes(sender_label), group_id, text_bytes(sender.name), detail::le32(sender.device)});
    const auto group_key = ctx_.row_key(Table::sender_keys, {text_bytes(group_label), group_id});
    auto q = ctx_.query("SELECT value FROM sender_keys WHERE key = ?");
    q->bind(1, key);
    if (!q->step()) {
      return std::nullopt;
    }
    auto plain = ctx_.open(Table::sender_keys, {key, group_key}, q->column_blob(0));
    if (!plain) {
      return plain.error();
    }
    detail::RecordReader rd(plain->view());
    const bool version_ok = rd.u8() == record_version;
    const auto stored_group = rd.bytes();
    const auto stored_name = rd.bytes();
    const auto device = rd.u32();
    const auto record = rd.bytes();
    if (!version_ok || !rd.finish() || !same(stored_group, group_id) ||
        !same(stored_name, sender.name) || device != sender.device) {
      return errc::corrupt;
    }
    return crypto::WipedBytes(crypto::Bytes(record.begin(), record.end()));
  });
  return or_throw(std::move(r), "load_sender_key");
}

void ProfileSenderKeyStore::store_sender_key(crypto::ByteView group_id,
                                             const protocol::Address& sender,
                                             crypto::ByteView record) {
  if (!detail::valid_id(group_id) || !detail::valid_id(sender.name) ||
      record.size() > max_value_bytes) {
    throw StoreFailure(errc::invalid_argument, "store_sender_key");
  }
  or_throw(detail::guarded([&]() -> Result<void> {
             const auto key = ctx_.row_key(
                 Table::sender_keys, {text_bytes(sender_label), group_id, text_bytes(sender.name),
                                      detail::le32(sender.device)});
             const auto group_key =
                 ctx_.row_key(Table::sender_keys, {text_bytes(group_label), group_id});
             auto plain = detail::RecordWriter(record_version, record.size() + group_id.size() +
                                                                   sender.name.size() + 24)
                              .bytes(group_id)
                              .text(sender.name)
                              .u32(sender.device)
                              .bytes(record)
                              .finish();
             auto q = ctx_.query(
                 "INSERT OR REPLACE INTO sender_keys (key, group_key, value) VALUES (?, ?, ?)");
             q->bind(1, key)
                 .bind(2, group_key)
                 .bind(3, ctx_.seal(Table::sender_keys, {key, group_key}, plain.view()))
                 .run();
             return {};
           }),
           "store_sender_key");
}

void ProfileSenderKeyStore::remove_sender_key(crypto::ByteView group_id,
                                              const protocol::Address& sender) {
  or_throw(detail::guarded([&]() -> Result<void> {
             const auto key = ctx_.row_key(
                 Table::sender_keys, {text_bytes(sender_label), group_id, text_bytes(sender.name),
                                      detail::le32(sender.device)});
             auto q = ctx_.query("DELETE FROM sender_keys WHERE key = ?");
             q->bind(1, key).run();
             return {};
           }),
           "remove_sender_key");
}

}  // namespace lotse::store
