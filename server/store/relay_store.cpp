// SPDX-License-Identifier: AGPL-3.0-or-later
#include "store/relay_store.hpp"

#include "store/blob_statements.hpp"
#include "store/deletion_journal.hpp"
#include "store/group_statements.hpp"
#include "store/schema.hpp"

#include <algorithm>

namespace lotse::store {

struct RelayStore::Statements {
  explicit Statements(Database& db)
      : insert_invite(db.prepare(
            "INSERT INTO invites(token_hash, role, inviter, uses_left, expires_at, created_at) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")),
        select_invite(db.prepare(
            "SELECT role, inviter, uses_left, expires_at FROM invites WHERE token_hash = ?1")),
        use_invite(db.prepare("UPDATE invites SET uses_left = uses_left - 1 "
                              "WHERE token_hash = ?1 AND uses_left > 0 AND expires_at > ?2")),
        insert_account(db.prepare(
            "INSERT INTO accounts(public_id, role, account_key, inviter, handle, created_at, "
            "last_seen_at) VALUES (?1, ?2, ?3, ?4, ?6, ?5, ?5)")),
        insert_device(db.prepare(
            "INSERT INTO devices(account, device_no, signing_key, dh_key, dh_signature, "
            "device_certificate, signed_prekey_id, signed_prekey, signed_prekey_signature, "
            "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")),
        touch(db.prepare("UPDATE accounts SET last_seen_at = ?2 WHERE id = ?1")),
        insert_connection(
            db.prepare("INSERT OR IGNORE INTO connections(a, b, created_at) VALUES (?1, ?2, ?3)")),
        update_signed_prekey(
            db.prepare("UPDATE devices SET signed_prekey_id = ?2, signed_prekey = ?3, "
                       "signed_prekey_signature = ?4 WHERE id = ?1")),
        insert_prekey(
            db.prepare("INSERT OR REPLACE INTO one_time_prekeys(device, prekey_id, public_key) "
                       "VALUES (?1, ?2, ?3)")),
        take_prekey(db.prepare("DELETE FROM one_time_prekeys WHERE device = ?1 AND prekey_id = "
                               "(SELECT min(prekey_id) FROM one_time_prekeys WHERE device = ?1) "
                               "RETURNING prekey_id, public_key")),
        insert_dedup(db.prepare(
            "INSERT INTO send_dedup(sender_device, client_message_id, expires_at) "
            "VALUES (?1, ?2, ?3) ON CONFLICT(sender_device, client_message_id) DO UPDATE "
            "SET expires_at = excluded.expires_at WHERE send_dedup.expires_at <= ?4")),
        select_dedup(db.prepare(
            "SELECT 1 FROM send_dedup WHERE sender_device = ?1 AND client_message_id = ?2 "
            "AND expires_at > ?3")),
        insert_envelope(
            db.prepare("INSERT INTO envelopes(recipient_device, sender_device, client_message_id, "
                       "ciphertext, created_at, expires_at, disappear_at) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, nullif(?7, 0))")),
        // A group message's ciphertext is its shared copy; a commit's bytes come from the log.
        read_envelopes(db.prepare(
            "SELECT e.id, e.sender_device, e.client_message_id, "
            "CASE WHEN e.group_message IS NULL THEN e.ciphertext ELSE m.ciphertext END, "
            "e.created_at, g.group_id, c.signed, e.disappear_at, e.erased_account, e.case_notice "
            "FROM envelopes e "
            "LEFT JOIN group_messages m ON m.id = e.group_message "
            "LEFT JOIN group_commits c ON c.id = e.group_commit "
            "LEFT JOIN groups g ON g.id = coalesce(m.group_row, c.group_row) "
            "WHERE e.recipient_device = ?1 AND e.id > ?2 ORDER BY e.id LIMIT ?3")),
        delete_envelope(
            db.prepare("DELETE FROM envelopes WHERE id = ?1 AND recipient_device = ?2")) {}

  Statement insert_invite;
  Statement select_invite;
  Statement use_invite;
  Statement insert_account;
  Statement insert_device;
  Statement touch;
  Statement insert_connection;
  Statement update_signed_prekey;
  Statement insert_prekey;
  Statement take_prekey;
  Statement insert_dedup;
  Statement select_dedup;
  Statement insert_envelope;
  Statement read_envelopes;
  Statement delete_envelope;
};

RelayStore::RelayStore(const std::filesystem::path& database_file, bool synchronous_full,
                       const std::filesystem::path& journal)
    : db_(database_file), blob_directory_(database_file.parent_path() / "blobs") {
  configure_connection(db_, synchronous_full);
  migrate(db_);
  st_ = std::make_unique<Statements>(db_);
  group_st_ = std::make_unique<GroupStatements>(db_);
  blob_st_ = std::make_unique<BlobStatements>(db_);
  load_directory();
  open_deletion_journal(journal.empty() ? journal_file(database_file) : journal, synchronous_full);
}

RelayStore::~RelayStore() = default;

void RelayStore::begin() {
  db_.exec("BEGIN IMMEDIATE");
  journal_->discard();
}
void RelayStore::commit() {
  journal_->flush();  // write-ahead: the journal entries are durable before the deletions
  db_.exec("COMMIT");
}
void RelayStore::rollback() noexcept {
  journal_->discard();
  try {
    db_.exec("ROLLBACK");
  } catch (...) {  // nothing to roll back
  }
}
void RelayStore::savepoint() {
  db_.exec("SAVEPOINT job");
  journal_->mark();
}
void RelayStore::release_savepoint() {
  db_.exec("RELEASE job");
}
void RelayStore::rollback_to_savepoint() noexcept {
  journal_->rollback_to_mark();
  try {
    db_.exec("ROLLBACK TO job; RELEASE job");
  } catch (...) {
  }
}

void RelayStore::reload() {
  load_directory();
}

void RelayStore::load_directory() {
  accounts_.clear();
  accounts_by_public_id_.clear();
  accounts_by_handle_.clear();
  devices_.clear();
  devices_by_no_.clear();
  connections_.clear();
  queued_.clear();
  prekeys_.clear();

  auto accounts = db_.prepare(
      "SELECT id, public_id, role, account_key, inviter, created_at, last_seen_at, handle "
      "FROM accounts");
  while (accounts.step()) {
    Account a;
    a.id = accounts.column_int(0);
    a.public_id = accounts.column_text(1);
    a.role = static_cast<Role>(accounts.column_int(2));
    a.account_key = accounts.column_blob(3);
    if (!accounts.column_is_null(4)) {
      a.inviter = accounts.column_int(4);
    }
    a.created_at = accounts.column_int(5);
    a.last_seen_at = accounts.column_int(6);
    if (!accounts.column_is_null(7)) {
      a.handle = accounts.column_text(7);
    }
    cache_account(std::move(a));
  }
  auto devices = db_.prepare(
      "SELECT id, account, device_no, signing_key, dh_key, dh_signature, device_certificate, "
      "signed_prekey_id, signed_prekey, signed_prekey_signature FROM devices");
  while (devices.step()) {
    auto d = std::make_unique<Device>();
    d->id = devices.column_int(0);
    d->account = devices.column_int(1);
    d->device_no = static_cast<std::uint32_t>(devices.column_int(2));
    d->keys = {devices.column_blob(3), devices.column_blob(4), devices.column_blob(5),
               devices.column_blob(6)};
    d->signed_prekey = {static_cast<std::uint32_t>(devices.column_int(7)), devices.column_blob(8),
                        devices.column_blob(9)};
    devices_by_no_[{d->account, d->device_no}] = d.get();
    devices_[d->id] = std::move(d);
  }
  auto connections = db_.prepare("SELECT a, b FROM connections");
  while (connections.step()) {
    connections_.insert({connections.column_int(0), connections.column_int(1)});
  }
  auto queued =
      db_.prepare("SELECT recipient_device, count(*) FROM envelopes GROUP BY recipient_device");
  while (queued.step()) {
    queued_[queued.column_int(0)] = static_cast<std::uint32_t>(queued.column_int(1));
  }
  auto prekeys = db_.prepare("SELECT device, count(*) FROM one_time_prekeys GROUP BY device");
  while (prekeys.step()) {
    prekeys_[prekeys.column_int(0)] = static_cast<std::uint32_t>(prekeys.column_int(1));
  }
  invite_count_ = db_.query_int("SELECT count(*) FROM invites");
  load_groups();
  load_inboxes();
  load_blob_usage();
  load_timers();
}

Account& RelayStore::cache_account(Account account) {
  auto owned = std::make_unique<Account>(std::move(account));
  Account& ref = *owned;
  accounts_by_public_id_[ref.public_id] = &ref;
  if (!ref.handle.empty()) {
    accounts_by_handle_[lower_ascii(ref.handle)] = &ref;
  }
  accounts_[ref.id] = std::move(owned);
  return ref;
}

bool RelayStore::empty() const {
  return accounts_.empty() && invite_count_ == 0;
}

void RelayStore::create_invite(BlobView token_hash, Role role, std::optional<std::int64_t> inviter,
                               std::uint32_t uses, std::int64_t expires_at, std::int64_t now) {
  auto& st = st_->insert_invite.reset();
  st.bind(1, token_hash).bind(2, static_cast<std::int64_t>(role));
  if (inviter) {
    st.bind(3, *inviter);
  } else {
    st.bind_null(3);
  }
  st.bind(4, static_cast<std::int64_t>(uses)).bind(5, expires_at).bind(6, now).run();
  ++invite_count_;
}

InviteUse RelayStore::consume_invite(BlobView token_hash, std::int64_t now) {
  auto use = check_invite(token_hash, now);
  if (use.status != InviteStatus::ok) {
    return use;
  }
  // The conditional update is the atomic step; check_invite only explains failures.
  st_->use_invite.reset().bind(1, token_hash).bind(2, now).run();
  use.status = db_.changes() == 1 ? InviteStatus::ok : InviteStatus::used;
  return use;
}

InviteUse RelayStore::check_invite(BlobView token_hash, std::int64_t now) {
  InviteUse use;
  auto& select = st_->select_invite.reset();
  select.bind(1, token_hash);
  if (!select.step()) {
    return use;  // invalid
  }
  use.role = static_cast<Role>(select.column_int(0));
  if (!select.column_is_null(1)) {
    use.inviter = select.column_int(1);
  }
  const auto uses_left = select.column_int(2);
  const auto expires_at = select.column_int(3);
  select.reset();
  if (expires_at <= now) {
    use.status = InviteStatus::expired;
    return use;
  }
  if (uses_left <= 0) {
    use.status = InviteStatus::used;
    return use;
  }
  use.status = InviteStatus::ok;
  return use;
}

std::pair<const Account*, const Device*> RelayStore::create_account(const NewAccount& n,
                                                                    std::int64_t now) {
  auto& acc = st_->insert_account.reset();
  acc.bind(1, n.public_id).bind(2, static_cast<std::int64_t>(n.role)).bind(3, n.account_key);
  if (n.inviter) {
    acc.bind(4, *n.inviter);
  } else {
    acc.bind_null(4);
  }
  if (n.handle.empty()) {
    acc.bind_null(6);
  } else {
    acc.bind(6, n.handle);
  }
  acc.bind(5, now).run();
  const auto account_id = db_.last_insert_rowid();

  auto& dev = st_->insert_device.reset();
  dev.bind(1, account_id)
      .bind(2, std::int64_t{1})
      .bind(3, n.device.signing_key)
      .bind(4, n.device.dh_key)
      .bind(5, n.device.dh_signature)
      .bind(6, n.device.device_certificate)
      .bind(7, static_cast<std::int64_t>(n.signed_prekey.id))
      .bind(8, n.signed_prekey.public_key)
      .bind(9, n.signed_prekey.signature)
      .bind(10, now)
      .run();
  const auto device_id = db_.last_insert_rowid();
  for (const auto& k : n.one_time_prekeys) {
    st_->insert_prekey.reset()
        .bind(1, device_id)
        .bind(2, static_cast<std::int64_t>(k.id))
        .bind(3, k.public_key)
        .run();
  }

  // Directory cache, after every statement succeeded.
  Account& a = cache_account(
      Account{account_id, n.public_id, n.role, n.account_key, n.inviter, n.handle, now, now});
  auto d = std::make_unique<Device>(Device{device_id, account_id, 1, n.device, n.signed_prekey});
  Device* dp = d.get();
  devices_by_no_[{account_id, 1}] = dp;
  devices_[device_id] = std::move(d);
  prekeys_[device_id] = static_cast<std::uint32_t>(db_.query_int(
      "SELECT count(*) FROM one_time_prekeys WHERE device = " + std::to_string(device_id)));
  return {&a, dp};
}

const Account* RelayStore::account_by_handle(const std::string& handle) const {
  auto it = accounts_by_handle_.find(lower_ascii(handle));
  return it == accounts_by_handle_.end() ? nullptr : it->second;
}

const Account* RelayStore::account(std::int64_t id) const {
  auto it = accounts_.find(id);
  return it == accounts_.end() ? nullptr : it->second.get();
}

const Account* RelayStore::account_by_public_id(const std::string& public_id) const {
  auto it = accounts_by_public_id_.find(public_id);
  return it == accounts_by_public_id_.end() ? nullptr : it->second;
}

const Device* RelayStore::device(std::int64_t id) const {
  auto it = devices_.find(id);
  return it == devices_.end() ? nullptr : it->second.get();
}

const Device* RelayStore::device(std::int64_t account, std::uint32_t device_no) const {
  auto it = devices_by_no_.find({account, device_no});
  return it == devices_by_no_.end() ? nullptr : it->second;
}

std::vector<const Device*> RelayStore::devices_of(std::int64_t account) const {
  std::vector<const Device*> out;
  for (auto it = devices_by_no_.lower_bound({account, 0});
       it != devices_by_no_.end() && it->first.first == account; ++it) {
    out.push_back(it->second);
  }
  return out;
}

void RelayStore::touch(std::int64_t account, std::int64_t now) {
  st_->touch.reset().bind(1, account).bind(2, now).run();
  if (auto it = accounts_.find(account); it != accounts_.end()) {
    it->second->last_seen_at = now;
  }
}

bool RelayStore::may_reach(std::int64_t from, std::int64_t to) const {
  if (from == to) {
    return true;
  }
  const Account* a = account(from);
  const Account* b = account(to);
  if (a == nullptr || b == nullptr) {
    return false;
  }
  if (a->role != Role::client && b->role != Role::client) {
    return true;
  }
  if (connections_.contains({from, to}) || share_group(from, to)) {
    return true;
  }
  // A counselling inbox's client and its on-duty staff, until the case is claimed (2.22).
  return a->role == Role::client ? inbox_link(*a, *b) : inbox_link(*b, *a);
}

std::vector<const Account*> RelayStore::contacts_of(std::int64_t id) const {
  std::vector<const Account*> out;
  const Account* self = account(id);
  if (self == nullptr) {
    return out;
  }
  if (self->role != Role::client) {
    out = staff_directory();
  }
  for (auto it = connections_.lower_bound({id, 0}); it != connections_.end() && it->first == id;
       ++it) {
    if (const Account* other = account(it->second)) {
      out.push_back(other);
    }
  }
  for (const Group* g : groups_of(id)) {
    for (const auto& [member, role] : g->members) {
      if (const Account* other = account(member)) {
        out.push_back(other);
      }
    }
  }
  if (self->role == Role::client) {
    if (const auto inbox_row = inbox_of_client(id)) {
      if (const Inbox* in = inbox(*inbox_row)) {
        for (const auto& m : in->staff) {
          const Account* other = account(m.account);
          if (other != nullptr && inbox_link(*self, *other)) {
            out.push_back(other);
          }
        }
      }
    }
  }
  std::sort(out.begin(), out.end(),
            [](const Account* x, const Account* y) { return x->public_id < y->public_id; });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  std::erase(out, self);
  return out;
}

std::vector<const Account*> RelayStore::staff_directory() const {
  std::vector<const Account*> out;
  for (const auto& [other_id, other] : accounts_) {
    if (other->role != Role::client) {
      out.push_back(other.get());
    }
  }
  std::sort(out.begin(), out.end(),
            [](const Account* x, const Account* y) { return x->public_id < y->public_id; });
  return out;
}

bool RelayStore::connected(std::int64_t a, std::int64_t b) const {
  return connections_.contains({a, b});
}

void RelayStore::connect(std::int64_t a, std::int64_t b, std::int64_t now) {
  st_->insert_connection.reset().bind(1, a).bind(2, b).bind(3, now).run();
  st_->insert_connection.reset().bind(1, b).bind(2, a).bind(3, now).run();
  connections_.insert({a, b});
  connections_.insert({b, a});
}

void RelayStore::set_signed_prekey(std::int64_t device_id, const SignedPreKey& spk) {
  st_->update_signed_prekey.reset()
      .bind(1, device_id)
      .bind(2, static_cast<std::int64_t>(spk.id))
      .bind(3, spk.public_key)
      .bind(4, spk.signature)
      .run();
  if (auto it = devices_.find(device_id); it != devices_.end()) {
    it->second->signed_prekey = spk;
  }
}

void RelayStore::add_one_time_prekeys(std::int64_t device_id,
                                      const std::vector<OneTimePreKey>& keys) {
  for (const auto& k : keys) {
    st_->insert_prekey.reset()
        .bind(1, device_id)
        .bind(2, static_cast<std::int64_t>(k.id))
        .bind(3, k.public_key)
        .run();
  }
  prekeys_[device_id] = static_cast<std::uint32_t>(db_.query_int(
      "SELECT count(*) FROM one_time_prekeys WHERE device = " + std::to_string(device_id)));
}

std::uint32_t RelayStore::one_time_prekey_count(std::int64_t device_id) const {
  auto it = prekeys_.find(device_id);
  return it == prekeys_.end() ? 0 : it->second;
}

std::optional<OneTimePreKey> RelayStore::take_one_time_prekey(std::int64_t device_id,
                                                              std::int64_t now) {
  auto& st = st_->take_prekey.reset();
  st.bind(1, device_id);
  if (!st.step()) {
    return std::nullopt;
  }
  OneTimePreKey key{static_cast<std::uint32_t>(st.column_int(0)), st.column_blob(1)};
  st.run();  // finish the statement so the delete is complete
  journal_deletion(Deletion::one_time_prekey, prekey_deletion_id(device_id, key.id), now);
  if (auto it = prekeys_.find(device_id); it != prekeys_.end() && it->second > 0) {
    --it->second;
  }
  return key;
}

bool RelayStore::remember_send(std::int64_t sender_device, BlobView client_message_id,
                               std::int64_t expires_at, std::int64_t now) {
  st_->insert_dedup.reset()
      .bind(1, sender_device)
      .bind(2, client_message_id)
      .bind(3, expires_at)
      .bind(4, now)
      .run();
  return db_.changes() == 1;  // inserted, or an expired entry renewed
}

bool RelayStore::send_seen(std::int64_t sender_device, BlobView client_message_id,
                           std::int64_t now) {
  auto& q = st_->select_dedup.reset();
  q.bind(1, sender_device).bind(2, client_message_id).bind(3, now);
  const bool seen = q.step();
  q.reset();
  return seen;
}

std::int64_t RelayStore::insert_envelope(std::int64_t recipient_device, std::int64_t sender_device,
                                         BlobView client_message_id, BlobView ciphertext,
                                         std::int64_t now, std::int64_t expires_at,
                                         std::int64_t disappear_at) {
  st_->insert_envelope.reset()
      .bind(1, recipient_device)
      .bind(2, sender_device)
      .bind(3, client_message_id)
      .bind(4, ciphertext)
      .bind(5, now)
      .bind(6, expires_at)
      .bind(7, disappear_at)
      .run();
  ++queued_[recipient_device];
  return db_.last_insert_rowid();
}

std::uint32_t RelayStore::queued(std::int64_t device_id) const {
  auto it = queued_.find(device_id);
  return it == queued_.end() ? 0 : it->second;
}

std::vector<StoredEnvelope> RelayStore::read_envelopes(std::int64_t recipient_device,
                                                       std::int64_t after_id, std::size_t limit) {
  std::vector<StoredEnvelope> out;
  auto& st = st_->read_envelopes.reset();
  st.bind(1, recipient_device).bind(2, after_id).bind(3, static_cast<std::int64_t>(limit));
  while (st.step()) {
    StoredEnvelope e;
    e.id = st.column_int(0);
    e.recipient_device = recipient_device;
    e.sender_device = st.column_int(1);
    e.client_message_id = st.column_blob(2);
    e.ciphertext = st.column_blob(3);
    e.created_at = st.column_int(4);
    if (!st.column_is_null(5)) {
      e.group_id = st.column_blob(5);
    }
    if (!st.column_is_null(6)) {
      e.group_commit = st.column_blob(6);
    }
    if (!st.column_is_null(7)) {
      e.disappear_at = st.column_int(7);
    }
    if (!st.column_is_null(8)) {
      e.erased_account = st.column_text(8);
    }
    if (!st.column_is_null(9)) {
      e.case_notice = st.column_blob(9);
    }
    if (!e.erased_account.empty() || !e.case_notice.empty()) {
      // A notice from the relay: no sender.
    } else if (const Device* d = device(e.sender_device)) {
      e.sender_device_no = d->device_no;
      if (const Account* a = account(d->account)) {
        e.sender_account = a->public_id;
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::size_t RelayStore::delete_envelopes(std::int64_t recipient_device,
                                         const std::vector<std::int64_t>& ids, std::int64_t now) {
  std::size_t deleted = 0;
  for (const auto id : ids) {
    st_->delete_envelope.reset().bind(1, id).bind(2, recipient_device).run();
    if (db_.changes() == 1) {  // only this device's own envelopes, never an id it merely named
      ++deleted;
      journal_deletion(Deletion::envelope, envelope_deletion_id(id), now);
    }
  }
  if (auto it = queued_.find(recipient_device); it != queued_.end()) {
    it->second -= static_cast<std::uint32_t>(std::min<std::size_t>(deleted, it->second));
  }
  return deleted;
}

}  // namespace lotse::store
