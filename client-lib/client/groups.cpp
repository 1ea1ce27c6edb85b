// SPDX-License-Identifier: AGPL-3.0-or-later
// Groups (docs/PROTOCOL.md 4): the signed membership log, sender keys handed out over the
// pairwise sessions, and group messages fanned out by the relay.
//
// Keys move lazily and durably: applying a commit (ours or one the relay delivers) rotates or
// forgets chains inside the same transaction that stores the new state, and records in the group
// row which accounts are still owed our current chain. flush_owed_keys sends those before our
// next group message (and right after a change we made, so new members learn the name at once).
// Nobody needs our chain before we send under it, and a crash cannot lose a debt.
#include "client/client_impl.hpp"
#include "client/content.hpp"

#include "protocol/sender_key.hpp"
#include "wire/login_transcript.hpp"

#include <algorithm>
#include <future>

namespace lotse::client {
namespace {

GroupRole view_role(protocol::GroupRole r) noexcept {
  switch (r) {
    case protocol::GroupRole::owner: return GroupRole::owner;
    case protocol::GroupRole::admin: return GroupRole::admin;
    case protocol::GroupRole::member: return GroupRole::member;
  }
  return GroupRole::member;
}

protocol::GroupRole protocol_role(GroupRole r) noexcept {
  switch (r) {
    case GroupRole::owner: return protocol::GroupRole::owner;
    case GroupRole::admin: return protocol::GroupRole::admin;
    case GroupRole::member: return protocol::GroupRole::member;
  }
  return protocol::GroupRole::member;
}

boost::system::error_code commit_error(const boost::system::error_code& ec) {
  if (ec == protocol::errc::group_rule_violation) {
    return errc::not_group_admin;
  }
  if (ec == protocol::errc::group_archived) {
    return errc::group_archived;
  }
  if (ec == protocol::errc::group_out_of_order) {
    return errc::group_conflict;
  }
  return errc::relay_refused;
}

boost::system::error_code group_relay_error(const v1::Error& e) {
  switch (e.code()) {
    case v1::UNKNOWN_GROUP: return errc::not_a_member;
    case v1::GROUP_CONFLICT: return errc::group_conflict;
    case v1::GROUP_ARCHIVED: return errc::group_archived;
    case v1::GROUP_RULE: return errc::not_group_admin;
    default: return relay_error(e);
  }
}

bool transient(const boost::system::error_code& ec) {
  return ec == errc::offline || ec == errc::timed_out || ec == errc::relay_unreachable ||
         ec == errc::rate_limited;
}

}  // namespace

const char* to_string(GroupRole role) noexcept {
  switch (role) {
    case GroupRole::owner: return "owner";
    case GroupRole::admin: return "admin";
    case GroupRole::member: return "member";
  }
  return "member";
}

std::string group_conversation(std::string_view group_id) {
  return "group:" + to_hex(group_id);
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return std::nullopt;
  }
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]);
    const int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

// --- local state --------------------------------------------------------------------------

Result<std::optional<LoadedGroup>> Client::Impl::load_group(std::string_view group_id) {
  auto found = profile.groups().find(group_id);
  if (!found) {
    return user_error(found.error());
  }
  if (!*found) {
    return std::optional<LoadedGroup>{};
  }
  v1::SignedGroupCommit commit;
  if (!commit.ParseFromString((*found)->commit)) {
    return errc::profile_corrupt;
  }
  auto state = protocol::decode_trusted_group_commit(commit);
  if (!state) {
    return errc::profile_corrupt;
  }
  return std::optional<LoadedGroup>(LoadedGroup{std::move(**found), std::move(*state)});
}

Result<LoadedGroup> Client::Impl::resolve_group(std::string_view reference) {
  if (reference.size() == 2 * protocol::group_id_bytes) {
    if (auto raw = from_hex(reference)) {
      auto g = load_group(*raw);
      if (!g) {
        return g.error();
      }
      if (*g) {
        return std::move(**g);
      }
    }
  }
  auto list = profile.groups().list();
  if (!list) {
    return user_error(list.error());
  }
  const auto wanted = lower(reference);
  std::optional<std::string> found;
  for (const auto& g : *list) {
    if (!g.name.empty() && lower(g.name) == wanted) {
      if (found) {
        return errc::ambiguous_name;
      }
      found = g.group_id;
    }
  }
  if (!found && wanted.size() >= 8 && wanted.size() < 2 * protocol::group_id_bytes &&
      wanted.find_first_not_of("0123456789abcdef") == std::string::npos) {
    // A unique prefix of the id, as `lotse inbox-queue` shows cases.
    for (const auto& g : *list) {
      if (to_hex(g.group_id).compare(0, wanted.size(), wanted) == 0) {
        if (found) {
          return errc::ambiguous_name;
        }
        found = g.group_id;
      }
    }
  }
  if (!found) {
    return errc::unknown_group;
  }
  auto g = load_group(*found);
  if (!g || !*g) {
    return g ? errc::unknown_group : g.error();
  }
  return std::move(**g);
}

GroupView Client::Impl::view_of(const LoadedGroup& g) const {
  GroupView v;
  v.id = to_hex(g.record.group_id);
  v.name = g.record.name;
  v.topic = g.record.topic;
  v.epoch = g.state.epoch;
  v.members = g.state.members.size();
  v.member = g.record.member;
  v.archived = g.state.archived;
  if (const auto* me = g.state.find(own.account_id)) {
    v.my_role = view_role(me->role);
  }
  return v;
}

protocol::CommitAuthor Client::Impl::commit_author(const crypto::Bytes& certificate) const {
  return protocol::CommitAuthor{own.account_id, own.device_id, identity, certificate};
}

void Client::Impl::forget_sender_keys(const std::string& group_id, const std::string& account_id) {
  const auto gid = crypto::as_bytes(group_id);
  if (account_id == own.account_id) {
    protocol::forget_sender_key(profile.sender_keys(), gid, {own.account_id, own.device_id});
    return;
  }
  // Chains only ever come from contacts' certified devices (over pairwise sessions).
  if (auto c = profile.contacts().find(account_id); c && *c) {
    for (const auto& d : (*c)->devices) {
      protocol::forget_sender_key(profile.sender_keys(), gid, {account_id, d.device_id});
    }
  }
}

Result<void> Client::Impl::apply_group_state(const protocol::GroupState* before,
                                             const protocol::GroupState& after,
                                             const std::string& commit_bytes,
                                             std::vector<Event>& events) {
  const std::string gid(after.group_id.begin(), after.group_id.end());
  auto existing = profile.groups().find(gid);
  if (!existing) {
    return user_error(existing.error());
  }
  store::GroupRecord record;
  if (*existing) {
    record = **existing;
  } else {
    record.group_id = gid;
    record.joined_at_ms = now_ms();
  }
  record.commit = commit_bytes;
  record.member = after.is_member(own.account_id);
  const auto plan = protocol::plan_sender_keys(before, after, own.account_id);
  if (plan.removed) {
    for (const auto& account : plan.forget) {
      forget_sender_keys(gid, account);
    }
    forget_sender_keys(gid, own.account_id);
    record.owed.clear();
  } else {
    for (const auto& account : plan.forget) {
      forget_sender_keys(gid, account);
    }
    if (plan.rotate) {
      auto created = protocol::create_sender_key(profile.sender_keys(), crypto::as_bytes(gid),
                                                 {own.account_id, own.device_id}, rng);
      if (!created) {
        return errc::profile_corrupt;
      }
      record.owed = plan.send_new_to;
      record.key_created_at_ms = now_ms();
      record.key_messages = 0;
    } else {
      for (const auto& account : plan.send_current_to) {
        if (std::find(record.owed.begin(), record.owed.end(), account) == record.owed.end()) {
          record.owed.push_back(account);
        }
      }
    }
    // Nobody who left is owed anything.
    std::erase_if(record.owed, [&](const std::string& a) { return !after.is_member(a); });
  }
  if (auto r = profile.groups().upsert(record); !r) {
    return user_error(r.error());
  }
  Event e;
  e.kind = Event::Kind::group_changed;
  e.group = to_hex(gid);
  events.push_back(e);
  return {};
}

// --- sending our sender key ------------------------------------------------------------------

Result<void> Client::Impl::flush_owed_keys(const std::string& group_id) {
  std::vector<std::string> owed;
  {
    std::lock_guard lock(mutex);
    auto g = load_group(group_id);
    if (!g) {
      return g.error();
    }
    if (!*g || !(*g)->record.member) {
      return {};
    }
    owed = (*g)->record.owed;
  }
  if (owed.empty()) {
    return {};
  }
  bool refreshed = false;
  std::vector<std::pair<std::string, v1::ClientFrame>> frames;  // message id, Send
  for (const auto& account : owed) {
    bool known = false;
    {
      std::lock_guard lock(mutex);
      auto c = profile.contacts().find(account);
      known = c && *c && !(*c)->devices.empty();
    }
    if (!known && !refreshed) {
      refreshed = true;
      if (auto r = refresh_directory(); !r && transient(r.error())) {
        return r.error();
      }
    }
    bool drop = false;
    if (auto r = ensure_sessions(account); !r) {
      if (transient(r.error())) {
        return r.error();
      }
      drop = true;  // not reachable for good (unknown, key changed, no devices): owe nothing
    }
    std::vector<Event> events;
    {
      std::lock_guard lock(mutex);
      auto g = load_group(group_id);
      if (!g || !*g) {
        return g ? Result<void>{} : Result<void>(g.error());
      }
      auto& group = **g;
      auto tx = profile.begin();
      if (!tx) {
        return user_error(tx.error());
      }
      auto c = profile.contacts().find(account);
      const auto* listed = group.state.find(account);
      // The member's account key as the group's admins vouched for it must be the one we pinned:
      // otherwise the relay's directory and the signed membership disagree, and no key goes out.
      if (!drop && c && *c && listed != nullptr && (*c)->account_key == listed->account_key &&
          !(*c)->key_changed) {
        const protocol::Address self{own.account_id, own.device_id};
        auto distribution = protocol::current_sender_key_distribution(
            profile.sender_keys(), crypto::as_bytes(group_id), self);
        if (!distribution) {
          return errc::profile_corrupt;
        }
        v1::GroupInfo info;
        const bool with_info = group.state.may_manage(own.account_id) && !group.record.name.empty();
        if (with_info) {
          info.set_name(group.record.name);
          info.set_topic(group.record.topic);
        }
        const auto id = new_message_id();
        auto prepared = prepare_send(
            **c, group_setup_content(id, now_ms(), group_id, group.state.epoch,
                                     distribution->view(), with_info ? &info : nullptr));
        if (!prepared) {
          if (transient(prepared.error())) {
            return prepared.error();
          }
        } else {
          frames.emplace_back(id, std::move(*prepared));
        }
      }
      std::erase(group.record.owed, account);
      if (auto r = profile.groups().upsert(group.record); !r) {
        return user_error(r.error());
      }
      if (auto r = tx->commit(); !r) {
        return user_error(r.error());
      }
    }
  }
  // Every setup is in the outbox now (sent again after a reconnect if need be); wait for the
  // relay's answers so they are queued before whatever we send to the group next.
  std::vector<std::future<Result<v1::ServerFrame>>> answers;
  for (auto& [id, frame] : frames) {
    auto promise = std::make_shared<std::promise<Result<v1::ServerFrame>>>();
    answers.push_back(promise->get_future());
    if (!connection) {
      promise->set_value(errc::offline);
      continue;
    }
    connection->async_call(frame, options.request_timeout,
                           [this, id = id, promise](Result<v1::ServerFrame> a) {
                             if (!a) {
                               a = user_error(a.error());
                             }
                             on_send_answer(id, a);
                             promise->set_value(std::move(a));
                           });
  }
  for (auto& f : answers) {
    auto a = f.get();
    if (!a) {
      return a.error();
    }
  }
  return {};
}

// --- changing membership -------------------------------------------------------------------

Result<protocol::GroupMember> Client::Impl::member_of(std::string_view reference) {
  auto c = resolve(reference);
  if (!c) {
    return c.error();
  }
  if (!c->account_key) {
    return errc::no_devices;
  }
  if (c->key_changed) {
    return errc::key_changed;
  }
  return protocol::GroupMember{c->account_id, *c->account_key, protocol::GroupRole::member};
}

Result<GroupView> Client::Impl::upload_commit(const protocol::GroupState* before,
                                              const v1::SignedGroupCommit& commit,
                                              const std::string& name, const std::string& topic,
                                              const CommitExtras& extras) {
  v1::ClientFrame f;
  *f.mutable_update_group()->mutable_commit() = commit;
  if (extras) {
    extras(*f.mutable_update_group());
  }
  auto answer = call(std::move(f));
  if (!answer) {
    return answer.error();
  }
  if (answer->has_error()) {
    return group_relay_error(answer->error());
  }
  if (!answer->has_group_updated()) {
    return errc::relay_refused;
  }
  std::vector<Event> events;
  std::string group_id;
  GroupView view;
  {
    std::lock_guard lock(mutex);
    auto after = protocol::apply_group_commit(before, commit);
    if (!after) {
      return commit_error(after.error());
    }
    group_id.assign(after->group_id.begin(), after->group_id.end());
    auto tx = profile.begin();
    if (!tx) {
      return user_error(tx.error());
    }
    if (auto r = apply_group_state(before, *after, commit.SerializeAsString(), events); !r) {
      return r.error();
    }
    if (before == nullptr) {
      auto g = profile.groups().find(group_id);
      if (!g || !*g) {
        return errc::profile_corrupt;
      }
      auto record = **g;
      record.name = name;
      record.topic = topic;
      if (auto r = profile.groups().upsert(record); !r) {
        return user_error(r.error());
      }
    }
    if (auto r = tx->commit(); !r) {
      return user_error(r.error());
    }
    auto loaded = load_group(group_id);
    if (!loaded || !*loaded) {
      return errc::profile_corrupt;
    }
    view = view_of(**loaded);
  }
  emit(events);
  // The new members learn our key (and the name) now; a failure here is retried before our next
  // message to the group, so the change itself stands.
  (void)flush_owed_keys(group_id);
  return view;
}

Result<GroupView> Client::Impl::change_group(std::string_view reference,
                                             const MembershipChange& change, bool archive,
                                             std::optional<bool> close_keep_staff_copy,
                                             const CommitExtras& extras) {
  for (int attempt = 0;; ++attempt) {
    v1::SignedGroupCommit commit;
    std::optional<LoadedGroup> group;
    {
      std::lock_guard lock(mutex);
      auto g = resolve_group(reference);
      if (!g) {
        return g.error();
      }
      if (!g->record.member) {
        return errc::not_a_member;
      }
      if (g->state.archived) {
        return errc::group_archived;
      }
      auto members =
          archive ? Result<std::vector<protocol::GroupMember>>(g->state.members) : change(*g);
      if (!members) {
        return members.error();
      }
      // Said plainly rather than as the rule violation the commit would be refused with.
      if (!archive && std::none_of(members->begin(), members->end(), [](const auto& m) {
            return m.role != protocol::GroupRole::member;
          })) {
        return errc::last_manager;
      }
      const auto certificate = device_certificate(identity, account_key);
      auto made =
          protocol::make_group_commit(&g->state, {}, std::move(*members), archive,
                                      commit_author(certificate), now_ms(), close_keep_staff_copy);
      if (!made) {
        return commit_error(made.error());
      }
      commit = std::move(*made);
      group = std::move(*g);
    }
    auto result = upload_commit(&group->state, commit, {}, {}, extras);
    if (result || result.error() != errc::group_conflict || attempt > 0) {
      return result;
    }
    // Somebody changed the group first; their commit is queued for us. Process it, then retry.
    wait_group_moved(group->record.group_id, group->state.epoch);
  }
}

void Client::Impl::wait_group_moved(const std::string& group_id, std::uint64_t epoch) {
  std::unique_lock lock(mutex);
  state_changed.wait_for(lock, options.request_timeout, [&] {
    auto g = load_group(group_id);
    return !g || !*g || (*g)->state.epoch != epoch;
  });
}

// --- sending to a group --------------------------------------------------------------------

Result<MessageView> Client::Impl::send_group_content(const LoadedGroup& target,
                                                     const v1::Content& content) {
  const std::string gid = target.record.group_id;
  for (int attempt = 0;; ++attempt) {
    if (auto r = prepare_group_key(gid); !r) {
      return r.error();
    }
    if (auto r = flush_owed_keys(gid); !r) {
      return r.error();
    }
    auto frame = prepare_group_send(gid, content);
    if (!frame) {
      return frame.error();
    }
    auto answer = transmit(*frame, content.message_id());
    if (!answer) {
      return answer.error();
    }
    if (answer->has_error()) {
      if (answer->error().code() == v1::GROUP_CONFLICT && attempt < 2) {
        // The membership moved on and its commit is queued for us: apply it (new keys, new
        // members owed ours), then encrypt again for the current membership.
        wait_group_moved(gid, frame->send().group_epoch());
        continue;
      }
      return group_relay_error(answer->error());
    }
    std::lock_guard lock(mutex);
    if (auto stored =
            profile.messages().find({own.account_id, own.device_id}, content.message_id());
        stored && *stored) {
      return view_of(**stored);
    }
    return errc::profile_corrupt;
  }
}

Result<void> Client::Impl::prepare_group_key(const std::string& gid) {
  std::lock_guard lock(mutex);
  auto g = load_group(gid);
  if (!g || !*g) {
    return g ? Result<void>(errc::unknown_group) : Result<void>(g.error());
  }
  auto& group = **g;
  if (!group.record.member) {
    return errc::not_a_member;
  }
  if (group.state.archived) {
    return errc::group_archived;
  }
  const auto max_age =
      std::chrono::duration_cast<std::chrono::milliseconds>(options.group_key_max_age).count();
  if (group.record.key_messages < options.group_key_max_messages &&
      now_ms() - group.record.key_created_at_ms <= max_age) {
    return {};
  }
  // Time for a fresh chain: everyone else gets it before our next message.
  auto tx = profile.begin();
  if (!tx) {
    return user_error(tx.error());
  }
  if (!protocol::create_sender_key(profile.sender_keys(), crypto::as_bytes(gid),
                                   {own.account_id, own.device_id}, rng)) {
    return errc::profile_corrupt;
  }
  group.record.owed.clear();
  for (const auto& m : group.state.members) {
    if (m.account_id != own.account_id) {
      group.record.owed.push_back(m.account_id);
    }
  }
  group.record.key_created_at_ms = now_ms();
  group.record.key_messages = 0;
  if (auto r = profile.groups().upsert(group.record); !r) {
    return user_error(r.error());
  }
  if (auto r = tx->commit(); !r) {
    return user_error(r.error());
  }
  return {};
}

Result<v1::ClientFrame> Client::Impl::prepare_group_send(const std::string& gid,
                                                         const v1::Content& content) {
  std::lock_guard lock(mutex);
  auto g = load_group(gid);
  if (!g || !*g) {
    return g ? Result<v1::ClientFrame>(errc::unknown_group) : Result<v1::ClientFrame>(g.error());
  }
  auto& group = **g;
  auto tx = profile.begin();
  if (!tx) {
    return user_error(tx.error());
  }
  auto ciphertext = protocol::group_encrypt(profile.sender_keys(), crypto::as_bytes(gid),
                                            {own.account_id, own.device_id},
                                            crypto::WipedBytes(serialise(content)).view());
  if (!ciphertext) {
    return errc::profile_corrupt;
  }
  v1::ClientFrame frame;
  auto* send = frame.mutable_send();
  send->set_client_message_id(content.message_id());
  send->set_group_id(gid);
  send->set_group_ciphertext(ciphertext->data(), ciphertext->size());
  send->set_group_epoch(group.state.epoch);
  if (content.has_attachment()) {
    send->add_blob_ids(content.attachment().blob_id());
  }
  if (is_message_body(content)) {
    const auto m = outgoing_message(content, group_conversation(gid),
                                    {own.account_id, own.device_id}, now_ms());
    if (auto r = append_message(profile, m, content); !r) {  // a retry finds it stored: fine
      return user_error(r.error());
    }
  }
  const auto bytes = send->SerializeAsString();
  (void)profile.outbox().remove(content.message_id());  // a retry replaces its earlier attempt
  if (auto r = profile.outbox().add(content.message_id(), crypto::as_bytes(bytes), now_ms()); !r) {
    return user_error(r.error());
  }
  ++group.record.key_messages;
  if (auto r = profile.groups().upsert(group.record); !r) {
    return user_error(r.error());
  }
  if (auto r = tx->commit(); !r) {
    return user_error(r.error());
  }
  return frame;
}

// --- receiving -----------------------------------------------------------------------------

bool Client::Impl::on_group_commit(const v1::Delivery& d, std::vector<Event>& events) {
  v1::SignedGroupCommit commit;
  if (!commit.ParseFromString(d.group_commit())) {
    return true;  // nothing anyone could verify: dropped
  }
  auto peek = protocol::decode_trusted_group_commit(commit);
  if (!peek || std::string(peek->group_id.begin(), peek->group_id.end()) != d.group_id()) {
    return true;
  }
  const std::string gid = d.group_id();
  std::optional<protocol::GroupState> base;
  if (auto it = log_states.find(gid); it != log_states.end()) {
    base = it->second;
  } else if (auto stored = load_group(gid); stored && *stored) {
    base = (*stored)->state;
  } else if (!stored) {
    return true;
  }
  if (base && peek->epoch <= base->epoch) {
    return true;  // applied before (a redelivery, or our own commit)
  }
  if ((!base && peek->epoch != 0) || (base && peek->epoch > base->epoch + 1)) {
    if (log_fetched_for.contains(gid) || !connection) {
      return true;  // the relay's log did not lead here: cannot verify, dropped
    }
    fetch_group_log(gid, base, peek->epoch);
    return false;
  }
  auto tx = profile.begin();
  if (!tx) {
    return true;
  }
  auto after = protocol::apply_group_commit(base ? &*base : nullptr, commit);
  if (!after) {
    tx->rollback();  // forged or out of order: refused, and nobody gets a key because of it
    return true;
  }
  std::vector<Event> applied;
  if (!apply_group_state(base ? &*base : nullptr, *after, d.group_commit(), applied)) {
    return true;
  }
  if (after->closed) {
    // The case was closed (docs/PROTOCOL.md 2.21): by an owner or admin, verified above.
    (void)wipe_closed(group_conversation(gid), {}, after->keep_staff_copy);
  }
  if (!tx->commit()) {
    return true;
  }
  if (base) {
    note_handover(*base, *after);  // a case handed on: its history is owed to the colleague
  }
  log_states.erase(gid);
  events.insert(events.end(), applied.begin(), applied.end());
  return true;
}

void Client::Impl::fetch_group_log(const std::string& group_id,
                                   std::optional<protocol::GroupState> base,
                                   std::uint64_t target_epoch) {
  fetching_log = true;
  v1::ClientFrame f;
  f.mutable_get_group_log()->set_group_id(group_id);
  f.mutable_get_group_log()->set_from_epoch(base ? base->epoch + 1 : 0);
  connection->async_call(
      std::move(f), options.request_timeout,
      [this, group_id, base, target_epoch](Result<v1::ServerFrame> answer) mutable {
        std::unique_lock lock(mutex);
        fetching_log = false;
        bool more = false;
        if (answer && answer->has_group_log() && answer->group_log().group_id() == group_id) {
          bool ok = true;
          for (const auto& c : answer->group_log().commits()) {
            auto peek = protocol::decode_trusted_group_commit(c);
            if (!peek || peek->epoch >= target_epoch) {
              break;
            }
            auto next = protocol::apply_group_commit(base ? &*base : nullptr, c);
            if (!next) {
              ok = false;
              break;
            }
            base = std::move(*next);
          }
          const bool reached = base && base->epoch + 1 == target_epoch;
          if (ok && reached) {
            log_states[group_id] = *base;
          } else if (ok && !answer->group_log().complete() &&
                     answer->group_log().commits_size() > 0 && connection) {
            more = true;
          }
        }
        if (more) {
          fetch_group_log(group_id, base, target_epoch);
          return;
        }
        log_fetched_for.insert(group_id);
        process_pending(lock);
      });
}

bool Client::Impl::on_group_message(const v1::Delivery& d, std::vector<Event>& events) {
  Event dropped;
  dropped.kind = Event::Kind::undecryptable;
  dropped.contact = d.sender_account_id();
  const std::string gid = d.group_id();
  auto g = load_group(gid);
  if (!g || !*g || !(*g)->record.member || !(*g)->state.is_member(d.sender_account_id())) {
    events.push_back(dropped);
    return true;
  }
  const store::DeviceAddress sender{d.sender_account_id(), d.sender_device_id()};
  auto tx = profile.begin();
  if (!tx) {
    return false;
  }
  auto plaintext = protocol::group_decrypt(profile.sender_keys(), crypto::as_bytes(gid),
                                           {sender.account_id, sender.device_id},
                                           crypto::as_bytes(d.ciphertext()));
  if (!plaintext) {
    tx->rollback();
    if (plaintext.error() != protocol::errc::duplicate_message) {
      events.push_back(dropped);
    }
    return true;
  }
  auto content = parse_content(plaintext->view(), d.client_message_id());
  if (!content || !is_message_body(*content)) {
    events.push_back(dropped);
    return tx->commit().has_value();  // the chain moved on; the content is not for a group
  }
  const auto m = incoming_message(d, *content, group_conversation(gid), now_ms());
  auto appended = append_message(profile, m, *content);
  wipe_file_key(*content);
  if (appended && d.disappear_at_ms() != 0 &&
      !profile.messages().set_expiry(m.sender, m.id,
                                     static_cast<std::int64_t>(d.disappear_at_ms()))) {
    return false;
  }
  if (!appended || !tx->commit()) {
    return false;  // not stored: not acknowledged, it comes again
  }
  if (appended->inserted) {
    Event e;
    e.kind = Event::Kind::message_received;
    e.message = view_of(store::StoredMessage{appended->seq, m});
    events.push_back(e);
    ++arrivals;
  }
  return true;
}

bool Client::Impl::on_group_setup(const store::DeviceAddress& sender, const v1::GroupSetup& setup,
                                  std::vector<Event>& events) {
  auto g = load_group(setup.group_id());
  if (!g) {
    return false;
  }
  if (!*g || !(*g)->record.member) {
    return true;  // not (or no longer) ours: ignored
  }
  auto& group = **g;
  const auto* listed = group.state.find(sender.account_id);
  auto contact = profile.contacts().find(sender.account_id);
  if (!contact) {
    return false;
  }
  // Keys only from members, as the signed membership names them and with the key it vouches for.
  if (listed == nullptr || !*contact || (*contact)->account_key != listed->account_key) {
    return true;
  }
  if (!setup.sender_key_distribution().empty()) {
    (void)protocol::process_distribution(profile.sender_keys(), crypto::as_bytes(setup.group_id()),
                                         {sender.account_id, sender.device_id},
                                         crypto::as_bytes(setup.sender_key_distribution()));
  }
  if (setup.has_info() && group.state.may_manage(sender.account_id) &&
      (group.record.name != setup.info().name() || group.record.topic != setup.info().topic())) {
    group.record.name = setup.info().name();
    group.record.topic = setup.info().topic();
    if (!profile.groups().upsert(group.record)) {
      return false;
    }
    Event e;
    e.kind = Event::Kind::group_changed;
    e.group = to_hex(setup.group_id());
    events.push_back(e);
  }
  return true;
}

// --- the API -------------------------------------------------------------------------------

Result<GroupView> Client::create_group(std::string_view name,
                                       const std::vector<std::string>& members,
                                       std::string_view topic) {
  Impl& im = *impl_;
  if (auto r = check_display_name(name); !r) {
    return errc::invalid_name;
  }
  if (auto r = check_topic(topic); !r) {
    return r.error();
  }
  if (members.size() + 1 > protocol::max_group_members) {
    return errc::group_too_large;
  }
  {
    std::lock_guard lock(im.mutex);
    if (im.own.role != store::AccountRole::staff && im.own.role != store::AccountRole::admin) {
      return errc::not_staff;
    }
  }
  if (auto r = im.refresh_directory(); !r) {
    return r.error();
  }
  v1::SignedGroupCommit commit;
  {
    std::lock_guard lock(im.mutex);
    std::vector<protocol::GroupMember> list;
    list.push_back({im.own.account_id, im.account_key.public_key(), protocol::GroupRole::owner});
    for (const auto& reference : members) {
      auto m = im.member_of(reference);
      if (!m) {
        return m.error();
      }
      if (std::any_of(list.begin(), list.end(),
                      [&](const auto& x) { return x.account_id == m->account_id; })) {
        continue;
      }
      list.push_back(*m);
    }
    std::array<std::uint8_t, protocol::group_id_bytes> id{};
    im.rng.fill(id);
    const auto certificate = device_certificate(im.identity, im.account_key);
    auto made = protocol::make_group_commit(nullptr, id, std::move(list), false,
                                            im.commit_author(certificate), im.now_ms());
    if (!made) {
      return commit_error(made.error());
    }
    commit = std::move(*made);
  }
  return im.upload_commit(nullptr, commit, std::string(name), std::string(topic));
}

Result<GroupView> Client::add_group_member(std::string_view group, std::string_view member) {
  Impl& im = *impl_;
  // A colleague or client may not be in the contact list yet: ask the directory first.
  if (im.connection) {
    (void)im.refresh_directory();
  }
  return im.change_group(
      group,
      [&](const LoadedGroup& g) -> Result<std::vector<protocol::GroupMember>> {
        auto m = im.member_of(member);
        if (!m) {
          return m.error();
        }
        if (g.state.is_member(m->account_id)) {
          return errc::already_member;
        }
        auto members = g.state.members;
        if (members.size() >= protocol::max_group_members) {
          return errc::group_too_large;
        }
        members.push_back(*m);
        return members;
      },
      false);
}

Result<std::string> Client::Impl::group_member_id(const LoadedGroup& g,
                                                  std::string_view reference) {
  if (g.state.is_member(reference)) {
    return std::string(reference);
  }
  if (reference == "me") {
    return own.account_id;
  }
  if (auto name = profile.secrets().setting(setting::name);
      name && *name && lower(**name) == lower(reference)) {
    return own.account_id;
  }
  auto c = resolve(reference);
  if (!c) {
    return c.error();
  }
  if (!g.state.is_member(c->account_id)) {
    return errc::not_a_member;
  }
  return c->account_id;
}

Result<GroupView> Client::remove_group_member(std::string_view group, std::string_view member) {
  Impl& im = *impl_;
  return im.change_group(
      group,
      [&](const LoadedGroup& g) -> Result<std::vector<protocol::GroupMember>> {
        auto id = im.group_member_id(g, member);
        if (!id) {
          return id.error();
        }
        if (!g.state.is_member(*id)) {
          return errc::not_a_member;
        }
        auto members = g.state.members;
        std::erase_if(members, [&](const auto& m) { return m.account_id == *id; });
        return members;
      },
      false);
}

Result<GroupView> Client::set_group_role(std::string_view group, std::string_view member,
                                         GroupRole role) {
  Impl& im = *impl_;
  return im.change_group(
      group,
      [&](const LoadedGroup& g) -> Result<std::vector<protocol::GroupMember>> {
        auto id = im.group_member_id(g, member);
        if (!id) {
          return id.error();
        }
        auto members = g.state.members;
        for (auto& m : members) {
          if (m.account_id == *id) {
            m.role = protocol_role(role);
          }
        }
        return members;
      },
      false);
}

Result<GroupView> Client::archive_group(std::string_view group) {
  return impl_->change_group(group, {}, true);
}

Result<std::vector<GroupView>> Client::groups() {
  Impl& im = *impl_;
  std::lock_guard lock(im.mutex);
  auto list = im.profile.groups().list();
  if (!list) {
    return user_error(list.error());
  }
  std::vector<GroupView> out;
  for (const auto& record : *list) {
    auto g = im.load_group(record.group_id);
    if (!g || !*g) {
      return g ? Result<std::vector<GroupView>>(errc::profile_corrupt)
               : Result<std::vector<GroupView>>(g.error());
    }
    out.push_back(im.view_of(**g));
  }
  return out;
}

Result<GroupView> Client::find_group(std::string_view group) {
  Impl& im = *impl_;
  std::lock_guard lock(im.mutex);
  auto g = im.resolve_group(group);
  if (!g) {
    return g.error();
  }
  return im.view_of(*g);
}

Result<std::vector<GroupMemberView>> Client::group_members(std::string_view group) {
  Impl& im = *impl_;
  std::lock_guard lock(im.mutex);
  auto g = im.resolve_group(group);
  if (!g) {
    return g.error();
  }
  std::vector<GroupMemberView> out;
  for (const auto& m : g->state.members) {
    GroupMemberView v;
    v.account_id = m.account_id;
    v.role = view_role(m.role);
    v.self = m.account_id == im.own.account_id;
    if (v.self) {
      v.account_role = role_of(im.own.role);
      if (auto name = im.profile.secrets().setting(setting::name); name && *name) {
        v.name = **name;
      }
    } else if (auto c = im.profile.contacts().find(m.account_id); c && *c) {
      v.name = (*c)->display_name;
      v.account_role = role_of((*c)->role);
    }
    out.push_back(std::move(v));
  }
  return out;
}

Result<std::vector<DirectoryEntry>> Client::directory() {
  Impl& im = *impl_;
  v1::ClientFrame f;
  f.mutable_list_directory();
  auto answer = im.call(std::move(f));
  if (!answer) {
    return answer.error();
  }
  if (answer->has_error()) {
    return answer->error().code() == v1::NOT_AUTHORIZED ? errc::not_staff
                                                        : relay_error(answer->error());
  }
  if (!answer->has_directory()) {
    return errc::relay_refused;
  }
  std::vector<DirectoryEntry> out;
  for (const auto& e : answer->directory().entries()) {
    out.push_back({e.account_id(), e.handle(), role_of(e.role())});
  }
  std::sort(out.begin(), out.end(), [](const DirectoryEntry& a, const DirectoryEntry& b) {
    return lower(a.handle) < lower(b.handle);
  });
  return out;
}

}  // namespace lotse::client
