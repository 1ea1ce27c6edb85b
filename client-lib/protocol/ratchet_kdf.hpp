// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "protocol/error.hpp"

#include "crypto/aead.hpp"
#include "crypto/dh.hpp"
#include "crypto/secret.hpp"

#include <string_view>

namespace lotse::protocol {

// The Double Ratchet's keys, one type per role (Signal's spec, "Double Ratchet with header
// encryption"). All 32 bytes, inline storage (they change with every message).
struct RootKeyTag {
  static constexpr const char* name = "RootKey";
};
struct ChainKeyTag {
  static constexpr const char* name = "ChainKey";
};
struct MessageKeyTag {
  static constexpr const char* name = "MessageKey";
};
struct HeaderKeyTag {
  static constexpr const char* name = "HeaderKey";
};
using RootKey = crypto::InlineSecret<RootKeyTag, 32>;
using ChainKey = crypto::InlineSecret<ChainKeyTag, 32>;
using MessageKey = crypto::InlineSecret<MessageKeyTag, 32>;
using HeaderKey = crypto::InlineSecret<HeaderKeyTag, 32>;

// KDF info strings: every sub-protocol has its own (docs/PROTOCOL.md lists them all).
namespace kdf_info {
inline constexpr std::string_view x3dh = "lotse/v1 x3dh";
inline constexpr std::string_view ratchet_root = "lotse/v1 ratchet root";
inline constexpr std::string_view ratchet_message = "lotse/v1 ratchet message";
}  // namespace kdf_info

// KDF_RK_HE(rk, dh_out) = HKDF-SHA256(salt = rk, ikm = dh_out, info = ratchet_root, 96 bytes)
// split into (new root key, chain key, next header key).
struct RootStep {
  RootKey root;
  ChainKey chain;
  HeaderKey next_header;
};
[[nodiscard]] RootStep kdf_rk(const RootKey& root, const crypto::SharedSecret& dh_out) noexcept;

// KDF_CK(ck): message key = HMAC-SHA256(ck, 0x01), next chain key = HMAC-SHA256(ck, 0x02).
struct ChainStep {
  ChainKey chain;
  MessageKey message;
};
[[nodiscard]] ChainStep kdf_ck(const ChainKey& chain) noexcept;

// The AEAD key and nonce of one message: HKDF-Expand(PRK = message key, info = ratchet_message,
// 56 bytes) = key(32) || nonce(24). The message key is used once, so a derived nonce is safe.
struct MessageCipherKeys {
  crypto::AeadKey key;
  crypto::XNonce nonce;
};
[[nodiscard]] MessageCipherKeys expand_message_key(const MessageKey& mk,
                                                   std::string_view info) noexcept;

}  // namespace lotse::protocol
