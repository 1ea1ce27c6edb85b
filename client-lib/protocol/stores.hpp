// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "protocol/prekeys.hpp"

#include "crypto/bytes.hpp"

#include <compare>
#include <cstdint>
#include <optional>
#include <string>

namespace lotse::protocol {

// Which remote device a session or sender key belongs to. `name` is opaque to this layer (the
// client layer uses the relay's account id).
struct Address {
  std::string name;
  std::uint32_t device = 0;
  friend auto operator<=>(const Address&, const Address&) = default;
};

// Storage the state machines need. The protocol layer never touches files or databases; the
// client layer implements these over its encrypted SQLite store, tests use the in-memory ones.
// Values are serialised protobuf (see proto/lotse/v1/state.proto); they hold secrets, so an
// implementation must encrypt them at rest.

class PreKeyStore {
public:
  virtual ~PreKeyStore() = default;
  [[nodiscard]] virtual std::optional<SignedPreKey> load_signed_prekey(std::uint32_t id) = 0;
  [[nodiscard]] virtual std::optional<OneTimePreKey> load_one_time_prekey(std::uint32_t id) = 0;
  virtual void remove_one_time_prekey(std::uint32_t id) = 0;
  // X3DH replay protection: base keys of initial messages already accepted.
  [[nodiscard]] virtual bool base_key_seen(const crypto::X25519PublicKey& base_key) = 0;
  virtual void remember_base_key(const crypto::X25519PublicKey& base_key) = 0;
};

class SessionStore {
public:
  virtual ~SessionStore() = default;
  [[nodiscard]] virtual std::optional<crypto::WipedBytes> load_session(const Address& address) = 0;
  virtual void store_session(const Address& address, crypto::ByteView state) = 0;
  virtual void remove_session(const Address& address) = 0;
};

class SenderKeyStore {
public:
  virtual ~SenderKeyStore() = default;
  [[nodiscard]] virtual std::optional<crypto::WipedBytes> load_sender_key(
      crypto::ByteView group_id, const Address& sender) = 0;
  virtual void store_sender_key(crypto::ByteView group_id, const Address& sender,
                                crypto::ByteView record) = 0;
  virtual void remove_sender_key(crypto::ByteView group_id, const Address& sender) = 0;
};

}  // namespace lotse::protocol
