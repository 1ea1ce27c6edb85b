// SPDX-License-Identifier: AGPL-3.0-or-later
// Fuzzes the invite line parser (wire::InviteLink::parse): whatever a user pastes. A parsed link
// must print back to a line that parses to the same link (one canonical form).
#include "fuzz_support.hpp"

#include "wire/invite_link.hpp"

#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto link = lotse::wire::InviteLink::parse(text);
  if (link) {
    const auto again = lotse::wire::InviteLink::parse(link->to_string());
    if (!again || again->to_string() != link->to_string() || again->token != link->token ||
        again->pin != link->pin || again->port != link->port || again->role != link->role) {
      std::abort();
    }
  }
  return 0;
}

void lotse_fuzz_write_seeds(const std::filesystem::path& dir) {
  const std::string token = "SBQl1Gcu_02DqTz_d28ozabh73ZUvRScrJBvGXzSpcM";
  const std::string pin = "f856f7de4f5cb983455e5c9e4158249e390389bc08d0463737c1de7e3f6b2aca";
  const std::string lines[] = {
      "lotse://localhost:7443/invite?token=" + token + "&pin=" + pin,
      "lotse://relay.example.org:443/invite?token=" + token + "&pin=" + pin + "&role=client",
      "lotse://[::1]:7443/invite?token=" + token + "&pin=" + pin + "&role=staff\n",
      "lotse://10.0.0.1:1/invite?token=" + token + "&pin=" + pin + "&role=admin",
  };
  int n = 0;
  for (const auto& l : lines) {
    lotse::fuzz::write_seed(dir, "seed" + std::to_string(n++), lotse::crypto::as_bytes(l));
  }
}
