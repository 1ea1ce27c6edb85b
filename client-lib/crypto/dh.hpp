// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "crypto/bytes.hpp"
#include "crypto/error.hpp"
#include "crypto/public_key.hpp"
#include "crypto/rng.hpp"
#include "crypto/secret.hpp"

#include <span>

namespace lotse::crypto {

struct X25519SecretTag {
  static constexpr const char* name = "X25519SecretKey";
};
struct SharedSecretTag {
  static constexpr const char* name = "SharedSecret";
};
using SharedSecret = InlineSecret<SharedSecretTag, 32>;

namespace detail {
// X25519 scalar multiplication; weak_dh_output when the result is all zero (low-order input).
[[nodiscard]] Result<SharedSecret> x25519(std::span<const std::uint8_t, 32> secret,
                                          const X25519PublicKey& peer) noexcept;
// crypto_box_seed_keypair from 32 bytes of the injected Rng.
void x25519_keygen(Rng& rng, std::span<std::uint8_t, 32> secret, X25519PublicKey& pub) noexcept;
[[nodiscard]] X25519PublicKey x25519_public(std::span<const std::uint8_t, 32> secret) noexcept;
}  // namespace detail

// An X25519 key pair. SecretT chooses the storage: InlineSecret for ratchet keys (made and
// dropped often), GuardedSecret for identity and prekeys (long-lived).
template <class SecretT>
class BasicDhKeyPair {
public:
  [[nodiscard]] static BasicDhKeyPair generate(Rng& rng) {
    BasicDhKeyPair k;
    write_secret(k.secret_, [&](std::span<std::uint8_t, 32> s) {
      detail::x25519_keygen(rng, s, k.public_);
    });
    return k;
  }

  [[nodiscard]] static Result<BasicDhKeyPair> from_secret(ByteView secret32) {
    if (secret32.size() != 32) {
      return errc::invalid_key_length;
    }
    BasicDhKeyPair k;
    k.secret_ = SecretT::from_bytes(secret32.first<32>());
    k.public_ = detail::x25519_public(k.secret_.secret_bytes());
    return k;
  }

  // Restores a pair from trusted local state (authenticated at rest) without recomputing the
  // public key, which would cost a scalar multiplication on every session load.
  [[nodiscard]] static Result<BasicDhKeyPair> from_stored(ByteView secret32,
                                                          const X25519PublicKey& pub) {
    if (secret32.size() != 32) {
      return errc::invalid_key_length;
    }
    BasicDhKeyPair k;
    k.secret_ = SecretT::from_bytes(secret32.first<32>());
    k.public_ = pub;
    return k;
  }

  [[nodiscard]] const X25519PublicKey& public_key() const noexcept { return public_; }
  [[nodiscard]] const SecretT& secret_key() const noexcept { return secret_; }

  // X25519(secret, peer); refuses the all-zero output.
  [[nodiscard]] Result<SharedSecret> dh(const X25519PublicKey& peer) const noexcept {
    return detail::x25519(secret_.secret_bytes(), peer);
  }

  [[nodiscard]] BasicDhKeyPair clone() const {
    BasicDhKeyPair k;
    k.secret_ = secret_.clone();
    k.public_ = public_;
    return k;
  }

  friend std::ostream& operator<<(std::ostream& os, const BasicDhKeyPair& k) {
    return os << "DhKeyPair(" << k.public_ << ")";
  }

private:
  BasicDhKeyPair() = default;

  template <class Fn>
  static void write_secret(InlineSecret<X25519SecretTag, 32>& s, Fn&& fn) {
    fn(s.mutable_secret_bytes());
  }
  template <class Fn>
  static void write_secret(GuardedSecret<X25519SecretTag, 32>& s, Fn&& fn) {
    s.write(std::forward<Fn>(fn));
  }

  SecretT secret_;
  X25519PublicKey public_;
};

using DhKeyPair = BasicDhKeyPair<InlineSecret<X25519SecretTag, 32>>;
using LongTermDhKeyPair = BasicDhKeyPair<GuardedSecret<X25519SecretTag, 32>>;

}  // namespace lotse::crypto
