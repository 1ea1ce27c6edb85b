// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// lotse-relay's configuration: one TOML file (deploy/lotse-relay.toml documents every key with
// its default) and the same keys as command-line options (`--limits.max_frame_bytes 2000`), so
// `lotse-relay serve --help` lists every option. Precedence: defaults < file < command line.
#include "relay/limits.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace lotse::app {

struct Config {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 7443;
  std::string
      public_host;  // empty: "localhost" for loopback/any listen addresses, else listen host
  std::uint16_t public_port = 0;         // 0: the listen port
  unsigned threads = 0;                  // 0: one per CPU core
  std::size_t max_connections = 10'000;  // accepted sockets at once; more are closed at once
  std::filesystem::path data_dir = "lotse-data";
  std::filesystem::path certificate;  // empty: self-signed, generated in data_dir
  std::filesystem::path private_key;
  bool synchronous_full = true;
  std::string log_level = "info";
  bool log_ip_addresses = false;
  relay::Limits limits;

  [[nodiscard]] std::string invite_host() const;
  [[nodiscard]] std::uint16_t invite_port(std::uint16_t bound_port) const;
};

// One configuration key: its dotted name (TOML table.key, and the --name option), help text, the
// default as text, and how to set it from text. Throws std::invalid_argument with a clear sentence
// for a malformed value.
struct OptionSpec {
  std::string name;
  std::string help;
  std::function<std::string(const Config&)> get;
  std::function<void(Config&, const std::string&)> set;
};

[[nodiscard]] const std::vector<OptionSpec>& option_specs();

// Applies a TOML file; unknown keys and wrong types are errors (std::runtime_error, naming the
// key).
void apply_config_file(Config& config, const std::filesystem::path& file);

// A complete TOML configuration with every key at its default and its help as a comment
// (`lotse-relay config example`; deploy/lotse-relay.toml is this output, checked by a test).
[[nodiscard]] std::string example_config();

// Parses "90", "90s", "15m", "12h", "7d" into seconds; throws std::invalid_argument.
[[nodiscard]] std::int64_t parse_duration_seconds(const std::string& text);

}  // namespace lotse::app
