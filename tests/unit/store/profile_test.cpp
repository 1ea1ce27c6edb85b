// SPDX-License-Identifier: AGPL-3.0-or-later
// Profile lifecycle: create, open, reopen, wrong passphrase, missing/newer/foreign files,
// passphrase change, the single-writer lock and file permissions.
#include "store/profile.hpp"

#include "unit/store/store_fixture.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <fstream>
#include <iterator>

using namespace lotse;
using store::errc;
using test::ProfileFixture;
using test::RawDb;

namespace {

crypto::Bytes read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

unsigned mode_of(const std::filesystem::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777U;
}

}  // namespace

TEST_SUITE_BEGIN("store.profile");
TEST_CASE("create, close, open again") {
  ProfileFixture f;
  CHECK_FALSE(store::Profile::exists(f.dir.path()));
  {
    auto p = f.create();
    REQUIRE(p.secrets().set_setting("theme", "dark"));
    CHECK(p.file() == f.file());
  }
  CHECK(store::Profile::exists(f.dir.path()));
  auto p = f.open();
  auto theme = p.secrets().setting("theme");
  REQUIRE(theme);
  CHECK(*theme == std::optional<std::string>("dark"));

  // A moved profile keeps working.
  store::Profile moved = std::move(p);
  CHECK(moved.secrets().setting("theme").value() == std::optional<std::string>("dark"));
}

TEST_CASE("create refuses an existing profile and leaves it alone") {
  ProfileFixture f;
  { REQUIRE(f.create().secrets().set_setting("k", "v")); }
  const auto before = read_file(f.file());
  auto again = store::Profile::create(f.dir.path(), "other", test::cheap_params(), f.rng);
  CHECK(again.error() == errc::profile_exists);
  CHECK(read_file(f.file()) == before);
  CHECK(f.open().secrets().setting("k").value() == std::optional<std::string>("v"));
}

TEST_CASE("a missing profile, a directory and foreign files are refused") {
  ProfileFixture f;
  CHECK(store::Profile::open(f.dir.path(), test::test_passphrase, f.rng).error() ==
        errc::no_profile);
  CHECK(store::Profile::open(f.dir.path() / "nowhere", test::test_passphrase, f.rng).error() ==
        errc::no_profile);

  SUBCASE("a directory in its place") {
    std::filesystem::create_directory(f.file());
    CHECK(store::Profile::open(f.dir.path(), test::test_passphrase, f.rng).error() ==
          errc::not_a_profile);
  }
  SUBCASE("random bytes") {
    std::ofstream(f.file(), std::ios::binary) << std::string(4096, 'x');
    CHECK(store::Profile::open(f.dir.path(), test::test_passphrase, f.rng).error() ==
          errc::not_a_profile);
  }
  SUBCASE("an SQLite database that is not a profile") {
    {
      store::sql::Connection db(f.file(), store::sql::Connection::Mode::create);
      db.exec("CREATE TABLE t (x INTEGER)");
    }
    CHECK(store::Profile::open(f.dir.path(), test::test_passphrase, f.rng).error() ==
          errc::not_a_profile);
  }
}

TEST_CASE("a wrong passphrase is an error value, and the right one still works") {
  ProfileFixture f;
  { (void)f.create(); }
  CHECK(store::Profile::open(f.dir.path(), "wrong horse", f.rng).error() == errc::passphrase_wrong);
  CHECK(store::Profile::open(f.dir.path(), "", f.rng).error() == errc::passphrase_wrong);
  CHECK(store::Profile::open(f.dir.path(), test::test_passphrase, f.rng));
}

TEST_CASE("a newer format is refused before the passphrase is tried, and the file is untouched") {
  ProfileFixture f;
  { (void)f.create(); }
  { RawDb(f.file()).exec("UPDATE header SET format = 2"); }
  const auto before = read_file(f.file());
  CHECK(store::Profile::open(f.dir.path(), "even a wrong passphrase", f.rng).error() ==
        errc::newer_format);
  CHECK(store::Profile::open(f.dir.path(), test::test_passphrase, f.rng).error() ==
        errc::newer_format);
  CHECK(read_file(f.file()) == before);

  { RawDb(f.file()).exec("UPDATE header SET format = 0"); }
  CHECK(store::Profile::open(f.dir.path(), test::test_passphrase, f.rng).error() ==
        errc::not_a_profile);
}

TEST_CASE("a damaged header is not_a_profile; out-of-bound Argon2 costs are refused") {
  ProfileFixture f;
  { (void)f.create(); }
  const auto wrapped = RawDb(f.file()).blobs("header", "wrapped_key").at(0);

  SUBCASE("truncated wrapping") {
    RawDb(f.file()).exec("UPDATE header SET wrapped_key = substr(wrapped_key, 1, 20)");
    CHECK(store::Profile::open(f.dir.path(), test::test_passphrase, f.rng).error() ==
          errc::not_a_profile);
  }
  SUBCASE("a flipped byte of the sealed key: indistinguishable from a wrong passphrase") {
    auto evil = wrapped;
    evil[evil.size() - 5] ^= 0x01;
    RawDb(f.file()).exec_blob("UPDATE header SET wrapped_key = ? WHERE id = 1", evil);
    CHECK(store::Profile::open(f.dir.path(), test::test_passphrase, f.rng).error() ==
          errc::passphrase_wrong);
  }
  SUBCASE("memory cost raised to 1 TiB (a file must not make us allocate that)") {
    auto evil = wrapped;
    evil[12 + 5] = 0x01;  // mem_limit (u64 LE at offset 12) |= 2^40
    RawDb(f.file()).exec_blob("UPDATE header SET wrapped_key = ? WHERE id = 1", evil);
    CHECK(store::Profile::open(f.dir.path(), test::test_passphrase, f.rng).error() ==
          errc::not_a_profile);
  }
  SUBCASE("no header row") {
    RawDb(f.file()).exec("DELETE FROM header");
    CHECK(store::Profile::open(f.dir.path(), test::test_passphrase, f.rng).error() ==
          errc::not_a_profile);
  }
}

TEST_CASE("create with out-of-bound Argon2 costs fails and leaves nothing") {
  ProfileFixture f;
  auto p = store::Profile::create(f.dir.path(), "x", crypto::Argon2Params{1, 1}, f.rng);
  CHECK(p.error() == errc::kdf_failed);
  CHECK_FALSE(store::Profile::exists(f.dir.path()));
}

TEST_CASE("changing the passphrase rewraps: the old one stops working, the data stays") {
  ProfileFixture f;
  {
    auto p = f.create();
    REQUIRE(p.secrets().set_setting("k", "v"));
    REQUIRE(p.change_passphrase("new passphrase", test::cheap_params()));
    // Still usable after the change.
    REQUIRE(p.secrets().set_setting("k2", "v2"));
  }
  CHECK(store::Profile::open(f.dir.path(), test::test_passphrase, f.rng).error() ==
        errc::passphrase_wrong);
  auto p = store::Profile::open(f.dir.path(), "new passphrase", f.rng);
  REQUIRE(p);
  CHECK(p->secrets().setting("k").value() == std::optional<std::string>("v"));
  CHECK(p->secrets().setting("k2").value() == std::optional<std::string>("v2"));
  CHECK(p->change_passphrase("x", crypto::Argon2Params{1, 1}).error() == errc::kdf_failed);
}

TEST_CASE("one profile has one writer: a second open is profile_locked until the first closes") {
  ProfileFixture f;
  {
    auto first = f.create();
    CHECK(store::Profile::open(f.dir.path(), test::test_passphrase, f.rng).error() ==
          errc::profile_locked);
    REQUIRE(first.secrets().set_setting("still", "works"));
  }
  {
    auto reopened = f.open();
    CHECK(store::Profile::open(f.dir.path(), test::test_passphrase, f.rng).error() ==
          errc::profile_locked);
  }
  CHECK(store::Profile::open(f.dir.path(), test::test_passphrase, f.rng));
}

TEST_CASE("the profile file is 0600 and a directory the store creates is 0700") {
  test::TempDir base;
  const auto dir = base.path() / "nested" / "profile";
  crypto::SeededRng rng(3);
  auto p = store::Profile::create(dir, test::test_passphrase, test::cheap_params(), rng);
  REQUIRE(p);
  REQUIRE(p->secrets().set_setting("k", "v"));
  CHECK(mode_of(dir / "profile.db") == 0600U);
  CHECK(mode_of(dir) == 0700U);
  if (std::filesystem::exists(dir / "profile.db-wal")) {
    CHECK(mode_of(dir / "profile.db-wal") == 0600U);
  }
}

TEST_CASE("a trigger planted in the file makes it not_a_profile") {
  ProfileFixture f;
  { (void)f.create(); }
  {
    RawDb(f.file()).exec(
        "CREATE TABLE loot (v BLOB); CREATE TRIGGER steal AFTER INSERT ON messages "
        "BEGIN INSERT INTO loot VALUES (new.value); END;");
  }
  CHECK(store::Profile::open(f.dir.path(), test::test_passphrase, f.rng).error() ==
        errc::not_a_profile);
}

TEST_CASE("default Argon2 parameters are libsodium's interactive profile, and create uses them") {
  const auto params = store::default_argon2_params();
  CHECK(params.ops_limit == crypto::Argon2Params::interactive().ops_limit);
  CHECK(params.mem_limit == crypto::Argon2Params::interactive().mem_limit);
  ProfileFixture f;
  { REQUIRE(store::Profile::create(f.dir.path(), test::test_passphrase, f.rng)); }
  const auto wrapped =
      crypto::WrappedKey::parse(RawDb(f.file()).blobs("header", "wrapped_key").at(0));
  REQUIRE(wrapped);
  CHECK(wrapped->params.ops_limit == params.ops_limit);
  CHECK(wrapped->params.mem_limit == params.mem_limit);
}

TEST_CASE("errors have messages and a category") {
  const auto ec = store::make_error_code(errc::passphrase_wrong);
  CHECK(std::string(ec.category().name()) == "lotse.store");
  CHECK(ec.message() == "the passphrase is wrong");
  CHECK(store::make_error_code(errc::newer_format).message().find("newer") != std::string::npos);
}
TEST_SUITE_END();
