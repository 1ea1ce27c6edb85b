// SPDX-License-Identifier: AGPL-3.0-or-later
// Transactions: commit is durable, rollback (explicit, by destructor, by exception) leaves
// nothing in any area, savepoints nest, and the client's receive path — decrypt, store the
// message, mark the envelope processed, all before the Ack — is all-or-nothing.
#include "store/profile.hpp"

#include "unit/store/store_fixture.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

using namespace lotse;
using store::errc;
using test::bytes_of;
using test::FileParty;
using test::ProfileFixture;
using test::str;
using test::text;

namespace {

const store::DeviceAddress anna{"acct-anna", 1};

store::Message note(const std::string& id, const std::string& text) {
  return {id,          "anna", anna, store::Direction::incoming,
          text,        1,      2,    store::DeliveryStatus::delivered,
          std::nullopt};
}

// Writes one row into every area.
void write_everything(store::Profile& p, const std::string& tag) {
  REQUIRE(p.secrets().set_setting("s-" + tag, tag));
  REQUIRE(p.messages().append(note("m-" + tag, tag)));
  REQUIRE(p.outbox().add("o-" + tag, bytes_of(tag), 1));
  REQUIRE(p.envelopes().add(std::hash<std::string>{}(tag), 1));
  store::Contact c;
  c.account_id = "c-" + tag;
  REQUIRE(p.contacts().upsert(c));
  p.sessions().store_session({"acct-" + tag, 1}, text(tag));
  p.sender_keys().store_sender_key(text("g"), {"acct-" + tag, 1}, text(tag));
}

// Whether each area holds the row write_everything(tag) wrote: all or none must agree.
std::vector<bool> present(store::Profile& p, const std::string& tag) {
  return {p.secrets().setting("s-" + tag).value().has_value(),
          p.messages().find(anna, "m-" + tag).value().has_value(),
          p.outbox().find("o-" + tag).value().has_value(),
          p.envelopes().contains(std::hash<std::string>{}(tag)).value(),
          p.contacts().find("c-" + tag).value().has_value(),
          p.sessions().load_session({"acct-" + tag, 1}).has_value(),
          p.sender_keys().load_sender_key(text("g"), {"acct-" + tag, 1}).has_value()};
}

const std::vector<bool> all_there(7, true);
const std::vector<bool> none_there(7, false);

}  // namespace

TEST_SUITE_BEGIN("store.transaction");
TEST_CASE("commit is durable; rollback, destructor and exceptions leave nothing anywhere") {
  ProfileFixture f;
  {
    auto p = f.create();
    {
      auto tx = p.begin();
      REQUIRE(tx);
      write_everything(p, "committed");
      REQUIRE(tx->commit());
    }
    {
      auto tx = p.begin();
      REQUIRE(tx);
      write_everything(p, "rolled-back");
      CHECK(present(p, "rolled-back") == all_there);  // visible inside the transaction
      tx->rollback();
      tx->rollback();  // twice is harmless
    }
    CHECK(present(p, "rolled-back") == none_there);
    {
      auto tx = p.begin();
      REQUIRE(tx);
      write_everything(p, "dropped");
    }  // destroyed without commit
    try {
      auto tx = p.begin();
      REQUIRE(tx);
      write_everything(p, "thrown");
      throw std::runtime_error("the client failed half-way");
    } catch (const std::runtime_error&) {
    }
  }
  auto p = f.open();
  CHECK(present(p, "committed") == all_there);
  CHECK(present(p, "rolled-back") == none_there);
  CHECK(present(p, "dropped") == none_there);
  CHECK(present(p, "thrown") == none_there);
}

TEST_CASE("transactions nest as savepoints") {
  ProfileFixture f;
  auto p = f.create();
  {
    auto outer = p.begin();
    REQUIRE(outer);
    write_everything(p, "outer");
    {
      auto inner = p.begin();
      REQUIRE(inner);
      write_everything(p, "inner-rolled-back");
    }
    {
      auto inner = p.begin();
      REQUIRE(inner);
      write_everything(p, "inner-committed");
      REQUIRE(inner->commit());
    }
    CHECK(present(p, "inner-committed") == all_there);
    REQUIRE(outer->commit());
  }
  CHECK(present(p, "outer") == all_there);
  CHECK(present(p, "inner-rolled-back") == none_there);
  CHECK(present(p, "inner-committed") == all_there);

  // An inner commit inside an outer rollback is rolled back with it.
  {
    auto outer = p.begin();
    REQUIRE(outer);
    auto inner = p.begin();
    REQUIRE(inner);
    write_everything(p, "inner-of-rolled-back");
    REQUIRE(inner->commit());
  }
  CHECK(present(p, "inner-of-rolled-back") == none_there);
}

TEST_CASE("misuse: commit out of order or twice, checkpoint inside a transaction") {
  ProfileFixture f;
  auto p = f.create();
  auto outer = p.begin();
  REQUIRE(outer);
  auto inner = p.begin();
  REQUIRE(inner);
  CHECK_THROWS_AS((void)outer->commit(), std::logic_error);
  REQUIRE(inner->commit());
  CHECK_THROWS_AS((void)inner->commit(), std::logic_error);
  REQUIRE(outer->commit());
  // Checkpointing needs no open transaction.
  auto tx = p.begin();
  REQUIRE(tx);
  write_everything(p, "pending");
  CHECK_THROWS_AS((void)p.checkpoint(), std::logic_error);
  tx->rollback();
  CHECK(p.checkpoint());
}

TEST_CASE("receive path: decrypt + session + message + envelope commit together or not at all") {
  FileParty alice("alice", 21);
  FileParty bob("bob", 22);
  REQUIRE(alice.cipher->start_session(bob.address, bob.bundle()));
  const auto wire = alice.cipher->encrypt(bob.address, text("first contact"));
  REQUIRE(wire);
  constexpr std::uint64_t envelope_id = 42;
  const store::DeviceAddress from{"alice", 1};

  // Bob processes the envelope but "crashes" before committing: nothing may remain, so the
  // relay's redelivery must decrypt again (the one-time prekey and the base key are unused).
  auto receive = [&](bool commit) {
    auto tx = bob.profile->begin();
    REQUIRE(tx);
    REQUIRE_FALSE(bob.profile->envelopes().contains(envelope_id).value());
    auto d = bob.cipher->decrypt(alice.address, *wire);
    REQUIRE(d);
    REQUIRE(bob.profile->messages().append({"cmid-1", "alice", from, store::Direction::incoming,
                                            str(d->plaintext.view()), 10, 11,
                                            store::DeliveryStatus::delivered, std::nullopt}));
    REQUIRE(bob.profile->envelopes().add(envelope_id, 11));
    if (commit) {
      REQUIRE(tx->commit());
    }
  };
  receive(false);
  bob.reopen();
  CHECK_FALSE(bob.profile->sessions().load_session(alice.address).has_value());
  CHECK(bob.profile->prekeys().one_time_prekey_count().value() == 5);
  CHECK(bob.profile->messages().list("alice")->empty());
  CHECK_FALSE(bob.profile->envelopes().contains(envelope_id).value());

  receive(true);
  bob.reopen();
  CHECK(bob.profile->sessions().load_session(alice.address).has_value());
  CHECK(bob.profile->prekeys().one_time_prekey_count().value() == 4);
  CHECK(bob.profile->messages().list("alice")->at(0).message.text == "first contact");
  // A redelivery after the commit is recognised and only acknowledged.
  CHECK(bob.profile->envelopes().contains(envelope_id).value());
  // The conversation continues from the committed state.
  auto reply = bob.cipher->encrypt(alice.address, text("welcome"));
  REQUIRE(reply);
  CHECK(str(alice.cipher->decrypt(bob.address, *reply)->plaintext.view()) == "welcome");
}
TEST_SUITE_END();
