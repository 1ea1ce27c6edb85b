// SPDX-License-Identifier: AGPL-3.0-or-later
#include "protocol/ratchet_kdf.hpp"

#include "crypto/hkdf.hpp"

#include <array>

namespace lotse::protocol {

RootStep kdf_rk(const RootKey& root, const crypto::SharedSecret& dh_out) noexcept {
  std::array<std::uint8_t, 96> okm{};
  // Cannot fail: 96 bytes is far below HKDF's limit.
  (void)crypto::hkdf(root.secret_bytes(), dh_out.secret_bytes(),
                     crypto::as_bytes(kdf_info::ratchet_root), okm);
  RootStep step{RootKey::from_bytes(std::span<const std::uint8_t, 32>(okm.data(), 32)),
                ChainKey::from_bytes(std::span<const std::uint8_t, 32>(okm.data() + 32, 32)),
                HeaderKey::from_bytes(std::span<const std::uint8_t, 32>(okm.data() + 64, 32))};
  crypto::wipe(okm);
  return step;
}

ChainStep kdf_ck(const ChainKey& chain) noexcept {
  static constexpr std::array<std::uint8_t, 1> message_const{0x01};
  static constexpr std::array<std::uint8_t, 1> chain_const{0x02};
  ChainStep step;
  crypto::hmac_sha256(chain.secret_bytes(), message_const, step.message.mutable_secret_bytes());
  crypto::hmac_sha256(chain.secret_bytes(), chain_const, step.chain.mutable_secret_bytes());
  return step;
}

MessageCipherKeys expand_message_key(const MessageKey& mk, std::string_view info) noexcept {
  std::array<std::uint8_t, 56> okm{};
  (void)crypto::hkdf_expand(mk.secret_bytes(), crypto::as_bytes(info), okm);
  MessageCipherKeys keys;
  std::copy_n(okm.begin(), 32, keys.key.mutable_secret_bytes().begin());
  std::copy_n(okm.begin() + 32, 24, keys.nonce.mutable_bytes().begin());
  crypto::wipe(okm);
  return keys;
}

}  // namespace lotse::protocol
