// SPDX-License-Identifier: AGPL-3.0-or-later
// RelayStore, counselling inboxes and cases (docs/PROTOCOL.md 2.22): the tables inboxes,
// inbox_staff, inbox_clients and cases, held in memory (an organisation has a handful of inboxes
// and one case per anonymous client), and the reachability they add to the directory.
#include "store/relay_store.hpp"

#include <algorithm>

namespace lotse::store {
const InboxMember* Inbox::member(std::int64_t account) const {
  const auto it =
      std::lower_bound(staff.begin(), staff.end(), account,
                       [](const InboxMember& m, std::int64_t a) { return m.account < a; });
  return it != staff.end() && it->account == account ? &*it : nullptr;
}

void RelayStore::load_inboxes() {
  inboxes_.clear();
  inbox_clients_.clear();
  cases_.clear();
  case_by_client_.clear();
  auto inboxes = db_.prepare(
      "SELECT id, inbox_id, name, signer, needs_consent, max_open_cases, notice, created_at "
      "FROM inboxes");
  while (inboxes.step()) {
    Inbox in;
    in.id = inboxes.column_int(0);
    in.inbox_id = inboxes.column_blob(1);
    in.name = inboxes.column_text(2);
    if (!inboxes.column_is_null(3)) {
      in.signer = inboxes.column_int(3);
    }
    in.needs_consent = inboxes.column_int(4) != 0;
    in.max_open_cases = static_cast<std::uint32_t>(inboxes.column_int(5));
    if (!inboxes.column_is_null(6)) {
      in.notice = inboxes.column_blob(6);
    }
    in.created_at = inboxes.column_int(7);
    inboxes_[in.id] = std::move(in);
  }
  auto staff = db_.prepare(
      "SELECT inbox, account, supervisor, on_duty FROM inbox_staff ORDER BY inbox, account");
  while (staff.step()) {
    if (auto it = inboxes_.find(staff.column_int(0)); it != inboxes_.end()) {
      it->second.staff.push_back(
          {staff.column_int(1), staff.column_int(2) != 0, staff.column_int(3) != 0});
    }
  }
  auto clients = db_.prepare("SELECT account, inbox FROM inbox_clients");
  while (clients.step()) {
    inbox_clients_[clients.column_int(0)] = clients.column_int(1);
  }
  auto cases = db_.prepare(
      "SELECT group_row, inbox, client, counsellor, created_at, claimed_at, pending_to, "
      "pending_reason, pending_at FROM cases");
  while (cases.step()) {
    Case c;
    c.group_row = cases.column_int(0);
    if (!cases.column_is_null(1)) {
      c.inbox = cases.column_int(1);
    }
    c.client = cases.column_int(2);
    if (!cases.column_is_null(3)) {
      c.counsellor = cases.column_int(3);
    }
    c.created_at = cases.column_int(4);
    c.claimed_at = cases.column_is_null(5) ? 0 : cases.column_int(5);
    if (!cases.column_is_null(6)) {
      c.pending_to = cases.column_int(6);
      c.pending_reason = cases.column_is_null(7) ? "" : cases.column_text(7);
      c.pending_at = cases.column_is_null(8) ? 0 : cases.column_int(8);
    }
    case_by_client_[c.client] = c.group_row;
    cases_[c.group_row] = std::move(c);
  }
}

const Inbox* RelayStore::inbox(std::int64_t row) const {
  const auto it = inboxes_.find(row);
  return it == inboxes_.end() ? nullptr : &it->second;
}

const Inbox* RelayStore::inbox_by_id(BlobView inbox_id) const {
  for (const auto& [row, in] : inboxes_) {
    if (std::equal(in.inbox_id.begin(), in.inbox_id.end(), inbox_id.begin(), inbox_id.end())) {
      return &in;
    }
  }
  return nullptr;
}

const Inbox* RelayStore::inbox_by_name(const std::string& name) const {
  const auto wanted = lower_ascii(name);
  for (const auto& [row, in] : inboxes_) {
    if (lower_ascii(in.name) == wanted) {
      return &in;
    }
  }
  return nullptr;
}

std::vector<const Inbox*> RelayStore::inboxes() const {
  std::vector<const Inbox*> out;
  for (const auto& [row, in] : inboxes_) {
    out.push_back(&in);
  }
  std::sort(out.begin(), out.end(), [](const Inbox* a, const Inbox* b) {
    return lower_ascii(a->name) < lower_ascii(b->name);
  });
  return out;
}

const Inbox& RelayStore::save_inbox(Inbox in, std::int64_t now) {
  std::sort(in.staff.begin(), in.staff.end(),
            [](const InboxMember& a, const InboxMember& b) { return a.account < b.account; });
  if (in.id == 0) {
    auto st = db_.prepare(
        "INSERT INTO inboxes(inbox_id, name, signer, needs_consent, max_open_cases, created_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    st.bind(1, in.inbox_id).bind(2, in.name);
    if (in.signer) {
      st.bind(3, *in.signer);
    } else {
      st.bind_null(3);
    }
    st.bind(4, in.needs_consent ? 1 : 0)
        .bind(5, static_cast<std::int64_t>(in.max_open_cases))
        .bind(6, now)
        .run();
    in.id = db_.last_insert_rowid();
    in.created_at = now;
  } else {
    const Inbox* old = inbox(in.id);
    for (auto& m : in.staff) {
      if (const InboxMember* was = old != nullptr ? old->member(m.account) : nullptr) {
        m.on_duty = was->on_duty;
      }
    }
    db_.prepare(
           "UPDATE inboxes SET name = ?2, needs_consent = ?3, max_open_cases = ?4 WHERE id = ?1")
        .bind(1, in.id)
        .bind(2, in.name)
        .bind(3, in.needs_consent ? 1 : 0)
        .bind(4, static_cast<std::int64_t>(in.max_open_cases))
        .run();
    db_.prepare("DELETE FROM inbox_staff WHERE inbox = ?1").bind(1, in.id).run();
  }
  auto add = db_.prepare(
      "INSERT INTO inbox_staff(inbox, account, supervisor, on_duty) VALUES (?1, ?2, ?3, ?4)");
  for (const auto& m : in.staff) {
    add.reset()
        .bind(1, in.id)
        .bind(2, m.account)
        .bind(3, m.supervisor ? 1 : 0)
        .bind(4, m.on_duty ? 1 : 0)
        .run();
  }
  const auto row = in.id;
  inboxes_[row] = std::move(in);
  return inboxes_.at(row);
}

void RelayStore::remove_inbox(std::int64_t row) {
  // Its staff, clients' links and invites go with it (ON DELETE CASCADE); cases stay as groups.
  db_.prepare("DELETE FROM inboxes WHERE id = ?1").bind(1, row).run();
  invite_count_ = db_.query_int("SELECT count(*) FROM invites");
  load_inboxes();
}

void RelayStore::set_inbox_notice(std::int64_t row, BlobView signed_notice) {
  db_.prepare("UPDATE inboxes SET notice = ?2 WHERE id = ?1")
      .bind(1, row)
      .bind(2, signed_notice)
      .run();
  if (auto it = inboxes_.find(row); it != inboxes_.end()) {
    it->second.notice.assign(signed_notice.begin(), signed_notice.end());
  }
}

void RelayStore::set_duty(std::int64_t inbox_row, std::int64_t account, bool on_duty) {
  db_.prepare("UPDATE inbox_staff SET on_duty = ?3 WHERE inbox = ?1 AND account = ?2")
      .bind(1, inbox_row)
      .bind(2, account)
      .bind(3, on_duty ? 1 : 0)
      .run();
  if (auto it = inboxes_.find(inbox_row); it != inboxes_.end()) {
    for (auto& m : it->second.staff) {
      if (m.account == account) {
        m.on_duty = on_duty;
      }
    }
  }
}

void RelayStore::set_invite_inbox(BlobView token_hash, std::int64_t inbox_row) {
  db_.prepare("UPDATE invites SET inbox = ?2 WHERE token_hash = ?1")
      .bind(1, token_hash)
      .bind(2, inbox_row)
      .run();
}

std::optional<std::int64_t> RelayStore::invite_inbox(BlobView token_hash) {
  auto st = db_.prepare("SELECT inbox FROM invites WHERE token_hash = ?1");
  st.bind(1, token_hash);
  if (!st.step() || st.column_is_null(0)) {
    return std::nullopt;
  }
  return st.column_int(0);
}

void RelayStore::add_inbox_client(std::int64_t account, std::int64_t inbox_row, std::int64_t now) {
  db_.prepare("INSERT INTO inbox_clients(account, inbox, created_at) VALUES (?1, ?2, ?3)")
      .bind(1, account)
      .bind(2, inbox_row)
      .bind(3, now)
      .run();
  inbox_clients_[account] = inbox_row;
}

std::optional<std::int64_t> RelayStore::inbox_of_client(std::int64_t account) const {
  const auto it = inbox_clients_.find(account);
  return it == inbox_clients_.end() ? std::nullopt : std::optional(it->second);
}

std::uint32_t RelayStore::open_cases(std::int64_t inbox_row) const {
  std::uint32_t n = 0;
  for (const auto& [client, row] : inbox_clients_) {
    if (row != inbox_row) {
      continue;
    }
    const Case* c = case_of_client(client);
    if (c == nullptr) {
      ++n;  // registered, not written yet
      continue;
    }
    const Group* g = group_by_row(c->group_row);
    if (!c->counsellor && (g == nullptr || !g->archived)) {
      ++n;
    }
  }
  return n;
}

const Case* RelayStore::case_of_group(std::int64_t group_row) const {
  const auto it = cases_.find(group_row);
  return it == cases_.end() ? nullptr : &it->second;
}

const Case* RelayStore::case_of_client(std::int64_t account) const {
  const auto it = case_by_client_.find(account);
  return it == case_by_client_.end() ? nullptr : case_of_group(it->second);
}

std::vector<const Case*> RelayStore::cases_of_inbox(std::int64_t inbox_row) const {
  std::vector<const Case*> out;
  for (const auto& [row, c] : cases_) {
    if (c.inbox == inbox_row) {
      out.push_back(&c);
    }
  }
  return out;
}

void RelayStore::open_case(std::int64_t group_row, std::int64_t inbox_row, std::int64_t client,
                           std::int64_t now) {
  db_.prepare("INSERT INTO cases(group_row, inbox, client, created_at) VALUES (?1, ?2, ?3, ?4)")
      .bind(1, group_row)
      .bind(2, inbox_row)
      .bind(3, client)
      .bind(4, now)
      .run();
  Case c;
  c.group_row = group_row;
  c.inbox = inbox_row;
  c.client = client;
  c.created_at = now;
  case_by_client_[client] = group_row;
  cases_[group_row] = std::move(c);
}

void RelayStore::set_counsellor(std::int64_t group_row, std::int64_t counsellor, std::int64_t now) {
  auto it = cases_.find(group_row);
  if (it == cases_.end()) {
    return;
  }
  const bool first = !it->second.counsellor;
  db_.prepare(
         "UPDATE cases SET counsellor = ?2, claimed_at = coalesce(claimed_at, ?3), "
         "pending_to = NULL, pending_reason = NULL, pending_at = NULL WHERE group_row = ?1")
      .bind(1, group_row)
      .bind(2, counsellor)
      .bind(3, now)
      .run();
  it->second.counsellor = counsellor;
  if (first) {
    it->second.claimed_at = now;
  }
  it->second.pending_to.reset();
  it->second.pending_reason.clear();
  it->second.pending_at = 0;
}

void RelayStore::set_pending_handover(std::int64_t group_row, std::optional<std::int64_t> to,
                                      const std::string& reason, std::int64_t now) {
  auto it = cases_.find(group_row);
  if (it == cases_.end()) {
    return;
  }
  auto st = db_.prepare(
      "UPDATE cases SET pending_to = ?2, pending_reason = ?3, pending_at = ?4 "
      "WHERE group_row = ?1");
  st.bind(1, group_row);
  if (to) {
    st.bind(2, *to).bind(3, reason).bind(4, now);
  } else {
    st.bind_null(2).bind_null(3).bind_null(4);
  }
  st.run();
  it->second.pending_to = to;
  it->second.pending_reason = to ? reason : std::string();
  it->second.pending_at = to ? now : 0;
}

std::int64_t RelayStore::insert_case_notice(std::int64_t recipient_device, BlobView notice,
                                            std::int64_t now, std::int64_t expires_at) {
  // sender_device must name a device: the recipient's own (the notice is the relay's).
  auto st = db_.prepare(
      "INSERT INTO envelopes(recipient_device, sender_device, client_message_id, ciphertext, "
      "created_at, expires_at, case_notice) VALUES (?1, ?1, x'', x'', ?2, ?3, ?4)");
  st.bind(1, recipient_device).bind(2, now).bind(3, expires_at).bind(4, notice).run();
  ++queued_[recipient_device];
  return db_.last_insert_rowid();
}

bool RelayStore::inbox_link(const Account& client, const Account& staff) const {
  const auto inbox_row = inbox_of_client(client.id);
  if (!inbox_row) {
    return false;
  }
  if (const Case* c = case_of_client(client.id); c != nullptr && c->counsellor) {
    // Claimed: the case's group decides who reaches whom, and a colleague the counsellor asked
    // the client to accept is reachable so that the client can commit the handover.
    return c->pending_to == staff.id;
  }
  const Inbox* in = inbox(*inbox_row);
  const InboxMember* m = in != nullptr ? in->member(staff.id) : nullptr;
  return m != nullptr && (m->on_duty || m->supervisor);
}

}  // namespace lotse::store
