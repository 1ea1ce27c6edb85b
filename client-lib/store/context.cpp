// SPDX-License-Identifier: AGPL-3.0-or-later
#include "store/context.hpp"

#include "store/limits.hpp"

#include "crypto/aead.hpp"
#include "crypto/hkdf.hpp"
#include "crypto/padding.hpp"

#include <algorithm>
#include <limits>
#include <string>

namespace lotse::store::detail {
namespace {

constexpr std::string_view ad_domain = "lotse/v1 store";
constexpr std::string_view seal_info_prefix = "lotse/v1 store seal ";
constexpr std::string_view index_info = "lotse/v1 store index";

// Tables whose values have one fixed size gain nothing from padding.
bool padded(Table t) noexcept {
  return t != Table::envelopes;
}

void derive(const crypto::StoreKey& key, std::string_view info, Subkey& out) {
  out.write([&](std::span<std::uint8_t, 32> bytes) {
    // The store key is uniformly random, so it serves as HKDF's input keying material directly
    // (RFC 5869 section 3.3); the info string separates the purposes.
    if (!crypto::hkdf({}, key.secret_bytes(), crypto::as_bytes(info), bytes)) {
      throw std::logic_error("hkdf refused a 32-byte output");
    }
  });
}

void put_part(crypto::Bytes& out, crypto::ByteView part) {
  crypto::append(out, le32(static_cast<std::uint32_t>(part.size())));
  crypto::append(out, part);
}

crypto::AeadKey aead_key(const Subkey& k) {
  return crypto::AeadKey::from_bytes(k.secret_bytes());
}

}  // namespace

std::string_view table_name(Table t) noexcept {
  switch (t) {
    case Table::secrets: return "secrets";
    case Table::prekeys: return "prekeys";
    case Table::base_keys: return "base_keys";
    case Table::sessions: return "sessions";
    case Table::sender_keys: return "sender_keys";
    case Table::contacts: return "contacts";
    case Table::conversations: return "conversations";
    case Table::messages: return "messages";
    case Table::outbox: return "outbox";
    case Table::envelopes: return "envelopes";
    case Table::groups: return "groups";
    case Table::message_ids: return "message_ids";
  }
  return "unknown";
}

Context::Context(sql::Connection db, crypto::StoreKey key, crypto::Rng& rng)
    : db_(std::move(db)), key_(std::move(key)), rng_(rng) {
  for (std::size_t i = 0; i < table_count; ++i) {
    const std::string info =
        std::string(seal_info_prefix) + std::string(table_name(static_cast<Table>(i)));
    derive(key_, info, seal_keys_[i]);
  }
  derive(key_, index_info, index_key_);
}

Context::~Context() = default;

RowKey Context::row_key(Table t, std::initializer_list<crypto::ByteView> parts) const {
  crypto::Blake2b h(32, index_key_.secret_bytes());
  const auto name = table_name(t);
  h.update(le32(static_cast<std::uint32_t>(name.size())));
  h.update(crypto::as_bytes(name));
  for (const auto& p : parts) {
    h.update(le32(static_cast<std::uint32_t>(p.size())));
    h.update(p);
  }
  return h.final256();
}

crypto::Bytes Context::associated_data(Table t,
                                       std::initializer_list<crypto::ByteView> binding) const {
  crypto::Bytes ad;
  ad.reserve(64 + 40 * binding.size());
  crypto::append(ad, crypto::as_bytes(ad_domain));
  crypto::append(ad, le32(format_version));
  put_part(ad, crypto::as_bytes(table_name(t)));
  for (const auto& p : binding) {
    put_part(ad, p);
  }
  return ad;
}

crypto::Bytes Context::seal(Table t, std::initializer_list<crypto::ByteView> binding,
                            crypto::ByteView plaintext) {
  const auto key = aead_key(seal_keys_[static_cast<std::size_t>(t)]);
  const auto ad = associated_data(t, binding);
  if (!padded(t)) {
    return crypto::aead::seal_random_nonce(key, ad, plaintext, rng_);
  }
  const crypto::WipedBytes padded_plaintext(crypto::pad(plaintext));
  return crypto::aead::seal_random_nonce(key, ad, padded_plaintext.view(), rng_);
}

Result<crypto::WipedBytes> Context::open(Table t, std::initializer_list<crypto::ByteView> binding,
                                         crypto::ByteView sealed) const {
  const auto key = aead_key(seal_keys_[static_cast<std::size_t>(t)]);
  auto plain = crypto::aead::open_random_nonce(key, associated_data(t, binding), sealed);
  if (!plain) {
    return errc::corrupt;
  }
  crypto::WipedBytes opened(std::move(*plain));
  if (!padded(t)) {
    return opened;
  }
  auto unpadded = crypto::unpad(opened.view());
  if (!unpadded) {
    return errc::corrupt;
  }
  return crypto::WipedBytes(std::move(*unpadded));
}

Query Context::query(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    it = statements_.emplace(std::string(sql), db_.prepare(sql)).first;
  }
  return Query(it->second);
}

int begin_savepoint(Context& ctx) {
  const int depth = ctx.depth_ + 1;
  ctx.db().exec("SAVEPOINT lotse_" + std::to_string(depth));
  ctx.depth_ = depth;
  return depth;
}

void release_savepoint(Context& ctx, int depth) {
  ctx.depth_ = depth - 1;
  try {
    ctx.db().exec("RELEASE lotse_" + std::to_string(depth));
  } catch (const sql::Error&) {
    // A failed commit leaves the transaction open: roll it back so nothing half-written stays.
    rollback_savepoint(ctx, depth);
    if (depth == 1 && ctx.db().in_transaction()) {
      try {
        ctx.db().exec("ROLLBACK");
      } catch (const sql::Error&) {  // NOLINT(bugprone-empty-catch): nothing more to undo
      }
    }
    throw;
  }
}

void rollback_savepoint(Context& ctx, int depth) noexcept {
  ctx.depth_ = depth - 1;
  try {
    // After some errors (disk full, I/O) SQLite has already rolled the whole transaction back,
    // and this fails harmlessly with "no such savepoint".
    const std::string name = "lotse_" + std::to_string(depth);
    ctx.db().exec("ROLLBACK TO " + name + "; RELEASE " + name);
  } catch (const sql::Error&) {  // NOLINT(bugprone-empty-catch)
  }
}

std::uint64_t next_sequence(Context& ctx, Table t) {
  auto q = ctx.query("SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = ?), 0) + 1");
  q->bind(1, table_name(t));
  return q->step() ? static_cast<std::uint64_t>(q->column_int(0)) : 1;
}

std::int64_t as_sql(std::uint64_t v) noexcept {
  constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(std::min(v, max));
}

bool valid_id(std::string_view id) noexcept {
  return !id.empty() && id.size() <= max_id_bytes;
}
bool valid_id(crypto::ByteView id) noexcept {
  return !id.empty() && id.size() <= max_id_bytes;
}

}  // namespace lotse::store::detail
