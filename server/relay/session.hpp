// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// One client connection's protocol state machine (docs/PROTOCOL.md 2): handshake, registration or
// login, then requests; and the delivery of queued and live envelopes with a bounded window of
// unacknowledged deliveries. Every method runs on the connection's strand; database work goes to
// the executor and comes back through Connection::post.
#include "relay/connection.hpp"
#include "relay/delivery_encoding.hpp"
#include "relay/limits.hpp"

#include "store/relay_store.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

namespace lotse::v1 {
class ClientFrame;
class ServerFrame;
class InboxInfo;
}  // namespace lotse::v1

namespace lotse::relay {

class Relay;
class ReadableBlob;
struct Upload;

class Session : public std::enable_shared_from_this<Session> {
public:
  Session(Relay& relay, std::weak_ptr<Connection> connection, std::uint64_t connection_id,
          std::string peer_address);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start();
  void on_frame(std::span<const std::uint8_t> bytes);
  void on_closed();

  // From the relay (any thread): a committed envelope for this session's device.
  void push(QueuedDelivery delivery);
  // From the relay (any thread): this device's one-time prekeys are running low.
  void push_prekeys_low(std::uint32_t remaining);
  // From the relay (any thread): another connection of the same device logged in.
  void replaced();
  // From the relay (any thread): this device's account was erased; the connection closes.
  void erased();
  // From the relay (any thread): rows may have been queued for this device that were not
  // pushed (another process wrote them); read the queue again.
  void recheck_queue();

  [[nodiscard]] std::uint64_t connection_id() const noexcept { return connection_id_; }
  // On the connection's strand.
  [[nodiscard]] bool is_authenticated() const noexcept { return state_ == State::authenticated; }

private:
  enum class State { await_hello, await_auth, authenticated, closed };

  // Requests.
  void on_hello(const v1::ClientFrame& frame);
  void on_register(const v1::ClientFrame& frame);
  void on_login(const v1::ClientFrame& frame);
  void on_publish_prekeys(const v1::ClientFrame& frame);
  void on_fetch_bundles(const v1::ClientFrame& frame);
  void on_send(const v1::ClientFrame& frame);
  void on_ack(const v1::ClientFrame& frame);
  void on_create_invite(const v1::ClientFrame& frame);
  void on_list_contacts(const v1::ClientFrame& frame);
  // Groups (session_groups.cpp).
  void on_group_send(const v1::ClientFrame& frame);
  void on_update_group(const v1::ClientFrame& frame);
  void on_get_group_log(const v1::ClientFrame& frame);
  void on_list_groups(const v1::ClientFrame& frame);
  void on_list_directory(const v1::ClientFrame& frame);
  // Files (session_files.cpp).
  void on_create_upload(const v1::ClientFrame& frame);
  void on_upload_chunk(const v1::ClientFrame& frame);
  void on_get_upload(const v1::ClientFrame& frame);
  void on_read_blob(const v1::ClientFrame& frame);
  void on_delete_blob(const v1::ClientFrame& frame);
  void complete_upload(std::uint64_t request_id, const std::string& blob_id,
                       std::shared_ptr<Upload> upload, std::uint64_t last_offset);
  void upload_not_held(std::uint64_t request_id, const std::string& blob_id);
  void check_read(std::uint64_t request_id, const std::string& blob_id, std::uint64_t offset,
                  std::uint32_t length);
  void serve_read(std::uint64_t request_id, const ReadableBlob& blob, std::uint64_t offset,
                  std::uint32_t length);
  // Retention and privacy (session_privacy.cpp).
  void on_get_policy(const v1::ClientFrame& frame);
  void on_set_policy(const v1::ClientFrame& frame);
  void on_export_account(const v1::ClientFrame& frame);
  void on_delete_account(const v1::ClientFrame& frame);
  void on_close_conversation(const v1::ClientFrame& frame);
  // Counselling inboxes and cases (session_inboxes.cpp).
  void on_set_inbox(const v1::ClientFrame& frame);
  void on_list_inboxes(const v1::ClientFrame& frame);
  void on_publish_inbox_notice(const v1::ClientFrame& frame);
  void on_set_duty(const v1::ClientFrame& frame);
  void on_list_cases(const v1::ClientFrame& frame);
  void on_request_handover(const v1::ClientFrame& frame);
  void on_decline_handover(const v1::ClientFrame& frame);
  void on_claim_case(const v1::ClientFrame& frame);
  // Answers InboxInfo, or the error if `error` is not 0.
  void reply_inbox(std::uint64_t id, int error, const std::string& message, v1::InboxInfo info);
  void reply_upload_status(std::uint64_t request_id, const std::string& blob_id, std::uint64_t size,
                           std::uint64_t received, bool complete, std::int64_t expires_at);

  void authenticated(std::int64_t account, std::int64_t device, std::string public_id,
                     std::uint32_t device_no, store::Role role,
                     std::vector<std::uint8_t> signing_key);

  // Delivery.
  void on_push(const QueuedDelivery& delivery);
  void maybe_drain();
  void on_drained(std::vector<store::StoredEnvelope> envelopes, std::size_t requested);
  bool deliver(std::span<const QueuedDelivery* const> deliveries);

  // Plumbing.
  bool send(v1::ServerFrame& frame);
  void reply_error(std::uint64_t request_id, int code, const std::string& message,
                   std::uint32_t retry_after_ms = 0);
  // Runs fn on this session's strand if the connection still exists. (This template and submit
  // are defined in session_support.hpp.)
  template <class Fn>
  void on_strand(Fn&& fn);
  // Submits a database job whose result comes back on the strand; answers INTERNAL or
  // RATE_LIMITED itself when the job cannot run. Counts towards max_pending_requests.
  // `committed` (optional) runs on the database thread right after the commit, in commit order,
  // before the result travels to the strand: routing to other sessions happens there so that
  // envelopes reach each recipient in the order of their ids.
  template <class R, class Run, class Done, class Committed>
  void submit(std::uint64_t request_id, Run&& run, Done&& done, Committed&& committed);
  template <class R, class Run, class Done>
  void submit(std::uint64_t request_id, Run&& run, Done&& done) {
    submit<R>(request_id, std::forward<Run>(run), std::forward<Done>(done), [](const R&) {});
  }
  void close(CloseReason reason);

  Relay& relay_;
  std::weak_ptr<Connection> connection_;
  std::uint64_t connection_id_;
  std::string peer_address_;
  State state_ = State::await_hello;
  std::int64_t opened_at_ms_;
  TokenBucket requests_;
  std::size_t pending_ = 0;

  std::array<std::uint8_t, 32> challenge_{};
  bool challenge_used_ = false;

  std::int64_t account_ = 0;
  std::int64_t device_ = 0;
  std::string account_public_id_;
  std::uint32_t device_no_ = 0;
  store::Role role_ = store::Role::client;
  std::vector<std::uint8_t> signing_key_;

  // Delivery window: envelopes are delivered in id order; `cursor_` is the highest id delivered on
  // this connection. While `behind_`, newer envelopes are read from the database instead of taken
  // from live pushes; `draining_` while such a read is in flight.
  std::int64_t cursor_ = 0;
  std::unordered_set<std::int64_t> unacked_;
  bool behind_ = true;
  bool draining_ = false;
  bool drained_once_ = false;

  // Blobs this session was allowed to read, and reads waiting for that check (session_files.cpp).
  struct BlobReads;
  std::unique_ptr<BlobReads> reads_;
};

}  // namespace lotse::relay
