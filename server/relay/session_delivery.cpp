// SPDX-License-Identifier: AGPL-3.0-or-later
// Session, store-and-forward (docs/PROTOCOL.md 2.5 Send and Ack, 2.7): pairwise Send, Ack, and
// the delivery of queued and live envelopes through the delivery window. A group Send is handled
// in session_groups.cpp; both end up here as QueuedDelivery.
#include "relay/session.hpp"

#include "relay/delivery_encoding.hpp"
#include "relay/log.hpp"
#include "relay/relay.hpp"
#include "relay/retention.hpp"
#include "relay/session_support.hpp"

#include "lotse/v1/relay.pb.h"

#include <algorithm>
#include <set>
#include <unordered_map>

namespace lotse::relay {

using support::blob_of;
using support::bytes_of;
using support::client_message_id_bytes;
using support::max_account_id_chars;
using v1::ErrorCode;

void Session::on_send(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& s = frame.send();
  const auto& limits = relay_.limits();
  if (s.client_message_id().size() != client_message_id_bytes) {
    reply_error(id, v1::BAD_REQUEST, "client_message_id must be 16 bytes.");
    return;
  }
  if (!s.group_id().empty() || !s.group_ciphertext().empty() || s.group_epoch() != 0) {
    on_group_send(frame);
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
  const char* blob_problem = nullptr;
  if (const int code = support::check_blob_ids(s, limits, blob_problem); code != 0) {
    reply_error(id, code, blob_problem);
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
    std::int64_t disappear_at = 0;
    std::vector<QueuedDelivery> stored;
  };
  const auto now = relay_.clock().now_ms();
  // The request is moved into the job; the frame outlives nothing here.
  auto request = std::make_shared<v1::Send>(s);
  // Each envelope's Delivery, serialised here on the connection's strand rather than on the
  // database thread; only the envelope id is added per delivery (relay/delivery_encoding.hpp).
  auto bodies = std::make_shared<std::vector<DeliveryBody>>();
  bodies->reserve(static_cast<std::size_t>(s.envelopes_size()));
  {
    v1::Delivery d;
    d.set_sender_account_id(account_public_id_);
    d.set_sender_device_id(device_no_);
    d.set_client_message_id(s.client_message_id());
    d.set_server_time_ms(static_cast<std::uint64_t>(now));
    for (const auto& e : s.envelopes()) {
      d.set_ciphertext(e.ciphertext());
      bodies->push_back(encode_delivery_body(d));
    }
  }
  submit<Outcome>(
      id,
      [request, bodies, from_account = account_, from_device = device_, now, &limits,
       from_public_id = account_public_id_, from_device_no = device_no_,
       max_queued = limits.max_queued_envelopes_per_device,
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
        std::vector<std::int64_t> blobs;
        if (const int code = support::check_send_blobs(store, *request, from_account, now, blobs);
            code != 0) {
          out.error = code;
          return out;  // nothing stored
        }
        std::vector<std::int64_t> devices(static_cast<std::size_t>(request->envelopes_size()));
        std::set<std::int64_t> readers;
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
            readers.insert(a->id);
          }
        }
        if (out.error != 0) {
          return out;  // nothing stored
        }
        if (!store.remember_send(from_device, cmid, now + dedup, now)) {
          out.duplicate = true;
          return out;
        }
        // The conversation's disappearing-message timer (docs/PROTOCOL.md 2.19); a Send that
        // reaches several accounts takes the shortest of their conversations' timers, and the
        // sender's own other devices get the same deadline.
        std::int64_t timer = 0;
        for (const auto reader : readers) {
          if (reader != from_account) {
            const auto t = pair_timer_seconds(store, limits, from_account, reader);
            if (t > 0 && (timer == 0 || t < timer)) {
              timer = t;
            }
          }
        }
        const auto expiry = message_expiry(limits, now, timer);
        out.disappear_at = expiry.disappear_at;
        if (expiry.disappear_at != 0) {
          // The deliveries carry the deadline: serialised again (only for such conversations).
          v1::Delivery d;
          d.set_sender_account_id(from_public_id);
          d.set_sender_device_id(from_device_no);
          d.set_client_message_id(request->client_message_id());
          d.set_server_time_ms(static_cast<std::uint64_t>(now));
          d.set_disappear_at_ms(static_cast<std::uint64_t>(expiry.disappear_at));
          for (int i = 0; i < request->envelopes_size(); ++i) {
            d.set_ciphertext(request->envelopes(i).ciphertext());
            (*bodies)[static_cast<std::size_t>(i)] = encode_delivery_body(d);
          }
        }
        for (int i = 0; i < request->envelopes_size(); ++i) {
          const auto index = static_cast<std::size_t>(i);
          const auto device = devices[index];
          const auto envelope = store.insert_envelope(
              device, from_device, cmid, bytes_of(request->envelopes(i).ciphertext()), now,
              expiry.expires_at, expiry.disappear_at);
          out.stored.push_back({envelope, device, (*bodies)[index]});
        }
        support::grant_blobs(store, blobs, readers, from_account);
        return out;
      },
      [this, id](Outcome out) {
        if (out.error == v1::UNKNOWN_BLOB || out.error == v1::BLOB_INCOMPLETE) {
          reply_error(id, out.error, support::send_blob_error_message(out.error));
          return;
        }
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
        reply.mutable_sent()->set_disappear_at_ms(static_cast<std::uint64_t>(out.disappear_at));
        send(reply);
      },
      [relay = &relay_](const Outcome& out) {
        for (const auto& delivery : out.stored) {
          relay->route(delivery);
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
      [device = device_, ids, now = relay_.clock().now_ms()](store::RelayStore& store) {
        return store.delete_envelopes(device, ids, now);
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

void Session::push(QueuedDelivery delivery) {
  on_strand([this, delivery = std::move(delivery)] { on_push(delivery); });
}

void Session::on_push(const QueuedDelivery& delivery) {
  if (state_ != State::authenticated || behind_ || draining_ || delivery.id <= cursor_) {
    return;  // a database read will pick it up, in order
  }
  const QueuedDelivery* one[] = {&delivery};
  if (unacked_.size() >= relay_.limits().max_unacked_deliveries || !deliver(one)) {
    behind_ = true;
  }
}

bool Session::deliver(std::span<const QueuedDelivery* const> deliveries) {
  auto conn = connection_.lock();
  if (!conn || !conn->send_pieces(encode_deliveries(deliveries))) {
    return false;
  }
  for (const auto* d : deliveries) {
    cursor_ = std::max(cursor_, d->id);
    unacked_.insert(d->id);
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
  std::vector<QueuedDelivery> queued;
  queued.reserve(envelopes.size());
  for (auto& e : envelopes) {
    if (e.id > cursor_) {
      queued.push_back({e.id, e.recipient_device, encode_delivery_body(e)});
    }
    e = {};  // the body holds the bytes now
  }
  std::vector<const QueuedDelivery*> batch;
  std::size_t batch_bytes = deliveries_frame_overhead;
  for (const auto& d : queued) {
    const auto bytes = delivery_frame_bytes(d);
    if (!batch.empty() && (batch.size() == per_frame || batch_bytes + bytes > max_bytes)) {
      if (!deliver(batch)) {
        return;  // still behind; the next frame from the client retries
      }
      batch.clear();
      batch_bytes = deliveries_frame_overhead;
    }
    batch.push_back(&d);
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

}  // namespace lotse::relay
