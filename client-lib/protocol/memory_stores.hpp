// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "protocol/stores.hpp"

#include <map>
#include <set>
#include <utility>

namespace lotse::protocol {

// In-memory implementations of the store interfaces, for tests, simulations and benchmarks.

class MemoryPreKeyStore final : public PreKeyStore {
public:
  void add_signed_prekey(SignedPreKey spk);
  void add_one_time_prekey(OneTimePreKey opk);
  [[nodiscard]] std::size_t one_time_prekey_count() const noexcept { return one_time_.size(); }

  [[nodiscard]] std::optional<SignedPreKey> load_signed_prekey(std::uint32_t id) override;
  [[nodiscard]] std::optional<OneTimePreKey> load_one_time_prekey(std::uint32_t id) override;
  void remove_one_time_prekey(std::uint32_t id) override;
  [[nodiscard]] bool base_key_seen(const crypto::X25519PublicKey& base_key) override;
  void remember_base_key(const crypto::X25519PublicKey& base_key) override;

private:
  std::map<std::uint32_t, SignedPreKey> signed_;
  std::map<std::uint32_t, OneTimePreKey> one_time_;
  std::set<crypto::X25519PublicKey> base_keys_;
};

class MemorySessionStore final : public SessionStore {
public:
  [[nodiscard]] std::optional<crypto::WipedBytes> load_session(const Address& address) override;
  void store_session(const Address& address, crypto::ByteView state) override;
  void remove_session(const Address& address) override;
  [[nodiscard]] std::size_t size() const noexcept { return sessions_.size(); }

private:
  std::map<Address, crypto::WipedBytes> sessions_;
};

class MemorySenderKeyStore final : public SenderKeyStore {
public:
  [[nodiscard]] std::optional<crypto::WipedBytes> load_sender_key(crypto::ByteView group_id,
                                                                  const Address& sender) override;
  void store_sender_key(crypto::ByteView group_id, const Address& sender,
                        crypto::ByteView record) override;
  void remove_sender_key(crypto::ByteView group_id, const Address& sender) override;

private:
  std::map<std::pair<crypto::Bytes, Address>, crypto::WipedBytes> records_;
};

}  // namespace lotse::protocol
