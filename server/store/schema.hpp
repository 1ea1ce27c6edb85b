// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "store/sqlite.hpp"

namespace lotse::store {

inline constexpr int schema_version = 5;

// Connection settings every relay database connection uses: WAL, foreign keys, secure_delete,
// a busy timeout so admin commands and the relay can share the file.
void configure_connection(Database& db, bool synchronous_full);

// Creates the schema on an empty database or checks the version of an existing one. Throws
// std::runtime_error for a database written by a newer relay.
void migrate(Database& db);

}  // namespace lotse::store
