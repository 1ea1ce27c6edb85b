// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "crypto/bytes.hpp"

#include <google/protobuf/message.h>

namespace lotse::protocol {

// Serialises a protobuf message into bytes.
[[nodiscard]] crypto::Bytes serialise_message(const google::protobuf::MessageLite& message);
// Same, into a buffer wiped on destruction (for state holding secrets).
[[nodiscard]] crypto::WipedBytes serialise_secret_message(const google::protobuf::MessageLite& message);

// Parses untrusted bytes; false on any decoding error or on input over max_message_bytes.
inline constexpr std::size_t max_message_bytes = 64 * 1024 * 1024;
[[nodiscard]] bool parse_message(google::protobuf::MessageLite& message, crypto::ByteView bytes);

// Zeroes every bytes/string field, recursively, so secrets held by a state message do not linger
// in freed heap memory. Call before a state message holding secrets goes out of scope.
void wipe_message(google::protobuf::Message& message) noexcept;

// RAII form of wipe_message.
template <class M>
class WipeOnExit {
public:
  explicit WipeOnExit(M& m) noexcept : m_(m) {}
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;
  ~WipeOnExit() { wipe_message(m_); }

private:
  M& m_;
};

}  // namespace lotse::protocol
