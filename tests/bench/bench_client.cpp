// SPDX-License-Identifier: AGPL-3.0-or-later
// bench_client: the Client API end to end, two warm Clients in one process against the relay in
// process over TLS on loopback (real profiles on disk, synchronous=FULL, default Argon2 is not
// involved after open). Baselines in the same run: the ratchet alone (SessionCipher with
// in-memory stores, encrypt + decrypt) and the relay alone (raw Send frames between two bare
// relay connections, nothing encrypted, nothing stored on the client side).
//
//   client.latency: send_text called -> the other Client's message_received event (and, as
//                   asked, send_text returned -> message_received, which can be below zero: the
//                   relay routes the envelope while it answers the Send).
//   client.throughput: a sender loop of send_text for ~5 s, the receiver counting events.
//   client.files: send_file of a --file-mib MiB file (default 256) and the other Client's
//                 get_file of it, beside FileEncryptor/FileDecryptor on the same bytes in memory.
#include "bench_file_crypto.hpp"
#include "bench_support.hpp"

#include "client/client.hpp"

#include "crypto/hash.hpp"
#include "crypto/key_wrap.hpp"
#include "crypto/rng.hpp"
#include "net/relay_connection.hpp"
#include "net/server.hpp"
#include "net/tls.hpp"
#include "relay/log.hpp"
#include "relay/relay.hpp"
#include "store/executor.hpp"
#include "store/relay_store.hpp"
#include "support/party.hpp"
#include "support/test_device.hpp"
#include "wire/invite_link.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace lotse {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int latency_runs = 100;
constexpr auto throughput_time = 5s;
constexpr auto wait_limit = 30s;
constexpr std::string_view passphrase = "bench passphrase";

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "bench_client: %s\n", what.c_str());
  std::exit(1);
}

template <class T>
T must(client::Result<T> r, const char* what) {
  if (!r) {
    fail(std::string(what) + ": " + r.error().message());
  }
  return std::move(*r);
}

void must(client::Result<void> r, const char* what) {
  if (!r) {
    fail(std::string(what) + ": " + r.error().message());
  }
}

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// Median and 90th percentile of samples (sorted in place).
std::pair<double, double> median_p90(std::vector<double>& v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 9 / 10)]};
}

class TempDir {
public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "lotse-bench-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      fail("mkdtemp failed");
    }
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

// --- the relay in process -----------------------------------------------------------------------

class Forward final : public relay::FrameHandlerFactory {
public:
  [[nodiscard]] std::unique_ptr<relay::FrameHandler> accept(
      std::shared_ptr<relay::Connection> connection, const relay::ConnectionInfo& info) override {
    return target != nullptr ? target->accept(std::move(connection), info) : nullptr;
  }
  relay::FrameHandlerFactory* target = nullptr;
};

class BenchRelay {
public:
  BenchRelay()
      : certificate_(net::ensure_self_signed_certificate(dir_.path() / "tls")),
        pin_(net::certificate_pin(certificate_.certificate)),
        store_(dir_.path() / "relay.db", false) {
    relay::log::set_min_level(relay::log::Level::error);
    net::ServerOptions options;
    options.listen_host = "127.0.0.1";
    options.threads = 1;
    options.cert_file = certificate_.certificate;
    options.key_file = certificate_.private_key;
    server_ = std::make_unique<net::Server>(std::move(options), forward_);
    executor_ = std::make_unique<store::Executor>(store_, store::Executor::Options{});
    relay::Limits limits;  // the benchmark measures speed, not the rate limits
    limits.messages_per_second = 1e9;
    limits.message_burst = 1e9;
    limits.requests_per_second = 1e9;
    limits.request_burst = 1e9;
    limits.max_file_bytes = std::uint64_t{4} << 30;
    limits.blob_quota_per_account = std::uint64_t{16} << 30;
    limits.blob_storage_total = std::uint64_t{16} << 30;
    limits.transfer_bytes_per_second = 1e15;
    limits.transfer_burst_bytes = 1e15;
    relay_ = std::make_unique<relay::Relay>(
        *executor_, relay::RelayIdentity{"127.0.0.1", server_->port(), pin_}, limits, clock_);
    forward_.target = relay_.get();
    thread_ = std::thread([server = server_.get()] { server->run(); });
  }
  ~BenchRelay() {
    server_->stop([relay = relay_.get()] { relay->shutdown(); });
    thread_.join();
    forward_.target = nullptr;
    server_.reset();
    executor_->stop();
    relay_.reset();
    executor_.reset();
  }
  BenchRelay(const BenchRelay&) = delete;
  BenchRelay& operator=(const BenchRelay&) = delete;

  [[nodiscard]] net_client::RelayEndpoint endpoint() const {
    return {"127.0.0.1", server_->port(), pin_};
  }

  // A one-use operator invite: the line and its token.
  [[nodiscard]] wire::InviteLink invite(store::Role role) {
    std::array<std::uint8_t, 32> bytes{};
    crypto::system_rng().fill(bytes);
    wire::InviteLink link;
    link.host = "127.0.0.1";
    link.port = server_->port();
    link.token = wire::base64url(bytes.data(), bytes.size());
    link.pin = pin_;
    link.role = role == store::Role::staff ? "staff" : "client";
    const auto hash = crypto::blake2b(crypto::as_bytes(link.token));
    const auto now = clock_.now_ms();
    if (!executor_->submit<bool>(
            [&](store::RelayStore& s) {
              s.create_invite(hash, role, std::nullopt, 1, now + 3'600'000, now);
              return true;
            },
            [](std::optional<bool>) {})) {
      fail("the relay's executor refused the invite");
    }
    executor_->flush();
    return link;
  }

private:
  TempDir dir_;
  net::CertificateFiles certificate_;
  net::CertificatePin pin_;
  relay::SystemClock clock_;
  store::RelayStore store_;
  Forward forward_;
  std::unique_ptr<net::Server> server_;
  std::unique_ptr<store::Executor> executor_;
  std::unique_ptr<relay::Relay> relay_;
  std::thread thread_;
};

// --- Client API ---------------------------------------------------------------------------------

// Arrival times of message_received events by message id, and their count.
class Arrivals {
public:
  void on_event(const client::Event& e) {
    if (e.kind != client::Event::Kind::message_received) {
      return;
    }
    const auto now = Clock::now();
    {
      const std::lock_guard lock(mutex_);
      at_[e.message.id] = now;
      ++count_;
      last_ = now;
    }
    cv_.notify_all();
  }
  [[nodiscard]] Clock::time_point wait_for_id(const std::string& id) {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, wait_limit, [&] { return at_.contains(id); })) {
      fail("a message did not arrive in time");
    }
    return at_[id];
  }
  [[nodiscard]] Clock::time_point wait_for_count(std::size_t n) {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, 120s, [&] { return count_ >= n; })) {
      fail("the messages did not all arrive in time");
    }
    return last_;
  }
  [[nodiscard]] std::size_t count() {
    const std::lock_guard lock(mutex_);
    return count_;
  }

private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::string, Clock::time_point> at_;
  std::size_t count_ = 0;
  Clock::time_point last_;
};

client::Options client_options() {
  client::Options o;
  o.client_name = "lotse-bench";
  o.argon2 = crypto::Argon2Params::minimum();  // only profile creation and open pay for it
  return o;
}

// Handles are unique on a relay; every pair of a run gets its own counsellor.
std::string next_staff_handle() {
  static int pairs = 0;
  return "bench-staff-" + std::to_string(++pairs);
}

// A counsellor and the client they invited, both online, with fresh profiles.
struct ClientPair {
  explicit ClientPair(BenchRelay& relay) {
    staff =
        must(client::Client::create(staff_dir.path(), relay.invite(store::Role::staff).to_string(),
                                    next_staff_handle(), passphrase, client_options()),
             "create staff");
    const auto invite = must(staff->create_client_invite(), "create_client_invite");
    staff->disconnect();
    user = must(client::Client::create(client_dir.path(), invite, "Bench Client", passphrase,
                                       client_options()),
                "create client");
    must(staff->connect(), "connect staff");
    must(staff->wait_drained(wait_limit), "staff wait_drained");
    user_id = must(user->whoami(), "whoami").account_id;
    staff_id = must(staff->whoami(), "whoami").account_id;
  }
  ~ClientPair() {
    user->disconnect();
    staff->disconnect();
  }
  ClientPair(const ClientPair&) = delete;
  ClientPair& operator=(const ClientPair&) = delete;

  TempDir staff_dir;
  TempDir client_dir;
  std::unique_ptr<client::Client> staff;
  std::unique_ptr<client::Client> user;
  std::string user_id;
  std::string staff_id;
};

struct ClientResults {
  double latency_median_ms = 0;
  double per_message_s = 0;
};

ClientResults bench_client_api(BenchRelay& relay) {
  ClientPair pair(relay);
  auto& staff = pair.staff;
  auto& user = pair.user;
  const auto& user_id = pair.user_id;
  const auto& staff_id = pair.staff_id;

  Arrivals at_user;
  Arrivals at_staff;
  user->set_event_handler([&](const client::Event& e) { at_user.on_event(e); });
  staff->set_event_handler([&](const client::Event& e) { at_staff.on_event(e); });

  const std::string text = "How are you getting on this week? Shall we talk on Thursday?";
  // Warm: sessions both ways, caches, the TLS connections.
  for (int i = 0; i < 10; ++i) {
    (void)at_user.wait_for_id(must(staff->send_text(user_id, text), "warm send").id);
    (void)at_staff.wait_for_id(must(user->send_text(staff_id, text), "warm reply").id);
  }

  // (a) latency, one message at a time.
  std::vector<double> call_to_received;
  std::vector<double> return_to_received;
  std::vector<double> send_call;
  for (int i = 0; i < latency_runs; ++i) {
    const auto t0 = Clock::now();
    const auto sent = must(staff->send_text(user_id, text), "send_text");
    const auto t1 = Clock::now();
    const auto t2 = at_user.wait_for_id(sent.id);
    call_to_received.push_back(ms(t2 - t0));
    return_to_received.push_back(ms(t2 - t1));
    send_call.push_back(ms(t1 - t0));
  }
  const auto [e2e_median, e2e_p90] = median_p90(call_to_received);
  const auto [ret_median, ret_p90] = median_p90(return_to_received);
  const auto [call_median, call_p90] = median_p90(send_call);
  bench::emit("client.latency", "send_called_to_received_median", e2e_median, "ms");
  bench::emit("client.latency", "send_called_to_received_p90", e2e_p90, "ms");
  bench::emit("client.latency", "send_returned_to_received_median", ret_median, "ms");
  bench::emit("client.latency", "send_returned_to_received_p90", ret_p90, "ms");
  bench::emit("client.latency", "send_text_call_median", call_median, "ms");
  bench::emit("client.latency", "send_text_call_p90", call_p90, "ms");

  // (b) throughput: the sender's loop of send_text; the receiver counts.
  const auto before = at_user.count();
  std::size_t sent = 0;
  const auto start = Clock::now();
  while (Clock::now() - start < throughput_time) {
    (void)must(staff->send_text(user_id, text), "send_text (throughput)");
    ++sent;
  }
  const auto sender_done = Clock::now();
  const auto last = at_user.wait_for_count(before + sent);
  const double seconds = std::chrono::duration<double>(last - start).count();
  const double rate = static_cast<double>(sent) / seconds;
  bench::emit("client.throughput", "messages_per_s", rate, "1/s");
  bench::emit(
      "client.throughput", "sender_loop_messages_per_s",
      static_cast<double>(sent) / std::chrono::duration<double>(sender_done - start).count(),
      "1/s");
  bench::emit("client.throughput", "messages", static_cast<double>(sent), "count");

  return {e2e_median, 1.0 / rate};
}

// --- baseline: the ratchet alone --------------------------------------------------------------

double bench_ratchet(std::size_t plaintext_bytes) {
  test::Party alice("alice", 11);
  test::Party bob("bob", 12);
  if (!alice.cipher.start_session(bob.address, bob.bundle())) {
    fail("start_session");
  }
  const crypto::Bytes plaintext(plaintext_bytes, 'x');
  // Set up both directions, so that the measured messages are plain chain steps.
  auto first = alice.cipher.encrypt(bob.address, plaintext);
  if (!first || !bob.cipher.decrypt(alice.address, *first)) {
    fail("first message");
  }
  auto back = bob.cipher.encrypt(alice.address, plaintext);
  if (!back || !alice.cipher.decrypt(bob.address, *back)) {
    fail("reply");
  }
  const double per_message = bench::seconds_per_call([&] {
    auto bytes = alice.cipher.encrypt(bob.address, plaintext);
    auto plain = bob.cipher.decrypt(alice.address, *bytes);
    bench::keep(plain);
  });
  bench::emit("ratchet.baseline", "session_cipher_encrypt_decrypt", per_message * 1e6, "us");
  return per_message;
}

// --- baseline: one durable write -----------------------------------------------------------

// A profile commit is durable (synchronous=FULL): each costs at least one fdatasync of the WAL.
// 4 KiB appended and synced, as a commit does, in the directory the profiles live in.
double bench_fdatasync() {
  TempDir dir;
  const auto path = dir.path() / "sync";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    fail("open for the fdatasync baseline");
  }
  const std::vector<char> page(4096, 'p');
  std::vector<double> samples;
  for (int i = 0; i < 50; ++i) {
    const auto t0 = Clock::now();
    if (::write(fd, page.data(), page.size()) != static_cast<ssize_t>(page.size()) ||
        ::fdatasync(fd) != 0) {
      ::close(fd);
      fail("write/fdatasync for the baseline");
    }
    samples.push_back(ms(Clock::now() - t0));
  }
  ::close(fd);
  const auto [median, p90] = median_p90(samples);
  bench::emit("disk.baseline", "append_4k_fdatasync_median", median, "ms");
  bench::emit("disk.baseline", "append_4k_fdatasync_p90", p90, "ms");
  return median;
}

// --- baseline: the relay alone, raw frames ------------------------------------------------------

// A bare relay connection for a TestDevice: registers with `token` on the first connect.
class RawParty {
public:
  RawParty(BenchRelay& relay, std::uint64_t seed, std::string token)
      : device_(seed), token_(std::move(token)) {
    net_client::Handlers h;
    h.authenticate = [this](const v1::Welcome& w) {
      const std::lock_guard lock(mutex_);
      return device_.account_id.empty()
                 ? device_.register_frame(0, token_, w.challenge(), w.certificate_pin())
                 : device_.login_frame(0, w.challenge(), w.certificate_pin());
    };
    h.on_auth_answer = [this](const v1::ServerFrame& f) {
      const std::lock_guard lock(mutex_);
      if (f.has_registered()) {
        device_.account_id = f.registered().account_id();
        device_.device_id = f.registered().device_id();
      }
    };
    h.on_push = [this](const v1::ServerFrame& f) { on_push(f); };
    connection_ = std::make_unique<net_client::RelayConnection>(relay.endpoint(), std::move(h));
    auto answer = connection_->connect();
    if (!answer || !answer->has_registered()) {
      fail("raw registration failed");
    }
  }

  [[nodiscard]] net_client::RelayConnection& connection() { return *connection_; }
  [[nodiscard]] std::string account_id() {
    const std::lock_guard lock(mutex_);
    return device_.account_id;
  }

  [[nodiscard]] Clock::time_point wait_for(const std::string& message_id) {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, wait_limit, [&] { return at_.contains(message_id); })) {
      fail("a raw delivery did not arrive in time");
    }
    return at_[message_id];
  }
  [[nodiscard]] Clock::time_point wait_for_count(std::size_t n) {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, 120s, [&] { return count_ >= n; })) {
      fail("raw deliveries did not all arrive in time");
    }
    return last_;
  }
  [[nodiscard]] std::size_t count() {
    const std::lock_guard lock(mutex_);
    return count_;
  }

private:
  // As a client would: note the arrival, then acknowledge (without storing anything).
  void on_push(const v1::ServerFrame& f) {
    if (!f.has_deliveries()) {
      return;
    }
    const auto now = Clock::now();
    v1::ClientFrame ack;
    {
      const std::lock_guard lock(mutex_);
      for (const auto& d : f.deliveries().deliveries()) {
        at_[d.client_message_id()] = now;
        ++count_;
        last_ = now;
        ack.mutable_ack()->add_envelope_ids(d.envelope_id());
      }
    }
    cv_.notify_all();
    connection_->async_call(std::move(ack), 10s, [](const net_client::Result<v1::ServerFrame>&) {});
  }

  test::TestDevice device_;
  std::string token_;
  std::unique_ptr<net_client::RelayConnection> connection_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::string, Clock::time_point> at_;
  std::size_t count_ = 0;
  Clock::time_point last_;
};

struct RawResults {
  double latency_median_ms = 0;
  double per_message_s = 0;
};

RawResults bench_raw_relay(BenchRelay& relay, std::size_t ciphertext_bytes) {
  RawParty staff(relay, 101, relay.invite(store::Role::staff).token);
  v1::ClientFrame create;
  create.mutable_create_invite()->set_role(v1::CLIENT);
  create.mutable_create_invite()->set_uses(1);
  create.mutable_create_invite()->set_expires_in_seconds(3600);
  auto created = staff.connection().call(std::move(create), 10s);
  if (!created || !created->has_invite_created()) {
    fail("raw CreateInvite failed");
  }
  const auto link = wire::InviteLink::parse(created->invite_created().invite());
  if (!link) {
    fail("raw invite line");
  }
  RawParty user(relay, 102, link->token);
  const auto to = user.account_id();
  const std::string ciphertext(ciphertext_bytes, 'c');
  std::uint64_t next = 1;
  const auto send = [&] {
    v1::ClientFrame f;
    const auto id = test::message_id(next++);
    f.mutable_send()->set_client_message_id(id);
    auto* e = f.mutable_send()->add_envelopes();
    e->set_recipient_account_id(to);
    e->set_recipient_device_id(1);
    e->set_ciphertext(ciphertext);
    auto answer = staff.connection().call(std::move(f), 10s);
    if (!answer || !answer->has_sent()) {
      fail("raw Send failed");
    }
    return id;
  };
  for (int i = 0; i < 10; ++i) {
    (void)user.wait_for(send());
  }
  std::vector<double> latency;
  for (int i = 0; i < latency_runs; ++i) {
    const auto t0 = Clock::now();
    const auto id = send();
    latency.push_back(ms(user.wait_for(id) - t0));
  }
  const auto [median, p90] = median_p90(latency);
  bench::emit("relay.baseline", "raw_send_to_delivered_median", median, "ms");
  bench::emit("relay.baseline", "raw_send_to_delivered_p90", p90, "ms");

  const auto before = user.count();
  std::size_t sent = 0;
  const auto start = Clock::now();
  while (Clock::now() - start < 2s) {
    (void)send();
    ++sent;
  }
  const auto last = user.wait_for_count(before + sent);
  const double rate =
      static_cast<double>(sent) / std::chrono::duration<double>(last - start).count();
  bench::emit("relay.baseline", "raw_sequential_sends_per_s", rate, "1/s");
  return {median, 1.0 / rate};
}

// --- files end to end ----------------------------------------------------------------------------

// Client::send_file of a file on disk (read, encrypted, uploaded, message sent) and the other
// Client's get_file of it (downloaded, decrypted, digest checked, written, fsync'd, renamed),
// in GB/s of plaintext, beside FileEncryptor/FileDecryptor alone on the same bytes (the client's
// crypto floor: one core, in memory) and the relay's side in bench_relay's files phase.
void bench_client_files(BenchRelay& relay, std::size_t mib) {
  ClientPair pair(relay);
  Arrivals at_user;
  pair.user->set_event_handler([&](const client::Event& e) { at_user.on_event(e); });
  TempDir files;
  const auto source = files.path() / "report.bin";
  {
    const int fd = ::open(source.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    std::vector<std::uint8_t> block(1024 * 1024);
    crypto::system_rng().fill(block);
    for (std::size_t i = 0; i < mib; ++i) {
      if (fd < 0 || ::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) {
        fail("writing the bench file");
      }
    }
    ::fsync(fd);
    ::close(fd);
  }
  const double gb = static_cast<double>(mib) * 1024 * 1024 / 1e9;
  const auto t0 = Clock::now();
  const auto sent = must(pair.staff->send_file(pair.user_id, source, "bench"), "send_file");
  const double up_s = std::chrono::duration<double>(Clock::now() - t0).count();
  (void)at_user.wait_for_id(sent.id);
  const auto t1 = Clock::now();
  const auto written = must(pair.user->get_file(sent.id, files.path() / "copy.bin"), "get_file");
  const double down_s = std::chrono::duration<double>(Clock::now() - t1).count();
  if (std::filesystem::file_size(written) != std::filesystem::file_size(source)) {
    fail("get_file wrote a different size");
  }
  const std::string size = std::to_string(mib) + "MiB";
  bench::emit("client.files", "send_file_" + size + "_gbps", gb / up_s,
              "GB/s of plaintext (read, encrypt, upload, message)");
  bench::emit("client.files", "get_file_" + size + "_gbps", gb / down_s,
              "GB/s of plaintext (download, decrypt, verify, write, fsync, rename)");

  // The client's crypto alone on the same amount, in memory.
  const auto floor = bench::file_crypto(mib);
  const double enc_s = gb / floor.encrypt_gb_per_s;
  const double dec_s = gb / floor.decrypt_gb_per_s;
  bench::emit("client.files", "file_encrypt_gbps", gb / enc_s,
              "GB/s (FileEncryptor in memory, one core: the floor for send_file)");
  bench::emit("client.files", "file_decrypt_gbps", gb / dec_s,
              "GB/s (FileDecryptor in memory, one core: the floor for get_file)");
  bench::emit("client.files", "send_file_ratio_to_encrypt", enc_s / up_s, "x");
  bench::emit("client.files", "get_file_ratio_to_decrypt", dec_s / down_s, "x");
}

}  // namespace
}  // namespace lotse

int main(int argc, char** argv) {
  using namespace lotse;
  // bench_client [--file-mib N]: the size of the end-to-end file (default 256 MiB).
  std::size_t file_mib = 256;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--file-mib") {
      file_mib = std::stoul(argv[i + 1]);
    }
  }
  BenchRelay relay;
  // Content of the benchmark text (~60 bytes) in a lotse.v1.Content, padded by the ratchet: the
  // same order of bytes on the wire as the Client's messages.
  const double ratchet = bench_ratchet(96);
  const double fdatasync_ms = bench_fdatasync();
  const auto raw = bench_raw_relay(relay, 200);
  const auto api = bench_client_api(relay);
  bench::emit("client.ratio", "latency_to_raw_relay", api.latency_median_ms / raw.latency_median_ms,
              "x");
  bench::emit("client.ratio", "per_message_to_raw_relay", api.per_message_s / raw.per_message_s,
              "x");
  bench::emit("client.ratio", "per_message_to_ratchet", api.per_message_s / ratchet, "x");
  // How many durable writes' worth of time one message costs, end to end (both sides).
  bench::emit("client.ratio", "per_message_to_fdatasync", api.per_message_s * 1e3 / fdatasync_ms,
              "x");
  bench_client_files(relay, file_mib);
  return 0;
}
