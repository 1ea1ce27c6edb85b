// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

namespace lotse::crypto {

// Calls sodium_init() once (thread-safe); throws std::runtime_error if libsodium cannot start.
// Every wrapper that needs libsodium's RNG or CPU dispatch calls this; it costs one atomic load.
void ensure_sodium_initialised();

}  // namespace lotse::crypto
