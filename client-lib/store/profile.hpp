// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// One client profile: DIR/profile.db, an SQLite file whose contents are sealed under a random
// store key; the key is stored only wrapped by Argon2id of the passphrase (crypto/key_wrap).
// See client-lib/store/README.md for the format and for what the file still reveals.
#include "store/contacts.hpp"
#include "store/envelopes.hpp"
#include "store/error.hpp"
#include "store/groups.hpp"
#include "store/limits.hpp"
#include "store/messages.hpp"
#include "store/outbox.hpp"
#include "store/protocol_stores.hpp"
#include "store/secrets.hpp"

#include "crypto/key_wrap.hpp"
#include "crypto/rng.hpp"

#include <filesystem>
#include <memory>
#include <string_view>

namespace lotse::store {

namespace detail {
class Context;
}

// Argon2id cost for new profiles and passphrase changes: libsodium's "interactive" profile
// (2 passes, 64 MiB), bounded so that a cheap phone unlocks in about a second. Tests pass
// crypto::Argon2Params::minimum().
[[nodiscard]] crypto::Argon2Params default_argon2_params() noexcept;

class Profile;

// All-or-nothing over any number of store operations, e.g. "decrypted message + updated session
// + envelope marked processed" before the envelope is acknowledged to the relay. Rolled back
// unless committed. Transactions nest (as savepoints); an inner one must end before its outer
// one. commit() of the outermost makes everything durable (synchronous=FULL) before returning.
// A Transaction must not outlive its Profile.
class Transaction {
public:
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  // On failure everything is rolled back. Calling it on an inner transaction after its outer
  // one ended, or twice, throws std::logic_error.
  [[nodiscard]] Result<void> commit();
  void rollback() noexcept;

private:
  friend class Profile;
  Transaction(detail::Context& ctx, int depth) noexcept : ctx_(&ctx), depth_(depth) {}
  detail::Context* ctx_;
  int depth_;
};

class Profile {
public:
  // Creates DIR (0700, if missing) and DIR/profile.db (0600) with a fresh store key.
  // profile_exists when the file is already there; kdf_failed when params are out of bounds.
  [[nodiscard]] static Result<Profile> create(const std::filesystem::path& dir,
                                              std::string_view passphrase,
                                              const crypto::Argon2Params& params, crypto::Rng& rng);
  // The same with default_argon2_params().
  [[nodiscard]] static Result<Profile> create(const std::filesystem::path& dir,
                                              std::string_view passphrase, crypto::Rng& rng);
  // no_profile, not_a_profile, newer_format, passphrase_wrong, profile_locked (another
  // process has it open: one writer per profile, so session state cannot fork).
  // rng supplies every nonce the profile draws later.
  [[nodiscard]] static Result<Profile> open(const std::filesystem::path& dir,
                                            std::string_view passphrase, crypto::Rng& rng);
  [[nodiscard]] static bool exists(const std::filesystem::path& dir);

  Profile(Profile&&) noexcept;
  Profile& operator=(Profile&&) noexcept;
  Profile(const Profile&) = delete;
  Profile& operator=(const Profile&) = delete;
  ~Profile();  // closes the database and wipes the keys

  // Rewraps the store key (the data is not re-encrypted): a copy of the file taken before the
  // change still opens with the old passphrase. Then truncates the WAL so the old wrapping is
  // not left in it.
  [[nodiscard]] Result<void> change_passphrase(std::string_view new_passphrase,
                                               const crypto::Argon2Params& params);

  [[nodiscard]] Result<Transaction> begin();
  // Copies the WAL into the database file and truncates it (also done on close). Not inside a
  // Transaction (std::logic_error).
  [[nodiscard]] Result<void> checkpoint();

  [[nodiscard]] Secrets& secrets() noexcept;
  [[nodiscard]] ProfilePreKeyStore& prekeys() noexcept;
  [[nodiscard]] ProfileSessionStore& sessions() noexcept;
  [[nodiscard]] ProfileSenderKeyStore& sender_keys() noexcept;
  [[nodiscard]] Contacts& contacts() noexcept;
  [[nodiscard]] Messages& messages() noexcept;
  [[nodiscard]] Outbox& outbox() noexcept;
  [[nodiscard]] ProcessedEnvelopes& envelopes() noexcept;
  [[nodiscard]] Groups& groups() noexcept;

  [[nodiscard]] const std::filesystem::path& file() const noexcept;

private:
  struct Impl;
  explicit Profile(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lotse::store
