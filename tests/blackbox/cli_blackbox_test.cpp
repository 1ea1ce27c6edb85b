// SPDX-License-Identifier: AGPL-3.0-or-later
// The `lotse` CLI end to end against the real relay binary on loopback, as a counsellor and a
// client would use it: invites, registration, messages both ways (also to an offline client and
// across a relay restart), safety numbers, groups, files, and what the relay's files contain
// afterwards.
#include "store/sqlite.hpp"
#include "support/group_accounts.hpp"
#include "support/lotse_cli.hpp"
#include "support/relay_harness.hpp"
#include "support/relay_process.hpp"

#include "lotse/v1/e2e.pb.h"
#include "protocol/group_commit.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

using namespace lotse;

namespace {

using test::Lotse;

std::string file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string relay_files(const std::filesystem::path& data_dir) {
  std::string all;
  for (const char* name : {"relay.db", "relay.db-wal", "relay.db-shm"}) {
    if (std::filesystem::exists(data_dir / name)) {
      all += file_bytes(data_dir / name);
    }
  }
  return all;
}

// Every file under `dir` (the blobs directory included), concatenated.
std::string all_files(const std::filesystem::path& dir) {
  std::string all;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) {
      all += file_bytes(e.path());
    }
  }
  return all;
}

std::optional<std::string> unhex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// Plays a relay that lies, directly in its database (the relay is stopped): adds `intruder` to the
// group's membership, and queues for `victim` a commit that claims `owner` added the intruder,
// signed by a device key the relay made up (it has no member's keys).
void forge_membership(const std::filesystem::path& db_file, const std::string& group_hex,
                      const std::string& owner, const std::string& intruder,
                      const std::string& victim) {
  store::Database db(db_file);
  const auto gid = *unhex(group_hex);
  const auto gid_bytes = std::span(reinterpret_cast<const std::uint8_t*>(gid.data()), gid.size());
  auto head = db.prepare(
      "SELECT g.id, c.signed FROM groups g JOIN group_commits c ON c.group_row = g.id "
      "WHERE g.group_id = ? ORDER BY c.epoch DESC LIMIT 1");
  head.bind(1, gid_bytes);
  REQUIRE(head.step());
  const auto group_row = head.column_int(0);
  const auto head_blob = head.column_blob(1);
  v1::SignedGroupCommit current;
  REQUIRE(current.ParseFromArray(head_blob.data(), static_cast<int>(head_blob.size())));
  auto state = protocol::decode_trusted_group_commit(current);
  REQUIRE(state.has_value());

  auto key = db.prepare("SELECT id, account_key FROM accounts WHERE public_id = ?");
  key.bind(1, intruder);
  REQUIRE(key.step());
  const auto intruder_row = key.column_int(0);
  const auto intruder_key = key.column_blob(1);

  crypto::SeededRng rng(99);
  test::GroupAccount fake(owner, rng);  // the owner's name, keys the relay made up
  v1::GroupCommit c;
  c.set_version(1);
  c.set_group_id(gid);
  c.set_epoch(state->epoch + 1);
  c.set_previous(std::string(state->head.begin(), state->head.end()));
  c.set_author_account_id(owner);
  c.set_author_device_id(1);
  auto members = state->members;
  members.push_back(
      {intruder, *crypto::Ed25519PublicKey::from_bytes(intruder_key), protocol::GroupRole::member});
  std::sort(members.begin(), members.end(),
            [](const auto& a, const auto& b) { return a.account_id < b.account_id; });
  for (const auto& m : members) {
    auto* e = c.add_members();
    e->set_account_id(m.account_id);
    e->set_account_key(m.account_key.data(), 32);
    e->set_role(static_cast<v1::GroupRole>(m.role));
  }
  const auto forged = fake.sign(c).SerializeAsString();
  const auto forged_bytes =
      std::span(reinterpret_cast<const std::uint8_t*>(forged.data()), forged.size());

  db.exec("BEGIN");
  auto add = db.prepare("INSERT INTO group_members (group_row, account, role) VALUES (?, ?, 3)");
  add.bind(1, group_row).bind(2, intruder_row).run();
  auto commit = db.prepare(
      "INSERT INTO group_commits (group_row, epoch, signed, created_at) VALUES (?, ?, ?, 0)");
  commit.bind(1, group_row)
      .bind(2, static_cast<std::int64_t>(state->epoch + 1))
      .bind(3, forged_bytes)
      .run();
  const auto commit_row = db.last_insert_rowid();
  auto queue = db.prepare(
      "INSERT INTO envelopes (recipient_device, sender_device, client_message_id, ciphertext, "
      "created_at, expires_at, group_commit) "
      "SELECT v.id, o.id, zeroblob(16), x'', 0, 9000000000000, ? FROM devices v, devices o "
      "WHERE v.account = (SELECT id FROM accounts WHERE public_id = ?) "
      "AND o.account = (SELECT id FROM accounts WHERE public_id = ?)");
  queue.bind(1, commit_row).bind(2, victim).bind(3, owner).run();
  REQUIRE(db.changes() == 1);
  db.exec("COMMIT");
}

}  // namespace

TEST_SUITE("cli") {
  TEST_CASE(
      "counsellor and client talk end to end through the relay, also across offline time and a "
      "restart") {
    test::TempDir dir;
    test::RelayProcess relay(dir.path() / "relay");
    relay.start();
    REQUIRE(relay.bootstrap_invite().has_value());

    const Lotse admin{dir.path() / "admin"};
    const Lotse anna{dir.path() / "anna"};
    const Lotse mia{dir.path() / "mia"};
    const Lotse leo{dir.path() / "leo"};

    admin.ok({"init", *relay.bootstrap_invite(), "--name", "admin"});
    const auto staff_invite = relay.admin({"invite", "create", "--role", "staff"}).out;
    REQUIRE(staff_invite.rfind("lotse://", 0) == 0);
    anna.ok({"init", staff_invite.substr(0, staff_invite.size() - 1), "--name", "anna.k"});
    const auto anna_me = anna.json({"whoami"});
    CHECK(anna_me["role"] == "staff");
    CHECK(anna_me["name"] == "anna.k");
    CHECK(anna_me["fingerprint"].get<std::string>().size() == 35);

    // `lotse invite` prints the invite and nothing else.
    const auto client_invite = anna.line({"invite"});
    CHECK(client_invite.rfind("lotse://", 0) == 0);
    mia.ok({"init", client_invite, "--name", "Mia Müller"});
    const auto mia_me = mia.json({"whoami"});
    CHECK(mia_me["role"] == "client");

    // The client sees exactly her counsellor; the counsellor sees the client by her shared name.
    const auto mia_contacts = mia.json_lines({"contacts"});
    REQUIRE(mia_contacts.size() == 1);
    CHECK(mia_contacts[0]["name"] == "anna.k");
    bool anna_knows_mia = false;
    for (const auto& c : anna.json_lines({"contacts"})) {
      anna_knows_mia = anna_knows_mia || (c["name"] == "Mia Müller" && c["role"] == "client");
    }
    CHECK(anna_knows_mia);

    mia.ok({"send", "anna.k", "Hallo,", "ich", "brauche", "einen", "Termin."});
    const auto received = anna.json_lines({"inbox", "--wait", "10"});
    REQUIRE(received.size() == 1);
    CHECK(received[0]["text"] == "Hallo, ich brauche einen Termin.");
    CHECK(received[0]["from"] == mia_me["account_id"]);
    CHECK(received[0]["conversation"] == mia_me["account_id"]);
    CHECK(received[0]["from_name"] == "Mia Müller");
    CHECK(received[0]["id"].get<std::string>().size() == 32);
    CHECK(received[0]["sent_at"].get<std::string>().size() == 24);
    CHECK(anna.json_lines({"inbox"}).empty());  // shown once

    // Mia is offline (no process runs for her); the reply waits on the relay, which restarts.
    anna.ok({"send", "Mia Müller", "Dienstag um 10 Uhr?"});
    CHECK(relay.stop() == 0);
    relay.start();
    const auto reply = mia.json_lines({"inbox", "--wait", "10"});
    REQUIRE(reply.size() == 1);
    CHECK(reply[0]["text"] == "Dienstag um 10 Uhr?");
    CHECK(reply[0]["from_name"] == "anna.k");

    // Both sides compute the same safety number; --confirm marks it verified.
    const auto sn_anna = anna.json({"verify", "Mia Müller"});
    const auto sn_mia = mia.json({"verify", "anna.k"});
    CHECK(sn_anna["safety_number"] == sn_mia["safety_number"]);
    CHECK(sn_anna["qr"] == sn_mia["qr"]);
    CHECK(sn_anna["verified"] == false);
    CHECK(mia.json({"verify", "anna.k", "--confirm"})["verified"] == true);

    // A second client of the same counsellor cannot reach the first.
    leo.ok({"init", anna.line({"invite"}), "--name", "Leo"});
    const auto refused = leo.run({"send", mia_me["account_id"].get<std::string>(), "hi"});
    CHECK(refused.exit_code != 0);
    CHECK(refused.err.find("no such contact") != std::string::npos);

    // The relay's database and WAL hold neither the texts nor the client's name.
    CHECK(relay.stop() == 0);
    const auto raw = relay_files(relay.data_dir());
    CHECK(!raw.empty());
    for (const std::string marker : {"Termin", "Dienstag", "Mia M", "Leo"}) {
      CAPTURE(marker);
      CHECK(raw.find(marker) == std::string::npos);
    }
    // Nor the relay's log.
    const auto log = relay.log();
    for (const std::string marker : {"Termin", "Dienstag", "Mia", "anna.k"}) {
      CAPTURE(marker);
      CHECK(log.find(marker) == std::string::npos);
    }
  }

  TEST_CASE("a team channel of three staff, a case group with a client, removal, forgery") {
    test::TempDir dir;
    test::RelayProcess relay(dir.path() / "relay");
    relay.start();
    REQUIRE(relay.bootstrap_invite().has_value());
    const Lotse admin{dir.path() / "admin"};
    admin.ok({"init", *relay.bootstrap_invite(), "--name", "admin"});
    const auto staff = [&](const char* name) {
      const Lotse l{dir.path() / name};
      auto invite = relay.admin({"invite", "create", "--role", "staff"}).out;
      invite.pop_back();
      l.ok({"init", invite, "--name", name});
      return l;
    };
    const Lotse anna = staff("anna");
    const Lotse ben = staff("ben");
    const Lotse cleo = staff("cleo");
    const Lotse dora = staff("dora");
    const Lotse mia{dir.path() / "mia"};
    mia.ok({"init", anna.line({"invite"}), "--name", "Mia"});
    const auto id_of = [](const Lotse& l) {
      return l.json({"whoami"})["account_id"].get<std::string>();
    };

    // Staff see each other in the directory; a client is refused by the relay.
    std::vector<std::string> handles;
    for (const auto& e : anna.json_lines({"directory"})) {
      handles.push_back(e["handle"]);
      CHECK(e["role"] != "client");
    }
    CHECK(handles == std::vector<std::string>{"admin", "anna", "ben", "cleo", "dora"});
    auto refused = mia.run({"directory"});
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find("Only staff accounts") != std::string::npos);
    refused = mia.run({"group", "create", "Mias Gruppe"});
    CHECK(refused.exit_code == 1);

    // A channel of three staff.
    const auto team = anna.json({"group", "create", "Teamkanal-Nord", "ben", "cleo"});
    const auto team_id = team["id"].get<std::string>();
    CHECK(team["members"] == 3);
    CHECK(team["role"] == "owner");
    anna.ok({"send", "Teamkanal-Nord", "Fallbesprechung um 14 Uhr"});
    for (const Lotse* l : {&ben, &cleo}) {
      const auto got = l->json_lines({"inbox", "--wait", "10"});
      REQUIRE(got.size() == 1);
      CHECK(got[0]["text"] == "Fallbesprechung um 14 Uhr");
      CHECK(got[0]["group"] == team_id);
      CHECK(got[0]["group_name"] == "Teamkanal-Nord");
      CHECK(got[0]["from_name"] == "anna");
    }
    ben.ok({"send", team_id, "Bin dabei"});
    CHECK(anna.json_lines({"inbox", "--wait", "10"})[0]["text"] == "Bin dabei");
    CHECK(cleo.json_lines({"inbox", "--wait", "10"})[0]["text"] == "Bin dabei");
    const auto members = cleo.json_lines({"group", "members", "Teamkanal-Nord"});
    REQUIRE(members.size() == 3);
    const auto listed = cleo.json_lines({"group", "list"});
    REQUIRE(listed.size() == 1);
    CHECK(listed[0]["name"] == "Teamkanal-Nord");
    CHECK(listed[0]["role"] == "member");

    // A plain member may not change the membership.
    refused = ben.run({"group", "add", "Teamkanal-Nord", "dora"});
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find("owners and admins") != std::string::npos);

    // A case group: the counsellor, a colleague and her client.
    const auto case_group = anna.json({"group", "create", "Fall-Mia", "Mia", "cleo"});
    anna.ok({"send", "Fall-Mia", "Cleo ist ab jetzt auch dabei."});
    auto at_mia = mia.json_lines({"inbox", "--wait", "10"});
    REQUIRE(at_mia.size() == 1);
    CHECK(at_mia[0]["group"] == case_group["id"]);
    mia.ok({"send", "Fall-Mia", "Danke euch beiden"});
    CHECK(anna.json_lines({"inbox", "--wait", "10"})[0]["text"] == "Danke euch beiden");
    bool cleo_got = false;
    for (const auto& m : cleo.json_lines({"inbox", "--wait", "10"})) {
      cleo_got = cleo_got || m["text"] == "Danke euch beiden";
    }
    CHECK(cleo_got);
    CHECK(mia.json_lines({"group", "members", "Fall-Mia"}).size() == 3);
    // The client knows the group's members, not the rest of the staff.
    CHECK(mia.json_lines({"contacts"}).size() == 2);

    // Removal: Cleo reads nothing sent afterwards.
    CHECK(anna.json({"group", "remove", "Teamkanal-Nord", "cleo"})["members"] == 2);
    (void)cleo.json_lines({"inbox"});
    anna.ok({"send", "Teamkanal-Nord", "Nur noch fuer Ben"});
    CHECK(ben.json_lines({"inbox", "--wait", "10"})[0]["text"] == "Nur noch fuer Ben");
    CHECK(cleo.json_lines({"inbox", "--wait", "2"}).empty());
    refused = cleo.run({"send", "Teamkanal-Nord", "Hallo?"});
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find("not a member") != std::string::npos);
    const auto cleo_groups = cleo.json_lines({"group", "list"});
    bool cleo_left = false;
    for (const auto& g : cleo_groups) {
      cleo_left = cleo_left || (g["id"] == team_id && g["member"] == false);
    }
    CHECK(cleo_left);

    // The relay lies: it adds Dora to the channel in its database and queues a commit that claims
    // Anna added her. Members refuse the commit, nobody hands Dora a key, and what the relay then
    // fans out to her stays unreadable.
    CHECK(relay.stop() == 0);
    forge_membership(relay.data_dir() / "relay.db", team_id, id_of(anna), id_of(dora), id_of(ben));
    relay.start();
    CHECK(ben.json_lines({"inbox", "--wait", "2"}).empty());
    CHECK(ben.json_lines({"group", "members", "Teamkanal-Nord"}).size() == 2);
    anna.ok({"send", "Teamkanal-Nord", "Geheim fuer Ben"});
    CHECK(ben.json_lines({"inbox", "--wait", "10"})[0]["text"] == "Geheim fuer Ben");
    CHECK(dora.json_lines({"inbox", "--wait", "2"}).empty());
    CHECK(dora.json_lines({"group", "list"}).empty());
    CHECK(anna.json_lines({"group", "members", "Teamkanal-Nord"}).size() == 2);

    // Names and texts never reach the relay's files.
    CHECK(relay.stop() == 0);
    const auto raw = relay_files(relay.data_dir());
    for (const std::string marker :
         {"Teamkanal", "Fall-Mia", "Fallbesprechung", "Danke euch", "Geheim", "Nur noch"}) {
      CAPTURE(marker);
      CHECK(raw.find(marker) == std::string::npos);
    }
  }

  TEST_CASE(
      "files: send-file, inbox shows it, get-file writes it once, the relay holds ciphertext") {
    test::TempDir dir;
    test::RelayProcess relay(dir.path() / "relay");
    relay.start();
    const Lotse anna{dir.path() / "anna"};
    auto staff_invite = relay.admin({"invite", "create", "--role", "staff"}).out;
    staff_invite.pop_back();
    anna.ok({"init", staff_invite, "--name", "anna.k"});
    const Lotse mia{dir.path() / "mia"};
    mia.ok({"init", anna.line({"invite"}), "--name", "Mia"});

    // A document whose bytes and name must never reach the relay in the clear.
    const std::string marker = "PLAINTEXT-MARKER-Wohngeld-7Qx2 ";
    std::string content;
    while (content.size() < 300'000) {
      content += marker + std::to_string(content.size()) + "\n";
    }
    const auto source = dir.path() / "Antrag-Wohngeld.pdf";
    std::ofstream(source, std::ios::binary) << content;

    const auto sent = anna.json(
        {"send-file", "Mia", source.string(), "--caption", "Bitte unterschreiben und zurueck"});
    const auto id = sent["id"].get<std::string>();
    CHECK(id.size() == 32);
    CHECK(sent["attachment"]["name"] == "Antrag-Wohngeld.pdf");
    CHECK(sent["attachment"]["size"] == content.size());

    const auto got = mia.json_lines({"inbox", "--wait", "10"});
    REQUIRE(got.size() == 1);
    CHECK(got[0]["id"] == id);
    CHECK(got[0]["text"] == "");
    CHECK(got[0]["from_name"] == "anna.k");
    CHECK(got[0]["attachment"] == nlohmann::json{{"name", "Antrag-Wohngeld.pdf"},
                                                 {"size", content.size()},
                                                 {"media_type", "application/pdf"},
                                                 {"caption", "Bitte unterschreiben und zurueck"}});
    // For people: "[file] NAME (SIZE, MEDIA_TYPE) CAPTION", with the id to fetch it by.
    const auto line = mia.line({"history", "anna.k"});
    CHECK(line.find("anna.k: [file] Antrag-Wohngeld.pdf (293.0 KiB, application/pdf) Bitte "
                    "unterschreiben und zurueck") != std::string::npos);
    CHECK(line.find(id) != std::string::npos);

    // get-file writes the sender's name into the current directory, and says where.
    const auto downloads = dir.path() / "downloads";
    std::filesystem::create_directories(downloads);
    const auto cwd = std::filesystem::current_path();
    std::filesystem::current_path(downloads);
    const auto written = mia.run({"get-file", id});
    std::filesystem::current_path(cwd);
    INFO("stderr: " << written.err);
    REQUIRE(written.exit_code == 0);
    const auto target = downloads / "Antrag-Wohngeld.pdf";
    CHECK(written.out == target.string() + "\n");
    CHECK(file_bytes(target) == content);

    // Never over an existing file unless --force.
    std::ofstream(target, std::ios::trunc) << "edited by Mia";
    const auto refused = mia.run({"get-file", id, "--out", target.string()});
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find("exists already") != std::string::npos);
    CHECK(file_bytes(target) == "edited by Mia");
    CHECK(mia.line({"get-file", id, "--out", target.string(), "--force"}) == target.string());
    CHECK(file_bytes(target) == content);
    // A directory as --out: the file goes in under its own name.
    const auto copy = dir.path() / "copy";
    std::filesystem::create_directories(copy);
    CHECK(mia.line({"get-file", id, "--out", copy.string()}) ==
          (copy / "Antrag-Wohngeld.pdf").string());
    CHECK(std::distance(std::filesystem::directory_iterator(downloads),
                        std::filesystem::directory_iterator()) == 1);  // no temporary files left

    // The relay's files (database, WAL, blobs, log) hold neither the file nor its name or caption.
    CHECK(relay.stop() == 0);
    const auto raw = all_files(relay.data_dir());
    CHECK(std::filesystem::exists(relay.data_dir() / "blobs"));
    for (const std::string& m : {marker.substr(0, 24), std::string("Antrag-Wohngeld"),
                                 std::string("unterschreiben"), std::string("application/pdf")}) {
      CAPTURE(m);
      CHECK(raw.find(m) == std::string::npos);
    }
  }

  TEST_CASE("errors are one clear sentence and a non-zero exit code") {
    test::TempDir dir;
    test::RelayProcess relay(dir.path() / "relay");
    relay.start();
    const Lotse anna{dir.path() / "anna"};
    const auto staff_invite = relay.admin({"invite", "create", "--role", "staff"}).out;
    const auto invite = staff_invite.substr(0, staff_invite.size() - 1);

    // Wrong pin in the invite: refused before anything is sent, and no profile is left behind.
    std::string forged = invite;
    const auto pin_at = forged.find("pin=") + 4;
    forged[pin_at] = forged[pin_at] == '0' ? '1' : '0';
    const Lotse fooled{dir.path() / "fooled"};
    auto r = fooled.run({"init", forged, "--name", "fooled"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("does not match the pin") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(fooled.profile / "profile.db"));

    anna.ok({"init", invite, "--name", "anna.k"});
    const Lotse late{dir.path() / "late"};
    r = late.run({"init", invite, "--name", "late"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("already used") != std::string::npos);

    r = anna.run({"whoami"}, "wrong passphrase");
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("passphrase is wrong") != std::string::npos);

    r = anna.run({"send", "nobody", "hello"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("no such contact") != std::string::npos);

    r = late.run({"whoami"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("no profile") != std::string::npos);

    r = late.run({"init", "https://example.org", "--name", "x"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("not a Lotse invite") != std::string::npos);

    r = late.run({"init", invite, "--name", "not a handle"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("handle") != std::string::npos);

    CHECK(relay.stop() == 0);
    r = anna.run({"contacts"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("cannot be reached") != std::string::npos);
    // Offline commands still work.
    CHECK(anna.run({"whoami"}).exit_code == 0);
  }

}  // TEST_SUITE
