// SPDX-License-Identifier: AGPL-3.0-or-later
#include "client/client_fixture.hpp"

#include "crypto/hash.hpp"
#include "crypto/rng.hpp"
#include "crypto/signing.hpp"
#include "lotse/v1/relay.pb.h"
#include "relay/log.hpp"
#include "wire/invite_link.hpp"
#include "wire/login_transcript.hpp"

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

// --- FrameTap -----------------------------------------------------------------------------------

namespace {

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 0x0F]);
  }
  return out;
}

// What a TapHandler and its TapConnection share: whether the next answer to a Send on this
// connection is to be swallowed.
struct TapLink {
  std::atomic<bool> cut_next_sent{false};
};

class TapHandler final : public relay::FrameHandler {
public:
  TapHandler(FrameTap& tap, std::unique_ptr<relay::FrameHandler> inner,
             std::shared_ptr<TapLink> link, std::shared_ptr<relay::Connection> connection)
      : tap_(tap),
        inner_(std::move(inner)),
        link_(std::move(link)),
        connection_(std::move(connection)) {}

  void on_frame(std::span<const std::uint8_t> frame) override {
    v1::ClientFrame parsed;
    const bool ok = parsed.ParseFromArray(frame.data(), static_cast<int>(frame.size()));
    if (ok && parsed.has_send() && tap_.cut_sent_answer.exchange(false)) {
      link_->cut_next_sent = true;
    }
    tap_.forward(frame, *inner_);
    if (ok && parsed.has_upload_chunk() && tap_.cut_after_upload_chunks.load() > 0 &&
        tap_.cut_after_upload_chunks.fetch_sub(1) == 1) {
      connection_->close(relay::CloseReason::going_away);
    }
  }
  void on_closed() override { inner_->on_closed(); }

private:
  FrameTap& tap_;
  std::unique_ptr<relay::FrameHandler> inner_;
  std::shared_ptr<TapLink> link_;
  // The relay keeps only a weak reference to its connection; the network layer keeps the real
  // one alive, and this handler the wrapper.
  std::shared_ptr<relay::Connection> connection_;
};

// The connection as the relay sees it: passes everything on, but can swallow an answer.
class TapConnection final : public relay::Connection {
public:
  TapConnection(FrameTap& tap, std::shared_ptr<relay::Connection> inner,
                std::shared_ptr<TapLink> link)
      : tap_(tap), inner_(std::move(inner)), link_(std::move(link)) {}

  bool send(relay::Frame frame) override {
    v1::ServerFrame parsed;
    if (!parsed.ParseFromString(*frame)) {
      return inner_->send(std::move(frame));
    }
    if (parsed.has_sent() && link_->cut_next_sent.exchange(false)) {
      inner_->close(relay::CloseReason::going_away);
      return true;  // as far as the relay knows, it went out
    }
    if (parsed.has_blob_data()) {
      if (!tap_.on_blob_data(parsed)) {
        inner_->close(relay::CloseReason::going_away);
        return true;
      }
      frame = std::make_shared<const std::string>(parsed.SerializeAsString());
    }
    if (parsed.has_upload_status() && tap_.on_upload_status(parsed)) {
      frame = std::make_shared<const std::string>(parsed.SerializeAsString());
    }
    const bool sent = inner_->send(std::move(frame));
    if (sent) {
      tap_.on_server_frame(parsed);
    }
    return sent;
  }
  void post(std::function<void()> fn) override { inner_->post(std::move(fn)); }
  void close(relay::CloseReason reason) override { inner_->close(reason); }
  [[nodiscard]] std::uint64_t id() const noexcept override { return inner_->id(); }

private:
  FrameTap& tap_;
  std::shared_ptr<relay::Connection> inner_;
  std::shared_ptr<TapLink> link_;
};

}  // namespace

std::unique_ptr<relay::FrameHandler> FrameTap::accept(std::shared_ptr<relay::Connection> connection,
                                                      const relay::ConnectionInfo& info) {
  if (target == nullptr || refuse.load()) {
    return nullptr;
  }
  auto link = std::make_shared<TapLink>();
  auto wrapped = std::make_shared<TapConnection>(*this, std::move(connection), link);
  auto inner = target->accept(wrapped, info);
  if (!inner) {
    return nullptr;
  }
  return std::make_unique<TapHandler>(*this, std::move(inner), std::move(link), std::move(wrapped));
}

void FrameTap::forward(std::span<const std::uint8_t> frame, relay::FrameHandler& inner) {
  v1::ClientFrame parsed;
  const bool ok = parsed.ParseFromArray(frame.data(), static_cast<int>(frame.size()));
  const bool ack = ok && parsed.has_ack();
  const bool drop = ack && drop_acks.load();
  if (!drop) {
    inner.on_frame(frame);  // before counting: a waiter then sees the relay's job submitted
  }
  {
    const std::lock_guard lock(mutex_);
    frames_.emplace_back(reinterpret_cast<const char*>(frame.data()), frame.size());
    sends_ += ok && parsed.has_send() ? 1U : 0U;
    upload_chunks_ += ok && parsed.has_upload_chunk() ? 1U : 0U;
    blob_reads_ += ok && parsed.has_read_blob() ? 1U : 0U;
    get_uploads_ += ok && parsed.has_get_upload() ? 1U : 0U;
    if (ack) {
      for (const auto id : parsed.ack().envelope_ids()) {
        (drop ? dropped_acks_ : acked_).insert(id);
      }
    }
  }
  cv_.notify_all();
}

bool FrameTap::on_blob_data(v1::ServerFrame& frame) {
  if (cut_after_blob_data.load() > 0 && cut_after_blob_data.fetch_sub(1) == 1) {
    return false;
  }
  const std::lock_guard lock(mutex_);
  if (rewrite_blob_data_) {
    rewrite_blob_data_(*frame.mutable_blob_data());
  }
  return true;
}

bool FrameTap::on_upload_status(v1::ServerFrame& frame) {
  const std::lock_guard lock(mutex_);
  if (!rewrite_upload_status_) {
    return false;
  }
  rewrite_upload_status_(*frame.mutable_upload_status());
  return true;
}

void FrameTap::set_upload_status_rewrite(std::function<void(v1::UploadStatus&)> rewrite) {
  const std::lock_guard lock(mutex_);
  rewrite_upload_status_ = std::move(rewrite);
}

void FrameTap::set_blob_data_rewrite(std::function<void(v1::BlobData&)> rewrite) {
  const std::lock_guard lock(mutex_);
  rewrite_blob_data_ = std::move(rewrite);
}

std::size_t FrameTap::upload_chunks() {
  const std::lock_guard lock(mutex_);
  return upload_chunks_;
}

std::size_t FrameTap::blob_reads() {
  const std::lock_guard lock(mutex_);
  return blob_reads_;
}

std::size_t FrameTap::get_uploads() {
  const std::lock_guard lock(mutex_);
  return get_uploads_;
}

std::string FrameTap::last_blob_id() {
  const std::lock_guard lock(mutex_);
  return last_blob_id_;
}

void FrameTap::on_server_frame(const v1::ServerFrame& frame) {
  if (frame.has_upload_created()) {
    const std::lock_guard lock(mutex_);
    last_blob_id_ = frame.upload_created().blob_id();
  }
  if (!frame.has_deliveries()) {
    return;
  }
  {
    const std::lock_guard lock(mutex_);
    for (const auto& d : frame.deliveries().deliveries()) {
      delivered_.emplace(hex(d.client_message_id()), d.envelope_id());
    }
  }
  cv_.notify_all();
}

bool FrameTap::wait_sends(std::size_t n, std::chrono::milliseconds limit) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, limit, [&] { return sends_ >= n; });
}

bool FrameTap::wait_ack_in(const std::set<std::uint64_t>& acks, const std::string& message_id,
                           std::chrono::milliseconds limit) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, limit, [&] {
    const auto [begin, end] = delivered_.equal_range(message_id);
    return std::any_of(begin, end, [&](const auto& d) { return acks.contains(d.second); });
  });
}

bool FrameTap::wait_acked(const std::string& message_id, std::chrono::milliseconds limit) {
  return wait_ack_in(acked_, message_id, limit);
}

bool FrameTap::wait_ack_dropped(const std::string& message_id, std::chrono::milliseconds limit) {
  return wait_ack_in(dropped_acks_, message_id, limit);
}

std::size_t FrameTap::deliveries_of(const std::string& message_id) {
  const std::lock_guard lock(mutex_);
  return delivered_.count(message_id);
}

std::size_t FrameTap::sends() {
  const std::lock_guard lock(mutex_);
  return sends_;
}

bool FrameTap::saw(std::string_view needle) {
  const std::lock_guard lock(mutex_);
  return std::any_of(frames_.begin(), frames_.end(),
                     [&](const std::string& f) { return f.find(needle) != std::string::npos; });
}

// --- Watchdog -----------------------------------------------------------------------------------

Watchdog::Watchdog(std::chrono::milliseconds limit)
    : thread_([this, limit] {
        std::unique_lock lock(mutex_);
        if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
          std::fprintf(stderr, "client test: watchdog: a test case hung for %lld ms\n",
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

// --- LiveRelay -----------------------------------------------------------------------------

LiveRelay::LiveRelay(relay::Limits limits)
    : limits_(limits),
      certificate_(net::ensure_self_signed_certificate(dir_.path() / "tls")),
      pin_(net::certificate_pin(certificate_.certificate)) {
  relay::log::set_min_level(relay::log::Level::error);
  start();
}

LiveRelay::~LiveRelay() {
  stop();
}

void LiveRelay::start() {
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
  server_ = std::make_unique<net::Server>(std::move(options), tap);
  port_ = server_->port();
  executor_ = std::make_unique<store::Executor>(*store_, store::Executor::Options{});
  relay_ = std::make_unique<relay::Relay>(
      *executor_, relay::RelayIdentity{"127.0.0.1", port_, pin_}, limits_, clock_);
  tap.target = relay_.get();
  thread_ = std::thread([server = server_.get()] { server->run(); });
}

void LiveRelay::stop() {
  if (!server_) {
    return;
  }
  server_->stop([relay = relay_.get()] { relay->shutdown(); });
  thread_.join();
  tap.target = nullptr;
  server_.reset();
  executor_->stop();
  relay_.reset();
  executor_.reset();
  store_.reset();
}

std::filesystem::path LiveRelay::blob_file(std::string_view blob_id) const {
  const std::string name = hex(blob_id);
  return dir_.path() / "blobs" / name.substr(0, 2) / name;
}

std::string LiveRelay::invite_line(store::Role role) {
  if (!executor_) {
    throw std::logic_error("LiveRelay::invite_line needs a running relay");
  }
  std::array<std::uint8_t, 32> bytes{};
  crypto::system_rng().fill(bytes);
  wire::InviteLink link;
  link.host = "127.0.0.1";
  link.port = port_;
  link.token = wire::base64url(bytes.data(), bytes.size());
  link.pin = pin_;
  link.role = role == store::Role::admin   ? "admin"
              : role == store::Role::staff ? "staff"
                                           : "client";
  const auto hash = crypto::blake2b(crypto::as_bytes(link.token));
  const auto now = clock_.now_ms();
  with_store([&](store::RelayStore& s) {
    s.create_invite(hash, role, std::nullopt, 1, now + 3'600'000, now);
  });
  return link.to_string();
}

void LiveRelay::with_store(const std::function<void(store::RelayStore&)>& fn) {
  REQUIRE(executor_);
  std::atomic<bool> done{false};
  const bool submitted = executor_->submit<bool>(
      [&fn](store::RelayStore& s) {
        fn(s);
        s.reload();
        return true;
      },
      [&done](std::optional<bool> ok) { done = ok.value_or(false); });
  REQUIRE(submitted);
  executor_->flush();
  REQUIRE(done.load());
}

std::uint32_t LiveRelay::queued_for(const std::string& account_id) {
  std::uint32_t n = 0;
  with_store([&](store::RelayStore& s) {
    const auto* a = s.account_by_public_id(account_id);
    REQUIRE(a != nullptr);
    const auto* d = s.device(a->id, 1);
    REQUIRE(d != nullptr);
    n = s.queued(d->id);
  });
  return n;
}

// --- EventLog -----------------------------------------------------------------------------------

std::function<void(const client::Event&)> EventLog::handler() {
  return [this](const client::Event& e) {
    {
      const std::lock_guard lock(mutex_);
      events_.push_back(e);
    }
    cv_.notify_all();
  };
}

std::vector<client::Event> EventLog::events() {
  const std::lock_guard lock(mutex_);
  return events_;
}

bool EventLog::wait(const std::function<bool(const std::vector<client::Event>&)>& done,
                    std::chrono::milliseconds limit) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, limit, [&] { return done(events_); });
}

bool EventLog::wait_for(client::Event::Kind kind, const std::string& id,
                        std::chrono::milliseconds limit) {
  return wait(
      [&](const std::vector<client::Event>& events) {
        return std::any_of(events.begin(), events.end(), [&](const client::Event& e) {
          return e.kind == kind && (id.empty() || e.message.id == id);
        });
      },
      limit);
}

std::size_t EventLog::count(client::Event::Kind kind) {
  const std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::count_if(
      events_.begin(), events_.end(), [kind](const client::Event& e) { return e.kind == kind; }));
}

std::vector<std::string> EventLog::received_texts() {
  const std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& e : events_) {
    if (e.kind == client::Event::Kind::message_received) {
      out.push_back(e.message.text);
    }
  }
  return out;
}

// --- parties ------------------------------------------------------------------------------------

client::Options test_options() {
  client::Options options;
  options.client_name = "lotse-client-test";
  options.argon2 = crypto::Argon2Params::minimum();
  options.one_time_prekeys = 20;
  options.replenish_below = 5;
  options.request_timeout = 10s;
  options.connect_timeout = 5s;
  return options;
}

void Party::reopen() {
  REQUIRE_FALSE(client);
  log = std::make_shared<EventLog>();
  auto opened = client::Client::open(dir.path(), passphrase, test_options());
  REQUIRE(opened.has_value());
  client = std::move(*opened);
  client->set_event_handler([log = log](const client::Event& e) { log->handler()(e); });
}

void Party::reopen_online() {
  reopen();
  REQUIRE(client->connect().has_value());
  REQUIRE(client->wait_drained(deadline).has_value());
}

namespace {

std::unique_ptr<Party> created(std::unique_ptr<Party> party,
                               client::Result<std::unique_ptr<client::Client>> result) {
  REQUIRE_MESSAGE(result.has_value(), (result ? std::string() : result.error().message()));
  party->client = std::move(*result);
  party->client->set_event_handler(
      [log = party->log](const client::Event& e) { log->handler()(e); });
  auto me = party->client->whoami();
  REQUIRE(me.has_value());
  party->me = *me;
  return party;
}

}  // namespace

std::unique_ptr<Party> make_staff(LiveRelay& relay, std::string_view handle) {
  auto party = std::make_unique<Party>();
  auto result = client::Client::create(party->dir.path(), relay.invite_line(store::Role::staff),
                                       handle, passphrase, test_options());
  return created(std::move(party), std::move(result));
}

std::unique_ptr<Party> make_client(Party& staff, std::string_view name) {
  auto invite = staff->create_client_invite();
  REQUIRE(invite.has_value());
  auto party = std::make_unique<Party>();
  auto result =
      client::Client::create(party->dir.path(), *invite, name, passphrase, test_options());
  return created(std::move(party), std::move(result));
}

Pair make_pair(LiveRelay& relay, std::string_view handle, std::string_view name) {
  Pair p;
  p.staff = make_staff(relay, handle);
  auto invite = p.staff->client->create_client_invite();
  REQUIRE(invite.has_value());
  // The staff member is offline while the client registers, so that the client's first message
  // (its name, end to end) is queued and wait_drained() below covers it.
  p.staff->client->disconnect();
  p.client = std::make_unique<Party>();
  auto result =
      client::Client::create(p.client->dir.path(), *invite, name, passphrase, test_options());
  p.client = created(std::move(p.client), std::move(result));
  REQUIRE(p.staff->client->connect().has_value());
  REQUIRE(p.staff->client->wait_drained(deadline).has_value());
  return p;
}

std::string send_and_wait(Party& from, Party& to, std::string_view text) {
  auto sent = from->send_text(to.me.account_id, text);
  REQUIRE(sent.has_value());
  REQUIRE(to.log->wait_for(client::Event::Kind::message_received, sent->id));
  return sent->id;
}

// --- tampering ----------------------------------------------------------------------------------

namespace {

std::vector<std::uint8_t> flipped(std::vector<std::uint8_t> bytes) {
  REQUIRE_FALSE(bytes.empty());
  bytes[bytes.size() / 2] ^= 0x01;
  return bytes;
}

}  // namespace

void replace_account_key(LiveRelay& relay, const std::string& account_id) {
  const auto key = crypto::SigningKeyPair::generate(crypto::system_rng());
  relay.with_store([&](store::RelayStore& s) {
    const auto* a = s.account_by_public_id(account_id);
    REQUIRE(a != nullptr);
    s.db()
        .prepare("UPDATE accounts SET account_key = ? WHERE id = ?")
        .bind(1, std::span<const std::uint8_t>(key.public_key().bytes()))
        .bind(2, a->id)
        .run();
    for (const auto* d : s.devices_of(a->id)) {
      const auto cert =
          key.sign(wire::device_certificate_context,
                   wire::device_certificate_message(d->keys.signing_key, d->keys.dh_key));
      s.db()
          .prepare("UPDATE devices SET device_certificate = ? WHERE id = ?")
          .bind(1, std::span<const std::uint8_t>(cert.bytes()))
          .bind(2, d->id)
          .run();
    }
  });
}

void corrupt_device_certificate(LiveRelay& relay, const std::string& account_id) {
  relay.with_store([&](store::RelayStore& s) {
    const auto* a = s.account_by_public_id(account_id);
    REQUIRE(a != nullptr);
    for (const auto* d : s.devices_of(a->id)) {
      const auto bad = flipped(d->keys.device_certificate);
      s.db()
          .prepare("UPDATE devices SET device_certificate = ? WHERE id = ?")
          .bind(1, std::span<const std::uint8_t>(bad))
          .bind(2, d->id)
          .run();
    }
  });
}

void corrupt_signed_prekey_signature(LiveRelay& relay, const std::string& account_id) {
  relay.with_store([&](store::RelayStore& s) {
    const auto* a = s.account_by_public_id(account_id);
    REQUIRE(a != nullptr);
    for (const auto* d : s.devices_of(a->id)) {
      const auto bad = flipped(d->signed_prekey.signature);
      s.db()
          .prepare("UPDATE devices SET signed_prekey_signature = ? WHERE id = ?")
          .bind(1, std::span<const std::uint8_t>(bad))
          .bind(2, d->id)
          .run();
    }
  });
}

void drop_queued_envelopes(LiveRelay& relay, const std::string& account_id) {
  relay.with_store([&](store::RelayStore& s) {
    const auto* a = s.account_by_public_id(account_id);
    REQUIRE(a != nullptr);
    for (const auto* d : s.devices_of(a->id)) {
      s.db().prepare("DELETE FROM envelopes WHERE recipient_device = ?").bind(1, d->id).run();
    }
  });
}

std::uint16_t closed_port() {
  // Bound and closed again: nothing listens there (a race with another process binding the same
  // ephemeral port at once is possible but harmless for these tests: it would not speak TLS).
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(0x7f000001U);
  socklen_t size = sizeof address;
  const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), size) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0;
  ::close(fd);
  REQUIRE(ok);
  return ntohs(address.sin_port);
}

}  // namespace lotse::test
