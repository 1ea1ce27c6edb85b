// SPDX-License-Identifier: AGPL-3.0-or-later
// The protocol store interfaces over the profile: the behaviours the in-memory stores have,
// then X3DH + Double Ratchet and Sender Keys conversations between parties whose state lives in
// profiles that are closed and reopened between messages, and tampering with session state.
#include "store/protocol_stores.hpp"

#include "store/profile.hpp"

#include "protocol/sender_key.hpp"
#include "protocol/session_cipher.hpp"

#include "unit/store/store_fixture.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <optional>

using namespace lotse;
using store::errc;
using test::ProfileFixture;
using test::RawDb;
using test::str;
using test::text;

using test::FileParty;

TEST_SUITE_BEGIN("store.protocol_stores");
TEST_CASE("prekey store: the in-memory store's behaviours, persisted") {
  ProfileFixture f;
  crypto::SeededRng keys(5);
  const auto identity = protocol::DeviceIdentity::generate(keys);
  const auto spk1 = protocol::SignedPreKey::generate(identity, 1, keys);
  const auto spk2 = protocol::SignedPreKey::generate(identity, 2, keys);
  const auto batch = protocol::OneTimePreKey::generate_batch(10, 3, keys);
  crypto::X25519PublicKey base_key;
  keys.fill(base_key.mutable_bytes());
  {
    auto p = f.create();
    auto& s = p.prekeys();
    CHECK(s.load_signed_prekey(1) == std::nullopt);
    CHECK(s.load_one_time_prekey(10) == std::nullopt);
    REQUIRE(s.add_signed_prekey(spk1));
    REQUIRE(s.add_signed_prekey(spk2));
    REQUIRE(s.add_one_time_prekeys(batch));
    CHECK(s.one_time_prekey_count().value() == 3);
    s.remove_one_time_prekey(11);
    s.remove_one_time_prekey(999);  // absent: no-op, as in memory
    CHECK_FALSE(s.base_key_seen(base_key));
    s.remember_base_key(base_key);
    s.remember_base_key(base_key);  // twice is fine
  }
  auto p = f.open();
  auto& s = p.prekeys();
  CHECK(s.one_time_prekey_count().value() == 2);
  CHECK(s.one_time_prekey_ids().value() == std::vector<std::uint32_t>{10, 12});
  CHECK(s.signed_prekey_ids().value() == std::vector<std::uint32_t>{1, 2});
  CHECK(s.base_key_seen(base_key));

  auto loaded = s.load_signed_prekey(2);
  REQUIRE(loaded);
  CHECK(loaded->id == 2);
  CHECK(loaded->key.public_key() == spk2.key.public_key());
  CHECK(loaded->signature == spk2.signature);
  CHECK(crypto::equal_constant_time(loaded->key.secret_key().secret_bytes(),
                                    spk2.key.secret_key().secret_bytes()));
  auto opk = s.load_one_time_prekey(12);
  REQUIRE(opk);
  CHECK(opk->key.public_key() == batch[2].key.public_key());
  CHECK(s.load_one_time_prekey(11) == std::nullopt);

  CHECK(s.remove_signed_prekey(1).value());
  CHECK_FALSE(s.remove_signed_prekey(1).value());
  CHECK(s.load_signed_prekey(1) == std::nullopt);
}

TEST_CASE("session and sender key stores: store, load, replace, remove, per-account queries") {
  ProfileFixture f;
  const protocol::Address a1{"acct-a", 1};
  const protocol::Address a2{"acct-a", 2};
  const protocol::Address b1{"acct-b", 1};
  const auto group = text("group-1");
  const auto other_group = text("group-2");
  {
    auto p = f.create();
    auto& s = p.sessions();
    CHECK(s.load_session(a1) == std::nullopt);
    s.store_session(a1, text("state a1 v1"));
    s.store_session(a1, text("state a1 v2"));
    s.store_session(a2, text("state a2"));
    s.store_session(b1, text("state b1"));
    s.store_session({"acct-c", 1}, {});  // empty state is a value, not absence

    auto& k = p.sender_keys();
    CHECK(k.load_sender_key(group, a1) == std::nullopt);
    k.store_sender_key(group, a1, text("record a1"));
    k.store_sender_key(group, b1, text("record b1"));
    k.store_sender_key(other_group, a1, text("other a1"));
  }
  auto p = f.open();
  auto& s = p.sessions();
  CHECK(str(s.load_session(a1)->view()) == "state a1 v2");
  CHECK(str(s.load_session(b1)->view()) == "state b1");
  CHECK(s.load_session({"acct-c", 1})->empty());
  CHECK(s.devices_with_session("acct-a").value() == std::vector<std::uint32_t>{1, 2});
  CHECK(s.devices_with_session("nobody").value().empty());
  s.remove_session(a2);
  CHECK(s.load_session(a2) == std::nullopt);
  CHECK(s.remove_sessions("acct-a").value() == 1);
  CHECK(s.load_session(a1) == std::nullopt);
  CHECK(s.load_session(b1).has_value());
  CHECK_THROWS_AS(s.store_session({"", 1}, text("x")), store::StoreFailure);

  auto& k = p.sender_keys();
  CHECK(str(k.load_sender_key(group, a1)->view()) == "record a1");
  CHECK(str(k.load_sender_key(other_group, a1)->view()) == "other a1");
  k.remove_sender_key(group, a1);
  CHECK(k.load_sender_key(group, a1) == std::nullopt);
  CHECK(k.remove_group(group).value() == 1);
  CHECK(k.load_sender_key(group, b1) == std::nullopt);
  CHECK(k.load_sender_key(other_group, a1).has_value());
}

TEST_CASE("X3DH and a ratchet conversation with both parties reopening their profiles") {
  FileParty alice("alice", 11);
  FileParty bob("bob", 12);
  REQUIRE(alice.cipher->start_session(bob.address, bob.bundle()));
  alice.reopen();

  auto m1 = alice.cipher->encrypt(bob.address, text("hello bob"));
  REQUIRE(m1);
  bob.reopen();
  auto d1 = bob.cipher->decrypt(alice.address, *m1);
  REQUIRE(d1);
  CHECK(str(d1->plaintext.view()) == "hello bob");
  CHECK(d1->new_session);
  CHECK(bob.profile->prekeys().one_time_prekey_count().value() == 4);

  for (int round = 0; round < 5; ++round) {
    CAPTURE(round);
    bob.reopen();
    auto r = bob.cipher->encrypt(alice.address, text("reply " + std::to_string(round)));
    REQUIRE(r);
    alice.reopen();
    auto d = alice.cipher->decrypt(bob.address, *r);
    REQUIRE(d);
    CHECK(str(d->plaintext.view()) == "reply " + std::to_string(round));
    // Two messages in a row from Alice, delivered out of order after Bob reopens.
    auto a = alice.cipher->encrypt(bob.address, text("a" + std::to_string(round)));
    auto b = alice.cipher->encrypt(bob.address, text("b" + std::to_string(round)));
    REQUIRE(a);
    REQUIRE(b);
    bob.reopen();
    CHECK(str(bob.cipher->decrypt(alice.address, *b)->plaintext.view()) ==
          "b" + std::to_string(round));
    bob.reopen();  // the skipped key for `a` must have been persisted
    CHECK(str(bob.cipher->decrypt(alice.address, *a)->plaintext.view()) ==
          "a" + std::to_string(round));
    // Replays are refused after a reopen too.
    bob.reopen();
    CHECK(bob.cipher->decrypt(alice.address, *a).error() == protocol::errc::duplicate_message);
  }

  // The initial message replayed to a Bob without that session: the remembered base key (or the
  // used-up one-time prekey) refuses it, after a reopen as well.
  bob.profile->sessions().remove_session(alice.address);
  bob.reopen();
  const auto err = bob.cipher->decrypt(alice.address, *m1).error();
  CHECK((err == protocol::errc::replayed_prekey_message ||
         err == protocol::errc::unknown_one_time_prekey));
}

TEST_CASE("a session without a one-time prekey: its replay is refused by the persisted base key") {
  FileParty alice("alice", 13);
  FileParty bob("bob", 14, 0);
  auto bundle = bob.bundle();
  CHECK_FALSE(bundle.one_time_prekey.has_value());
  REQUIRE(alice.cipher->start_session(bob.address, bundle));
  auto m1 = alice.cipher->encrypt(bob.address, text("no opk"));
  REQUIRE(m1);
  REQUIRE(bob.cipher->decrypt(alice.address, *m1));
  bob.profile->sessions().remove_session(alice.address);
  bob.reopen();
  CHECK(bob.cipher->decrypt(alice.address, *m1).error() == protocol::errc::replayed_prekey_message);
}

TEST_CASE("sender keys: a group conversation across reopens") {
  FileParty alice("alice", 15);
  FileParty bob("bob", 16);
  const auto group = text("team-42");
  auto dist = protocol::create_sender_key(alice.profile->sender_keys(), group, alice.address,
                                          alice.fixture.rng);
  REQUIRE(dist);
  REQUIRE(protocol::process_distribution(bob.profile->sender_keys(), group, alice.address,
                                         dist->view()));
  std::vector<crypto::Bytes> sent;
  for (int i = 0; i < 4; ++i) {
    alice.reopen();
    auto m = protocol::group_encrypt(alice.profile->sender_keys(), group, alice.address,
                                     text("group " + std::to_string(i)));
    REQUIRE(m);
    sent.push_back(*m);
  }
  bob.reopen();
  CHECK(str(protocol::group_decrypt(bob.profile->sender_keys(), group, alice.address, sent[3])
                ->view()) == "group 3");
  bob.reopen();
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(str(protocol::group_decrypt(bob.profile->sender_keys(), group, alice.address, sent[i])
                  ->view()) == "group " + std::to_string(i));
  }
  bob.reopen();
  CHECK(
      protocol::group_decrypt(bob.profile->sender_keys(), group, alice.address, sent[1]).error() ==
      protocol::errc::duplicate_message);
}

TEST_CASE("tampered or swapped session state is corrupt (StoreFailure), never used") {
  enum class Tamper { flip_bit, swap_values, move_to_other_account };
  for (const auto tamper : {Tamper::flip_bit, Tamper::swap_values, Tamper::move_to_other_account}) {
    CAPTURE(static_cast<int>(tamper));
    FileParty alice("alice", 17);
    FileParty bob("bob", 18);
    FileParty carol("carol", 19);
    REQUIRE(alice.cipher->start_session(bob.address, bob.bundle()));
    REQUIRE(alice.cipher->start_session(carol.address, carol.bundle()));
    alice.cipher.reset();
    alice.profile.reset();
    {
      RawDb raw(alice.fixture.file());
      const auto keys = raw.keys("sessions");
      REQUIRE(keys.size() == 2);
      switch (tamper) {
        case Tamper::flip_bit: raw.flip_bit("sessions", "value", "key", keys[0]); break;
        case Tamper::swap_values:
          raw.swap_blobs("sessions", "value", "key", keys[0], keys[1]);
          break;
        case Tamper::move_to_other_account: {
          const auto names = raw.blobs("sessions", "name_key", "key");
          REQUIRE(names[0] != names[1]);
          raw.set_blob("sessions", "name_key", "key", keys[0], names[1]);
          break;
        }
      }
    }
    alice.profile.emplace(alice.fixture.open());
    alice.load();
    if (tamper == Tamper::move_to_other_account) {
      // The value is intact and bound to its own row, so loading by address still works; the
      // edited column is what fails: listing the other account's devices meets a row that was
      // not sealed for it.
      const auto by_bob = alice.profile->sessions().devices_with_session("bob");
      const auto by_carol = alice.profile->sessions().devices_with_session("carol");
      CHECK((by_bob.has_error() != by_carol.has_error()));
      CHECK((by_bob.has_error() ? by_bob.error() : by_carol.error()) == errc::corrupt);
      continue;
    }
    int failures = 0;
    for (const auto* peer : {&bob.address, &carol.address}) {
      try {
        (void)alice.cipher->encrypt(*peer, text("x"));
      } catch (const store::StoreFailure& e) {
        CHECK(e.code() == store::make_error_code(errc::corrupt));
        ++failures;
      }
    }
    CHECK(failures == (tamper == Tamper::swap_values ? 2 : 1));
  }
}
TEST_SUITE_END();
