// SPDX-License-Identifier: AGPL-3.0-or-later
// Counselling inboxes and cases on the relay (docs/PROTOCOL.md 2.22): admins define an inbox and
// its flyer invite; an anonymous client registers with it and opens its case with the on-duty
// staff; one counsellor claims it (the first commit wins, the other learns CASE_CLAIMED); a
// handover moves it to a colleague, with a reason in the audit log, directly or with the client's
// consent; the office-hours notice is stored only if its admin signed it; caps and rate limits
// hold new clients back.
#include "group_fixture.hpp"

#include "protocol/inbox_notice.hpp"

#include "lotse/v1/e2e.pb.h"
#include "wire/invite_link.hpp"

#include <doctest/doctest.h>

using namespace lotse;
using namespace lotse::test;
using protocol::GroupRole;

namespace {

v1::ServerFrame request(Client& c, v1::ClientFrame f) {
  f.set_request_id(c.rid());
  return c.conn->request(f);
}

v1::ServerFrame set_inbox(Client& admin, const std::string& inbox_id, const std::string& name,
                          const std::vector<std::pair<const Client*, bool>>& staff,
                          bool consent = false, std::uint32_t max_open = 0) {
  v1::ClientFrame f;
  auto* s = f.mutable_set_inbox();
  s->set_inbox_id(inbox_id);
  s->set_name(name);
  for (const auto& [c, supervisor] : staff) {
    auto* m = s->add_staff();
    m->set_account_id(c->device.account_id);
    m->set_supervisor(supervisor);
  }
  s->set_handover_needs_consent(consent);
  s->set_max_open_cases(max_open);
  return request(admin, f);
}

v1::ServerFrame flyer(Client& admin, const std::string& inbox_id, std::uint32_t uses = 100) {
  v1::ClientFrame f;
  f.mutable_create_invite()->set_role(v1::CLIENT);
  f.mutable_create_invite()->set_uses(uses);
  f.mutable_create_invite()->set_inbox_id(inbox_id);
  return request(admin, f);
}

// A relay with an admin (who runs the inbox), three counsellors and a supervisor.
struct Centre {
  explicit Centre(relay::Limits limits = {}) : org(limits) {
    cem = std::make_unique<Client>(org.relay, 20);
    sue = std::make_unique<Client>(org.relay, 21);
    REQUIRE(cem->register_with(org.relay.invite(store::Role::staff), "cem").has_registered());
    REQUIRE(sue->register_with(org.relay.invite(store::Role::staff), "sue").has_registered());
    wait_drained(*cem);
    wait_drained(*sue);
    const auto made = set_inbox(
        *org.admin, "", "Jugendberatung",
        {{org.anna.get(), false}, {org.ben.get(), false}, {cem.get(), false}, {sue.get(), true}});
    REQUIRE_MESSAGE(made.has_inbox(), made.DebugString());
    inbox_id = made.inbox().inbox_id();
    const auto invite = flyer(*org.admin, inbox_id);
    REQUIRE_MESSAGE(invite.has_invite_created(), invite.DebugString());
    line = invite.invite_created().invite();
  }

  // A new anonymous client through the flyer.
  std::unique_ptr<Client> newcomer(std::uint64_t seed) {
    auto link = wire::InviteLink::parse(line);
    REQUIRE(link.has_value());
    auto c = std::make_unique<Client>(org.relay, seed);
    const auto reply = c->register_with(link->token);
    REQUIRE_MESSAGE(reply.has_registered(), reply.DebugString());
    CHECK(reply.registered().inbox_id() == inbox_id);
    CHECK(reply.registered().inviter_account_id().empty());
    wait_drained(*c);
    return c;
  }

  // The client opens its case with the given staff (admins of the group).
  v1::ServerFrame open_case(Client& client, TestGroup& g, const std::vector<const Client*>& staff) {
    std::vector<protocol::GroupMember> members{member(client, GroupRole::owner)};
    for (const auto* s : staff) {
      members.push_back(member(*s, GroupRole::admin));
    }
    const auto commit = make_commit(client, g, members);
    v1::ClientFrame f;
    *f.mutable_update_group()->mutable_commit() = commit;
    f.mutable_update_group()->set_inbox_id(inbox_id);
    auto reply = request(client, f);
    if (reply.has_group_updated()) {
      g.state = *protocol::apply_group_commit(nullptr, commit);
    }
    return reply;
  }

  GroupOrg org;
  std::unique_ptr<Client> cem;
  std::unique_ptr<Client> sue;
  std::string inbox_id;
  std::string line;
};

v1::ServerFrame commit_with_reason(Client& author, TestGroup& g,
                                   std::vector<protocol::GroupMember> members,
                                   const std::string& reason) {
  const auto commit = make_commit(author, g, std::move(members));
  v1::ClientFrame f;
  *f.mutable_update_group()->mutable_commit() = commit;
  f.mutable_update_group()->set_handover_reason(reason);
  auto reply = request(author, f);
  if (reply.has_group_updated()) {
    g.state = *protocol::apply_group_commit(g.current(), commit);
  }
  return reply;
}

v1::Cases cases_of(Client& c) {
  v1::ClientFrame f;
  f.mutable_list_cases();
  const auto reply = request(c, f);
  REQUIRE(reply.has_cases());
  return reply.cases();
}

std::vector<std::string> contact_ids(Client& c) {
  v1::ClientFrame f;
  f.mutable_list_contacts();
  const auto reply = request(c, f);
  REQUIRE(reply.has_contacts());
  std::vector<std::string> out;
  for (const auto& contact : reply.contacts().contacts()) {
    out.push_back(contact.account_id());
  }
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_SUITE_BEGIN("relay inboxes");

TEST_CASE("admins define an inbox and its flyer invite, which names the notice's signer") {
  Centre centre;
  auto& org = centre.org;
  CHECK(error_of(set_inbox(*org.anna, "", "Elternberatung", {})) == v1::NOT_AUTHORIZED);
  CHECK(error_of(set_inbox(*org.admin, "", "", {})) == v1::BAD_REQUEST);
  CHECK(error_of(set_inbox(*org.admin, "", "Bad\nname", {})) == v1::BAD_REQUEST);
  CHECK(error_of(set_inbox(*org.admin, "", "jugendberatung", {})) == v1::BAD_REQUEST);  // taken
  CHECK(error_of(set_inbox(*org.admin, "", "Eltern", {{org.carla.get(), false}})) ==
        v1::BAD_REQUEST);  // a client is not staff
  CHECK(error_of(set_inbox(*org.admin, std::string(16, 'x'), "Eltern", {})) == v1::UNKNOWN_INBOX);
  CHECK(error_of(flyer(*org.anna, centre.inbox_id)) == v1::NOT_AUTHORIZED);
  CHECK(error_of(flyer(*org.admin, std::string(16, 'x'))) == v1::UNKNOWN_INBOX);
  CHECK(error_of(flyer(*org.admin, centre.inbox_id, 100'001)) == v1::BAD_REQUEST);

  const auto link = wire::InviteLink::parse(centre.line);
  REQUIRE(link.has_value());
  REQUIRE(link->inbox.has_value());
  CHECK(std::string(link->inbox->begin(), link->inbox->end()) == centre.inbox_id);
  const auto admin_key = org.admin->device.account_key.public_key().bytes();
  CHECK(std::equal(link->signer.begin(), link->signer.end(), admin_key.begin(), admin_key.end()));
  CHECK(link->role == "client");

  // Staff see every inbox with its staff; an ordinary client sees none.
  v1::ClientFrame list;
  list.mutable_list_inboxes();
  const auto seen = request(*org.ben, list);
  REQUIRE(seen.inboxes().inboxes_size() == 1);
  CHECK(seen.inboxes().inboxes(0).staff_size() == 4);
  CHECK(seen.inboxes().inboxes(0).signer_account_id() == org.admin->device.account_id);
  CHECK(request(*org.carla, list).inboxes().inboxes_size() == 0);
  CHECK(count_rows(org.relay, "SELECT count(*) FROM audit_log WHERE action = 'inbox.created'") ==
        1);
}

TEST_CASE("a flyer client reaches the on-duty staff, opens its case, one counsellor claims it") {
  Centre centre;
  auto& org = centre.org;
  // Cem is off duty: new clients do not reach him.
  v1::ClientFrame duty;
  duty.mutable_set_duty()->set_inbox_id(centre.inbox_id);
  duty.mutable_set_duty()->set_on_duty(false);
  REQUIRE(request(*centre.cem, duty).has_inbox());
  CHECK(error_of(request(*org.carla, duty)) == v1::UNKNOWN_INBOX);  // not its staff

  auto mia = centre.newcomer(30);
  const auto contacts = contact_ids(*mia);
  CHECK(contains(contacts, org.anna->device.account_id));
  CHECK(contains(contacts, org.ben->device.account_id));
  CHECK(contains(contacts, centre.sue->device.account_id));  // the supervisor
  CHECK_FALSE(contains(contacts, centre.cem->device.account_id));
  CHECK_FALSE(contains(contacts, org.admin->device.account_id));
  CHECK_FALSE(contains(contacts, org.carla->device.account_id));
  // Her inbox, as a client sees it: the staff she can write to, their keys, and the signer.
  v1::ClientFrame list;
  list.mutable_list_inboxes();
  const auto hers = request(*mia, list);
  REQUIRE(hers.inboxes().inboxes_size() == 1);
  CHECK(hers.inboxes().inboxes(0).contacts_size() == 3);
  CHECK(hers.inboxes().inboxes(0).open_cases() == 0);  // staff only

  // Her case: with cem (off duty) or another client it is refused; with those on duty it opens.
  TestGroup g{GroupOrg::group_id(70)};
  CHECK(error_of(centre.open_case(*mia, g, {org.anna.get(), centre.cem.get()})) == v1::GROUP_RULE);
  CHECK(error_of(centre.open_case(*mia, g, {org.anna.get(), org.carla.get()})) == v1::GROUP_RULE);
  CHECK(error_of(centre.open_case(*mia, g, {centre.sue.get()})) == v1::GROUP_RULE);  // no one
  REQUIRE(centre.open_case(*mia, g, {org.anna.get(), org.ben.get(), centre.sue.get()})
              .has_group_updated());
  TestGroup second{GroupOrg::group_id(71)};
  CHECK(error_of(centre.open_case(*mia, second, {org.anna.get()})) == v1::GROUP_RULE);
  // An ordinary client cannot open a case, nor a group.
  TestGroup carlas{GroupOrg::group_id(72)};
  CHECK(error_of(centre.open_case(*org.carla, carlas, {org.anna.get()})) == v1::UNKNOWN_INBOX);

  // Her first message reaches every counsellor on duty.
  (void)pushed(*org.anna);
  (void)pushed(*org.ben);
  REQUIRE(group_send(*mia, g, "first words", 1).has_sent());
  CHECK(pushed(*org.anna).size() == 1);
  CHECK(pushed(*org.ben).size() == 1);
  CHECK(pushed(*centre.sue).size() >= 1);
  const auto queue = cases_of(*org.anna);
  REQUIRE(queue.cases_size() == 1);
  CHECK(queue.cases(0).counsellor_account_id().empty());
  CHECK(queue.cases(0).client_account_id() == mia->device.account_id);
  CHECK(queue.cases(0).inbox_name() == "Jugendberatung");
  CHECK(cases_of(*org.carla).cases_size() == 0);
  CHECK(cases_of(*mia).cases_size() == 1);

  // A claim keeps the supervisor, and the claimer is an admin of the case.
  CHECK(error_of(update_group(*org.anna, make_commit(*org.anna, g,
                                                     {member(*mia, GroupRole::owner),
                                                      member(*org.anna, GroupRole::admin)}))) ==
        v1::GROUP_RULE);
  // Anna and Ben claim at the same moment: exactly one wins.
  TestGroup annas = g;
  TestGroup bens = g;
  const auto anna_claim =
      make_commit(*org.anna, annas,
                  {member(*mia, GroupRole::owner), member(*org.anna, GroupRole::admin),
                   member(*centre.sue, GroupRole::admin)});
  const auto ben_claim =
      make_commit(*org.ben, bens,
                  {member(*mia, GroupRole::owner), member(*org.ben, GroupRole::admin),
                   member(*centre.sue, GroupRole::admin)});
  v1::ClientFrame fa;
  fa.set_request_id(org.anna->rid());
  *fa.mutable_update_group()->mutable_commit() = anna_claim;
  v1::ClientFrame fb;
  fb.set_request_id(org.ben->rid());
  *fb.mutable_update_group()->mutable_commit() = ben_claim;
  org.anna->conn->deliver(fa);
  org.ben->conn->deliver(fb);
  const auto a = org.anna->conn->answer(fa.request_id());
  const auto b = org.ben->conn->answer(fb.request_id());
  CHECK(a.has_group_updated() != b.has_group_updated());
  const bool anna_won = a.has_group_updated();
  const auto& loser = anna_won ? b : a;
  CHECK(error_of(loser) == v1::CASE_CLAIMED);
  Client& winner = anna_won ? *org.anna : *org.ben;
  Client& other = anna_won ? *org.ben : *org.anna;
  g.state = *protocol::apply_group_commit(g.current(), anna_won ? anna_claim : ben_claim);

  // From now on the case is the client's and the winner's (and the supervisor's).
  const auto claimed = cases_of(winner);
  REQUIRE(claimed.cases_size() == 1);
  CHECK(claimed.cases(0).counsellor_account_id() == winner.device.account_id);
  CHECK(cases_of(other).cases_size() == 0);
  (void)pushed(other);
  REQUIRE(group_send(*mia, g, "to my counsellor", 2).has_sent());
  CHECK(pushed(other).empty());
  CHECK(pushed(winner).size() == 1);
  CHECK(error_of(group_send(other, g, "x", 3)) == v1::UNKNOWN_GROUP);
  const auto after = contact_ids(*mia);
  CHECK(contains(after, winner.device.account_id));
  CHECK_FALSE(contains(after, other.device.account_id));
  CHECK(count_rows(org.relay,
                   "SELECT count(*) FROM audit_log WHERE action = 'case.claimed' AND "
                   "actor = '" +
                       winner.device.account_id + "'") == 1);
  // Somebody outside the inbox learns nothing about the case.
  CHECK(
      error_of(update_group(
          *org.admin, sign_raw(*org.admin, raw_commit(*org.admin, g,
                                                      {member(*mia, GroupRole::owner),
                                                       member(*org.admin, GroupRole::admin)})))) ==
      v1::UNKNOWN_GROUP);
  // A second claim attempt by the loser says why.
  CHECK(error_of(
            update_group(other, sign_raw(other, raw_commit(other, g,
                                                           {member(*mia, GroupRole::owner),
                                                            member(other, GroupRole::admin)})))) ==
        v1::CASE_CLAIMED);
}

TEST_CASE("a handover moves the case to a colleague, audited with the reason") {
  Centre centre;
  auto& org = centre.org;
  auto mia = centre.newcomer(31);
  TestGroup g{GroupOrg::group_id(73)};
  REQUIRE(centre.open_case(*mia, g, {org.anna.get(), org.ben.get(), centre.cem.get()})
              .has_group_updated());
  change(*org.anna, g, {member(*mia, GroupRole::owner), member(*org.anna, GroupRole::admin)});
  const std::vector<protocol::GroupMember> to_cem{member(*mia, GroupRole::owner),
                                                  member(*centre.cem, GroupRole::admin)};
  // Needs a reason; only to a counsellor of the inbox; never dropping the client.
  CHECK(error_of(commit_with_reason(*org.anna, g, to_cem, "")) == v1::BAD_REQUEST);
  CHECK(error_of(commit_with_reason(
            *org.anna, g, {member(*mia, GroupRole::owner), member(*org.dora, GroupRole::admin)},
            "x")) == v1::GROUP_RULE);
  CHECK(error_of(commit_with_reason(
            *org.anna, g, {member(*mia, GroupRole::owner), member(*centre.sue, GroupRole::admin)},
            "x")) == v1::GROUP_RULE);  // a supervisor does not counsel
  CHECK(error_of(commit_with_reason(*org.anna, g, {member(*centre.cem, GroupRole::admin)}, "x")) ==
        v1::GROUP_RULE);
  const auto done = commit_with_reason(*org.anna, g, to_cem, "Urlaub ab Montag");
  REQUIRE_MESSAGE(done.has_group_updated(), done.DebugString());
  CHECK(cases_of(*centre.cem).cases(0).counsellor_account_id() == centre.cem->device.account_id);
  CHECK(error_of(group_send(*org.anna, g, "x", 1)) == v1::UNKNOWN_GROUP);
  CHECK(
      count_rows(org.relay,
                 "SELECT count(*) FROM audit_log WHERE action = 'case.handed_over' AND actor = '" +
                     org.anna->device.account_id + "' AND subject = '" +
                     centre.cem->device.account_id + "' AND detail LIKE '%Urlaub ab Montag'") == 1);
  // Each sees it in what the relay holds about them (ExportAccount).
  v1::ClientFrame export_frame;
  export_frame.mutable_export_account();
  const auto hers = request(*mia, export_frame).account_export();
  CHECK(hers.client_of_inbox() == centre.inbox_id);
  REQUIRE(hers.cases_size() == 1);
  CHECK(hers.cases(0).counsellor_account_id() == centre.cem->device.account_id);
  const auto annas = request(*org.anna, export_frame).account_export();
  REQUIRE(annas.inbox_roles_size() == 1);
  CHECK(annas.inbox_roles(0).name() == "Jugendberatung");
  CHECK(annas.cases_size() == 0);  // not hers any more
  bool audited = false;
  for (const auto& e : annas.audit()) {
    audited = audited || (e.action() == "case.handed_over" &&
                          e.detail().find("Urlaub ab Montag") != std::string::npos);
  }
  CHECK(audited);
}

TEST_CASE("with consent required the client commits the handover it was asked for, or declines") {
  Centre centre;
  auto& org = centre.org;
  REQUIRE(set_inbox(*org.admin, centre.inbox_id, "Jugendberatung",
                    {{org.anna.get(), false}, {org.ben.get(), false}, {centre.cem.get(), false}},
                    true)
              .has_inbox());
  auto mia = centre.newcomer(32);
  TestGroup g{GroupOrg::group_id(74)};
  REQUIRE(centre.open_case(*mia, g, {org.anna.get(), org.ben.get()}).has_group_updated());
  change(*org.anna, g, {member(*mia, GroupRole::owner), member(*org.anna, GroupRole::admin)});
  const std::vector<protocol::GroupMember> to_ben{member(*mia, GroupRole::owner),
                                                  member(*org.ben, GroupRole::admin)};
  CHECK(error_of(commit_with_reason(*org.anna, g, to_ben, "Spezialgebiet")) ==
        v1::CONSENT_REQUIRED);
  // Without a request the client's own commit is refused.
  CHECK(error_of(commit_with_reason(*mia, g, to_ben, "")) == v1::GROUP_RULE);

  v1::ClientFrame ask;
  ask.mutable_request_handover()->set_case_id(g.id_string());
  ask.mutable_request_handover()->set_to_account_id(org.ben->device.account_id);
  ask.mutable_request_handover()->set_reason("Spezialgebiet");
  CHECK(error_of(request(*org.ben, ask)) == v1::UNKNOWN_GROUP);  // not the counsellor
  (void)pushed(*mia);
  REQUIRE(request(*org.anna, ask).has_handover_requested());
  auto notices = pushed(*mia);
  REQUIRE(notices.size() == 1);
  CHECK(notices[0].case_notice().kind() == v1::CaseNotice::HANDOVER_REQUESTED);
  CHECK(notices[0].case_notice().to_account_id() == org.ben->device.account_id);
  CHECK(notices[0].sender_account_id().empty());
  CHECK(cases_of(*org.anna).cases(0).pending_handover_to() == org.ben->device.account_id);

  // She declines: the counsellor hears of it, nothing changes.
  v1::ClientFrame no;
  no.mutable_decline_handover()->set_case_id(g.id_string());
  (void)pushed(*org.anna);
  REQUIRE(request(*mia, no).has_handover_declined());
  const auto declined = pushed(*org.anna);
  REQUIRE(declined.size() == 1);
  CHECK(declined[0].case_notice().kind() == v1::CaseNotice::HANDOVER_DECLINED);
  CHECK(error_of(request(*mia, no)) == v1::BAD_REQUEST);  // nothing waiting any more

  // Asked again, she consents by committing it herself.
  REQUIRE(request(*org.anna, ask).has_handover_requested());
  CHECK(error_of(commit_with_reason(
            *mia, g, {member(*mia, GroupRole::owner), member(*centre.cem, GroupRole::admin)},
            "")) == v1::GROUP_RULE);  // not whom she was asked about
  const auto consented = commit_with_reason(*mia, g, to_ben, "");
  REQUIRE_MESSAGE(consented.has_group_updated(), consented.DebugString());
  CHECK(cases_of(*org.ben).cases(0).counsellor_account_id() == org.ben->device.account_id);
  CHECK(count_rows(org.relay,
                   "SELECT count(*) FROM audit_log WHERE action = 'case.handed_over' AND detail "
                   "LIKE '%(client consented): Spezialgebiet'") == 1);
}

TEST_CASE("the office-hours notice is stored only when the inbox's admin signed it") {
  Centre centre;
  auto& org = centre.org;
  protocol::InboxNotice n;
  n.inbox_id.assign(centre.inbox_id.begin(), centre.inbox_id.end());
  n.inbox_name = "Jugendberatung";
  n.hours = {{1, 9 * 60, 17 * 60}};
  n.utc_offset_minutes = 60;
  n.eu_summer_time = true;
  n.outside_hours_text = "Wir antworten ab Montag 9 Uhr.";
  n.published_at_ms = 1'800'000'000'000;
  n.signer_account_id = org.admin->device.account_id;
  auto signed_notice = protocol::make_inbox_notice(n, org.admin->device.account_key);
  REQUIRE(signed_notice.has_value());

  v1::ClientFrame publish;
  *publish.mutable_publish_inbox_notice()->mutable_notice() = *signed_notice;
  CHECK(error_of(request(*org.anna, publish)) == v1::NOT_AUTHORIZED);
  auto tampered = publish;
  v1::InboxNotice changed;
  REQUIRE(changed.ParseFromString(signed_notice->notice()));
  changed.set_outside_hours_text("Wir sind geschlossen.");
  tampered.mutable_publish_inbox_notice()->mutable_notice()->set_notice(
      changed.SerializeAsString());
  CHECK(error_of(request(*org.admin, tampered)) == v1::BAD_SIGNATURE);
  REQUIRE(request(*org.admin, publish).has_inbox());

  // A client reads it and verifies it with the key its flyer names.
  auto mia = centre.newcomer(33);
  v1::ClientFrame list;
  list.mutable_list_inboxes();
  const auto hers = request(*mia, list);
  REQUIRE(hers.inboxes().inboxes_size() == 1);
  const auto link = wire::InviteLink::parse(centre.line);
  const auto signer = crypto::Ed25519PublicKey::from_bytes(link->signer);
  REQUIRE(signer.has_value());
  const auto verified = protocol::verify_inbox_notice(hers.inboxes().inboxes(0).notice(), *signer,
                                                      crypto::as_bytes(centre.inbox_id));
  REQUIRE(verified.has_value());
  CHECK(verified->outside_hours_text == "Wir antworten ab Montag 9 Uhr.");
}

TEST_CASE("an inbox caps open cases and the rate of new clients") {
  relay::Limits limits;
  limits.inbox_registrations_per_hour = 3;
  Centre centre(limits);
  auto& org = centre.org;
  REQUIRE(
      set_inbox(*org.admin, centre.inbox_id, "Jugendberatung", {{org.anna.get(), false}}, false, 2)
          .has_inbox());
  const auto token = wire::InviteLink::parse(centre.line)->token;
  auto first = centre.newcomer(40);
  auto second = centre.newcomer(41);
  Client third(org.relay, 42);
  const auto full = third.register_with(token);
  CHECK(error_of(full) == v1::INBOX_FULL);
  CHECK(full.error().retry_after_ms() > 0);
  // A claimed case no longer counts: room for one more, until the hourly rate is spent.
  TestGroup g{GroupOrg::group_id(75)};
  REQUIRE(centre.open_case(*first, g, {org.anna.get()}).has_group_updated());
  // Anna is its only counsellor: she claims it without a membership change.
  v1::ClientFrame claim;
  claim.mutable_claim_case()->set_case_id(g.id_string());
  const auto claimed = request(*org.anna, claim);
  REQUIRE_MESSAGE(claimed.has_case_claimed(), claimed.DebugString());
  CHECK(claimed.case_claimed().counsellor_account_id() == org.anna->device.account_id);
  CHECK(error_of(request(*org.anna, claim)) == v1::CASE_CLAIMED);
  CHECK(error_of(request(*org.ben, claim)) == v1::UNKNOWN_GROUP);  // not in this inbox now
  Client fourth(org.relay, 43);
  REQUIRE(fourth.register_with(token).has_registered());
  TestGroup h{GroupOrg::group_id(76)};
  REQUIRE(centre.open_case(*second, h, {org.anna.get()}).has_group_updated());
  claim.mutable_claim_case()->set_case_id(h.id_string());
  REQUIRE(request(*org.anna, claim).has_case_claimed());
  Client fifth(org.relay, 44);
  const auto limited = fifth.register_with(token);
  CHECK(error_of(limited) == v1::INBOX_FULL);  // three this hour already
  org.relay.clock.advance(std::chrono::minutes(20));
  Client sixth(org.relay, 45);
  CHECK(sixth.register_with(token).has_registered());
}

TEST_SUITE_END();
