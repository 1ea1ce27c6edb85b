// SPDX-License-Identifier: AGPL-3.0-or-later
#include "relay/relay.hpp"

#include "relay/log.hpp"
#include "relay/session.hpp"

#include "lotse/v1/relay.pb.h"

namespace lotse::relay {
namespace {

// Adapts a shared Session to the FrameHandler the network layer owns, so that database
// completions can keep the session alive (shared_ptr) after the network layer let go.
class Handler final : public FrameHandler {
public:
  explicit Handler(std::shared_ptr<Session> session) : session_(std::move(session)) {}
  void on_frame(std::span<const std::uint8_t> frame) override { session_->on_frame(frame); }
  void on_closed() override { session_->on_closed(); }
  [[nodiscard]] bool authenticated() const override { return session_->is_authenticated(); }

private:
  std::shared_ptr<Session> session_;
};

}  // namespace

Relay::Relay(store::Executor& executor, RelayIdentity identity, Limits limits, const Clock& clock,
             crypto::Rng& rng)
    : executor_(executor),
      identity_(std::move(identity)),
      limits_(limits),
      clock_(clock),
      rng_(rng),
      blobs_(std::make_unique<Blobs>(executor)),
      sweeper_(std::make_unique<Sweeper>(
          executor, *blobs_, clock, limits_,
          [this](const ErasedAccount& erased) { account_erased(erased); },
          [this](const store::RelayStore& store) { directory_reloaded(store); })) {
  sweeper_->start();
}

Relay::~Relay() {
  sweeper_->stop();
  // Its queued jobs (fsyncs, unlinks) may still reach this relay: run them while it is whole.
  blobs_->worker().stop();
}

void Relay::account_erased(const ErasedAccount& erased, std::int64_t except_device) {
  for (const auto& id : erased.blobs) {
    blobs_->forget(BlobKey(id.begin(), id.end()));
  }
  if (!erased.erasure.notices.empty()) {
    v1::Delivery d;
    d.set_account_erased(erased.public_id);
    d.set_server_time_ms(static_cast<std::uint64_t>(clock_.now_ms()));
    const auto body = encode_delivery_body(d);
    for (const auto& [envelope, device] : erased.erasure.notices) {
      route({envelope, device, body});
    }
  }
  for (const auto device : erased.erasure.devices) {
    if (device == except_device) {
      continue;
    }
    if (auto session = online(device)) {
      session->erased();
    }
  }
  log::info("account.erased",
            {{"blobs", static_cast<std::uint64_t>(erased.blobs.size())},
             {"notices", static_cast<std::uint64_t>(erased.erasure.notices.size())}});
}

void Relay::directory_reloaded(const store::RelayStore& store) {
  std::vector<std::pair<std::int64_t, std::shared_ptr<Session>>> sessions;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [device, weak] : online_) {
      if (auto s = weak.lock()) {
        sessions.emplace_back(device, std::move(s));
      }
    }
  }
  for (const auto& [device, session] : sessions) {
    if (store.device(device) == nullptr) {
      session->erased();
    } else {
      session->recheck_queue();
    }
  }
}

void Relay::sweep(std::function<void(std::size_t)> done) {
  sweeper_->sweep(std::move(done));
}

std::unique_ptr<FrameHandler> Relay::accept(std::shared_ptr<Connection> connection,
                                            const ConnectionInfo& info) {
  if (shutting_down_) {
    return nullptr;
  }
  {
    std::lock_guard lock(mutex_);
    auto& count = connections_per_address_[info.peer_address];
    if (count >= limits_.max_connections_per_address) {
      log::warn("connection.refused", {{"reason", std::string("max_connections_per_address")}});
      if (count == 0) {
        connections_per_address_.erase(info.peer_address);
      }
      return nullptr;
    }
    ++count;
  }
  auto session = std::make_shared<Session>(*this, connection, connection->id(), info.peer_address);
  session->start();
  return std::make_unique<Handler>(std::move(session));
}

void Relay::connection_closed(const std::string& peer_address) {
  std::lock_guard lock(mutex_);
  auto it = connections_per_address_.find(peer_address);
  if (it != connections_per_address_.end() && --it->second == 0) {
    connections_per_address_.erase(it);
  }
}

void Relay::shutdown() {
  shutting_down_ = true;
  executor_.flush();
}

std::size_t Relay::online_devices() const {
  std::lock_guard lock(mutex_);
  return online_.size();
}

std::shared_ptr<Session> Relay::register_online(std::int64_t device,
                                                const std::shared_ptr<Session>& s) {
  std::lock_guard lock(mutex_);
  auto& slot = online_[device];
  auto previous = slot.lock();
  slot = s;
  return previous;
}

void Relay::unregister_online(std::int64_t device, const Session* s) {
  std::lock_guard lock(mutex_);
  auto it = online_.find(device);
  if (it == online_.end()) {
    return;
  }
  auto current = it->second.lock();
  if (!current || current.get() == s) {
    online_.erase(it);
  }
}

std::shared_ptr<Session> Relay::online(std::int64_t device) const {
  std::lock_guard lock(mutex_);
  auto it = online_.find(device);
  return it == online_.end() ? nullptr : it->second.lock();
}

void Relay::route(const QueuedDelivery& delivery) {
  // Look up under the lock, send outside it.
  if (auto session = online(delivery.recipient_device)) {
    session->push(delivery);
  }
}

namespace {

bool take_tokens(std::unordered_map<std::int64_t, TokenBucket>& buckets, std::int64_t account,
                 double rate, double burst, std::int64_t now, double n,
                 std::uint32_t& retry_after_ms) {
  auto it = buckets.find(account);
  if (it == buckets.end()) {
    it = buckets.emplace(account, TokenBucket(rate, burst, now)).first;
  }
  if (it->second.take(now, n)) {
    return true;
  }
  retry_after_ms = it->second.retry_after_ms(n);
  return false;
}

}  // namespace

bool Relay::take_message_tokens(std::int64_t account, double n, std::uint32_t& retry_after_ms) {
  std::lock_guard lock(mutex_);
  return take_tokens(message_buckets_, account, limits_.messages_per_second, limits_.message_burst,
                     clock_.now_ms(), n, retry_after_ms);
}

bool Relay::take_inbox_registration(std::int64_t inbox, std::uint32_t& retry_after_ms) {
  std::lock_guard lock(mutex_);
  const double per_hour = limits_.inbox_registrations_per_hour;
  return take_tokens(inbox_buckets_, inbox, per_hour / 3600.0, per_hour, clock_.now_ms(), 1.0,
                     retry_after_ms);
}

bool Relay::take_transfer_tokens(std::int64_t account, double n, std::uint32_t& retry_after_ms) {
  std::lock_guard lock(mutex_);
  return take_tokens(transfer_buckets_, account, limits_.transfer_bytes_per_second,
                     limits_.transfer_burst_bytes, clock_.now_ms(), n, retry_after_ms);
}

}  // namespace lotse::relay
