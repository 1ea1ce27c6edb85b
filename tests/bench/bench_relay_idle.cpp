// SPDX-License-Identifier: AGPL-3.0-or-later
#include "bench_relay_idle.hpp"

#include "bench_relay_loadgen.hpp"

#include "wire/invite_link.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <future>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace lotse::bench {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

struct IdleChildState {
  LoadGen* loadgen = nullptr;
  bool relay = true;
  tcp::endpoint server;
  Pin pin{};
  std::size_t first = 0;
  std::size_t count = 0;
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> ok{0};
  std::atomic<std::size_t> failed{0};
  std::vector<std::shared_ptr<Peer>> peers;
};

asio::awaitable<void> idle_worker(IdleChildState* state, std::size_t worker) {
  auto& io = state->loadgen->io(worker);
  for (;;) {
    const std::size_t i = state->next.fetch_add(1);
    if (i >= state->count) {
      co_return;
    }
    auto peer = std::make_shared<Peer>(io, state->loadgen->tls());
    try {
      co_await Peer::connect(peer, state->server, local_address(i));
      if (state->relay) {
        co_await relay_login(peer, state->first + i, state->pin);
      } else {
        co_await Peer::write(peer, std::string(100, 'x'));  // one echo, as the relay had requests
        (void)co_await Peer::read(peer);
      }
      peer->start_reading([](std::string_view) {});  // keeps answering pings
      state->peers[i] = std::move(peer);
      ++state->ok;
    } catch (const std::exception&) {
      ++state->failed;
    }
  }
}

struct Child {
  pid_t pid = -1;
  int to_child = -1;    // its stdin
  int from_child = -1;  // its stdout

  static Child spawn(const std::vector<std::string>& args) {
    int in[2];
    int out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) {
      throw std::runtime_error("pipe failed");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, in[1]);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    const std::string self = fs::read_symlink("/proc/self/exe").string();
    std::vector<std::string> argv_strings{self};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_strings) {
      argv.push_back(s.data());
    }
    argv.push_back(nullptr);
    Child child;
    const int rc = ::posix_spawn(&child.pid, self.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    if (rc != 0) {
      throw std::runtime_error("posix_spawn failed");
    }
    child.to_child = in[1];
    child.from_child = out[0];
    return child;
  }

  [[nodiscard]] std::string read_line() const {
    std::string line;
    char c = 0;
    while (::read(from_child, &c, 1) == 1 && c != '\n') {
      line.push_back(c);
    }
    return line;
  }

  void finish() {
    ::close(to_child);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::close(from_child);
  }
};

}  // namespace

// bench_relay --idle-child relay|echo PORT PIN_HEX FIRST COUNT THREADS: connects COUNT clients
// (relay: logged in as accounts FIRST..), prints "ready OK FAILED", holds them until stdin closes.
int idle_child(const std::vector<std::string>& args) {
  if (args.size() != 6) {
    std::cerr << "bench_relay --idle-child: wrong arguments\n";
    return 2;
  }
  raise_open_file_limit();
  const auto pin = wire::parse_pin(args[2]);
  if (!pin) {
    std::cerr << "bench_relay --idle-child: bad pin\n";
    return 2;
  }
  IdleChildState state;
  LoadGen loadgen(static_cast<unsigned>(std::stoul(args[5])), *pin);
  state.loadgen = &loadgen;
  state.relay = args[0] == "relay";
  state.server = loopback(static_cast<std::uint16_t>(std::stoul(args[1])));
  state.pin = *pin;
  state.first = std::stoul(args[3]);
  state.count = std::stoul(args[4]);
  state.peers.resize(state.count);
  std::vector<std::future<void>> workers;
  constexpr std::size_t concurrent_handshakes = 64;
  for (std::size_t w = 0; w < concurrent_handshakes; ++w) {
    workers.push_back(asio::co_spawn(loadgen.io(w), idle_worker(&state, w), asio::use_future));
  }
  for (auto& worker : workers) {
    worker.get();
  }
  std::printf("ready %zu %zu\n", state.ok.load(), state.failed.load());
  std::fflush(stdout);
  char byte = 0;
  while (::read(STDIN_FILENO, &byte, 1) > 0) {
  }
  std::fflush(stdout);
  ::_exit(0);  // the connections simply drop; nothing to tidy in a process that ends
}

IdleResult idle_memory(const std::string& mode, std::uint16_t port, const Pin& pin,
                       std::size_t first, std::size_t count, unsigned client_threads,
                       const std::function<std::size_t()>& live,
                       const std::function<void()>& settle, std::chrono::milliseconds quiet) {
  if (!wait_until([&] { return live() == 0; }, 30s)) {
    std::cerr << "bench_relay: earlier connections still open\n";
  }
  settle();
  const auto heap_before = heap_in_use_bytes();
  const auto rss_before = rss_bytes();
  auto child =
      Child::spawn({"--idle-child", mode, std::to_string(port), wire::hex(pin.data(), pin.size()),
                    std::to_string(first), std::to_string(count), std::to_string(client_threads)});
  const auto line = child.read_line();
  const auto fields = split(line, ' ');
  IdleResult result;
  if (fields.size() != 3 || fields[0] != "ready") {
    std::cerr << "bench_relay: idle client process said '" << line << "'\n";
    child.finish();
    return result;
  }
  result.connections = std::stoul(fields[1]);
  if (fields[2] != "0") {
    std::cerr << "bench_relay: " << fields[2] << " idle clients failed to connect\n";
  }
  if (!wait_until([&] { return live() == result.connections; }, 60s)) {
    std::cerr << "bench_relay: server sees " << live() << " of " << result.connections << "\n";
  }
  std::this_thread::sleep_for(quiet);
  settle();
  const auto heap_after = heap_in_use_bytes();
  const auto rss_after = rss_bytes();
  child.finish();
  if (!wait_until([&] { return live() == 0; }, 60s)) {
    std::cerr << "bench_relay: idle connections did not all close\n";
  }
  const auto n = static_cast<double>(std::max<std::size_t>(result.connections, 1));
  result.heap_per_connection =
      (static_cast<double>(heap_after) - static_cast<double>(heap_before)) / n;
  result.rss_per_connection =
      (static_cast<double>(rss_after) - static_cast<double>(rss_before)) / n;
  return result;
}

}  // namespace lotse::bench
