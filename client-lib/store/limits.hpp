// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The on-disk format version and every bound of the client store, in one place.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lotse::store {

// DIR/profile.db (plus SQLite's DIR/profile.db-wal while open).
inline constexpr std::string_view profile_file_name = "profile.db";

// Written into the header and bound into every row's associated data. open() refuses a higher
// version (errc::newer_format) and never writes to such a file.
inline constexpr std::uint32_t format_version = 1;

// Ids (account, conversation, client message, group, secret names): non-empty, at most this.
inline constexpr std::size_t max_id_bytes = 256;
// A display name or a setting's value.
inline constexpr std::size_t max_text_bytes = 4096;
// Any one sealed value (a message text, a session record, a queued Send request).
inline constexpr std::size_t max_value_bytes = std::size_t{1024} * 1024;
// Message lists return at most this many rows per call (page with the seq cursor).
inline constexpr std::size_t max_list_messages = 1000;
// Sends waiting for the relay's answer.
inline constexpr std::size_t max_outbox_entries = 10000;
// Remembered incoming envelope ids; the oldest are dropped beyond this (and by age, see
// ProcessedEnvelopes::prune). The relay redelivers only unacknowledged envelopes, so the window
// needs to cover a crash between commit and acknowledgement, not history.
inline constexpr std::size_t max_processed_envelopes = 50000;
// Members of one group (as protocol::max_group_members).
inline constexpr std::size_t max_group_members = 1000;
// Devices per contact.
inline constexpr std::size_t max_contact_devices = 64;

}  // namespace lotse::store
