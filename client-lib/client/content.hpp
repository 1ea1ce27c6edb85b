// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// lotse.v1.Content, the plaintext inside every end-to-end message: building it, and checking what
// arrives before anything is stored or shown (docs/PROTOCOL.md section 3).
#include "client/error.hpp"

#include "crypto/bytes.hpp"
#include "lotse/v1/e2e.pb.h"
#include "protocol/file_stream.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lotse::client {

inline constexpr std::size_t message_id_bytes = 16;
inline constexpr std::size_t max_text_bytes = 64 * 1024;
inline constexpr std::size_t max_display_name_bytes = 64;
inline constexpr std::size_t max_receipt_ids = 256;
inline constexpr std::size_t max_topic_bytes = 512;
inline constexpr std::size_t max_distribution_bytes = 1024;
inline constexpr std::size_t blob_id_bytes = 32;
inline constexpr std::size_t max_file_name_bytes = 255;
inline constexpr std::size_t max_media_type_bytes = 127;
inline constexpr std::size_t max_caption_bytes = 4096;

// Well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
[[nodiscard]] bool valid_utf8(std::string_view text) noexcept;

// A display name: 1..64 bytes of UTF-8 without control characters, not only spaces.
[[nodiscard]] Result<void> check_display_name(std::string_view name);
// A text message: 1..64 KiB of UTF-8.
[[nodiscard]] Result<void> check_text(std::string_view text);

// A file's name as it travels (Attachment.name): 1..255 bytes of UTF-8 without '/', '\\' or
// control characters (C0, DEL, C1), and not "." or "..".
[[nodiscard]] Result<void> check_file_name(std::string_view name);
// Attachment.media_type: at most 127 printable ASCII bytes (may be empty).
[[nodiscard]] bool valid_media_type(std::string_view media_type) noexcept;
// Attachment.caption: at most 4,096 bytes of UTF-8 (may be empty).
[[nodiscard]] Result<void> check_caption(std::string_view caption);

// Shown to the user and stored in the message log: a text or a file.
[[nodiscard]] bool is_message_body(const v1::Content& content) noexcept;

[[nodiscard]] v1::Content text_content(std::string_view message_id, std::int64_t sent_at_ms,
                                       std::string_view text);
[[nodiscard]] v1::Content profile_content(std::string_view message_id, std::int64_t sent_at_ms,
                                          std::string_view display_name);
[[nodiscard]] v1::Content receipt_content(std::string_view message_id, std::int64_t sent_at_ms,
                                          const std::vector<std::string>& received_ids);

// Pairwise: our sender key for a group (and, from owners and admins, its name and topic).
[[nodiscard]] v1::Content group_setup_content(std::string_view message_id, std::int64_t sent_at_ms,
                                              std::string_view group_id, std::uint64_t epoch,
                                              crypto::ByteView distribution,
                                              const v1::GroupInfo* info);
// A group's topic: at most 512 bytes of UTF-8 (may be empty).
[[nodiscard]] Result<void> check_topic(std::string_view topic);

// A file: the blob's id on the relay and its reference (key included; wipe the content's copy of
// the key with wipe_file_key once it is no longer needed).
[[nodiscard]] v1::Content attachment_content(std::string_view message_id, std::int64_t sent_at_ms,
                                             std::string_view blob_id,
                                             const protocol::FileKeyReference& file,
                                             std::string_view name, std::string_view media_type,
                                             std::string_view caption);
void wipe_file_key(v1::Content& content) noexcept;

[[nodiscard]] crypto::Bytes serialise(const v1::Content& content);

// Parses and checks decrypted bytes: the message id must equal the one the relay delivered
// under, each body within its bounds. nullopt for anything else (the caller drops it and says so).
[[nodiscard]] std::optional<v1::Content> parse_content(crypto::ByteView plaintext,
                                                       std::string_view expected_message_id);

}  // namespace lotse::client
