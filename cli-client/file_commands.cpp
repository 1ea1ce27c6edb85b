// SPDX-License-Identifier: AGPL-3.0-or-later
// `lotse send-file`, `lotse get-file` and `lotse history`.
#include "cli-client/commands.hpp"
#include "cli-client/terminal.hpp"

#include <unistd.h>

#include <chrono>
#include <iostream>

namespace lotse::cli {
namespace {

// Progress on standard error, only when it is a terminal (scripts get clean output), at most a
// few times a second: "sending Protokoll.pdf: 45% (2.3 MiB of 5.0 MiB)".
client::ProgressHandler progress_printer(const std::string& what) {
  if (::isatty(STDERR_FILENO) == 0) {
    return {};
  }
  auto last = std::make_shared<std::chrono::steady_clock::time_point>();
  return [what, last](std::uint64_t done, std::uint64_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (done != total && now - *last < std::chrono::milliseconds(200)) {
      return;
    }
    *last = now;
    const auto percent = total == 0 ? 100 : done * 100 / total;
    std::cerr << "\r" << what << ": " << percent << "% (" << human_size(done) << " of "
              << human_size(total) << ")" << (done == total ? "\n" : "") << std::flush;
  };
}

}  // namespace

int cmd_send_file(const Common& common, const std::string& to, const std::string& path,
                  const std::string& caption) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  const auto name = std::filesystem::path(path).filename().string();
  auto sent = (*c)->send_file(to, path, caption, progress_printer("sending " + name));
  if (!sent) {
    return fail(sent.error());
  }
  if (common.json) {
    std::cout << to_json(*sent).dump() << "\n";
  } else {
    std::cout << "sent " << sent->id << "\n";
  }
  return 0;
}

int cmd_get_file(const Common& common, const std::string& message_id, const std::string& out,
                 bool force) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto written = (*c)->get_file(message_id, out, force, progress_printer("receiving"));
  if (!written) {
    return fail(written.error());
  }
  if (common.json) {
    std::cout << nlohmann::json{{"id", message_id}, {"path", written->string()}}.dump() << "\n";
  } else {
    std::cout << written->string() << "\n";
  }
  return 0;
}

int cmd_history(const Common& common, const std::string& contact, std::size_t limit) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto messages = (*c)->history(contact, limit);
  if (!messages) {
    return fail(messages.error());
  }
  for (const auto& m : *messages) {
    std::cout << (common.json ? to_json(m).dump() : to_line(m)) << "\n";
  }
  return 0;
}

}  // namespace lotse::cli
