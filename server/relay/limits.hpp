// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace lotse::relay {

// Every bound the relay enforces, each named in the config file's [limits] table under the same
// name (docs/OPERATIONS.md lists them with their defaults and docs/PROTOCOL.md with their errors).
struct Limits {
  std::size_t max_frame_bytes = 1024 * 1024;    // WebSocket message; larger closes with 1009
  std::size_t max_envelope_bytes = 256 * 1024;  // one Envelope.ciphertext
  std::size_t max_envelopes_per_send = 1000;
  std::uint32_t max_queued_envelopes_per_device = 10'000;
  std::size_t max_connections_per_address = 64;
  std::chrono::seconds handshake_timeout{10};  // TLS + WebSocket handshake
  std::chrono::seconds auth_timeout{30};       // from connect to Register/Login
  std::chrono::seconds idle_timeout{120};      // no traffic (pings count)
  double messages_per_second = 200;            // per account, token bucket
  double message_burst = 2000;
  double requests_per_second = 200;  // per connection, every frame
  double request_burst = 2000;
  std::size_t max_pending_requests = 256;    // per connection, waiting for the database
  std::uint32_t max_one_time_prekeys = 500;  // per device
  std::uint32_t max_prekeys_per_publish = 200;
  std::uint32_t low_prekey_threshold = 20;
  std::size_t max_unacked_deliveries = 512;  // per connection: the delivery window
  std::size_t max_acks_per_frame = 1024;
  std::size_t max_deliveries_per_frame = 64;
  std::uint32_t max_invite_uses = 1000;
  std::chrono::seconds max_invite_lifetime{30 * 24 * 3600};
  std::chrono::seconds default_invite_lifetime{7 * 24 * 3600};
  std::chrono::seconds envelope_lifetime{30 * 24 * 3600};  // undelivered ciphertext
  std::chrono::seconds send_dedup_window{7 * 24 * 3600};
  std::size_t max_groups_per_account = 500;  // groups one account may be a member of
  std::size_t max_outgoing_frames = 1024;    // per connection, the writer's queue
  std::size_t max_outgoing_bytes = 8 * 1024 * 1024;
  // Files (docs/PROTOCOL.md 2.18).
  std::uint64_t max_file_bytes = 100 * 1024 * 1024;  // plaintext; max_blob_bytes() follows
  std::size_t max_chunk_bytes = 1024 * 1024 - 1024;  // UploadChunk.data, ReadBlob.length
  std::uint32_t max_concurrent_uploads = 4;          // incomplete uploads per account
  std::uint64_t blob_quota_per_account = std::uint64_t{1} << 30;
  std::uint64_t blob_storage_total = std::uint64_t{10} << 30;
  std::size_t max_blobs_per_send = 16;
  std::chrono::seconds upload_timeout{24 * 3600};      // CreateUpload to complete
  std::chrono::seconds blob_lifetime{30 * 24 * 3600};  // CreateUpload to removal
  std::chrono::seconds blob_sweep_interval{60};        // expired blobs and uploads removed
  // Ids of deleted envelopes, prekeys, blobs and accounts (data_dir/deletions.db) are kept this
  // long, so a restore re-applies them; a backup older than this cannot be restored.
  std::chrono::seconds deletion_journal_lifetime{90 * 24 * 3600};
  double transfer_bytes_per_second = 4294967296.0;  // per account: UploadChunk and ReadBlob bytes
  double transfer_burst_bytes = 268435456.0;

  // Retention policy: the [policy] table (docs/PRIVACY.md, docs/PROTOCOL.md 2.19). 0 s: off.
  // A conversation's disappearing-message timer unless its members set one.
  std::chrono::seconds disappearing_default{0};
  // The bounds members must stay within when they set a timer; whether they may turn it off.
  std::chrono::seconds disappearing_min{60};
  std::chrono::seconds disappearing_max{365 * 24 * 3600};
  bool disappearing_off_allowed = true;
  // Client accounts without a login for this long are erased by the sweeper (0: never).
  std::chrono::seconds inactive_client_erasure{180 * 24 * 3600};
  std::chrono::seconds audit_log_lifetime{365 * 24 * 3600};
  // Closing a case (docs/PROTOCOL.md 2.21): whether staff keep their own copy of the
  // conversation (record-keeping duties); clients always delete theirs.
  bool close_keeps_staff_copy = true;

  // Counselling inboxes (docs/PROTOCOL.md 2.22): flyer invites, and how many anonymous clients an
  // inbox takes in.
  std::uint32_t max_inbox_invite_uses = 100'000;
  std::chrono::seconds max_inbox_invite_lifetime{365 * 24 * 3600};
  std::uint32_t inbox_max_open_cases = 200;    // unclaimed cases per inbox whose SetInbox says 0
  double inbox_registrations_per_hour = 60.0;  // per inbox (token bucket, burst the same)
};

// The largest blob CreateUpload accepts: the encrypted size (docs/PROTOCOL.md 1.6) of a
// max_file_bytes file with the smallest chunk size, so any file up to max_file_bytes fits with
// any chunk size. 0 if max_file_bytes is beyond what a blob can encode.
[[nodiscard]] std::uint64_t max_blob_bytes(const Limits& limits) noexcept;

// Bounds between limits that single values cannot express (max_chunk_bytes must fit in a frame,
// a full chunk must fit in the transfer bucket, ...). Throws std::invalid_argument naming the
// limits; the relay's configuration calls it after reading the file and the command line.
void check_limits(const Limits& limits);

// Tokens an UploadChunk or ReadBlob of `bytes` takes from the account's transfer bucket.
inline constexpr std::uint64_t min_transfer_tokens = 4096;
[[nodiscard]] constexpr double transfer_tokens(std::uint64_t bytes) noexcept {
  return static_cast<double>(bytes < min_transfer_tokens ? min_transfer_tokens : bytes);
}

// Injectable time source (tests and retention proofs use a fake one).
class Clock {
public:
  virtual ~Clock() = default;
  [[nodiscard]] virtual std::int64_t now_ms() const = 0;  // Unix time in milliseconds
};

class SystemClock final : public Clock {
public:
  [[nodiscard]] std::int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A token bucket: `rate` tokens per second up to `burst`.
class TokenBucket {
public:
  TokenBucket(double rate, double burst, std::int64_t now_ms) noexcept
      : rate_(rate), burst_(burst), tokens_(burst), last_ms_(now_ms) {}

  // Takes n tokens if available.
  [[nodiscard]] bool take(std::int64_t now_ms, double n = 1) noexcept {
    refill(now_ms);
    if (tokens_ < n) {
      return false;
    }
    tokens_ -= n;
    return true;
  }
  // Milliseconds until n tokens are available.
  [[nodiscard]] std::uint32_t retry_after_ms(double n = 1) const noexcept {
    if (tokens_ >= n || rate_ <= 0) {
      return 0;
    }
    return static_cast<std::uint32_t>((n - tokens_) / rate_ * 1000.0) + 1;
  }

private:
  void refill(std::int64_t now_ms) noexcept {
    if (now_ms > last_ms_) {
      tokens_ += static_cast<double>(now_ms - last_ms_) * rate_ / 1000.0;
      if (tokens_ > burst_) {
        tokens_ = burst_;
      }
      last_ms_ = now_ms;
    }
  }
  double rate_;
  double burst_;
  double tokens_;
  std::int64_t last_ms_;
};

}  // namespace lotse::relay
