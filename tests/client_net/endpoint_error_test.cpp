// SPDX-License-Identifier: AGPL-3.0-or-later
#include "net/connection_error.hpp"
#include "net/relay_connection.hpp"
#include "net/relay_endpoint.hpp"

#include "wire/invite_link.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

using namespace lotse;
using namespace lotse::net_client;

TEST_CASE("an endpoint comes from an invite: host, port and pin") {
  wire::InviteLink invite;
  invite.host = "relay.example.org";
  invite.port = 7443;
  invite.token = std::string(43, 'A');
  for (std::size_t i = 0; i < invite.pin.size(); ++i) {
    invite.pin[i] = static_cast<std::uint8_t>(i);
  }
  const auto parsed = wire::InviteLink::parse(invite.to_string());
  REQUIRE(parsed.has_value());
  const auto endpoint = RelayEndpoint::from_invite(*parsed);
  CHECK(endpoint == RelayEndpoint{"relay.example.org", 7443, invite.pin});
  CHECK(endpoint.authority() == "relay.example.org:7443");
}

TEST_CASE("an IPv6 host is bracketed in the authority") {
  const RelayEndpoint endpoint{"::1", 7443, {}};
  CHECK(endpoint.authority() == "[::1]:7443");
}

TEST_CASE("every error has its own sentence; the ones users see say what happened") {
  CHECK(make_error_code(errc::relay_unreachable).message() == "relay unreachable");
  CHECK(make_error_code(errc::pin_mismatch).message().rfind("pin mismatch", 0) == 0);
  CHECK(make_error_code(errc::handshake_failed).message() == "handshake with the relay failed");
  CHECK(make_error_code(errc::version_refused).message() ==
        "the relay refused our protocol version");
  CHECK(make_error_code(errc::timed_out).message() == "timed out waiting for the relay");
  CHECK(make_error_code(errc::closed).message() == "the connection was closed");
  std::set<std::string> sentences;
  for (int v = 1; v <= static_cast<int>(errc::already_running); ++v) {
    const auto text = make_error_code(static_cast<errc>(v)).message();
    CHECK(text != "unknown relay connection error");
    sentences.insert(text);
  }
  CHECK(sentences.size() == static_cast<std::size_t>(errc::already_running));
  CHECK(std::string(error_category().name()) == "lotse.net_client");
}

TEST_CASE("states have names") {
  CHECK(std::string(to_string(ConnectionState::backing_off)) == "backing_off");
  CHECK(std::string(to_string(ConnectionState::online)) == "online");
}
