// SPDX-License-Identifier: AGPL-3.0-or-later
#include "client/client.hpp"

#include "client/client_impl.hpp"
#include "client/content.hpp"

#include "net/connection_error.hpp"
#include "protocol/prekeys.hpp"
#include "protocol/safety_number.hpp"
#include "store/error.hpp"
#include "wire/invite_link.hpp"
#include "wire/login_transcript.hpp"

#include <algorithm>
#include <charconv>

namespace lotse::client {
namespace {

std::int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool valid_handle(std::string_view h) {
  if (h.empty() || h.size() > 32) {
    return false;
  }
  const auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  return alnum(h.front()) && std::all_of(h.begin(), h.end(), [&](char c) {
           return alnum(c) || c == '.' || c == '_' || c == '-';
         });
}

// The relay cannot be asked just now (not connected, or the connection broke): what the profile
// holds will do.
bool unreachable(const boost::system::error_code& ec) {
  return ec == errc::offline || ec == errc::relay_unreachable || ec == errc::timed_out;
}

void fill_device_keys(v1::DeviceKeys& out, const protocol::DeviceIdentity& identity,
                      const crypto::SigningKeyPair& account_key) {
  identity.public_key().to_proto(*out.mutable_identity());
  const auto cert = device_certificate(identity, account_key);
  out.set_device_certificate(cert.data(), cert.size());
}

void fill_signed_prekey(v1::SignedPreKeyPublic& out, const protocol::SignedPreKey& spk) {
  out.set_id(spk.id);
  out.set_public_key(spk.key.public_key().data(), 32);
  out.set_signature(spk.signature.data(), 64);
}

}  // namespace

// --- small shared helpers ------------------------------------------------------------------

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

crypto::Bytes device_certificate(const protocol::DeviceIdentity& identity,
                                 const crypto::SigningKeyPair& account_key) {
  const auto& pub = identity.public_key();
  const auto cert =
      account_key.sign(wire::device_certificate_context,
                       wire::device_certificate_message(pub.signing.bytes(), pub.dh.bytes()));
  return {cert.data(), cert.data() + crypto::Signature::size};
}

store::Message outgoing_message(const v1::Content& content, std::string conversation,
                                const store::DeviceAddress& self, std::int64_t now_ms) {
  store::Message m;
  m.id = content.message_id();
  m.conversation = std::move(conversation);
  m.sender = self;
  m.direction = store::Direction::outgoing;
  m.text = content.text().text();
  m.attachment = stored_attachment(content);
  m.sent_at_ms = static_cast<std::int64_t>(content.sent_at_ms());
  m.received_at_ms = now_ms;
  m.status = store::DeliveryStatus::pending;
  return m;
}

store::Message incoming_message(const v1::Delivery& delivery, const v1::Content& content,
                                std::string conversation, std::int64_t now_ms) {
  store::Message m;
  m.id = delivery.client_message_id();
  m.conversation = std::move(conversation);
  m.sender = {delivery.sender_account_id(), delivery.sender_device_id()};
  m.direction = store::Direction::incoming;
  m.text = content.text().text();
  m.attachment = stored_attachment(content);
  m.sent_at_ms = static_cast<std::int64_t>(content.sent_at_ms());
  m.received_at_ms = now_ms;
  m.status = store::DeliveryStatus::delivered;
  return m;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 0x0F]);
  }
  return out;
}

Role role_of(store::AccountRole role) noexcept {
  switch (role) {
    case store::AccountRole::admin: return Role::admin;
    case store::AccountRole::staff: return Role::staff;
    default: return Role::client;
  }
}

Role role_of(v1::Role role) noexcept {
  switch (role) {
    case v1::ADMIN: return Role::admin;
    case v1::STAFF: return Role::staff;
    default: return Role::client;
  }
}

store::AccountRole store_role(v1::Role role) noexcept {
  switch (role) {
    case v1::ADMIN: return store::AccountRole::admin;
    case v1::STAFF: return store::AccountRole::staff;
    case v1::CLIENT: return store::AccountRole::client;
    default: return store::AccountRole::unspecified;
  }
}

const char* to_string(Role role) noexcept {
  switch (role) {
    case Role::admin: return "admin";
    case Role::staff: return "staff";
    case Role::client: return "client";
  }
  return "client";
}

const char* to_string(MessageStatus status) noexcept {
  switch (status) {
    case MessageStatus::pending: return "pending";
    case MessageStatus::sent: return "sent";
    case MessageStatus::delivered: return "delivered";
    case MessageStatus::received: return "received";
  }
  return "received";
}

boost::system::error_code user_error(const boost::system::error_code& ec) {
  if (ec.category() == store::error_category()) {
    switch (static_cast<store::errc>(ec.value())) {
      case store::errc::profile_exists: return errc::profile_exists;
      case store::errc::no_profile: return errc::no_profile;
      case store::errc::passphrase_wrong: return errc::wrong_passphrase;
      case store::errc::profile_locked: return errc::profile_locked;
      case store::errc::corrupt:
      case store::errc::not_a_profile: return errc::profile_corrupt;
      default: return ec;
    }
  }
  if (ec.category() == net_client::error_category()) {
    switch (static_cast<net_client::errc>(ec.value())) {
      case net_client::errc::relay_unreachable:
      case net_client::errc::handshake_failed:
      case net_client::errc::connection_lost:
      case net_client::errc::not_connected:
      case net_client::errc::closed: return errc::relay_unreachable;
      case net_client::errc::pin_mismatch: return errc::pin_mismatch;
      case net_client::errc::timed_out: return errc::timed_out;
      default: return ec;
    }
  }
  return ec;
}

boost::system::error_code relay_error(const v1::Error& error) {
  switch (error.code()) {
    case v1::INVITE_INVALID: return errc::invite_refused;
    case v1::INVITE_EXPIRED: return errc::invite_expired;
    case v1::INVITE_USED: return errc::invite_used;
    case v1::NOT_AUTHORIZED:
    case v1::UNKNOWN_RECIPIENT: return errc::not_authorized;
    case v1::RATE_LIMITED: return errc::rate_limited;
    case v1::HANDLE_TAKEN: return errc::handle_taken;
    case v1::UNKNOWN_BLOB: return errc::unknown_blob;
    case v1::QUOTA_EXCEEDED: return errc::quota_exceeded;
    case v1::STORAGE_FULL: return errc::storage_full;
    case v1::TOO_MANY_UPLOADS: return errc::too_many_uploads;
    case v1::POLICY_BOUNDS: return errc::policy_bounds;
    case v1::UNKNOWN_GROUP: return errc::unknown_group;
    case v1::UNKNOWN_INBOX: return errc::unknown_inbox;
    case v1::CASE_CLAIMED: return errc::case_claimed;
    case v1::INBOX_FULL: return errc::inbox_full;
    case v1::CONSENT_REQUIRED: return errc::consent_required;
    default: return errc::relay_refused;
  }
}

// --- Impl ------------------------------------------------------------------------------------

Client::Impl::Impl(std::filesystem::path dir_, Options options_, store::Profile profile_,
                   protocol::DeviceIdentity identity_, crypto::SigningKeyPair account_key_)
    : dir(std::move(dir_)),
      options(std::move(options_)),
      rng(options.rng != nullptr ? *options.rng : crypto::system_rng()),
      now_ms(options.now_ms ? options.now_ms : std::function<std::int64_t()>(system_now_ms)),
      profile(std::move(profile_)),
      identity(std::move(identity_)),
      account_key(std::move(account_key_)) {}

Client::Impl::~Impl() {
  // The connection's thread calls back into this object: stop it before anything else goes.
  if (connection) {
    connection->close();
    connection.reset();
  }
}

std::string Client::Impl::new_message_id() {
  std::array<std::uint8_t, message_id_bytes> id{};
  rng.fill(id);
  return {reinterpret_cast<const char*>(id.data()), id.size()};
}

void Client::Impl::emit(const std::vector<Event>& events) {
  std::function<void(const Event&)> handler;
  {
    std::lock_guard lock(mutex);
    handler = on_event;
  }
  if (handler) {
    for (const auto& e : events) {
      handler(e);
    }
  }
}

Result<v1::ServerFrame> Client::Impl::call(v1::ClientFrame frame) {
  if (!connection || connection->state() != net_client::ConnectionState::online) {
    return errc::offline;
  }
  auto answer = connection->call(std::move(frame), options.request_timeout);
  if (!answer) {
    return user_error(answer.error());
  }
  return answer;
}

v1::ClientFrame Client::Impl::authenticate(const v1::Welcome& welcome) {
  std::lock_guard lock(mutex);
  const auto challenge = crypto::as_bytes(welcome.challenge());
  const auto pin = crypto::as_bytes(welcome.certificate_pin());
  v1::ClientFrame f;
  if (own.account_id.empty()) {
    auto* r = f.mutable_register_();
    r->set_invite_token(token_to_register);
    r->set_handle(handle_to_register);
    r->set_account_key(account_key.public_key().data(), 32);
    fill_device_keys(*r->mutable_device(), identity, account_key);
    const auto spk_ids = profile.prekeys().signed_prekey_ids();
    if (spk_ids && !spk_ids->empty()) {
      if (auto spk = profile.prekeys().load_signed_prekey(spk_ids->back())) {
        fill_signed_prekey(*r->mutable_signed_prekey(), *spk);
      }
    }
    if (auto ids = profile.prekeys().one_time_prekey_ids()) {
      for (const auto id : *ids) {
        if (auto k = profile.prekeys().load_one_time_prekey(id)) {
          auto* o = r->add_one_time_prekeys();
          o->set_id(k->id);
          o->set_public_key(k->key.public_key().data(), 32);
        }
      }
    }
    const auto transcript = wire::login_transcript(challenge, pin, "", 0);
    const auto sig = identity.signing().sign(wire::login_signature_context, transcript);
    r->set_challenge_signature(sig.data(), sig.size);
  } else {
    auto* l = f.mutable_login();
    l->set_account_id(own.account_id);
    l->set_device_id(own.device_id);
    const auto transcript = wire::login_transcript(challenge, pin, own.account_id, own.device_id);
    const auto sig = identity.signing().sign(wire::login_signature_context, transcript);
    l->set_challenge_signature(sig.data(), sig.size);
  }
  return f;
}

Result<store::Contact> Client::Impl::resolve(std::string_view reference) {
  auto list = profile.contacts().list();
  if (!list) {
    return user_error(list.error());
  }
  for (const auto& c : *list) {
    if (c.account_id == reference) {
      return c;
    }
  }
  const auto wanted = lower(reference);
  std::optional<store::Contact> found;
  for (const auto& c : *list) {
    if (!c.display_name.empty() && lower(c.display_name) == wanted) {
      if (found) {
        return errc::ambiguous_contact;
      }
      found = c;
    }
  }
  if (!found) {
    return errc::unknown_contact;
  }
  return *found;
}

ContactView Client::Impl::view_of(const store::Contact& c) const {
  return ContactView{c.account_id, role_of(c.role), c.display_name, c.verified, c.key_changed};
}

MessageView Client::Impl::view_of(const store::StoredMessage& stored) {
  const auto& m = stored.message;
  MessageView v;
  v.id = to_hex(m.id);
  v.conversation = m.conversation;
  v.from = m.sender.account_id;
  v.text = m.text;
  v.sent_at_ms = m.sent_at_ms;
  v.received_at_ms = m.received_at_ms;
  v.outgoing = m.direction == store::Direction::outgoing;
  if (m.attachment) {
    v.attachment = AttachmentView{m.attachment->name, m.attachment->size, m.attachment->media_type,
                                  m.attachment->caption};
  }
  if (m.conversation.starts_with("group:")) {
    v.group = m.conversation.substr(6);
    v.conversation = v.group;
    if (auto raw = from_hex(v.group)) {
      if (auto g = profile.groups().find(*raw); g && *g) {
        v.group_name = (*g)->name;
      }
    }
  }
  if (!v.outgoing) {
    v.status = MessageStatus::received;
  } else {
    v.status = m.status == store::DeliveryStatus::pending ? MessageStatus::pending
               : m.status == store::DeliveryStatus::sent  ? MessageStatus::sent
                                                          : MessageStatus::delivered;
  }
  if (v.from == own.account_id) {
    if (auto name = profile.secrets().setting(setting::name); name && *name) {
      v.from_name = **name;
    }
  } else if (auto c = profile.contacts().find(v.from); c && *c) {
    v.from_name = (*c)->display_name;
  }
  return v;
}

Result<std::vector<Event>> Client::Impl::apply_directory(const v1::Contacts& contacts) {
  std::vector<Event> events;
  auto tx = profile.begin();
  if (!tx) {
    return user_error(tx.error());
  }
  for (const auto& raw : contacts.contacts()) {
    auto checked = check_contact(raw);
    if (!checked || checked->account_id == own.account_id) {
      continue;
    }
    directory[checked->account_id] = *checked;
    auto existing = profile.contacts().find(checked->account_id);
    if (!existing) {
      return user_error(existing.error());
    }
    store::Contact c;
    if (*existing) {
      c = **existing;
      bool key_changed = c.account_key && *c.account_key != checked->account_key;
      for (const auto& d : checked->devices) {
        auto it =
            std::find_if(c.devices.begin(), c.devices.end(),
                         [&](const store::ContactDevice& x) { return x.device_id == d.device_id; });
        if (it == c.devices.end()) {
          if (!key_changed && c.devices.size() < store::max_contact_devices) {
            c.devices.push_back({d.device_id, d.identity});  // certified by the pinned account key
          }
        } else if (it->identity != d.identity) {
          key_changed = true;
        }
      }
      if (key_changed && !c.key_changed) {
        c.key_changed = true;
        c.verified = false;
        Event e;
        e.kind = Event::Kind::contact_key_changed;
        e.contact = c.account_id;
        events.push_back(e);
      }
    } else {
      c.account_id = checked->account_id;
      c.account_key = checked->account_key;
      c.created_at_ms = now_ms();
      for (const auto& d : checked->devices) {
        c.devices.push_back({d.device_id, d.identity});
      }
    }
    c.role = store_role(checked->role);
    if (!checked->handle.empty()) {
      c.display_name = checked->handle;  // staff: the relay's handle is the name
    }
    if (auto r = profile.contacts().upsert(c); !r) {
      return user_error(r.error());
    }
  }
  if (auto r = tx->commit(); !r) {
    return user_error(r.error());
  }
  return events;
}

Result<void> Client::Impl::refresh_directory() {
  v1::ClientFrame f;
  f.mutable_list_contacts();
  auto answer = call(std::move(f));
  if (!answer) {
    return answer.error();
  }
  if (answer->has_error()) {
    return relay_error(answer->error());
  }
  if (!answer->has_contacts()) {
    return errc::relay_refused;
  }
  Result<std::vector<Event>> events = std::vector<Event>{};
  {
    std::lock_guard lock(mutex);
    events = apply_directory(answer->contacts());
  }
  if (!events) {
    return events.error();
  }
  emit(*events);
  return {};
}

Result<std::optional<v1::ClientFrame>> Client::Impl::prepare_prekeys(std::uint32_t remaining) {
  if (remaining >= options.replenish_below) {
    return std::optional<v1::ClientFrame>{};
  }
  std::uint32_t next = 1;
  if (auto s = profile.secrets().setting(setting::next_prekey_id); s && *s) {
    (void)std::from_chars((*s)->data(), (*s)->data() + (*s)->size(), next);
  }
  const auto count =
      options.one_time_prekeys - std::min<std::size_t>(remaining, options.one_time_prekeys);
  auto keys = protocol::OneTimePreKey::generate_batch(next, count, rng);
  auto tx = profile.begin();
  if (!tx) {
    return user_error(tx.error());
  }
  if (auto r = profile.prekeys().add_one_time_prekeys(keys); !r) {
    return user_error(r.error());
  }
  if (auto r = profile.secrets().set_setting(
          setting::next_prekey_id, std::to_string(next + static_cast<std::uint32_t>(count)));
      !r) {
    return user_error(r.error());
  }
  if (auto r = tx->commit(); !r) {
    return user_error(r.error());
  }
  v1::ClientFrame f;
  for (const auto& k : keys) {
    auto* o = f.mutable_publish_prekeys()->add_one_time_prekeys();
    o->set_id(k.id);
    o->set_public_key(k.key.public_key().data(), 32);
  }
  return std::optional<v1::ClientFrame>(std::move(f));
}

Result<void> Client::Impl::replenish_prekeys(std::uint32_t remaining) {
  Result<std::optional<v1::ClientFrame>> frame = std::optional<v1::ClientFrame>{};
  {
    std::lock_guard lock(mutex);
    frame = prepare_prekeys(remaining);
  }
  if (!frame) {
    return frame.error();
  }
  if (!*frame) {
    return {};
  }
  auto answer = call(std::move(**frame));
  if (!answer) {
    return answer.error();
  }
  if (answer->has_error()) {
    return relay_error(answer->error());
  }
  return {};
}

// --- Client ----------------------------------------------------------------------------------

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

bool Client::exists(const std::filesystem::path& dir) {
  return store::Profile::exists(dir);
}

Result<std::unique_ptr<Client>> Client::create(const std::filesystem::path& dir,
                                               std::string_view invite, std::string_view name,
                                               std::string_view passphrase, Options options) {
  const auto link = wire::InviteLink::parse(invite);
  if (!link) {
    return errc::invalid_invite;
  }
  // A client invite (or one that does not say) keeps the name off the relay.
  const bool staff_like = link->role == "staff" || link->role == "admin";
  if (staff_like ? !valid_handle(name) : !check_display_name(name)) {
    return staff_like ? errc::invalid_handle : errc::invalid_name;
  }
  if (store::Profile::exists(dir)) {
    return errc::profile_exists;
  }
  crypto::Rng& rng = options.rng != nullptr ? *options.rng : crypto::system_rng();
  const auto params = options.argon2.value_or(store::default_argon2_params());
  auto profile = store::Profile::create(dir, passphrase, params, rng);
  if (!profile) {
    return user_error(profile.error());
  }
  const auto remove_profile = [&dir] {
    std::error_code ignored;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      std::filesystem::remove(dir / (std::string(store::profile_file_name) + suffix), ignored);
    }
  };

  auto account_key = crypto::SigningKeyPair::generate(rng);
  auto identity = protocol::DeviceIdentity::generate(rng);
  auto spk = protocol::SignedPreKey::generate(identity, 1, rng);
  auto otpks = protocol::OneTimePreKey::generate_batch(1, options.one_time_prekeys, rng);
  {
    auto tx = profile->begin();
    if (!tx) {
      return user_error(tx.error());
    }
    const auto relay_address = link->host.find(':') != std::string::npos
                                   ? "[" + link->host + "]:" + std::to_string(link->port)
                                   : link->host + ":" + std::to_string(link->port);
    if (!profile->secrets().save_device_identity(identity) ||
        !profile->secrets().save_account_key(account_key) ||
        !profile->prekeys().add_signed_prekey(spk) ||
        !profile->prekeys().add_one_time_prekeys(otpks) ||
        !profile->secrets().set_setting(setting::next_prekey_id,
                                        std::to_string(options.one_time_prekeys + 1)) ||
        !profile->secrets().set_setting(setting::name, name) ||
        (link->inbox &&
         (!profile->secrets().set_setting(setting::inbox_id,
                                          wire::hex(link->inbox->data(), link->inbox->size())) ||
          !profile->secrets().set_setting(setting::inbox_signer,
                                          wire::hex(link->signer.data(), link->signer.size())))) ||
        !profile->secrets().save_relay(
            {relay_address, wire::hex(link->pin.data(), link->pin.size())}) ||
        !tx->commit()) {
      remove_profile();
      return errc::profile_corrupt;
    }
  }

  auto impl = std::make_unique<Impl>(dir, std::move(options), std::move(*profile),
                                     std::move(identity), std::move(account_key));
  impl->endpoint = net_client::RelayEndpoint::from_invite(*link);
  impl->token_to_register = link->token;
  impl->handle_to_register = staff_like ? std::string(name) : std::string();
  std::unique_ptr<Client> client(new Client(std::move(impl)));
  if (auto r = client->connect(); !r) {
    client.reset();
    remove_profile();
    return r.error();
  }
  Impl& im = *client->impl_;
  // A client shares its name with its counsellor, end to end (the relay never sees it).
  if (im.own.role == store::AccountRole::client) {
    std::string inviter;
    {
      std::lock_guard lock(im.mutex);
      if (auto s = im.profile.secrets().setting(setting::inviter); s && *s) {
        inviter = **s;
      }
    }
    if (!inviter.empty()) {
      if (auto r = im.refresh_directory(); !r) {
        return r.error();
      }
      std::string id;
      std::int64_t now = 0;
      {
        std::lock_guard lock(im.mutex);
        id = im.new_message_id();
        now = im.now_ms();
      }
      if (auto sent = im.send_content(inviter, profile_content(id, now, name)); !sent) {
        return sent.error();
      }
    }
  }
  return client;
}

Result<std::unique_ptr<Client>> Client::open(const std::filesystem::path& dir,
                                             std::string_view passphrase, Options options) {
  crypto::Rng& rng = options.rng != nullptr ? *options.rng : crypto::system_rng();
  auto profile = store::Profile::open(dir, passphrase, rng);
  if (!profile) {
    return user_error(profile.error());
  }
  auto identity = profile->secrets().load_device_identity();
  auto account_key = profile->secrets().load_account_key();
  auto own = profile->secrets().load_own_account();
  auto relay = profile->secrets().load_relay();
  if (!identity || !*identity || !account_key || !*account_key || !own || !*own || !relay ||
      !*relay) {
    return errc::profile_corrupt;
  }
  net_client::RelayEndpoint endpoint;
  const auto colon = (*relay)->address.rfind(':');
  const auto pin = wire::parse_pin((*relay)->certificate_pin);
  if (colon == std::string::npos || !pin) {
    return errc::profile_corrupt;
  }
  endpoint.host = (*relay)->address.substr(0, colon);
  if (endpoint.host.size() > 2 && endpoint.host.front() == '[') {
    endpoint.host = endpoint.host.substr(1, endpoint.host.size() - 2);
  }
  unsigned port = 0;
  const auto port_text = (*relay)->address.substr(colon + 1);
  (void)std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  endpoint.port = static_cast<std::uint16_t>(port);
  endpoint.pin = *pin;

  auto impl = std::make_unique<Impl>(dir, std::move(options), std::move(*profile),
                                     std::move(**identity), std::move(**account_key));
  impl->own = **own;
  impl->endpoint = endpoint;
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Result<void> Client::connect() {
  Impl& im = *impl_;
  if (im.connection) {
    im.connection->close();
    im.connection.reset();
  }
  {
    std::lock_guard lock(im.mutex);
    im.drain_seen = false;
    im.refreshing = false;
    im.fetching_log = false;
    im.log_states.clear();
    im.log_fetched_for.clear();
    im.pending.clear();
    im.auth_answer.reset();
  }
  net_client::Handlers handlers;
  handlers.authenticate = [&im](const v1::Welcome& w) { return im.authenticate(w); };
  handlers.on_auth_answer = [&im](const v1::ServerFrame& f) {
    std::lock_guard lock(im.mutex);
    im.auth_answer = f;
    if (f.has_registered()) {
      store::OwnAccount own{f.registered().account_id(), f.registered().device_id(),
                            store_role(f.registered().role())};
      if (im.profile.secrets().save_own_account(own) &&
          im.profile.secrets().set_setting(setting::inviter, f.registered().inviter_account_id())) {
        im.own = own;
        im.token_to_register.clear();
      }
    }
  };
  handlers.on_state = [&im](const net_client::StateChange& change) {
    Event e;
    e.kind = Event::Kind::connection;
    e.connection = change.state == net_client::ConnectionState::online ? ConnectionStatus::online
                   : change.state == net_client::ConnectionState::connecting ||
                           change.state == net_client::ConnectionState::authenticating
                       ? ConnectionStatus::connecting
                       : ConnectionStatus::offline;
    if (change.state == net_client::ConnectionState::online) {
      im.resend_outbox();
    }
    { const std::lock_guard lock(im.mutex); }  // a transfer waiting for online checks again
    im.state_changed.notify_all();
    im.emit({e});
  };
  handlers.on_push = [&im](const v1::ServerFrame& f) { im.on_push(f); };
  net_client::Options net_options;
  net_options.client_name = im.options.client_name;
  net_options.connect_timeout = im.options.connect_timeout;
  im.connection =
      std::make_unique<net_client::RelayConnection>(im.endpoint, std::move(handlers), net_options);
  auto answer = im.connection->connect();
  if (!answer) {
    std::optional<v1::ServerFrame> auth;
    {
      std::lock_guard lock(im.mutex);
      auth = im.auth_answer;
    }
    im.connection.reset();
    if (auth && auth->has_error()) {
      return relay_error(auth->error());
    }
    return user_error(answer.error());
  }
  if (answer->has_logged_in()) {
    (void)im.replenish_prekeys(answer->logged_in().one_time_prekeys_remaining());
  }
  return {};
}

Result<void> Client::wait_drained(std::chrono::milliseconds timeout) {
  Impl& im = *impl_;
  std::unique_lock lock(im.mutex);
  const bool done = im.state_changed.wait_for(lock, timeout, [&] {
    return im.drain_seen && im.pending.empty() && !im.refreshing && !im.fetching_log;
  });
  if (!done) {
    return errc::timed_out;
  }
  return {};
}

bool Client::wait_for_message(std::chrono::milliseconds timeout) {
  Impl& im = *impl_;
  std::unique_lock lock(im.mutex);
  return im.state_changed.wait_for(lock, timeout, [&] { return im.arrivals > im.taken; });
}

void Client::disconnect() {
  if (impl_->connection) {
    impl_->connection->close();
    impl_->connection.reset();
  }
}

void Client::set_event_handler(std::function<void(const Event&)> handler) {
  std::lock_guard lock(impl_->mutex);
  impl_->on_event = std::move(handler);
}

Result<Identity> Client::whoami() {
  Impl& im = *impl_;
  std::lock_guard lock(im.mutex);
  Identity out;
  out.account_id = im.own.account_id;
  out.device_id = im.own.device_id;
  out.role = role_of(im.own.role);
  if (auto name = im.profile.secrets().setting(setting::name); name && *name) {
    out.name = **name;
  }
  if (auto relay = im.profile.secrets().load_relay(); relay && *relay) {
    out.relay = (*relay)->address;
    out.relay_pin = (*relay)->certificate_pin;
  }
  out.fingerprint = protocol::account_fingerprint(im.account_key.public_key(), im.own.account_id);
  return out;
}

Result<std::string> Client::create_client_invite(std::chrono::seconds lifetime) {
  Impl& im = *impl_;
  {
    std::lock_guard lock(im.mutex);
    if (im.own.role != store::AccountRole::staff && im.own.role != store::AccountRole::admin) {
      return errc::not_staff;
    }
  }
  v1::ClientFrame f;
  f.mutable_create_invite()->set_role(v1::CLIENT);
  f.mutable_create_invite()->set_uses(1);
  f.mutable_create_invite()->set_expires_in_seconds(static_cast<std::uint32_t>(lifetime.count()));
  auto answer = im.call(std::move(f));
  if (!answer) {
    return answer.error();
  }
  if (answer->has_error()) {
    return relay_error(answer->error());
  }
  return answer->invite_created().invite();
}

Result<std::vector<ContactView>> Client::contacts() {
  Impl& im = *impl_;
  if (im.connection) {
    if (auto r = im.refresh_directory(); !r && !unreachable(r.error())) {
      return r.error();
    }
  }
  std::lock_guard lock(im.mutex);
  auto list = im.profile.contacts().list();
  if (!list) {
    return user_error(list.error());
  }
  std::vector<ContactView> out;
  for (const auto& c : *list) {
    out.push_back(im.view_of(c));
  }
  return out;
}

Result<ContactView> Client::find_contact(std::string_view reference) {
  Impl& im = *impl_;
  std::lock_guard lock(im.mutex);
  auto c = im.resolve(reference);
  if (!c) {
    return c.error();
  }
  return im.view_of(*c);
}

Result<MessageView> Client::send_text(std::string_view contact, std::string_view text) {
  if (auto r = check_text(text); !r) {
    return r.error();
  }
  Impl& im = *impl_;
  std::string id;
  std::int64_t now = 0;
  {
    std::lock_guard lock(im.mutex);
    id = im.new_message_id();
    now = im.now_ms();
  }
  if (auto opened = im.ensure_case(contact); !opened) {
    return opened.error();
  }
  auto group = im.resolve_target(contact);
  if (!group) {
    return group.error();
  }
  const auto content = text_content(id, now, text);
  if (*group) {
    return im.send_group_content(**group, content);
  }
  return im.send_content(contact, content);
}

Result<std::optional<LoadedGroup>> Client::Impl::resolve_target(std::string_view to) {
  std::lock_guard lock(mutex);
  auto g = resolve_group(to);
  if (!g) {
    return g.error() == errc::unknown_group ? Result<std::optional<LoadedGroup>>(std::nullopt)
                                            : Result<std::optional<LoadedGroup>>(g.error());
  }
  auto c = resolve(to);
  const bool exact_group = g->record.group_id.size() * 2 == to.size();
  if (c && !exact_group && c->account_id != to) {
    return errc::ambiguous_name;  // a contact and a group share the name
  }
  if (!c || exact_group) {
    return std::optional<LoadedGroup>(std::move(*g));
  }
  return std::nullopt;
}

Result<std::vector<MessageView>> Client::take_unshown() {
  Impl& im = *impl_;
  std::lock_guard lock(im.mutex);
  if (auto purged = im.purge_expired(); !purged) {
    return purged.error();
  }
  auto unshown = im.profile.messages().unshown();
  if (!unshown) {
    return user_error(unshown.error());
  }
  std::vector<MessageView> out;
  std::map<std::string, std::uint64_t> marks;
  for (const auto& m : *unshown) {
    out.push_back(im.view_of(m));
    marks[m.message.conversation] = std::max(marks[m.message.conversation], m.seq);
  }
  for (const auto& [conversation, seq] : marks) {
    if (auto r = im.profile.messages().mark_shown(conversation, seq); !r) {
      return user_error(r.error());
    }
  }
  im.taken = im.arrivals;
  return out;
}

Result<std::vector<MessageView>> Client::history(std::string_view contact, std::size_t limit) {
  Impl& im = *impl_;
  std::lock_guard lock(im.mutex);
  if (auto purged = im.purge_expired(); !purged) {
    return purged.error();
  }
  std::string conversation;
  if (auto c = im.resolve(contact)) {
    conversation = c->account_id;
  } else if (auto g = im.resolve_group(contact)) {
    conversation = group_conversation(g->record.group_id);
  } else {
    // Neither: say what the user most likely meant ("no such contact"), unless the group lookup
    // failed for another reason (an ambiguous name, a damaged profile).
    return g.error() == errc::unknown_group ? c.error() : g.error();
  }
  auto latest = im.profile.messages().latest(conversation, limit);
  if (!latest) {
    return user_error(latest.error());
  }
  std::vector<MessageView> out;
  std::uint64_t last = 0;
  for (const auto& m : *latest) {
    out.push_back(im.view_of(m));
    last = std::max(last, m.seq);
  }
  if (last != 0) {
    (void)im.profile.messages().mark_shown(conversation, last);
  }
  return out;
}

Result<SafetyNumberView> Client::safety_number(std::string_view contact) {
  Impl& im = *impl_;
  if (im.connection) {
    (void)im.refresh_directory();  // current keys if the relay is reachable; stored ones if not
  }
  std::lock_guard lock(im.mutex);
  auto c = im.resolve(contact);
  if (!c) {
    return c.error();
  }
  auto key = c->account_key;
  if (auto it = im.directory.find(c->account_id); it != im.directory.end()) {
    key = it->second.account_key;  // after a key change: the number for the new key
  }
  if (!key) {
    return errc::unknown_contact;
  }
  const auto n = protocol::SafetyNumber::compute(im.account_key.public_key(), im.own.account_id,
                                                 *key, c->account_id);
  return SafetyNumberView{c->account_id,  c->display_name, n.display(),
                          n.qr_payload(), c->verified,     c->key_changed};
}

Result<SafetyNumberView> Client::verify_confirm(std::string_view contact) {
  Impl& im = *impl_;
  if (im.connection) {
    // Unreachable: the keys the relay served last (a key change needs them, see below).
    if (auto r = im.refresh_directory(); !r && !unreachable(r.error())) {
      return r.error();
    }
  }
  {
    std::lock_guard lock(im.mutex);
    auto c = im.resolve(contact);
    if (!c) {
      return c.error();
    }
    auto it = im.directory.find(c->account_id);
    if (c->key_changed && it == im.directory.end()) {
      return errc::offline;  // the new keys come from the relay
    }
    auto tx = im.profile.begin();
    if (!tx) {
      return user_error(tx.error());
    }
    if (it != im.directory.end()) {
      // Accept the keys the relay serves now (the ones the user just compared).
      const bool replace = c->key_changed;
      c->account_key = it->second.account_key;
      c->devices.clear();
      for (const auto& d : it->second.devices) {
        c->devices.push_back({d.device_id, d.identity});
      }
      if (replace) {
        if (auto r = im.profile.sessions().remove_sessions(c->account_id); !r) {
          return user_error(r.error());
        }
      }
    }
    c->verified = true;
    c->key_changed = false;
    if (auto r = im.profile.contacts().upsert(*c); !r) {
      return user_error(r.error());
    }
    if (auto r = tx->commit(); !r) {
      return user_error(r.error());
    }
  }
  return safety_number(contact);
}

}  // namespace lotse::client
