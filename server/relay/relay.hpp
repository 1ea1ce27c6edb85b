// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The relay's logic as one object: accepts connections (FrameHandlerFactory), knows who is online
// (registry of sessions by device, weak references only), routes committed envelopes to online
// devices, holds the per-account rate limiters, and owns the files' in-memory state (uploads in
// progress, blobs being read, the file worker) and the sweeper. Thread-safe; no Asio.
#include "relay/blobs.hpp"
#include "relay/connection.hpp"
#include "relay/delivery_encoding.hpp"
#include "relay/limits.hpp"
#include "relay/retention.hpp"
#include "relay/sweeper.hpp"

#include "crypto/rng.hpp"
#include "store/executor.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace lotse::relay {

class Session;

struct RelayIdentity {
  std::string public_host;  // the host clients reach (written into invites)
  std::uint16_t public_port = 0;
  std::array<std::uint8_t, 32> certificate_pin{};
};

class Relay final : public FrameHandlerFactory {
public:
  // `rng` draws login challenges, account ids, invite tokens and blob ids. It is called from every
  // connection's strand, so it must be thread-safe (SystemRng is); tests that run every strand on
  // one thread inject a SeededRng to make the wire bytes reproducible (tests/golden).
  // Blobs live in data_dir/blobs beside the executor's database; the constructor reconciles them
  // with the database (blocking) and starts the sweeper. Stop the executor before destroying the
  // relay (its completions refer to it).
  Relay(store::Executor& executor, RelayIdentity identity, Limits limits, const Clock& clock,
        crypto::Rng& rng = crypto::system_rng());
  ~Relay() override;

  [[nodiscard]] std::unique_ptr<FrameHandler> accept(std::shared_ptr<Connection> connection,
                                                     const ConnectionInfo& info) override;

  // Refuses new connections and requests (SHUTTING_DOWN), then waits until every database job
  // submitted so far is committed. Call before closing the connections.
  void shutdown();
  [[nodiscard]] bool shutting_down() const noexcept { return shutting_down_.load(); }

  [[nodiscard]] const Limits& limits() const noexcept { return limits_; }
  [[nodiscard]] const Clock& clock() const noexcept { return clock_; }
  [[nodiscard]] crypto::Rng& rng() const noexcept { return rng_; }
  [[nodiscard]] const RelayIdentity& identity() const noexcept { return identity_; }
  [[nodiscard]] store::Executor& executor() noexcept { return executor_; }
  [[nodiscard]] std::size_t online_devices() const;

  // --- used by sessions -----------------------------------------------------------------------
  // Registers an authenticated session for a device; returns the session it replaces, if any.
  std::shared_ptr<Session> register_online(std::int64_t device, const std::shared_ptr<Session>& s);
  void unregister_online(std::int64_t device, const Session* s);
  [[nodiscard]] std::shared_ptr<Session> online(std::int64_t device) const;
  // Hands a committed envelope to the recipient's session if it is online (any thread).
  void route(const QueuedDelivery& delivery);
  // Per-account message rate; false when the bucket is empty (retry_after_ms set).
  [[nodiscard]] bool take_message_tokens(std::int64_t account, double n,
                                         std::uint32_t& retry_after_ms);
  // New clients of a counselling inbox (limits.inbox_registrations_per_hour, per inbox row).
  [[nodiscard]] bool take_inbox_registration(std::int64_t inbox, std::uint32_t& retry_after_ms);
  // Per-account transfer bytes (UploadChunk, ReadBlob); false when the bucket is empty.
  [[nodiscard]] bool take_transfer_tokens(std::int64_t account, double n,
                                          std::uint32_t& retry_after_ms);
  [[nodiscard]] Blobs& blobs() noexcept { return *blobs_; }
  // Removes expired blobs and timed-out uploads now (it also happens every blob_sweep_interval);
  // `done` as in Sweeper::sweep.
  void sweep(std::function<void(std::size_t removed)> done = {});
  void connection_closed(const std::string& peer_address);
  // After the commit that erased an account (on the database thread): its blobs' files are
  // unlinked, the erasure notices go to the contacts' online devices, its connections close.
  // `except_device`'s connection is left open (it answers the request first, then closes).
  void account_erased(const ErasedAccount& erased, std::int64_t except_device = 0);
  // After another process (an admin command) changed the database and the directory was
  // reloaded (on the database thread): connections of devices that no longer exist close, and
  // every online device looks for queue rows it was not told about (e.g. erasure notices).
  void directory_reloaded(const store::RelayStore& store);

private:
  store::Executor& executor_;
  RelayIdentity identity_;
  Limits limits_;
  const Clock& clock_;
  crypto::Rng& rng_;
  std::atomic<bool> shutting_down_{false};

  mutable std::mutex mutex_;
  std::unordered_map<std::int64_t, std::weak_ptr<Session>> online_;
  std::unordered_map<std::int64_t, TokenBucket> message_buckets_;
  std::unordered_map<std::int64_t, TokenBucket> transfer_buckets_;
  std::unordered_map<std::int64_t, TokenBucket> inbox_buckets_;
  std::unordered_map<std::string, std::size_t> connections_per_address_;

  std::unique_ptr<Blobs> blobs_;
  std::unique_ptr<Sweeper> sweeper_;
};

}  // namespace lotse::relay
