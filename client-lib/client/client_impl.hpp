// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Internal to client-lib/client: the state behind a Client, shared by client.cpp (lifecycle and
// API), sending.cpp (outgoing messages) and receiving.cpp (incoming deliveries).
#include "client/client.hpp"
#include "client/directory.hpp"

#include "crypto/signing.hpp"
#include "lotse/v1/e2e.pb.h"
#include "lotse/v1/relay.pb.h"
#include "net/relay_connection.hpp"
#include "protocol/identity.hpp"
#include "protocol/session_cipher.hpp"
#include "store/profile.hpp"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>

namespace lotse::client {

// Settings names in the profile's secret area.
namespace setting {
inline constexpr const char* name = "name";
inline constexpr const char* inviter = "inviter";
inline constexpr const char* next_prekey_id = "next_one_time_prekey_id";
}  // namespace setting

[[nodiscard]] std::string to_hex(std::string_view bytes);
[[nodiscard]] Role role_of(store::AccountRole role) noexcept;
[[nodiscard]] Role role_of(v1::Role role) noexcept;
[[nodiscard]] store::AccountRole store_role(v1::Role role) noexcept;
// Maps errors of the layers below to what the user should read (others pass through).
[[nodiscard]] boost::system::error_code user_error(const boost::system::error_code& ec);
// An Error frame from the relay as a client error.
[[nodiscard]] boost::system::error_code relay_error(const v1::Error& error);

struct Client::Impl {
  Impl(std::filesystem::path dir_, Options options_, store::Profile profile_,
       protocol::DeviceIdentity identity_, crypto::SigningKeyPair account_key_);
  ~Impl();

  // --- fixed after open ---
  std::filesystem::path dir;
  Options options;
  crypto::Rng& rng;
  std::function<std::int64_t()> now_ms;

  // --- guarded by mutex ---
  std::mutex mutex;
  store::Profile profile;
  protocol::DeviceIdentity identity;
  crypto::SigningKeyPair account_key;
  store::OwnAccount own;          // empty account_id until registered
  std::string token_to_register;  // set while create() registers
  std::string handle_to_register;
  std::map<std::string, CheckedContact> directory;  // the relay's latest answer, checked
  std::deque<v1::Delivery> pending;     // deliveries waiting to be processed, in relay order
  std::set<std::string> refreshed_for;  // unknown senders a directory refresh was made for
  bool refreshing = false;
  bool drain_seen = false;
  std::uint64_t arrivals = 0;  // messages received since open
  std::uint64_t taken = 0;     // arrivals returned by take_unshown
  std::condition_variable state_changed;
  std::function<void(const Event&)> on_event;
  std::optional<v1::ServerFrame> auth_answer;

  // The connection: created by connect(); its callbacks lock `mutex` themselves.
  std::unique_ptr<net_client::RelayConnection> connection;
  net_client::RelayEndpoint endpoint;

  // --- helpers (callers hold the lock unless said otherwise) ---
  [[nodiscard]] protocol::SessionCipher cipher() {
    return protocol::SessionCipher(identity, profile.sessions(), profile.prekeys(), rng);
  }
  [[nodiscard]] std::string new_message_id();
  [[nodiscard]] Result<store::Contact> resolve(std::string_view reference);
  [[nodiscard]] ContactView view_of(const store::Contact& c) const;
  [[nodiscard]] MessageView view_of(const store::StoredMessage& m);
  // Merges a checked directory answer into the contact list; returns events to emit.
  [[nodiscard]] Result<std::vector<Event>> apply_directory(const v1::Contacts& contacts);
  [[nodiscard]] v1::ClientFrame authenticate(const v1::Welcome& welcome);
  void emit(const std::vector<Event>& events);  // without the lock

  // Network calls, without the lock.
  [[nodiscard]] Result<v1::ServerFrame> call(v1::ClientFrame frame);
  [[nodiscard]] Result<void> refresh_directory();
  [[nodiscard]] Result<void> replenish_prekeys(std::uint32_t remaining);
  // With the lock: new one-time prekeys stored, and the PublishPreKeys frame for them (nullopt
  // when the relay holds enough).
  [[nodiscard]] Result<std::optional<v1::ClientFrame>> prepare_prekeys(std::uint32_t remaining);

  // sending.cpp
  // Encrypts `content` (built with the message id given) to every device of `contact`, stores
  // the Send in the outbox (and a text in the message log) in one transaction; returns the frame.
  [[nodiscard]] Result<v1::ClientFrame> prepare_send(const store::Contact& contact,
                                                     const v1::Content& content);
  [[nodiscard]] Result<void> ensure_sessions(const std::string& account_id);
  [[nodiscard]] Result<MessageView> send_content(std::string_view contact,
                                                 const v1::Content& content);
  void on_send_answer(const std::string& message_id, const Result<v1::ServerFrame>& answer);
  void resend_outbox();

  // receiving.cpp (on the I/O thread)
  void on_push(const v1::ServerFrame& frame);
  void process_pending(std::unique_lock<std::mutex>& lock);
  void on_directory_refreshed(const Result<v1::ServerFrame>& answer);
  void send_receipts(const std::map<std::string, std::vector<std::string>>& ids_by_sender);
};

}  // namespace lotse::client
