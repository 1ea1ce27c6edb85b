// SPDX-License-Identifier: AGPL-3.0-or-later
// The relay's protocol logic in process: real store and database thread, fake connections speaking
// raw frames, a fake clock. Network behaviour (TLS, WebSocket, close codes) is tested in
// tests/unit/net and, with the real binary, in tests/blackbox.
#include "support/relay_harness.hpp"

#include "wire/invite_link.hpp"

#include <doctest/doctest.h>

#include <set>

using namespace lotse;
using test::Client;
using test::InProcessRelay;

namespace {

// An admin, a staff member invited by an admin invite, and helpers to add clients of that staff.
struct Org {
  InProcessRelay relay;
  Client admin{relay, 1};
  Client staff{relay, 2};
  explicit Org(relay::Limits limits = {}) : relay(limits) {
    REQUIRE(admin.register_with(relay.invite(store::Role::admin)).has_registered());
    REQUIRE(staff.register_with(relay.invite(store::Role::staff)).has_registered());
  }
  std::unique_ptr<Client> client_of(Client& counsellor, std::uint64_t seed) {
    v1::ClientFrame f;
    f.set_request_id(counsellor.rid());
    f.mutable_create_invite()->set_role(v1::CLIENT);
    auto reply = counsellor.conn->request(f);
    REQUIRE(reply.has_invite_created());
    const auto link = wire::InviteLink::parse(reply.invite_created().invite());
    REQUIRE(link.has_value());
    CHECK(link->role == "client");
    auto c = std::make_unique<Client>(relay, seed);
    auto registered = c->register_with(link->token);
    REQUIRE(registered.has_registered());
    CHECK(registered.registered().role() == v1::CLIENT);
    CHECK(registered.registered().inviter_account_id() == counsellor.device.account_id);
    return c;
  }
};

v1::ErrorCode error_of(const v1::ServerFrame& f) {
  return f.has_error() ? f.error().code() : v1::ERROR_CODE_UNSPECIFIED;
}

}  // namespace

TEST_SUITE("relay") {
  TEST_CASE("handshake: Hello first, version checked, malformed frames answered") {
    InProcessRelay r;
    Client c(r, 10);
    v1::ClientFrame ping;
    ping.set_request_id(1);
    ping.mutable_ping();
    CHECK(c.conn->request(ping).has_pong());  // Ping is allowed at any time

    v1::ClientFrame send;
    send.set_request_id(2);
    send.mutable_send();
    CHECK(error_of(c.conn->request(send)) == v1::HANDSHAKE_REQUIRED);

    auto bad = test::hello_frame(3);
    bad.mutable_hello()->set_protocol_version(2);
    CHECK(error_of(c.conn->request(bad)) == v1::UNSUPPORTED_VERSION);

    c.conn->deliver_bytes(std::string("\xff\xff\xff garbage", 12));
    auto garbage = c.conn->next();
    REQUIRE(garbage);
    CHECK(error_of(*garbage) == v1::BAD_REQUEST);

    auto zero = test::hello_frame(0);
    c.conn->deliver(zero);
    CHECK(error_of(*c.conn->next()) == v1::BAD_REQUEST);

    auto welcome = c.conn->request(test::hello_frame(4));
    REQUIRE(welcome.has_welcome());
    CHECK(welcome.welcome().challenge().size() == 32);
    CHECK(welcome.welcome().certificate_pin() == InProcessRelay::pin_string());
    CHECK(error_of(c.conn->request(test::hello_frame(5))) == v1::HANDSHAKE_REQUIRED);
    v1::ClientFrame contacts;
    contacts.set_request_id(6);
    contacts.mutable_list_contacts();
    CHECK(error_of(c.conn->request(contacts)) == v1::NOT_AUTHENTICATED);
  }

  TEST_CASE("registration consumes an invite once; used, expired and forged invites fail") {
    InProcessRelay r;
    const auto token = r.invite(store::Role::staff);
    Client first(r, 11);
    auto ok = first.register_with(token);
    REQUIRE(ok.has_registered());
    CHECK(ok.registered().role() == v1::STAFF);
    CHECK(ok.registered().account_id().size() == 24);
    CHECK(ok.registered().device_id() == 1);

    Client second(r, 12);
    CHECK(error_of(second.register_with(token)) == v1::INVITE_USED);

    const auto short_lived =
        r.invite(store::Role::client, std::nullopt, 1, std::chrono::seconds(60));
    r.clock.advance(std::chrono::seconds(61));
    Client late(r, 13);
    CHECK(error_of(late.register_with(short_lived)) == v1::INVITE_EXPIRED);

    Client forger(r, 14);
    CHECK(error_of(forger.register_with(std::string(43, 'A'))) == v1::INVITE_INVALID);
    Client malformed(r, 15);
    CHECK(error_of(malformed.register_with("short")) == v1::INVITE_INVALID);
  }

  TEST_CASE("an invite with N uses registers exactly N accounts under concurrent use") {
    InProcessRelay r;
    const auto token = r.invite(store::Role::staff, std::nullopt, 3);
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 20; ++i) {
      clients.push_back(std::make_unique<Client>(r, 100 + static_cast<std::uint64_t>(i)));
      clients.back()->hello();
    }
    // All requests are in the database queue before any answer is read.
    for (auto& c : clients) {
      c->conn->deliver(
          c->device.register_frame(99, token, c->challenge, InProcessRelay::pin_string()));
    }
    int registered = 0;
    int used = 0;
    for (auto& c : clients) {
      auto reply = c->conn->answer(99);
      registered += reply.has_registered() ? 1 : 0;
      used += error_of(reply) == v1::INVITE_USED ? 1 : 0;
    }
    CHECK(registered == 3);
    CHECK(used == 17);
  }

  TEST_CASE(
      "staff handles: shown to contacts, unique ignoring case; clients get none; refusals keep the "
      "invite") {
    InProcessRelay r;
    Client admin(r, 30);
    REQUIRE(admin.register_with(r.invite(store::Role::admin), "admin").has_registered());
    Client anna(r, 31);
    REQUIRE(anna.register_with(r.invite(store::Role::staff), "anna.k").has_registered());

    const auto staff_invite = r.invite(store::Role::staff);
    Client copycat(r, 32);
    CHECK(error_of(copycat.register_with(staff_invite, "ANNA.K")) == v1::HANDLE_TAKEN);
    for (const std::string& bad :
         std::vector<std::string>{"-anna", "anna k", std::string(33, 'a'), "änna"}) {
      CAPTURE(bad);
      Client c(r, 33);
      CHECK(error_of(c.register_with(staff_invite, bad)) == v1::BAD_REQUEST);
    }
    Client ben(r, 34);  // the refusals above did not use the one-use invite
    REQUIRE(ben.register_with(staff_invite, "ben_2").has_registered());

    v1::ClientFrame f;
    f.set_request_id(anna.rid());
    f.mutable_create_invite()->set_role(v1::CLIENT);
    const auto link = wire::InviteLink::parse(anna.conn->request(f).invite_created().invite());
    REQUIRE(link.has_value());
    Client named(r, 35);
    const auto refused = named.register_with(link->token, "mia");
    CHECK(error_of(refused) == v1::BAD_REQUEST);
    CHECK(refused.error().message().find("end to end") != std::string::npos);
    Client client(r, 36);
    REQUIRE(client.register_with(link->token).has_registered());

    v1::ClientFrame list;
    list.set_request_id(client.rid());
    list.mutable_list_contacts();
    const auto contacts = client.conn->request(list).contacts();
    REQUIRE(contacts.contacts_size() == 1);
    CHECK(contacts.contacts(0).account_id() == anna.device.account_id);
    CHECK(contacts.contacts(0).handle() == "anna.k");
    // The directory entry carries the keys (nothing consumed): account key and certified devices.
    const auto& entry = contacts.contacts(0);
    CHECK(entry.account_key() ==
          std::string(reinterpret_cast<const char*>(anna.device.account_key.public_key().data()),
                      32));
    REQUIRE(entry.devices_size() == 1);
    CHECK(entry.devices(0).device_id() == 1);
    v1::DeviceKeys expected;
    anna.device.fill_device_keys(expected);
    CHECK(entry.devices(0).device().SerializeAsString() == expected.SerializeAsString());
    list.set_request_id(anna.rid());
    std::map<std::string, std::string> seen;
    const auto anna_contacts = anna.conn->request(list);
    for (const auto& c : anna_contacts.contacts().contacts()) {
      seen[c.account_id()] = c.handle();
    }
    CHECK(seen.at(ben.device.account_id) == "ben_2");
    CHECK(seen.at(admin.device.account_id) == "admin");
    CHECK(seen.at(client.device.account_id).empty());

    // Handles are loaded from the database by a relay that starts on it.
    store::RelayStore reopened(r.dir.path() / "relay.db", false);
    const auto* loaded = reopened.account_by_handle("ANNA.k");
    REQUIRE(loaded != nullptr);
    CHECK(loaded->public_id == anna.device.account_id);
    CHECK(reopened.account_by_handle("mia") == nullptr);
  }

  TEST_CASE("registration refuses bad proofs: challenge signature, device certificate, prekey") {
    InProcessRelay r;
    Client c(r, 20);
    c.hello();
    auto frame = c.device.register_frame(50, r.invite(store::Role::staff), c.challenge,
                                         InProcessRelay::pin_string());
    auto wrong_pin = c.device.register_frame(51, "", c.challenge, std::string(32, 'x'));
    frame.mutable_register_()->set_challenge_signature(wrong_pin.register_().challenge_signature());
    CHECK(error_of(c.conn->request(frame)) == v1::BAD_SIGNATURE);
    // The challenge is spent: a corrected request on this connection is refused too.
    auto fixed = c.device.register_frame(52, r.invite(store::Role::staff), c.challenge,
                                         InProcessRelay::pin_string());
    CHECK(error_of(c.conn->request(fixed)) == v1::CHALLENGE_USED);

    Client d(r, 21);
    d.hello();
    auto cert = d.device.register_frame(53, r.invite(store::Role::staff), d.challenge,
                                        InProcessRelay::pin_string());
    auto sig = cert.register_().device().device_certificate();
    sig[0] = static_cast<char>(sig[0] ^ 1);
    cert.mutable_register_()->mutable_device()->set_device_certificate(sig);
    CHECK(error_of(d.conn->request(cert)) == v1::BAD_SIGNATURE);

    Client e(r, 22);
    e.hello();
    auto spk = e.device.register_frame(54, r.invite(store::Role::staff), e.challenge,
                                       InProcessRelay::pin_string());
    auto pk = spk.register_().signed_prekey().public_key();
    pk[3] = static_cast<char>(pk[3] ^ 1);
    spk.mutable_register_()->mutable_signed_prekey()->set_public_key(pk);
    CHECK(error_of(e.conn->request(spk)) == v1::BAD_SIGNATURE);
  }

  TEST_CASE("login by signed challenge; a replayed signature fails") {
    InProcessRelay r;
    Client c(r, 30);
    REQUIRE(c.register_with(r.invite(store::Role::staff)).has_registered());

    Client again(r, 30);  // same keys, new connection
    again.device.account_id = c.device.account_id;
    auto li = again.login();
    REQUIRE(li.has_logged_in());
    CHECK(li.logged_in().role() == v1::STAFF);
    CHECK(li.logged_in().one_time_prekeys_remaining() == 10);
    // A second login on an authenticated connection.
    CHECK(error_of(again.conn->request(again.device.login_frame(again.rid(), again.challenge,
                                                                InProcessRelay::pin_string()))) ==
          v1::ALREADY_AUTHENTICATED);

    // Replay: the signature made for one connection's challenge, sent on another.
    Client attacker(r, 31);
    attacker.hello();
    auto replay =
        again.device.login_frame(attacker.rid(), again.challenge, InProcessRelay::pin_string());
    CHECK(error_of(attacker.conn->request(replay)) == v1::BAD_SIGNATURE);
    // And the challenge of that connection is now spent.
    auto honest =
        again.device.login_frame(attacker.rid(), attacker.challenge, InProcessRelay::pin_string());
    CHECK(error_of(attacker.conn->request(honest)) == v1::CHALLENGE_USED);

    Client stranger(r, 32);
    stranger.device.account_id = "nosuchaccountnosuchaccou";
    CHECK(error_of(stranger.login()) == v1::UNKNOWN_ACCOUNT);
  }

  TEST_CASE("a second login of the same device replaces the first connection") {
    InProcessRelay r;
    Client c(r, 33);
    REQUIRE(c.register_with(r.invite(store::Role::staff)).has_registered());
    Client again(r, 33);
    again.device.account_id = c.device.account_id;
    REQUIRE(again.login().has_logged_in());
    c.conn->run_tasks();
    CHECK(c.conn->closed());
  }

  TEST_CASE("authorisation: clients reach their counsellor only; nothing is stored when refused") {
    Org org;
    auto alice = org.client_of(org.staff, 40);
    auto bob = org.client_of(org.staff, 41);

    // Client -> own counsellor and back: fine.
    CHECK(alice->send_to(org.staff.device.account_id, 1, "c1", 1).has_sent());
    CHECK(org.staff.send_to(alice->device.account_id, 1, "s1", 1).has_sent());
    // Staff <-> staff: fine.
    CHECK(org.staff.send_to(org.admin.device.account_id, 1, "s2", 2).has_sent());
    // Client -> another client, or -> staff it is not connected with: refused.
    auto refused = alice->send_to(bob->device.account_id, 1, "secret", 2);
    CHECK(error_of(refused) == v1::NOT_AUTHORIZED);
    REQUIRE(refused.error().envelope_indices_size() == 1);
    CHECK(error_of(alice->send_to(org.admin.device.account_id, 1, "x", 3)) == v1::NOT_AUTHORIZED);
    CHECK(error_of(alice->send_to("aaaaaaaaaaaaaaaaaaaaaaaa", 1, "x", 4)) == v1::UNKNOWN_RECIPIENT);
    CHECK(error_of(alice->send_to(org.staff.device.account_id, 7, "x", 5)) ==
          v1::UNKNOWN_RECIPIENT);

    // Nothing of the refused sends was stored: bob has nothing queued.
    auto bob_again = std::make_unique<Client>(org.relay, 41);
    bob_again->device.account_id = bob->device.account_id;
    auto li = bob_again->login();
    REQUIRE(li.has_logged_in());
    CHECK(li.logged_in().queued_envelopes() == 0);

    // Bundles follow the same rule.
    v1::ClientFrame fetch;
    fetch.set_request_id(alice->rid());
    fetch.mutable_fetch_bundles()->set_account_id(bob->device.account_id);
    CHECK(error_of(alice->conn->request(fetch)) == v1::NOT_AUTHORIZED);

    // Invites: clients may not create any; staff only client invites.
    v1::ClientFrame invite;
    invite.set_request_id(alice->rid());
    invite.mutable_create_invite()->set_role(v1::CLIENT);
    CHECK(error_of(alice->conn->request(invite)) == v1::NOT_AUTHORIZED);
    invite.set_request_id(org.staff.rid());
    invite.mutable_create_invite()->set_role(v1::STAFF);
    CHECK(error_of(org.staff.conn->request(invite)) == v1::NOT_AUTHORIZED);
    invite.set_request_id(org.admin.rid());
    CHECK(org.admin.conn->request(invite).has_invite_created());

    // Contacts: a client sees its counsellor only; staff see staff and their clients.
    v1::ClientFrame contacts;
    contacts.set_request_id(alice->rid());
    contacts.mutable_list_contacts();
    auto mine = alice->conn->request(contacts);
    REQUIRE(mine.has_contacts());
    REQUIRE(mine.contacts().contacts_size() == 1);
    CHECK(mine.contacts().contacts(0).account_id() == org.staff.device.account_id);
    contacts.set_request_id(org.staff.rid());
    auto theirs = org.staff.conn->request(contacts);
    CHECK(theirs.contacts().contacts_size() == 3);  // admin, alice, bob
  }

  TEST_CASE(
      "key directory: each one-time prekey is handed out once, also to 100 concurrent fetches") {
    relay::Limits limits;
    limits.low_prekey_threshold = 5;
    limits.max_connections_per_address = 200;
    InProcessRelay r(limits);
    Client owner(r, 50, 150);
    // Register with 150 one-time prekeys (max_prekeys_per_publish is 200).
    REQUIRE(owner.register_with(r.invite(store::Role::staff, std::nullopt)).has_registered());
    std::vector<std::unique_ptr<Client>> fetchers;
    const auto token = r.invite(store::Role::staff, std::nullopt, 100);
    for (int i = 0; i < 100; ++i) {
      fetchers.push_back(std::make_unique<Client>(r, 1000 + static_cast<std::uint64_t>(i)));
      REQUIRE(fetchers.back()->register_with(token).has_registered());
    }
    for (auto& f : fetchers) {
      v1::ClientFrame fetch;
      fetch.set_request_id(77);
      fetch.mutable_fetch_bundles()->set_account_id(owner.device.account_id);
      f->conn->deliver(fetch);
    }
    std::set<std::uint32_t> seen;
    for (auto& f : fetchers) {
      auto reply = f->conn->answer(77);
      REQUIRE(reply.has_bundles());
      REQUIRE(reply.bundles().devices_size() == 1);
      const auto& b = reply.bundles().devices(0).bundle();
      REQUIRE(b.has_one_time_prekey());
      CHECK(seen.insert(b.one_time_prekey().id()).second);
      CHECK(b.signed_prekey().public_key().size() == 32);
      CHECK(reply.bundles().account_key().size() == 32);
    }
    CHECK(seen.size() == 100);

    // The owner learns that its pool is running low once it drops under the threshold.
    for (int i = 0; i < 46; ++i) {
      v1::ClientFrame fetch;
      fetch.set_request_id(fetchers[0]->rid());
      fetch.mutable_fetch_bundles()->set_account_id(owner.device.account_id);
      REQUIRE(fetchers[0]->conn->request(fetch).has_bundles());
    }
    bool low = false;
    for (int i = 0; i < 10 && !low; ++i) {
      auto f = owner.conn->next(std::chrono::milliseconds(500));
      low = f && f->has_prekeys_low();
    }
    CHECK(low);

    // Exhausted: bundles come without a one-time prekey.
    for (int i = 0; i < 5; ++i) {
      v1::ClientFrame fetch;
      fetch.set_request_id(fetchers[1]->rid());
      fetch.mutable_fetch_bundles()->set_account_id(owner.device.account_id);
      (void)fetchers[1]->conn->request(fetch);
    }
    v1::ClientFrame fetch;
    fetch.set_request_id(fetchers[2]->rid());
    fetch.mutable_fetch_bundles()->set_account_id(owner.device.account_id);
    auto empty = fetchers[2]->conn->request(fetch);
    REQUIRE(empty.has_bundles());
    CHECK_FALSE(empty.bundles().devices(0).bundle().has_one_time_prekey());

    // Replenish; bounded by max_one_time_prekeys.
    v1::ClientFrame publish;
    publish.set_request_id(owner.rid());
    for (std::uint32_t i = 0; i < 200; ++i) {
      auto* k = publish.mutable_publish_prekeys()->add_one_time_prekeys();
      k->set_id(500 + i);
      k->set_public_key(std::string(32, static_cast<char>(i)));
    }
    auto published = owner.conn->request(publish);
    REQUIRE(published.has_prekeys_published());
    CHECK(published.prekeys_published().one_time_prekeys_remaining() == 200);
    publish.set_request_id(owner.rid());
    for (auto& k : *publish.mutable_publish_prekeys()->mutable_one_time_prekeys()) {
      k.set_id(k.id() + 1000);
    }
    (void)owner.conn->request(publish);
    publish.set_request_id(owner.rid());
    for (auto& k : *publish.mutable_publish_prekeys()->mutable_one_time_prekeys()) {
      k.set_id(k.id() + 1000);
    }
    CHECK(error_of(owner.conn->request(publish)) == v1::TOO_MANY_PREKEYS);
  }

  TEST_CASE(
      "store and forward: queued while offline, delivered in order on login, deleted on ack") {
    Org org;
    auto client = org.client_of(org.staff, 60);
    const auto client_id = client->device.account_id;
    client->conn->disconnect();

    for (std::uint64_t i = 1; i <= 300; ++i) {
      REQUIRE(org.staff.send_to(client_id, 1, "m" + std::to_string(i), i).has_sent());
    }
    // A resend with the same client message id is acknowledged but not stored twice.
    auto dup = org.staff.send_to(client_id, 1, "m1", 1);
    REQUIRE(dup.has_sent());
    CHECK(dup.sent().duplicate());

    Client back(org.relay, 60);
    back.device.account_id = client_id;
    auto li = back.login();
    REQUIRE(li.has_logged_in());
    CHECK(li.logged_in().queued_envelopes() == 300);
    auto got = back.conn->deliveries(300);
    REQUIRE(got.size() == 300);
    std::vector<std::uint64_t> ids;
    for (std::size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].ciphertext() == "m" + std::to_string(i + 1));
      CHECK(got[i].sender_account_id() == org.staff.device.account_id);
      CHECK(got[i].sender_device_id() == 1);
      CHECK(got[i].client_message_id() == test::message_id(i + 1));
      if (i > 0) {
        CHECK(got[i].envelope_id() > got[i - 1].envelope_id());
      }
      ids.push_back(got[i].envelope_id());
    }
    bool drained = false;
    for (int i = 0; i < 5 && !drained; ++i) {
      for (auto& f : back.conn->skipped) {
        drained = drained || f.has_queue_drained();
      }
      if (!drained) {
        auto f = back.conn->next(std::chrono::milliseconds(200));
        if (f) {
          back.conn->skipped.push_back(*f);
        }
      }
    }
    CHECK(drained);
    for (std::size_t i = 0; i < ids.size(); i += 100) {
      REQUIRE(back.ack({ids.begin() + static_cast<std::ptrdiff_t>(i),
                        ids.begin() + static_cast<std::ptrdiff_t>(std::min(i + 100, ids.size()))})
                  .has_acked());
    }
    // Acknowledged envelopes are gone: a new login gets nothing.
    back.conn->disconnect();
    Client later(org.relay, 60);
    later.device.account_id = client_id;
    auto li2 = later.login();
    REQUIRE(li2.has_logged_in());
    CHECK(li2.logged_in().queued_envelopes() == 0);
  }

  TEST_CASE(
      "dedup: a resend is answered as a duplicate even when the queue is full; the window "
      "expires") {
    relay::Limits limits;
    limits.max_queued_envelopes_per_device = 2;
    limits.send_dedup_window = std::chrono::seconds(60);
    Org org(limits);
    auto client = org.client_of(org.staff, 70);
    const auto client_id = client->device.account_id;
    client->conn->disconnect();
    REQUIRE(org.staff.send_to(client_id, 1, "a", 1).has_sent());
    REQUIRE(org.staff.send_to(client_id, 1, "b", 2).has_sent());
    const auto resend = org.staff.send_to(client_id, 1, "a", 1);
    REQUIRE(resend.has_sent());
    CHECK(resend.sent().duplicate());
    CHECK(error_of(org.staff.send_to(client_id, 1, "c", 3)) == v1::QUEUE_FULL);

    // After the window the id is free again: the same id now means a new message.
    org.relay.clock.advance(std::chrono::seconds(61));
    Client back(org.relay, 70);
    back.device.account_id = client_id;
    REQUIRE(back.login().has_logged_in());
    auto got = back.conn->deliveries(2);
    REQUIRE(got.size() == 2);
    std::vector<std::uint64_t> ids;
    for (const auto& d : got) {
      ids.push_back(d.envelope_id());
    }
    REQUIRE(back.ack(ids).has_acked());
    const auto again = org.staff.send_to(client_id, 1, "a2", 1);
    REQUIRE(again.has_sent());
    CHECK_FALSE(again.sent().duplicate());
  }

  TEST_CASE("a peer that does not read its answers is closed (1008), not silently ignored") {
    InProcessRelay r;
    auto conn = r.connect("127.0.0.1", 2);  // room for two frames, never drained
    v1::ClientFrame ping;
    ping.mutable_ping();
    for (std::uint64_t i = 1; i <= 3; ++i) {
      ping.set_request_id(i);
      conn->deliver(ping);
    }
    conn->run_tasks();
    CHECK(conn->closed());
    REQUIRE(conn->close_reason().has_value());
    CHECK(*conn->close_reason() == relay::CloseReason::policy_violation);
  }

  TEST_CASE("live delivery keeps order through a small delivery window with acks") {
    relay::Limits limits;
    limits.max_unacked_deliveries = 8;
    limits.max_deliveries_per_frame = 3;
    Org org(limits);
    auto client = org.client_of(org.staff, 70);
    const auto client_id = client->device.account_id;
    // Drain the (empty) queue first so the client is live.
    (void)client->conn->deliveries(0, std::chrono::milliseconds(100));
    std::uint64_t expected = 1;
    std::uint64_t sent = 0;
    while (expected <= 200) {
      while (sent < 200 && sent < expected + 20) {
        ++sent;
        REQUIRE(org.staff.send_to(client_id, 1, std::to_string(sent), sent).has_sent());
      }
      auto got = client->conn->deliveries(1);
      REQUIRE_FALSE(got.empty());
      std::vector<std::uint64_t> ids;
      for (const auto& d : got) {
        CHECK(d.ciphertext() == std::to_string(expected));
        ++expected;
        ids.push_back(d.envelope_id());
      }
      REQUIRE(client->ack(ids).has_acked());
    }
    CHECK(expected == 201);
  }

  TEST_CASE("bounds: envelopes per send, envelope size, queue length, rates, connections") {
    relay::Limits limits;
    limits.max_envelopes_per_send = 4;
    limits.max_envelope_bytes = 100;
    limits.max_queued_envelopes_per_device = 5;
    limits.messages_per_second = 1;
    limits.message_burst = 8;
    limits.max_connections_per_address = 3;
    Org org(limits);
    const auto admin_id = org.admin.device.account_id;

    v1::ClientFrame many;
    many.set_request_id(org.staff.rid());
    many.mutable_send()->set_client_message_id(test::message_id(1000));
    for (int i = 0; i < 5; ++i) {
      auto* e = many.mutable_send()->add_envelopes();
      e->set_recipient_account_id(admin_id);
      e->set_recipient_device_id(1);
      e->set_ciphertext("x");
    }
    CHECK(error_of(org.staff.conn->request(many)) == v1::TOO_MANY_ENVELOPES);
    CHECK(error_of(org.staff.send_to(admin_id, 1, std::string(101, 'x'), 1001)) == v1::TOO_LARGE);

    org.admin.conn->disconnect();
    for (std::uint64_t i = 0; i < 5; ++i) {
      REQUIRE(org.staff.send_to(admin_id, 1, "q", 2000 + i).has_sent());
    }
    CHECK(error_of(org.staff.send_to(admin_id, 1, "q", 2010)) == v1::QUEUE_FULL);

    // Every Send that passes validation takes a token (6 so far); the burst is 8 and the fake clock
    // stands still, so the ninth is refused with a time to wait.
    CHECK(error_of(org.staff.send_to(admin_id, 1, "q", 2011)) == v1::QUEUE_FULL);
    CHECK(error_of(org.staff.send_to(admin_id, 1, "q", 2012)) == v1::QUEUE_FULL);
    auto limited = org.staff.send_to(admin_id, 1, "q", 2013);
    CHECK(error_of(limited) == v1::RATE_LIMITED);
    CHECK(limited.error().retry_after_ms() > 0);

    // Connections per address: two are open (admin closed, staff open); 3 allowed.
    auto c1 = org.relay.connect("10.0.0.1");
    auto c2 = org.relay.connect("10.0.0.1");
    auto c3 = org.relay.connect("10.0.0.1");
    auto c4 = org.relay.connect("10.0.0.1");
    CHECK(c3->accepted());
    CHECK_FALSE(c4->accepted());
    c1->disconnect();
    CHECK(org.relay.connect("10.0.0.1")->accepted());
  }

}  // TEST_SUITE
