// SPDX-License-Identifier: AGPL-3.0-or-later
// lotse-relay's configuration: the shipped example file is complete and current, TOML and command
// line agree, and bad values are refused with a sentence that names the key.
#include "app/config.hpp"

#include "relay/limits.hpp"

#include <doctest/doctest.h>

#include <unistd.h>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace {

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct TempFile {
  std::filesystem::path path;
  explicit TempFile(const std::string& text) {
    path = std::filesystem::temp_directory_path() / ("lotse-config-" + std::to_string(::getpid()) +
                                                     "-" + std::to_string(std::rand()) + ".toml");
    std::ofstream(path) << text;
  }
  ~TempFile() { std::filesystem::remove(path); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
};

std::string error_of(const std::string& toml) {
  TempFile f(toml);
  lotse::app::Config c;
  try {
    lotse::app::apply_config_file(c, f.path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEST_CASE(
    "deploy/lotse-relay.toml is exactly `lotse-relay config example` and loads as the defaults") {
  const auto shipped =
      read_text(std::filesystem::path(LOTSE_TESTS_DIR) / ".." / "deploy" / "lotse-relay.toml");
  // If this fails after adding or changing an option: lotse-relay config example >
  // deploy/lotse-relay.toml
  CHECK(shipped == lotse::app::example_config());

  TempFile f(shipped);
  lotse::app::Config loaded;
  loaded.limits.max_frame_bytes = 1;  // proves the file sets it back
  lotse::app::apply_config_file(loaded, f.path);
  const lotse::app::Config defaults;
  for (const auto& spec : lotse::app::option_specs()) {
    CAPTURE(spec.name);
    CHECK(spec.get(loaded) == spec.get(defaults));
  }
}

TEST_CASE("every option round-trips through its text form") {
  lotse::app::Config c;
  for (const auto& spec : lotse::app::option_specs()) {
    CAPTURE(spec.name);
    const auto text = spec.get(c);
    CHECK_NOTHROW(spec.set(c, text));
    CHECK(spec.get(c) == text);
  }
}

TEST_CASE("config files: values applied, unknown keys and bad values name the key") {
  TempFile f(
      "[limits]\nmax_frame_bytes = 4096\nidle_timeout = \"2m\"\nmessages_per_second = 12.5\n"
      "[server]\nlisten = \"[::1]:9000\"\n");
  lotse::app::Config c;
  lotse::app::apply_config_file(c, f.path);
  CHECK(c.limits.max_frame_bytes == 4096);
  CHECK(c.limits.idle_timeout == std::chrono::seconds(120));
  CHECK(c.limits.messages_per_second == doctest::Approx(12.5));
  CHECK(c.listen_host == "::1");
  CHECK(c.listen_port == 9000);

  CHECK(error_of("[limits]\nmax_frame_byte = 1\n").find("unknown option limits.max_frame_byte") !=
        std::string::npos);
  CHECK(error_of("[limits]\nmax_frame_bytes = 10\n")
            .find("limits.max_frame_bytes must be at least") != std::string::npos);
  CHECK(error_of("[limits]\nidle_timeout = \"soon\"\n").find("duration") != std::string::npos);
  CHECK(error_of("[limits]\nmessages_per_second = -1\n")
            .find("limits.messages_per_second must be positive") != std::string::npos);
  CHECK(error_of("[server]\nlisten = \"nohost\"\n").find("is not HOST:PORT") != std::string::npos);
  CHECK(error_of("[server]\nlisten = \"h:70000\"\n").find("port out of range") !=
        std::string::npos);
  CHECK(error_of("[store]\nsynchronous = \"sometimes\"\n").find("store.synchronous") !=
        std::string::npos);
  CHECK(error_of("listen = 1\n").find("must be a table") != std::string::npos);
  CHECK(error_of("[server\n").find("cannot read config file") != std::string::npos);
  CHECK(error_of("[limits]\nmax_connections = 0\n")
            .find("limits.max_connections must be at least 1") != std::string::npos);
}

TEST_CASE("durations") {
  CHECK(lotse::app::parse_duration_seconds("90") == 90);
  CHECK(lotse::app::parse_duration_seconds("90s") == 90);
  CHECK(lotse::app::parse_duration_seconds("15m") == 900);
  CHECK(lotse::app::parse_duration_seconds("12h") == 43200);
  CHECK(lotse::app::parse_duration_seconds("7d") == 604800);
  CHECK_THROWS_AS((void)lotse::app::parse_duration_seconds(""), std::invalid_argument);
  CHECK_THROWS_AS((void)lotse::app::parse_duration_seconds("7w"), std::invalid_argument);
  CHECK_THROWS_AS((void)lotse::app::parse_duration_seconds("-5"), std::invalid_argument);
  CHECK_THROWS_AS((void)lotse::app::parse_duration_seconds("99999999999999999d"),
                  std::invalid_argument);
}

TEST_CASE("invite address: loopback listens advertise localhost, public_address wins") {
  lotse::app::Config c;
  CHECK(c.invite_host() == "localhost");
  CHECK(c.invite_port(7443) == 7443);
  c.listen_host = "10.0.0.5";
  CHECK(c.invite_host() == "10.0.0.5");
  for (const auto& spec : lotse::app::option_specs()) {
    if (spec.name == "server.public_address") {
      spec.set(c, "relay.example.org:443");
    }
  }
  CHECK(c.invite_host() == "relay.example.org");
  CHECK(c.invite_port(7443) == 443);
}

TEST_CASE("file limits: the defaults agree, contradicting values are refused with their names") {
  using lotse::relay::check_limits;
  lotse::relay::Limits l;
  CHECK_NOTHROW(check_limits(l));
  CHECK(lotse::relay::max_blob_bytes(l) == 104'857'600ULL + 8 + 24 + 17 * 25'600);
  const auto refused = [](const lotse::relay::Limits& limits, const std::string& name) {
    try {
      check_limits(limits);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what()).find(name) != std::string::npos;
    }
    return false;
  };
  {
    auto inbox = l;
    inbox.inbox_registrations_per_hour = 0.5;  // the bucket would never hold one token
    CHECK(refused(inbox, "limits.inbox_registrations_per_hour"));
  }
  l.max_chunk_bytes = l.max_frame_bytes - 1023;  // a full chunk's frame would not fit a message
  CHECK(refused(l, "limits.max_chunk_bytes"));
  l = {};
  l.max_outgoing_bytes = 65536;  // nor the send queue
  CHECK(refused(l, "limits.max_outgoing_bytes"));
  l = {};
  l.transfer_burst_bytes = static_cast<double>(l.max_chunk_bytes) - 1;  // never enough tokens
  CHECK(refused(l, "limits.transfer_burst_bytes"));
  l = {};
  l.max_file_bytes = (1ULL << 40) + 1;  // beyond what a blob can encode
  CHECK(refused(l, "limits.max_file_bytes"));
}
