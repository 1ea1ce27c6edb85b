// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The `lotse` commands. Each returns the process exit code; errors are one sentence on standard
// error ("lotse: ...") and a non-zero code. Standard output carries only the command's result.
#include <chrono>
#include <string>
#include <vector>

namespace lotse::cli {

struct Common {
  std::string profile;  // --profile DIR
  bool json = false;
};

int cmd_init(const Common& common, const std::string& invite, const std::string& name);
int cmd_whoami(const Common& common);
int cmd_invite(const Common& common, std::chrono::seconds lifetime);
int cmd_contacts(const Common& common);
int cmd_send(const Common& common, const std::string& contact,
             const std::vector<std::string>& words);
int cmd_inbox(const Common& common, std::chrono::seconds wait);
int cmd_chat(const Common& common, const std::string& contact, std::size_t history);
int cmd_verify(const Common& common, const std::string& contact, bool confirm);

// Exit codes: 1 for user-facing errors (bad input, refused, unreachable), 2 for usage errors.
inline constexpr int exit_error = 1;

}  // namespace lotse::cli
