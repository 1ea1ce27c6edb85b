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

// `lotse-relay users list`: one line per account (id, role, handle, devices, created, last seen;
// times as ISO 8601 UTC), staff first. No content, nothing the relay does not hold anyway.
[[nodiscard]] std::string list_users(store::RelayStore& store);

// `lotse-relay users remove ACCOUNT`: erases the account (by account id or staff handle) as
// DeleteAccount does — rows in one transaction, recorded in the audit log as "relay-admin"
// without content — then unlinks its blob files. A running relay notices within a second,
// closes the account's connections and delivers the erasure notices to its contacts. Returns a
// one-line summary; throws std::runtime_error if there is no such account.
[[nodiscard]] std::string remove_user(const Config& config, store::RelayStore& store,
                                      const std::string& account, std::int64_t now_ms);

// `lotse-relay policy show`: the organisation's retention policy as the relay enforces it (the
// [policy] and retention-related [limits] keys), one `key = value` line each.
[[nodiscard]] std::string show_policy(const Config& config);

}  // namespace lotse::app
