// SPDX-License-Identifier: AGPL-3.0-or-later
// What someone holding the files sees after a real conversation through the Client API: the raw
// bytes of both profiles (profile.db, -wal, -shm), while open, after closing, and around an
// explicit checkpoint, contain none of the message texts, the name the client shared, nor the
// identity or account secret keys. The relay's files hold none of the texts or the name either.
#include "client/client_fixture.hpp"

#include "store/limits.hpp"
#include "store/profile.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <iterator>

using namespace lotse;
using namespace lotse::test;

namespace {

using Bytes = std::vector<std::uint8_t>;

struct Needle {
  std::string what;
  Bytes bytes;
};

struct Snapshot {
  std::string when;
  std::string file;
  Bytes bytes;
};

Bytes read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool contains(const Bytes& hay, const Bytes& needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

Bytes bytes_of(std::string_view s) {
  return {s.begin(), s.end()};
}

// Every file of the database `db` as it is now; absent files are skipped.
void snapshot(std::vector<Snapshot>& out, const std::string& when,
              const std::filesystem::path& db) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    const std::filesystem::path path(db.string() + suffix);
    if (std::filesystem::exists(path)) {
      out.push_back({when, path.filename().string(), read_file(path)});
    }
  }
}

std::filesystem::path profile_db(const Party& p) {
  return p.dir.path() / std::string(store::profile_file_name);
}

// A secret as needles: its first and last 16 bytes, so that a partial copy is caught too.
void add_secret(std::vector<Needle>& out, const std::string& what, crypto::ByteView secret) {
  REQUIRE(secret.size() >= 16);
  out.push_back({what + " (head)", Bytes(secret.begin(), secret.begin() + 16)});
  out.push_back({what + " (tail)", Bytes(secret.end() - 16, secret.end())});
}

// Opens the closed profile with the store, snapshots it open, checkpoints, snapshots again, and
// adds its identity and account secrets to the needles.
void inspect_closed(const Party& p, const std::string& who, std::vector<Snapshot>& snaps,
                    std::vector<Needle>& needles) {
  auto profile = store::Profile::open(p.dir.path(), passphrase, crypto::system_rng());
  REQUIRE(profile.has_value());
  auto identity = profile->secrets().load_device_identity();
  REQUIRE(identity.has_value());
  REQUIRE(identity->has_value());
  const auto secret = (*identity)->serialise_secret();  // signing secret (64) || dh secret (32)
  add_secret(needles, who + " identity signing seed", secret.view().first(32));
  add_secret(needles, who + " identity dh secret", secret.view().subspan(64, 32));
  auto account = profile->secrets().load_account_key();
  REQUIRE(account.has_value());
  REQUIRE(account->has_value());
  add_secret(needles, who + " account key seed", (*account)->secret_key().secret_bytes().first(32));
  snapshot(snaps, who + ": reopened, before checkpoint", profile_db(p));
  REQUIRE(profile->checkpoint().has_value());
  snapshot(snaps, who + ": reopened, after checkpoint", profile_db(p));
}

}  // namespace

TEST_SUITE("client.raw_bytes") {
  TEST_CASE("no message text, shared name or secret key in either profile's files") {
    const std::string name = "NAME-MARKER Ximena Q8r";
    const std::vector<std::string> texts = {
        "TEXT-MARKER-1 I have not slept for three nights",
        "TEXT-MARKER-2 Shall we talk on Thursday at ten?",
        "TEXT-MARKER-3 Thursday is fine, thank you",
    };
    LiveRelay relay;
    auto [staff, user] = make_pair(relay, "counsellor", name);
    const auto a = send_and_wait(*user, *staff, texts[0]);
    const auto b = send_and_wait(*staff, *user, texts[1]);
    const auto c = send_and_wait(*user, *staff, texts[2]);
    REQUIRE(user->log->wait_for(client::Event::Kind::message_delivered, a));
    REQUIRE(staff->log->wait_for(client::Event::Kind::message_delivered, b));
    REQUIRE(user->log->wait_for(client::Event::Kind::message_delivered, c));
    REQUIRE((*staff)->contacts()->front().name == name);

    std::vector<Snapshot> snaps;
    snapshot(snaps, "staff: open", profile_db(*staff));
    snapshot(snaps, "client: open", profile_db(*user));
    // The writes are there to be found: the WAL of an open profile holds them.
    const auto wal = std::find_if(snaps.begin(), snaps.end(),
                                  [](const Snapshot& s) { return s.file == "profile.db-wal"; });
    REQUIRE(wal != snaps.end());
    CHECK(wal->bytes.size() > 4096);

    staff->client.reset();
    user->client.reset();
    snapshot(snaps, "staff: closed", profile_db(*staff));
    snapshot(snaps, "client: closed", profile_db(*user));

    std::vector<Needle> needles;
    for (const auto& t : texts) {
      needles.push_back({"text " + t.substr(0, 13), bytes_of(t)});
    }
    needles.push_back({"shared name", bytes_of(name)});
    inspect_closed(*staff, "staff", snaps, needles);
    inspect_closed(*user, "client", snaps, needles);
    snapshot(snaps, "staff: closed again", profile_db(*staff));
    snapshot(snaps, "client: closed again", profile_db(*user));

    // The search itself works: the database header is there in the clear.
    CHECK(contains(snaps.front().bytes, bytes_of("SQLite format 3")));
    for (const auto& s : snaps) {
      for (const auto& n : needles) {
        CAPTURE(s.when);
        CAPTURE(s.file);
        CAPTURE(n.what);
        CHECK_FALSE(contains(s.bytes, n.bytes));
      }
    }

    // The relay saw ciphertexts only.
    relay.stop();
    std::vector<Snapshot> relay_files;
    snapshot(relay_files, "relay: stopped", relay.data_dir() / "relay.db");
    REQUIRE_FALSE(relay_files.empty());
    for (const auto& s : relay_files) {
      for (const auto& n : needles) {
        CAPTURE(s.file);
        CAPTURE(n.what);
        CHECK_FALSE(contains(s.bytes, n.bytes));
      }
    }
  }
}
