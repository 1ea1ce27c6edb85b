// SPDX-License-Identifier: AGPL-3.0-or-later
// Retention and privacy with the real binaries, as a client, a counsellor and an admin would use
// them: `lotse policy show|set`, `lotse privacy export`, `lotse account delete`, `lotse close`,
// and `lotse-relay users list|remove` and `policy show` (docs/PROTOCOL.md 2.19 to 2.21).
#include "store/sqlite.hpp"
#include "support/lotse_cli.hpp"
#include "support/relay_harness.hpp"
#include "support/relay_process.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <sstream>
#include <thread>

using namespace lotse;
using test::Lotse;
using test::trimmed;

namespace {

// A running relay with an admin, a counsellor (anna.k) and her client (Mia), each a profile.
struct Office {
  test::TempDir dir;
  test::RelayProcess relay{dir.path() / "relay"};
  Lotse admin{dir.path() / "admin"};
  Lotse anna{dir.path() / "anna"};
  Lotse mia{dir.path() / "mia"};

  Office() {
    relay.start();
    REQUIRE(relay.bootstrap_invite().has_value());
    admin.ok({"init", *relay.bootstrap_invite(), "--name", "admin"});
    anna.ok({"init", trimmed(relay.admin({"invite", "create", "--role", "staff"}).out), "--name",
             "anna.k"});
    mia.ok({"init", trimmed(anna.ok({"invite"}).out), "--name", "Mia"});
  }
};

}  // namespace

TEST_SUITE("blackbox") {
  TEST_CASE("policies, export and erasure from the command line") {
    Office office;
    auto& [dir, relay, admin, anna, mia] = office;
    const auto mia_id = mia.json({"whoami"})["account_id"].get<std::string>();
    const auto anna_id = anna.json({"whoami"})["account_id"].get<std::string>();

    // The organisation's policy, as the admin and as any member see it.
    const auto shown = relay.admin({"policy", "show"});
    REQUIRE(shown.exit_code == 0);
    CHECK(shown.out.find("policy.inactive_client_erasure = 15552000") != std::string::npos);
    CHECK(shown.out.find("limits.envelope_lifetime = 2592000") != std::string::npos);
    const auto org = mia.json({"policy", "show"});
    CHECK(org["inactive_client_erasure_seconds"] == 15552000);
    CHECK(org["disappearing_seconds"] == 0);

    // The client sets a timer for her conversation; her counsellor sees who set it.
    const auto set = mia.json({"policy", "set", "anna.k", "--disappearing", "12h"});
    CHECK(set["disappearing_seconds"] == 43200);
    const auto seen = anna.json({"policy", "show", "Mia"});
    CHECK(seen["disappearing_seconds"] == 43200);
    CHECK(seen["disappearing_set_by"] == mia_id);
    CHECK(seen["conversation"] == mia_id);
    const auto text = anna.ok({"policy", "show", "Mia"}).out;
    CHECK(text.find("disappearing: 12h (set by " + mia_id + ")") != std::string::npos);
    const auto bad = mia.run({"policy", "set", "anna.k", "--disappearing", "10s"});
    CHECK(bad.exit_code == 1);
    CHECK(bad.err.find("outside the organisation's bounds") != std::string::npos);
    CHECK(mia.run({"policy", "set", "anna.k", "--disappearing", "soon"}).exit_code == 2);

    // The export is one JSON document with what the relay holds about her.
    mia.ok({"send", "anna.k", "Hallo"});
    const auto exported = nlohmann::json::parse(mia.ok({"privacy", "export"}).out);
    CHECK(exported["account_id"] == mia_id);
    CHECK(exported["role"] == "CLIENT");
    CHECK(exported["inviter_account_id"] == anna_id);
    CHECK(exported["devices"].size() == 1);
    CHECK(exported["policies"].size() == 2);  // the organisation's and her conversation's

    // The admin lists accounts; the staff one with its handle.
    const auto users = relay.admin({"users", "list"});
    REQUIRE(users.exit_code == 0);
    CHECK(users.out.find(anna_id + " staff handle=anna.k devices=1") != std::string::npos);
    CHECK(users.out.find(mia_id + " client handle=- devices=1") != std::string::npos);

    // She deletes her account: nothing of it stays on the relay, nor in her profile directory.
    CHECK(mia.run({"account", "delete"}).exit_code == 2);  // needs --yes
    mia.ok({"account", "delete", "--yes"});
    CHECK_FALSE(std::filesystem::exists(mia.profile / "profile.db"));
    CHECK_FALSE(std::filesystem::exists(mia.profile / "profile.db-wal"));
    CHECK(relay.admin({"users", "list"}).out.find(mia_id) == std::string::npos);
    // Her counsellor's client forgets her when the notice arrives.
    (void)anna.ok({"inbox", "--wait", "2"});
    CHECK(anna.ok({"contacts"}).out.find("Mia") == std::string::npos);

    // An admin erases an account while the relay runs; it is audited, without content.
    const Lotse leo{dir.path() / "leo"};
    leo.ok({"init", trimmed(anna.ok({"invite"}).out), "--name", "Leo"});
    const auto leo_id = leo.json({"whoami"})["account_id"].get<std::string>();
    const auto removed = relay.admin({"users", "remove", leo_id});
    INFO(removed.err);
    REQUIRE(removed.exit_code == 0);
    CHECK(removed.out.find("erased " + leo_id) != std::string::npos);
    CHECK(relay.admin({"users", "remove", leo_id}).exit_code == 1);  // no such account now
    // The running relay noticed: Leo can no longer log in.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    const auto gone = leo.run({"inbox"});
    CHECK(gone.exit_code != 0);
    const auto anna_export = nlohmann::json::parse(anna.ok({"privacy", "export"}).out);
    CHECK(anna_export["account_id"] == anna_id);
    CHECK(relay.stop() == 0);
    {
      store::Database db(relay.data_dir() / "relay.db");
      CHECK(db.query_text("SELECT actor || ' ' || action || ' ' || subject FROM audit_log") ==
            "relay-admin account.erased.admin " + leo_id);
      CHECK(db.query_int("SELECT count(*) FROM accounts WHERE public_id IN ('" + leo_id + "', '" +
                         mia_id + "')") == 0);
    }
    const auto log = relay.log();
    CHECK(log.find("Hallo") == std::string::npos);
  }
  TEST_CASE("a counsellor closes a case: the relay purges it, the client's device wipes it") {
    Office office;
    auto& [dir, relay, admin, anna, mia] = office;
    const auto mia_id = mia.json({"whoami"})["account_id"].get<std::string>();
    mia.ok({"send", "anna.k", "Ich brauche Hilfe"});
    CHECK(anna.ok({"inbox", "--wait", "5"}).out.find("Ich brauche Hilfe") != std::string::npos);
    CHECK(mia.run({"close", "anna.k"}).exit_code == 1);  // only staff close a case
    anna.ok({"send", "Mia", "Noch nicht abgeholt"});     // queued on the relay: Mia is offline

    // The counsellor closes the case; the organisation keeps her copy by default.
    const auto closed = anna.json({"close", "Mia"});
    CHECK(closed["relay_envelopes_deleted"].get<int>() >= 1);
    CHECK(closed["relay_blobs_deleted"] == 0);
    CHECK(closed["kept_own_copy"] == true);
    CHECK(anna.ok({"history", "Mia"}).out.find("Ich brauche Hilfe") != std::string::npos);

    // Mia's device receives the close notice, never the purged message, and wipes the case.
    const auto inbox = mia.ok({"inbox", "--wait", "2"}).out;
    CHECK(inbox.find("Noch nicht abgeholt") == std::string::npos);
    CHECK(mia.run({"history", "anna.k"}).exit_code != 0);
    CHECK(mia.ok({"contacts"}).out.find("anna.k") == std::string::npos);
    // Neither can write to the other any more.
    CHECK(anna.run({"send", "Mia", "Hallo?"}).exit_code != 0);
    CHECK(relay.stop() == 0);
    store::Database db(relay.data_dir() / "relay.db");
    CHECK(db.query_int("SELECT count(*) FROM audit_log WHERE action = 'conversation.closed'") == 1);
    CHECK(db.query_int("SELECT count(*) FROM connections c JOIN accounts x ON x.id IN (c.a, c.b) "
                       "WHERE x.public_id = '" +
                       mia_id + "'") == 0);
  }
}
