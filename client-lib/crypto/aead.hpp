// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "crypto/bytes.hpp"
#include "crypto/error.hpp"
#include "crypto/public_key.hpp"
#include "crypto/rng.hpp"
#include "crypto/secret.hpp"

namespace lotse::crypto {

struct AeadKeyTag {
  static constexpr const char* name = "AeadKey";
};
struct XNonceTag {
  static constexpr const char* name = "XChaChaNonce";
};
struct IetfNonceTag {
  static constexpr const char* name = "ChaChaIetfNonce";
};
using AeadKey = InlineSecret<AeadKeyTag, 32>;
using XNonce = PublicBytes<XNonceTag, 24>;
using IetfNonce = PublicBytes<IetfNonceTag, 12>;

// XChaCha20-Poly1305-IETF: the AEAD every Lotse layer uses. Output is ciphertext || 16-byte tag.
namespace aead {

inline constexpr std::size_t key_bytes = 32;
inline constexpr std::size_t nonce_bytes = 24;
inline constexpr std::size_t tag_bytes = 16;

// out.size() must be plaintext.size() + tag_bytes (checked).
[[nodiscard]] Result<void> seal(const AeadKey& key, const XNonce& nonce, ByteView ad,
                                ByteView plaintext, MutableByteView out) noexcept;
[[nodiscard]] Bytes seal(const AeadKey& key, const XNonce& nonce, ByteView ad, ByteView plaintext);

// out.size() must be ciphertext.size() - tag_bytes. On failure out is wiped.
[[nodiscard]] Result<void> open(const AeadKey& key, const XNonce& nonce, ByteView ad,
                                ByteView ciphertext, MutableByteView out) noexcept;
[[nodiscard]] Result<Bytes> open(const AeadKey& key, const XNonce& nonce, ByteView ad,
                                 ByteView ciphertext);

// Random-nonce framing for keys that encrypt many messages (header keys, the store key):
// nonce(24) || ciphertext || tag. XChaCha's 192-bit nonce makes random nonces safe.
[[nodiscard]] Bytes seal_random_nonce(const AeadKey& key, ByteView ad, ByteView plaintext, Rng& rng);
[[nodiscard]] Result<Bytes> open_random_nonce(const AeadKey& key, ByteView ad, ByteView sealed);

// ChaCha20-Poly1305-IETF (RFC 8439, 96-bit nonce). Not used by the protocol; exposed so the RFC's
// known-answer vectors check the same libsodium build the protocol runs on.
[[nodiscard]] Bytes seal_ietf(const AeadKey& key, const IetfNonce& nonce, ByteView ad,
                              ByteView plaintext);
[[nodiscard]] Result<Bytes> open_ietf(const AeadKey& key, const IetfNonce& nonce, ByteView ad,
                                      ByteView ciphertext);

}  // namespace aead
}  // namespace lotse::crypto
