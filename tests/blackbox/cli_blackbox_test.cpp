// SPDX-License-Identifier: AGPL-3.0-or-later
// The `lotse` CLI end to end against the real relay binary on loopback, as a counsellor and a
// client would use it: invites, registration, messages both ways (also to an offline client and
// across a relay restart), safety numbers, and what the relay's files contain afterwards.
#include "support/relay_harness.hpp"
#include "support/relay_process.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

using namespace lotse;

namespace {

std::filesystem::path cli_binary() {
  return LOTSE_CLI_BINARY;
}

struct Lotse {
  std::filesystem::path profile;

  test::CommandResult run(std::vector<std::string> args,
                          const char* passphrase = "correct horse") const {
    ::setenv("LOTSE_PASSPHRASE", passphrase, 1);
    std::vector<std::string> argv{cli_binary().string(), "--profile", profile.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::run_command(argv, std::chrono::seconds(60));
  }
  test::CommandResult ok(std::vector<std::string> args) const {
    auto r = run(std::move(args));
    INFO("stderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    return r;
  }
  std::string line(std::vector<std::string> args) const {
    auto out = ok(std::move(args)).out;
    REQUIRE(!out.empty());
    REQUIRE(out.back() == '\n');
    out.pop_back();
    REQUIRE(out.find('\n') == std::string::npos);  // exactly one line
    return out;
  }
  nlohmann::json json(std::vector<std::string> args) const {
    args.emplace_back("--json");
    return nlohmann::json::parse(line(std::move(args)));
  }
  std::vector<nlohmann::json> json_lines(std::vector<std::string> args) const {
    args.emplace_back("--json");
    std::vector<nlohmann::json> out;
    std::istringstream in(ok(std::move(args)).out);
    for (std::string l; std::getline(in, l);) {
      out.push_back(nlohmann::json::parse(l));
    }
    return out;
  }
};

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
