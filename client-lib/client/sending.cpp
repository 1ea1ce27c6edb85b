// SPDX-License-Identifier: AGPL-3.0-or-later
// Outgoing messages: sessions on first contact (X3DH against checked bundles), encryption to
// every device of the recipient, the outbox, and the relay's answers.
#include "client/client_impl.hpp"
#include "client/content.hpp"

#include "protocol/prekeys.hpp"

#include <algorithm>
#include <future>
#include <memory>

namespace lotse::client {
namespace {

bool retryable(const v1::Error& e) {
  return e.code() == v1::RATE_LIMITED || e.code() == v1::INTERNAL || e.code() == v1::SHUTTING_DOWN;
}

}  // namespace

Result<void> Client::Impl::ensure_sessions(const std::string& account_id) {
  std::vector<std::uint32_t> missing;
  {
    std::lock_guard lock(mutex);
    auto c = profile.contacts().find(account_id);
    if (!c) {
      return user_error(c.error());
    }
    if (!*c) {
      return errc::unknown_contact;
    }
    auto with = profile.sessions().devices_with_session(account_id);
    if (!with) {
      return user_error(with.error());
    }
    for (const auto& d : (*c)->devices) {
      if (std::find(with->begin(), with->end(), d.device_id) == with->end()) {
        missing.push_back(d.device_id);
      }
    }
    if ((*c)->devices.empty()) {
      return errc::no_devices;
    }
  }
  if (missing.empty()) {
    return {};
  }
  v1::ClientFrame f;
  f.mutable_fetch_bundles()->set_account_id(account_id);
  auto answer = call(std::move(f));
  if (!answer) {
    return answer.error();
  }
  if (answer->has_error()) {
    return relay_error(answer->error());
  }
  const auto& bundles = answer->bundles();
  std::vector<Event> events;
  std::lock_guard lock(mutex);
  auto c = profile.contacts().find(account_id);
  if (!c || !*c) {
    return errc::unknown_contact;
  }
  store::Contact contact = **c;
  const auto served_key =
      crypto::Ed25519PublicKey::from_bytes(crypto::as_bytes(bundles.account_key()));
  if (!served_key || bundles.account_id() != account_id) {
    return errc::bad_bundle;
  }
  if (contact.account_key && *contact.account_key != *served_key) {
    if (!contact.key_changed) {
      contact.key_changed = true;
      contact.verified = false;
      (void)profile.contacts().upsert(contact);
      Event e;
      e.kind = Event::Kind::contact_key_changed;
      e.contact = account_id;
      events.push_back(e);
    }
    mutex.unlock();
    emit(events);
    mutex.lock();
    return errc::key_changed;
  }
  auto tx = profile.begin();
  if (!tx) {
    return user_error(tx.error());
  }
  auto session_cipher = cipher();
  for (const auto& db : bundles.devices()) {
    if (std::find(missing.begin(), missing.end(), db.device_id()) == missing.end()) {
      continue;
    }
    const auto known =
        std::find_if(contact.devices.begin(), contact.devices.end(),
                     [&](const store::ContactDevice& d) { return d.device_id == db.device_id(); });
    const auto certified = check_device(*served_key, db.device());
    auto bundle = protocol::PreKeyBundle::from_proto(db.bundle());
    if (!certified || !bundle || bundle->identity != *certified ||
        (known != contact.devices.end() && known->identity != *certified)) {
      return errc::bad_bundle;
    }
    if (auto r =
            session_cipher.start_session(protocol::Address{account_id, db.device_id()}, *bundle);
        !r) {
      return errc::bad_bundle;
    }
  }
  if (auto r = tx->commit(); !r) {
    return user_error(r.error());
  }
  return {};
}

Result<v1::ClientFrame> Client::Impl::prepare_send(const store::Contact& contact,
                                                   const v1::Content& content) {
  const crypto::WipedBytes plaintext(serialise(content));  // may hold a file key
  auto tx = profile.begin();
  if (!tx) {
    return user_error(tx.error());
  }
  v1::ClientFrame frame;
  auto* send = frame.mutable_send();
  send->set_client_message_id(content.message_id());
  if (content.has_attachment()) {
    send->add_blob_ids(content.attachment().blob_id());
  }
  auto session_cipher = cipher();
  for (const auto& d : contact.devices) {
    auto ciphertext = session_cipher.encrypt(protocol::Address{contact.account_id, d.device_id},
                                             plaintext.view());
    if (!ciphertext) {
      return errc::no_devices;  // no session with this device (ensure_sessions failed for it)
    }
    auto* env = send->add_envelopes();
    env->set_recipient_account_id(contact.account_id);
    env->set_recipient_device_id(d.device_id);
    env->set_ciphertext(ciphertext->data(), ciphertext->size());
  }
  if (is_message_body(content)) {
    const auto m =
        outgoing_message(content, contact.account_id, {own.account_id, own.device_id}, now_ms());
    if (auto r = append_message(profile, m, content); !r) {
      return user_error(r.error());
    }
  }
  const auto bytes = send->SerializeAsString();
  if (auto r = profile.outbox().add(content.message_id(), crypto::as_bytes(bytes), now_ms()); !r) {
    return user_error(r.error());
  }
  if (auto r = tx->commit(); !r) {
    return user_error(r.error());
  }
  return frame;
}

Result<MessageView> Client::Impl::send_content(std::string_view reference,
                                               const v1::Content& content) {
  std::string account_id;
  {
    std::lock_guard lock(mutex);
    auto c = resolve(reference);
    if (!c) {
      return c.error();
    }
    if (c->key_changed) {
      return errc::key_changed;
    }
    account_id = c->account_id;
  }
  if (auto r = ensure_sessions(account_id); !r) {
    if (r.error() != errc::no_devices) {
      return r.error();
    }
    // No devices known yet: ask the relay once more (a contact that registered just now).
    if (auto d = refresh_directory(); !d) {
      return d.error();
    }
    if (auto again = ensure_sessions(account_id); !again) {
      return again.error();
    }
  }
  v1::ClientFrame frame;
  {
    std::lock_guard lock(mutex);
    auto c = profile.contacts().find(account_id);
    if (!c || !*c) {
      return errc::unknown_contact;
    }
    if ((*c)->key_changed) {
      return errc::key_changed;
    }
    auto prepared = prepare_send(**c, content);
    if (!prepared) {
      return prepared.error();
    }
    frame = std::move(*prepared);
  }
  auto answer = transmit(frame, content.message_id());
  if (!answer) {
    return answer.error();  // kept in the outbox: sent again after the next connect
  }
  if (answer->has_error()) {
    return relay_error(answer->error());
  }
  std::lock_guard lock(mutex);
  MessageView v;
  v.id = to_hex(content.message_id());
  v.conversation = account_id;
  v.from = own.account_id;
  v.outgoing = true;
  v.sent_at_ms = static_cast<std::int64_t>(content.sent_at_ms());
  v.status = MessageStatus::sent;
  if (is_message_body(content)) {
    v.text = content.text().text();
    if (auto stored =
            profile.messages().find({own.account_id, own.device_id}, content.message_id());
        stored && *stored) {
      v = view_of(**stored);
    }
  }
  return v;
}

Result<v1::ServerFrame> Client::Impl::transmit(const v1::ClientFrame& frame,
                                               const std::string& message_id) {
  if (!connection || connection->state() != net_client::ConnectionState::online) {
    return errc::offline;  // kept in the outbox: sent again after the next connect
  }
  // The answer is handled on the I/O thread, in order with what the relay pushes: the recipient's
  // receipt comes after this answer, so message_delivered cannot be reported before
  // message_sent (as it could if this thread handled the answer while that one took the receipt).
  auto answered = std::make_shared<std::promise<Result<v1::ServerFrame>>>();
  auto future = answered->get_future();
  connection->async_call(frame, options.request_timeout,
                         [this, id = message_id, answered](Result<v1::ServerFrame> a) {
                           if (!a) {
                             a = user_error(a.error());
                           }
                           on_send_answer(id, a);
                           answered->set_value(std::move(a));
                         });
  return future.get();
}

void Client::Impl::on_send_answer(const std::string& message_id,
                                  const Result<v1::ServerFrame>& answer) {
  if (!answer) {
    return;  // stays in the outbox
  }
  std::vector<Event> events;
  {
    std::lock_guard lock(mutex);
    if (answer->has_error() && retryable(answer->error())) {
      return;
    }
    (void)profile.outbox().remove(message_id);
    if (answer->has_sent()) {
      if (answer->sent().disappear_at_ms() != 0) {
        // Our own copy disappears with the recipients' (docs/PROTOCOL.md 2.19).
        (void)profile.messages().set_expiry(
            {own.account_id, own.device_id}, message_id,
            static_cast<std::int64_t>(answer->sent().disappear_at_ms()));
      }
      if (auto changed = profile.messages().set_status({own.account_id, own.device_id}, message_id,
                                                       store::DeliveryStatus::sent);
          changed && *changed) {
        Event e;
        e.kind = Event::Kind::message_sent;
        e.message.id = to_hex(message_id);
        events.push_back(e);
      }
    } else {
      // Refused for good (not authorised, unknown recipient, too large): it will never arrive.
      (void)profile.messages().remove({own.account_id, own.device_id}, message_id);
    }
  }
  emit(events);
}

void Client::Impl::resend_outbox() {
  std::vector<store::OutboxEntry> entries;
  {
    std::lock_guard lock(mutex);
    auto list = profile.outbox().list();
    if (!list) {
      return;
    }
    entries = std::move(*list);
  }
  for (auto& entry : entries) {
    v1::ClientFrame frame;
    if (!frame.mutable_send()->ParseFromArray(entry.request.data(),
                                              static_cast<int>(entry.request.size()))) {
      std::lock_guard lock(mutex);
      (void)profile.outbox().remove(entry.message_id);
      continue;
    }
    connection->async_call(std::move(frame), options.request_timeout,
                           [this, id = entry.message_id](Result<v1::ServerFrame> answer) {
                             on_send_answer(id, answer);
                           });
  }
}

}  // namespace lotse::client
