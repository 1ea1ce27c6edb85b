// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Fixtures for the Client API tests: a real relay in process (SQLite store, database thread,
// relay logic, Beast TLS WebSocket server on 127.0.0.1) that can be stopped and started again on
// the same port with the same database, behind a tap that sees every frame the clients send (and
// can swallow Acks); direct access to the relay's database, to play a relay that lies; Clients
// in temporary profile directories with cheap Argon2 parameters; and a recorder of their events.
// No sleeps: everything waits on an event with a deadline.
#include "client/client.hpp"

#include "lotse/v1/relay.pb.h"
#include "net/server.hpp"
#include "net/tls.hpp"
#include "relay/limits.hpp"
#include "relay/relay.hpp"
#include "store/executor.hpp"
#include "store/relay_store.hpp"
#include "support/relay_harness.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace lotse::test {

using namespace std::chrono_literals;

inline constexpr std::chrono::milliseconds deadline = 20s;

// Passes every client frame to the relay and keeps a copy; swallows Acks while `drop_acks` is set
// (a lost Ack, as if the client died between its commit and the Ack reaching the relay).
class FrameTap final : public relay::FrameHandlerFactory {
public:
  [[nodiscard]] std::unique_ptr<relay::FrameHandler> accept(
      std::shared_ptr<relay::Connection> connection, const relay::ConnectionInfo& info) override;

  void forward(std::span<const std::uint8_t> frame, relay::FrameHandler& inner);

  // Waits until at least n Send frames were passed to the relay, at most `limit`.
  [[nodiscard]] bool wait_sends(std::size_t n, std::chrono::milliseconds limit = deadline);
  [[nodiscard]] std::size_t sends();
  // By client message id (hex, as in MessageView::id): waits until an Ack for an envelope that
  // carried it reached the relay, or was swallowed.
  [[nodiscard]] bool wait_acked(const std::string& message_id,
                                std::chrono::milliseconds limit = deadline);
  [[nodiscard]] bool wait_ack_dropped(const std::string& message_id,
                                      std::chrono::milliseconds limit = deadline);
  // How often the relay pushed an envelope carrying this message id to a client.
  [[nodiscard]] std::size_t deliveries_of(const std::string& message_id);
  // Called by the connection wrapper for every frame the relay sends.
  void on_server_frame(const v1::ServerFrame& frame);
  // True if any frame a client sent so far contains `needle`.
  [[nodiscard]] bool saw(std::string_view needle);

  relay::FrameHandlerFactory* target = nullptr;  // the relay, set while it runs
  std::atomic<bool> drop_acks{false};
  // Refuses new connections (the network layer closes them) while set.
  std::atomic<bool> refuse{false};
  // The next Send frame from any client is stored by the relay, but its answer is swallowed and
  // that connection closed: the sender never hears so (as if its app died just then).
  std::atomic<bool> cut_sent_answer{false};
  // Files. The connection that passes the n-th UploadChunk frame from now on (n > 0) to the
  // relay is closed right after it: the relay may or may not have stored that chunk, and the
  // answers to it and to the chunks behind it are lost.
  std::atomic<int> cut_after_upload_chunks{0};
  // The n-th BlobData answer from now on (n > 0) is swallowed and its connection closed.
  std::atomic<int> cut_after_blob_data{0};
  // Rewrites each BlobData answer before it is sent (a relay that lies about a blob's bytes).
  void set_blob_data_rewrite(std::function<void(v1::BlobData&)> rewrite);
  // Rewrites each UploadStatus answer (to UploadChunk and GetUpload) before it is sent.
  void set_upload_status_rewrite(std::function<void(v1::UploadStatus&)> rewrite);
  // UploadChunk, ReadBlob and GetUpload frames passed to the relay, and the blob id of the last
  // UploadCreated answer.
  [[nodiscard]] std::size_t upload_chunks();
  [[nodiscard]] std::size_t blob_reads();
  [[nodiscard]] std::size_t get_uploads();
  [[nodiscard]] std::string last_blob_id();
  // Called by the connection wrapper for a BlobData answer; false: swallow it and cut.
  [[nodiscard]] bool on_blob_data(v1::ServerFrame& frame);
  // Called by the connection wrapper for an UploadStatus answer; true if it was rewritten.
  [[nodiscard]] bool on_upload_status(v1::ServerFrame& frame);

private:
  [[nodiscard]] bool wait_ack_in(const std::set<std::uint64_t>& acks, const std::string& message_id,
                                 std::chrono::milliseconds limit);

  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::string> frames_;
  std::size_t sends_ = 0;
  std::multimap<std::string, std::uint64_t> delivered_;  // message id (hex) -> envelope id
  std::set<std::uint64_t> acked_;                        // envelope ids
  std::set<std::uint64_t> dropped_acks_;
  std::size_t upload_chunks_ = 0;
  std::size_t blob_reads_ = 0;
  std::size_t get_uploads_ = 0;
  std::string last_blob_id_;
  std::function<void(v1::BlobData&)> rewrite_blob_data_;
  std::function<void(v1::UploadStatus&)> rewrite_upload_status_;
};

// Aborts the process (with a message) if a test case is still running after `limit`: a hang
// must fail the run, not stall it.
class Watchdog {
public:
  explicit Watchdog(std::chrono::milliseconds limit = 120s);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

class LiveRelay {
public:
  explicit LiveRelay(relay::Limits limits = {});  // started
  ~LiveRelay();
  LiveRelay(const LiveRelay&) = delete;
  LiveRelay& operator=(const LiveRelay&) = delete;

  // Stops the server (sessions are closed with 1001) and the relay; the database stays.
  void stop();
  // Starts again with the same database and certificate, on the same port.
  void start();

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] const std::array<std::uint8_t, 32>& pin() const { return pin_; }
  [[nodiscard]] const std::filesystem::path& data_dir() const { return dir_.path(); }
  // Where the relay keeps a blob's bytes (server/store/blob_files.hpp): data_dir/blobs/xx/<hex>.
  [[nodiscard]] std::filesystem::path blob_file(std::string_view blob_id) const;
  // A one-use invite line (lotse://...) made by the operator, e.g. for the first staff member.
  [[nodiscard]] std::string invite_line(store::Role role);
  // Runs `fn` on the database thread inside the relay's own transaction, then rebuilds the
  // relay's in-memory directory from the database (for tests that make the relay lie).
  void with_store(const std::function<void(store::RelayStore&)>& fn);
  // Envelopes queued for this account's device 1.
  [[nodiscard]] std::uint32_t queued_for(const std::string& account_id);

  FrameTap tap;

private:
  Watchdog watchdog_;  // first: destroyed last, so it also covers stopping the relay
  TempDir dir_;
  relay::Limits limits_;
  net::CertificateFiles certificate_;
  std::array<std::uint8_t, 32> pin_{};
  std::uint16_t port_ = 0;
  relay::SystemClock clock_;
  std::unique_ptr<store::RelayStore> store_;
  std::unique_ptr<store::Executor> executor_;
  std::unique_ptr<relay::Relay> relay_;
  std::unique_ptr<net::Server> server_;
  std::thread thread_;
};

// Records a Client's events (the handler runs on the connection's I/O thread or the caller's).
class EventLog {
public:
  [[nodiscard]] std::function<void(const client::Event&)> handler();
  [[nodiscard]] std::vector<client::Event> events();
  [[nodiscard]] bool wait(const std::function<bool(const std::vector<client::Event>&)>& done,
                          std::chrono::milliseconds limit = deadline);
  // Waits until an event of `kind` (and, if given, for message id `id`) was recorded.
  [[nodiscard]] bool wait_for(client::Event::Kind kind, const std::string& id = {},
                              std::chrono::milliseconds limit = deadline);
  [[nodiscard]] std::size_t count(client::Event::Kind kind);
  // The texts of message_received events, in order.
  [[nodiscard]] std::vector<std::string> received_texts();

private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<client::Event> events_;
};

// Cheap Argon2, few one-time prekeys, quick timeouts.
[[nodiscard]] client::Options test_options();

inline constexpr std::string_view passphrase = "correct horse battery staple";

// One user: a profile directory, its open Client (may be null while "the process is dead") and
// the events it reported.
struct Party {
  TempDir dir;
  std::unique_ptr<client::Client> client;
  std::shared_ptr<EventLog> log = std::make_shared<EventLog>();
  client::Identity me;

  client::Client* operator->() const { return client.get(); }
  // Opens the profile again (after client.reset()) with a fresh event log; does not connect.
  void reopen();
  // reopen() + connect() + wait_drained().
  void reopen_online();
};

// A staff member registered with an operator's invite; `handle` is the relay handle.
[[nodiscard]] std::unique_ptr<Party> make_staff(LiveRelay& relay, std::string_view handle);
// A client registered with `staff`'s client invite; `name` is shared end to end with the staff.
[[nodiscard]] std::unique_ptr<Party> make_client(Party& staff, std::string_view name);
// make_staff + make_client, then the staff learns the client (its directory and the shared name).
struct Pair {
  std::unique_ptr<Party> staff;
  std::unique_ptr<Party> client;
};
[[nodiscard]] Pair make_pair(LiveRelay& relay, std::string_view handle = "counsellor",
                             std::string_view name = "Robin Client");

// Sends `text` and waits until `to` reported it (event message_received); returns the message id.
[[nodiscard]] std::string send_and_wait(Party& from, Party& to, std::string_view text);

// Tampering with what the relay serves about an account (its device 1).
// A fresh account key, and the device certificates re-signed with it: what the relay would serve
// if the account had registered anew with new keys (or if the relay substituted them).
void replace_account_key(LiveRelay& relay, const std::string& account_id);
// Flips a bit of the device certificate: a device the account key never certified.
void corrupt_device_certificate(LiveRelay& relay, const std::string& account_id);
// Flips a bit of the signed prekey's signature.
void corrupt_signed_prekey_signature(LiveRelay& relay, const std::string& account_id);
// Deletes every envelope queued for the account's devices (messages the relay lost).
void drop_queued_envelopes(LiveRelay& relay, const std::string& account_id);

// A loopback TCP port with nobody listening (connecting is refused).
[[nodiscard]] std::uint16_t closed_port();

}  // namespace lotse::test
