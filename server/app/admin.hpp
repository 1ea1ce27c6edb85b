// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Administrative operations that work on the relay's database directly, so they can run while
// the relay serves (SQLite WAL, busy timeout) or while it is stopped.
#include "app/config.hpp"

#include "store/relay_store.hpp"

#include <array>
#include <cstdint>
#include <string>

namespace lotse::app {

struct RelayAddress {
  std::string host;
  std::uint16_t port = 0;
  std::array<std::uint8_t, 32> pin{};
};

// The relay's certificate pin (generating a self-signed certificate in data_dir if none is
// configured and none exists yet) and the address clients use, as invites must name them.
[[nodiscard]] RelayAddress relay_address(const Config& config, store::RelayStore& store);

// Records the address the running relay is reachable at, for admin commands run later.
void remember_invite_address(store::RelayStore& store, const std::string& host, std::uint16_t port);

// Creates an invite and returns its lotse:// line.
[[nodiscard]] std::string create_invite(const Config& config, store::RelayStore& store,
                                        store::Role role, std::int64_t lifetime_seconds,
                                        std::uint32_t uses, std::int64_t now_ms);

}  // namespace lotse::app
