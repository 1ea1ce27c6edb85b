// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// lotse.v1.Content, the plaintext inside every end-to-end message: building it, and checking what
// arrives before anything is stored or shown (docs/PROTOCOL.md section 3).
#include "client/error.hpp"

#include "crypto/bytes.hpp"
#include "lotse/v1/e2e.pb.h"

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

// Well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
[[nodiscard]] bool valid_utf8(std::string_view text) noexcept;

// A display name: 1..64 bytes of UTF-8 without control characters, not only spaces.
[[nodiscard]] Result<void> check_display_name(std::string_view name);
// A text message: 1..64 KiB of UTF-8.
[[nodiscard]] Result<void> check_text(std::string_view text);

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

[[nodiscard]] crypto::Bytes serialise(const v1::Content& content);

// Parses and checks decrypted bytes: the message id must equal the one the relay delivered
// under, each body within its bounds. nullopt for anything else (the caller drops it and says so).
[[nodiscard]] std::optional<v1::Content> parse_content(crypto::ByteView plaintext,
                                                       std::string_view expected_message_id);

}  // namespace lotse::client
