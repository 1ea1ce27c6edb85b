// SPDX-License-Identifier: AGPL-3.0-or-later
#include "bench_relay_loadgen.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/ssl/verify_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <malloc.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <limits>

namespace lotse::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

double seconds_of(clockid_t clock) noexcept {
  timespec ts{};
  if (::clock_gettime(clock, &ts) != 0) {
    return 0;
  }
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

bool leaf_matches(X509_STORE_CTX* store, const std::array<std::uint8_t, 32>& pin) {
  X509* leaf = X509_STORE_CTX_get_current_cert(store);
  if (leaf == nullptr) {
    return false;
  }
  unsigned char* der = nullptr;
  const int size = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(leaf), &der);
  if (size <= 0) {
    return false;
  }
  std::array<std::uint8_t, 32> hash{};
  unsigned int out = 0;
  const int ok =
      EVP_Digest(der, static_cast<std::size_t>(size), hash.data(), &out, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  return ok == 1 && hash == pin;
}

}  // namespace

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double thread_cpu_seconds(pthread_t thread) noexcept {
  clockid_t clock{};
  if (::pthread_getcpuclockid(thread, &clock) != 0) {
    return 0;
  }
  return seconds_of(clock);
}

double process_cpu_seconds() noexcept {
  return seconds_of(CLOCK_PROCESS_CPUTIME_ID);
}
double this_thread_cpu_seconds() noexcept {
  return seconds_of(CLOCK_THREAD_CPUTIME_ID);
}

std::vector<int> thread_ids() {
  std::vector<int> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
    out.push_back(std::stoi(entry.path().filename().string()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

// /proc/self/task/TID/schedstat: time on the CPU, time waiting on a run queue (ns), timeslices.
std::pair<std::uint64_t, std::uint64_t> schedstat(int tid) noexcept {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/schedstat");
  std::uint64_t running = 0;
  std::uint64_t waiting = 0;
  in >> running >> waiting;
  return {running, waiting};
}

}  // namespace

double task_cpu_seconds(int tid) noexcept {
  return static_cast<double>(schedstat(tid).first) * 1e-9;
}

double task_wait_seconds(int tid) noexcept {
  return static_cast<double>(schedstat(tid).second) * 1e-9;
}

ThreadGroup ThreadGroup::started_since(const std::vector<int>& before) {
  ThreadGroup group;
  for (const int tid : thread_ids()) {
    if (!std::binary_search(before.begin(), before.end(), tid)) {
      group.tids.push_back(tid);
    }
  }
  return group;
}

void ThreadGroup::name(const std::string& prefix) const {
  for (std::size_t i = 0; i < tids.size(); ++i) {
    std::ofstream comm("/proc/self/task/" + std::to_string(tids[i]) + "/comm");
    comm << (prefix + "-" + std::to_string(i)).substr(0, 15);
  }
}

std::size_t heap_in_use_bytes() noexcept {
  const struct mallinfo2 info = ::mallinfo2();
  return info.uordblks + info.hblkhd;
}

std::size_t rss_bytes() noexcept {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0;
  std::size_t resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

std::size_t rss_anon_bytes() noexcept {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "RssAnon:") {
      std::size_t kib = 0;
      status >> kib;
      return kib * 1024;
    }
    status.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 0;
}

std::uint64_t storage_write_bytes() noexcept {
  std::ifstream io("/proc/self/io");
  std::string key;
  std::uint64_t value = 0;
  while (io >> key >> value) {
    if (key == "write_bytes:") {
      return value;
    }
  }
  return 0;
}

std::size_t raise_open_file_limit() noexcept {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return 0;
  }
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &limit);
    (void)::getrlimit(RLIMIT_NOFILE, &limit);
  }
  return static_cast<std::size_t>(limit.rlim_cur);
}

double percentile(std::vector<std::int64_t>& samples, double p) {
  if (samples.empty()) {
    return 0;
  }
  std::sort(samples.begin(), samples.end());
  // Nearest rank: the smallest sample with at least p of all samples at or below it.
  const double rank = std::ceil(p * static_cast<double>(samples.size()));
  const auto index = static_cast<std::size_t>(std::max(rank, 1.0)) - 1;
  return static_cast<double>(samples[std::min(index, samples.size() - 1)]);
}

// --- driver utilities ---------------------------------------------------------------------------

asio::ip::address local_address(std::size_t i) {
  return asio::ip::make_address_v4(0x7f000001U + static_cast<std::uint32_t>(i % source_addresses));
}

tcp::endpoint loopback(std::uint16_t port) {
  return {asio::ip::make_address("127.0.0.1"), port};
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= end) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

void run_on(asio::io_context& io, const std::function<void()>& fn) {
  std::promise<void> done;
  asio::post(io, [&] {
    fn();
    done.set_value();
  });
  done.get_future().get();
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const auto end = text.find(sep, start);
    out.push_back(text.substr(start, end - start));
    if (end == std::string::npos) {
      return out;
    }
    start = end + 1;
  }
}

// --- LoadGen ------------------------------------------------------------------------------------

LoadGen::LoadGen(unsigned threads, const std::array<std::uint8_t, 32>& pin)
    : tls_(ssl::context::tls_client) {
  SSL_CTX_set_min_proto_version(tls_.native_handle(), TLS1_3_VERSION);
  SSL_CTX_set_session_cache_mode(tls_.native_handle(), SSL_SESS_CACHE_OFF);
  tls_.set_verify_mode(ssl::verify_peer);
  tls_.set_verify_callback([pin](bool /*preverified*/, ssl::verify_context& verify) {
    X509_STORE_CTX* store = verify.native_handle();
    return X509_STORE_CTX_get_error_depth(store) > 0 || leaf_matches(store, pin);
  });
  const unsigned n = std::max(1U, threads);
  for (unsigned i = 0; i < n; ++i) {
    ios_.push_back(std::make_unique<asio::io_context>(1));
    guards_.push_back(asio::make_work_guard(*ios_.back()));
  }
  for (unsigned i = 0; i < n; ++i) {
    threads_.emplace_back([io = ios_[i].get(), i] {
      const std::string name = "loadgen-" + std::to_string(i);
      ::pthread_setname_np(::pthread_self(), name.c_str());
      io->run();
    });
  }
}

LoadGen::~LoadGen() {
  guards_.clear();
  for (auto& io : ios_) {
    io->stop();
  }
  for (auto& thread : threads_) {
    thread.join();
  }
}

double LoadGen::cpu_seconds() const noexcept {
  double total = 0;
  for (const auto& thread : threads_) {
    total += thread_cpu_seconds(const_cast<std::thread&>(thread).native_handle());
  }
  return total;
}

// --- Peer ---------------------------------------------------------------------------------------

Peer::Peer(asio::io_context& io, ssl::context& tls) : io_(io), ws_(io, tls) {
  websocket::permessage_deflate deflate;
  deflate.client_enable = false;
  ws_.set_option(deflate);
  ws_.read_message_max(64 * 1024 * 1024);
  ws_.auto_fragment(false);
  ws_.binary(true);
}

asio::awaitable<void> Peer::connect(std::shared_ptr<Peer> self, tcp::endpoint server,
                                    asio::ip::address local) {
  auto& socket = beast::get_lowest_layer(self->ws_);
  socket.open(server.protocol());
  socket.bind(tcp::endpoint(local, 0));
  co_await socket.async_connect(server, asio::use_awaitable);
  socket.set_option(tcp::no_delay(true));
  auto& tls = self->ws_.next_layer();
  // SSL_set_tlsext_host_name is a macro with a C-style cast; call what it expands to.
  SSL_ctrl(tls.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
           const_cast<char*>("localhost"));
  co_await tls.async_handshake(ssl::stream_base::client, asio::use_awaitable);
  co_await self->ws_.async_handshake("localhost", "/v1/ws", asio::use_awaitable);
}

asio::awaitable<void> Peer::write(std::shared_ptr<Peer> self, std::string bytes) {
  co_await self->ws_.async_write(asio::buffer(bytes), asio::use_awaitable);
}

asio::awaitable<std::string> Peer::read(std::shared_ptr<Peer> self) {
  self->buffer_.clear();
  co_await self->ws_.async_read(self->buffer_, asio::use_awaitable);
  const auto data = self->buffer_.cdata();
  co_return std::string(static_cast<const char*>(data.data()), data.size());
}

void Peer::start_reading(OnMessage on_message) {
  on_message_ = std::move(on_message);
  if (reading_) {
    return;  // the pending read hands its message to the new callback
  }
  reading_ = true;
  buffer_.clear();
  read_next();
}

void Peer::read_next() {
  ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t n) {
    if (ec || self->failed_) {
      self->failed_ = true;
      return;
    }
    const auto data = self->buffer_.cdata();
    self->on_message_(std::string_view(static_cast<const char*>(data.data()), n));
    self->buffer_.consume(self->buffer_.size());
    self->read_next();
  });
}

void Peer::send(std::string frame) {
  if (failed_) {
    return;
  }
  out_.push_back(std::move(frame));
  if (!writing_) {
    write_next();
  }
}

void Peer::write_next() {
  writing_ = true;
  ws_.async_write(asio::buffer(out_.front()),
                  [self = shared_from_this()](beast::error_code ec, std::size_t /*n*/) {
                    self->out_.pop_front();
                    if (ec) {
                      self->failed_ = true;
                      self->out_.clear();
                      self->writing_ = false;
                      return;
                    }
                    if (self->out_.empty()) {
                      self->writing_ = false;
                    } else {
                      self->write_next();
                    }
                  });
}

void Peer::abort() {
  failed_ = true;  // a read that already completed does not reach on_message any more
  boost::system::error_code ec;
  beast::get_lowest_layer(ws_).close(ec);
}

}  // namespace lotse::bench
