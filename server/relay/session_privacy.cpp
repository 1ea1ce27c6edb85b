// SPDX-License-Identifier: AGPL-3.0-or-later
// Session, retention and privacy (docs/PROTOCOL.md 2.19 and 2.20): a conversation's policy
// (GetPolicy, SetPolicy), the export of everything the relay holds about the account
// (ExportAccount) and erasing the account (DeleteAccount).
#include "relay/delivery_encoding.hpp"
#include "relay/log.hpp"
#include "relay/relay.hpp"
#include "relay/retention.hpp"
#include "relay/session.hpp"
#include "relay/session_support.hpp"

#include "lotse/v1/relay.pb.h"

#include <memory>

namespace lotse::relay {

using support::bytes_of;
using support::max_account_id_chars;

namespace {

constexpr std::size_t group_id_bytes = 16;
// Blobs per ExportAccount answer (about 100 bytes each: well within a frame).
constexpr std::size_t export_blob_page = 2000;
// Audit entries per export (the newest are kept by the audit log's lifetime anyway).
constexpr std::size_t export_audit_entries = 1000;

// Whether `ref` names exactly one conversation in a well-formed way.
const char* conversation_problem(const v1::ConversationRef& ref) {
  const bool peer = !ref.peer_account_id().empty();
  const bool group = !ref.group_id().empty();
  if (peer == group) {
    return "Name exactly one conversation: peer_account_id or group_id.";
  }
  if (peer && ref.peer_account_id().size() > max_account_id_chars) {
    return "peer_account_id is too long.";
  }
  if (group && ref.group_id().size() != group_id_bytes) {
    return "group_id must be 16 bytes.";
  }
  return nullptr;
}

// A conversation of `account`, found on the database thread.
struct Conversation {
  int error = 0;  // UNKNOWN_RECIPIENT or UNKNOWN_GROUP
  std::int64_t peer = 0;
  const store::Group* group = nullptr;
};

Conversation find_conversation(store::RelayStore& store, std::int64_t account,
                               const v1::ConversationRef& ref) {
  Conversation c;
  if (!ref.peer_account_id().empty()) {
    const store::Account* peer = store.account_by_public_id(ref.peer_account_id());
    if (peer == nullptr || peer->id == account || !store.may_reach(account, peer->id)) {
      c.error = v1::UNKNOWN_RECIPIENT;
    } else {
      c.peer = peer->id;
    }
    return c;
  }
  c.group = store.group(bytes_of(ref.group_id()));
  if (c.group == nullptr || !c.group->members.contains(account)) {
    c.error = v1::UNKNOWN_GROUP;
    c.group = nullptr;
  }
  return c;
}

std::optional<store::RelayStore::TimerOverride> own_timer(store::RelayStore& store,
                                                          std::int64_t account,
                                                          const Conversation& c) {
  return c.group != nullptr ? store.group_timer(c.group->id) : store.pair_timer(account, c.peer);
}

const char* conversation_error_message(int code) {
  return code == v1::UNKNOWN_GROUP ? "No such group, or this account is not a member of it."
                                   : "No such account, or this account may not write to it.";
}

}  // namespace

void Session::on_get_policy(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& ref = frame.get_policy().conversation();
  const bool organisation_only = ref.peer_account_id().empty() && ref.group_id().empty();
  if (!organisation_only) {
    if (const char* problem = conversation_problem(ref)) {
      reply_error(id, v1::BAD_REQUEST, problem);
      return;
    }
  }
  struct Outcome {
    int error = 0;
    v1::Policy policy;
  };
  submit<Outcome>(
      id,
      [ref, organisation_only, account = account_,
       limits = relay_.limits()](store::RelayStore& store) {
        Outcome out;
        if (organisation_only) {
          fill_policy(out.policy, limits, std::nullopt);
          return out;
        }
        const auto c = find_conversation(store, account, ref);
        if (c.error != 0) {
          out.error = c.error;
          return out;
        }
        *out.policy.mutable_conversation() = ref;
        fill_policy(out.policy, limits, own_timer(store, account, c));
        return out;
      },
      [this, id](Outcome out) {
        if (out.error != 0) {
          reply_error(id, out.error, conversation_error_message(out.error));
          return;
        }
        v1::ServerFrame reply;
        reply.set_request_id(id);
        *reply.mutable_policy() = std::move(out.policy);
        send(reply);
      });
}

void Session::on_set_policy(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& set = frame.set_policy();
  if (const char* problem = conversation_problem(set.conversation())) {
    reply_error(id, v1::BAD_REQUEST, problem);
    return;
  }
  const auto& limits = relay_.limits();
  if (!set.use_default() && !timer_within_bounds(limits, set.disappearing_seconds())) {
    reply_error(id, v1::POLICY_BOUNDS,
                "The timer is outside the organisation's bounds (GetPolicy shows them).");
    return;
  }
  struct Outcome {
    int error = 0;
    v1::Policy policy;
  };
  const auto now = relay_.clock().now_ms();
  submit<Outcome>(
      id,
      [set, account = account_, now, limits](store::RelayStore& store) {
        Outcome out;
        const auto c = find_conversation(store, account, set.conversation());
        if (c.error != 0) {
          out.error = c.error;
          return out;
        }
        const std::optional<std::int64_t> timer =
            set.use_default() ? std::nullopt
                              : std::optional<std::int64_t>(set.disappearing_seconds());
        if (c.group != nullptr) {
          // A group's timer is its owners' and admins' to set, like its membership.
          if (c.group->members.at(account) == store::GroupRole::member) {
            out.error = v1::NOT_AUTHORIZED;
            return out;
          }
          if (c.group->archived) {
            out.error = v1::GROUP_ARCHIVED;
            return out;
          }
          store.set_group_timer(c.group->id, timer, account, now);
        } else {
          store.set_pair_timer(account, c.peer, timer, account, now);
        }
        *out.policy.mutable_conversation() = set.conversation();
        fill_policy(out.policy, limits, own_timer(store, account, c));
        return out;
      },
      [this, id](Outcome out) {
        switch (out.error) {
          case 0: break;
          case v1::NOT_AUTHORIZED:
            reply_error(id, out.error, "Only a group's owners and admins may set its timer.");
            return;
          case v1::GROUP_ARCHIVED:
            reply_error(id, out.error, "The group is archived; nothing was changed.");
            return;
          default: reply_error(id, out.error, conversation_error_message(out.error)); return;
        }
        v1::ServerFrame reply;
        reply.set_request_id(id);
        *reply.mutable_policy() = std::move(out.policy);
        send(reply);
      });
}

void Session::on_export_account(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& after = frame.export_account().blobs_after();
  if (!after.empty() && after.size() != support::blob_id_bytes) {
    reply_error(id, v1::BAD_REQUEST, "blobs_after must be empty or a 32-byte blob id.");
    return;
  }
  const auto now = relay_.clock().now_ms();
  submit<v1::AccountExport>(
      id,
      [account = account_, after, now, limits = relay_.limits()](store::RelayStore& store) {
        v1::AccountExport out;
        const auto data =
            store.account_data(account, bytes_of(after), export_blob_page, export_audit_entries);
        out.set_exported_at_ms(static_cast<std::uint64_t>(now));
        if (data.account == nullptr) {
          return out;
        }
        const auto& a = *data.account;
        out.set_account_id(a.public_id);
        out.set_role(support::to_proto(a.role));
        out.set_handle(a.handle);
        out.set_account_key(a.account_key.data(), a.account_key.size());
        out.set_inviter_account_id(data.inviter);
        out.set_created_at_ms(static_cast<std::uint64_t>(a.created_at));
        out.set_last_seen_at_ms(static_cast<std::uint64_t>(a.last_seen_at));
        for (const auto& dd : data.devices) {
          auto* d = out.add_devices();
          d->set_device_id(dd.device->device_no);
          support::fill_device_keys(*d->mutable_device(), dd.device->keys);
          d->set_signed_prekey_id(dd.device->signed_prekey.id);
          d->set_signed_prekey(dd.device->signed_prekey.public_key.data(),
                               dd.device->signed_prekey.public_key.size());
          d->set_one_time_prekeys(dd.one_time_prekeys);
          d->set_created_at_ms(static_cast<std::uint64_t>(dd.created_at));
          d->set_queued_envelopes(dd.queued);
          d->set_oldest_queued_at_ms(static_cast<std::uint64_t>(dd.oldest_queued));
          d->set_queued_sent(dd.queued_sent);
          d->set_send_guards(dd.send_guards);
        }
        for (const auto& c : data.connections) {
          out.add_connections(c);
        }
        for (const auto& [group, role] : data.groups) {
          auto* g = out.add_groups();
          g->set_group_id(group->group_id.data(), group->group_id.size());
          g->set_role(static_cast<v1::GroupRole>(static_cast<int>(role)));
          g->set_epoch(group->epoch);
          g->set_archived(group->archived);
          g->set_created_at_ms(static_cast<std::uint64_t>(group->created_at));
        }
        fill_policy(*out.add_policies(), limits, std::nullopt);
        for (const auto& t : data.pair_timers) {
          auto* p = out.add_policies();
          p->mutable_conversation()->set_peer_account_id(t.peer);
          fill_policy(*p, limits, t.timer);
        }
        for (const auto& [group, timer] : data.group_timers) {
          auto* p = out.add_policies();
          p->mutable_conversation()->set_group_id(group->group_id.data(), group->group_id.size());
          fill_policy(*p, limits, timer);
        }
        for (const auto& b : data.blobs) {
          auto* e = out.add_blobs();
          e->set_blob_id(b.blob_id.data(), b.blob_id.size());
          e->set_size(b.size);
          e->set_complete(b.complete);
          e->set_created_at_ms(static_cast<std::uint64_t>(b.created_at));
          e->set_expires_at_ms(
              static_cast<std::uint64_t>(b.complete ? b.expires_at : b.upload_expires_at));
        }
        out.set_blob_count(data.blob_count);
        out.set_more_blobs(data.more_blobs);
        out.set_readable_blobs(data.blob_readers);
        for (const auto& i : data.invites) {
          auto* e = out.add_invites();
          e->set_role(support::to_proto(i.role));
          e->set_uses_left(static_cast<std::uint32_t>(i.uses_left));
          e->set_expires_at_ms(static_cast<std::uint64_t>(i.expires_at));
          e->set_created_at_ms(static_cast<std::uint64_t>(i.created_at));
        }
        for (const auto& entry : data.audit) {
          auto* e = out.add_audit();
          e->set_at_ms(static_cast<std::uint64_t>(entry.at));
          e->set_actor(entry.actor);
          e->set_action(entry.action);
          e->set_subject(entry.subject);
          e->set_detail(entry.detail);
        }
        support::fill_inbox_export(out, store, account);
        return out;
      },
      [this, id](v1::AccountExport out) {
        v1::ServerFrame reply;
        reply.set_request_id(id);
        *reply.mutable_account_export() = std::move(out);
        send(reply);
      });
}

void Session::on_delete_account(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  if (frame.delete_account().account_id() != account_public_id_) {
    reply_error(id, v1::BAD_REQUEST,
                "DeleteAccount.account_id must be this connection's own account id.");
    return;
  }
  const auto now = relay_.clock().now_ms();
  auto erased = std::make_shared<ErasedAccount>();
  submit<bool>(
      id,
      [erased, account = account_, now, limits = relay_.limits()](store::RelayStore& store) {
        *erased = erase_account(store, limits, account, now, "", "");
        return !erased->public_id.empty();
      },
      [this, id](bool) {
        v1::ServerFrame reply;
        reply.set_request_id(id);
        reply.mutable_account_deleted();
        send(reply);
        log::info("account.deleted_by_itself", {{"conn", connection_id_}});
        close(CloseReason::normal);  // after the answer; the account's other connections closed
      },
      [relay = &relay_, erased, device = device_](const bool& done) {
        if (done) {
          relay->account_erased(*erased, device);
        }
      });
}

void Session::on_close_conversation(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& close = frame.close_conversation();
  const auto& limits = relay_.limits();
  if (close.conversation().peer_account_id().empty() || !close.conversation().group_id().empty() ||
      close.conversation().peer_account_id().size() > max_account_id_chars) {
    reply_error(id, v1::BAD_REQUEST,
                "CloseConversation names a peer_account_id; a group is closed with an archiving "
                "commit whose closed flag is set.");
    return;
  }
  if (close.client_message_id().size() != support::client_message_id_bytes) {
    reply_error(id, v1::BAD_REQUEST, "client_message_id must be 16 bytes.");
    return;
  }
  if (role_ == store::Role::client) {
    reply_error(id, v1::NOT_AUTHORIZED, "Only staff and admins close a case.");
    return;
  }
  if (static_cast<std::size_t>(close.notices_size()) > limits.max_envelopes_per_send) {
    reply_error(id, v1::TOO_MANY_ENVELOPES, "Too many notices in one CloseConversation.");
    return;
  }
  for (const auto& n : close.notices()) {
    if (n.ciphertext().size() > limits.max_envelope_bytes) {
      reply_error(id, v1::TOO_LARGE, "A notice's ciphertext is over max_envelope_bytes.");
      return;
    }
    if (n.ciphertext().empty() ||
        (n.recipient_account_id() != close.conversation().peer_account_id() &&
         n.recipient_account_id() != account_public_id_) ||
        (n.recipient_account_id() == account_public_id_ && n.recipient_device_id() == device_no_)) {
      reply_error(id, v1::BAD_REQUEST,
                  "A notice must go to a device of the peer or to another device of this "
                  "account, with a ciphertext.");
      return;
    }
  }
  struct Outcome {
    int error = 0;
    std::size_t envelopes = 0;
    std::vector<store::Blob> blobs;
    std::vector<QueuedDelivery> notices;
  };
  const auto now = relay_.clock().now_ms();
  auto request = std::make_shared<const v1::CloseConversation>(close);
  submit<Outcome>(
      id,
      [request, account = account_, now, &limits, from_device = device_,
       from_public_id = account_public_id_, from_device_no = device_no_,
       lifetime =
           std::chrono::milliseconds(limits.envelope_lifetime).count()](store::RelayStore& store) {
        Outcome out;
        const auto c = find_conversation(store, account, request->conversation());
        if (c.error != 0) {
          out.error = c.error;
          return out;
        }
        // Every notice's device must exist (checked before anything is deleted).
        std::vector<std::int64_t> devices;
        for (const auto& n : request->notices()) {
          const auto* a = store.account_by_public_id(n.recipient_account_id());
          const auto* d = a != nullptr ? store.device(a->id, n.recipient_device_id()) : nullptr;
          if (d == nullptr) {
            out.error = v1::UNKNOWN_RECIPIENT;
            return out;
          }
          devices.push_back(d->id);
        }
        auto closed = store.close_pair(account, c.peer, now);
        out.envelopes = closed.envelopes;
        out.blobs = std::move(closed.blobs);
        v1::Delivery d;
        d.set_sender_account_id(from_public_id);
        d.set_sender_device_id(from_device_no);
        d.set_client_message_id(request->client_message_id());
        d.set_server_time_ms(static_cast<std::uint64_t>(now));
        const auto cmid = bytes_of(request->client_message_id());
        for (int i = 0; i < request->notices_size(); ++i) {
          const auto device = devices[static_cast<std::size_t>(i)];
          d.set_ciphertext(request->notices(i).ciphertext());
          const auto envelope = store.insert_envelope(device, from_device, cmid,
                                                      bytes_of(request->notices(i).ciphertext()),
                                                      now, now + lifetime);
          out.notices.push_back({envelope, device, encode_delivery_body(d)});
        }
        const auto* peer = store.account(c.peer);
        store.audit(from_public_id, "conversation.closed", peer != nullptr ? peer->public_id : "",
                    now, now + std::chrono::milliseconds(limits.audit_log_lifetime).count());
        return out;
      },
      [this, id, now, keep = limits.close_keeps_staff_copy](Outcome out) {
        if (out.error != 0) {
          reply_error(id, out.error,
                      out.error == v1::UNKNOWN_RECIPIENT && out.envelopes == 0
                          ? "No such account or device, or this account may not write to it; "
                            "nothing was deleted."
                          : conversation_error_message(out.error));
          return;
        }
        v1::ServerFrame reply;
        reply.set_request_id(id);
        auto* closed = reply.mutable_conversation_closed();
        closed->set_envelopes_deleted(static_cast<std::uint32_t>(out.envelopes));
        closed->set_blobs_deleted(static_cast<std::uint32_t>(out.blobs.size()));
        closed->set_keep_staff_copy(keep);
        closed->set_server_time_ms(static_cast<std::uint64_t>(now));
        send(reply);
      },
      [relay = &relay_](const Outcome& out) {
        for (const auto& blob : out.blobs) {
          relay->blobs().forget(BlobKey(blob.begin(), blob.end()));
        }
        for (const auto& notice : out.notices) {
          relay->route(notice);
        }
      });
}

}  // namespace lotse::relay
