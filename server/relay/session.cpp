// SPDX-License-Identifier: AGPL-3.0-or-later
#include "relay/session.hpp"

#include "relay/ids.hpp"
#include "relay/log.hpp"
#include "relay/relay.hpp"

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

void fill_device_keys(v1::DeviceKeys& out, const store::DeviceKeys& keys) {
  auto* ident = out.mutable_identity();
  ident->set_signing_key(keys.signing_key.data(), keys.signing_key.size());
  ident->set_dh_key(keys.dh_key.data(), keys.dh_key.size());
  ident->set_dh_key_signature(keys.dh_signature.data(), keys.dh_signature.size());
  out.set_device_certificate(keys.device_certificate.data(), keys.device_certificate.size());
}

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

using v1::ErrorCode;

constexpr std::uint32_t protocol_version = 1;
constexpr std::size_t client_message_id_bytes = 16;
constexpr std::size_t max_account_id_chars = 64;

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::vector<std::uint8_t> blob_of(const std::string& s) {
  return {s.begin(), s.end()};
}

template <class Key>
std::optional<Key> key_of(const std::string& s) {
  return Key::from_bytes(bytes_of(s));
}

// Verifies a domain-separated Ed25519 signature given as raw protobuf bytes.
bool verify(std::span<const std::uint8_t> public_key, const char* context,
            std::span<const std::uint8_t> message, const std::string& signature) {
  auto key = crypto::Ed25519PublicKey::from_bytes(public_key);
  auto sig = crypto::Signature::from_bytes(bytes_of(signature));
  return key && sig && crypto::verify(*key, context, message, *sig);
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

v1::Role to_proto(store::Role r) {
  return static_cast<v1::Role>(static_cast<int>(r));
}

// Upper bounds on the encoded size of a Deliveries frame: the ServerFrame's tag and length, and per
// Delivery its variable-length fields plus at most 64 bytes of tags, lengths and integers.
constexpr std::size_t frame_overhead_bytes = 16;
std::size_t delivery_bytes(const store::StoredEnvelope& e) {
  return e.ciphertext.size() + e.client_message_id.size() + e.sender_account.size() + 64;
}

void fill_delivery(v1::Delivery& d, const store::StoredEnvelope& e) {
  d.set_envelope_id(static_cast<std::uint64_t>(e.id));
  d.set_sender_account_id(e.sender_account);
  d.set_sender_device_id(e.sender_device_no);
  d.set_client_message_id(e.client_message_id.data(), e.client_message_id.size());
  d.set_ciphertext(e.ciphertext.data(), e.ciphertext.size());
  d.set_server_time_ms(static_cast<std::uint64_t>(e.created_at));
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
  if (!requests_.take(now)) {
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

  using Body = v1::ClientFrame::BodyCase;
  const auto body = frame.body_case();
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
  };
  const auto now = relay_.clock().now_ms();
  auto signing_key = blob_of(identity.signing_key());
  // Copied before the call: the order in which the two lambdas below are built (one moves
  // `account`) is unspecified, and clang builds the first one first.
  auto public_id = account.public_id;
  submit<Outcome>(
      id,
      [account = std::move(account), token_hash, now](store::RelayStore& store) mutable {
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
        use = store.consume_invite(token_hash, now);
        out.status = use.status;
        if (use.status != store::InviteStatus::ok) {
          return out;
        }
        account.role = use.role;
        account.inviter = use.inviter;
        const auto [a, d] = store.create_account(account, now);
        if (use.role == store::Role::client && use.inviter) {
          store.connect(a->id, *use.inviter, now);
        }
        if (use.inviter) {
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
      [from = account_, target,
       threshold = relay_.limits().low_prekey_threshold](store::RelayStore& store) {
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
          if (auto opk = store.take_one_time_prekey(d->id)) {
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

// --- store and forward ------------------------------------------------------------------------

void Session::on_send(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& s = frame.send();
  const auto& limits = relay_.limits();
  if (s.client_message_id().size() != client_message_id_bytes) {
    reply_error(id, v1::BAD_REQUEST, "client_message_id must be 16 bytes.");
    return;
  }
  if (s.envelopes_size() == 0) {
    reply_error(id, v1::BAD_REQUEST, "Send needs at least one envelope.");
    return;
  }
  if (static_cast<std::size_t>(s.envelopes_size()) > limits.max_envelopes_per_send) {
    reply_error(id, v1::TOO_MANY_ENVELOPES, "Too many envelopes in one Send.");
    return;
  }
  for (int i = 0; i < s.envelopes_size(); ++i) {
    const auto& e = s.envelopes(i);
    if (e.ciphertext().size() > limits.max_envelope_bytes || e.ciphertext().empty() ||
        e.recipient_account_id().empty() ||
        e.recipient_account_id().size() > max_account_id_chars) {
      v1::ServerFrame reply;
      reply.set_request_id(id);
      auto* err = reply.mutable_error();
      err->set_code(e.ciphertext().size() > limits.max_envelope_bytes ? v1::TOO_LARGE
                                                                      : v1::BAD_REQUEST);
      err->set_message(e.ciphertext().size() > limits.max_envelope_bytes
                           ? "An envelope is larger than the relay allows."
                           : "An envelope needs a recipient and a ciphertext.");
      err->add_envelope_indices(static_cast<std::uint32_t>(i));
      send(reply);
      return;
    }
  }
  std::uint32_t retry = 0;
  if (!relay_.take_message_tokens(account_, 1, retry)) {
    reply_error(id, v1::RATE_LIMITED, "This account is sending too fast.", retry);
    return;
  }

  struct Outcome {
    int error = 0;
    std::vector<std::uint32_t> refused;
    bool duplicate = false;
    std::int64_t time = 0;
    std::vector<std::shared_ptr<const store::StoredEnvelope>> stored;
  };
  const auto now = relay_.clock().now_ms();
  // The request is moved into the job; the frame outlives nothing here.
  auto request = std::make_shared<v1::Send>(s);
  submit<Outcome>(
      id,
      [request, from_account = account_, from_device = device_, sender = account_public_id_,
       sender_no = device_no_, now, max_queued = limits.max_queued_envelopes_per_device,
       lifetime = std::chrono::milliseconds(limits.envelope_lifetime).count(),
       dedup =
           std::chrono::milliseconds(limits.send_dedup_window).count()](store::RelayStore& store) {
        Outcome out;
        out.time = now;
        const auto cmid = bytes_of(request->client_message_id());
        // A resend of an accepted message is answered as such, whatever changed since (a full
        // queue, a revoked connection): the client must learn that it arrived.
        if (store.send_seen(from_device, cmid, now)) {
          out.duplicate = true;
          return out;
        }
        std::vector<std::int64_t> devices(static_cast<std::size_t>(request->envelopes_size()));
        std::unordered_map<std::int64_t, std::uint32_t> adding;
        for (int i = 0; i < request->envelopes_size(); ++i) {
          const auto& e = request->envelopes(i);
          const auto* a = store.account_by_public_id(e.recipient_account_id());
          const auto* d = a != nullptr ? store.device(a->id, e.recipient_device_id()) : nullptr;
          int code = 0;
          if (d == nullptr) {
            code = v1::UNKNOWN_RECIPIENT;
          } else if (!store.may_reach(from_account, a->id)) {
            code = v1::NOT_AUTHORIZED;
          } else if (store.queued(d->id) + ++adding[d->id] > max_queued) {
            code = v1::QUEUE_FULL;
          }
          if (code != 0) {
            if (out.error == 0) {
              out.error = code;
            }
            out.refused.push_back(static_cast<std::uint32_t>(i));
          } else {
            devices[static_cast<std::size_t>(i)] = d->id;
          }
        }
        if (out.error != 0) {
          return out;  // nothing stored
        }
        if (!store.remember_send(from_device, cmid, now + dedup, now)) {
          out.duplicate = true;
          return out;
        }
        for (int i = 0; i < request->envelopes_size(); ++i) {
          const auto& e = request->envelopes(i);
          auto env = std::make_shared<store::StoredEnvelope>();
          env->recipient_device = devices[static_cast<std::size_t>(i)];
          env->id = store.insert_envelope(env->recipient_device, from_device, cmid,
                                          bytes_of(e.ciphertext()), now, now + lifetime);
          env->sender_device = from_device;
          env->sender_account = sender;
          env->sender_device_no = sender_no;
          env->client_message_id.assign(cmid.begin(), cmid.end());
          env->ciphertext = blob_of(e.ciphertext());
          env->created_at = now;
          out.stored.push_back(std::move(env));
        }
        return out;
      },
      [this, id](Outcome out) {
        if (out.error != 0) {
          v1::ServerFrame reply;
          reply.set_request_id(id);
          auto* err = reply.mutable_error();
          err->set_code(static_cast<ErrorCode>(out.error));
          err->set_message(out.error == v1::UNKNOWN_RECIPIENT
                               ? "A recipient does not exist on this relay; nothing was stored."
                           : out.error == v1::NOT_AUTHORIZED
                               ? "This account may not write to a recipient; nothing was stored."
                               : "A recipient's queue is full; nothing was stored.");
          for (auto i : out.refused) {
            err->add_envelope_indices(i);
          }
          send(reply);
          return;
        }
        v1::ServerFrame reply;
        reply.set_request_id(id);
        reply.mutable_sent()->set_server_time_ms(static_cast<std::uint64_t>(out.time));
        reply.mutable_sent()->set_duplicate(out.duplicate);
        send(reply);
      },
      [relay = &relay_](const Outcome& out) {
        for (const auto& env : out.stored) {
          relay->route(env);
        }
      });
}

void Session::on_ack(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& a = frame.ack();
  if (a.envelope_ids_size() == 0 ||
      static_cast<std::size_t>(a.envelope_ids_size()) > relay_.limits().max_acks_per_frame) {
    reply_error(id, v1::BAD_REQUEST, "Ack needs between 1 and max_acks_per_frame envelope ids.");
    return;
  }
  std::vector<std::int64_t> ids;
  ids.reserve(static_cast<std::size_t>(a.envelope_ids_size()));
  for (auto e : a.envelope_ids()) {
    ids.push_back(static_cast<std::int64_t>(e));
  }
  submit<std::size_t>(
      id,
      [device = device_, ids](store::RelayStore& store) {
        return store.delete_envelopes(device, ids);
      },
      [this, id, ids](std::size_t) {
        for (auto e : ids) {
          unacked_.erase(e);
        }
        v1::ServerFrame reply;
        reply.set_request_id(id);
        reply.mutable_acked();
        send(reply);
        maybe_drain();
      });
}

// --- delivery ---------------------------------------------------------------------------------

void Session::push(std::shared_ptr<const store::StoredEnvelope> envelope) {
  on_strand([this, envelope = std::move(envelope)] { on_push(envelope); });
}

void Session::on_push(const std::shared_ptr<const store::StoredEnvelope>& envelope) {
  if (state_ != State::authenticated || behind_ || draining_ || envelope->id <= cursor_) {
    return;  // a database read will pick it up, in order
  }
  if (unacked_.size() >= relay_.limits().max_unacked_deliveries || !deliver({envelope.get()})) {
    behind_ = true;
  }
}

bool Session::deliver(const std::vector<const store::StoredEnvelope*>& envelopes) {
  v1::ServerFrame frame;
  auto* list = frame.mutable_deliveries();
  for (const auto* e : envelopes) {
    fill_delivery(*list->add_deliveries(), *e);
  }
  if (!send(frame)) {
    return false;
  }
  for (const auto* e : envelopes) {
    cursor_ = std::max(cursor_, e->id);
    unacked_.insert(e->id);
  }
  return true;
}

void Session::maybe_drain() {
  if (state_ != State::authenticated || !behind_ || draining_) {
    return;
  }
  const auto window = relay_.limits().max_unacked_deliveries;
  if (unacked_.size() >= window) {
    return;
  }
  const auto room = window - unacked_.size();
  draining_ = true;
  auto self = shared_from_this();
  const bool queued = relay_.executor().submit<std::vector<store::StoredEnvelope>>(
      [device = device_, cursor = cursor_, room](store::RelayStore& store) {
        return store.read_envelopes(device, cursor, room);
      },
      [self, room](std::optional<std::vector<store::StoredEnvelope>> rows) {
        auto shared =
            std::make_shared<std::optional<std::vector<store::StoredEnvelope>>>(std::move(rows));
        self->on_strand([self, shared, room] {
          self->draining_ = false;
          if (*shared) {
            self->on_drained(std::move(**shared), room);
          }
        });
      });
  if (!queued) {
    draining_ = false;
  }
}

void Session::on_drained(std::vector<store::StoredEnvelope> envelopes, std::size_t requested) {
  const auto per_frame = relay_.limits().max_deliveries_per_frame;
  // A Deliveries frame also stays within max_frame_bytes (one envelope always fits): a frame of
  // max_deliveries_per_frame large envelopes could exceed max_outgoing_bytes, never be queued, and
  // block the device's queue for good.
  const auto max_bytes = relay_.limits().max_frame_bytes;
  std::vector<const store::StoredEnvelope*> batch;
  std::size_t batch_bytes = frame_overhead_bytes;
  for (const auto& e : envelopes) {
    if (e.id <= cursor_) {
      continue;
    }
    const auto bytes = delivery_bytes(e);
    if (!batch.empty() && (batch.size() == per_frame || batch_bytes + bytes > max_bytes)) {
      if (!deliver(batch)) {
        return;  // still behind; the next frame from the client retries
      }
      batch.clear();
      batch_bytes = frame_overhead_bytes;
    }
    batch.push_back(&e);
    batch_bytes += bytes;
  }
  if (!batch.empty() && !deliver(batch)) {
    return;
  }
  if (envelopes.size() < requested) {
    behind_ = false;  // caught up: live pushes from here on
    if (!drained_once_) {
      drained_once_ = true;
      v1::ServerFrame frame;
      frame.mutable_queue_drained();
      send(frame);
    }
  }
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
  const std::uint32_t uses = c.uses() == 0 ? 1 : c.uses();
  if (uses > limits.max_invite_uses) {
    reply_error(id, v1::BAD_REQUEST, "Too many uses for one invite.");
    return;
  }
  const auto max_s = limits.max_invite_lifetime.count();
  const std::int64_t lifetime_s =
      c.expires_in_seconds() == 0 ? limits.default_invite_lifetime.count() : c.expires_in_seconds();
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
  wire::InviteLink link{relay_.identity().public_host, relay_.identity().public_port, token,
                        relay_.identity().certificate_pin, role_name};
  submit<bool>(
      id,
      [hash, role, inviter = account_, uses, expires, now](store::RelayStore& store) {
        store.create_invite(hash, static_cast<store::Role>(role), inviter, uses, expires, now);
        return true;
      },
      [this, id, line = link.to_string(), expires](bool) {
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
          auto* c = out.add_contacts();
          c->set_account_id(a->public_id);
          c->set_role(to_proto(a->role));
          c->set_handle(a->handle);
          c->set_account_key(a->account_key.data(), a->account_key.size());
          for (const auto* d : store.devices_of(a->id)) {
            auto* cd = c->add_devices();
            cd->set_device_id(d->device_no);
            fill_device_keys(*cd->mutable_device(), d->keys);
          }
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
