// SPDX-License-Identifier: AGPL-3.0-or-later
#include "cli-client/terminal.hpp"

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>

namespace lotse::cli {
namespace {

std::optional<std::string> read_hidden(const char* prompt) {
  FILE* tty = std::fopen("/dev/tty", "r+");
  if (tty == nullptr) {
    return std::nullopt;
  }
  std::fputs(prompt, tty);
  std::fflush(tty);
  termios old{};
  const int fd = fileno(tty);
  const bool is_tty = tcgetattr(fd, &old) == 0;
  if (is_tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  std::string line;
  for (int c = std::fgetc(tty); c != EOF && c != '\n'; c = std::fgetc(tty)) {
    line.push_back(static_cast<char>(c));
  }
  if (is_tty) {
    tcsetattr(fd, TCSAFLUSH, &old);
  }
  std::fputs("\n", tty);
  std::fclose(tty);
  return line;
}

}  // namespace

std::filesystem::path profile_dir(const std::string& option) {
  if (!option.empty()) {
    return option;
  }
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::filesystem::path(xdg) / "lotse";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::filesystem::path(home) / ".local" / "share" / "lotse";
  }
  return ".lotse";
}

std::optional<std::string> passphrase(bool confirm) {
  if (const char* env = std::getenv("LOTSE_PASSPHRASE"); env != nullptr) {
    return std::string(env);
  }
  auto first = read_hidden(confirm ? "New passphrase for this profile: " : "Passphrase: ");
  if (!first || !confirm) {
    return first;
  }
  auto second = read_hidden("Repeat the passphrase: ");
  if (!second || *second != *first) {
    std::cerr << "lotse: the passphrases differ.\n";
    return std::nullopt;
  }
  return first;
}

std::string iso_time(std::int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(unix_ms % 1000));
  return out;
}

std::string short_time(std::int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  std::tm today{};
  localtime_r(&seconds, &tm);
  localtime_r(&now, &today);
  char buf[32];
  const bool same_day = tm.tm_year == today.tm_year && tm.tm_yday == today.tm_yday;
  std::strftime(buf, sizeof buf, same_day ? "%H:%M" : "%Y-%m-%d %H:%M", &tm);
  return buf;
}

nlohmann::json to_json(const client::MessageView& m) {
  auto j = nlohmann::json{
      {"id", m.id},
      {"from", m.from},
      {"from_name", m.from_name},
      {"conversation", m.conversation},
      {"text", m.text},
      {"sent_at", iso_time(m.sent_at_ms)},
      {"sent_at_ms", m.sent_at_ms},
      {"received_at", iso_time(m.received_at_ms)},
      {"outgoing", m.outgoing},
      {"status", client::to_string(m.status)},
  };
  if (!m.group.empty()) {
    j["group"] = m.group;
    j["group_name"] = m.group_name;
  }
  if (m.attachment) {
    j["attachment"] = nlohmann::json{{"name", m.attachment->name},
                                     {"size", m.attachment->size},
                                     {"media_type", m.attachment->media_type},
                                     {"caption", m.attachment->caption}};
  }
  return j;
}

std::string human_size(std::uint64_t bytes) {
  if (bytes < 1024) {
    return std::to_string(bytes) + " B";
  }
  static constexpr const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(units)) {
    value /= 1024.0;
    ++unit;
  }
  char out[32];
  std::snprintf(out, sizeof out, "%.1f %s", value, units[unit]);
  return out;
}

std::string attachment_line(const client::AttachmentView& a) {
  std::string line = "[file] " + a.name + " (" + human_size(a.size);
  if (!a.media_type.empty()) {
    line += ", " + a.media_type;
  }
  line += ")";
  if (!a.caption.empty()) {
    line += " " + a.caption;
  }
  return line;
}

nlohmann::json to_json(const client::ContactView& c) {
  return nlohmann::json{
      {"account_id", c.account_id}, {"role", client::to_string(c.role)}, {"name", c.name},
      {"verified", c.verified},     {"key_changed", c.key_changed},
  };
}

nlohmann::json to_json(const client::GroupView& g) {
  return nlohmann::json{
      {"id", g.id},
      {"name", g.name},
      {"topic", g.topic},
      {"epoch", g.epoch},
      {"members", g.members},
      {"member", g.member},
      {"archived", g.archived},
      {"role", client::to_string(g.my_role)},
  };
}

nlohmann::json to_json(const client::GroupMemberView& m) {
  return nlohmann::json{
      {"account_id", m.account_id},
      {"name", m.name},
      {"role", client::to_string(m.role)},
      {"account_role", client::to_string(m.account_role)},
      {"self", m.self},
  };
}

std::string to_line(const client::MessageView& m) {
  const auto& who = m.outgoing ? std::string("you") : (m.from_name.empty() ? m.from : m.from_name);
  std::string status;
  if (m.outgoing) {
    status = m.status == client::MessageStatus::delivered ? " ✓✓"
             : m.status == client::MessageStatus::sent    ? " ✓"
                                                          : " …";
  }
  const std::string where =
      m.group.empty() ? ""
                      : "#" + (m.group_name.empty() ? m.group.substr(0, 8) : m.group_name) + " ";
  if (m.attachment) {
    // The id is what `lotse get-file` needs.
    return "[" + short_time(m.sent_at_ms) + "] " + where + who + ": " +
           attachment_line(*m.attachment) + status + "  (get-file " + m.id + ")";
  }
  return "[" + short_time(m.sent_at_ms) + "] " + where + who + ": " + m.text + status;
}

}  // namespace lotse::cli
