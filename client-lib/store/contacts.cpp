// SPDX-License-Identifier: AGPL-3.0-or-later
#include "store/contacts.hpp"

#include "store/context.hpp"
#include "store/limits.hpp"
#include "store/record.hpp"

#include <algorithm>
#include <tuple>

namespace lotse::store {
namespace {

constexpr std::uint8_t record_version = 1;

using detail::Table;

crypto::WipedBytes encode(const Contact& c) {
  detail::RecordWriter w(record_version, 128 + c.display_name.size() + c.devices.size() * 140);
  w.text(c.account_id).u8(static_cast<std::uint8_t>(c.role)).text(c.display_name);
  w.boolean(c.account_key.has_value());
  if (c.account_key) {
    w.bytes(c.account_key->bytes());
  }
  w.u32(static_cast<std::uint32_t>(c.devices.size()));
  for (const auto& d : c.devices) {
    w.u32(d.device_id).bytes(d.identity.serialise());
  }
  w.boolean(c.verified).boolean(c.key_changed).i64(c.created_at_ms);
  return w.finish();
}

Result<Contact> decode(crypto::ByteView bytes) {
  detail::RecordReader r(bytes);
  Contact c;
  if (r.u8() != record_version) {
    return errc::corrupt;
  }
  c.account_id = r.text();
  const auto role = r.u8();
  if (role > static_cast<std::uint8_t>(AccountRole::client)) {
    return errc::corrupt;
  }
  c.role = static_cast<AccountRole>(role);
  c.display_name = r.text();
  if (r.boolean()) {
    c.account_key = crypto::Ed25519PublicKey::from_bytes(r.bytes());
    if (!c.account_key) {
      return errc::corrupt;
    }
  }
  const auto n = r.u32();
  if (n > max_contact_devices) {
    return errc::corrupt;
  }
  for (std::uint32_t i = 0; i < n && !r.failed(); ++i) {
    const auto device_id = r.u32();
    auto identity = protocol::IdentityPublicKey::parse(r.bytes());
    if (!identity) {
      return errc::corrupt;
    }
    c.devices.push_back({device_id, *identity});
  }
  c.verified = r.boolean();
  c.key_changed = r.boolean();
  c.created_at_ms = r.i64();
  if (!r.finish()) {
    return errc::corrupt;
  }
  return c;
}

}  // namespace

Result<bool> Contacts::upsert(const Contact& contact) {
  if (!detail::valid_id(contact.account_id) || contact.display_name.size() > max_text_bytes ||
      contact.devices.size() > max_contact_devices) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<bool> {
    const auto key = ctx_.row_key(Table::contacts, {crypto::as_bytes(contact.account_id)});
    const auto plain = encode(contact);
    detail::Savepoint sp(ctx_);
    bool existed = false;
    {
      auto q = ctx_.query("SELECT 1 FROM contacts WHERE key = ?");
      q->bind(1, key);
      existed = q->step();
    }
    auto q = ctx_.query("INSERT OR REPLACE INTO contacts (key, value) VALUES (?, ?)");
    q->bind(1, key).bind(2, ctx_.seal(Table::contacts, {key}, plain.view())).run();
    sp.release();
    return !existed;
  });
}

Result<std::optional<Contact>> Contacts::find(std::string_view account_id) {
  if (!detail::valid_id(account_id)) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<std::optional<Contact>> {
    const auto key = ctx_.row_key(Table::contacts, {crypto::as_bytes(account_id)});
    auto q = ctx_.query("SELECT value FROM contacts WHERE key = ?");
    q->bind(1, key);
    if (!q->step()) {
      return std::nullopt;
    }
    auto plain = ctx_.open(Table::contacts, {key}, q->column_blob(0));
    if (!plain) {
      return plain.error();
    }
    auto contact = decode(plain->view());
    if (!contact || contact->account_id != account_id) {
      return errc::corrupt;
    }
    return std::move(*contact);
  });
}

Result<std::vector<Contact>> Contacts::list() {
  return detail::guarded([&]() -> Result<std::vector<Contact>> {
    std::vector<Contact> out;
    auto q = ctx_.query("SELECT key, value FROM contacts");
    while (q->step()) {
      auto plain = ctx_.open(Table::contacts, {q->column_blob(0)}, q->column_blob(1));
      if (!plain) {
        return plain.error();
      }
      auto contact = decode(plain->view());
      if (!contact) {
        return contact.error();
      }
      out.push_back(std::move(*contact));
    }
    std::sort(out.begin(), out.end(), [](const Contact& a, const Contact& b) {
      return std::tie(a.display_name, a.account_id) < std::tie(b.display_name, b.account_id);
    });
    return out;
  });
}

Result<bool> Contacts::remove(std::string_view account_id) {
  if (!detail::valid_id(account_id)) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<bool> {
    const auto key = ctx_.row_key(Table::contacts, {crypto::as_bytes(account_id)});
    auto q = ctx_.query("DELETE FROM contacts WHERE key = ?");
    q->bind(1, key).run();
    return ctx_.db().changes() > 0;
  });
}

}  // namespace lotse::store
