// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Terminal and formatting helpers of the `lotse` CLI.
#include "client/client.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>

namespace lotse::cli {

// --profile, else $XDG_DATA_HOME/lotse, else ~/.local/share/lotse.
[[nodiscard]] std::filesystem::path profile_dir(const std::string& option);

// LOTSE_PASSPHRASE if set (for scripts; less safe: other processes of the same user may read the
// environment), else a prompt on the terminal without echo. `confirm` asks twice (new profiles).
[[nodiscard]] std::optional<std::string> passphrase(bool confirm);

// "2026-11-23T14:05:09.123Z"
[[nodiscard]] std::string iso_time(std::int64_t unix_ms);
// "14:05" today, else "2026-11-22 14:05" (local time).
[[nodiscard]] std::string short_time(std::int64_t unix_ms);

[[nodiscard]] nlohmann::json to_json(const client::MessageView& m);
[[nodiscard]] nlohmann::json to_json(const client::ContactView& c);
[[nodiscard]] nlohmann::json to_json(const client::GroupView& g);
[[nodiscard]] nlohmann::json to_json(const client::GroupMemberView& m);
// "512 B", "64.0 KiB", "50.0 MiB".
[[nodiscard]] std::string human_size(std::uint64_t bytes);
// "[file] NAME (SIZE, MEDIA_TYPE) CAPTION" (no media type: "(SIZE)"; no caption: nothing after).
[[nodiscard]] std::string attachment_line(const client::AttachmentView& a);
// One line for people: "[14:05] anna.k: text" (names fall back to the account id); a file as
// attachment_line and the message id to fetch it with.
[[nodiscard]] std::string to_line(const client::MessageView& m);

}  // namespace lotse::cli
