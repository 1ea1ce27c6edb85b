// SPDX-License-Identifier: AGPL-3.0-or-later
// Session, groups (docs/PROTOCOL.md 2.17): UpdateGroup (a signed membership change, verified as
// clients verify it plus the organisation's rules of group_policy.hpp, then queued for every
// device of the old and the new membership), a group Send (one ciphertext stored once and queued
// for every member device), GetGroupLog, ListGroups and ListDirectory.
#include "relay/session.hpp"

#include "relay/case_policy.hpp"
#include "relay/delivery_encoding.hpp"
#include "relay/group_policy.hpp"
#include "relay/relay.hpp"
#include "relay/retention.hpp"
#include "relay/session_support.hpp"

#include "protocol/group_commit.hpp"

#include "lotse/v1/e2e.pb.h"
#include "lotse/v1/relay.pb.h"

#include <optional>
#include <set>
#include <stdexcept>

namespace lotse::relay {
namespace {

using support::blob_of;
using support::bytes_of;
using support::same_bytes;

// A GroupLog frame's own bytes besides its commits (request id, tags, lengths, group id,
// `complete`), and each commit's tag and length, at most.
constexpr std::size_t group_log_overhead = 64;
constexpr std::size_t group_log_commit_overhead = 6;

// What apply_group_commit's refusal means on the wire.
GroupRefusal refusal_of(const boost::system::error_code& ec) {
  using protocol::errc;
  if (ec == errc::group_out_of_order) {
    return {v1::GROUP_CONFLICT,
            "The commit does not follow the group's current commit; fetch the log and retry."};
  }
  if (ec == errc::group_archived) {
    return {v1::GROUP_ARCHIVED, "The group is archived; it cannot change any more."};
  }
  if (ec == errc::group_rule_violation) {
    return {v1::GROUP_RULE, "The author may not make this membership change."};
  }
  if (ec == errc::bad_signature) {
    return {v1::BAD_SIGNATURE, "The commit's device certificate or signature does not verify."};
  }
  return {v1::BAD_REQUEST, "The commit is malformed or of an unsupported version."};
}

const char* const unknown_group_message = "No such group, or this account is not a member of it.";

}  // namespace

// --- membership changes -----------------------------------------------------------------------

void Session::on_update_group(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& u = frame.update_group();
  const auto& limits = relay_.limits();
  if (!u.has_commit()) {
    reply_error(id, v1::BAD_REQUEST, "UpdateGroup needs a commit.");
    return;
  }
  v1::GroupCommit commit;
  if (!commit.ParseFromString(u.commit().commit()) ||
      commit.group_id().size() != protocol::group_id_bytes) {
    reply_error(id, v1::BAD_REQUEST, "The commit does not decode or its group_id is not 16 bytes.");
    return;
  }
  if (!u.inbox_id().empty() && (u.inbox_id().size() != 16 || commit.epoch() != 0)) {
    reply_error(id, v1::BAD_REQUEST, "inbox_id is 16 bytes, on a case's first commit only.");
    return;
  }
  if (u.handover_reason().size() > 200) {
    reply_error(id, v1::BAD_REQUEST, "A handover reason is at most 200 bytes.");
    return;
  }
  if (static_cast<std::size_t>(commit.members_size()) > protocol::max_group_members) {
    reply_error(id, v1::TOO_LARGE, "A group has at most 1000 members.");
    return;
  }
  if (commit.author_account_id() != account_public_id_ || commit.author_device_id() != device_no_) {
    reply_error(id, v1::NOT_AUTHORIZED,
                "A commit's author must be this connection's account and device.");
    return;
  }
  std::uint32_t retry = 0;
  if (!relay_.take_message_tokens(account_, 1, retry)) {
    reply_error(id, v1::RATE_LIMITED, "This account is sending too fast.", retry);
    return;
  }
  const auto now = relay_.clock().now_ms();
  auto signed_commit = std::make_shared<const v1::SignedGroupCommit>(u.commit());
  auto signed_bytes = std::make_shared<const std::string>(signed_commit->SerializeAsString());
  // The Delivery every recipient gets, serialised once.
  DeliveryBody body;
  {
    v1::Delivery d;
    d.set_sender_account_id(account_public_id_);
    d.set_sender_device_id(device_no_);
    d.set_server_time_ms(static_cast<std::uint64_t>(now));
    d.set_group_id(commit.group_id());
    d.set_group_commit(*signed_bytes);
    body = encode_delivery_body(d);
  }

  struct Outcome {
    std::optional<GroupRefusal> refusal;
    std::uint64_t epoch = 0;
    std::vector<QueuedDelivery> queued;
  };
  submit<Outcome>(
      id,
      [signed_commit, signed_bytes, body, group_id = commit.group_id(), epoch = commit.epoch(),
       closes = commit.archived() && commit.closed(), account = account_, device = device_, now,
       max_groups = limits.max_groups_per_account, inbox_id = u.inbox_id(),
       reason = u.handover_reason(), &limits,
       lifetime =
           std::chrono::milliseconds(limits.envelope_lifetime).count()](store::RelayStore& store) {
        Outcome out;
        out.epoch = epoch;
        const store::Group* group = store.group(bytes_of(group_id));
        // A resend of a commit already stored (its answer was lost) is answered as accepted.
        if (group != nullptr && epoch <= group->epoch) {
          const auto stored = store.group_commit(group->id, epoch);
          if (stored && same_bytes(*signed_bytes, *stored)) {
            return out;
          }
        }
        const store::Account* author = store.account(account);
        if (author == nullptr) {
          throw std::runtime_error("the session's account is gone");
        }
        if (group != nullptr) {
          if (auto lost = check_case_holder(store, *author, *group)) {
            out.refusal = std::move(lost);
            return out;
          }
        }
        if (group == nullptr ? epoch != 0 : !group->members.contains(account)) {
          out.refusal = GroupRefusal{v1::UNKNOWN_GROUP, unknown_group_message};
          return out;
        }
        std::optional<protocol::GroupState> previous;
        if (group != nullptr) {
          // The head was verified when it was stored; a damaged log fails the job (INTERNAL).
          const auto head_bytes = store.group_commit(group->id, group->epoch);
          v1::SignedGroupCommit head;
          if (!head_bytes ||
              !head.ParseFromArray(head_bytes->data(), static_cast<int>(head_bytes->size()))) {
            throw std::runtime_error("a group's current commit is missing or damaged");
          }
          auto state = protocol::decode_trusted_group_commit(head);
          if (!state) {
            throw std::runtime_error("a group's current commit does not decode");
          }
          previous = std::move(*state);
        }
        const protocol::GroupState* before = previous ? &*previous : nullptr;
        auto next = protocol::apply_group_commit(before, *signed_commit);
        if (!next) {
          out.refusal = refusal_of(next.error());
          return out;
        }
        // The client verified the author's certificate with the account key; the relay also
        // holds the author to the device keys this connection logged in with.
        const store::Device* author_device = store.device(device);
        const auto& claimed = signed_commit->author_device();
        if (author_device == nullptr ||
            !same_bytes(claimed.signing_key(), author_device->keys.signing_key) ||
            !same_bytes(claimed.dh_key(), author_device->keys.dh_key)) {
          out.refusal = GroupRefusal{v1::BAD_SIGNATURE,
                                     "The commit's author device is not this connection's device."};
          return out;
        }
        store::GroupMembers members;
        if (auto refusal = check_group_policy(store, *author, before, *next, max_groups, members,
                                              is_case_group(store, group, inbox_id))) {
          out.refusal = std::move(refusal);
          return out;
        }
        CaseChange case_change;
        if (auto refusal = check_case_change(store, *author, group, inbox_id, reason, before, *next,
                                             case_change)) {
          out.refusal = std::move(refusal);
          return out;
        }
        // Everyone who was or is a member learns of the change (a removed member learns that it
        // was removed), on every device but the author's.
        std::set<std::int64_t> recipients;
        if (group != nullptr) {
          for (const auto& [member, role] : group->members) {
            recipients.insert(member);
          }
        }
        for (const auto& [member, role] : members) {
          recipients.insert(member);
        }
        const auto commit_row = store.store_group_commit(
            store::GroupChange{bytes_of(group_id), epoch, next->archived, std::move(members),
                               bytes_of(*signed_bytes)},
            now);
        if (const store::Group* stored = store.group(bytes_of(group_id))) {
          apply_case_change(store, limits, stored->id, case_change, now);
          if (closes) {
            // The case is closed (docs/PROTOCOL.md 2.21): no message of the group stays queued.
            (void)store.close_group(stored->id, now);
            store.audit(author->public_id, "conversation.closed", "", now,
                        now + std::chrono::milliseconds(limits.audit_log_lifetime).count(),
                        "group " + case_hex(stored->group_id));
          }
        }
        for (const auto member : recipients) {
          for (const auto* d : store.devices_of(member)) {
            if (d->id != device) {
              const auto envelope =
                  store.insert_commit_envelope(d->id, device, commit_row, now, now + lifetime);
              out.queued.push_back({envelope, d->id, body});
            }
          }
        }
        return out;
      },
      [this, id, now](Outcome out) {
        if (out.refusal) {
          reply_error(id, out.refusal->code, out.refusal->message);
          return;
        }
        v1::ServerFrame reply;
        reply.set_request_id(id);
        reply.mutable_group_updated()->set_epoch(out.epoch);
        reply.mutable_group_updated()->set_server_time_ms(static_cast<std::uint64_t>(now));
        send(reply);
      },
      [relay = &relay_](const Outcome& out) {
        for (const auto& delivery : out.queued) {
          relay->route(delivery);
        }
      });
}

// --- group messages ---------------------------------------------------------------------------

void Session::on_group_send(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& s = frame.send();
  const auto& limits = relay_.limits();
  if (s.envelopes_size() != 0 || s.group_id().size() != protocol::group_id_bytes ||
      s.group_ciphertext().empty()) {
    reply_error(id, v1::BAD_REQUEST,
                "A group Send has a 16-byte group_id, a group_ciphertext and no envelopes.");
    return;
  }
  if (s.group_ciphertext().size() > limits.max_envelope_bytes) {
    reply_error(id, v1::TOO_LARGE, "The group ciphertext is larger than the relay allows.");
    return;
  }
  const char* blob_problem = nullptr;
  if (const int code = support::check_blob_ids(s, limits, blob_problem); code != 0) {
    reply_error(id, code, blob_problem);
    return;
  }
  std::uint32_t retry = 0;
  if (!relay_.take_message_tokens(account_, 1, retry)) {
    reply_error(id, v1::RATE_LIMITED, "This account is sending too fast.", retry);
    return;
  }
  const auto now = relay_.clock().now_ms();
  // One Delivery for every recipient, serialised once (relay/delivery_encoding.hpp).
  DeliveryBody body;
  {
    v1::Delivery d;
    d.set_sender_account_id(account_public_id_);
    d.set_sender_device_id(device_no_);
    d.set_client_message_id(s.client_message_id());
    d.set_ciphertext(s.group_ciphertext());
    d.set_server_time_ms(static_cast<std::uint64_t>(now));
    d.set_group_id(s.group_id());
    body = encode_delivery_body(d);
  }
  struct Outcome {
    int error = 0;
    bool duplicate = false;
    std::int64_t disappear_at = 0;
    std::vector<QueuedDelivery> queued;
  };
  auto request = std::make_shared<const v1::Send>(s);
  submit<Outcome>(
      id,
      [request, body, account = account_, from_device = device_, now, &limits,
       from_public_id = account_public_id_, from_device_no = device_no_,
       max_queued = limits.max_queued_envelopes_per_device,
       dedup =
           std::chrono::milliseconds(limits.send_dedup_window).count()](store::RelayStore& store) {
        Outcome out;
        const auto cmid = bytes_of(request->client_message_id());
        if (store.send_seen(from_device, cmid, now)) {
          out.duplicate = true;  // as for pairwise sends: whatever changed since
          return out;
        }
        const store::Group* group = store.group(bytes_of(request->group_id()));
        if (group == nullptr || !group->members.contains(account)) {
          out.error = v1::UNKNOWN_GROUP;
          return out;
        }
        if (group->archived) {
          out.error = v1::GROUP_ARCHIVED;
          return out;
        }
        // Encrypted for another membership than the current one: the sender has a commit to
        // process first (keys to rotate or hand out), then encrypts again.
        if (request->group_epoch() != group->epoch) {
          out.error = v1::GROUP_CONFLICT;
          return out;
        }
        std::vector<std::int64_t> blobs;
        if (const int code = support::check_send_blobs(store, *request, account, now, blobs);
            code != 0) {
          out.error = code;
          return out;
        }
        std::vector<std::int64_t> recipients;
        for (const auto& [member, role] : group->members) {
          for (const auto* d : store.devices_of(member)) {
            if (d->id != from_device) {
              if (store.queued(d->id) + 1 > max_queued) {
                out.error = v1::QUEUE_FULL;
                return out;  // nothing stored
              }
              recipients.push_back(d->id);
            }
          }
        }
        if (!store.remember_send(from_device, cmid, now + dedup, now)) {
          out.duplicate = true;
          return out;
        }
        // Every member at this epoch (the current one, checked above) may read the blobs.
        if (!blobs.empty()) {
          std::set<std::int64_t> members;
          for (const auto& [member, role] : group->members) {
            members.insert(member);
          }
          support::grant_blobs(store, blobs, members, account);
        }
        if (recipients.empty()) {
          return out;  // a group of one device: accepted, nobody to deliver to
        }
        // The group's disappearing-message timer (docs/PROTOCOL.md 2.19).
        const auto expiry =
            message_expiry(limits, now, group_timer_seconds(store, limits, group->id));
        out.disappear_at = expiry.disappear_at;
        auto shared_body = body;
        if (expiry.disappear_at != 0) {
          v1::Delivery d;
          d.set_sender_account_id(from_public_id);
          d.set_sender_device_id(from_device_no);
          d.set_client_message_id(request->client_message_id());
          d.set_ciphertext(request->group_ciphertext());
          d.set_server_time_ms(static_cast<std::uint64_t>(now));
          d.set_group_id(request->group_id());
          d.set_disappear_at_ms(static_cast<std::uint64_t>(expiry.disappear_at));
          shared_body = encode_delivery_body(d);
        }
        // The ciphertext once; a small queue row per device refers to it.
        const auto message = store.insert_group_message(
            group->id, bytes_of(request->group_ciphertext()), now, expiry.expires_at);
        out.queued.reserve(recipients.size());
        for (const auto device : recipients) {
          const auto envelope = store.insert_group_envelope(device, from_device, cmid, message, now,
                                                            expiry.expires_at, expiry.disappear_at);
          out.queued.push_back({envelope, device, shared_body});
        }
        return out;
      },
      [this, id, now](Outcome out) {
        switch (out.error) {
          case 0: break;
          case v1::UNKNOWN_GROUP: reply_error(id, out.error, unknown_group_message); return;
          case v1::GROUP_ARCHIVED:
            reply_error(id, out.error, "The group is archived; nothing was stored.");
            return;
          case v1::UNKNOWN_BLOB:
          case v1::BLOB_INCOMPLETE:
            reply_error(id, out.error, support::send_blob_error_message(out.error));
            return;
          case v1::GROUP_CONFLICT:
            reply_error(id, out.error,
                        "The group's membership has changed since group_epoch; process the queued "
                        "commit, then encrypt again.");
            return;
          default:
            reply_error(id, out.error, "A member device's queue is full; nothing was stored.");
            return;
        }
        v1::ServerFrame reply;
        reply.set_request_id(id);
        reply.mutable_sent()->set_server_time_ms(static_cast<std::uint64_t>(now));
        reply.mutable_sent()->set_duplicate(out.duplicate);
        reply.mutable_sent()->set_disappear_at_ms(static_cast<std::uint64_t>(out.disappear_at));
        send(reply);
      },
      [relay = &relay_](const Outcome& out) {
        for (const auto& delivery : out.queued) {
          relay->route(delivery);
        }
      });
}

// --- queries ----------------------------------------------------------------------------------

void Session::on_get_group_log(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& g = frame.get_group_log();
  if (g.group_id().size() != protocol::group_id_bytes) {
    reply_error(id, v1::BAD_REQUEST, "group_id must be 16 bytes.");
    return;
  }
  struct Outcome {
    bool found = false;
    v1::GroupLog log;
  };
  submit<Outcome>(
      id,
      [group_id = g.group_id(), from = g.from_epoch(), account = account_,
       max_bytes = relay_.limits().max_frame_bytes](store::RelayStore& store) {
        Outcome out;
        const store::Group* group = store.group(bytes_of(group_id));
        if (group == nullptr || !group->members.contains(account)) {
          return out;
        }
        out.found = true;
        out.log.set_group_id(group_id);
        const auto budget = max_bytes > group_log_overhead ? max_bytes - group_log_overhead : 0;
        const auto commits = store.group_log(group->id, from, budget, group_log_commit_overhead);
        for (const auto& bytes : commits) {
          if (!out.log.add_commits()->ParseFromArray(bytes.data(),
                                                     static_cast<int>(bytes.size()))) {
            throw std::runtime_error("a stored group commit does not decode");
          }
        }
        // Epochs are consecutive from 0: the answer reaches the current commit (or asked past it).
        out.log.set_complete(from + commits.size() > group->epoch);
        return out;
      },
      [this, id](Outcome out) {
        if (!out.found) {
          reply_error(id, v1::UNKNOWN_GROUP, unknown_group_message);
          return;
        }
        v1::ServerFrame reply;
        reply.set_request_id(id);
        *reply.mutable_group_log() = std::move(out.log);
        send(reply);
      });
}

void Session::on_list_groups(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  submit<v1::Groups>(
      id,
      [account = account_](store::RelayStore& store) {
        v1::Groups out;
        for (const auto* g : store.groups_of(account)) {
          auto* summary = out.add_groups();
          summary->set_group_id(g->group_id.data(), g->group_id.size());
          summary->set_epoch(g->epoch);
          summary->set_archived(g->archived);
        }
        return out;
      },
      [this, id](v1::Groups groups) {
        v1::ServerFrame reply;
        reply.set_request_id(id);
        *reply.mutable_groups() = std::move(groups);
        send(reply);
      });
}

void Session::on_list_directory(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  if (role_ == store::Role::client) {
    reply_error(id, v1::NOT_AUTHORIZED, "Only staff and admins may list the staff directory.");
    return;
  }
  submit<v1::Directory>(
      id,
      [](store::RelayStore& store) {
        v1::Directory out;
        for (const auto* a : store.staff_directory()) {
          support::fill_contact(*out.add_entries(), store, *a);
        }
        return out;
      },
      [this, id](v1::Directory directory) {
        v1::ServerFrame reply;
        reply.set_request_id(id);
        *reply.mutable_directory() = std::move(directory);
        send(reply);
      });
}

}  // namespace lotse::relay
