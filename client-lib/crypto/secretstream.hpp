// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "crypto/bytes.hpp"
#include "crypto/error.hpp"
#include "crypto/rng.hpp"
#include "crypto/secret.hpp"

#include <sodium.h>

#include <array>

namespace lotse::crypto {

struct StreamKeyTag {
  static constexpr const char* name = "StreamKey";
};
using StreamKey = InlineSecret<StreamKeyTag, crypto_secretstream_xchacha20poly1305_KEYBYTES>;

// crypto_secretstream_xchacha20poly1305: a sequence of authenticated chunks under one key, with
// order, truncation (TAG_FINAL) and reordering protection. These are thin wrappers; the file
// format built on them lives in protocol/file_stream.
namespace secretstream {
inline constexpr std::size_t header_bytes = crypto_secretstream_xchacha20poly1305_HEADERBYTES;
inline constexpr std::size_t overhead_bytes = crypto_secretstream_xchacha20poly1305_ABYTES;
using Header = std::array<std::uint8_t, header_bytes>;
[[nodiscard]] StreamKey generate_key(Rng& rng) noexcept;
}  // namespace secretstream

class SecretStreamPush {
public:
  // The header is random (libsodium draws it from randombytes; documented in PROTOCOL.md).
  SecretStreamPush(const StreamKey& key, secretstream::Header& header_out) noexcept;
  ~SecretStreamPush();
  SecretStreamPush(const SecretStreamPush&) = delete;
  SecretStreamPush& operator=(const SecretStreamPush&) = delete;

  // out.size() must be plaintext.size() + overhead_bytes.
  [[nodiscard]] Result<void> push(ByteView plaintext, bool final, MutableByteView out,
                                  ByteView ad = {}) noexcept;

private:
  crypto_secretstream_xchacha20poly1305_state state_;
};

class SecretStreamPull {
public:
  SecretStreamPull() noexcept;
  ~SecretStreamPull();
  SecretStreamPull(const SecretStreamPull&) = delete;
  SecretStreamPull& operator=(const SecretStreamPull&) = delete;

  [[nodiscard]] Result<void> init(const StreamKey& key, ByteView header) noexcept;

  struct Chunk {
    std::size_t size;  // plaintext bytes written to out
    bool final;        // TAG_FINAL seen
  };
  // out.size() must be at least ciphertext.size() - overhead_bytes.
  [[nodiscard]] Result<Chunk> pull(ByteView ciphertext, MutableByteView out,
                                   ByteView ad = {}) noexcept;

private:
  crypto_secretstream_xchacha20poly1305_state state_;
  bool ready_ = false;
  bool finished_ = false;
};

}  // namespace lotse::crypto
