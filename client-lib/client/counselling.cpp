// SPDX-License-Identifier: AGPL-3.0-or-later
// Client, counselling inboxes and cases (docs/PROTOCOL.md 2.22, docs/COUNSELLING.md): a flyer
// client opens its case on its first message to the inbox (a group it owns, with the on-duty
// staff as admins); staff list, claim and hand over cases; the handing-over device re-encrypts
// the case's history to the colleague; admins define inboxes, print flyers and sign the
// office-hours notice; `wipe` removes a profile from the device.
#include "client/client_impl.hpp"
#include "client/content.hpp"

#include "protocol/inbox_notice.hpp"
#include "store/limits.hpp"
#include "wire/invite_link.hpp"

#include <sodium.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace lotse::client {
namespace {

// Entries of one CaseHistory message: well inside max_envelope_bytes after padding.
constexpr std::size_t history_part_bytes = 128 * 1024;

bool is_staff(store::AccountRole r) {
  return r == store::AccountRole::staff || r == store::AccountRole::admin;
}

std::string setting_or_empty(store::Profile& profile, const char* name) {
  auto s = profile.secrets().setting(name);
  return s && *s ? **s : std::string();
}

NoticeView notice_view(const protocol::InboxNotice& n, bool verified, std::int64_t now_ms) {
  NoticeView v;
  v.verified = verified;
  v.hours = protocol::format_office_hours(n.hours);
  v.utc_offset_minutes = n.utc_offset_minutes;
  v.eu_summer_time = n.eu_summer_time;
  v.outside_hours_text = n.outside_hours_text;
  v.absence_text = n.absence_text;
  v.absence_from_ms = static_cast<std::int64_t>(n.absence_from_ms);
  v.absence_until_ms = static_cast<std::int64_t>(n.absence_until_ms);
  v.published_at_ms = static_cast<std::int64_t>(n.published_at_ms);
  const auto status = protocol::notice_status(n, now_ms);
  v.open = status.open;
  v.absent = status.absent;
  v.text_to_show = status.text_to_show;
  return v;
}

}  // namespace

// --- views -----------------------------------------------------------------------------------

namespace {

// Names from the contact list (handles of staff, the names clients shared), our own from the
// profile; empty if unknown.
std::string name_of(store::Profile& profile, const std::string& account_id) {
  if (account_id.empty()) {
    return {};
  }
  if (auto own = profile.secrets().load_own_account();
      own && *own && (**own).account_id == account_id) {
    return setting_or_empty(profile, setting::name);
  }
  auto c = profile.contacts().find(account_id);
  return c && *c ? (**c).display_name : std::string();
}

InboxView inbox_view(store::Profile& profile, const v1::InboxInfo& in,
                     const std::optional<crypto::Ed25519PublicKey>& signer, std::int64_t now_ms) {
  InboxView v;
  v.id = to_hex(in.inbox_id());
  v.name = in.name();
  v.handover_needs_consent = in.handover_needs_consent();
  v.max_open_cases = in.max_open_cases();
  v.open_cases = in.open_cases();
  for (const auto& s : in.staff()) {
    v.staff.push_back({s.account_id(),
                       s.handle().empty() ? name_of(profile, s.account_id()) : s.handle(),
                       s.supervisor(), s.on_duty()});
  }
  if (in.has_notice()) {
    if (signer) {
      auto verified =
          protocol::verify_inbox_notice(in.notice(), *signer, crypto::as_bytes(in.inbox_id()));
      if (verified) {
        v.notice = notice_view(*verified, true, now_ms);
      } else {
        v.notice = NoticeView{};  // present, but not to be trusted: verified stays false
      }
    } else {
      v.notice = NoticeView{};
    }
  }
  return v;
}

CaseView case_view(store::Profile& profile, const v1::CaseInfo& c) {
  CaseView v;
  v.id = to_hex(c.case_id());
  v.short_id = v.id.substr(0, 8);
  v.inbox = c.inbox_name();
  v.client = c.client_account_id();
  v.client_name = name_of(profile, v.client);
  v.counsellor = c.counsellor_account_id();
  v.counsellor_name = name_of(profile, v.counsellor);
  v.created_at_ms = static_cast<std::int64_t>(c.created_at_ms());
  v.claimed_at_ms = static_cast<std::int64_t>(c.claimed_at_ms());
  v.pending_handover_to = c.pending_handover_to();
  v.pending_handover_to_name = name_of(profile, v.pending_handover_to);
  v.archived = c.archived();
  return v;
}

}  // namespace

// --- inboxes ---------------------------------------------------------------------------------

Result<v1::ServerFrame> Client::Impl::call_ok(v1::ClientFrame frame) {
  auto answer = call(std::move(frame));
  if (!answer) {
    return answer.error();
  }
  if (answer->has_error()) {
    return relay_error(answer->error());
  }
  return answer;
}

Result<InboxView> Client::inbox_info() {
  Impl& im = *impl_;
  std::string signer_hex;
  {
    std::lock_guard lock(im.mutex);
    signer_hex = setting_or_empty(im.profile, setting::inbox_signer);
  }
  if (signer_hex.empty()) {
    return errc::not_inbox_client;
  }
  (void)im.refresh_directory();  // names of the staff on duty
  v1::ClientFrame f;
  f.mutable_list_inboxes();
  auto answer = im.call_ok(std::move(f));
  if (!answer) {
    return answer.error();
  }
  if (!answer->has_inboxes() || answer->inboxes().inboxes_size() != 1) {
    return errc::unknown_inbox;
  }
  const auto raw = from_hex(signer_hex);
  auto signer = raw ? crypto::Ed25519PublicKey::from_bytes(crypto::as_bytes(*raw))
                    : std::optional<crypto::Ed25519PublicKey>();
  std::lock_guard lock(im.mutex);
  return inbox_view(im.profile, answer->inboxes().inboxes(0), signer, im.now_ms());
}

Result<std::vector<InboxView>> Client::inboxes() {
  Impl& im = *impl_;
  v1::ClientFrame f;
  f.mutable_list_inboxes();
  auto answer = im.call_ok(std::move(f));
  if (!answer) {
    return answer.error();
  }
  std::vector<InboxView> out;
  std::lock_guard lock(im.mutex);
  for (const auto& in : answer->inboxes().inboxes()) {
    // Staff check a notice with the key the relay names: it shows tampering in transit, not a
    // relay that lies about the signer (clients hold the key from the flyer for that).
    auto signer = crypto::Ed25519PublicKey::from_bytes(crypto::as_bytes(in.signer_account_key()));
    out.push_back(inbox_view(im.profile, in, signer, im.now_ms()));
  }
  return out;
}

// The inbox by name or id (32 hex digits) among what the relay lists.
Result<v1::InboxInfo> Client::Impl::find_inbox(std::string_view reference) {
  v1::ClientFrame f;
  f.mutable_list_inboxes();
  auto answer = call_ok(std::move(f));
  if (!answer) {
    return answer.error();
  }
  const auto wanted = lower(reference);
  for (const auto& in : answer->inboxes().inboxes()) {
    if (lower(in.name()) == wanted || to_hex(in.inbox_id()) == wanted) {
      return in;
    }
  }
  return errc::unknown_inbox;
}

Result<InboxView> Client::Impl::inbox_answer(const Result<v1::ServerFrame>& answer) {
  if (!answer) {
    return answer.error();
  }
  if (answer->has_error()) {
    return relay_error(answer->error());
  }
  if (!answer->has_inbox()) {
    return errc::relay_refused;
  }
  auto signer =
      crypto::Ed25519PublicKey::from_bytes(crypto::as_bytes(answer->inbox().signer_account_key()));
  std::lock_guard lock(mutex);
  return inbox_view(profile, answer->inbox(), signer, now_ms());
}

Result<InboxView> Client::set_inbox(std::string_view name, const std::vector<std::string>& staff,
                                    const std::vector<std::string>& supervisors,
                                    bool handover_needs_consent, std::uint32_t max_open_cases) {
  Impl& im = *impl_;
  {
    std::lock_guard lock(im.mutex);
    if (im.own.role != store::AccountRole::admin) {
      return errc::not_admin;
    }
  }
  if (auto r = check_display_name(name); !r) {
    return errc::invalid_name;
  }
  if (auto r = im.refresh_directory(); !r) {
    return r.error();
  }
  v1::ClientFrame f;
  auto* s = f.mutable_set_inbox();
  s->set_name(std::string(name));
  s->set_handover_needs_consent(handover_needs_consent);
  s->set_max_open_cases(max_open_cases);
  {
    std::lock_guard lock(im.mutex);
    const auto add = [&](const std::string& reference, bool supervisor) -> Result<void> {
      auto c = im.resolve(reference);
      if (!c) {
        return c.error();
      }
      if (!is_staff(c->role)) {
        return errc::not_staff;
      }
      auto* m = s->add_staff();
      m->set_account_id(c->account_id);
      m->set_supervisor(supervisor);
      return {};
    };
    for (const auto& r : staff) {
      if (auto ok = add(r, false); !ok) {
        return ok.error();
      }
    }
    for (const auto& r : supervisors) {
      if (auto ok = add(r, true); !ok) {
        return ok.error();
      }
    }
  }
  // An inbox of that name is changed rather than created.
  if (auto existing = im.find_inbox(name)) {
    s->set_inbox_id(existing->inbox_id());
  } else if (existing.error() != errc::unknown_inbox) {
    return existing.error();
  }
  return im.inbox_answer(im.call(std::move(f)));
}

Result<std::string> Client::create_flyer(std::string_view inbox, std::uint32_t uses,
                                         std::chrono::seconds lifetime) {
  Impl& im = *impl_;
  auto in = im.find_inbox(inbox);
  if (!in) {
    return in.error();
  }
  v1::ClientFrame f;
  auto* c = f.mutable_create_invite();
  c->set_role(v1::CLIENT);
  c->set_uses(uses);
  c->set_expires_in_seconds(static_cast<std::uint32_t>(lifetime.count()));
  c->set_inbox_id(in->inbox_id());
  auto answer = im.call(std::move(f));
  if (!answer) {
    return answer.error();
  }
  if (answer->has_error()) {
    return answer->error().code() == v1::NOT_AUTHORIZED ? errc::not_admin
                                                        : relay_error(answer->error());
  }
  if (!answer->has_invite_created()) {
    return errc::relay_refused;
  }
  return answer->invite_created().invite();
}

Result<InboxView> Client::publish_notice(std::string_view inbox, const NoticeSpec& spec) {
  Impl& im = *impl_;
  auto in = im.find_inbox(inbox);
  if (!in) {
    return in.error();
  }
  protocol::InboxNotice n;
  n.inbox_id.assign(in->inbox_id().begin(), in->inbox_id().end());
  n.inbox_name = in->name();
  if (!spec.hours.empty()) {
    auto hours = protocol::parse_office_hours(spec.hours);
    if (!hours) {
      return errc::invalid_office_hours;
    }
    n.hours = std::move(*hours);
  }
  n.utc_offset_minutes = spec.utc_offset_minutes;
  n.eu_summer_time = spec.eu_summer_time;
  n.outside_hours_text = spec.outside_hours_text;
  n.absence_from_ms = static_cast<std::uint64_t>(std::max<std::int64_t>(spec.absence_from_ms, 0));
  n.absence_until_ms = static_cast<std::uint64_t>(std::max<std::int64_t>(spec.absence_until_ms, 0));
  n.absence_text = spec.absence_text;
  v1::ClientFrame f;
  {
    std::lock_guard lock(im.mutex);
    n.published_at_ms = static_cast<std::uint64_t>(im.now_ms());
    n.signer_account_id = im.own.account_id;
    auto signed_notice = protocol::make_inbox_notice(n, im.account_key);
    if (!signed_notice) {
      return errc::invalid_office_hours;
    }
    *f.mutable_publish_inbox_notice()->mutable_notice() = std::move(*signed_notice);
  }
  auto answer = im.call(std::move(f));
  if (answer && answer->has_error() && answer->error().code() == v1::NOT_AUTHORIZED) {
    return errc::not_admin;
  }
  return im.inbox_answer(answer);
}

Result<InboxView> Client::set_duty(std::string_view inbox, bool on_duty) {
  Impl& im = *impl_;
  auto in = im.find_inbox(inbox);
  if (!in) {
    return in.error();
  }
  v1::ClientFrame f;
  f.mutable_set_duty()->set_inbox_id(in->inbox_id());
  f.mutable_set_duty()->set_on_duty(on_duty);
  return im.inbox_answer(im.call(std::move(f)));
}

// --- the client's side of a case ---------------------------------------------------------------

Result<void> Client::Impl::ensure_case(std::string_view to) {
  std::string inbox_hex;
  {
    std::lock_guard lock(mutex);
    inbox_hex = setting_or_empty(profile, setting::inbox_id);
    if (inbox_hex.empty() || !setting_or_empty(profile, setting::case_group).empty()) {
      return {};  // not an inbox client, or the case exists
    }
  }
  // The inbox as the relay shows it to us: its name and the staff we may open the case with.
  v1::ClientFrame f;
  f.mutable_list_inboxes();
  auto answer = call_ok(std::move(f));
  if (!answer) {
    return answer.error();
  }
  if (answer->inboxes().inboxes_size() != 1 ||
      to_hex(answer->inboxes().inboxes(0).inbox_id()) != inbox_hex) {
    return errc::unknown_inbox;
  }
  const auto& inbox = answer->inboxes().inboxes(0);
  if (lower(to) != lower(inbox.name())) {
    return {};  // writing to someone else
  }
  if (auto r = refresh_directory(); !r) {
    return r.error();
  }
  v1::SignedGroupCommit commit;
  std::vector<std::string> staff;
  {
    std::lock_guard lock(mutex);
    std::vector<protocol::GroupMember> list;
    list.push_back({own.account_id, account_key.public_key(), protocol::GroupRole::owner});
    bool counsellor = false;
    for (const auto& s : inbox.staff()) {
      auto m = member_of(s.account_id());
      if (!m) {
        continue;  // no certified device (yet): the case opens with the others
      }
      m->role = protocol::GroupRole::admin;
      list.push_back(*m);
      staff.push_back(s.account_id());
      counsellor = counsellor || !s.supervisor();
    }
    if (!counsellor) {
      return errc::nobody_on_duty;  // the relay opens a case only with a counsellor on duty
    }
    std::array<std::uint8_t, protocol::group_id_bytes> id{};
    rng.fill(id);
    const auto certificate = device_certificate(identity, account_key);
    auto made = protocol::make_group_commit(nullptr, id, std::move(list), false,
                                            commit_author(certificate), now_ms());
    if (!made) {
      return errc::profile_corrupt;
    }
    commit = std::move(*made);
  }
  auto opened = upload_commit(nullptr, commit, inbox.name(), {},
                              [&](v1::UpdateGroup& u) { u.set_inbox_id(inbox.inbox_id()); });
  if (!opened) {
    return opened.error();
  }
  std::string name;
  {
    std::lock_guard lock(mutex);
    if (auto r = profile.secrets().set_setting(setting::case_group, opened->id); !r) {
      return user_error(r.error());
    }
    name = setting_or_empty(profile, setting::name);
  }
  // The staff learn the name the client chose, end to end (the relay never sees it).
  for (const auto& account : staff) {
    std::string id;
    std::int64_t now = 0;
    {
      std::lock_guard lock(mutex);
      id = new_message_id();
      now = now_ms();
    }
    (void)send_content(account, profile_content(id, now, name));
  }
  return {};
}

Result<std::optional<Client::CaseChange>> Client::case_change() {
  Impl& im = *impl_;
  std::string seen;
  {
    std::lock_guard lock(im.mutex);
    if (setting_or_empty(im.profile, setting::case_group).empty()) {
      return std::optional<CaseChange>();
    }
    seen = setting_or_empty(im.profile, setting::case_seen);
  }
  auto list = cases();
  if (!list) {
    return list.error();
  }
  if (list->size() != 1) {
    return std::optional<CaseChange>();
  }
  const CaseView& now = list->front();
  const std::string state = now.counsellor + "|" + now.pending_handover_to;
  if (state == seen) {
    return std::optional<CaseChange>();
  }
  CaseChange change;
  change.now = now;
  change.previous_counsellor = seen.substr(0, seen.find('|'));
  change.handover_requested = !now.pending_handover_to.empty();
  std::lock_guard lock(im.mutex);
  change.previous_counsellor_name = name_of(im.profile, change.previous_counsellor);
  if (auto r = im.profile.secrets().set_setting(setting::case_seen, state); !r) {
    return user_error(r.error());
  }
  return std::optional<CaseChange>(std::move(change));
}

Result<CaseView> Client::answer_handover(bool accept) {
  Impl& im = *impl_;
  auto list = cases();
  if (!list) {
    return list.error();
  }
  if (list->size() != 1 || list->front().pending_handover_to.empty() ||
      list->front().counsellor.empty()) {
    return errc::no_handover;
  }
  const CaseView c = list->front();
  if (!accept) {
    v1::ClientFrame f;
    f.mutable_decline_handover()->set_case_id(*from_hex(c.id));
    auto answer = im.call_ok(std::move(f));
    if (!answer) {
      return answer.error();
    }
    CaseView out = c;
    out.pending_handover_to.clear();
    out.pending_handover_to_name.clear();
    return out;
  }
  (void)im.refresh_directory();
  auto changed = im.change_group(
      c.id,
      [&](const LoadedGroup& g) -> Result<std::vector<protocol::GroupMember>> {
        std::vector<protocol::GroupMember> members;
        for (const auto& m : g.state.members) {
          if (m.account_id != c.counsellor) {
            members.push_back(m);
          }
        }
        auto to = im.member_of(c.pending_handover_to);
        if (!to) {
          return to.error();
        }
        to->role = protocol::GroupRole::admin;
        members.push_back(*to);
        return members;
      },
      false);
  if (!changed) {
    return changed.error() == errc::not_group_admin ? errc::no_handover : changed.error();
  }
  CaseView out = c;
  out.counsellor = c.pending_handover_to;
  out.counsellor_name = c.pending_handover_to_name;
  out.pending_handover_to.clear();
  out.pending_handover_to_name.clear();
  return out;
}

// --- the staff's side ------------------------------------------------------------------------

Result<std::vector<CaseView>> Client::cases() {
  Impl& im = *impl_;
  v1::ClientFrame f;
  f.mutable_list_cases();
  auto answer = im.call_ok(std::move(f));
  if (!answer) {
    return answer.error();
  }
  std::vector<CaseView> out;
  std::lock_guard lock(im.mutex);
  for (const auto& c : answer->cases().cases()) {
    out.push_back(case_view(im.profile, c));
  }
  return out;
}

namespace {

// The case a reference (its id or an unambiguous prefix of at least 8 hex digits) names.
Result<CaseView> find_case(Client& client, std::string_view reference) {
  auto list = client.cases();
  if (!list) {
    return list.error();
  }
  const auto wanted = lower(reference);
  if (wanted.size() < 8) {
    return errc::unknown_case;
  }
  std::optional<CaseView> found;
  for (const auto& c : *list) {
    if (c.id.compare(0, wanted.size(), wanted) == 0) {
      if (found) {
        return errc::ambiguous_name;
      }
      found = c;
    }
  }
  if (!found) {
    return errc::unknown_case;
  }
  return *found;
}

}  // namespace

Result<CaseView> Client::claim(std::string_view case_ref) {
  Impl& im = *impl_;
  auto c = find_case(*this, case_ref);
  if (!c) {
    if (c.error() == errc::unknown_case) {
      // The relay lists a claimed case only to its members: if this device was in it, a
      // colleague was quicker.
      std::lock_guard lock(im.mutex);
      const auto wanted = lower(case_ref);
      if (auto groups = im.profile.groups().list(); groups && wanted.size() >= 8) {
        for (const auto& g : *groups) {
          if (to_hex(g.group_id).compare(0, wanted.size(), wanted) == 0) {
            return errc::case_claimed;
          }
        }
      }
    }
    return c.error();
  }
  if (!c->counsellor.empty()) {
    return c->counsellor == whoami()->account_id ? Result<CaseView>(*c) : errc::case_claimed;
  }
  // Supervisors stay; the other counsellors leave. Who supervises, the inbox says.
  std::set<std::string> supervisors;
  {
    auto inboxes_now = inboxes();
    if (!inboxes_now) {
      return inboxes_now.error();
    }
    for (const auto& in : *inboxes_now) {
      if (in.name == c->inbox) {
        for (const auto& s : in.staff) {
          if (s.supervisor) {
            supervisors.insert(s.account_id);
          }
        }
      }
    }
  }
  std::string me;
  bool others = false;
  {
    std::lock_guard lock(im.mutex);
    me = im.own.account_id;
    auto g = im.load_group(*from_hex(c->id));
    if (!g || !*g || !(**g).state.is_member(im.own.account_id)) {
      return errc::not_in_case;
    }
    for (const auto& m : (**g).state.members) {
      others = others || (m.account_id != me && m.account_id != c->client &&
                          !supervisors.contains(m.account_id));
    }
  }
  if (others) {
    auto changed = im.change_group(
        c->id,
        [&](const LoadedGroup& g) -> Result<std::vector<protocol::GroupMember>> {
          std::vector<protocol::GroupMember> members;
          for (const auto& m : g.state.members) {
            if (m.account_id == me || m.account_id == c->client ||
                supervisors.contains(m.account_id)) {
              members.push_back(m);
            }
          }
          return members;
        },
        false);
    if (!changed) {
      return changed.error() == errc::not_a_member ? errc::case_claimed : changed.error();
    }
  } else {
    v1::ClientFrame f;
    f.mutable_claim_case()->set_case_id(*from_hex(c->id));
    auto answer = im.call_ok(std::move(f));
    if (!answer) {
      return answer.error();
    }
  }
  auto now = find_case(*this, c->id);
  return now ? now : Result<CaseView>(*c);
}

Result<CaseView> Client::handover(std::string_view case_ref, std::string_view colleague,
                                  std::string_view reason) {
  Impl& im = *impl_;
  if (reason.empty() || reason.size() > 200) {
    return errc::invalid_reason;
  }
  auto c = find_case(*this, case_ref);
  if (!c) {
    return c.error();
  }
  (void)im.refresh_directory();
  std::string to;
  {
    std::lock_guard lock(im.mutex);
    if (c->counsellor != im.own.account_id) {
      return errc::unknown_case;
    }
    auto contact = im.resolve(colleague);
    if (!contact) {
      return contact.error();
    }
    if (!is_staff(contact->role) || contact->account_id == im.own.account_id) {
      return errc::not_staff;
    }
    to = contact->account_id;
  }
  bool consent = false;
  if (auto list = inboxes()) {
    for (const auto& in : *list) {
      consent = consent || (in.name == c->inbox && in.handover_needs_consent);
    }
  }
  if (consent) {
    v1::ClientFrame f;
    auto* r = f.mutable_request_handover();
    r->set_case_id(*from_hex(c->id));
    r->set_to_account_id(to);
    r->set_reason(std::string(reason));
    auto answer = im.call_ok(std::move(f));
    if (!answer) {
      return answer.error();
    }
    auto now = find_case(*this, c->id);
    return now ? now : Result<CaseView>(*c);
  }
  auto changed = im.change_group(
      c->id,
      [&](const LoadedGroup& g) -> Result<std::vector<protocol::GroupMember>> {
        std::vector<protocol::GroupMember> members;
        for (const auto& m : g.state.members) {
          if (m.account_id != c->counsellor) {
            members.push_back(m);
          }
        }
        auto next = im.member_of(to);
        if (!next) {
          return next.error();
        }
        next->role = protocol::GroupRole::admin;
        members.push_back(*next);
        return members;
      },
      false, std::nullopt, [&](v1::UpdateGroup& u) { u.set_handover_reason(std::string(reason)); });
  if (!changed) {
    return changed.error();
  }
  // Our own commit: the history goes to the colleague now (receiving a client's consent queues
  // it the same way).
  {
    std::lock_guard lock(im.mutex);
    im.owe_history(*from_hex(c->id), to);
  }
  im.send_due_histories();
  CaseView out = *c;
  out.counsellor = to;
  {
    std::lock_guard lock(im.mutex);
    out.counsellor_name = name_of(im.profile, to);
  }
  return out;
}

void Client::send_due_histories() {
  impl_->send_due_histories();
}

bool Client::Impl::is_case(const protocol::GroupState& state) {
  // Only a counselling case has a client as its owner (the relay enforces it: in any other group
  // a client is a plain member).
  for (const auto& m : state.members) {
    if (m.role == protocol::GroupRole::owner) {
      auto c = profile.contacts().find(m.account_id);
      return c && *c && (**c).role == store::AccountRole::client;
    }
  }
  return false;
}

void Client::Impl::owe_history(const std::string& group_id, const std::string& colleague) {
  // Kept in the profile: a process that learns of the handover may end before it can send.
  auto due = setting_or_empty(profile, setting::histories_due);
  due += to_hex(group_id) + " " + colleague + "\n";
  (void)profile.secrets().set_setting(setting::histories_due, due);
}

void Client::Impl::note_handover(const protocol::GroupState& before,
                                 const protocol::GroupState& after) {
  if (!is_staff(own.role) || !before.is_member(own.account_id) || after.is_member(own.account_id) ||
      after.author_account_id == own.account_id || !is_case(after)) {
    return;
  }
  std::vector<std::string> added;
  for (const auto& m : after.members) {
    if (!before.is_member(m.account_id)) {
      added.push_back(m.account_id);
    }
  }
  if (added.size() == 1) {
    owe_history(std::string(after.group_id.begin(), after.group_id.end()), added.front());
  }
}

void Client::Impl::send_due_histories() {
  std::vector<std::pair<std::string, std::string>> due;
  {
    std::lock_guard lock(mutex);
    std::istringstream in(setting_or_empty(profile, setting::histories_due));
    for (std::string hex, colleague; in >> hex >> colleague;) {
      if (auto raw = from_hex(hex)) {
        due.emplace_back(*raw, colleague);
      }
    }
    if (due.empty()) {
      return;
    }
    (void)purge_expired();  // what has disappeared is not handed on
  }
  std::string still_due;
  for (const auto& [group_id, colleague] : due) {
    // The case's messages this device holds, oldest first, in parts.
    std::vector<v1::Content> parts;
    {
      std::lock_guard lock(mutex);
      const auto conversation = group_conversation(group_id);
      std::uint64_t after = 0;
      v1::Content part;
      std::size_t bytes = 0;
      for (;;) {
        auto page = profile.messages().list(conversation, after);
        if (!page || page->empty()) {
          break;
        }
        for (const auto& stored : *page) {
          after = stored.seq;
          const auto& m = stored.message;
          if (m.text.empty()) {
            continue;  // files stay with their own expiry; their keys are not handed on
          }
          if (bytes + m.text.size() > history_part_bytes && bytes > 0) {
            parts.push_back(std::move(part));
            part = {};
            bytes = 0;
          }
          auto* h = part.mutable_history();
          h->set_group_id(group_id);
          auto* e = h->add_entries();
          e->set_sender_account_id(m.sender.account_id);
          e->set_sender_device_id(m.sender.device_id);
          e->set_message_id(m.id);
          e->set_sent_at_ms(static_cast<std::uint64_t>(std::max<std::int64_t>(m.sent_at_ms, 0)));
          e->set_text(m.text);
          bytes += m.text.size() + 64;
        }
      }
      if (bytes > 0) {
        parts.push_back(std::move(part));
      }
    }
    for (auto& part : parts) {
      {
        std::lock_guard lock(mutex);
        part.set_message_id(new_message_id());
        part.set_sent_at_ms(static_cast<std::uint64_t>(now_ms()));
      }
      if (auto sent = send_content(colleague, part); !sent) {
        still_due += to_hex(group_id) + " " + colleague + "\n";  // next time
        break;
      }
    }
  }
  std::lock_guard lock(mutex);
  (void)profile.secrets().set_setting(setting::histories_due, still_due);
}

bool Client::Impl::on_case_history(const store::DeviceAddress& sender,
                                   const v1::CaseHistory& history, std::vector<Event>& events) {
  auto g = load_group(history.group_id());
  if (!g || !*g || !(**g).state.is_member(own.account_id) || !is_staff(own.role) ||
      !is_case((**g).state) || (**g).state.is_member(sender.account_id)) {
    // Not a case of ours, or not from the counsellor who left it: dropped.
    return true;
  }
  const auto conversation = group_conversation(history.group_id());
  for (const auto& e : history.entries()) {
    if (e.message_id().size() != 16 || check_text(e.text()).has_error() ||
        e.sender_account_id().empty() || e.sender_account_id().size() > 64) {
      continue;
    }
    store::Message m;
    m.id = e.message_id();
    m.conversation = conversation;
    m.sender = {e.sender_account_id(), e.sender_device_id()};
    m.direction = e.sender_account_id() == own.account_id ? store::Direction::outgoing
                                                          : store::Direction::incoming;
    m.text = e.text();
    m.sent_at_ms = static_cast<std::int64_t>(e.sent_at_ms());
    m.received_at_ms = now_ms();
    auto appended = profile.messages().append(m);
    if (!appended) {
      return false;
    }
    if (appended->inserted) {
      Event ev;
      ev.kind = Event::Kind::message_received;
      ev.message = view_of(store::StoredMessage{appended->seq, m});
      events.push_back(ev);
    }
  }
  (void)sender;
  return true;
}

// --- wipe ------------------------------------------------------------------------------------

Result<void> Client::wipe(const std::filesystem::path& dir) {
  if (!store::Profile::exists(dir)) {
    return errc::no_profile;
  }
  const auto file = dir / std::string(store::profile_file_name);
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    const std::filesystem::path p(file.string() + suffix);
    // Overwrite before unlinking: the profile is encrypted at rest, this also takes the
    // ciphertext (flash may still keep old blocks; the passphrase-wrapped key protects those).
    const auto size = std::filesystem::file_size(p, ec);
    if (!ec && size > 0) {
      std::fstream out(p, std::ios::in | std::ios::out | std::ios::binary);
      std::vector<char> noise(64 * 1024);
      for (std::uintmax_t done = 0; out && done < size; done += noise.size()) {
        randombytes_buf(noise.data(), noise.size());
        out.write(noise.data(), static_cast<std::streamsize>(
                                    std::min<std::uintmax_t>(noise.size(), size - done)));
      }
      out.flush();
    }
    ec.clear();
    std::filesystem::remove(p, ec);
  }
  ec.clear();
  std::filesystem::remove(dir, ec);  // only if nothing else is in it
  return {};
}

}  // namespace lotse::client
