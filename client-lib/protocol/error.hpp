// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "crypto/error.hpp"

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <type_traits>

namespace lotse::protocol {

// Errors of the protocol state machines. Values are stable: never renumber, retire instead.
enum class errc {
  ok = 0,
  malformed_message = 1,  // bytes do not decode as the expected protobuf / field sizes wrong
  unsupported_version = 2,
  wrong_message_type = 3,  // e.g. a group ciphertext given to a pairwise session
  bad_signature = 4,
  unknown_signed_prekey = 5,
  unknown_one_time_prekey = 6,   // also: already used (one-time prekeys are deleted on use)
  duplicate_message = 7,         // replay of a message already decrypted
  too_many_skipped = 8,          // message number too far ahead (MAX_SKIP)
  header_decrypt_failed = 9,     // no header key of this session opens the header
  decrypt_failed = 10,           // body did not authenticate
  weak_key = 11,                 // a DH produced the all-zero output
  replayed_prekey_message = 12,  // an X3DH initial message seen before
  invalid_state = 13,            // stored state is corrupt or of an unknown version
  no_session = 14,
  unknown_sender_key = 15,  // no sender key for this sender/key id
  sender_key_too_old = 16,  // iteration already used or evicted
  file_truncated = 17,      // encrypted file ended without its final chunk
  file_trailing_data = 18,  // data after the final chunk
  file_digest_mismatch = 19,
  file_size_mismatch = 20,
  file_corrupt = 21,          // a chunk failed authentication
  identity_mismatch = 22,     // a bundle or message names a different identity than expected
  group_mismatch = 23,        // a group message or sender key for another group than expected
  group_out_of_order = 24,    // a group commit does not follow the current one (epoch or hash)
  group_archived = 25,        // the group is archived: no further commits
  group_rule_violation = 26,  // the commit's author may not make this membership change
  inbox_mismatch = 27,        // an inbox notice for another inbox than expected
  invalid_office_hours = 28,  // a human office-hours spec does not parse (parse_office_hours)
};

[[nodiscard]] const boost::system::error_category& error_category() noexcept;

[[nodiscard]] inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

template <class T>
using Result = boost::system::result<T>;

}  // namespace lotse::protocol

template <>
struct boost::system::is_error_code_enum<lotse::protocol::errc> : std::true_type {};
