// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <boost/system/system_error.hpp>

#include <string>
#include <type_traits>

namespace lotse::store {

// Errors of the encrypted local store. Values are stable: never renumber, retire instead.
enum class errc {
  ok = 0,
  profile_exists = 1,     // create(): DIR/profile.db is already there
  no_profile = 2,         // open(): there is no DIR/profile.db
  passphrase_wrong = 3,   // the passphrase does not unwrap the store key
  newer_format = 4,       // the profile was written by a newer Lotse; this one must not touch it
  not_a_profile = 5,      // the file is not a Lotse profile, or its header is damaged
  corrupt = 6,            // a row failed authentication or does not decode: tampering or damage
  database_error = 7,     // SQLite failed (I/O error, disk full, ...)
  profile_locked = 8,     // another process (or Profile object) has this profile open
  kdf_failed = 9,         // Argon2id failed: out of memory, or parameters out of bounds
  invalid_argument = 10,  // a value the store refuses: empty or oversized id, text or record
  outbox_full = 11,       // max_outbox_entries reached
};

[[nodiscard]] const boost::system::error_category& error_category() noexcept;

[[nodiscard]] inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

template <class T>
using Result = boost::system::result<T>;

// Thrown only by the protocol store adapters (protocol_stores.hpp), whose interfaces have no
// error channel: a local store that cannot be read or written is a broken invariant of the
// device, and carrying on (for example after a session update failed to persist) could reuse a
// message key. code() is one of errc.
class StoreFailure : public boost::system::system_error {
public:
  StoreFailure(errc e, const std::string& what) : system_error(make_error_code(e), what) {}
};

}  // namespace lotse::store

template <>
struct boost::system::is_error_code_enum<lotse::store::errc> : std::true_type {};
