// SPDX-License-Identifier: AGPL-3.0-or-later
// Session: the connection's state machine, the handshake, registration and login, the key
// directory, invites and contacts. Store-and-forward is in session_delivery.cpp, groups in
// session_groups.cpp, files in session_files.cpp.
#include "relay/session.hpp"

#include "relay/blob_reads.hpp"
#include "relay/ids.hpp"
#include "relay/log.hpp"
#include "relay/relay.hpp"
#include "relay/session_support.hpp"

#include "crypto/hash.hpp"
#include "crypto/rng.hpp"
#include "crypto/signing.hpp"
#include "lotse/v1/relay.pb.h"
#include "wire/invite_link.hpp"
#include "wire/login_transcript.hpp"

#include <algorithm>
#include <optional>

namespace lotse::relay {
namespace {

using support::blob_of;
using support::bytes_of;
using support::fill_device_keys;
using support::max_account_id_chars;
using support::protocol_version;
using support::to_proto;
using support::verify;
using v1::ErrorCode;

// Staff handles: what colleagues type and see. ASCII only, so that case-insensitive uniqueness is
// exact and no look-alike Unicode handles can impersonate a colleague.
bool valid_handle(const std::string& h) {
  if (h.empty() || h.size() > 32) {
    return false;
  }
  const auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(h.front())) {
    return false;
  }
  return std::all_of(h.begin(), h.end(),
                     [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

// Checks an IdentityPublic + device certificate + signed prekey as a client would.
std::optional<std::string> check_device(const std::string& account_key,
                                        const v1::DeviceKeys& device,
                                        const v1::SignedPreKeyPublic& spk) {
  const auto& id = device.identity();
  if (account_key.size() != 32 || id.signing_key().size() != 32 || id.dh_key().size() != 32 ||
      id.dh_key_signature().size() != 64 || device.device_certificate().size() != 64 ||
      spk.public_key().size() != 32 || spk.signature().size() != 64) {
    return "a key or signature has the wrong length";
  }
  if (!verify(bytes_of(id.signing_key()), "device-dh", bytes_of(id.dh_key()),
              id.dh_key_signature())) {
    return "the device's DH key signature does not verify";
  }
  const auto cert =
      wire::device_certificate_message(bytes_of(id.signing_key()), bytes_of(id.dh_key()));
  if (!verify(bytes_of(account_key), wire::device_certificate_context, cert,
              device.device_certificate())) {
    return "the device certificate does not verify with the account key";
  }
  if (!verify(bytes_of(id.signing_key()), "signed-prekey", bytes_of(spk.public_key()),
              spk.signature())) {
    return "the signed prekey's signature does not verify";
  }
  return std::nullopt;
}

}  // namespace

Session::Session(Relay& relay, std::weak_ptr<Connection> connection, std::uint64_t connection_id,
                 std::string peer_address)
    : relay_(relay),
      connection_(std::move(connection)),
      connection_id_(connection_id),
      peer_address_(std::move(peer_address)),
      opened_at_ms_(relay.clock().now_ms()),
      requests_(relay.limits().requests_per_second, relay.limits().request_burst, opened_at_ms_) {}

void Session::start() {
  log::debug("session.open", {{"conn", connection_id_}});
}

bool Session::send(v1::ServerFrame& frame) {
  auto conn = connection_.lock();
  if (!conn) {
    return false;
  }
  auto bytes = std::make_shared<std::string>();
  frame.SerializeToString(bytes.get());
  if (conn->send(std::move(bytes))) {
    return true;
  }
  if (frame.request_id() != 0) {
    // The peer does not read: its outgoing queue is full. An answer must not vanish silently (the
    // client would wait for it forever), so end the connection; the client reconnects and resends.
    log::warn("connection.closed",
              {{"conn", connection_id_}, {"reason", std::string("not_reading")}});
    conn->close(CloseReason::policy_violation);
  }
  return false;
}

void Session::reply_error(std::uint64_t request_id, int code, const std::string& message,
                          std::uint32_t retry_after_ms) {
  v1::ServerFrame frame;
  frame.set_request_id(request_id);
  auto* e = frame.mutable_error();
  e->set_code(static_cast<ErrorCode>(code));
  e->set_message(message);
  e->set_retry_after_ms(retry_after_ms);
  send(frame);
}

void Session::close(CloseReason reason) {
  if (auto conn = connection_.lock()) {
    conn->close(reason);
  }
}

void Session::on_closed() {
  if (state_ == State::authenticated) {
    relay_.unregister_online(device_, this);
  }
  state_ = State::closed;
  relay_.connection_closed(peer_address_);
  log::debug("session.close", {{"conn", connection_id_}});
}

void Session::replaced() {
  on_strand([this] {
    log::info("session.replaced", {{"conn", connection_id_}});
    close(CloseReason::policy_violation);
  });
}

void Session::erased() {
  on_strand([this] {
    log::info("session.account_erased", {{"conn", connection_id_}});
    close(CloseReason::normal);
  });
}

void Session::recheck_queue() {
  on_strand([this] {
    if (state_ == State::authenticated) {
      behind_ = true;
      maybe_drain();
    }
  });
}

void Session::on_frame(std::span<const std::uint8_t> bytes) {
  if (state_ == State::closed) {
    return;
  }
  const auto now = relay_.clock().now_ms();
  if (state_ != State::authenticated &&
      now - opened_at_ms_ > std::chrono::milliseconds(relay_.limits().auth_timeout).count()) {
    close(CloseReason::policy_violation);
    return;
  }
  v1::ClientFrame frame;
  if (!frame.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    reply_error(0, v1::BAD_REQUEST, "The frame is not a valid ClientFrame.");
    return;
  }
  const auto id = frame.request_id();
  if (id == 0) {
    reply_error(0, v1::BAD_REQUEST, "request_id must not be 0.");
    return;
  }
  using Body = v1::ClientFrame::BodyCase;
  const auto body = frame.body_case();
  // Once authenticated, UploadChunk and ReadBlob take tokens from the account's transfer bucket
  // (by bytes) instead: 1 GB/s in 1 MiB chunks is 1000 frames a second.
  const bool transfer =
      state_ == State::authenticated && (body == Body::kUploadChunk || body == Body::kReadBlob);
  if (!transfer && !requests_.take(now)) {
    reply_error(id, v1::RATE_LIMITED, "Too many requests on this connection.",
                requests_.retry_after_ms());
    return;
  }
  if (pending_ >= relay_.limits().max_pending_requests) {
    reply_error(id, v1::RATE_LIMITED, "Too many requests waiting on this connection.", 100);
    return;
  }
  if (relay_.shutting_down()) {
    reply_error(id, v1::SHUTTING_DOWN, "The relay is shutting down; reconnect later.", 1000);
    return;
  }

  if (body == Body::BODY_NOT_SET) {
    reply_error(id, v1::BAD_REQUEST, "The frame has no request.");
    return;
  }
  if (body == Body::kPing) {
    v1::ServerFrame pong;
    pong.set_request_id(id);
    pong.mutable_pong()->set_server_time_ms(static_cast<std::uint64_t>(now));
    send(pong);
    maybe_drain();
    return;
  }
  switch (state_) {
    case State::await_hello:
      if (body != Body::kHello) {
        reply_error(id, v1::HANDSHAKE_REQUIRED, "The first request must be Hello.");
        return;
      }
      on_hello(frame);
      return;
    case State::await_auth:
      if (body == Body::kRegister) {
        on_register(frame);
      } else if (body == Body::kLogin) {
        on_login(frame);
      } else if (body == Body::kHello) {
        reply_error(id, v1::HANDSHAKE_REQUIRED, "Hello was already sent on this connection.");
      } else {
        reply_error(id, v1::NOT_AUTHENTICATED, "Register or log in first.");
      }
      return;
    case State::authenticated:
      maybe_drain();
      switch (body) {
        case Body::kPublishPrekeys: on_publish_prekeys(frame); return;
        case Body::kFetchBundles: on_fetch_bundles(frame); return;
        case Body::kSend: on_send(frame); return;
        case Body::kAck: on_ack(frame); return;
        case Body::kCreateInvite: on_create_invite(frame); return;
        case Body::kListContacts: on_list_contacts(frame); return;
        case Body::kUpdateGroup: on_update_group(frame); return;
        case Body::kGetGroupLog: on_get_group_log(frame); return;
        case Body::kListGroups: on_list_groups(frame); return;
        case Body::kListDirectory: on_list_directory(frame); return;
        case Body::kCreateUpload: on_create_upload(frame); return;
        case Body::kUploadChunk: on_upload_chunk(frame); return;
        case Body::kGetUpload: on_get_upload(frame); return;
        case Body::kReadBlob: on_read_blob(frame); return;
        case Body::kDeleteBlob: on_delete_blob(frame); return;
        case Body::kGetPolicy: on_get_policy(frame); return;
        case Body::kSetPolicy: on_set_policy(frame); return;
        case Body::kExportAccount: on_export_account(frame); return;
        case Body::kDeleteAccount: on_delete_account(frame); return;
        case Body::kCloseConversation: on_close_conversation(frame); return;
        case Body::kSetInbox: on_set_inbox(frame); return;
        case Body::kListInboxes: on_list_inboxes(frame); return;
        case Body::kPublishInboxNotice: on_publish_inbox_notice(frame); return;
        case Body::kSetDuty: on_set_duty(frame); return;
        case Body::kListCases: on_list_cases(frame); return;
        case Body::kRequestHandover: on_request_handover(frame); return;
        case Body::kDeclineHandover: on_decline_handover(frame); return;
        case Body::kClaimCase: on_claim_case(frame); return;
        case Body::kRegister:
        case Body::kLogin:
          reply_error(id, v1::ALREADY_AUTHENTICATED, "This connection is already authenticated.");
          return;
        case Body::kHello:
          reply_error(id, v1::HANDSHAKE_REQUIRED, "Hello was already sent on this connection.");
          return;
        default: reply_error(id, v1::BAD_REQUEST, "Unknown request."); return;
      }
    case State::closed: return;
  }
}

// --- handshake and authentication -------------------------------------------------------------

void Session::on_hello(const v1::ClientFrame& frame) {
  const auto& hello = frame.hello();
  if (hello.protocol_version() != protocol_version) {
    reply_error(frame.request_id(), v1::UNSUPPORTED_VERSION,
                "This relay speaks protocol version 1 only.");
    return;
  }
  if (hello.client().size() > 64) {
    reply_error(frame.request_id(), v1::TOO_LARGE, "Hello.client is longer than 64 bytes.");
    return;
  }
  relay_.rng().fill(challenge_);
  state_ = State::await_auth;
  v1::ServerFrame reply;
  reply.set_request_id(frame.request_id());
  auto* w = reply.mutable_welcome();
  w->set_protocol_version(protocol_version);
  w->set_challenge(challenge_.data(), challenge_.size());
  w->set_certificate_pin(relay_.identity().certificate_pin.data(), 32);
  w->set_server_time_ms(static_cast<std::uint64_t>(relay_.clock().now_ms()));
  send(reply);
}

void Session::on_register(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& r = frame.register_();
  if (challenge_used_) {
    reply_error(id, v1::CHALLENGE_USED, "This connection's challenge was already used; reconnect.");
    return;
  }
  challenge_used_ = true;
  const auto& limits = relay_.limits();
  if (r.invite_token().size() != 43) {
    reply_error(id, v1::INVITE_INVALID, "The invite is not valid.");
    return;
  }
  if (static_cast<std::size_t>(r.one_time_prekeys_size()) > limits.max_prekeys_per_publish) {
    reply_error(id, v1::TOO_MANY_PREKEYS, "Too many one-time prekeys in one request.");
    return;
  }
  if (auto problem = check_device(r.account_key(), r.device(), r.signed_prekey())) {
    reply_error(id, v1::BAD_SIGNATURE, "Registration refused: " + *problem + ".");
    return;
  }
  if (!r.handle().empty() && !valid_handle(r.handle())) {
    reply_error(
        id, v1::BAD_REQUEST,
        "A handle is 1 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit.");
    return;
  }
  const auto transcript =
      wire::login_transcript(challenge_, relay_.identity().certificate_pin, "", 0);
  if (!verify(bytes_of(r.device().identity().signing_key()), wire::login_signature_context,
              transcript, r.challenge_signature())) {
    reply_error(id, v1::BAD_SIGNATURE, "The challenge signature does not verify.");
    return;
  }
  store::NewAccount account;
  account.handle = r.handle();
  account.public_id = random_account_id(relay_.rng());
  account.account_key = blob_of(r.account_key());
  const auto& identity = r.device().identity();
  account.device = {blob_of(identity.signing_key()), blob_of(identity.dh_key()),
                    blob_of(identity.dh_key_signature()), blob_of(r.device().device_certificate())};
  account.signed_prekey = {r.signed_prekey().id(), blob_of(r.signed_prekey().public_key()),
                           blob_of(r.signed_prekey().signature())};
  for (const auto& k : r.one_time_prekeys()) {
    if (k.public_key().size() != 32) {
      reply_error(id, v1::BAD_REQUEST, "A one-time prekey is not 32 bytes.");
      return;
    }
    account.one_time_prekeys.push_back({k.id(), blob_of(k.public_key())});
  }
  const auto token_hash = crypto::blake2b(bytes_of(r.invite_token()));

  struct Outcome {
    enum class HandleProblem { none, client, taken };
    HandleProblem handle = HandleProblem::none;
    store::InviteStatus status = store::InviteStatus::invalid;
    std::int64_t account = 0;
    std::int64_t device = 0;
    store::Role role = store::Role::client;
    std::string inviter;
    std::uint32_t prekeys = 0;
    std::string inbox_id;
    bool inbox_full = false;
    std::uint32_t retry_after_ms = 0;
  };
  const auto now = relay_.clock().now_ms();
  auto signing_key = blob_of(identity.signing_key());
  // Copied before the call: the order in which the two lambdas below are built (one moves
  // `account`) is unspecified, and clang builds the first one first.
  auto public_id = account.public_id;
  submit<Outcome>(
      id,
      [account = std::move(account), token_hash, now, relay = &relay_,
       default_cap = relay_.limits().inbox_max_open_cases](store::RelayStore& store) mutable {
        Outcome out;
        // Refusals leave the invite unused: check first, consume only when everything else holds
        // (this thread runs one job at a time, so nothing changes in between).
        auto use = store.check_invite(token_hash, now);
        out.status = use.status;
        if (use.status != store::InviteStatus::ok) {
          return out;
        }
        if (!account.handle.empty()) {
          if (use.role == store::Role::client) {
            out.handle = Outcome::HandleProblem::client;
            return out;
          }
          if (store.account_by_handle(account.handle) != nullptr) {
            out.handle = Outcome::HandleProblem::taken;
            return out;
          }
        }
        // A flyer invite of a counselling inbox: the inbox caps how many new clients wait.
        const auto inbox_row = store.invite_inbox(token_hash);
        const store::Inbox* inbox = inbox_row ? store.inbox(*inbox_row) : nullptr;
        if (inbox != nullptr) {
          const auto cap = inbox->max_open_cases != 0 ? inbox->max_open_cases : default_cap;
          if (store.open_cases(inbox->id) >= cap ||
              !relay->take_inbox_registration(inbox->id, out.retry_after_ms)) {
            out.inbox_full = true;
            return out;
          }
          out.inbox_id.assign(inbox->inbox_id.begin(), inbox->inbox_id.end());
        }
        use = store.consume_invite(token_hash, now);
        out.status = use.status;
        if (use.status != store::InviteStatus::ok) {
          return out;
        }
        account.role = use.role;
        account.inviter = inbox != nullptr ? std::nullopt : use.inviter;
        const auto [a, d] = store.create_account(account, now);
        if (inbox != nullptr) {
          store.add_inbox_client(a->id, inbox->id, now);
        } else if (use.role == store::Role::client && use.inviter) {
          store.connect(a->id, *use.inviter, now);
        }
        if (use.inviter && inbox == nullptr) {
          if (const auto* inviter = store.account(*use.inviter)) {
            out.inviter = inviter->public_id;
          }
        }
        out.account = a->id;
        out.device = d->id;
        out.role = a->role;
        out.prekeys = store.one_time_prekey_count(d->id);
        return out;
      },
      [this, id, public_id = std::move(public_id),
       signing_key = std::move(signing_key)](Outcome out) mutable {
        if (out.handle == Outcome::HandleProblem::client) {
          reply_error(id, v1::BAD_REQUEST,
                      "Client accounts have no handle on the relay; share your name end to end.");
          return;
        }
        if (out.handle == Outcome::HandleProblem::taken) {
          reply_error(id, v1::HANDLE_TAKEN, "That handle is taken; choose another.");
          return;
        }
        if (out.inbox_full) {
          reply_error(id, v1::INBOX_FULL,
                      "This counselling inbox cannot take new clients right now; try again later.",
                      out.retry_after_ms == 0 ? 3'600'000 : out.retry_after_ms);
          return;
        }
        switch (out.status) {
          case store::InviteStatus::invalid:
            reply_error(id, v1::INVITE_INVALID, "The invite is not valid.");
            return;
          case store::InviteStatus::expired:
            reply_error(id, v1::INVITE_EXPIRED, "The invite has expired.");
            return;
          case store::InviteStatus::used:
            reply_error(id, v1::INVITE_USED, "The invite was already used.");
            return;
          case store::InviteStatus::ok: break;
        }
        log::info("account.registered",
                  {{"conn", connection_id_}, {"role", static_cast<std::int64_t>(out.role)}});
        v1::ServerFrame reply;
        reply.set_request_id(id);
        auto* r2 = reply.mutable_registered();
        r2->set_account_id(public_id);
        r2->set_device_id(1);
        r2->set_role(to_proto(out.role));
        r2->set_inviter_account_id(out.inviter);
        r2->set_inbox_id(out.inbox_id);
        send(reply);
        authenticated(out.account, out.device, public_id, 1, out.role, std::move(signing_key));
      });
}

void Session::on_login(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& l = frame.login();
  if (challenge_used_) {
    reply_error(id, v1::CHALLENGE_USED, "This connection's challenge was already used; reconnect.");
    return;
  }
  challenge_used_ = true;
  if (l.account_id().empty() || l.account_id().size() > max_account_id_chars ||
      l.challenge_signature().size() != 64) {
    reply_error(id, v1::BAD_REQUEST, "Login needs an account id and a 64-byte signature.");
    return;
  }
  struct Outcome {
    bool found = false;
    std::int64_t account = 0;
    std::int64_t device = 0;
    store::Role role = store::Role::client;
    std::vector<std::uint8_t> signing_key;
    std::uint32_t prekeys = 0;
    std::uint32_t queued = 0;
  };
  const auto now = relay_.clock().now_ms();
  submit<Outcome>(
      id,
      [account_id = l.account_id(), device_no = l.device_id()](store::RelayStore& store) {
        Outcome out;
        const auto* a = store.account_by_public_id(account_id);
        const auto* d = a != nullptr ? store.device(a->id, device_no) : nullptr;
        if (d == nullptr) {
          return out;
        }
        out.found = true;
        out.account = a->id;
        out.device = d->id;
        out.role = a->role;
        out.signing_key = d->keys.signing_key;
        out.prekeys = store.one_time_prekey_count(d->id);
        out.queued = store.queued(d->id);
        return out;
      },
      [this, id, now, account_id = l.account_id(), device_no = l.device_id(),
       signature = l.challenge_signature()](Outcome out) mutable {
        if (!out.found) {
          reply_error(id, v1::UNKNOWN_ACCOUNT, "No such account or device on this relay.");
          return;
        }
        const auto transcript = wire::login_transcript(
            challenge_, relay_.identity().certificate_pin, account_id, device_no);
        if (!verify(out.signing_key, wire::login_signature_context, transcript, signature)) {
          reply_error(id, v1::BAD_SIGNATURE, "The challenge signature does not verify.");
          return;
        }
        // Only a verified login is activity: last_seen_at drives inactivity policies, and a
        // stranger who knows an account id must not be able to keep it alive (or make us write).
        (void)relay_.executor().submit<bool>(
            [account = out.account, now](store::RelayStore& store) {
              store.touch(account, now);
              return true;
            },
            [](std::optional<bool>) {});
        v1::ServerFrame reply;
        reply.set_request_id(id);
        auto* li = reply.mutable_logged_in();
        li->set_role(to_proto(out.role));
        li->set_one_time_prekeys_remaining(out.prekeys);
        li->set_queued_envelopes(out.queued);
        send(reply);
        authenticated(out.account, out.device, std::move(account_id), device_no, out.role,
                      std::move(out.signing_key));
      });
}

void Session::authenticated(std::int64_t account, std::int64_t device, std::string public_id,
                            std::uint32_t device_no, store::Role role,
                            std::vector<std::uint8_t> signing_key) {
  state_ = State::authenticated;
  account_ = account;
  device_ = device;
  account_public_id_ = std::move(public_id);
  device_no_ = device_no;
  role_ = role;
  signing_key_ = std::move(signing_key);
  if (auto previous = relay_.register_online(device_, shared_from_this())) {
    previous->replaced();
  }
  log::debug("session.authenticated", {{"conn", connection_id_}});
  behind_ = true;
  maybe_drain();
}

// --- key directory ----------------------------------------------------------------------------

void Session::on_publish_prekeys(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& p = frame.publish_prekeys();
  const auto& limits = relay_.limits();
  if (static_cast<std::size_t>(p.one_time_prekeys_size()) > limits.max_prekeys_per_publish) {
    reply_error(id, v1::TOO_MANY_PREKEYS, "Too many one-time prekeys in one request.");
    return;
  }
  std::optional<store::SignedPreKey> spk;
  if (p.has_signed_prekey()) {
    const auto& s = p.signed_prekey();
    if (s.public_key().size() != 32 || s.signature().size() != 64 ||
        !verify(signing_key_, "signed-prekey", bytes_of(s.public_key()), s.signature())) {
      reply_error(id, v1::BAD_SIGNATURE, "The signed prekey's signature does not verify.");
      return;
    }
    spk = store::SignedPreKey{s.id(), blob_of(s.public_key()), blob_of(s.signature())};
  }
  std::vector<store::OneTimePreKey> keys;
  for (const auto& k : p.one_time_prekeys()) {
    if (k.public_key().size() != 32) {
      reply_error(id, v1::BAD_REQUEST, "A one-time prekey is not 32 bytes.");
      return;
    }
    keys.push_back({k.id(), blob_of(k.public_key())});
  }
  struct Outcome {
    bool too_many = false;
    std::uint32_t remaining = 0;
  };
  submit<Outcome>(
      id,
      [device = device_, spk = std::move(spk), keys = std::move(keys),
       max = limits.max_one_time_prekeys](store::RelayStore& store) {
        Outcome out;
        if (store.one_time_prekey_count(device) + keys.size() > max) {
          out.too_many = true;
          out.remaining = store.one_time_prekey_count(device);
          return out;
        }
        if (spk) {
          store.set_signed_prekey(device, *spk);
        }
        store.add_one_time_prekeys(device, keys);
        out.remaining = store.one_time_prekey_count(device);
        return out;
      },
      [this, id](Outcome out) {
        if (out.too_many) {
          reply_error(id, v1::TOO_MANY_PREKEYS,
                      "Publishing these would store more one-time prekeys than the relay allows.");
          return;
        }
        v1::ServerFrame reply;
        reply.set_request_id(id);
        reply.mutable_prekeys_published()->set_one_time_prekeys_remaining(out.remaining);
        send(reply);
      });
}

void Session::on_fetch_bundles(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& target = frame.fetch_bundles().account_id();
  if (target.empty() || target.size() > max_account_id_chars) {
    reply_error(id, v1::BAD_REQUEST, "FetchBundles needs an account id.");
    return;
  }
  struct Outcome {
    int error = 0;
    v1::Bundles bundles;
    std::vector<std::pair<std::int64_t, std::uint32_t>> low;  // device, remaining
  };
  submit<Outcome>(
      id,
      [from = account_, target, threshold = relay_.limits().low_prekey_threshold,
       now = relay_.clock().now_ms()](store::RelayStore& store) {
        Outcome out;
        const auto* a = store.account_by_public_id(target);
        if (a == nullptr) {
          out.error = v1::UNKNOWN_RECIPIENT;
          return out;
        }
        if (!store.may_reach(from, a->id)) {
          out.error = v1::NOT_AUTHORIZED;
          return out;
        }
        out.bundles.set_account_id(a->public_id);
        out.bundles.set_account_key(a->account_key.data(), a->account_key.size());
        for (const auto* d : store.devices_of(a->id)) {
          auto* db = out.bundles.add_devices();
          db->set_device_id(d->device_no);
          auto* keys = db->mutable_device();
          fill_device_keys(*keys, d->keys);
          auto* bundle = db->mutable_bundle();
          *bundle->mutable_identity() = keys->identity();
          auto* spk = bundle->mutable_signed_prekey();
          spk->set_id(d->signed_prekey.id);
          spk->set_public_key(d->signed_prekey.public_key.data(),
                              d->signed_prekey.public_key.size());
          spk->set_signature(d->signed_prekey.signature.data(), d->signed_prekey.signature.size());
          if (auto opk = store.take_one_time_prekey(d->id, now)) {
            auto* o = bundle->mutable_one_time_prekey();
            o->set_id(opk->id);
            o->set_public_key(opk->public_key.data(), opk->public_key.size());
          }
          const auto remaining = store.one_time_prekey_count(d->id);
          if (remaining < threshold) {
            out.low.emplace_back(d->id, remaining);
          }
        }
        return out;
      },
      [this, id](Outcome out) {
        if (out.error == v1::UNKNOWN_RECIPIENT) {
          reply_error(id, out.error, "No such account on this relay.");
          return;
        }
        if (out.error == v1::NOT_AUTHORIZED) {
          reply_error(id, out.error, "This account may not contact that account.");
          return;
        }
        v1::ServerFrame reply;
        reply.set_request_id(id);
        *reply.mutable_bundles() = std::move(out.bundles);
        send(reply);
        for (const auto& [device, remaining] : out.low) {
          if (auto owner = relay_.online(device)) {
            owner->push_prekeys_low(remaining);
          }
        }
      });
}

void Session::push_prekeys_low(std::uint32_t remaining) {
  on_strand([this, remaining] {
    v1::ServerFrame frame;
    frame.mutable_prekeys_low()->set_one_time_prekeys_remaining(remaining);
    send(frame);
  });
}

// --- invites and contacts ---------------------------------------------------------------------

void Session::on_create_invite(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& c = frame.create_invite();
  const auto& limits = relay_.limits();
  const auto role = static_cast<int>(c.role());
  if (role < 1 || role > 3) {
    reply_error(id, v1::BAD_REQUEST, "CreateInvite needs a role.");
    return;
  }
  if (role_ == store::Role::client ||
      (role_ == store::Role::staff && role != static_cast<int>(store::Role::client))) {
    reply_error(id, v1::NOT_AUTHORIZED, "This account may not create that kind of invite.");
    return;
  }
  const bool flyer = !c.inbox_id().empty();
  if (flyer && (role_ != store::Role::admin || role != static_cast<int>(store::Role::client))) {
    reply_error(id, v1::NOT_AUTHORIZED, "Only admins create an inbox's (client) flyer invite.");
    return;
  }
  if (flyer && c.inbox_id().size() != 16) {
    reply_error(id, v1::BAD_REQUEST, "inbox_id is 16 bytes.");
    return;
  }
  const std::uint32_t uses = c.uses() == 0 ? 1 : c.uses();
  if (uses > (flyer ? limits.max_inbox_invite_uses : limits.max_invite_uses)) {
    reply_error(id, v1::BAD_REQUEST, "Too many uses for one invite.");
    return;
  }
  const auto max_s =
      (flyer ? limits.max_inbox_invite_lifetime : limits.max_invite_lifetime).count();
  const std::int64_t lifetime_s = c.expires_in_seconds() != 0 ? c.expires_in_seconds()
                                  : flyer ? limits.max_inbox_invite_lifetime.count()
                                          : limits.default_invite_lifetime.count();
  if (lifetime_s > max_s) {
    reply_error(id, v1::BAD_REQUEST, "The invite lifetime is longer than the relay allows.");
    return;
  }
  std::array<std::uint8_t, 32> token_bytes{};
  relay_.rng().fill(token_bytes);
  const auto token = wire::base64url(token_bytes.data(), token_bytes.size());
  const auto hash = crypto::blake2b(bytes_of(token));
  const auto now = relay_.clock().now_ms();
  const auto expires = now + lifetime_s * 1000;
  const char* role_name = role == static_cast<int>(store::Role::admin)   ? "admin"
                          : role == static_cast<int>(store::Role::staff) ? "staff"
                                                                         : "client";
  wire::InviteLink link;
  link.host = relay_.identity().public_host;
  link.port = relay_.identity().public_port;
  link.token = token;
  link.pin = relay_.identity().certificate_pin;
  link.role = role_name;
  // The line is made in the job: a flyer invite names its inbox's signer key.
  submit<std::string>(
      id,
      [hash, role, inviter = account_, uses, expires, now, link,
       inbox_id = c.inbox_id()](store::RelayStore& store) mutable {
        const store::Inbox* inbox = nullptr;
        if (!inbox_id.empty()) {
          inbox = store.inbox_by_id(bytes_of(inbox_id));
          const auto* signer =
              inbox != nullptr && inbox->signer ? store.account(*inbox->signer) : nullptr;
          if (signer == nullptr || signer->account_key.size() != link.signer.size()) {
            return std::string();  // no such inbox (or its signer is gone): UNKNOWN_INBOX
          }
          link.inbox.emplace();
          std::copy(inbox->inbox_id.begin(), inbox->inbox_id.end(), link.inbox->begin());
          std::copy(signer->account_key.begin(), signer->account_key.end(), link.signer.begin());
        }
        store.create_invite(hash, static_cast<store::Role>(role), inviter, uses, expires, now);
        if (inbox != nullptr) {
          store.set_invite_inbox(hash, inbox->id);
        }
        return link.to_string();
      },
      [this, id, expires](std::string line) {
        if (line.empty()) {
          reply_error(id, v1::UNKNOWN_INBOX, "No such inbox, or it has no signing admin.");
          return;
        }
        v1::ServerFrame reply;
        reply.set_request_id(id);
        reply.mutable_invite_created()->set_invite(line);
        reply.mutable_invite_created()->set_expires_at_ms(static_cast<std::uint64_t>(expires));
        send(reply);
      });
}

void Session::on_list_contacts(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  submit<v1::Contacts>(
      id,
      [account = account_](store::RelayStore& store) {
        v1::Contacts out;
        for (const auto* a : store.contacts_of(account)) {
          support::fill_contact(*out.add_contacts(), store, *a);
        }
        return out;
      },
      [this, id](v1::Contacts contacts) {
        v1::ServerFrame reply;
        reply.set_request_id(id);
        *reply.mutable_contacts() = std::move(contacts);
        send(reply);
      });
}

}  // namespace lotse::relay