// SPDX-License-Identifier: AGPL-3.0-or-later
#include "support/relay_process.hpp"

#include "wire/invite_link.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace lotse::test {
namespace {

std::vector<char*> c_argv(std::vector<std::string>& args) {
  std::vector<char*> out;
  for (auto& a : args) {
    out.push_back(a.data());
  }
  out.push_back(nullptr);
  return out;
}

int wait_exit(int pid, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const int r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      throw std::runtime_error("process did not exit in time");
    }
    // Polling waitpid: there is no portable way to wait on a child with a deadline.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

std::filesystem::path relay_binary() {
  return LOTSE_RELAY_BINARY;
}

CommandResult run_command(const std::vector<std::string>& argv_in, std::chrono::seconds timeout) {
  auto args = argv_in;
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe(out_pipe) != 0 || ::pipe(err_pipe) != 0) {
    throw std::runtime_error("pipe failed");
  }
  const int pid = ::fork();
  if (pid == 0) {
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    auto argv = c_argv(args);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  CommandResult result;
  std::array<pollfd, 2> fds{pollfd{out_pipe[0], POLLIN, 0}, pollfd{err_pipe[0], POLLIN, 0}};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int open_fds = 2;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || ::poll(fds.data(), fds.size(), static_cast<int>(left.count())) <= 0) {
      break;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP)) != 0) {
        char buf[4096];
        const auto n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          ::close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
        } else {
          (i == 0 ? result.out : result.err).append(buf, static_cast<std::size_t>(n));
        }
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) {
      ::close(f.fd);
    }
  }
  result.exit_code = wait_exit(pid, timeout);
  return result;
}

RelayProcess::RelayProcess(std::filesystem::path data_dir, std::vector<std::string> extra_args)
    : data_dir_(std::move(data_dir)), extra_args_(std::move(extra_args)) {}

RelayProcess::~RelayProcess() {
  if (pid_ > 0) {
    try {
      kill9();
    } catch (...) {
    }
  }
}

void RelayProcess::start() {
  std::filesystem::create_directories(data_dir_);
  // A restart keeps the port: clients stored the address from their invite.
  std::vector<std::string> args{
      relay_binary().string(), "serve",    "--data-dir",
      data_dir_.string(),      "--listen", "127.0.0.1:" + std::to_string(port_)};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  int out_pipe[2];
  if (::pipe(out_pipe) != 0) {
    throw std::runtime_error("pipe failed");
  }
  const auto log_path = (data_dir_ / "relay.log").string();
  const int pid = ::fork();
  if (pid == 0) {
    ::dup2(out_pipe[1], 1);
    const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(log_fd, 2);
    ::close(out_pipe[0]);
    auto argv = c_argv(args);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  pid_ = pid;
  stdout_fd_ = out_pipe[0];
  pending_.clear();
  bootstrap_.reset();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool have_port = false;
  bool have_pin = false;
  while (!(have_port && have_pin)) {
    const auto line = read_line(deadline);
    constexpr std::string_view listening = "lotse-relay: listening on ";
    constexpr std::string_view pin = "lotse-relay: certificate pin ";
    if (line.rfind(listening, 0) == 0) {
      port_ = static_cast<std::uint16_t>(std::stoul(line.substr(line.rfind(':') + 1)));
      have_port = true;
    } else if (line.rfind(pin, 0) == 0) {
      auto p = wire::parse_pin(line.substr(pin.size()));
      if (!p) {
        throw std::runtime_error("relay printed a malformed pin: " + line);
      }
      pin_ = *p;
      have_pin = true;
    }
  }
  // The bootstrap invite follows immediately on a first start; give it a short deadline.
  try {
    for (int i = 0; i < 2; ++i) {
      const auto line =
          read_line(std::chrono::steady_clock::now() + std::chrono::milliseconds(300));
      if (line.rfind("lotse://", 0) == 0) {
        bootstrap_ = line;
        break;
      }
    }
  } catch (const std::runtime_error&) {  // no more output: not a first start
  }
}

std::string RelayProcess::read_line(std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    if (const auto nl = pending_.find('\n'); nl != std::string::npos) {
      auto line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd fd{stdout_fd_, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&fd, 1, static_cast<int>(left.count())) <= 0) {
      throw std::runtime_error("relay printed nothing in time (see " +
                               (data_dir_ / "relay.log").string() + ")");
    }
    char buf[1024];
    const auto n = ::read(stdout_fd_, buf, sizeof buf);
    if (n <= 0) {
      throw std::runtime_error("relay closed its output (exited?); log: " + log());
    }
    pending_.append(buf, static_cast<std::size_t>(n));
  }
}

int RelayProcess::stop() {
  if (pid_ <= 0) {
    return 0;
  }
  ::kill(pid_, SIGTERM);
  const int status = wait_exit(pid_, std::chrono::seconds(30));
  pid_ = -1;
  ::close(stdout_fd_);
  stdout_fd_ = -1;
  return status;
}

void RelayProcess::kill9() {
  if (pid_ <= 0) {
    return;
  }
  ::kill(pid_, SIGKILL);
  (void)wait_exit(pid_, std::chrono::seconds(30));
  pid_ = -1;
  ::close(stdout_fd_);
  stdout_fd_ = -1;
}

std::string RelayProcess::log() const {
  std::ifstream in(data_dir_ / "relay.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CommandResult RelayProcess::admin(std::vector<std::string> args) const {
  args.insert(args.begin(), relay_binary().string());
  args.push_back("--data-dir");
  args.push_back(data_dir_.string());
  return run_command(args);
}

}  // namespace lotse::test
