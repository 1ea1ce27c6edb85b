// SPDX-License-Identifier: AGPL-3.0-or-later
// Session, counselling inboxes and cases (docs/PROTOCOL.md 2.22): admins define inboxes
// (SetInbox) and publish their signed office-hours notice (PublishInboxNotice); staff go on and
// off duty (SetDuty) and list cases (ListCases); a counsellor asks the client to consent to a
// handover (RequestHandover), which the client may decline (DeclineHandover). Opening, claiming
// and handing over a case are membership commits (session_groups.cpp, case_policy.hpp).
#include "relay/case_policy.hpp"
#include "relay/delivery_encoding.hpp"
#include "relay/relay.hpp"
#include "relay/session.hpp"
#include "relay/session_support.hpp"

#include "lotse/v1/e2e.pb.h"
#include "lotse/v1/relay.pb.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>

namespace lotse::relay {

using support::bytes_of;
using support::max_account_id_chars;

namespace {

constexpr std::size_t inbox_id_bytes = 16;
constexpr std::size_t max_inbox_name_bytes = 64;
constexpr std::size_t max_inbox_staff = 100;
constexpr std::size_t max_notice_bytes = 8192;
constexpr std::size_t max_reason_bytes = 200;
constexpr const char* notice_context = "inbox-notice";

bool valid_name(const std::string& name) {
  return !name.empty() && name.size() <= max_inbox_name_bytes &&
         std::none_of(name.begin(), name.end(), [](char c) {
           const auto u = static_cast<unsigned char>(c);
           return u < 0x20 || u == 0x7f;
         });
}

// What the requester may see of an inbox: staff and admins everything; a client of the inbox
// the counsellors on duty and the supervisors, with their keys, so that it can open its case.
void fill_inbox(v1::InboxInfo& out, const store::RelayStore& store, const store::Inbox& in,
                bool for_client) {
  out.set_inbox_id(in.inbox_id.data(), in.inbox_id.size());
  out.set_name(in.name);
  for (const auto& m : in.staff) {
    const store::Account* a = store.account(m.account);
    if (a == nullptr || (for_client && !m.on_duty && !m.supervisor)) {
      continue;
    }
    auto* s = out.add_staff();
    s->set_account_id(a->public_id);
    s->set_supervisor(m.supervisor);
    s->set_on_duty(m.on_duty);
    s->set_handle(a->handle);
    if (for_client) {
      support::fill_contact(*out.add_contacts(), store, *a);
    }
  }
  out.set_handover_needs_consent(in.needs_consent);
  out.set_max_open_cases(in.max_open_cases);
  if (!for_client) {
    out.set_open_cases(store.open_cases(in.id));
  }
  if (!in.notice.empty()) {
    (void)out.mutable_notice()->ParseFromArray(in.notice.data(),
                                               static_cast<int>(in.notice.size()));
  }
  if (const store::Account* signer = in.signer ? store.account(*in.signer) : nullptr) {
    out.set_signer_account_id(signer->public_id);
    out.set_signer_account_key(signer->account_key.data(), signer->account_key.size());
  }
}

void fill_case(v1::CaseInfo& out, const store::RelayStore& store, const store::Case& c) {
  const store::Group* g = store.group_by_row(c.group_row);
  if (g != nullptr) {
    out.set_case_id(g->group_id.data(), g->group_id.size());
    out.set_archived(g->archived);
  }
  if (const store::Inbox* in = c.inbox ? store.inbox(*c.inbox) : nullptr) {
    out.set_inbox_id(in->inbox_id.data(), in->inbox_id.size());
    out.set_inbox_name(in->name);
  }
  const auto public_id = [&](std::optional<std::int64_t> row) {
    const store::Account* a = row ? store.account(*row) : nullptr;
    return a != nullptr ? a->public_id : std::string();
  };
  out.set_client_account_id(public_id(c.client));
  out.set_counsellor_account_id(public_id(c.counsellor));
  out.set_created_at_ms(static_cast<std::uint64_t>(c.created_at));
  out.set_claimed_at_ms(static_cast<std::uint64_t>(c.claimed_at));
  out.set_pending_handover_to(public_id(c.pending_to));
  out.set_pending_since_ms(static_cast<std::uint64_t>(c.pending_at));
}

// Queues `notice` for every device of `account` (sender fields empty: the relay's).
void queue_case_notice(store::RelayStore& store, std::int64_t account, const v1::CaseNotice& notice,
                       std::int64_t now, std::int64_t expires_at,
                       std::vector<QueuedDelivery>& out) {
  const auto bytes = notice.SerializeAsString();
  v1::Delivery d;
  *d.mutable_case_notice() = notice;
  d.set_server_time_ms(static_cast<std::uint64_t>(now));
  const auto body = encode_delivery_body(d);
  for (const auto* device : store.devices_of(account)) {
    const auto envelope = store.insert_case_notice(device->id, bytes_of(bytes), now, expires_at);
    out.push_back({envelope, device->id, body});
  }
}

struct InboxOutcome {
  int error = 0;
  std::string message;
  v1::InboxInfo info;
};

}  // namespace

void support::fill_inbox_export(v1::AccountExport& out, const store::RelayStore& store,
                                std::int64_t account) {
  if (const auto row = store.inbox_of_client(account)) {
    if (const store::Inbox* in = store.inbox(*row)) {
      out.set_client_of_inbox(in->inbox_id.data(), in->inbox_id.size());
    }
  }
  for (const store::Inbox* in : store.inboxes()) {
    if (const store::InboxMember* m = in->member(account)) {
      auto* r = out.add_inbox_roles();
      r->set_inbox_id(in->inbox_id.data(), in->inbox_id.size());
      r->set_name(in->name);
      r->set_supervisor(m->supervisor);
      r->set_on_duty(m->on_duty);
    }
    for (const store::Case* c : store.cases_of_inbox(in->id)) {
      if (c->client != account && c->counsellor != account && c->pending_to != account) {
        continue;
      }
      fill_case(*out.add_cases(), store, *c);
    }
  }
  // A case whose inbox was removed still names its client.
  if (const store::Case* c = store.case_of_client(account); c != nullptr && !c->inbox) {
    fill_case(*out.add_cases(), store, *c);
  }
}

void Session::reply_inbox(std::uint64_t id, int error, const std::string& message,
                          v1::InboxInfo info) {
  if (error != 0) {
    reply_error(id, error, message);
    return;
  }
  v1::ServerFrame reply;
  reply.set_request_id(id);
  *reply.mutable_inbox() = std::move(info);
  send(reply);
}

void Session::on_set_inbox(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& r = frame.set_inbox();
  if (role_ != store::Role::admin) {
    reply_error(id, v1::NOT_AUTHORIZED, "Only admins define inboxes.");
    return;
  }
  if (!r.inbox_id().empty() && r.inbox_id().size() != inbox_id_bytes) {
    reply_error(id, v1::BAD_REQUEST, "inbox_id is 16 bytes, or empty for a new inbox.");
    return;
  }
  if (r.remove() && r.inbox_id().empty()) {
    reply_error(id, v1::BAD_REQUEST, "Removing an inbox needs its inbox_id.");
    return;
  }
  if (!r.remove() && !valid_name(r.name())) {
    reply_error(id, v1::BAD_REQUEST,
                "An inbox's name is 1 to 64 bytes of UTF-8 without control characters.");
    return;
  }
  if (static_cast<std::size_t>(r.staff_size()) > max_inbox_staff) {
    reply_error(id, v1::TOO_LARGE, "An inbox has at most 100 staff.");
    return;
  }
  std::set<std::string> seen;
  for (const auto& s : r.staff()) {
    if (s.account_id().empty() || s.account_id().size() > max_account_id_chars ||
        !seen.insert(s.account_id()).second) {
      reply_error(id, v1::BAD_REQUEST, "Each staff member is listed once, by account id.");
      return;
    }
  }
  std::array<std::uint8_t, inbox_id_bytes> fresh{};
  relay_.rng().fill(fresh);
  const auto now = relay_.clock().now_ms();
  auto request = std::make_shared<const v1::SetInbox>(r);
  submit<InboxOutcome>(
      id,
      [request, fresh, now, admin = account_, admin_id = account_public_id_,
       audit_ms = std::chrono::milliseconds(relay_.limits().audit_log_lifetime).count()](
          store::RelayStore& store) {
        InboxOutcome out;
        const store::Inbox* existing = nullptr;
        if (!request->inbox_id().empty()) {
          existing = store.inbox_by_id(bytes_of(request->inbox_id()));
          if (existing == nullptr) {
            out.error = v1::UNKNOWN_INBOX;
            out.message = "No such inbox.";
            return out;
          }
        }
        if (request->remove()) {
          out.info.set_inbox_id(request->inbox_id());
          out.info.set_name(existing->name);
          const auto detail = "inbox " + case_hex(existing->inbox_id) + " " + existing->name;
          store.remove_inbox(existing->id);
          store.audit(admin_id, "inbox.removed", "", now, now + audit_ms, detail);
          return out;
        }
        if (const store::Inbox* named = store.inbox_by_name(request->name());
            named != nullptr && named != existing) {
          out.error = v1::BAD_REQUEST;
          out.message = "Another inbox has that name.";
          return out;
        }
        store::Inbox in;
        if (existing != nullptr) {
          in.id = existing->id;
          in.inbox_id = existing->inbox_id;
          in.signer = existing->signer;
          in.notice = existing->notice;
          in.created_at = existing->created_at;
        } else {
          in.inbox_id.assign(fresh.begin(), fresh.end());
          in.signer = admin;
        }
        in.name = request->name();
        in.needs_consent = request->handover_needs_consent();
        in.max_open_cases = request->max_open_cases();
        for (const auto& s : request->staff()) {
          const store::Account* a = store.account_by_public_id(s.account_id());
          if (a == nullptr) {
            out.error = v1::UNKNOWN_RECIPIENT;
            out.message = "A staff member is not an account of this relay.";
            return out;
          }
          if (a->role == store::Role::client) {
            out.error = v1::BAD_REQUEST;
            out.message = "An inbox's staff are staff or admin accounts.";
            return out;
          }
          in.staff.push_back({a->id, s.supervisor(), true});
        }
        const store::Inbox& saved = store.save_inbox(std::move(in), now);
        store.audit(admin_id, existing != nullptr ? "inbox.changed" : "inbox.created", "", now,
                    now + audit_ms, "inbox " + case_hex(saved.inbox_id) + " " + saved.name);
        fill_inbox(out.info, store, saved, false);
        return out;
      },
      [this, id](InboxOutcome out) {
        reply_inbox(id, out.error, out.message, std::move(out.info));
      });
}

void Session::on_list_inboxes(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  submit<v1::Inboxes>(
      id,
      [account = account_, client = role_ == store::Role::client](store::RelayStore& store) {
        v1::Inboxes out;
        if (client) {
          if (const auto row = store.inbox_of_client(account)) {
            if (const store::Inbox* in = store.inbox(*row)) {
              fill_inbox(*out.add_inboxes(), store, *in, true);
            }
          }
          return out;
        }
        for (const store::Inbox* in : store.inboxes()) {
          fill_inbox(*out.add_inboxes(), store, *in, false);
        }
        return out;
      },
      [this, id](v1::Inboxes inboxes) {
        v1::ServerFrame reply;
        reply.set_request_id(id);
        *reply.mutable_inboxes() = std::move(inboxes);
        send(reply);
      });
}

void Session::on_publish_inbox_notice(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& signed_notice = frame.publish_inbox_notice().notice();
  if (role_ != store::Role::admin) {
    reply_error(id, v1::NOT_AUTHORIZED, "Only admins publish an inbox's notice.");
    return;
  }
  v1::InboxNotice notice;
  if (signed_notice.ByteSizeLong() > max_notice_bytes ||
      !notice.ParseFromString(signed_notice.notice()) || notice.version() != 1 ||
      notice.inbox_id().size() != inbox_id_bytes) {
    reply_error(id, v1::BAD_REQUEST,
                "The notice does not decode, is not version 1 or is over 8 KiB.");
    return;
  }
  if (notice.signer_account_id() != account_public_id_) {
    reply_error(id, v1::NOT_AUTHORIZED, "A notice is signed by the admin who publishes it.");
    return;
  }
  auto request = std::make_shared<const v1::SignedInboxNotice>(signed_notice);
  submit<InboxOutcome>(
      id,
      [request, inbox_id = notice.inbox_id(), account = account_](store::RelayStore& store) {
        InboxOutcome out;
        const store::Inbox* in = store.inbox_by_id(bytes_of(inbox_id));
        if (in == nullptr) {
          out.error = v1::UNKNOWN_INBOX;
          out.message = "No such inbox.";
          return out;
        }
        if (in->signer != account) {
          out.error = v1::NOT_AUTHORIZED;
          out.message =
              "Only the admin who created the inbox signs its notice (its flyer "
              "invites name that admin's key).";
          return out;
        }
        const store::Account* signer = store.account(account);
        if (signer == nullptr ||
            !support::verify(signer->account_key, notice_context, bytes_of(request->notice()),
                             request->signature())) {
          out.error = v1::BAD_SIGNATURE;
          out.message = "The notice's signature does not verify with this account's key.";
          return out;
        }
        const auto bytes = request->SerializeAsString();
        store.set_inbox_notice(in->id, bytes_of(bytes));
        fill_inbox(out.info, store, *store.inbox(in->id), false);
        return out;
      },
      [this, id](InboxOutcome out) {
        reply_inbox(id, out.error, out.message, std::move(out.info));
      });
}

void Session::on_set_duty(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& r = frame.set_duty();
  if (r.inbox_id().size() != inbox_id_bytes) {
    reply_error(id, v1::BAD_REQUEST, "inbox_id is 16 bytes.");
    return;
  }
  submit<InboxOutcome>(
      id,
      [inbox_id = r.inbox_id(), on_duty = r.on_duty(),
       account = account_](store::RelayStore& store) {
        InboxOutcome out;
        const store::Inbox* in = store.inbox_by_id(bytes_of(inbox_id));
        if (in == nullptr || in->member(account) == nullptr) {
          out.error = v1::UNKNOWN_INBOX;
          out.message = "No such inbox, or this account is not one of its staff.";
          return out;
        }
        store.set_duty(in->id, account, on_duty);
        fill_inbox(out.info, store, *store.inbox(in->id), false);
        return out;
      },
      [this, id](InboxOutcome out) {
        reply_inbox(id, out.error, out.message, std::move(out.info));
      });
}

void Session::on_list_cases(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  submit<v1::Cases>(
      id,
      [account = account_, client = role_ == store::Role::client](store::RelayStore& store) {
        v1::Cases out;
        if (client) {
          if (const store::Case* c = store.case_of_client(account)) {
            fill_case(*out.add_cases(), store, *c);
          }
          return out;
        }
        for (const store::Inbox* in : store.inboxes()) {
          const store::InboxMember* me = in->member(account);
          if (me == nullptr) {
            continue;
          }
          for (const store::Case* c : store.cases_of_inbox(in->id)) {
            const store::Group* g = store.group_by_row(c->group_row);
            const bool open = !c->counsellor && g != nullptr && !g->archived;
            const bool mine =
                c->counsellor == account || (g != nullptr && g->members.contains(account));
            if (open || mine || me->supervisor) {
              fill_case(*out.add_cases(), store, *c);
            }
          }
        }
        return out;
      },
      [this, id](v1::Cases cases) {
        v1::ServerFrame reply;
        reply.set_request_id(id);
        *reply.mutable_cases() = std::move(cases);
        send(reply);
      });
}

void Session::on_claim_case(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& r = frame.claim_case();
  if (r.case_id().size() != inbox_id_bytes) {
    reply_error(id, v1::BAD_REQUEST, "case_id is 16 bytes.");
    return;
  }
  struct Outcome {
    int error = 0;
    std::string message;
    v1::CaseInfo info;
  };
  const auto now = relay_.clock().now_ms();
  submit<Outcome>(
      id,
      [case_id = r.case_id(), now, account = account_,
       &limits = relay_.limits()](store::RelayStore& store) {
        Outcome out;
        const store::Group* g = store.group(bytes_of(case_id));
        const store::Case* c = g != nullptr ? store.case_of_group(g->id) : nullptr;
        const store::Inbox* in = c != nullptr && c->inbox ? store.inbox(*c->inbox) : nullptr;
        const store::InboxMember* me = in != nullptr ? in->member(account) : nullptr;
        if (c == nullptr || me == nullptr || me->supervisor || !g->members.contains(account)) {
          // Staff of the inbox learn that a colleague was quicker; anyone else learns nothing.
          out.error = me != nullptr && c->counsellor ? v1::CASE_CLAIMED : v1::UNKNOWN_GROUP;
          out.message = out.error == v1::CASE_CLAIMED
                            ? "Another counsellor has this case now."
                            : "No such case, or this account is not one of its counsellors.";
          return out;
        }
        if (c->counsellor) {
          out.error = v1::CASE_CLAIMED;
          out.message = *c->counsellor == account ? "This account has the case already."
                                                  : "Another counsellor has this case now.";
          return out;
        }
        if (g->archived) {
          out.error = v1::GROUP_ARCHIVED;
          out.message = "The case is closed.";
          return out;
        }
        for (const auto& [member, role] : g->members) {
          const store::InboxMember* m = in->member(member);
          if (member != account && member != c->client && (m == nullptr || !m->supervisor)) {
            out.error = v1::GROUP_RULE;
            out.message =
                "Other counsellors are in the case: claim it with a commit that "
                "removes them.";
            return out;
          }
        }
        CaseChange claim;
        claim.kind = CaseChange::Kind::claim;
        claim.counsellor = account;
        apply_case_change(store, limits, g->id, claim, now);
        fill_case(out.info, store, *store.case_of_group(g->id));
        return out;
      },
      [this, id](Outcome out) {
        if (out.error != 0) {
          reply_error(id, out.error, out.message);
          return;
        }
        v1::ServerFrame reply;
        reply.set_request_id(id);
        *reply.mutable_case_claimed() = std::move(out.info);
        send(reply);
      });
}

namespace {

struct HandoverOutcome {
  int error = 0;
  std::string message;
  std::vector<QueuedDelivery> notices;
};

}  // namespace

void Session::on_request_handover(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& r = frame.request_handover();
  if (r.case_id().size() != inbox_id_bytes || r.to_account_id().empty() ||
      r.to_account_id().size() > max_account_id_chars || r.reason().empty() ||
      r.reason().size() > max_reason_bytes) {
    reply_error(id, v1::BAD_REQUEST,
                "RequestHandover names a 16-byte case_id, a colleague's account id and a "
                "reason of 1 to 200 bytes.");
    return;
  }
  const auto now = relay_.clock().now_ms();
  const auto& limits = relay_.limits();
  auto request = std::make_shared<const v1::RequestHandover>(r);
  submit<HandoverOutcome>(
      id,
      [request, now, account = account_, me = account_public_id_,
       notice_ms = std::chrono::milliseconds(limits.envelope_lifetime).count(),
       audit_ms =
           std::chrono::milliseconds(limits.audit_log_lifetime).count()](store::RelayStore& store) {
        HandoverOutcome out;
        const store::Group* g = store.group(bytes_of(request->case_id()));
        const store::Case* c = g != nullptr ? store.case_of_group(g->id) : nullptr;
        if (c == nullptr || c->counsellor != account) {
          out.error = v1::UNKNOWN_GROUP;
          out.message = "No such case, or this account is not its counsellor.";
          return out;
        }
        if (g->archived) {
          out.error = v1::GROUP_ARCHIVED;
          out.message = "The case is closed.";
          return out;
        }
        const store::Inbox* in = c->inbox ? store.inbox(*c->inbox) : nullptr;
        const store::Account* to = store.account_by_public_id(request->to_account_id());
        const store::InboxMember* staff =
            in != nullptr && to != nullptr ? in->member(to->id) : nullptr;
        if (staff == nullptr || staff->supervisor || to->id == account) {
          out.error = v1::BAD_REQUEST;
          out.message = "A case goes to another counsellor of its inbox.";
          return out;
        }
        store.set_pending_handover(g->id, to->id, request->reason(), now);
        v1::CaseNotice notice;
        notice.set_kind(v1::CaseNotice::HANDOVER_REQUESTED);
        notice.set_case_id(request->case_id());
        notice.set_from_account_id(me);
        notice.set_to_account_id(to->public_id);
        queue_case_notice(store, c->client, notice, now, now + notice_ms, out.notices);
        store.audit(me, "case.handover_requested", to->public_id, now, now + audit_ms,
                    "case " + case_hex(g->group_id) + ": " + request->reason());
        return out;
      },
      [this, id, now](HandoverOutcome out) {
        if (out.error != 0) {
          reply_error(id, out.error, out.message);
          return;
        }
        v1::ServerFrame reply;
        reply.set_request_id(id);
        reply.mutable_handover_requested()->set_requested_at_ms(static_cast<std::uint64_t>(now));
        send(reply);
      },
      [relay = &relay_](const HandoverOutcome& out) {
        for (const auto& n : out.notices) {
          relay->route(n);
        }
      });
}

void Session::on_decline_handover(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& r = frame.decline_handover();
  if (r.case_id().size() != inbox_id_bytes) {
    reply_error(id, v1::BAD_REQUEST, "case_id is 16 bytes.");
    return;
  }
  const auto now = relay_.clock().now_ms();
  const auto& limits = relay_.limits();
  submit<HandoverOutcome>(
      id,
      [case_id = r.case_id(), now, account = account_, me = account_public_id_,
       notice_ms = std::chrono::milliseconds(limits.envelope_lifetime).count(),
       audit_ms =
           std::chrono::milliseconds(limits.audit_log_lifetime).count()](store::RelayStore& store) {
        HandoverOutcome out;
        const store::Group* g = store.group(bytes_of(case_id));
        const store::Case* c = g != nullptr ? store.case_of_group(g->id) : nullptr;
        if (c == nullptr || c->client != account) {
          out.error = v1::UNKNOWN_GROUP;
          out.message = "No such case, or it is not this client's.";
          return out;
        }
        if (!c->pending_to || !c->counsellor) {
          out.error = v1::BAD_REQUEST;
          out.message = "No handover is waiting for this client's answer.";
          return out;
        }
        const store::Account* counsellor = store.account(*c->counsellor);
        const store::Account* to = store.account(*c->pending_to);
        v1::CaseNotice notice;
        notice.set_kind(v1::CaseNotice::HANDOVER_DECLINED);
        notice.set_case_id(case_id);
        notice.set_from_account_id(counsellor != nullptr ? counsellor->public_id : "");
        notice.set_to_account_id(to != nullptr ? to->public_id : "");
        store.set_pending_handover(g->id, std::nullopt, "", now);
        queue_case_notice(store, *c->counsellor, notice, now, now + notice_ms, out.notices);
        store.audit(me, "case.handover_declined", notice.from_account_id(), now, now + audit_ms,
                    "case " + case_hex(g->group_id));
        return out;
      },
      [this, id](HandoverOutcome out) {
        if (out.error != 0) {
          reply_error(id, out.error, out.message);
          return;
        }
        v1::ServerFrame reply;
        reply.set_request_id(id);
        reply.mutable_handover_declined();
        send(reply);
      },
      [relay = &relay_](const HandoverOutcome& out) {
        for (const auto& n : out.notices) {
          relay->route(n);
        }
      });
}

}  // namespace lotse::relay
