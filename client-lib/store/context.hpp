// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Internal to the store: the open connection, the store key's subkeys, and the helpers every
// table uses to seal values, compute lookup keys, reuse statements and nest savepoints.
//
// Sealing: each table has its own XChaCha20-Poly1305 subkey; a value is stored as
// nonce(24) || ciphertext || tag(16), with associated data
//   "lotse/v1 store" || u32(format_version) || u32(len) table || (u32(len) part)*
// where the parts are the row's plaintext columns (its lookup key, sequence number, ...), so a
// value moved to another row or table, or a row whose plaintext columns were edited, fails to
// open. Lookup keys are BLAKE2b-256 keyed with an index subkey over the table name and the
// length-prefixed parts: equal ids give equal keys within a table, nothing across tables.
//
// What this does not hide (README.md, "What the file still reveals"): row counts per table and
// per lookup key (messages per conversation, sessions per account), value sizes rounded up to
// padding buckets, and the arrival order of rows (seq). Timestamps and "shown" state are sealed.
#include "store/error.hpp"
#include "store/sql.hpp"

#include "crypto/bytes.hpp"
#include "crypto/hash.hpp"
#include "crypto/key_wrap.hpp"
#include "crypto/rng.hpp"
#include "crypto/secret.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <utility>

namespace lotse::store::detail {

enum class Table : std::uint8_t {
  secrets,
  prekeys,
  base_keys,
  sessions,
  sender_keys,
  contacts,
  conversations,
  messages,
  outbox,
  envelopes,
  groups,
  message_ids,
};
inline constexpr std::size_t table_count = 12;
[[nodiscard]] std::string_view table_name(Table t) noexcept;

struct SubkeyTag {
  static constexpr const char* name = "StoreSubkey";
};
using Subkey = crypto::GuardedSecret<SubkeyTag, 32>;
using RowKey = crypto::Digest;

[[nodiscard]] inline std::array<std::uint8_t, 8> le64(std::uint64_t v) noexcept {
  std::array<std::uint8_t, 8> b{};
  for (std::size_t i = 0; i < 8; ++i) {
    b[i] = static_cast<std::uint8_t>(v >> (8 * i));
  }
  return b;
}
[[nodiscard]] inline std::array<std::uint8_t, 4> le32(std::uint32_t v) noexcept {
  std::array<std::uint8_t, 4> b{};
  for (std::size_t i = 0; i < 4; ++i) {
    b[i] = static_cast<std::uint8_t>(v >> (8 * i));
  }
  return b;
}

class Context;

// A cached statement, reset on entry and on exit (so no read stays open).
class Query {
public:
  explicit Query(sql::Statement& s) noexcept : s_(s) { s_.reset(); }
  ~Query() { s_.reset(); }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  Query(Query&&) = delete;
  Query& operator=(Query&&) = delete;
  sql::Statement* operator->() noexcept { return &s_; }

private:
  sql::Statement& s_;
};

// Savepoints nest (the outermost one is the transaction) and must end in reverse order of
// creation. begin returns the new depth; release throws sql::Error (e.g. the commit failed), and
// the savepoint is gone either way; rollback never throws.
[[nodiscard]] int begin_savepoint(Context& ctx);
void release_savepoint(Context& ctx, int depth);
void rollback_savepoint(Context& ctx, int depth) noexcept;

// RAII form: rolled back unless released.
class Savepoint {
public:
  explicit Savepoint(Context& ctx) : ctx_(&ctx), depth_(begin_savepoint(ctx)) {}
  ~Savepoint() { rollback(); }
  Savepoint(const Savepoint&) = delete;
  Savepoint& operator=(const Savepoint&) = delete;
  Savepoint(Savepoint&&) = delete;
  Savepoint& operator=(Savepoint&&) = delete;

  void release() {
    if (auto* ctx = std::exchange(ctx_, nullptr)) {
      release_savepoint(*ctx, depth_);
    }
  }
  void rollback() noexcept {
    if (auto* ctx = std::exchange(ctx_, nullptr)) {
      rollback_savepoint(*ctx, depth_);
    }
  }

private:
  Context* ctx_;
  int depth_;
};

class Context {
public:
  Context(sql::Connection db, crypto::StoreKey key, crypto::Rng& rng);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  Context(Context&&) = delete;
  Context& operator=(Context&&) = delete;

  [[nodiscard]] sql::Connection& db() noexcept { return db_; }
  [[nodiscard]] crypto::Rng& rng() noexcept { return rng_; }
  [[nodiscard]] const crypto::StoreKey& store_key() const noexcept { return key_; }

  [[nodiscard]] RowKey row_key(Table t, std::initializer_list<crypto::ByteView> parts) const;
  // Padding to crypto::padded_size buckets hides exact lengths (on for every table but the
  // fixed-size ones).
  [[nodiscard]] crypto::Bytes seal(Table t, std::initializer_list<crypto::ByteView> binding,
                                   crypto::ByteView plaintext);
  // errc::corrupt when the value does not authenticate for this table and row.
  [[nodiscard]] Result<crypto::WipedBytes> open(Table t,
                                                std::initializer_list<crypto::ByteView> binding,
                                                crypto::ByteView sealed) const;

  [[nodiscard]] Query query(std::string_view sql);

  [[nodiscard]] int savepoint_depth() const noexcept { return depth_; }

private:
  [[nodiscard]] crypto::Bytes associated_data(
      Table t, std::initializer_list<crypto::ByteView> binding) const;

  sql::Connection db_;
  crypto::StoreKey key_;
  crypto::Rng& rng_;
  std::array<Subkey, table_count> seal_keys_;
  Subkey index_key_;
  std::map<std::string, sql::Statement, std::less<>> statements_;  // after db_: finalised first
  int depth_ = 0;

  friend int begin_savepoint(Context&);
  friend void release_savepoint(Context&, int);
  friend void rollback_savepoint(Context&, int) noexcept;
};

// Runs fn (returning Result<T>) and turns SQLite failures into errc values: the boundary of
// every public store function.
template <class Fn>
auto guarded(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const sql::Error& e) {
    return e.busy() ? errc::profile_locked : errc::database_error;
  }
}

// The next seq of an AUTOINCREMENT table (messages, outbox, envelopes): its counter is never
// reused, even after the newest row is deleted, so a seq bound into a row's associated data and
// used as a cursor always means one row.
[[nodiscard]] std::uint64_t next_sequence(Context& ctx, Table t);
// A seq as an SQLite integer (saturating).
[[nodiscard]] std::int64_t as_sql(std::uint64_t v) noexcept;

// Checks an id argument: non-empty, at most max_id_bytes.
[[nodiscard]] bool valid_id(std::string_view id) noexcept;
[[nodiscard]] bool valid_id(crypto::ByteView id) noexcept;

}  // namespace lotse::store::detail
