// SPDX-License-Identifier: AGPL-3.0-or-later
// Retention policies, disappearing messages, the account export and erasure on the relay
// (docs/PROTOCOL.md 2.19 and 2.20), over the in-process relay with a fake clock; erasure is
// proven on the raw bytes of relay.db, -wal, -shm and the blob directory.
#include "files_fixture.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <set>
#include <thread>

using namespace lotse;
using namespace lotse::test;

namespace {

relay::Limits timers() {
  relay::Limits l;
  l.disappearing_min = std::chrono::seconds(60);
  l.disappearing_max = std::chrono::seconds(7 * 24 * 3600);
  return l;
}

std::string marker(char tag) {
  std::string m = "LOTSE-PRIVACY-MARKER-";
  m += tag;
  for (int i = 0; i < 40; ++i) {
    m += static_cast<char>('a' + (i * 11 + tag) % 26);
  }
  return m;
}

v1::ConversationRef with_peer(const Client& peer) {
  v1::ConversationRef ref;
  ref.set_peer_account_id(peer.device.account_id);
  return ref;
}

v1::ServerFrame get_policy(Client& c, const v1::ConversationRef& ref) {
  v1::ClientFrame f;
  f.set_request_id(c.rid());
  *f.mutable_get_policy()->mutable_conversation() = ref;
  return c.conn->request(f);
}

v1::ServerFrame set_timer(Client& c, const v1::ConversationRef& ref, std::uint32_t seconds,
                          bool use_default = false) {
  v1::ClientFrame f;
  f.set_request_id(c.rid());
  *f.mutable_set_policy()->mutable_conversation() = ref;
  f.mutable_set_policy()->set_disappearing_seconds(seconds);
  f.mutable_set_policy()->set_use_default(use_default);
  return c.conn->request(f);
}

v1::ServerFrame export_account(Client& c, const std::string& after = {}) {
  v1::ClientFrame f;
  f.set_request_id(c.rid());
  f.mutable_export_account()->set_blobs_after(after);
  return c.conn->request(f);
}

v1::ServerFrame delete_account(Client& c, const std::string& account_id) {
  v1::ClientFrame f;
  f.set_request_id(c.rid());
  f.mutable_delete_account()->set_account_id(account_id);
  return c.conn->request(f);
}

std::int64_t account_row(InProcessRelay& r, const Client& c) {
  return count_rows(r, "SELECT id FROM accounts WHERE public_id = '" + c.device.account_id + "'");
}

}  // namespace

TEST_SUITE_BEGIN("relay privacy");

TEST_CASE("a pairwise timer is set within the organisation's bounds and both members see it") {
  GroupOrg org(timers());
  const auto org_only = get_policy(*org.carla, {});
  REQUIRE_MESSAGE(org_only.has_policy(), org_only.DebugString());
  CHECK(org_only.policy().min_disappearing_seconds() == 60);
  CHECK(org_only.policy().max_disappearing_seconds() == 7 * 24 * 3600);
  CHECK(org_only.policy().undelivered_max_age_seconds() == 30 * 24 * 3600);
  CHECK(org_only.policy().inactive_client_erasure_seconds() == 180 * 24 * 3600);
  CHECK(org_only.policy().disappearing_seconds() == 0);

  // The client sets a timer for her own conversation with her counsellor.
  const auto set = set_timer(*org.carla, with_peer(*org.anna), 3600);
  REQUIRE_MESSAGE(set.has_policy(), set.DebugString());
  CHECK(set.policy().disappearing_seconds() == 3600);
  CHECK(set.policy().disappearing_from_conversation());
  CHECK(set.policy().disappearing_set_by() == org.carla->device.account_id);
  const auto seen = get_policy(*org.anna, with_peer(*org.carla));
  REQUIRE(seen.has_policy());
  CHECK(seen.policy().disappearing_seconds() == 3600);
  CHECK(seen.policy().disappearing_set_by() == org.carla->device.account_id);
  CHECK(seen.policy().conversation().peer_account_id() == org.carla->device.account_id);

  SUBCASE("outside the bounds: POLICY_BOUNDS, nothing changes") {
    CHECK(set_timer(*org.anna, with_peer(*org.carla), 59).error().code() == v1::POLICY_BOUNDS);
    CHECK(set_timer(*org.anna, with_peer(*org.carla), 7 * 24 * 3600 + 1).error().code() ==
          v1::POLICY_BOUNDS);
    CHECK(get_policy(*org.carla, with_peer(*org.anna)).policy().disappearing_seconds() == 3600);
  }
  SUBCASE("back to the default") {
    const auto reset = set_timer(*org.anna, with_peer(*org.carla), 0, true);
    REQUIRE(reset.has_policy());
    CHECK_FALSE(reset.policy().disappearing_from_conversation());
    CHECK(reset.policy().disappearing_seconds() == 0);
    CHECK(count_rows(org.relay, "SELECT count(*) FROM pair_policies") == 0);
  }
  SUBCASE("nobody outside the conversation sees or sets it") {
    CHECK(get_policy(*org.dora, with_peer(*org.carla)).error().code() == v1::UNKNOWN_RECIPIENT);
    CHECK(set_timer(*org.dora, with_peer(*org.carla), 120).error().code() == v1::UNKNOWN_RECIPIENT);
    v1::ConversationRef both = with_peer(*org.carla);
    both.set_group_id(std::string(16, 'g'));
    CHECK(get_policy(*org.anna, both).error().code() == v1::BAD_REQUEST);
  }
}

TEST_CASE("turning a timer off needs the organisation's consent when its default sets one") {
  auto limits = timers();
  limits.disappearing_default = std::chrono::seconds(86400);
  limits.disappearing_off_allowed = false;
  GroupOrg org(limits);
  CHECK(get_policy(*org.anna, with_peer(*org.carla)).policy().disappearing_seconds() == 86400);
  CHECK(set_timer(*org.anna, with_peer(*org.carla), 0).error().code() == v1::POLICY_BOUNDS);
  CHECK(set_timer(*org.anna, with_peer(*org.carla), 600).has_policy());
}

TEST_CASE("disappearing messages: deliveries carry the deadline, the relay purges them then") {
  const LogCapture logs;
  GroupOrg org(timers());
  REQUIRE(set_timer(*org.anna, with_peer(*org.carla), 120).has_policy());
  const auto now = org.relay.clock.now_ms();
  const auto secret = marker('t');
  const auto sent = org.anna->send_to(org.carla->device.account_id, 1, secret, 1);
  REQUIRE_MESSAGE(sent.has_sent(), sent.DebugString());
  CHECK(sent.sent().disappear_at_ms() == static_cast<std::uint64_t>(now + 120'000));
  const auto got = pushed(*org.carla);
  REQUIRE(got.size() == 1);
  CHECK(got[0].disappear_at_ms() == static_cast<std::uint64_t>(now + 120'000));
  CHECK(count_rows(org.relay, "SELECT count(*) FROM envelopes WHERE disappear_at = " +
                                  std::to_string(now + 120'000) +
                                  " AND expires_at = disappear_at") == 1);
  // A conversation without a timer is unaffected.
  const auto plain = org.ben->send_to(org.dora->device.account_id, 1, marker('p'), 2);
  CHECK(plain.sent().disappear_at_ms() == 0);
  CHECK(pushed(*org.dora).at(0).disappear_at_ms() == 0);

  // Not acknowledged: still queued, on disk until the deadline...
  CHECK(relay_bytes(org.relay).find(secret) != std::string::npos);
  org.relay.clock.advance(std::chrono::seconds(119));
  sweep(org.relay);
  CHECK(relay_bytes(org.relay).find(secret) != std::string::npos);
  // ...and gone at it, from every file of the relay.
  org.relay.clock.advance(std::chrono::seconds(1));
  sweep(org.relay);
  CHECK(count_rows(org.relay, "SELECT count(*) FROM envelopes WHERE disappear_at IS NOT NULL") ==
        0);
  CHECK(relay_bytes(org.relay).find(secret) == std::string::npos);
  CHECK(logs.text().find(secret) == std::string::npos);
  // Read back after a reconnect: nothing of it is delivered any more.
  org.carla->conn->disconnect();
  org.carla->conn = org.relay.connect();
  REQUIRE(org.carla->login().has_logged_in());
  wait_drained(*org.carla);
  CHECK(pushed(*org.carla).empty());
}

TEST_CASE("a group's timer: owners and admins set it, every member's delivery carries it") {
  GroupOrg org(timers());
  TestGroup g{GroupOrg::group_id(51)};
  change(
      *org.anna, g,
      {member(*org.anna, protocol::GroupRole::owner), member(*org.ben, protocol::GroupRole::member),
       member(*org.carla, protocol::GroupRole::member)});
  (void)pushed(*org.ben);
  (void)pushed(*org.carla);
  v1::ConversationRef ref;
  ref.set_group_id(g.id_string());
  CHECK(set_timer(*org.ben, ref, 300).error().code() == v1::NOT_AUTHORIZED);
  REQUIRE(set_timer(*org.anna, ref, 300).has_policy());
  CHECK(get_policy(*org.carla, ref).policy().disappearing_seconds() == 300);
  CHECK(get_policy(*org.dora, ref).error().code() == v1::UNKNOWN_GROUP);
  const auto now = org.relay.clock.now_ms();
  const auto sent = group_send(*org.ben, g, marker('g'), 7);
  REQUIRE_MESSAGE(sent.has_sent(), sent.DebugString());
  CHECK(sent.sent().disappear_at_ms() == static_cast<std::uint64_t>(now + 300'000));
  for (auto* member : {org.anna.get(), org.carla.get()}) {
    const auto got = pushed(*member);
    REQUIRE(got.size() == 1);
    CHECK(got[0].disappear_at_ms() == static_cast<std::uint64_t>(now + 300'000));
  }
  org.relay.clock.advance(std::chrono::seconds(300));
  sweep(org.relay);
  CHECK(count_rows(org.relay, "SELECT count(*) FROM group_messages") == 0);
  CHECK(relay_bytes(org.relay).find(marker('g')) == std::string::npos);
}

TEST_CASE("the export holds exactly what the relay's tables hold about the account") {
  GroupOrg org(timers());
  auto& carla = *org.carla;
  // Some of everything: queued envelopes both ways, a blob, a timer, an invite of anna's.
  REQUIRE(org.anna->send_to(carla.device.account_id, 1, marker('1'), 1).has_sent());
  REQUIRE(carla.send_to(org.anna->device.account_id, 1, marker('2'), 2).has_sent());
  const auto blob = upload(carla, std::string(3000, 'b'), 1024);
  REQUIRE(send_with_blobs(carla, *org.anna, {blob}, 3).has_sent());
  REQUIRE(set_timer(carla, with_peer(*org.anna), 600).has_policy());

  const auto reply = export_account(carla);
  REQUIRE_MESSAGE(reply.has_account_export(), reply.DebugString());
  const auto& e = reply.account_export();
  const auto row = std::to_string(account_row(org.relay, carla));
  // Compared with a direct dump of the tables, field by field.
  CHECK(e.account_id() == carla.device.account_id);
  CHECK(e.role() == v1::CLIENT);
  CHECK(e.handle().empty());
  CHECK(e.inviter_account_id() == org.anna->device.account_id);
  CHECK(static_cast<std::int64_t>(e.created_at_ms()) ==
        count_rows(org.relay, "SELECT created_at FROM accounts WHERE id = " + row));
  CHECK(static_cast<std::int64_t>(e.last_seen_at_ms()) ==
        count_rows(org.relay, "SELECT last_seen_at FROM accounts WHERE id = " + row));
  REQUIRE(e.devices_size() ==
          count_rows(org.relay, "SELECT count(*) FROM devices WHERE account = " + row));
  const auto& d = e.devices(0);
  const std::string device_row =
      "(SELECT id FROM devices WHERE account = " + row + " AND device_no = 1)";
  CHECK(
      d.one_time_prekeys() ==
      count_rows(org.relay, "SELECT count(*) FROM one_time_prekeys WHERE device = " + device_row));
  CHECK(d.queued_envelopes() == count_rows(org.relay,
                                           "SELECT count(*) FROM envelopes WHERE "
                                           "recipient_device = " +
                                               device_row));
  CHECK(d.queued_envelopes() >= 1);
  CHECK(static_cast<std::int64_t>(d.oldest_queued_at_ms()) ==
        count_rows(org.relay,
                   "SELECT min(created_at) FROM envelopes WHERE recipient_device = " + device_row));
  CHECK(d.queued_sent() == count_rows(org.relay,
                                      "SELECT count(*) FROM envelopes WHERE "
                                      "sender_device = " +
                                          device_row));
  CHECK(
      d.send_guards() ==
      count_rows(org.relay, "SELECT count(*) FROM send_dedup WHERE sender_device = " + device_row));
  CHECK(e.connections_size() ==
        count_rows(org.relay, "SELECT count(*) FROM connections WHERE a = " + row));
  REQUIRE(e.connections_size() == 1);
  CHECK(e.connections(0) == org.anna->device.account_id);
  CHECK(static_cast<std::int64_t>(e.blob_count()) ==
        count_rows(org.relay, "SELECT count(*) FROM blobs WHERE owner = " + row));
  REQUIRE(e.blobs_size() == 1);
  CHECK(e.blobs(0).blob_id() == blob);
  CHECK(e.blobs(0).size() == 3000);
  CHECK(e.blobs(0).complete());
  CHECK_FALSE(e.more_blobs());
  CHECK(e.readable_blobs() ==
        count_rows(org.relay, "SELECT count(*) FROM blob_readers WHERE account = " + row));
  // The organisation's policy first, then the conversation's own timer.
  REQUIRE(e.policies_size() ==
          1 + count_rows(org.relay,
                         "SELECT count(*) FROM pair_policies WHERE a = " + row + " OR b = " + row));
  CHECK(e.policies(1).conversation().peer_account_id() == org.anna->device.account_id);
  CHECK(e.policies(1).disappearing_seconds() == 600);
  CHECK(e.groups_size() ==
        count_rows(org.relay, "SELECT count(*) FROM group_members WHERE account = " + row));
  CHECK(e.invites_size() ==
        count_rows(org.relay, "SELECT count(*) FROM invites WHERE inviter = " + row));
  CHECK(e.audit_size() == 0);

  // Staff: the invites they made are theirs too.
  const auto anna = export_account(*org.anna);
  REQUIRE(anna.has_account_export());
  const auto anna_row = std::to_string(account_row(org.relay, *org.anna));
  CHECK(anna.account_export().invites_size() ==
        count_rows(org.relay, "SELECT count(*) FROM invites WHERE inviter = " + anna_row));
  CHECK(anna.account_export().handle() == "anna");
}

TEST_CASE("the export pages through many blobs") {
  GroupOrg org;
  std::set<std::string> uploaded;
  for (int i = 0; i < 5; ++i) {
    uploaded.insert(upload(*org.carla, std::string(10, static_cast<char>('a' + i)), 10));
  }
  const auto all = export_account(*org.carla);
  REQUIRE(all.has_account_export());
  CHECK(all.account_export().blob_count() == 5);
  CHECK(all.account_export().blobs_size() == 5);
  std::set<std::string> exported;
  for (const auto& b : all.account_export().blobs()) {
    exported.insert(b.blob_id());
  }
  CHECK(exported == uploaded);
  // blobs_after continues after a given id, in id order.
  const auto first = *uploaded.begin();
  const auto rest = export_account(*org.carla, first);
  REQUIRE(rest.has_account_export());
  CHECK(rest.account_export().blobs_size() == 4);
  CHECK(rest.account_export().blobs(0).blob_id() == *std::next(uploaded.begin()));
  CHECK(export_account(*org.carla, "short").error().code() == v1::BAD_REQUEST);
}

TEST_CASE("DeleteAccount erases everything of the account; its contacts are told") {
  const LogCapture logs;
  GroupOrg org;
  auto& carla = *org.carla;
  const auto carla_id = carla.device.account_id;
  const auto row = std::to_string(account_row(org.relay, carla));
  const auto to_her = marker('h');
  const auto from_her = marker('f');
  const auto blob_bytes = marker('b') + std::string(2000, 'z');
  // Queued both ways (nobody acknowledges), a blob she owns and one she may read.
  REQUIRE(org.anna->send_to(carla_id, 1, to_her, 1).has_sent());
  REQUIRE(carla.send_to(org.anna->device.account_id, 1, from_her, 2).has_sent());
  const auto blob = upload(carla, blob_bytes, 1000);
  REQUIRE(send_with_blobs(carla, *org.anna, {blob}, 3).has_sent());
  const auto annas = upload(*org.anna, std::string(100, 'a'), 100);
  REQUIRE(send_with_blobs(*org.anna, carla, {annas}, 4).has_sent());
  (void)pushed(*org.anna);
  const auto before = relay_bytes(org.relay);
  REQUIRE(before.find(to_her) != std::string::npos);
  REQUIRE(before.find(from_her) != std::string::npos);
  REQUIRE(before.find(marker('b')) != std::string::npos);

  CHECK(delete_account(carla, org.anna->device.account_id).error().code() == v1::BAD_REQUEST);
  const auto deleted = delete_account(carla, carla_id);
  REQUIRE_MESSAGE(deleted.has_account_deleted(), deleted.DebugString());
  org.relay.executor.flush();
  carla.conn->run_tasks();
  CHECK(carla.conn->closed());

  // Her counsellor hears of it.
  const auto notices = pushed(*org.anna);
  REQUIRE(notices.size() == 1);
  CHECK(notices[0].account_erased() == carla_id);
  CHECK(notices[0].sender_account_id().empty());
  CHECK(notices[0].ciphertext().empty());
  REQUIRE(org.anna->ack({notices[0].envelope_id()}).has_acked());

  // No row anywhere refers to her.
  for (const std::string& sql : std::vector<std::string>{
           "SELECT count(*) FROM accounts WHERE id = " + row,
           "SELECT count(*) FROM devices WHERE account = " + row,
           "SELECT count(*) FROM connections WHERE a = " + row + " OR b = " + row,
           "SELECT count(*) FROM blobs WHERE owner = " + row,
           "SELECT count(*) FROM blob_readers WHERE account = " + row,
           "SELECT count(*) FROM invites WHERE inviter = " + row,
           "SELECT count(*) FROM group_members WHERE account = " + row,
           "SELECT count(*) FROM pair_policies WHERE a = " + row + " OR b = " + row,
           "SELECT count(*) FROM one_time_prekeys WHERE device NOT IN (SELECT id FROM devices)",
           "SELECT count(*) FROM envelopes WHERE recipient_device NOT IN (SELECT id FROM devices) "
           "OR sender_device NOT IN (SELECT id FROM devices)",
           "SELECT count(*) FROM audit_log"}) {
    CHECK_MESSAGE(count_rows(org.relay, sql) == 0, sql);
  }
  CHECK_FALSE(blob_file_exists(org.relay, blob));
  CHECK(blob_file_exists(org.relay, annas));
  // Made final on disk by the next sweep: no byte of her messages or file is left.
  sweep(org.relay);
  const auto after = relay_bytes(org.relay);
  for (const auto& entry : std::filesystem::recursive_directory_iterator(
           org.relay.store.blob_directory().parent_path())) {
    if (entry.is_regular_file() && file_bytes(entry.path()).find(to_her) != std::string::npos) {
      MESSAGE("marker in " << entry.path() << " size " << entry.file_size());
    }
  }
  CHECK(after.find(to_her) == std::string::npos);
  CHECK(after.find(from_her) == std::string::npos);
  CHECK(after.find(marker('b')) == std::string::npos);
  // Her account id is in no file of the database (only the deletion journal names it, by design:
  // docs/PRIVACY.md) and in no line the relay logged.
  CHECK(database_bytes(org.relay).find(carla_id) == std::string::npos);
  CHECK_FALSE(logs.text().empty());
  for (const auto& needle : {to_her, from_her, marker('b'), carla_id}) {
    CHECK(logs.text().find(needle) == std::string::npos);
  }

  // She cannot log in again; others cannot reach her.
  carla.conn = org.relay.connect();
  CHECK(carla.login().error().code() == v1::UNKNOWN_ACCOUNT);
  CHECK(org.anna->send_to(carla_id, 1, "x", 9).error().code() == v1::UNKNOWN_RECIPIENT);
}

TEST_CASE("client accounts inactive for policy.inactive_client_erasure are erased and audited") {
  relay::Limits limits;
  limits.inactive_client_erasure = std::chrono::seconds(10 * 86400);
  GroupOrg org(limits);
  const auto carla_id = org.carla->device.account_id;
  const auto dora_id = org.dora->device.account_id;
  org.relay.clock.advance(std::chrono::seconds(5 * 86400));
  // Dora logs in again half way: her clock starts anew.
  org.dora->conn->disconnect();
  org.dora->conn = org.relay.connect();
  REQUIRE(org.dora->login().has_logged_in());
  org.relay.clock.advance(std::chrono::seconds(5 * 86400));
  sweep(org.relay);
  CHECK(count_rows(org.relay,
                   "SELECT count(*) FROM accounts WHERE public_id = '" + carla_id + "'") == 0);
  CHECK(count_rows(org.relay,
                   "SELECT count(*) FROM accounts WHERE public_id = '" + dora_id + "'") == 1);
  // Staff are never erased for inactivity.
  CHECK(count_rows(org.relay, "SELECT count(*) FROM accounts WHERE role != 3") == 3);
  CHECK(count_rows(org.relay,
                   "SELECT count(*) FROM audit_log WHERE actor = 'relay' AND action = "
                   "'account.erased.inactive' AND subject = '" +
                       carla_id + "'") == 1);
  // Anna, her counsellor, is told.
  bool told = false;
  for (const auto& d : pushed(*org.anna)) {
    told = told || d.account_erased() == carla_id;
  }
  CHECK(told);
  // The audit entry goes after policy.audit_log_lifetime (by then dora is erased too: a new one).
  org.relay.clock.advance(limits.audit_log_lifetime);
  sweep(org.relay);
  CHECK(count_rows(org.relay,
                   "SELECT count(*) FROM audit_log WHERE subject = '" + carla_id + "'") == 0);
  CHECK(count_rows(org.relay, "SELECT count(*) FROM audit_log WHERE subject = '" + dora_id + "'") ==
        1);
}

TEST_CASE("an erasure by another process (lotse-relay users remove) reaches the running relay") {
  GroupOrg org;
  const auto carla_id = org.carla->device.account_id;
  {
    // What the admin command does, on its own connection to the same database.
    store::RelayStore admin(org.relay.store.blob_directory().parent_path() / "relay.db", false);
    const auto* a = admin.account_by_public_id(carla_id);
    REQUIRE(a != nullptr);
    admin.begin();
    auto erased = relay::erase_account(admin, relay::Limits{}, a->id, org.relay.clock.now_ms(),
                                       "relay-admin", "account.erased.admin");
    admin.commit();
    CHECK(erased.public_id == carla_id);
    CHECK(erased.erasure.notices.size() == 1);  // anna's device
  }
  // The relay notices within its watch interval: her connection closes, anna hears of it.
  for (int i = 0; i < 100 && !org.carla->conn->closed(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    org.carla->conn->run_tasks();
  }
  CHECK(org.carla->conn->closed());
  std::vector<v1::Delivery> got;
  for (int i = 0; i < 100 && got.empty(); ++i) {
    got = org.anna->conn->deliveries(1, std::chrono::milliseconds(50));
  }
  REQUIRE(got.size() == 1);
  CHECK(got[0].account_erased() == carla_id);
  CHECK(count_rows(org.relay, "SELECT count(*) FROM audit_log WHERE actor = 'relay-admin'") == 1);
  CHECK(org.anna->send_to(carla_id, 1, "x", 9).error().code() == v1::UNKNOWN_RECIPIENT);
}

namespace {

v1::ServerFrame close_with(Client& staff, const Client& peer, std::vector<std::string> notices) {
  v1::ClientFrame f;
  f.set_request_id(staff.rid());
  auto* c = f.mutable_close_conversation();
  c->mutable_conversation()->set_peer_account_id(peer.device.account_id);
  c->set_client_message_id(message_id(900));
  for (const auto& n : notices) {
    auto* e = c->add_notices();
    e->set_recipient_account_id(peer.device.account_id);
    e->set_recipient_device_id(1);
    e->set_ciphertext(n);
  }
  return staff.conn->request(f);
}

}  // namespace

TEST_CASE("closing a case purges the conversation on the relay and queues the wipe notice") {
  const LogCapture logs;
  GroupOrg org;
  auto& anna = *org.anna;
  auto& carla = *org.carla;
  const auto queued_to_her = marker('q');
  const auto queued_from_her = marker('r');
  REQUIRE(anna.send_to(carla.device.account_id, 1, queued_to_her, 1).has_sent());
  REQUIRE(carla.send_to(anna.device.account_id, 1, queued_from_her, 2).has_sent());
  const auto blob = upload(carla, marker('s') + std::string(500, 'y'), 1000);
  REQUIRE(send_with_blobs(carla, anna, {blob}, 3).has_sent());
  const auto other = org.ben->send_to(org.dora->device.account_id, 1, marker('o'), 4);
  REQUIRE(other.has_sent());
  (void)pushed(anna);
  (void)pushed(carla);

  // Clients cannot close; a peer id is required; the notices must go to the peer.
  CHECK(close_with(carla, anna, {}).error().code() == v1::NOT_AUTHORIZED);
  CHECK(close_with(*org.ben, carla, {"n"}).error().code() == v1::UNKNOWN_RECIPIENT);
  // Bounds: each refused with its code, and nothing is deleted.
  const auto refused = [&](auto&& change) {
    v1::ClientFrame f;
    f.set_request_id(anna.rid());
    auto* c = f.mutable_close_conversation();
    c->mutable_conversation()->set_peer_account_id(carla.device.account_id);
    c->set_client_message_id(message_id(901));
    auto* n = c->add_notices();
    n->set_recipient_account_id(carla.device.account_id);
    n->set_recipient_device_id(1);
    n->set_ciphertext("n");
    change(*c);
    return anna.conn->request(f).error().code();
  };
  CHECK(refused([](v1::CloseConversation& c) { c.set_client_message_id("short"); }) ==
        v1::BAD_REQUEST);
  CHECK(refused([&](v1::CloseConversation& c) {
          c.mutable_notices(0)->set_recipient_account_id(org.ben->device.account_id);
        }) == v1::BAD_REQUEST);
  CHECK(refused([&](v1::CloseConversation& c) {
          c.mutable_notices(0)->set_recipient_account_id(anna.device.account_id);
        }) == v1::BAD_REQUEST);
  CHECK(refused([](v1::CloseConversation& c) { c.mutable_notices(0)->clear_ciphertext(); }) ==
        v1::BAD_REQUEST);
  CHECK(refused([](v1::CloseConversation& c) {
          c.mutable_notices(0)->set_ciphertext(std::string(300'000, 'x'));
        }) == v1::TOO_LARGE);
  CHECK(refused([](v1::CloseConversation& c) {
          c.mutable_conversation()->set_group_id(std::string(16, 'g'));
        }) == v1::BAD_REQUEST);
  CHECK(refused([](v1::CloseConversation& c) {
          c.mutable_notices(0)->set_recipient_device_id(9);
        }) == v1::UNKNOWN_RECIPIENT);

  const auto closed = close_with(anna, carla, {"the e2e close notice"});
  REQUIRE_MESSAGE(closed.has_conversation_closed(), closed.DebugString());
  CHECK(closed.conversation_closed().envelopes_deleted() == 3);
  CHECK(closed.conversation_closed().blobs_deleted() == 1);
  CHECK(closed.conversation_closed().keep_staff_copy());
  // Only the notice is left for her; it arrives as an ordinary delivery from anna.
  const auto got = pushed(carla);
  REQUIRE(got.size() == 1);
  CHECK(got[0].ciphertext() == "the e2e close notice");
  CHECK(got[0].sender_account_id() == anna.device.account_id);
  CHECK_FALSE(blob_file_exists(org.relay, blob));
  // They are no longer connected: neither can write to the other.
  CHECK(anna.send_to(carla.device.account_id, 1, "x", 5).error().code() == v1::NOT_AUTHORIZED);
  CHECK(carla.send_to(anna.device.account_id, 1, "x", 6).error().code() == v1::NOT_AUTHORIZED);
  CHECK(count_rows(org.relay,
                   "SELECT count(*) FROM audit_log WHERE action = "
                   "'conversation.closed' AND actor = '" +
                       anna.device.account_id + "' AND subject = '" + carla.device.account_id +
                       "'") == 1);
  // Other conversations are untouched; no byte of the closed one is left after the sweep.
  CHECK(count_rows(org.relay, "SELECT count(*) FROM envelopes WHERE CAST(ciphertext AS TEXT) = '" +
                                  marker('o') + "'") == 1);
  sweep(org.relay);
  const auto bytes = relay_bytes(org.relay);
  CHECK(bytes.find(queued_to_her) == std::string::npos);
  CHECK(bytes.find(queued_from_her) == std::string::npos);
  CHECK(bytes.find(marker('s')) == std::string::npos);
  // The logs name neither the conversation's accounts nor anything of its content.
  CHECK_FALSE(logs.text().empty());
  for (const auto& needle : {queued_to_her, queued_from_her, marker('s'), carla.device.account_id,
                             anna.device.account_id}) {
    CHECK(logs.text().find(needle) == std::string::npos);
  }
}

TEST_CASE("an archiving commit with closed set purges the group's queued messages") {
  GroupOrg org;
  TestGroup g{GroupOrg::group_id(52)};
  const std::vector<protocol::GroupMember> members{member(*org.anna, protocol::GroupRole::owner),
                                                   member(*org.ben, protocol::GroupRole::member),
                                                   member(*org.carla, protocol::GroupRole::member)};
  change(*org.anna, g, members);
  for (auto* c : {org.ben.get(), org.carla.get()}) {
    (void)pushed(*c);
  }
  REQUIRE(group_send(*org.ben, g, marker('G'), 1).has_sent());
  CHECK(count_rows(org.relay, "SELECT count(*) FROM group_messages") == 1);
  auto commit = raw_commit(*org.anna, g, members);
  commit.set_archived(true);
  commit.set_closed(true);
  const auto reply = commit_to(*org.anna, g, sign_raw(*org.anna, commit));
  REQUIRE_MESSAGE(reply.has_group_updated(), reply.DebugString());
  CHECK(count_rows(org.relay, "SELECT count(*) FROM group_messages") == 0);
  CHECK(count_rows(org.relay, "SELECT count(*) FROM envelopes WHERE group_message IS NOT NULL") ==
        0);
  // The commit itself still reaches the members (they wipe their copies on it).
  CHECK(count_rows(org.relay, "SELECT count(*) FROM envelopes WHERE group_commit IS NOT NULL") >=
        2);
  // Audited without content: who closed which group.
  CHECK(count_rows(org.relay,
                   "SELECT count(*) FROM audit_log WHERE action = "
                   "'conversation.closed' AND actor = '" +
                       org.anna->device.account_id + "' AND detail LIKE 'group %'") == 1);
  sweep(org.relay);
  CHECK(relay_bytes(org.relay).find(marker('G')) == std::string::npos);
}
