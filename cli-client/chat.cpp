// SPDX-License-Identifier: AGPL-3.0-or-later
// `lotse chat CONTACT`: the conversation so far, then a readline prompt; messages that arrive
// meanwhile are printed above the prompt without disturbing what is being typed. The client's
// event handler only writes a byte to a pipe; this thread does everything else.
#include "cli-client/commands.hpp"
#include "cli-client/terminal.hpp"

#include "client/client.hpp"

#include <poll.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>

namespace lotse::cli {
namespace {

// readline's callback interface hands lines to a plain function.
std::optional<std::string> g_line;
bool g_eof = false;

void on_line(char* line) {
  if (line == nullptr) {
    g_eof = true;
    rl_callback_handler_remove();
    return;
  }
  g_line = line;
  if (*line != '\0') {
    add_history(line);
  }
  std::free(line);
}

void print_above_prompt(const std::string& text) {
  const int point = rl_point;
  char* saved = rl_copy_text(0, rl_end);
  rl_save_prompt();
  rl_replace_line("", 0);
  rl_redisplay();
  std::cout << "\r" << text << "\n" << std::flush;
  rl_restore_prompt();
  rl_replace_line(saved, 0);
  rl_point = point;
  rl_redisplay();
  std::free(saved);
}

}  // namespace

int cmd_chat(const Common& common, const std::string& contact, std::size_t history_size) {
  const auto dir = profile_dir(common.profile);
  if (!client::Client::exists(dir)) {
    std::cerr << "lotse: " << make_error_code(client::errc::no_profile).message() << ".\n";
    return exit_error;
  }
  const auto pass = passphrase(false);
  if (!pass) {
    return exit_error;
  }
  client::Options options;
  options.client_name = "lotse-cli/0.1";
  auto opened = client::Client::open(dir, *pass, options);
  if (!opened) {
    std::cerr << "lotse: " << opened.error().message() << ".\n";
    return exit_error;
  }
  auto& c = **opened;
  std::array<int, 2> wake{-1, -1};
  if (::pipe(wake.data()) != 0) {
    std::cerr << "lotse: cannot create a pipe.\n";
    return exit_error;
  }
  c.set_event_handler([fd = wake[1]](const client::Event& e) {
    const char byte = e.kind == client::Event::Kind::connection ? 'c' : 'm';
    (void)!::write(fd, &byte, 1);
  });
  if (auto r = c.connect(); !r) {
    std::cerr << "lotse: " << r.error().message() << " (showing the stored conversation).\n";
  } else {
    (void)c.wait_drained(std::chrono::seconds(30));
  }
  auto peer = c.find_contact(contact);
  if (!peer) {
    std::cerr << "lotse: " << peer.error().message() << ".\n";
    return exit_error;
  }
  const auto peer_name = peer->name.empty() ? peer->account_id : peer->name;
  if (auto past = c.history(peer->account_id, history_size)) {
    for (const auto& m : *past) {
      std::cout << to_line(m) << "\n";
    }
  }
  (void)c.take_unshown();
  std::cout << "-- chat with " << peer_name << " (Ctrl-D to leave) --\n";
  const std::string prompt = "> ";
  rl_callback_handler_install(prompt.c_str(), on_line);

  int status = 0;
  while (!g_eof) {
    std::array<pollfd, 2> fds{{{STDIN_FILENO, POLLIN, 0}, {wake[0], POLLIN, 0}}};
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      continue;
    }
    if ((fds[1].revents & POLLIN) != 0) {
      std::array<char, 64> drain{};
      (void)!::read(wake[0], drain.data(), drain.size());
      if (auto fresh = c.take_unshown()) {
        for (const auto& m : *fresh) {
          if (m.conversation == peer->account_id) {
            print_above_prompt(to_line(m));
          } else {
            print_above_prompt("(" + (m.from_name.empty() ? m.from : m.from_name) +
                               " wrote to you; see `lotse inbox`)");
          }
        }
      }
    }
    if ((fds[0].revents & (POLLIN | POLLHUP)) != 0) {
      rl_callback_read_char();
    }
    if (g_line) {
      const std::string text = *g_line;
      g_line.reset();
      if (text.empty()) {
        continue;
      }
      auto sent = c.send_text(peer->account_id, text);
      if (sent) {
        print_above_prompt(to_line(*sent));
      } else {
        print_above_prompt("lotse: " + sent.error().message() + " (not sent)");
        status = exit_error;
      }
    }
  }
  std::cout << "\n";
  c.set_event_handler(nullptr);
  ::close(wake[0]);
  ::close(wake[1]);
  return status == 0 ? 0 : 0;
}

}  // namespace lotse::cli
