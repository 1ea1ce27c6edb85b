// SPDX-License-Identifier: AGPL-3.0-or-later
// Retention and privacy (docs/PROTOCOL.md 2.19 and 2.20): a conversation's policy and its
// disappearing-message timer, purging this device's expired copies, the export of what the relay
// holds about the account, and erasing the account with the local profile.
#include "client/client_impl.hpp"
#include "client/content.hpp"

#include "store/limits.hpp"

#include <google/protobuf/util/json_util.h>

#include <system_error>

namespace lotse::client {
namespace {

PolicyView view_of(const v1::Policy& p, std::string conversation) {
  PolicyView v;
  v.conversation = std::move(conversation);
  v.disappearing = p.disappearing_seconds();
  v.disappearing_from_conversation = p.disappearing_from_conversation();
  v.disappearing_set_by = p.disappearing_set_by();
  v.disappearing_set_at_ms = static_cast<std::int64_t>(p.disappearing_set_at_ms());
  v.default_disappearing = p.default_disappearing_seconds();
  v.min_disappearing = p.min_disappearing_seconds();
  v.max_disappearing = p.max_disappearing_seconds();
  v.disappearing_off_allowed = p.disappearing_off_allowed();
  v.undelivered_max_age = static_cast<std::int64_t>(p.undelivered_max_age_seconds());
  v.blob_lifetime = static_cast<std::int64_t>(p.blob_lifetime_seconds());
  v.inactive_client_erasure = static_cast<std::int64_t>(p.inactive_client_erasure_seconds());
  v.audit_log_lifetime = static_cast<std::int64_t>(p.audit_log_lifetime_seconds());
  v.close_keeps_staff_copy = p.close_keeps_staff_copy();
  return v;
}

}  // namespace

Result<v1::ConversationRef> Client::Impl::conversation_ref(std::string_view reference,
                                                           std::string& shown) {
  v1::ConversationRef ref;
  auto contact = resolve(reference);
  auto group = resolve_group(reference);
  if (contact && group) {
    return errc::ambiguous_name;
  }
  if (contact) {
    ref.set_peer_account_id(contact->account_id);
    shown = contact->account_id;
    return ref;
  }
  if (group) {
    ref.set_group_id(group->record.group_id);
    shown = to_hex(group->record.group_id);
    return ref;
  }
  return group.error() == errc::unknown_group ? contact.error() : group.error();
}

Result<PolicyView> Client::policy(std::string_view conversation) {
  Impl& im = *impl_;
  v1::ClientFrame f;
  std::string shown;
  if (!conversation.empty()) {
    std::lock_guard lock(im.mutex);
    auto ref = im.conversation_ref(conversation, shown);
    if (!ref) {
      return ref.error();
    }
    *f.mutable_get_policy()->mutable_conversation() = *ref;
  } else {
    f.mutable_get_policy();
  }
  auto answer = im.call(std::move(f));
  if (!answer) {
    return answer.error();
  }
  if (answer->has_error()) {
    return relay_error(answer->error());
  }
  if (!answer->has_policy()) {
    return errc::relay_refused;
  }
  return view_of(answer->policy(), shown);
}

Result<PolicyView> Client::set_disappearing(std::string_view conversation,
                                            std::optional<std::chrono::seconds> timer) {
  Impl& im = *impl_;
  if (timer && (timer->count() < 0 || timer->count() > 0xffffffffLL)) {
    return errc::policy_bounds;
  }
  v1::ClientFrame f;
  std::string shown;
  {
    std::lock_guard lock(im.mutex);
    auto ref = im.conversation_ref(conversation, shown);
    if (!ref) {
      return ref.error();
    }
    auto* set = f.mutable_set_policy();
    *set->mutable_conversation() = *ref;
    set->set_use_default(!timer.has_value());
    set->set_disappearing_seconds(timer ? static_cast<std::uint32_t>(timer->count()) : 0);
  }
  auto answer = im.call(std::move(f));
  if (!answer) {
    return answer.error();
  }
  if (answer->has_error()) {
    return answer->error().code() == v1::NOT_AUTHORIZED ? errc::not_group_admin
                                                        : relay_error(answer->error());
  }
  if (!answer->has_policy()) {
    return errc::relay_refused;
  }
  return view_of(answer->policy(), shown);
}

Result<std::size_t> Client::purge_expired() {
  Impl& im = *impl_;
  std::lock_guard lock(im.mutex);
  return im.purge_expired();
}

Result<std::size_t> Client::Impl::purge_expired() {
  auto purged = profile.messages().purge_expired(now_ms());
  if (!purged) {
    return user_error(purged.error());
  }
  if (*purged > 0) {
    // secure_delete zeroed the rows in the file; the WAL still holds the old pages until this.
    (void)profile.checkpoint();
  }
  return *purged;
}

Result<std::string> Client::export_account_json() {
  Impl& im = *impl_;
  v1::AccountExport all;
  std::string after;
  for (;;) {
    v1::ClientFrame f;
    f.mutable_export_account()->set_blobs_after(after);
    auto answer = im.call(std::move(f));
    if (!answer) {
      return answer.error();
    }
    if (answer->has_error()) {
      return relay_error(answer->error());
    }
    if (!answer->has_account_export()) {
      return errc::relay_refused;
    }
    auto& page = *answer->mutable_account_export();
    if (after.empty()) {
      all = page;
    } else {
      for (auto& b : *page.mutable_blobs()) {
        *all.add_blobs() = std::move(b);
      }
    }
    if (!page.more_blobs() || page.blobs().empty()) {
      break;
    }
    after = page.blobs(page.blobs_size() - 1).blob_id();
  }
  all.set_more_blobs(false);
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(all, &json, options).ok()) {
    return errc::relay_refused;
  }
  return json;
}

Result<void> Client::delete_account() {
  Impl& im = *impl_;
  v1::ClientFrame f;
  {
    std::lock_guard lock(im.mutex);
    f.mutable_delete_account()->set_account_id(im.own.account_id);
  }
  auto answer = im.call(std::move(f));
  if (!answer) {
    return answer.error();
  }
  if (answer->has_error()) {
    return relay_error(answer->error());
  }
  if (!answer->has_account_deleted()) {
    return errc::relay_refused;
  }
  // Erased on the relay: now everything on this device. Close the connection and the profile
  // (its keys are wiped from memory as it closes), then remove its files.
  disconnect();
  const auto file = im.profile.file();
  {
    std::lock_guard lock(im.mutex);
    store::Profile closing = std::move(im.profile);
  }
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::filesystem::remove(std::filesystem::path(file.string() + suffix), ec);
  }
  std::filesystem::remove(im.dir, ec);  // only if nothing else is in it
  return {};
}

bool Client::Impl::wipe_closed(const std::string& conversation, const std::string& peer,
                               bool keep_staff_copy) {
  const bool staff = own.role == store::AccountRole::staff || own.role == store::AccountRole::admin;
  if (staff && keep_staff_copy) {
    return false;
  }
  (void)profile.messages().remove_conversation(conversation);
  if (!staff && !peer.empty()) {
    // The case is over for the client: nothing of it stays, the counsellor's keys neither.
    (void)profile.sessions().remove_sessions(peer);
    (void)profile.contacts().remove(peer);
  }
  checkpoint_due = true;
  return true;
}

Result<ClosedView> Client::close_conversation(std::string_view conversation) {
  Impl& im = *impl_;
  {
    std::lock_guard lock(im.mutex);
    if (im.own.role != store::AccountRole::staff && im.own.role != store::AccountRole::admin) {
      return errc::not_staff;
    }
  }
  auto org = policy();
  if (!org) {
    return org.error();
  }
  const bool keep = org->close_keeps_staff_copy;
  ClosedView out;
  out.kept_own_copy = keep;
  std::string account_id;
  {
    std::lock_guard lock(im.mutex);
    auto ref = im.conversation_ref(conversation, out.conversation);
    if (!ref) {
      return ref.error();
    }
    account_id = ref->peer_account_id();
  }
  if (account_id.empty()) {
    // A group: archived by a closing commit the members verify (owners and admins only).
    auto archived = im.change_group(conversation, {}, true, keep);
    if (!archived) {
      return archived.error();
    }
    std::lock_guard lock(im.mutex);
    if (!keep) {
      if (auto gid = from_hex(archived->id)) {
        (void)im.profile.messages().remove_conversation(group_conversation(*gid));
        (void)im.profile.checkpoint();
      }
    }
    return out;
  }
  if (auto r = im.ensure_sessions(account_id); !r) {
    return r.error();
  }
  v1::ClientFrame frame;
  {
    std::lock_guard lock(im.mutex);
    auto c = im.profile.contacts().find(account_id);
    if (!c || !*c) {
      return errc::unknown_contact;
    }
    v1::Content content;
    content.set_message_id(im.new_message_id());
    content.set_sent_at_ms(static_cast<std::uint64_t>(im.now_ms()));
    content.mutable_close()->set_keep_staff_copy(keep);
    const crypto::WipedBytes plaintext(serialise(content));
    auto tx = im.profile.begin();
    if (!tx) {
      return user_error(tx.error());
    }
    auto* close = frame.mutable_close_conversation();
    close->mutable_conversation()->set_peer_account_id(account_id);
    close->set_client_message_id(content.message_id());
    auto session_cipher = im.cipher();
    for (const auto& d : (*c)->devices) {
      auto ciphertext =
          session_cipher.encrypt(protocol::Address{account_id, d.device_id}, plaintext.view());
      if (!ciphertext) {
        return errc::no_devices;
      }
      auto* n = close->add_notices();
      n->set_recipient_account_id(account_id);
      n->set_recipient_device_id(d.device_id);
      n->set_ciphertext(ciphertext->data(), ciphertext->size());
    }
    if (auto r = tx->commit(); !r) {
      return user_error(r.error());
    }
  }
  auto answer = im.call(std::move(frame));
  if (!answer) {
    return answer.error();
  }
  if (answer->has_error()) {
    return relay_error(answer->error());
  }
  if (!answer->has_conversation_closed()) {
    return errc::relay_refused;
  }
  out.relay_envelopes_deleted = answer->conversation_closed().envelopes_deleted();
  out.relay_blobs_deleted = answer->conversation_closed().blobs_deleted();
  out.kept_own_copy = answer->conversation_closed().keep_staff_copy();
  std::lock_guard lock(im.mutex);
  if (!out.kept_own_copy) {
    (void)im.profile.messages().remove_conversation(account_id);
    (void)im.profile.checkpoint();
  }
  return out;
}

}  // namespace lotse::client
