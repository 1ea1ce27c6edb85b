// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Shared by the store tests: a temporary profile directory, cheap Argon2 parameters, and raw
// SQL access to a closed profile (to tamper with it the way an attacker with the file would).
#include "store/profile.hpp"
#include "store/protocol_stores.hpp"
#include "store/sql.hpp"

#include "protocol/session_cipher.hpp"

#include "support/party.hpp"

#include "crypto/key_wrap.hpp"
#include "crypto/rng.hpp"

#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace lotse::test {

class TempDir {
public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "lotse-store-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp");
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

private:
  std::filesystem::path path_;
};

inline crypto::Bytes bytes_of(std::string_view s) {
  return {s.begin(), s.end()};
}

inline crypto::Argon2Params cheap_params() {
  return crypto::Argon2Params::minimum();
}
inline constexpr const char* test_passphrase = "correct horse battery staple";

// A profile directory with a seeded RNG; create() and open() REQUIRE success.
struct ProfileFixture {
  explicit ProfileFixture(std::uint64_t seed = 1) : rng(seed) {}

  store::Profile create() {
    auto p = store::Profile::create(dir.path(), test_passphrase, cheap_params(), rng);
    REQUIRE(p);
    return std::move(*p);
  }
  store::Profile open() {
    auto p = store::Profile::open(dir.path(), test_passphrase, rng);
    REQUIRE(p);
    return std::move(*p);
  }
  [[nodiscard]] std::filesystem::path file() const { return dir.path() / "profile.db"; }

  TempDir dir;
  crypto::SeededRng rng;
};

// A device whose identity, prekeys, sessions and sender keys live in its own profile.
struct FileParty {
  FileParty(const std::string& name, std::uint64_t seed, std::size_t one_time_prekeys = 5)
      : fixture(seed), address{name, 1} {
    profile.emplace(fixture.create());
    auto generated = protocol::DeviceIdentity::generate(fixture.rng);
    REQUIRE(profile->secrets().save_device_identity(generated));
    auto spk = protocol::SignedPreKey::generate(generated, 1, fixture.rng);
    REQUIRE(profile->prekeys().add_signed_prekey(spk));
    signed_prekey = std::make_unique<protocol::SignedPreKey>(spk.clone());
    one_time = protocol::OneTimePreKey::generate_batch(100, one_time_prekeys, fixture.rng);
    REQUIRE(profile->prekeys().add_one_time_prekeys(one_time));
    load();
  }

  // Closes the profile (dropping everything in memory) and opens it again.
  void reopen() {
    cipher.reset();
    identity.reset();
    profile.reset();
    profile.emplace(fixture.open());
    load();
  }

  void load() {
    auto loaded = profile->secrets().load_device_identity();
    REQUIRE(loaded);
    REQUIRE(*loaded);
    identity.emplace(std::move(**loaded));
    cipher = std::make_unique<protocol::SessionCipher>(*identity, profile->sessions(),
                                                       profile->prekeys(), fixture.rng);
  }

  protocol::PreKeyBundle bundle() {
    const protocol::OneTimePreKey* opk = nullptr;
    if (next_one_time < one_time.size()) {
      opk = &one_time[next_one_time++];
    }
    return protocol::PreKeyBundle::make(*identity, *signed_prekey, opk);
  }

  ProfileFixture fixture;
  protocol::Address address;
  std::optional<store::Profile> profile;
  std::optional<protocol::DeviceIdentity> identity;
  std::unique_ptr<protocol::SessionCipher> cipher;
  std::unique_ptr<protocol::SignedPreKey> signed_prekey;
  std::vector<protocol::OneTimePreKey> one_time;
  std::size_t next_one_time = 0;
};

// Raw access to a closed profile file, bypassing the store.
class RawDb {
public:
  explicit RawDb(const std::filesystem::path& file)
      : db_(file, store::sql::Connection::Mode::open_existing) {}

  void exec(const std::string& sql) { db_.exec(sql); }
  // Runs a statement with one blob parameter.
  void exec_blob(const std::string& sql, crypto::ByteView blob) {
    auto st = db_.prepare(sql);
    st.bind(1, blob).run();
  }
  [[nodiscard]] std::int64_t count(const std::string& table) {
    return db_.query_int("SELECT count(*) FROM " + table);
  }
  // The blob in `column` of every row of `table`, ordered by `order_by` (default: itself).
  [[nodiscard]] std::vector<crypto::Bytes> blobs(const std::string& table,
                                                 const std::string& column,
                                                 const std::string& order_by = "1") {
    std::vector<crypto::Bytes> out;
    auto st = db_.prepare("SELECT " + column + " FROM " + table + " ORDER BY " + order_by);
    while (st.step()) {
      auto b = st.column_blob(0);
      out.emplace_back(b.begin(), b.end());
    }
    return out;
  }
  // Sets `column` to `value` in the row where `key_column` equals `key`.
  void set_blob(const std::string& table, const std::string& column, const std::string& key_column,
                crypto::ByteView key, crypto::ByteView value) {
    auto st =
        db_.prepare("UPDATE " + table + " SET " + column + " = ? WHERE " + key_column + " = ?");
    st.bind(1, value).bind(2, key).run();
    REQUIRE(db_.changes() == 1);
  }
  // Flips one bit in the middle of `column` of the row where `key_column` equals `key`.
  void flip_bit(const std::string& table, const std::string& column, const std::string& key_column,
                crypto::ByteView key) {
    auto st = db_.prepare("SELECT " + column + " FROM " + table + " WHERE " + key_column + " = ?");
    st.bind(1, key);
    REQUIRE(st.step());
    auto b = st.column_blob(0);
    crypto::Bytes value(b.begin(), b.end());
    st.reset();
    value[value.size() / 2] ^= 0x10;
    set_blob(table, column, key_column, key, value);
  }
  // The primary keys of a table, in order (to address rows whose keys are keyed hashes).
  [[nodiscard]] std::vector<crypto::Bytes> keys(const std::string& table,
                                                const std::string& key_column = "key") {
    return blobs(table, key_column);
  }
  // Swaps `column` between the rows whose `key_column` values are a and b.
  void swap_blobs(const std::string& table, const std::string& column,
                  const std::string& key_column, crypto::ByteView a, crypto::ByteView b) {
    auto get = [&](crypto::ByteView key) {
      auto st =
          db_.prepare("SELECT " + column + " FROM " + table + " WHERE " + key_column + " = ?");
      st.bind(1, key);
      REQUIRE(st.step());
      auto v = st.column_blob(0);
      return crypto::Bytes(v.begin(), v.end());
    };
    const auto va = get(a);
    const auto vb = get(b);
    set_blob(table, column, key_column, a, vb);
    set_blob(table, column, key_column, b, va);
  }
  [[nodiscard]] store::sql::Connection& connection() noexcept { return db_; }

private:
  store::sql::Connection db_;
};

}  // namespace lotse::test
