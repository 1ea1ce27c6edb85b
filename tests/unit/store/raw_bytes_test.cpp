// SPDX-License-Identifier: AGPL-3.0-or-later
// What an attacker holding the files sees: the raw bytes of profile.db, profile.db-wal and
// profile.db-shm, read while the profile is open, after a checkpoint and after closing, contain
// none of the message text, display name, account id, message id, relay address, group id or
// passphrase we wrote, nor any key: the store key, identity and account secrets, prekeys, and a
// live session's root and chain keys.
#include "store/profile.hpp"

#include "protocol/proto_io.hpp"
#include "protocol/sender_key.hpp"

#include "crypto/key_wrap.hpp"
#include "lotse/v1/state.pb.h"
#include "unit/store/store_fixture.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <iterator>

using namespace lotse;
using test::bytes_of;
using test::FileParty;
using test::RawDb;

namespace {

constexpr std::string_view message_text = "MSG-MARKER-Bn4q: meet me at the counselling centre";
constexpr std::string_view display_name = "NAME-MARKER-x7Rt";
constexpr std::string_view contact_id = "ACCT-MARKER-93kd";
constexpr std::string_view message_id = "MID-MARKER-2wz8";
constexpr std::string_view relay_address = "relay-MARKER-p0q.example.org:8443";
constexpr std::string_view group_id = "GROUP-MARKER-v5ha";
constexpr std::string_view setting_value = "SETTING-MARKER-k1mx";
constexpr std::string_view file_name = "FILE-MARKER-q8Lz.pdf";
constexpr std::string_view file_caption = "CAPTION-MARKER-m3Vd";

struct Needle {
  std::string what;
  crypto::Bytes bytes;
};

crypto::Bytes read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool contains(const crypto::Bytes& hay, crypto::ByteView needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

// A secret as needles: its first and last 16 bytes, so that a partial copy is caught too.
void add_secret(std::vector<Needle>& out, const std::string& what, crypto::ByteView secret) {
  REQUIRE(secret.size() >= 16);
  out.push_back({what + " (head)", crypto::Bytes(secret.begin(), secret.begin() + 16)});
  out.push_back({what + " (tail)", crypto::Bytes(secret.end() - 16, secret.end())});
}

// Every file of the profile as it is now, by name; absent files are skipped.
std::vector<std::pair<std::string, crypto::Bytes>> snapshot(const std::filesystem::path& db) {
  std::vector<std::pair<std::string, crypto::Bytes>> out;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    const std::filesystem::path path(db.string() + suffix);
    if (std::filesystem::exists(path)) {
      out.emplace_back(path.filename().string(), read_file(path));
    }
  }
  return out;
}

}  // namespace

TEST_SUITE_BEGIN("store.raw_bytes");
TEST_CASE(
    "no plaintext marker and no key in profile.db, -wal or -shm, before and after checkpoints") {
  FileParty alice("alice", 31);
  FileParty contact(std::string(contact_id), 32);
  auto& p = *alice.profile;

  // Content with markers, in every area.
  REQUIRE(alice.cipher->start_session(contact.address, contact.bundle()));
  REQUIRE(alice.cipher->encrypt(contact.address, bytes_of(message_text)));
  crypto::SeededRng keys(33);
  const auto account_key = crypto::SigningKeyPair::generate(keys);
  REQUIRE(p.secrets().save_account_key(account_key));
  REQUIRE(p.secrets().save_own_account({"acct-alice", 1, store::AccountRole::staff}));
  REQUIRE(p.secrets().save_relay({std::string(relay_address), "pin"}));
  REQUIRE(p.secrets().set_setting("note", setting_value));
  store::Contact c;
  c.account_id = contact_id;
  c.display_name = display_name;
  c.devices.push_back({1, contact.identity->public_key()});
  REQUIRE(p.contacts().upsert(c));
  REQUIRE(p.messages().append({std::string(message_id),
                               std::string(contact_id),
                               {std::string(contact_id), 1},
                               store::Direction::incoming,
                               std::string(message_text),
                               1,
                               2,
                               store::DeliveryStatus::delivered,
                               std::nullopt}));
  REQUIRE(p.messages().append({std::string(message_id),
                               std::string(contact_id),
                               {"acct-alice", 1},
                               store::Direction::outgoing,
                               std::string(message_text),
                               3,
                               3,
                               store::DeliveryStatus::pending,
                               std::nullopt}));
  // A file message: its name, caption and key are sealed like a text.
  store::Message file_message{"file-message-id",
                              std::string(contact_id),
                              {std::string(contact_id), 1},
                              store::Direction::incoming,
                              "",
                              4,
                              5,
                              store::DeliveryStatus::delivered,
                              store::Attachment{}};
  file_message.attachment->blob_id = std::string(32, 'B');
  file_message.attachment->name = file_name;
  file_message.attachment->caption = file_caption;
  file_message.attachment->size = 10;
  file_message.attachment->chunk_size = 4096;
  file_message.attachment->encrypted_size = *protocol::encrypted_size(10, 4096);
  crypto::StreamKey file_key;
  crypto::SeededRng(34).fill(file_key.mutable_secret_bytes());
  REQUIRE(p.messages().append(file_message, &file_key));
  crypto::Bytes send_request = bytes_of(contact_id);
  crypto::append(send_request, bytes_of(message_text));
  REQUIRE(p.outbox().add(message_id, send_request, 3));
  REQUIRE(protocol::create_sender_key(p.sender_keys(), bytes_of(group_id), alice.address,
                                      alice.fixture.rng));

  std::vector<Needle> needles;
  for (const auto marker : {message_text, display_name, contact_id, message_id, relay_address,
                            group_id, setting_value, file_name, file_caption}) {
    needles.push_back({std::string(marker), bytes_of(marker)});
  }
  needles.push_back({"passphrase", bytes_of(test::test_passphrase)});
  const auto identity_secret = alice.identity->serialise_secret();
  add_secret(needles, "identity signing seed", identity_secret.view().first(32));
  add_secret(needles, "identity dh secret", identity_secret.view().subspan(64, 32));
  add_secret(needles, "file key", file_key.secret_bytes());
  add_secret(needles, "account key seed", account_key.secret_key().secret_bytes().first(32));
  add_secret(needles, "signed prekey", alice.signed_prekey->key.secret_key().secret_bytes());
  add_secret(needles, "one-time prekey", alice.one_time.at(1).key.secret_key().secret_bytes());
  {
    auto state_bytes = p.sessions().load_session(contact.address);
    REQUIRE(state_bytes);
    v1::SessionState state;
    protocol::WipeOnExit<v1::SessionState> wipe(state);
    REQUIRE(protocol::parse_message(state, state_bytes->view()));
    add_secret(needles, "session root key", bytes_of(state.ratchet().root_key()));
    add_secret(needles, "session send chain key", bytes_of(state.ratchet().send_chain_key()));
    add_secret(needles, "session dh secret", bytes_of(state.ratchet().dh_self_secret()));
  }

  std::vector<std::pair<std::string, std::vector<std::pair<std::string, crypto::Bytes>>>> snaps;
  snaps.emplace_back("open, before checkpoint", snapshot(alice.fixture.file()));
  REQUIRE(p.checkpoint());
  snaps.emplace_back("open, after checkpoint", snapshot(alice.fixture.file()));
  alice.cipher.reset();
  alice.profile.reset();
  snaps.emplace_back("closed", snapshot(alice.fixture.file()));

  // The store key, from the header with the passphrase, as an attacker who knew it would.
  crypto::Bytes header_blob;
  {
    RawDb raw(alice.fixture.file());
    header_blob = raw.blobs("header", "wrapped_key").at(0);
    const auto wrapped = crypto::WrappedKey::parse(header_blob);
    REQUIRE(wrapped);
    const auto store_key = crypto::unwrap_key(*wrapped, test::test_passphrase);
    REQUIRE(store_key);
    add_secret(needles, "store key", store_key->secret_bytes());
  }

  // The search itself works: the file is SQLite, the one plaintext row (the wrapped key) is
  // found, and the WAL held the writes before the checkpoint.
  const auto& before = snaps.at(0).second;
  CHECK(contains(before.at(0).second, bytes_of("SQLite format 3")));
  CHECK(contains(snaps.at(2).second.at(0).second, header_blob));
  const auto wal = std::find_if(before.begin(), before.end(),
                                [](const auto& f) { return f.first == "profile.db-wal"; });
  REQUIRE(wal != before.end());
  CHECK(wal->second.size() > 4096);

  for (const auto& snap : snaps) {
    const auto& when = snap.first;  // not structured bindings: clang 14 cannot capture those
    for (const auto& file : snap.second) {
      const auto& name = file.first;
      const auto& bytes = file.second;
      for (const auto& needle : needles) {
        CAPTURE(when);
        CAPTURE(name);
        CAPTURE(needle.what);
        CHECK_FALSE(contains(bytes, needle.bytes));
      }
    }
  }
}
TEST_SUITE_END();
