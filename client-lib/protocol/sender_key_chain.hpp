// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "protocol/error.hpp"

#include "crypto/aead.hpp"
#include "crypto/bytes.hpp"
#include "crypto/public_key.hpp"
#include "crypto/rng.hpp"
#include "crypto/secret.hpp"
#include "crypto/signing.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string_view>
#include <vector>

namespace lotse::v1 {
class SenderChainState;
}

namespace lotse::protocol {

// Bounds of Sender Keys (docs/PROTOCOL.md 1.5). Checked before any key derivation.
inline constexpr std::uint32_t max_sender_key_forward_jump = 2000;  // iterations skipped at once
inline constexpr std::size_t max_sender_skipped_keys = 1000;  // stored per chain, oldest evicted

// One role per type: a sender chain's keys are not pairwise ratchet keys.
struct SenderChainKeyTag {
  static constexpr const char* name = "SenderChainKey";
};
struct SenderMessageKeyTag {
  static constexpr const char* name = "SenderMessageKey";
};
using SenderChainKey = crypto::InlineSecret<SenderChainKeyTag, 32>;
// The message key seed of one iteration: HMAC-SHA256(chain key, 0x01).
using SenderMessageKey = crypto::InlineSecret<SenderMessageKeyTag, 32>;

namespace kdf_info {
inline constexpr std::string_view sender_key_message = "lotse/v1 sender-key message";
}  // namespace kdf_info

// Associated-data domain of group messages.
inline constexpr std::string_view group_ad_domain = "lotse/v1 group";

// The AEAD key and nonce of one group message: HKDF-Expand(seed, "lotse/v1 sender-key message",
// 56).
struct SenderCipherKeys {
  crypto::AeadKey key;
  crypto::XNonce nonce;
};
[[nodiscard]] SenderCipherKeys expand_sender_message_key(const SenderMessageKey& seed) noexcept;

// "lotse/v1 group" || group_id || key_id (u32 BE) || iteration (u32 BE) || signing public key.
[[nodiscard]] crypto::Bytes sender_key_ad(crypto::ByteView group_id, std::uint32_t key_id,
                                          std::uint32_t iteration,
                                          const crypto::Ed25519PublicKey& signing_public);

// One sender chain of one (group, sender device): key id, the chain key at `iteration`, the
// chain's signing key (the secret half only for our own chains) and, for received chains, the
// message keys of iterations skipped over. Receiving is two-phase (prepare_receive, then
// commit_receive after the message authenticated), so a failed decrypt changes nothing.
class SenderChain {
public:
  // A new chain of our own: random key id and chain key, fresh signing key pair, iteration 0.
  [[nodiscard]] static SenderChain generate(crypto::Rng& rng);
  // Another member's chain, as its distribution hands it over.
  [[nodiscard]] static SenderChain received(std::uint32_t key_id, std::uint32_t iteration,
                                            SenderChainKey chain_key,
                                            const crypto::Ed25519PublicKey& signing_public);

  [[nodiscard]] std::uint32_t key_id() const noexcept { return key_id_; }
  [[nodiscard]] std::uint32_t iteration() const noexcept { return iteration_; }
  [[nodiscard]] std::uint32_t min_iteration() const noexcept { return min_iteration_; }
  [[nodiscard]] const SenderChainKey& chain_key() const noexcept { return chain_key_; }
  [[nodiscard]] const crypto::Ed25519PublicKey& signing_public() const noexcept {
    return signing_public_;
  }
  // Null for chains received from others.
  [[nodiscard]] const crypto::SigningKeyPair* signing_key() const noexcept {
    return signing_ ? &*signing_ : nullptr;
  }
  [[nodiscard]] std::size_t skipped_count() const noexcept { return skipped_.size(); }

  // Sending: the message key of iteration() and that iteration; advances the chain.
  // invalid_state once the chain is exhausted (iteration 2^32-1 is never used): rotate.
  struct SendStep {
    std::uint32_t iteration;
    SenderMessageKey key;
  };
  [[nodiscard]] Result<SendStep> next_send();

  // Receiving: everything needed to open the message of `iteration`, without changing the chain.
  // Errors: too_many_skipped (more than max_sender_key_forward_jump ahead, or 2^32-1),
  // duplicate_message (already decrypted), sender_key_too_old (no key any more).
  struct ReceiveStep {
    std::uint32_t iteration = 0;
    SenderMessageKey key;
    bool from_skipped = false;
    // When derived forward: the chain key after `iteration`, the keys skipped on the way, and
    // the new lower bound if keys had to be left out to respect max_sender_skipped_keys.
    SenderChainKey next_chain;
    std::vector<std::pair<std::uint32_t, SenderMessageKey>> skipped;
    std::uint32_t min_iteration = 0;
  };
  [[nodiscard]] Result<ReceiveStep> prepare_receive(std::uint32_t iteration) const;
  // Applies a step made by prepare_receive on this unchanged chain.
  void commit_receive(ReceiveStep step);

  void to_proto(v1::SenderChainState& out) const;
  // State from the device's own store; invalid_state on any inconsistency.
  [[nodiscard]] static Result<SenderChain> from_proto(const v1::SenderChainState& in);

  [[nodiscard]] SenderChain clone() const;

  friend std::ostream& operator<<(std::ostream& os, const SenderChain& c) {
    return os << "SenderChain(key_id " << c.key_id_ << ", iteration " << c.iteration_ << ", "
              << (c.signing_ ? "own" : "received") << ", " << c.signing_public_ << ", skipped "
              << c.skipped_.size() << ")";
  }

private:
  SenderChain(std::uint32_t key_id, std::uint32_t iteration, SenderChainKey chain_key,
              const crypto::Ed25519PublicKey& signing_public,
              std::optional<crypto::SigningKeyPair> signing);
  void evict_skipped();

  std::uint32_t key_id_;
  std::uint32_t iteration_;
  std::uint32_t min_iteration_;
  SenderChainKey chain_key_;
  crypto::Ed25519PublicKey signing_public_;
  std::optional<crypto::SigningKeyPair> signing_;
  std::map<std::uint32_t, SenderMessageKey> skipped_;  // ascending iteration
};

}  // namespace lotse::protocol
