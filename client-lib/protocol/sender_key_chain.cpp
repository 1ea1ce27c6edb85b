// SPDX-License-Identifier: AGPL-3.0-or-later
#include "protocol/sender_key_chain.hpp"

#include "crypto/hkdf.hpp"
#include "lotse/v1/state.pb.h"

#include <array>
#include <limits>

namespace lotse::protocol {
namespace {

constexpr std::uint32_t exhausted_iteration = std::numeric_limits<std::uint32_t>::max();

// message key seed = HMAC-SHA256(ck, 0x01); next chain key = HMAC-SHA256(ck, 0x02).
SenderMessageKey message_seed(const SenderChainKey& chain) noexcept {
  static constexpr std::array<std::uint8_t, 1> message_const{0x01};
  SenderMessageKey seed;
  crypto::hmac_sha256(chain.secret_bytes(), message_const, seed.mutable_secret_bytes());
  return seed;
}

SenderChainKey next_chain_key(const SenderChainKey& chain) noexcept {
  static constexpr std::array<std::uint8_t, 1> chain_const{0x02};
  SenderChainKey next;
  crypto::hmac_sha256(chain.secret_bytes(), chain_const, next.mutable_secret_bytes());
  return next;
}

void put_u32(crypto::Bytes& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 24));
  out.push_back(static_cast<std::uint8_t>(v >> 16));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

template <class Key>
std::optional<Key> key_from(const std::string& bytes) {
  if (bytes.size() != Key::size) {
    return std::nullopt;
  }
  return Key::from_bytes(
      std::span<const std::uint8_t, Key::size>(crypto::as_bytes(bytes).data(), Key::size));
}

template <std::size_t N>
void set_secret(std::string* out, std::span<const std::uint8_t, N> bytes) {
  out->assign(reinterpret_cast<const char*>(bytes.data()), N);
}

}  // namespace

SenderCipherKeys expand_sender_message_key(const SenderMessageKey& seed) noexcept {
  std::array<std::uint8_t, crypto::aead::key_bytes + crypto::aead::nonce_bytes> okm{};
  // Cannot fail: 56 bytes is far below HKDF's limit and the PRK is 32 bytes.
  (void)crypto::hkdf_expand(seed.secret_bytes(), crypto::as_bytes(kdf_info::sender_key_message),
                            okm);
  SenderCipherKeys keys;
  std::copy_n(okm.begin(), crypto::aead::key_bytes, keys.key.mutable_secret_bytes().begin());
  std::copy_n(okm.begin() + crypto::aead::key_bytes, crypto::aead::nonce_bytes,
              keys.nonce.mutable_bytes().begin());
  crypto::wipe(okm);
  return keys;
}

crypto::Bytes sender_key_ad(crypto::ByteView group_id, std::uint32_t key_id,
                            std::uint32_t iteration,
                            const crypto::Ed25519PublicKey& signing_public) {
  crypto::Bytes ad;
  ad.reserve(group_ad_domain.size() + group_id.size() + 8 + crypto::Ed25519PublicKey::size);
  crypto::append(ad, crypto::as_bytes(group_ad_domain));
  crypto::append(ad, group_id);
  put_u32(ad, key_id);
  put_u32(ad, iteration);
  crypto::append(ad, signing_public.bytes());
  return ad;
}

SenderChain::SenderChain(std::uint32_t key_id, std::uint32_t iteration, SenderChainKey chain_key,
                         const crypto::Ed25519PublicKey& signing_public,
                         std::optional<crypto::SigningKeyPair> signing)
    : key_id_(key_id),
      iteration_(iteration),
      min_iteration_(iteration),
      chain_key_(std::move(chain_key)),
      signing_public_(signing_public),
      signing_(std::move(signing)) {}

SenderChain SenderChain::generate(crypto::Rng& rng) {
  std::array<std::uint8_t, 4> id{};
  rng.fill(id);
  const std::uint32_t key_id = (std::uint32_t{id[0]} << 24) | (std::uint32_t{id[1]} << 16) |
                               (std::uint32_t{id[2]} << 8) | std::uint32_t{id[3]};
  SenderChainKey chain_key;
  rng.fill(chain_key.mutable_secret_bytes());
  auto signing = crypto::SigningKeyPair::generate(rng);
  const auto signing_public = signing.public_key();
  return {key_id, 0, std::move(chain_key), signing_public, std::move(signing)};
}

SenderChain SenderChain::received(std::uint32_t key_id, std::uint32_t iteration,
                                  SenderChainKey chain_key,
                                  const crypto::Ed25519PublicKey& signing_public) {
  return {key_id, iteration, std::move(chain_key), signing_public, std::nullopt};
}

Result<SenderChain::SendStep> SenderChain::next_send() {
  if (!signing_ || iteration_ == exhausted_iteration) {
    return errc::invalid_state;
  }
  SendStep step{iteration_, message_seed(chain_key_)};
  chain_key_ = next_chain_key(chain_key_);
  ++iteration_;
  return step;
}

Result<SenderChain::ReceiveStep> SenderChain::prepare_receive(std::uint32_t iteration) const {
  ReceiveStep step;
  step.iteration = iteration;
  if (iteration < iteration_) {
    if (auto it = skipped_.find(iteration); it != skipped_.end()) {
      step.key = it->second.clone();
      step.from_skipped = true;
      return step;
    }
    return iteration < min_iteration_ ? errc::sender_key_too_old : errc::duplicate_message;
  }
  // Bounds before any derivation: constant time and memory for any iteration up to 2^32-1.
  if (iteration == exhausted_iteration || iteration - iteration_ > max_sender_key_forward_jump) {
    return errc::too_many_skipped;
  }
  // Keys below keep_from would be evicted at once: do not derive them, they are lost.
  const std::uint32_t jump = iteration - iteration_;
  const std::uint32_t keep_from =
      jump > max_sender_skipped_keys
          ? iteration - static_cast<std::uint32_t>(max_sender_skipped_keys)
          : iteration_;
  step.min_iteration = keep_from > iteration_ ? keep_from : min_iteration_;
  step.skipped.reserve(iteration - keep_from);
  SenderChainKey chain = chain_key_.clone();
  for (std::uint32_t n = iteration_; n < iteration; ++n) {
    if (n >= keep_from) {
      step.skipped.emplace_back(n, message_seed(chain));
    }
    chain = next_chain_key(chain);
  }
  step.key = message_seed(chain);
  step.next_chain = next_chain_key(chain);
  return step;
}

void SenderChain::commit_receive(ReceiveStep step) {
  if (step.from_skipped) {
    skipped_.erase(step.iteration);
    return;
  }
  for (auto& [n, key] : step.skipped) {
    skipped_.insert_or_assign(n, std::move(key));
  }
  chain_key_ = std::move(step.next_chain);
  iteration_ = step.iteration + 1;
  min_iteration_ = step.min_iteration;
  evict_skipped();
}

void SenderChain::evict_skipped() {
  while (skipped_.size() > max_sender_skipped_keys) {
    const auto oldest = skipped_.begin();
    min_iteration_ = std::max(min_iteration_, oldest->first + 1);
    skipped_.erase(oldest);
  }
}

void SenderChain::to_proto(v1::SenderChainState& out) const {
  out.set_key_id(key_id_);
  out.set_iteration(iteration_);
  out.set_min_iteration(min_iteration_);
  set_secret(out.mutable_chain_key(), chain_key_.secret_bytes());
  out.set_signing_public(signing_public_.data(), crypto::Ed25519PublicKey::size);
  if (signing_) {
    set_secret(out.mutable_signing_secret(), signing_->secret_key().secret_bytes());
  }
  for (const auto& [n, key] : skipped_) {
    auto* s = out.add_skipped();
    s->set_iteration(n);
    set_secret(s->mutable_message_key(), key.secret_bytes());
  }
}

Result<SenderChain> SenderChain::from_proto(const v1::SenderChainState& in) {
  auto chain_key = key_from<SenderChainKey>(in.chain_key());
  const auto signing_public =
      crypto::Ed25519PublicKey::from_bytes(crypto::as_bytes(in.signing_public()));
  if (!chain_key || !signing_public || in.min_iteration() > in.iteration() ||
      static_cast<std::size_t>(in.skipped_size()) > max_sender_skipped_keys) {
    return errc::invalid_state;
  }
  std::optional<crypto::SigningKeyPair> signing;
  if (!in.signing_secret().empty()) {
    auto pair = crypto::SigningKeyPair::from_stored(crypto::as_bytes(in.signing_secret()));
    if (!pair || !(pair->public_key() == *signing_public)) {
      return errc::invalid_state;
    }
    signing = std::move(*pair);
  }
  SenderChain chain(in.key_id(), in.iteration(), std::move(*chain_key), *signing_public,
                    std::move(signing));
  chain.min_iteration_ = in.min_iteration();
  for (const auto& s : in.skipped()) {
    auto key = key_from<SenderMessageKey>(s.message_key());
    if (!key || s.iteration() < in.min_iteration() || s.iteration() >= in.iteration() ||
        !chain.skipped_.emplace(s.iteration(), std::move(*key)).second) {
      return errc::invalid_state;
    }
  }
  return chain;
}

SenderChain SenderChain::clone() const {
  std::optional<crypto::SigningKeyPair> signing;
  if (signing_) {
    signing = signing_->clone();
  }
  SenderChain copy(key_id_, iteration_, chain_key_.clone(), signing_public_, std::move(signing));
  copy.min_iteration_ = min_iteration_;
  for (const auto& [n, key] : skipped_) {
    copy.skipped_.emplace(n, key.clone());
  }
  return copy;
}

}  // namespace lotse::protocol
