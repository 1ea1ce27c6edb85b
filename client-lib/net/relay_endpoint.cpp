// SPDX-License-Identifier: AGPL-3.0-or-later
#include "net/relay_endpoint.hpp"

namespace lotse::net_client {

RelayEndpoint RelayEndpoint::from_invite(const wire::InviteLink& invite) {
  return RelayEndpoint{invite.host, invite.port, invite.pin};
}

std::string RelayEndpoint::authority() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace lotse::net_client
