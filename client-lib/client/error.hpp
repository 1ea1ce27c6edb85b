// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Errors of the Client API: what a front end shows to the user. Each message is one sentence a
// person can act on. Values are stable: never renumber, retire instead.
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <type_traits>

namespace lotse::client {

enum class errc {
  ok = 0,
  profile_exists = 1,  // init into a directory that already holds a profile
  no_profile = 2,      // no profile in this directory: run init
  wrong_passphrase = 3,
  profile_locked = 4,  // another process has the profile open for writing
  profile_corrupt = 5,
  invalid_invite = 6,  // not a lotse:// invite line
  invite_used = 7,
  invite_expired = 8,
  invite_refused = 9,  // unknown or forged token
  relay_unreachable = 10,
  pin_mismatch = 11,   // the relay's certificate is not the one the invite named
  relay_refused = 12,  // the relay answered with an error not covered below
  timed_out = 13,
  unknown_contact = 14,
  ambiguous_contact = 15,  // the name matches more than one contact; use the account id
  not_authorized = 16,     // the relay does not let this account do that or reach that contact
  key_changed = 17,        // the contact's identity key changed; verify before sending
  not_staff = 18,          // the command is for staff accounts
  invalid_name = 19,       // display name not acceptable
  handle_taken = 20,
  message_too_long = 21,
  empty_message = 22,
  no_devices = 23,  // the contact has no devices registered
  rate_limited = 24,
  bad_bundle = 25,       // the relay served keys that do not verify (possible attack)
  invalid_text = 26,     // not UTF-8
  invalid_handle = 27,   // staff handles: 1..32 of [A-Za-z0-9._-], starting with a letter or digit
  offline = 28,          // the request needs the relay; connect() first
  unknown_group = 29,    // no such group on this device (or not a member on the relay)
  not_group_admin = 30,  // only the group's owners and admins may do that
  group_archived = 31,
  group_conflict = 32,  // the group changed meanwhile; try again
  not_a_member = 33,    // this account is not (or no longer) a member of the group
  ambiguous_name = 34,  // the name matches more than one contact or group; use the id
  already_member = 35,
  group_too_large = 36,
  last_manager = 37,  // the change would leave the group without an owner or admin
  // Files (docs/PROTOCOL.md 3.5):
  file_too_large = 38,    // larger than the relay's limits.max_file_bytes (relay TOO_LARGE)
  quota_exceeded = 39,    // the account's files on the relay would exceed its quota
  storage_full = 40,      // the relay's storage for files is full
  too_many_uploads = 41,  // the account has the most unfinished uploads the relay allows
  unknown_blob = 42,      // the file is not on the relay: expired, deleted, or not ours to read
  file_corrupt = 43,      // the download does not decrypt as the sender's file (or has extra data)
  file_truncated = 44,    // the download ends before the file does
  file_digest_mismatch = 45,  // the download is not the exact file the sender committed to
  target_exists = 46,         // get_file would overwrite a file (force overwrites)
  not_an_attachment = 47,     // the message carries no file
  unknown_message = 48,       // no message with that id on this device
  file_unreadable = 49,       // send_file: the file cannot be opened or read
  file_unwritable = 50,       // get_file: the target cannot be written
  invalid_file_name = 51,     // the file name is not 1..255 bytes of UTF-8 without '/', '\\'
  file_changed = 52,          // the file changed size while it was being sent
  ambiguous_message = 53,     // more than one message with a file has that id
  // Retention (docs/PROTOCOL.md 2.19):
  policy_bounds = 54,  // the timer is outside the organisation's bounds (policy shows them)
  // Counselling (docs/PROTOCOL.md 2.22):
  unknown_inbox = 55,         // no such inbox, or not one of its staff or clients
  case_claimed = 56,          // another counsellor has the case
  inbox_full = 57,            // the inbox takes no new clients now; try later
  consent_required = 58,      // the inbox hands a case over only with the client's consent
  unknown_case = 59,          // no case with that id (or prefix) for this account
  no_handover = 60,           // no handover is waiting for this client's answer
  notice_invalid = 61,        // the inbox's notice does not verify with the flyer's key
  not_admin = 62,             // only an admin may do this
  not_inbox_client = 63,      // this account did not register through an inbox
  invalid_office_hours = 64,  // the hours do not parse, or a notice text is too long
  invalid_reason = 65,        // a handover reason is 1 to 200 bytes
  nobody_on_duty = 66,        // an inbox client's first message: no counsellor is on duty
  not_in_case = 67,           // staff: this device was not in the case when it opened
};

[[nodiscard]] const boost::system::error_category& error_category() noexcept;
[[nodiscard]] inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

template <class T>
using Result = boost::system::result<T>;

}  // namespace lotse::client

template <>
struct boost::system::is_error_code_enum<lotse::client::errc> : std::true_type {};
