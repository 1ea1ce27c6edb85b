// SPDX-License-Identifier: AGPL-3.0-or-later
#include "protocol/memory_stores.hpp"

namespace lotse::protocol {
namespace {

crypto::WipedBytes copy_of(crypto::ByteView bytes) {
  return crypto::WipedBytes(crypto::Bytes(bytes.begin(), bytes.end()));
}

}  // namespace

void MemoryPreKeyStore::add_signed_prekey(SignedPreKey spk) {
  const auto id = spk.id;
  signed_.insert_or_assign(id, std::move(spk));
}

void MemoryPreKeyStore::add_one_time_prekey(OneTimePreKey opk) {
  const auto id = opk.id;
  one_time_.insert_or_assign(id, std::move(opk));
}

std::optional<SignedPreKey> MemoryPreKeyStore::load_signed_prekey(std::uint32_t id) {
  auto it = signed_.find(id);
  if (it == signed_.end()) {
    return std::nullopt;
  }
  return it->second.clone();
}

std::optional<OneTimePreKey> MemoryPreKeyStore::load_one_time_prekey(std::uint32_t id) {
  auto it = one_time_.find(id);
  if (it == one_time_.end()) {
    return std::nullopt;
  }
  return it->second.clone();
}

void MemoryPreKeyStore::remove_one_time_prekey(std::uint32_t id) { one_time_.erase(id); }

bool MemoryPreKeyStore::base_key_seen(const crypto::X25519PublicKey& base_key) {
  return base_keys_.contains(base_key);
}

void MemoryPreKeyStore::remember_base_key(const crypto::X25519PublicKey& base_key) {
  base_keys_.insert(base_key);
}

std::optional<crypto::WipedBytes> MemorySessionStore::load_session(const Address& address) {
  auto it = sessions_.find(address);
  if (it == sessions_.end()) {
    return std::nullopt;
  }
  return copy_of(it->second.view());
}

void MemorySessionStore::store_session(const Address& address, crypto::ByteView state) {
  sessions_.insert_or_assign(address, copy_of(state));
}

void MemorySessionStore::remove_session(const Address& address) { sessions_.erase(address); }

std::optional<crypto::WipedBytes> MemorySenderKeyStore::load_sender_key(crypto::ByteView group_id,
                                                                       const Address& sender) {
  auto it = records_.find({crypto::Bytes(group_id.begin(), group_id.end()), sender});
  if (it == records_.end()) {
    return std::nullopt;
  }
  return copy_of(it->second.view());
}

void MemorySenderKeyStore::store_sender_key(crypto::ByteView group_id, const Address& sender,
                                            crypto::ByteView record) {
  records_.insert_or_assign({crypto::Bytes(group_id.begin(), group_id.end()), sender},
                            copy_of(record));
}

void MemorySenderKeyStore::remove_sender_key(crypto::ByteView group_id, const Address& sender) {
  records_.erase({crypto::Bytes(group_id.begin(), group_id.end()), sender});
}

}  // namespace lotse::protocol
