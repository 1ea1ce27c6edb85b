// SPDX-License-Identifier: AGPL-3.0-or-later
#include "crypto/aead.hpp"

#include <sodium.h>

namespace lotse::crypto::aead {

static_assert(key_bytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(nonce_bytes == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(tag_bytes == crypto_aead_xchacha20poly1305_ietf_ABYTES);

Result<void> seal(const AeadKey& key, const XNonce& nonce, ByteView ad, ByteView plaintext,
                  MutableByteView out) noexcept {
  if (out.size() != plaintext.size() + tag_bytes) {
    return errc::message_too_long;
  }
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data(), nullptr, plaintext.data(), plaintext.size(),
                                             ad.data(), ad.size(), nullptr, nonce.data(),
                                             key.secret_bytes().data());
  return {};
}

Bytes seal(const AeadKey& key, const XNonce& nonce, ByteView ad, ByteView plaintext) {
  Bytes out(plaintext.size() + tag_bytes);
  (void)seal(key, nonce, ad, plaintext, out);
  return out;
}

Result<void> open(const AeadKey& key, const XNonce& nonce, ByteView ad, ByteView ciphertext,
                  MutableByteView out) noexcept {
  if (ciphertext.size() < tag_bytes || out.size() != ciphertext.size() - tag_bytes) {
    return errc::authentication_failed;
  }
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), nullptr, nullptr, ciphertext.data(),
                                                 ciphertext.size(), ad.data(), ad.size(),
                                                 nonce.data(), key.secret_bytes().data()) != 0) {
    wipe(out);
    return errc::authentication_failed;
  }
  return {};
}

Result<Bytes> open(const AeadKey& key, const XNonce& nonce, ByteView ad, ByteView ciphertext) {
  if (ciphertext.size() < tag_bytes) {
    return errc::authentication_failed;
  }
  Bytes out(ciphertext.size() - tag_bytes);
  if (auto r = open(key, nonce, ad, ciphertext, out); !r) {
    return r.error();
  }
  return out;
}

Bytes seal_random_nonce(const AeadKey& key, ByteView ad, ByteView plaintext, Rng& rng) {
  XNonce nonce;
  rng.fill(nonce.mutable_bytes());
  Bytes out(nonce_bytes + plaintext.size() + tag_bytes);
  std::copy(nonce.bytes().begin(), nonce.bytes().end(), out.begin());
  (void)seal(key, nonce, ad, plaintext, MutableByteView(out).subspan(nonce_bytes));
  return out;
}

Result<Bytes> open_random_nonce(const AeadKey& key, ByteView ad, ByteView sealed) {
  if (sealed.size() < nonce_bytes + tag_bytes) {
    return errc::authentication_failed;
  }
  const auto nonce = XNonce::from_bytes(sealed.first(nonce_bytes));
  return open(key, *nonce, ad, sealed.subspan(nonce_bytes));
}

Bytes seal_ietf(const AeadKey& key, const IetfNonce& nonce, ByteView ad, ByteView plaintext) {
  Bytes out(plaintext.size() + crypto_aead_chacha20poly1305_ietf_ABYTES);
  crypto_aead_chacha20poly1305_ietf_encrypt(out.data(), nullptr, plaintext.data(), plaintext.size(),
                                            ad.data(), ad.size(), nullptr, nonce.data(),
                                            key.secret_bytes().data());
  return out;
}

Result<Bytes> open_ietf(const AeadKey& key, const IetfNonce& nonce, ByteView ad,
                        ByteView ciphertext) {
  if (ciphertext.size() < crypto_aead_chacha20poly1305_ietf_ABYTES) {
    return errc::authentication_failed;
  }
  Bytes out(ciphertext.size() - crypto_aead_chacha20poly1305_ietf_ABYTES);
  if (crypto_aead_chacha20poly1305_ietf_decrypt(out.data(), nullptr, nullptr, ciphertext.data(),
                                                ciphertext.size(), ad.data(), ad.size(),
                                                nonce.data(), key.secret_bytes().data()) != 0) {
    return errc::authentication_failed;
  }
  return out;
}

}  // namespace lotse::crypto::aead
