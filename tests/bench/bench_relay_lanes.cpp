// SPDX-License-Identifier: AGPL-3.0-or-later
#include "bench_relay_lanes.hpp"

#include "crypto/bytes.hpp"
#include "crypto/rng.hpp"
#include "crypto/signing.hpp"
#include "wire/login_transcript.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace lotse::bench {
namespace {

namespace asio = boost::asio;

constexpr std::uint64_t seed_base = 0x6c6f747365'000000;          // "lotse" << 24
constexpr std::uint64_t account_seed_base = 0x6163636f75'000000;  // "accou" << 24
constexpr std::size_t max_acks_per_frame = 1024;                  // relay::Limits default

crypto::SigningKeyPair device_key(std::size_t i) {
  crypto::SeededRng rng(seed_base + i);
  return crypto::SigningKeyPair::generate(rng);
}

std::int64_t stamp_of(const std::string& bytes) {
  std::int64_t stamp = 0;
  if (bytes.size() >= sizeof stamp) {
    std::memcpy(&stamp, bytes.data(), sizeof stamp);
  }
  return stamp;
}

std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string filler(std::size_t n) {
  std::string out(n, '\0');
  std::uint32_t x = 0x9e3779b9U;
  for (auto& c : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return out;
}

}  // namespace

std::string account_id(std::size_t i) {
  char text[32];
  std::snprintf(text, sizeof text, "bench%019zu", i);
  return text;
}

std::array<std::uint8_t, 32> device_signing_public_key(std::size_t i) {
  std::array<std::uint8_t, 32> out{};
  const auto key = device_key(i);
  std::copy_n(key.public_key().data(), out.size(), out.begin());
  return out;
}

protocol::DeviceIdentity device_identity(std::size_t i) {
  crypto::SeededRng rng(seed_base + i);
  return protocol::DeviceIdentity::generate(rng);
}

crypto::SigningKeyPair account_key_pair(std::size_t i) {
  crypto::SeededRng rng(account_seed_base + i);
  return crypto::SigningKeyPair::generate(rng);
}

std::vector<std::uint8_t> device_certificate(std::size_t i) {
  const auto device = device_identity(i).public_key();
  const auto message = wire::device_certificate_message(device.signing.bytes(), device.dh.bytes());
  const auto signature = account_key_pair(i).sign(wire::device_certificate_context, message);
  return {signature.data(), signature.data() + signature.size};
}

asio::awaitable<std::string> relay_hello(std::shared_ptr<Peer> peer) {
  v1::ClientFrame hello;
  hello.set_request_id(1);
  hello.mutable_hello()->set_protocol_version(1);
  hello.mutable_hello()->set_client("bench_relay");
  co_await Peer::write(peer, hello.SerializeAsString());
  v1::ServerFrame reply;
  const std::string bytes = co_await Peer::read(peer);
  if (!reply.ParseFromString(bytes) || !reply.has_welcome()) {
    throw std::runtime_error("the relay did not answer Hello with Welcome");
  }
  co_return reply.welcome().challenge();
}

std::string login_bytes(std::uint64_t request_id, std::size_t account, const std::string& challenge,
                        const Pin& pin) {
  const std::string id = account_id(account);
  const auto transcript = wire::login_transcript(crypto::as_bytes(challenge), pin, id, 1);
  const auto signature = device_key(account).sign(wire::login_signature_context, transcript);
  v1::ClientFrame frame;
  frame.set_request_id(request_id);
  auto* login = frame.mutable_login();
  login->set_account_id(id);
  login->set_device_id(1);
  login->set_challenge_signature(signature.data(), signature.size);
  return frame.SerializeAsString();
}

asio::awaitable<void> relay_login(std::shared_ptr<Peer> peer, std::size_t account, Pin pin) {
  const std::string challenge = co_await relay_hello(peer);
  co_await Peer::write(peer, login_bytes(2, account, challenge, pin));
  for (;;) {
    v1::ServerFrame reply;
    const std::string bytes = co_await Peer::read(peer);
    if (!reply.ParseFromString(bytes)) {
      throw std::runtime_error("the relay sent an unparsable frame");
    }
    if (reply.request_id() != 2) {
      continue;  // a push before the answer
    }
    if (!reply.has_logged_in()) {
      throw std::runtime_error("login refused: " + reply.error().message());
    }
    co_return;
  }
}

asio::awaitable<v1::ServerFrame> relay_request(std::shared_ptr<Peer> peer, v1::ClientFrame frame) {
  co_await Peer::write(peer, frame.SerializeAsString());
  for (;;) {
    v1::ServerFrame reply;
    const std::string bytes = co_await Peer::read(peer);
    if (reply.ParseFromString(bytes) && reply.request_id() == frame.request_id()) {
      co_return reply;
    }
  }
}

std::uint64_t next_message_number() noexcept {
  static std::atomic<std::uint64_t> last{0};
  return last.fetch_add(1, std::memory_order_relaxed) + 1;
}

std::size_t send_frame_bytes(std::size_t payload_bytes) {
  v1::ClientFrame frame;
  frame.set_request_id(1'000'000);
  auto* send = frame.mutable_send();
  send->set_client_message_id(std::string(16, '\x01'));
  auto* envelope = send->add_envelopes();
  envelope->set_recipient_account_id(account_id(1));
  envelope->set_recipient_device_id(1);
  envelope->set_ciphertext(std::string(payload_bytes, 'x'));
  return frame.ByteSizeLong();
}

// --- Lane ---------------------------------------------------------------------------------------

void Lane::start_closed_loop(std::size_t window, Gate gate, std::uint64_t limit) {
  running_ = true;
  window_ = window;
  gate_ = gate;
  limit_ = limit;
  sent_base_ = sent();
  pump();
}

void Lane::pump() {
  if (!running_) {
    return;
  }
  const std::uint64_t completed = gate_ == Gate::delivered ? delivered() : accepted();
  while (sent() - sent_base_ < limit_ && sent() - completed < window_) {
    send_one(now_ns());
  }
}

void Lane::on_delivered(std::int64_t scheduled_ns) {
  if (scheduled_ns >= record_from_ && scheduled_ns < record_to_) {
    latencies_.push_back(now_ns() - scheduled_ns);
  }
  delivered_.fetch_add(1, std::memory_order_release);
  if (gate_ == Gate::delivered) {
    pump();
  }
}

void Lane::on_accepted(bool ok) {
  if (!ok) {
    errors_.fetch_add(1, std::memory_order_release);
  }
  accepted_.fetch_add(1, std::memory_order_release);
  if (gate_ == Gate::accepted) {
    pump();
  }
}

// --- RelayLane ----------------------------------------------------------------------------------

RelayLane::RelayLane(asio::io_context& io, std::size_t recipient_account, std::size_t payload_bytes)
    : Lane(io) {
  auto* send = send_frame_.mutable_send();
  send->set_client_message_id(std::string(16, '\0'));
  auto* envelope = send->add_envelopes();
  envelope->set_recipient_account_id(account_id(recipient_account));
  envelope->set_recipient_device_id(1);
  envelope->set_ciphertext(filler(std::max<std::size_t>(payload_bytes, 16)));
}

void RelayLane::attach_sender(std::shared_ptr<Peer> sender) {
  sender_ = std::move(sender);
  sender_->start_reading([this](std::string_view bytes) { on_sender_message(bytes); });
}

void RelayLane::attach_recipient(std::shared_ptr<Peer> recipient) {
  recipient_ = std::move(recipient);
  recipient_->start_reading([this](std::string_view bytes) { on_recipient_message(bytes); });
}

void RelayLane::login_recipient(std::shared_ptr<Peer> recipient, std::string login) {
  attach_recipient(std::move(recipient));
  recipient_->send(std::move(login));
}

void RelayLane::send_one(std::int64_t scheduled_ns) {
  send_frame_.set_request_id(++next_send_request_);
  auto* send = send_frame_.mutable_send();
  // Random-looking, as real clients draw them (client-lib: 16 random bytes); the relay's dedup
  // index is keyed by them, and sequential ids would flatter its B-tree.
  const std::uint64_t number = next_message_number();
  const std::array<std::uint64_t, 2> id{splitmix64(number), splitmix64(~number)};
  std::memcpy(send->mutable_client_message_id()->data(), id.data(), sizeof id);
  std::memcpy(send->mutable_envelopes(0)->mutable_ciphertext()->data(), &scheduled_ns,
              sizeof scheduled_ns);
  sender_->send(send_frame_.SerializeAsString());
  on_sent_one();
}

void RelayLane::on_sender_message(std::string_view bytes) {
  if (!in_.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    errors_.fetch_add(1, std::memory_order_release);
    return;
  }
  if (in_.has_sent()) {
    on_accepted(true);
  } else if (in_.has_error()) {
    on_accepted(false);
  }
}

void RelayLane::on_recipient_message(std::string_view bytes) {
  if (!in_.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    errors_.fetch_add(1, std::memory_order_release);
    return;
  }
  if (in_.has_deliveries()) {
    acks_settled_.store(false, std::memory_order_release);
    for (const auto& delivery : in_.deliveries().deliveries()) {
      pending_acks_.push_back(delivery.envelope_id());
    }
    for (const auto& delivery : in_.deliveries().deliveries()) {
      on_delivered(stamp_of(delivery.ciphertext()));
    }
  } else if (in_.has_acked()) {
    ack_in_flight_ = false;
  } else if (in_.has_error()) {
    errors_.fetch_add(1, std::memory_order_release);
    if (in_.request_id() >= 1000) {
      ack_in_flight_ = false;  // an Ack refused; its envelopes come again on the next login
    }
  }
  maybe_ack();
}

// One Ack in flight at a time, carrying everything received meanwhile (as a client would batch).
void RelayLane::maybe_ack() {
  if (ack_in_flight_) {
    return;
  }
  if (pending_acks_.empty()) {
    acks_settled_.store(true, std::memory_order_release);
    return;
  }
  v1::ClientFrame ack;
  ack.set_request_id(++next_ack_request_);
  const std::size_t n = std::min(pending_acks_.size(), max_acks_per_frame);
  for (std::size_t i = 0; i < n; ++i) {
    ack.mutable_ack()->add_envelope_ids(pending_acks_[i]);
  }
  pending_acks_.erase(pending_acks_.begin(),
                      pending_acks_.begin() + static_cast<std::ptrdiff_t>(n));
  recipient_->send(ack.SerializeAsString());
  ack_in_flight_ = true;
}

void RelayLane::abort() {
  stop();
  if (sender_) {
    sender_->abort();
  }
  if (recipient_) {
    recipient_->abort();
  }
}

// --- EchoLane -----------------------------------------------------------------------------------

EchoLane::EchoLane(asio::io_context& io, std::size_t frame_bytes)
    : Lane(io), frame_(filler(std::max<std::size_t>(frame_bytes, 16))) {}

void EchoLane::attach(std::shared_ptr<Peer> peer) {
  peer_ = std::move(peer);
  peer_->start_reading([this](std::string_view bytes) {
    std::int64_t stamp = 0;
    if (bytes.size() >= sizeof stamp) {
      std::memcpy(&stamp, bytes.data(), sizeof stamp);
    }
    on_delivered(stamp);
  });
}

void EchoLane::send_one(std::int64_t scheduled_ns) {
  std::string frame = frame_;
  std::memcpy(frame.data(), &scheduled_ns, sizeof scheduled_ns);
  peer_->send(std::move(frame));
  on_sent_one();
}

void EchoLane::abort() {
  stop();
  if (peer_) {
    peer_->abort();
  }
}

}  // namespace lotse::bench
