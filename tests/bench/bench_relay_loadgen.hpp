// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The relay benchmark's load generator: asynchronous Beast TLS 1.3 WebSocket clients (pinned like
// real devices) on a few io_context threads of their own, never a blocking thread per connection.
// A Peer belongs to one io_context and is only touched from that io_context's thread. Also: CPU
// and memory probes used to attribute cost to the relay rather than to the load generator.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <pthread.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace lotse::bench {

// Nanoseconds on the steady clock (shared by every thread of the process).
[[nodiscard]] std::int64_t now_ns() noexcept;

// CPU seconds (user + system) of one thread of this process / of the whole process / of the
// calling thread.
[[nodiscard]] double thread_cpu_seconds(pthread_t thread) noexcept;
[[nodiscard]] double process_cpu_seconds() noexcept;
[[nodiscard]] double this_thread_cpu_seconds() noexcept;

// Thread ids (Linux tids) of this process, and the CPU seconds one of them has run (from
// /proc/self/task/TID/schedstat, nanosecond resolution). Used to attribute CPU to the relay's
// threads (I/O, database), which the relay creates itself.
[[nodiscard]] std::vector<int> thread_ids();
[[nodiscard]] double task_cpu_seconds(int tid) noexcept;
// Seconds the thread was runnable but waited for a CPU (schedstat run_delay): on a machine shared
// with other work this says how much of a figure is contention rather than the code.
[[nodiscard]] double task_wait_seconds(int tid) noexcept;

// A set of threads whose CPU time is summed.
struct ThreadGroup {
  std::vector<int> tids;
  [[nodiscard]] double cpu_seconds() const noexcept {
    double total = 0;
    for (const int tid : tids) {
      total += task_cpu_seconds(tid);
    }
    return total;
  }
  [[nodiscard]] double wait_seconds() const noexcept {
    double total = 0;
    for (const int tid : tids) {
      total += task_wait_seconds(tid);
    }
    return total;
  }
  // Names the threads prefix-0, prefix-1, ... (for perf and top; /proc/self/task/TID/comm).
  void name(const std::string& prefix) const;
  // The threads that exist now and not in `before`.
  [[nodiscard]] static ThreadGroup started_since(const std::vector<int>& before);
};

// glibc heap in use (mallinfo2: uordblks + hblkhd, summed over all arenas) and resident set size.
[[nodiscard]] std::size_t heap_in_use_bytes() noexcept;
[[nodiscard]] std::size_t rss_bytes() noexcept;
// Anonymous resident memory (RssAnon in /proc/self/status): RSS without file-backed pages such
// as a mapped blob's page cache, which the kernel can drop at any time.
[[nodiscard]] std::size_t rss_anon_bytes() noexcept;

// Bytes this process caused to be written to storage so far (/proc/self/io write_bytes).
[[nodiscard]] std::uint64_t storage_write_bytes() noexcept;

// Raises the soft open-file limit to the hard limit; returns the new soft limit.
std::size_t raise_open_file_limit() noexcept;

// p in [0, 1] of unsorted samples (sorted in place); 0 if empty.
[[nodiscard]] double percentile(std::vector<std::int64_t>& samples, double p);

// Client threads, one io_context each, and the client TLS context (TLS 1.3 only, accepts only
// the certificate whose SPKI SHA-256 equals the pin, as devices do).
class LoadGen {
public:
  LoadGen(unsigned threads, const std::array<std::uint8_t, 32>& pin);
  ~LoadGen();  // stops the io_contexts and joins
  LoadGen(const LoadGen&) = delete;
  LoadGen& operator=(const LoadGen&) = delete;

  [[nodiscard]] std::size_t threads() const noexcept { return ios_.size(); }
  [[nodiscard]] boost::asio::io_context& io(std::size_t i) noexcept {
    return *ios_[i % ios_.size()];
  }
  [[nodiscard]] boost::asio::ssl::context& tls() noexcept { return tls_; }
  // CPU seconds used so far by the client threads.
  [[nodiscard]] double cpu_seconds() const noexcept;

private:
  boost::asio::ssl::context tls_;
  std::vector<std::unique_ptr<boost::asio::io_context>> ios_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
};

// --- driver utilities ---

// The idle-connection clients spread over this many loopback source addresses (127.0.0.1..8).
inline constexpr std::size_t source_addresses = 8;
// 127.0.0.(1 + i % source_addresses).
[[nodiscard]] boost::asio::ip::address local_address(std::size_t i);
// 127.0.0.1:port.
[[nodiscard]] boost::asio::ip::tcp::endpoint loopback(std::uint16_t port);

// Polls `done` every millisecond until it holds or `limit` passes (the bench driver has nothing
// to wait on but counters that the load generator threads advance).
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit);
// Runs fn on io's thread and waits for it.
void run_on(boost::asio::io_context& io, const std::function<void()>& fn);
[[nodiscard]] std::vector<std::string> split(const std::string& text, char sep);

// One client connection. Set-up is written as coroutines (connect, write, read); the steady state
// uses completion handlers: start_reading() keeps one read pending and hands every message to the
// callback, send() queues a frame behind the one being written.
class Peer : public std::enable_shared_from_this<Peer> {
public:
  using Stream =
      boost::beast::websocket::stream<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>>;
  using OnMessage = std::function<void(std::string_view)>;

  Peer(boost::asio::io_context& io, boost::asio::ssl::context& tls);

  // TCP from `local` (any port) to `server`, TLS handshake, WebSocket handshake on /v1/ws.
  // Throws boost::system::system_error.
  static boost::asio::awaitable<void> connect(std::shared_ptr<Peer> self,
                                              boost::asio::ip::tcp::endpoint server,
                                              boost::asio::ip::address local);
  static boost::asio::awaitable<void> write(std::shared_ptr<Peer> self, std::string bytes);
  static boost::asio::awaitable<std::string> read(std::shared_ptr<Peer> self);

  // Keeps one read pending from now on and hands every message to on_message. Called again, it
  // only replaces the callback (never from inside the callback itself).
  void start_reading(OnMessage on_message);
  void send(std::string frame);
  // Closes the socket (no closing handshake); pending operations end with errors and the
  // on_message callback is not called again. On the peer's io thread.
  void abort();

  [[nodiscard]] boost::asio::io_context& io() noexcept { return io_; }
  [[nodiscard]] bool failed() const noexcept { return failed_; }
  [[nodiscard]] std::size_t queued_frames() const noexcept { return out_.size(); }
  // Bytes the receive buffer holds on to (it grows to the largest message and stays).
  [[nodiscard]] std::size_t read_buffer_capacity() const noexcept { return buffer_.capacity(); }

private:
  void read_next();
  void write_next();

  boost::asio::io_context& io_;
  Stream ws_;
  boost::beast::flat_buffer buffer_;
  std::deque<std::string> out_;
  bool writing_ = false;
  bool reading_ = false;
  bool failed_ = false;
  OnMessage on_message_;
};

}  // namespace lotse::bench
