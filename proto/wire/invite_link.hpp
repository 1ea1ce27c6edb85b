// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The invite line, shared by relay (writes it) and clients (read it):
//   lotse://HOST:PORT/invite?token=TOKEN&pin=PIN[&role=ROLE[&inbox=INBOX&signer=KEY]]
// HOST is a DNS name, an IPv4 address or a bracketed IPv6 address; TOKEN is 43 characters of
// base64url (32 random bytes); PIN is 64 lowercase hex digits, the SHA-256 of the relay
// certificate's SubjectPublicKeyInfo; ROLE (admin, staff or client) tells the client what kind of
// account the invite makes before it registers (so a client never sends a name to the relay).
// It is a hint only: the relay decides by the token. A counselling inbox's flyer invite
// (role=client) adds INBOX, the inbox id as 32 lowercase hex digits, and KEY, the account key
// (43 characters of base64url, 32 bytes) of the admin who signs the inbox's office-hours notice:
// printed on paper, it is the client's anchor of trust for that notice. docs/PROTOCOL.md 2.1.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lotse::wire {

struct InviteLink {
  std::string host;
  std::uint16_t port = 0;
  std::string token;
  std::array<std::uint8_t, 32> pin{};
  std::string role;  // "admin", "staff", "client", or empty (not stated)
  std::optional<std::array<std::uint8_t, 16>> inbox;  // a flyer invite's inbox
  std::array<std::uint8_t, 32> signer{};              // with inbox: the notice's signing key

  [[nodiscard]] std::string to_string() const;
  // nullopt for anything that is not exactly this form.
  [[nodiscard]] static std::optional<InviteLink> parse(std::string_view text);
};

// base64url without padding, as used for invite tokens.
[[nodiscard]] std::string base64url(const std::uint8_t* data, std::size_t size);
// nullopt for anything but canonical base64url without padding.
[[nodiscard]] std::optional<std::vector<std::uint8_t>> base64url_decode(std::string_view text);
[[nodiscard]] std::string hex(const std::uint8_t* data, std::size_t size);
[[nodiscard]] std::optional<std::array<std::uint8_t, 32>> parse_pin(std::string_view hex64);

}  // namespace lotse::wire
