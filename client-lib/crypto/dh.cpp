// SPDX-License-Identifier: AGPL-3.0-or-later
#include "crypto/dh.hpp"

#include "crypto/sodium_init.hpp"

#include <sodium.h>

namespace lotse::crypto::detail {

Result<SharedSecret> x25519(std::span<const std::uint8_t, 32> secret,
                            const X25519PublicKey& peer) noexcept {
  SharedSecret out;
  // crypto_scalarmult returns -1 when the output is all zero (peer is a low-order point).
  if (crypto_scalarmult(out.mutable_secret_bytes().data(), secret.data(), peer.data()) != 0) {
    return errc::weak_dh_output;
  }
  return out;
}

void x25519_keygen(Rng& rng, std::span<std::uint8_t, 32> secret, X25519PublicKey& pub) noexcept {
  std::array<std::uint8_t, crypto_box_SEEDBYTES> seed{};
  rng.fill(seed);
  crypto_box_seed_keypair(pub.mutable_bytes().data(), secret.data(), seed.data());
  wipe(seed);
}

X25519PublicKey x25519_public(std::span<const std::uint8_t, 32> secret) noexcept {
  X25519PublicKey pub;
  crypto_scalarmult_base(pub.mutable_bytes().data(), secret.data());
  return pub;
}

}  // namespace lotse::crypto::detail
