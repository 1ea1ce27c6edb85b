// SPDX-License-Identifier: AGPL-3.0-or-later
#include "crypto/secretstream.hpp"

#include "crypto/sodium_init.hpp"

namespace lotse::crypto {

StreamKey secretstream::generate_key(Rng& rng) noexcept {
  StreamKey key;
  rng.fill(key.mutable_secret_bytes());
  return key;
}

SecretStreamPush::SecretStreamPush(const StreamKey& key, secretstream::Header& header_out) noexcept
    : state_{} {
  crypto_secretstream_xchacha20poly1305_init_push(&state_, header_out.data(),
                                                  key.secret_bytes().data());
}

SecretStreamPush::~SecretStreamPush() { sodium_memzero(&state_, sizeof state_); }

Result<void> SecretStreamPush::push(ByteView plaintext, bool final, MutableByteView out,
                                    ByteView ad) noexcept {
  if (out.size() != plaintext.size() + secretstream::overhead_bytes) {
    return errc::message_too_long;
  }
  const auto tag = final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                         : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
  crypto_secretstream_xchacha20poly1305_push(&state_, out.data(), nullptr, plaintext.data(),
                                             plaintext.size(), ad.data(), ad.size(),
                                             static_cast<unsigned char>(tag));
  return {};
}

SecretStreamPull::SecretStreamPull() noexcept : state_{} {}

SecretStreamPull::~SecretStreamPull() { sodium_memzero(&state_, sizeof state_); }

Result<void> SecretStreamPull::init(const StreamKey& key, ByteView header) noexcept {
  if (header.size() != secretstream::header_bytes ||
      crypto_secretstream_xchacha20poly1305_init_pull(&state_, header.data(),
                                                      key.secret_bytes().data()) != 0) {
    return errc::stream_bad_header;
  }
  ready_ = true;
  finished_ = false;
  return {};
}

Result<SecretStreamPull::Chunk> SecretStreamPull::pull(ByteView ciphertext, MutableByteView out,
                                                       ByteView ad) noexcept {
  if (!ready_) {
    return errc::stream_bad_header;
  }
  if (finished_) {
    return errc::stream_trailing_data;
  }
  if (ciphertext.size() < secretstream::overhead_bytes ||
      out.size() < ciphertext.size() - secretstream::overhead_bytes) {
    return errc::authentication_failed;
  }
  unsigned long long written = 0;
  unsigned char tag = 0;
  if (crypto_secretstream_xchacha20poly1305_pull(&state_, out.data(), &written, &tag,
                                                 ciphertext.data(), ciphertext.size(), ad.data(),
                                                 ad.size()) != 0) {
    return errc::authentication_failed;
  }
  if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE &&
      tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
    // PUSH and REKEY are valid libsodium tags but never written by Lotse: refuse them.
    wipe(out.first(static_cast<std::size_t>(written)));
    return errc::authentication_failed;
  }
  finished_ = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
  return Chunk{static_cast<std::size_t>(written), finished_};
}

}  // namespace lotse::crypto
