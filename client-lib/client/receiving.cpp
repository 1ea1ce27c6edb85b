// SPDX-License-Identifier: AGPL-3.0-or-later
// Incoming deliveries, on the connection's I/O thread: dedup, decrypt, check the sender's keys,
// store and commit, then acknowledge to the relay and send a receipt. Deliveries are processed
// strictly in the order the relay pushed them; one from a sender this device does not know yet
// waits (with everything after it) until the directory has been asked once.
#include "client/client_impl.hpp"
#include "client/content.hpp"

#include <algorithm>

namespace lotse::client {
namespace {

bool is_staff_role(store::AccountRole r) {
  return r == store::AccountRole::staff || r == store::AccountRole::admin;
}

bool silent_duplicate(const boost::system::error_code& ec) {
  return ec == protocol::errc::duplicate_message || ec == protocol::errc::replayed_prekey_message;
}

}  // namespace

void Client::Impl::on_push(const v1::ServerFrame& frame) {
  std::unique_lock lock(mutex);
  if (frame.has_deliveries()) {
    for (const auto& d : frame.deliveries().deliveries()) {
      pending.push_back(d);
    }
    process_pending(lock);
  } else if (frame.has_queue_drained()) {
    drain_seen = true;
    state_changed.notify_all();
  } else if (frame.has_prekeys_low()) {
    auto publish = prepare_prekeys(frame.prekeys_low().one_time_prekeys_remaining());
    if (publish && *publish && connection) {
      connection->async_call(std::move(**publish), options.request_timeout,
                             [](const Result<v1::ServerFrame>&) {});
    }
  }
}

void Client::Impl::on_directory_refreshed(const Result<v1::ServerFrame>& answer) {
  std::vector<Event> events;
  std::unique_lock lock(mutex);
  if (answer && answer->has_contacts()) {
    if (auto applied = apply_directory(answer->contacts())) {
      events = std::move(*applied);
    }
  }
  refreshing = false;
  lock.unlock();
  emit(events);
  lock.lock();
  process_pending(lock);
}

void Client::Impl::process_pending(std::unique_lock<std::mutex>& lock) {
  std::vector<std::uint64_t> acks;
  std::vector<Event> events;
  std::map<std::string, std::vector<std::string>> receipts;  // sender account -> message ids
  const store::DeviceAddress self{own.account_id, own.device_id};

  while (!pending.empty() && !refreshing && !fetching_log) {
    const v1::Delivery d = pending.front();
    if (!d.account_erased().empty()) {
      // The relay erased this contact's account (docs/PROTOCOL.md 2.20): it can no longer be
      // written to. Its keys and sessions go; the conversation stays this user's to keep.
      const std::string& gone = d.account_erased();
      if (gone != own.account_id) {
        (void)profile.sessions().remove_sessions(gone);
        if (auto removed = profile.contacts().remove(gone); removed && *removed) {
          Event e;
          e.kind = Event::Kind::contact_erased;
          e.contact = gone;
          events.push_back(e);
        }
      }
      pending.pop_front();
      acks.push_back(d.envelope_id());
      continue;
    }
    if (d.has_case_notice()) {
      // The relay about our case (docs/PROTOCOL.md 2.22): a handover asked for or declined.
      Event e;
      e.kind = Event::Kind::case_notice;
      e.group = to_hex(d.case_notice().case_id());
      e.contact = d.case_notice().kind() == v1::CaseNotice::HANDOVER_REQUESTED
                      ? d.case_notice().to_account_id()
                      : d.case_notice().from_account_id();
      events.push_back(e);
      pending.pop_front();
      acks.push_back(d.envelope_id());
      continue;
    }
    if (!d.group_id().empty()) {
      // Group traffic: a membership change (verified by its signature, whoever relays it) or a
      // group message (verified by the sender's chain signing key).
      if (!d.group_commit().empty()) {
        if (!on_group_commit(d, events)) {
          break;  // the group's log is being fetched; this delivery waits for it
        }
      } else if (auto seen = profile.messages().find(
                     store::DeviceAddress{d.sender_account_id(), d.sender_device_id()},
                     d.client_message_id());
                 seen && !*seen) {
        if (!on_group_message(d, events)) {
          break;
        }
      }
      pending.pop_front();
      acks.push_back(d.envelope_id());
      continue;
    }
    const store::DeviceAddress sender{d.sender_account_id(), d.sender_device_id()};
    const auto contact = profile.contacts().find(d.sender_account_id());
    if (!contact) {
      break;  // the store failed; the delivery stays queued on the relay (not acknowledged)
    }
    const store::ContactDevice* device = nullptr;
    if (*contact) {
      for (const auto& cd : (*contact)->devices) {
        if (cd.device_id == d.sender_device_id()) {
          device = &cd;
        }
      }
    }
    if (device == nullptr && !refreshed_for.contains(d.sender_account_id()) && connection) {
      // A sender (or a device) not seen before: ask the directory once, then carry on.
      refreshed_for.insert(d.sender_account_id());
      refreshing = true;
      v1::ClientFrame f;
      f.mutable_list_contacts();
      connection->async_call(
          std::move(f), options.request_timeout,
          [this](Result<v1::ServerFrame> answer) { on_directory_refreshed(answer); });
      break;
    }
    pending.pop_front();
    acks.push_back(d.envelope_id());

    if (auto seen = profile.messages().find(sender, d.client_message_id()); seen && *seen) {
      continue;  // stored before; the relay delivered it again because our Ack was lost
    }
    Event dropped;
    dropped.kind = Event::Kind::undecryptable;
    dropped.contact = d.sender_account_id();
    if (device == nullptr) {
      events.push_back(dropped);  // the relay cannot show keys for this sender: not a contact
      continue;
    }

    auto tx = profile.begin();
    if (!tx) {
      acks.pop_back();
      pending.push_front(d);
      break;
    }
    auto session_cipher = cipher();
    auto decrypted = session_cipher.decrypt(protocol::Address{sender.account_id, sender.device_id},
                                            crypto::as_bytes(d.ciphertext()));
    if (!decrypted) {
      tx->rollback();
      if (!silent_duplicate(decrypted.error())) {
        events.push_back(dropped);
      }
      continue;
    }
    if (decrypted->sender != device->identity) {
      // Encrypted by a device identity the account key never certified: refuse it, and warn.
      tx->rollback();
      store::Contact c = **contact;
      if (!c.key_changed) {
        c.key_changed = true;
        c.verified = false;
        (void)profile.contacts().upsert(c);
        Event e;
        e.kind = Event::Kind::contact_key_changed;
        e.contact = c.account_id;
        events.push_back(e);
      }
      events.push_back(dropped);
      continue;
    }
    auto content = parse_content(decrypted->plaintext.view(), d.client_message_id());
    if (!content) {
      (void)tx->commit();  // the session moved on; the content itself is unusable
      events.push_back(dropped);
      continue;
    }
    bool ok = true;
    std::optional<Event> event;
    if (is_message_body(*content)) {
      const auto m = incoming_message(d, *content, sender.account_id, now_ms());
      auto appended = append_message(profile, m, *content);
      wipe_file_key(*content);
      ok = appended.has_value();
      if (ok && d.disappear_at_ms() != 0) {
        // The conversation's disappearing-message timer: this copy goes at the same deadline.
        ok = profile.messages()
                 .set_expiry(sender, m.id, static_cast<std::int64_t>(d.disappear_at_ms()))
                 .has_value();
      }
      if (ok && appended->inserted) {
        Event e;
        e.kind = Event::Kind::message_received;
        e.message = view_of(store::StoredMessage{appended->seq, m});
        event = e;
        receipts[sender.account_id].push_back(m.id);
      }
    } else if (content->has_profile()) {
      store::Contact c = **contact;
      // Staff are named by their relay handle; a name shared by a client is theirs to choose.
      if (c.role == store::AccountRole::client) {
        c.display_name = content->profile().display_name();
        ok = profile.contacts().upsert(c).has_value();
      }
    } else if (content->has_close()) {
      // Only staff close a case; from a client this is ignored.
      if ((*contact)->role == store::AccountRole::staff ||
          (*contact)->role == store::AccountRole::admin) {
        if (wipe_closed(sender.account_id, sender.account_id, content->close().keep_staff_copy())) {
          Event e;
          e.kind = Event::Kind::conversation_closed;
          e.contact = sender.account_id;
          event = e;
        }
      }
    } else if (content->has_history()) {
      // A case handed to us: its history, from a colleague (never from a client).
      if (is_staff_role((*contact)->role)) {
        ok = on_case_history(sender, content->history(), events);
      }
    } else if (content->has_group_setup()) {
      ok = on_group_setup(sender, content->group_setup(), events);
    } else if (content->has_receipt()) {
      for (const auto& id : content->receipt().message_ids()) {
        // A receipt can overtake the relay's answer to our Send (that answer was lost, and the
        // resend's comes after the receipts queued meanwhile). The relay stored the message, so
        // it is sent too: say so first, or message_sent would never be reported.
        if (auto stored = profile.messages().find(self, id);
            stored && *stored && (*stored)->message.status == store::DeliveryStatus::pending) {
          Event e;
          e.kind = Event::Kind::message_sent;
          e.message.id = to_hex(id);
          events.push_back(e);
        }
        auto changed = profile.messages().set_status(self, id, store::DeliveryStatus::delivered);
        ok = ok && changed.has_value();
        if (changed && *changed) {
          Event e;
          e.kind = Event::Kind::message_delivered;
          e.message.id = to_hex(id);
          e.message.conversation = sender.account_id;
          events.push_back(e);
        }
      }
    }
    if (!ok || !tx->commit()) {
      // Not stored: leave the envelope on the relay (no Ack) and stop; it comes again.
      acks.pop_back();
      pending.push_front(d);
      break;
    }
    if (event) {
      ++arrivals;
      events.push_back(*event);
    }
  }

  if (checkpoint_due) {
    // A closed case was wiped: no page of it may stay in the WAL.
    (void)profile.checkpoint();
    checkpoint_due = false;
  }
  if (pending.empty() && drain_seen) {
    state_changed.notify_all();
  }
  state_changed.notify_all();
  auto* conn = connection.get();
  lock.unlock();
  if (!acks.empty() && conn != nullptr) {
    v1::ClientFrame ack;
    for (const auto id : acks) {
      ack.mutable_ack()->add_envelope_ids(id);
    }
    conn->async_call(std::move(ack), options.request_timeout,
                     [](const Result<v1::ServerFrame>&) {});
  }
  emit(events);
  send_receipts(receipts);
  lock.lock();
}

void Client::Impl::send_receipts(
    const std::map<std::string, std::vector<std::string>>& ids_by_sender) {
  for (const auto& [account, ids] : ids_by_sender) {
    for (std::size_t start = 0; start < ids.size(); start += max_receipt_ids) {
      const std::vector<std::string> part(
          ids.begin() + static_cast<std::ptrdiff_t>(start),
          ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), start + max_receipt_ids)));
      v1::ClientFrame frame;
      std::string id;
      {
        std::lock_guard lock(mutex);
        auto c = profile.contacts().find(account);
        if (!c || !*c || (*c)->key_changed) {
          continue;
        }
        id = new_message_id();
        auto prepared = prepare_send(**c, receipt_content(id, now_ms(), part));
        if (!prepared) {
          continue;  // no session with some device: the receipt is a courtesy, not owed
        }
        frame = std::move(*prepared);
      }
      if (connection) {
        connection->async_call(
            std::move(frame), options.request_timeout,
            [this, id](Result<v1::ServerFrame> answer) { on_send_answer(id, answer); });
      }
    }
  }
}

}  // namespace lotse::client
