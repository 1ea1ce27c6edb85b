// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "protocol/memory_stores.hpp"
#include "protocol/session_cipher.hpp"

#include "crypto/rng.hpp"

#include <memory>
#include <string>

namespace lotse::test {

// One device with in-memory stores, a seeded RNG and a published bundle.
struct Party {
  Party(const std::string& name, std::uint64_t seed, std::size_t one_time_prekeys = 5)
      : rng(seed),
        identity(protocol::DeviceIdentity::generate(rng)),
        address{name, 1},
        cipher(identity, sessions, prekeys, rng) {
    auto spk = protocol::SignedPreKey::generate(identity, 1, rng);
    signed_prekey = std::make_unique<protocol::SignedPreKey>(spk.clone());
    prekeys.add_signed_prekey(std::move(spk));
    for (auto& opk : protocol::OneTimePreKey::generate_batch(100, one_time_prekeys, rng)) {
      one_time.push_back(opk.clone());
      prekeys.add_one_time_prekey(std::move(opk));
    }
  }

  // A bundle as the relay would hand it out: the next unused one-time prekey, if any.
  protocol::PreKeyBundle bundle() {
    const protocol::OneTimePreKey* opk = nullptr;
    if (next_one_time < one_time.size()) {
      opk = &one_time[next_one_time++];
    }
    return protocol::PreKeyBundle::make(identity, *signed_prekey, opk);
  }

  crypto::SeededRng rng;
  protocol::DeviceIdentity identity;
  protocol::Address address;
  protocol::MemorySessionStore sessions;
  protocol::MemoryPreKeyStore prekeys;
  protocol::SessionCipher cipher;
  std::unique_ptr<protocol::SignedPreKey> signed_prekey;
  std::vector<protocol::OneTimePreKey> one_time;
  std::size_t next_one_time = 0;
};

inline crypto::Bytes text(const std::string& s) { return {s.begin(), s.end()}; }
inline std::string str(crypto::ByteView b) { return {b.begin(), b.end()}; }

}  // namespace lotse::test
