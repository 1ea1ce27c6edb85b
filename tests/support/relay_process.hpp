// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Runs the real lotse-relay binary for black-box tests: `serve` in a temporary data directory on
// 127.0.0.1 with an ephemeral port, reading what it prints on standard output (address, pin,
// bootstrap invite) with deadlines; its log (standard error) goes to data_dir/relay.log.
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace lotse::test {

std::filesystem::path relay_binary();

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs a command to completion (argv[0] is a path), capturing standard output and error.
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::seconds timeout = std::chrono::seconds(60));

class RelayProcess {
public:
  explicit RelayProcess(std::filesystem::path data_dir, std::vector<std::string> extra_args = {});
  ~RelayProcess();
  RelayProcess(const RelayProcess&) = delete;
  RelayProcess& operator=(const RelayProcess&) = delete;

  // Returns once "listening on" and the pin were read; throws on timeout. The first start picks a
  // free port; later ones reuse it.
  void start();
  int stop();  // SIGTERM, waits; returns the exit status (or -signal)
  void kill9();
  [[nodiscard]] bool running() const { return pid_ > 0; }

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] const std::array<std::uint8_t, 32>& pin() const { return pin_; }
  [[nodiscard]] const std::optional<std::string>& bootstrap_invite() const { return bootstrap_; }
  [[nodiscard]] const std::filesystem::path& data_dir() const { return data_dir_; }
  [[nodiscard]] std::string log() const;  // contents of relay.log

  // `lotse-relay <args...> --data-dir <data_dir>`.
  CommandResult admin(std::vector<std::string> args) const;

private:
  std::string read_line(std::chrono::steady_clock::time_point deadline);

  std::filesystem::path data_dir_;
  std::vector<std::string> extra_args_;
  int pid_ = -1;
  int stdout_fd_ = -1;
  std::string pending_;
  std::uint16_t port_ = 0;
  std::array<std::uint8_t, 32> pin_{};
  std::optional<std::string> bootstrap_;
};

}  // namespace lotse::test
