// SPDX-License-Identifier: AGPL-3.0-or-later
// The invite line: one exact form, so that what a counsellor pastes is either right or refused.
#include "wire/invite_link.hpp"
#include "wire/login_transcript.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

using lotse::wire::InviteLink;

namespace {

const std::string token = "SBQl1Gcu_02DqTz_d28ozabh73ZUvRScrJBvGXzSpcM";
const std::string pin = "f856f7de4f5cb983455e5c9e4158249e390389bc08d0463737c1de7e3f6b2aca";

}  // namespace

TEST_CASE("invite lines round-trip, with and without a role, for names, IPv4 and IPv6") {
  for (const std::string host : {"localhost", "relay.beratung-nord.de", "10.0.0.5"}) {
    const auto line = "lotse://" + host + ":7443/invite?token=" + token + "&pin=" + pin;
    auto link = InviteLink::parse(line);
    REQUIRE(link.has_value());
    CHECK(link->host == host);
    CHECK(link->port == 7443);
    CHECK(link->token == token);
    CHECK(lotse::wire::hex(link->pin.data(), 32) == pin);
    CHECK(link->role.empty());
    CHECK(link->to_string() == line);
    for (const std::string role : {"admin", "staff", "client"}) {
      auto with_role = InviteLink::parse(line + "&role=" + role);
      REQUIRE(with_role.has_value());
      CHECK(with_role->role == role);
      CHECK(with_role->to_string() == line + "&role=" + role);
    }
  }
  const auto v6 = InviteLink::parse("lotse://[::1]:443/invite?token=" + token + "&pin=" + pin);
  REQUIRE(v6.has_value());
  CHECK(v6->host == "::1");
  CHECK(v6->to_string() == "lotse://[::1]:443/invite?token=" + token + "&pin=" + pin);
  // Whitespace from copy and paste.
  CHECK(InviteLink::parse("  lotse://localhost:1/invite?token=" + token + "&pin=" + pin + "\r\n")
            .has_value());
}

TEST_CASE("anything else is refused") {
  const std::string good = "lotse://localhost:7443/invite?token=" + token + "&pin=" + pin;
  CHECK_FALSE(InviteLink::parse("").has_value());
  CHECK_FALSE(InviteLink::parse("https://localhost:7443/invite?token=" + token + "&pin=" + pin)
                  .has_value());
  CHECK_FALSE(
      InviteLink::parse("lotse://localhost/invite?token=" + token + "&pin=" + pin).has_value());
  CHECK_FALSE(
      InviteLink::parse("lotse://localhost:0/invite?token=" + token + "&pin=" + pin).has_value());
  CHECK_FALSE(InviteLink::parse("lotse://localhost:65536/invite?token=" + token + "&pin=" + pin)
                  .has_value());
  CHECK_FALSE(InviteLink::parse("lotse://local host:7443/invite?token=" + token + "&pin=" + pin)
                  .has_value());
  CHECK_FALSE(
      InviteLink::parse("lotse://localhost:7443/invite?token=" + token.substr(1) + "&pin=" + pin)
          .has_value());
  CHECK_FALSE(
      InviteLink::parse("lotse://localhost:7443/invite?token=" + token + "&pin=" + pin.substr(2))
          .has_value());
  std::string upper = pin;
  upper[0] = 'F';
  CHECK_FALSE(InviteLink::parse("lotse://localhost:7443/invite?token=" + token + "&pin=" + upper)
                  .has_value());
  CHECK_FALSE(InviteLink::parse(good + "&role=root").has_value());
  CHECK_FALSE(InviteLink::parse(good + "&role=").has_value());
  CHECK_FALSE(InviteLink::parse(good + "&rol=client").has_value());
  CHECK_FALSE(InviteLink::parse(good + "0").has_value());
  CHECK_FALSE(InviteLink::parse(good + "&role=client&x=1").has_value());
  std::string bad_token = token;
  bad_token[5] = '+';
  CHECK_FALSE(InviteLink::parse("lotse://localhost:7443/invite?token=" + bad_token + "&pin=" + pin)
                  .has_value());
}

TEST_CASE("a flyer invite names its inbox and the key that signs the inbox's notice") {
  const std::string good = "lotse://localhost:7443/invite?token=" + token + "&pin=" + pin;
  const std::string inbox = "00112233445566778899aabbccddeeff";
  const std::string signer = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";  // bytes 0..31
  const auto line = good + "&role=client&inbox=" + inbox + "&signer=" + signer;
  const auto link = InviteLink::parse(line);
  REQUIRE(link.has_value());
  REQUIRE(link->inbox.has_value());
  CHECK(lotse::wire::hex(link->inbox->data(), 16) == inbox);
  for (std::size_t i = 0; i < 32; ++i) {
    CHECK(link->signer[i] == i);
  }
  CHECK(link->to_string() == line);
  // Only a client invite has an inbox; both parts, in this order, canonical and complete.
  CHECK_FALSE(InviteLink::parse(good + "&role=staff&inbox=" + inbox + "&signer=" + signer));
  CHECK_FALSE(InviteLink::parse(good + "&role=client&inbox=" + inbox));
  CHECK_FALSE(InviteLink::parse(good + "&role=client&signer=" + signer + "&inbox=" + inbox));
  CHECK_FALSE(
      InviteLink::parse(good + "&role=client&inbox=" + inbox.substr(2) + "&signer=" + signer));
  CHECK_FALSE(InviteLink::parse(good + "&role=client&inbox=00112233445566778899AABBCCDDEEFF" +
                                "&signer=" + signer));
  CHECK_FALSE(
      InviteLink::parse(good + "&role=client&inbox=" + inbox + "&signer=" + signer.substr(1)));
  CHECK_FALSE(InviteLink::parse(good + "&role=client&inbox=" + inbox + "&signer=" + signer + "A"));
  // The last character carries two bits that must be zero in canonical base64url.
  CHECK_FALSE(InviteLink::parse(good + "&role=client&inbox=" + inbox +
                                "&signer=" + signer.substr(0, 42) + "i"));
  CHECK(lotse::wire::base64url_decode("AAECAw") ==
        std::optional<std::vector<std::uint8_t>>({0, 1, 2, 3}));
  CHECK_FALSE(lotse::wire::base64url_decode("A"));
  CHECK_FALSE(lotse::wire::base64url_decode("AA=="));
}

TEST_CASE("login transcript layout") {
  std::array<std::uint8_t, 32> challenge{};
  std::array<std::uint8_t, 32> relay_pin{};
  challenge.fill(0xAA);
  relay_pin.fill(0xBB);
  const auto t = lotse::wire::login_transcript(challenge, relay_pin, "acc", 0x01020304);
  REQUIRE(t.size() == 32 + 32 + 2 + 3 + 4);
  CHECK(t[0] == 0xAA);
  CHECK(t[32] == 0xBB);
  CHECK(t[64] == 0x00);  // u16 big-endian length
  CHECK(t[65] == 0x03);
  CHECK(t[66] == 'a');
  CHECK(t[69] == 0x01);  // u32 big-endian device id
  CHECK(t[72] == 0x04);
}
