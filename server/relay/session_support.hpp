// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Internal to server/relay: what the Session's source files (session.cpp, session_delivery.cpp,
// session_groups.cpp, session_files.cpp) share: small conversions between protobuf fields and store
// types, the fixed bounds of requests, and the definitions of Session's strand and database
// templates.
#include "relay/relay.hpp"
#include "relay/session.hpp"

#include "crypto/signing.hpp"
#include "lotse/v1/relay.pb.h"
#include "store/relay_store.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace lotse::relay {
namespace support {

inline constexpr std::uint32_t protocol_version = 1;
inline constexpr std::size_t client_message_id_bytes = 16;
inline constexpr std::size_t max_account_id_chars = 64;
inline constexpr std::size_t blob_id_bytes = 32;

inline std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

inline std::vector<std::uint8_t> blob_of(const std::string& s) {
  return {s.begin(), s.end()};
}

inline bool same_bytes(const std::string& s, const std::vector<std::uint8_t>& blob) {
  return s.size() == blob.size() &&
         std::equal(s.begin(), s.end(), blob.begin(),
                    [](char c, std::uint8_t b) { return static_cast<std::uint8_t>(c) == b; });
}

inline v1::Role to_proto(store::Role r) {
  return static_cast<v1::Role>(static_cast<int>(r));
}

inline void fill_device_keys(v1::DeviceKeys& out, const store::DeviceKeys& keys) {
  auto* ident = out.mutable_identity();
  ident->set_signing_key(keys.signing_key.data(), keys.signing_key.size());
  ident->set_dh_key(keys.dh_key.data(), keys.dh_key.size());
  ident->set_dh_key_signature(keys.dh_signature.data(), keys.dh_signature.size());
  out.set_device_certificate(keys.device_certificate.data(), keys.device_certificate.size());
}

// An account as ListContacts and ListDirectory show it: role, handle, account key, devices.
inline void fill_contact(v1::Contact& c, const store::RelayStore& store, const store::Account& a) {
  c.set_account_id(a.public_id);
  c.set_role(to_proto(a.role));
  c.set_handle(a.handle);
  c.set_account_key(a.account_key.data(), a.account_key.size());
  for (const auto* d : store.devices_of(a.id)) {
    auto* cd = c.add_devices();
    cd->set_device_id(d->device_no);
    fill_device_keys(*cd->mutable_device(), d->keys);
  }
}

// Verifies a domain-separated Ed25519 signature given as raw protobuf bytes.
inline bool verify(std::span<const std::uint8_t> public_key, const char* context,
                   std::span<const std::uint8_t> message, const std::string& signature) {
  auto key = crypto::Ed25519PublicKey::from_bytes(public_key);
  auto sig = crypto::Signature::from_bytes(bytes_of(signature));
  return key && sig && crypto::verify(*key, context, message, *sig);
}

// Send.blob_ids (docs/PROTOCOL.md 2.18; session_files.cpp). Before the transaction: at most
// max_blobs_per_send (TOO_LARGE), each 32 bytes (BAD_REQUEST); 0 if they pass, else the code and
// `message`.
[[nodiscard]] int check_blob_ids(const v1::Send& send, const Limits& limits, const char*& message);
// In the Send's transaction: each blob is `account`'s and not expired at `now` (UNKNOWN_BLOB) and
// complete (BLOB_INCOMPLETE). Fills `rows` with their rows; 0 or the code.
[[nodiscard]] int check_send_blobs(store::RelayStore& store, const v1::Send& send,
                                   std::int64_t account, std::int64_t now,
                                   std::vector<std::int64_t>& rows);
// In the same transaction, once the Send is accepted: every account of `readers` but the owner
// may read the blobs.
void grant_blobs(store::RelayStore& store, const std::vector<std::int64_t>& rows,
                 const std::set<std::int64_t>& readers, std::int64_t owner);
// What the relay holds about `account` as a counselling inbox's client or staff member, and its
// cases (session_inboxes.cpp), for ExportAccount.
void fill_inbox_export(v1::AccountExport& out, const store::RelayStore& store,
                       std::int64_t account);
// The sentence for an error of check_send_blobs.
[[nodiscard]] const char* send_blob_error_message(int code);

}  // namespace support

template <class Fn>
void Session::on_strand(Fn&& fn) {
  if (auto conn = connection_.lock()) {
    conn->post([self = shared_from_this(), fn = std::forward<Fn>(fn)]() mutable {
      if (self->state_ != State::closed) {
        fn();
      }
    });
  }
}

template <class R, class Run, class Done, class Committed>
void Session::submit(std::uint64_t request_id, Run&& run, Done&& done, Committed&& committed) {
  ++pending_;
  auto self = shared_from_this();
  const bool queued = relay_.executor().submit<R>(
      std::function<R(store::RelayStore&)>(std::forward<Run>(run)),
      std::function<void(std::optional<R>)>(
          [self, request_id, done = std::forward<Done>(done),
           committed = std::forward<Committed>(committed)](std::optional<R> result) mutable {
            if (result) {
              committed(*result);
            }
            auto shared = std::make_shared<std::optional<R>>(std::move(result));
            self->on_strand([self, request_id, shared, done = std::move(done)]() mutable {
              --self->pending_;
              if (!*shared) {
                self->reply_error(request_id, v1::INTERNAL,
                                  "The relay could not complete the request; nothing was changed.");
                return;
              }
              done(std::move(**shared));
            });
          }));
  if (!queued) {
    --pending_;
    reply_error(request_id, relay_.shutting_down() ? v1::SHUTTING_DOWN : v1::RATE_LIMITED,
                relay_.shutting_down() ? "The relay is shutting down; reconnect later."
                                       : "The relay is busy; retry shortly.",
                1000);
  }
}

}  // namespace lotse::relay
