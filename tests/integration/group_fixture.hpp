// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// An organisation on an in-process relay for the group tests: an admin, two counsellors (anna,
// ben) and a client of each (carla of anna, dora of ben), all registered through the relay, and
// helpers that sign group commits with the registered device keys as a real client does.
#include "support/relay_harness.hpp"

#include "protocol/group_commit.hpp"

#include "lotse/v1/e2e.pb.h"
#include "wire/invite_link.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lotse::test {

inline v1::ErrorCode error_of(const v1::ServerFrame& f) {
  return f.has_error() ? f.error().code() : v1::ERROR_CODE_UNSPECIFIED;
}

// A group as one client tracks it: its id and the state after the last accepted commit.
struct TestGroup {
  explicit TestGroup(crypto::Bytes group_id) : id(std::move(group_id)) {}

  crypto::Bytes id;
  std::optional<protocol::GroupState> state;
  std::vector<v1::SignedGroupCommit> log;

  [[nodiscard]] std::string id_string() const { return {id.begin(), id.end()}; }
  [[nodiscard]] const protocol::GroupState* current() const { return state ? &*state : nullptr; }
};

inline protocol::GroupMember member(const Client& c, protocol::GroupRole role) {
  return {c.device.account_id, c.device.account_key.public_key(), role};
}

// Signs a GroupCommit with `c`'s device key and genuine certificate, without
// make_group_commit's own checks (what a misbehaving client could send).
inline v1::SignedGroupCommit sign_raw(const Client& c, const v1::GroupCommit& commit) {
  v1::SignedGroupCommit s;
  s.set_commit(commit.SerializeAsString());
  c.device.identity.public_key().to_proto(*s.mutable_author_device());
  const auto cert = c.device.device_certificate();
  s.set_author_device_certificate(cert.data(), cert.size());
  const auto sig = c.device.identity.signing().sign(protocol::sig_context::group_commit,
                                                    crypto::as_bytes(s.commit()));
  s.set_signature(sig.data(), crypto::Signature::size);
  return s;
}

// A commit moving `g` to `members` (any order), as a client would build it.
inline v1::GroupCommit raw_commit(const Client& author, const TestGroup& g,
                                  std::vector<protocol::GroupMember> members,
                                  bool archived = false) {
  std::sort(members.begin(), members.end(),
            [](const auto& a, const auto& b) { return a.account_id < b.account_id; });
  v1::GroupCommit c;
  c.set_version(1);
  c.set_group_id(g.id.data(), g.id.size());
  c.set_epoch(g.state ? g.state->epoch + 1 : 0);
  if (g.state) {
    c.set_previous(g.state->head.data(), g.state->head.size());
  }
  c.set_author_account_id(author.device.account_id);
  c.set_author_device_id(author.device.device_id);
  c.set_archived(archived);
  c.set_created_at_ms(1'800'000'000'000);
  for (const auto& m : members) {
    auto* e = c.add_members();
    e->set_account_id(m.account_id);
    const auto key = m.account_key.bytes();
    e->set_account_key(key.data(), key.size());
    e->set_role(static_cast<v1::GroupRole>(m.role));
  }
  return c;
}

inline v1::ServerFrame update_group(Client& c, const v1::SignedGroupCommit& commit) {
  v1::ClientFrame f;
  f.set_request_id(c.rid());
  *f.mutable_update_group()->mutable_commit() = commit;
  return c.conn->request(f);
}

// make_group_commit by `author` on top of g's state; REQUIREs that it signs.
inline v1::SignedGroupCommit make_commit(const Client& author, const TestGroup& g,
                                         std::vector<protocol::GroupMember> members,
                                         bool archived = false) {
  const auto cert = author.device.device_certificate();
  const protocol::CommitAuthor who{author.device.account_id, author.device.device_id,
                                   author.device.identity, cert};
  auto commit = protocol::make_group_commit(g.current(), g.id, std::move(members), archived, who,
                                            1'800'000'000'000);
  REQUIRE(commit.has_value());
  return *commit;
}

// Sends `commit`; on GroupUpdated moves g to it.
inline v1::ServerFrame commit_to(Client& author, TestGroup& g,
                                 const v1::SignedGroupCommit& commit) {
  auto reply = update_group(author, commit);
  if (reply.has_group_updated()) {
    auto next = protocol::apply_group_commit(g.current(), commit);
    REQUIRE(next.has_value());
    g.state = *next;
    g.log.push_back(commit);
  }
  return reply;
}

// Signs and sends a change; REQUIREs GroupUpdated.
inline void change(Client& author, TestGroup& g, std::vector<protocol::GroupMember> members,
                   bool archived = false) {
  const auto reply = commit_to(author, g, make_commit(author, g, std::move(members), archived));
  REQUIRE_MESSAGE(reply.has_group_updated(), reply.DebugString());
  CHECK(reply.group_updated().epoch() == g.state->epoch);
}

inline v1::ServerFrame group_send(Client& c, const TestGroup& g, const std::string& ciphertext,
                                  std::uint64_t message_number) {
  v1::ClientFrame f;
  f.set_request_id(c.rid());
  auto* s = f.mutable_send();
  s->set_client_message_id(message_id(message_number));
  s->set_group_id(g.id_string());
  s->set_group_ciphertext(ciphertext);
  s->set_group_epoch(g.state ? g.state->epoch : 0);
  return c.conn->request(f);
}

// Waits for QueueDrained (after Register/Login): from then on deliveries are live pushes, which
// the relay posts before it answers the request that caused them.
inline void wait_drained(Client& c) {
  for (auto it = c.conn->skipped.begin(); it != c.conn->skipped.end(); ++it) {
    if (it->has_queue_drained()) {
      c.conn->skipped.erase(it);
      return;
    }
  }
  for (;;) {
    auto f = c.conn->next();
    REQUIRE(f.has_value());
    if (f->has_queue_drained()) {
      return;
    }
    c.conn->skipped.push_back(*f);
  }
}

// Everything pushed to `c` by now. Live pushes are posted to a connection before the answer to
// the request that caused them, so after that answer a short deadline only runs what is queued.
inline std::vector<v1::Delivery> pushed(Client& c) {
  return c.conn->deliveries(1'000'000, std::chrono::milliseconds(20));
}

// One SQL count on the relay's database thread.
inline std::int64_t count_rows(InProcessRelay& r, const std::string& sql) {
  std::int64_t n = -1;
  REQUIRE(r.executor.submit<bool>(
      [&](store::RelayStore& s) {
        n = s.db().query_int(sql);
        return true;
      },
      [](std::optional<bool>) {}));
  r.executor.flush();
  return n;
}

struct GroupOrg {
  explicit GroupOrg(relay::Limits limits = {}) : relay(limits) {
    admin = std::make_unique<Client>(relay, 1);
    anna = std::make_unique<Client>(relay, 2);
    ben = std::make_unique<Client>(relay, 3);
    REQUIRE(admin->register_with(relay.invite(store::Role::admin), "admin").has_registered());
    REQUIRE(anna->register_with(relay.invite(store::Role::staff), "anna").has_registered());
    REQUIRE(ben->register_with(relay.invite(store::Role::staff), "ben").has_registered());
    carla = client_of(*anna, 4);
    dora = client_of(*ben, 5);
    for (auto* c : everyone()) {
      wait_drained(*c);
    }
  }

  std::unique_ptr<Client> client_of(Client& counsellor, std::uint64_t seed) {
    v1::ClientFrame f;
    f.set_request_id(counsellor.rid());
    f.mutable_create_invite()->set_role(v1::CLIENT);
    const auto reply = counsellor.conn->request(f);
    REQUIRE(reply.has_invite_created());
    const auto link = wire::InviteLink::parse(reply.invite_created().invite());
    REQUIRE(link.has_value());
    auto c = std::make_unique<Client>(relay, seed);
    REQUIRE(c->register_with(link->token).has_registered());
    return c;
  }

  // A second device of `c`'s account with the same keys (the relay has no linking request yet),
  // logged in on its own connection.
  std::unique_ptr<Client> second_device(const Client& c, std::uint64_t seed) {
    REQUIRE(relay.executor.submit<bool>(
        [id = c.device.account_id](store::RelayStore& s) {
          s.db().exec(
              "INSERT INTO devices(account, device_no, signing_key, dh_key, dh_signature, "
              "device_certificate, signed_prekey_id, signed_prekey, signed_prekey_signature, "
              "created_at) SELECT account, 2, signing_key, dh_key, dh_signature, "
              "device_certificate, signed_prekey_id, signed_prekey, signed_prekey_signature, "
              "created_at FROM devices WHERE device_no = 1 AND account = (SELECT id FROM "
              "accounts WHERE public_id = '" +
              id + "')");
          s.reload();
          return true;
        },
        [](std::optional<bool>) {}));
    relay.executor.flush();
    auto d = std::make_unique<Client>(relay, seed);
    d->device.account_id = c.device.account_id;
    d->device.device_id = 2;
    REQUIRE(d->login().has_logged_in());
    wait_drained(*d);
    return d;
  }

  std::vector<Client*> everyone() {
    return {admin.get(), anna.get(), ben.get(), carla.get(), dora.get()};
  }

  static crypto::Bytes group_id(std::uint8_t n) {
    return crypto::Bytes(protocol::group_id_bytes, n);
  }

  InProcessRelay relay;
  std::unique_ptr<Client> admin, anna, ben, carla, dora;
};

}  // namespace lotse::test
