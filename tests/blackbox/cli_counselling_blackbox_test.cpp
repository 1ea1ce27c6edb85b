// SPDX-License-Identifier: AGPL-3.0-or-later
// Counselling with the real binaries (docs/COUNSELLING.md): an admin creates an inbox with three
// counsellors and prints its flyer; an anonymous client joins with it, reads the signed office
// hours and writes; all three counsellors on duty see the case; two claim it at once and exactly
// one wins; the winner hands it over with a reason; the new counsellor reads the history, the old
// one gets no new message; the relay's files hold no plaintext; the audit log names who, when
// and why; `lotse wipe` leaves nothing of the client's profile.
#include "store/sqlite.hpp"
#include "support/lotse_cli.hpp"
#include "support/relay_harness.hpp"
#include "support/relay_process.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>
#include <thread>

using namespace lotse;
using test::Lotse;
using test::trimmed;

namespace {

std::string tree_bytes(const std::filesystem::path& dir) {
  std::string all;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file()) {
      std::ifstream in(e.path(), std::ios::binary);
      all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  return all;
}

// A running relay with its admin (leitung) and three counsellors (anna.k, ben, cem), each a
// profile; the tests define the inbox.
struct Centre {
  test::TempDir dir;
  test::RelayProcess relay{dir.path() / "relay"};
  Lotse admin{dir.path() / "admin"};
  Lotse anna{dir.path() / "anna"};
  Lotse ben{dir.path() / "ben"};
  Lotse cem{dir.path() / "cem"};

  Centre() {
    relay.start();
    REQUIRE(relay.bootstrap_invite().has_value());
    admin.ok({"init", *relay.bootstrap_invite(), "--name", "leitung"});
    for (const auto& [who, handle] :
         {std::pair{&anna, "anna.k"}, std::pair{&ben, "ben"}, std::pair{&cem, "cem"}}) {
      who->ok({"init", trimmed(relay.admin({"invite", "create", "--role", "staff"}).out), "--name",
               handle});
    }
  }
};

}  // namespace

TEST_SUITE("blackbox") {
  TEST_CASE("a counselling centre: flyer, anonymous client, claim race, handover, wipe") {
    Centre centre;
    auto& [dir, relay, admin, anna, ben, cem] = centre;

    // The admin sets up the inbox, its office hours (always closed: no hours at all would mean
    // always open, so one short slot on Sunday night) and prints the flyer.
    const auto created =
        admin.json({"inbox-admin", "create", "Jugendberatung", "--staff", "anna.k,ben,cem"});
    CHECK(created["staff"].size() == 3);
    const auto hours = admin.json({"inbox-admin", "hours", "Jugendberatung", "--hours",
                                   "So 03:00-03:01", "--outside", "Wir antworten montags."});
    CHECK(hours["notice"]["verified"] == true);
    const auto flyer = admin.line({"inbox-admin", "flyer", "Jugendberatung"});
    CHECK(flyer.find("&inbox=") != std::string::npos);
    CHECK(flyer.find("&signer=") != std::string::npos);
    CHECK(anna.run({"inbox-admin", "flyer", "Jugendberatung"}).exit_code == 1);  // not an admin

    // An anonymous client: no phone number, no e-mail, just the flyer.
    const Lotse mia{dir.path() / "mia"};
    mia.ok({"init", flyer, "--name", "Mia"});
    const auto info = mia.json({"inbox-info"});
    CHECK(info["name"] == "Jugendberatung");
    CHECK(info["notice"]["verified"] == true);  // signed by the key printed on the flyer
    CHECK(info["notice"]["open"] == false);
    CHECK(info["notice"]["text_to_show"] == "Wir antworten montags.");
    const auto first = mia.run({"send", "Jugendberatung", "Ich brauche Hilfe, Marker-7f3a"});
    INFO(first.err);
    REQUIRE(first.exit_code == 0);
    CHECK(first.err.find("Wir antworten montags.") != std::string::npos);  // shown before writing

    // She may make her own conversation disappear (she owns her case).
    CHECK(mia.json({"policy", "set", "Jugendberatung", "--disappearing",
                    "1d"})["disappearing_seconds"] == 86400);

    // All three counsellors on duty see the new case and its first message.
    std::string case_id;
    for (auto* s : {&anna, &ben, &cem}) {
      const auto queue = s->json_lines({"inbox-queue"});
      REQUIRE(queue.size() == 1);
      CHECK(queue[0]["state"] == "open");
      CHECK(queue[0]["client_name"] == "Mia");
      case_id = queue[0]["case"].get<std::string>();
      CHECK(s->ok({"inbox", "--wait", "5"}).out.find("Marker-7f3a") != std::string::npos);
    }

    // Anna and Ben claim at the same moment: exactly one wins.
    test::CommandResult a;
    test::CommandResult b;
    std::thread ta([&] { a = anna.run({"claim", case_id}); });
    std::thread tb([&] { b = ben.run({"claim", case_id}); });
    ta.join();
    tb.join();
    INFO("anna: " << a.err << " ben: " << b.err);
    REQUIRE((a.exit_code == 0) != (b.exit_code == 0));
    const bool anna_won = a.exit_code == 0;
    const Lotse& winner = anna_won ? anna : ben;
    const Lotse& loser = anna_won ? ben : anna;
    CHECK((anna_won ? b : a).err.find("nother counsellor has taken this case") !=
          std::string::npos);
    CHECK(loser.json_lines({"inbox-queue"}).empty());
    CHECK(mia.ok({"inbox"}).out.find("has taken your conversation") != std::string::npos);

    // The winner hands the case to Cem, with a reason.
    const auto handover =
        winner.run({"handover", case_id, "cem", "--reason", "Urlaub ab Montag", "--json"});
    INFO("handover: " << handover.err);
    REQUIRE(handover.exit_code == 0);
    CHECK(nlohmann::json::parse(handover.out)["counsellor_name"] == "cem");
    const auto after = mia.run({"send", "Jugendberatung", "Nach der Uebergabe, Marker-9c1e"});
    INFO("send after handover: " << after.err);
    REQUIRE(after.exit_code == 0);
    // Cem reads the history (re-encrypted to him by the winner) and the new message.
    (void)cem.ok({"inbox", "--wait", "5"});
    const auto history = cem.ok({"history", case_id}).out;
    CHECK(history.find("Marker-7f3a") != std::string::npos);
    CHECK(history.find("Marker-9c1e") != std::string::npos);
    // The old counsellors get no new message.
    CHECK(winner.ok({"inbox", "--wait", "2"}).out.find("Marker-9c1e") == std::string::npos);
    CHECK(loser.ok({"inbox", "--wait", "1"}).out.find("Marker-9c1e") == std::string::npos);
    // The client sees who counsels her now, and that the case was handed over.
    CHECK(mia.json({"inbox-info"})["case"]["counsellor_name"] == "cem");
    CHECK(mia.ok({"inbox"}).out.find("[case] your conversation was handed over from ") !=
          std::string::npos);
    CHECK(mia.ok({"inbox"}).out.find("[case]") == std::string::npos);  // told once

    CHECK(relay.stop() == 0);
    // No plaintext anywhere in the relay's files; the audit log says who, when and why.
    const auto on_disk = tree_bytes(relay.data_dir());
    CHECK(on_disk.find("Marker-7f3a") == std::string::npos);
    CHECK(on_disk.find("Marker-9c1e") == std::string::npos);
    CHECK(on_disk.find("Mia") == std::string::npos);
    {
      store::Database db(relay.data_dir() / "relay.db");
      CHECK(db.query_int("SELECT count(*) FROM audit_log WHERE action = 'case.claimed'") == 1);
      CHECK(db.query_int("SELECT count(*) FROM audit_log WHERE action = 'case.handed_over' AND "
                         "detail LIKE '%Urlaub ab Montag' AND at > 0") == 1);
    }

    // The client's phone may be read by someone else: wipe leaves nothing.
    CHECK(mia.run({"wipe"}).exit_code == 2);  // needs --yes
    mia.ok({"wipe", "--yes"});
    CHECK_FALSE(std::filesystem::exists(mia.profile / "profile.db"));
    CHECK_FALSE(std::filesystem::exists(mia.profile / "profile.db-wal"));
    CHECK_FALSE(std::filesystem::exists(mia.profile / "profile.db-shm"));
    CHECK_FALSE(std::filesystem::exists(mia.profile));
  }
  TEST_CASE("with the consent rule the client agrees to a handover first, or declines it") {
    Centre centre;
    auto& [dir, relay, admin, anna, ben, cem] = centre;
    admin.ok({"inbox-admin", "create", "Elternberatung", "--staff", "anna.k,ben", "--consent"});
    ben.ok({"duty", "off", "Elternberatung"});  // only Anna gets the new case
    anna.ok({"duty", "off", "Elternberatung"});
    const Lotse tom{dir.path() / "tom"};
    tom.ok({"init", admin.line({"inbox-admin", "flyer", "Elternberatung"}), "--name", "Tom"});
    CHECK(tom.json({"inbox-info"})["notice"].is_null());  // none published yet
    const auto nobody = tom.run({"send", "Elternberatung", "Hallo?"});
    CHECK(nobody.exit_code == 1);
    CHECK(nobody.err.find("obody is on duty in this inbox right now") != std::string::npos);
    anna.ok({"duty", "on", "Elternberatung"});
    tom.ok({"send", "Elternberatung", "Hallo, Marker-c0de"});
    const auto queue = anna.json_lines({"inbox-queue"});
    REQUIRE(queue.size() == 1);
    const auto case_id = queue[0]["case"].get<std::string>();
    CHECK(ben.json_lines({"inbox-queue"}).size() == 1);  // open cases of his inbox, off duty too
    const auto off_duty = ben.run({"claim", case_id});
    CHECK(off_duty.exit_code == 1);
    CHECK(off_duty.err.find("ou were not on duty when this case opened") != std::string::npos);
    CHECK(anna.json({"claim", case_id})["counsellor_name"] == "anna.k");
    CHECK(ben.run({"claim", case_id}).exit_code == 1);

    // Anna asks; Tom sees the request and declines; Anna stays.
    const auto asked = anna.json({"handover", case_id, "ben", "--reason", "Schwerpunkt"});
    CHECK(asked["state"] == "handover-pending");
    CHECK(tom.ok({"inbox-info"}).out.find("asks to hand your conversation to ben") !=
          std::string::npos);
    CHECK(tom.json({"consent", "--decline"})["counsellor_name"] == "anna.k");
    CHECK(tom.run({"consent"}).exit_code == 1);  // nothing waiting any more

    // Asked again, he agrees: Ben counsels him now and gets the history from Anna's device.
    anna.ok({"handover", case_id, "ben", "--reason", "Schwerpunkt"});
    CHECK(tom.json({"consent"})["counsellor_name"] == "ben");
    (void)anna.ok({"inbox"});  // Anna's device learns of it and re-encrypts the history to Ben
    (void)ben.ok({"inbox", "--wait", "5"});
    CHECK(ben.ok({"history", case_id}).out.find("Marker-c0de") != std::string::npos);
    tom.ok({"send", "Elternberatung", "Danke, Marker-beef"});
    CHECK(ben.ok({"inbox", "--wait", "5"}).out.find("Marker-beef") != std::string::npos);
    CHECK(anna.ok({"inbox", "--wait", "1"}).out.find("Marker-beef") == std::string::npos);
    CHECK(relay.stop() == 0);
    store::Database db(relay.data_dir() / "relay.db");
    CHECK(db.query_int("SELECT count(*) FROM audit_log WHERE action = 'case.handed_over' AND "
                       "detail LIKE '%(client consented): Schwerpunkt'") == 1);
    CHECK(db.query_int("SELECT count(*) FROM audit_log WHERE action = 'case.handover_declined'") ==
          1);
  }
}
