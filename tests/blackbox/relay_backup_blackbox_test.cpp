// SPDX-License-Identifier: AGPL-3.0-or-later
// `lotse-relay backup create|restore` as an operator runs them: the real binary, a real relay
// serving the data directory (label blackbox). What a restore re-applies is proven in
// tests/integration/relay_backup_test.cpp.
#include "support/relay_harness.hpp"
#include "support/relay_process.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

using namespace lotse;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_SUITE("blackbox") {
  TEST_CASE("backup create works while the relay serves; restore waits until it has stopped") {
    test::TempDir dir;
    const auto data = dir.path() / "data";
    const auto backup = (dir.path() / "backup").string();
    test::RelayProcess relay(data);
    relay.start();
    const auto pin = relay.pin();

    const auto created = relay.admin({"backup", "create", "--out", backup});
    CHECK_MESSAGE(created.exit_code == 0, created.err);
    CHECK(contains(created.out, "lotse-relay: backup of "));
    CHECK(contains(created.out, "certificate and key"));
    CHECK(contains(file_bytes(dir.path() / "backup" / "backup.toml"), "taken_at_ms = "));

    // Neither a restore nor a second relay while this one serves the data directory.
    const auto refused = relay.admin({"backup", "restore", "--from", backup});
    CHECK(refused.exit_code == 1);
    CHECK(contains(refused.err, "a relay is serving"));
    const auto second = test::run_command({test::relay_binary().string(), "serve", "--data-dir",
                                           data.string(), "--listen", "127.0.0.1:0"});
    CHECK(second.exit_code == 1);
    CHECK(contains(second.err, "another lotse-relay is serving"));
    const auto again = relay.admin({"backup", "create", "--out", backup});
    CHECK(again.exit_code == 1);
    CHECK(contains(again.err, "not an empty directory"));

    CHECK(relay.stop() == 0);
    const auto restored = relay.admin({"backup", "restore", "--from", backup});
    CHECK_MESSAGE(restored.exit_code == 0, restored.err);
    CHECK(contains(restored.out,
                   "re-applied from the deletion journal: 0 envelopes, 0 one-time "
                   "prekeys, 0 blobs, 0 accounts"));
    relay.start();  // on the restored data, with the same certificate
    CHECK(relay.pin() == pin);
    CHECK_FALSE(relay.bootstrap_invite().has_value());
    CHECK(relay.stop() == 0);
  }
}
