// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Where a relay is and how it is recognised: host, port and the SHA-256 of its certificate's
// SubjectPublicKeyInfo. The pin is the only trust anchor (no CA); it comes from an invite.
#include "wire/invite_link.hpp"

#include <array>
#include <cstdint>
#include <string>

namespace lotse::net_client {

using CertificatePin = std::array<std::uint8_t, 32>;

struct RelayEndpoint {
  std::string host;  // DNS name or IP address (IPv6 without brackets)
  std::uint16_t port = 0;
  CertificatePin pin{};

  [[nodiscard]] static RelayEndpoint from_invite(const wire::InviteLink& invite);

  // "host:port", with IPv6 addresses in brackets: the HTTP Host of the WebSocket handshake.
  [[nodiscard]] std::string authority() const;

  friend bool operator==(const RelayEndpoint&, const RelayEndpoint&) = default;
};

}  // namespace lotse::net_client
