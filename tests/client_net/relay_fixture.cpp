// SPDX-License-Identifier: AGPL-3.0-or-later
#include "client_net/relay_fixture.hpp"

#include "crypto/hash.hpp"
#include "relay/log.hpp"
#include "wire/invite_link.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace lotse::test {

// --- Watchdog -----------------------------------------------------------------------------------

Watchdog::Watchdog(std::chrono::milliseconds limit)
    : thread_([this, limit] {
        std::unique_lock lock(mutex_);
        if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
          std::fprintf(stderr, "client net test: watchdog: a test case hung for %lld ms\n",
                       static_cast<long long>(limit.count()));
          std::abort();
        }
      }) {}

Watchdog::~Watchdog() {
  {
    const std::lock_guard lock(mutex_);
    done_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

// --- GateFactory --------------------------------------------------------------------------------

namespace {

class GateHandler final : public relay::FrameHandler {
public:
  GateHandler(GateFactory& gate, std::unique_ptr<relay::FrameHandler> inner)
      : gate_(gate), inner_(std::move(inner)) {}

  void on_frame(std::span<const std::uint8_t> frame) override {
    const bool hold = gate_.hold.load();
    gate_.events.update([&] {
      ++gate_.frames;
      gate_.held += hold ? 1 : 0;
    });
    if (!hold) {
      inner_->on_frame(frame);
    }
  }
  void on_closed() override { inner_->on_closed(); }

private:
  GateFactory& gate_;
  std::unique_ptr<relay::FrameHandler> inner_;
};

}  // namespace

std::unique_ptr<relay::FrameHandler> GateFactory::accept(
    std::shared_ptr<relay::Connection> connection, const relay::ConnectionInfo& info) {
  if (target == nullptr) {
    return nullptr;
  }
  auto inner = target->accept(std::move(connection), info);
  if (!inner) {
    return nullptr;
  }
  events.update([&] { ++accepted; });
  return std::make_unique<GateHandler>(*this, std::move(inner));
}

// --- TestRelay ----------------------------------------------------------------------------------

TestRelay::TestRelay()
    : certificate_(net::ensure_self_signed_certificate(dir_.path() / "tls")),
      pin_(net::certificate_pin(certificate_.certificate)) {
  relay::log::set_min_level(relay::log::Level::error);
  start();
}

TestRelay::~TestRelay() {
  stop();
}

void TestRelay::start() {
  if (server_) {
    return;
  }
  store_ = std::make_unique<store::RelayStore>(dir_.path() / "relay.db", false);
  net::ServerOptions options;
  options.listen_host = "127.0.0.1";
  options.listen_port = port_;  // 0 the first time, then the same port again
  options.threads = 1;
  options.cert_file = certificate_.certificate;
  options.key_file = certificate_.private_key;
  server_ = std::make_unique<net::Server>(std::move(options), gate);
  port_ = server_->port();
  executor_ = std::make_unique<store::Executor>(*store_, store::Executor::Options{});
  relay_ = std::make_unique<relay::Relay>(
      *executor_, relay::RelayIdentity{"127.0.0.1", port_, pin_}, relay::Limits{}, clock_);
  gate.target = relay_.get();
  thread_ = std::thread([server = server_.get()] { server->run(); });
}

void TestRelay::stop() {
  if (!server_) {
    return;
  }
  server_->stop();
  thread_.join();  // run() returns once every session is gone (bounded by the server's timeouts)
  gate.target = nullptr;
  server_.reset();
  executor_->stop();  // completions may still reach the relay: stop them before it goes
  relay_.reset();
  executor_.reset();
  store_.reset();
}

net_client::RelayEndpoint TestRelay::endpoint() const {
  return net_client::RelayEndpoint{"127.0.0.1", port_, pin_};
}

std::string TestRelay::invite(store::Role role) {
  if (!executor_) {
    throw std::logic_error("TestRelay::invite needs a running relay");
  }
  std::array<std::uint8_t, 32> bytes{};
  crypto::system_rng().fill(bytes);
  auto token = wire::base64url(bytes.data(), bytes.size());
  const auto hash = crypto::blake2b(crypto::as_bytes(token));
  const auto now = clock_.now_ms();
  const bool submitted = executor_->submit<bool>(
      [&](store::RelayStore& s) {
        s.create_invite(hash, role, std::nullopt, 1, now + 3'600'000, now);
        return true;
      },
      [](std::optional<bool>) {});
  if (!submitted) {
    throw std::runtime_error("the executor refused the invite job");
  }
  executor_->flush();
  return token;
}

// --- TestAccount --------------------------------------------------------------------------------

TestAccount::TestAccount(std::uint64_t seed, std::string invite_token)
    : device_(seed), token_(std::move(invite_token)) {}

v1::ClientFrame TestAccount::authenticate(const v1::Welcome& welcome) {
  const std::lock_guard lock(mutex_);
  ++authentications_;
  if (device_.account_id.empty()) {
    return device_.register_frame(0, token_, welcome.challenge(), welcome.certificate_pin());
  }
  return device_.login_frame(0, welcome.challenge(), welcome.certificate_pin());
}

void TestAccount::on_auth_answer(const v1::ServerFrame& answer) {
  const std::lock_guard lock(mutex_);
  answers_.push_back(answer);
  if (answer.has_registered()) {
    device_.account_id = answer.registered().account_id();
    device_.device_id = answer.registered().device_id();
  }
}

std::string TestAccount::account_id() const {
  const std::lock_guard lock(mutex_);
  return device_.account_id;
}

int TestAccount::authentications() const {
  const std::lock_guard lock(mutex_);
  return authentications_;
}

std::vector<v1::ServerFrame> TestAccount::answers() const {
  const std::lock_guard lock(mutex_);
  return answers_;
}

// --- Recorder -----------------------------------------------------------------------------------

std::vector<net_client::StateChange> Recorder::states() {
  return events_.read([&] { return states_; });
}

std::vector<v1::ServerFrame> Recorder::pushes() {
  return events_.read([&] { return pushes_; });
}

bool Recorder::wait_state(const std::function<bool(const net_client::StateChange&)>& predicate,
                          std::chrono::milliseconds limit) {
  return events_.wait_for([&] { return std::any_of(states_.begin(), states_.end(), predicate); },
                          limit);
}

bool Recorder::wait_state(net_client::ConnectionState state, std::chrono::milliseconds limit) {
  return wait_state([state](const net_client::StateChange& c) { return c.state == state; }, limit);
}

bool Recorder::wait_count(net_client::ConnectionState state, std::size_t n,
                          std::chrono::milliseconds limit) {
  return events_.wait_for(
      [&] {
        return static_cast<std::size_t>(
                   std::count_if(states_.begin(), states_.end(),
                                 [state](const auto& c) { return c.state == state; })) >= n;
      },
      limit);
}

std::size_t Recorder::count(net_client::ConnectionState state) {
  return events_.read([&] {
    return static_cast<std::size_t>(std::count_if(
        states_.begin(), states_.end(), [state](const auto& c) { return c.state == state; }));
  });
}

bool Recorder::wait_pushes(const std::function<bool(const std::vector<v1::ServerFrame>&)>& done,
                           std::chrono::milliseconds limit) {
  return events_.wait_for([&] { return done(pushes_); }, limit);
}

void Recorder::on_state(const net_client::StateChange& change) {
  events_.update([&] { states_.push_back(change); });
}

void Recorder::on_push(const v1::ServerFrame& frame) {
  events_.update([&] { pushes_.push_back(frame); });
}

// --- helpers ------------------------------------------------------------------------------------

net_client::Handlers handlers_for(TestAccount& account, Recorder& recorder) {
  net_client::Handlers handlers;
  handlers.authenticate = [&account](const v1::Welcome& w) { return account.authenticate(w); };
  handlers.on_auth_answer = [&account](const v1::ServerFrame& f) { account.on_auth_answer(f); };
  handlers.on_state = [&recorder](const net_client::StateChange& c) { recorder.on_state(c); };
  handlers.on_push = [&recorder](const v1::ServerFrame& f) { recorder.on_push(f); };
  return handlers;
}

net_client::Options test_options() {
  net_client::Options options;
  options.client_name = "lotse-client-net-test";
  options.connect_timeout = 5s;
  options.handshake_timeout = 5s;
  options.min_backoff = 20ms;
  options.max_backoff = 200ms;
  options.random = [] { return 0.5; };
  return options;
}

v1::ClientFrame ping_frame() {
  v1::ClientFrame f;
  f.mutable_ping();
  return f;
}

v1::ClientFrame fetch_bundles_frame(const std::string& account_id) {
  v1::ClientFrame f;
  f.mutable_fetch_bundles()->set_account_id(account_id);
  return f;
}

v1::ClientFrame send_frame(const std::string& to, const std::string& ciphertext,
                           std::uint64_t message_number) {
  v1::ClientFrame f;
  f.mutable_send()->set_client_message_id(message_id(message_number));
  auto* e = f.mutable_send()->add_envelopes();
  e->set_recipient_account_id(to);
  e->set_recipient_device_id(1);
  e->set_ciphertext(ciphertext);
  return f;
}

RawSocket::RawSocket(bool listen) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    throw std::runtime_error("socket() failed");
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(0x7f000001U);  // 127.0.0.1
  address.sin_port = 0;
  socklen_t size = sizeof address;
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&address), size) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) != 0 ||
      (listen && ::listen(fd_, 16) != 0)) {
    ::close(fd_);
    throw std::runtime_error("could not bind a loopback socket");
  }
  port_ = ntohs(address.sin_port);
}

RawSocket::~RawSocket() {
  ::close(fd_);
}

void register_account(TestRelay& relay, TestAccount& account) {
  Recorder recorder;
  net_client::RelayConnection connection(relay.endpoint(), handlers_for(account, recorder),
                                         test_options());
  const auto answer = connection.connect();
  REQUIRE(answer.has_value());
  REQUIRE(answer->has_registered());
}

std::vector<std::string> delivered(const std::vector<v1::ServerFrame>& pushes) {
  std::vector<std::string> out;
  for (const auto& p : pushes) {
    if (p.has_deliveries()) {
      for (const auto& d : p.deliveries().deliveries()) {
        out.push_back(d.ciphertext());
      }
    }
  }
  return out;
}

}  // namespace lotse::test
