// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The real `lotse` binary with one profile, for black-box tests (LOTSE_CLI_BINARY is defined by
// the test target). Each call is one process, as a user runs it; the passphrase comes from
// LOTSE_PASSPHRASE.
#include "support/relay_process.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

namespace lotse::test {

// A command's output line without its line end.
inline std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) {
    s.pop_back();
  }
  return s;
}

struct Lotse {
  std::filesystem::path profile;

  [[nodiscard]] CommandResult run(std::vector<std::string> args,
                                  const char* passphrase = "correct horse") const {
    ::setenv("LOTSE_PASSPHRASE", passphrase, 1);
    std::vector<std::string> argv{std::string(LOTSE_CLI_BINARY), "--profile", profile.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, std::chrono::seconds(60));
  }
  CommandResult ok(std::vector<std::string> args) const {
    auto r = run(std::move(args));
    INFO("stderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    return r;
  }
  // The command's output, which must be exactly one line.
  [[nodiscard]] std::string line(std::vector<std::string> args) const {
    auto out = ok(std::move(args)).out;
    REQUIRE(!out.empty());
    REQUIRE(out.back() == '\n');
    out.pop_back();
    REQUIRE(out.find('\n') == std::string::npos);
    return out;
  }
  [[nodiscard]] nlohmann::json json(std::vector<std::string> args) const {
    args.emplace_back("--json");
    return nlohmann::json::parse(line(std::move(args)));
  }
  [[nodiscard]] std::vector<nlohmann::json> json_lines(std::vector<std::string> args) const {
    args.emplace_back("--json");
    std::vector<nlohmann::json> out;
    std::istringstream in(ok(std::move(args)).out);
    for (std::string l; std::getline(in, l);) {
      out.push_back(nlohmann::json::parse(l));
    }
    return out;
  }
};

}  // namespace lotse::test
