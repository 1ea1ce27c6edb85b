// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The bytes a device signs to log in (and, with an empty account, to register), shared by relay
// and clients. Signed with the device signing key, context "relay-login" (docs/PROTOCOL.md 2.3):
//   challenge (32) || certificate_pin (32) || u16 len(account_id) || account_id || u32 device_id
// The challenge makes it fresh per connection; the pin binds it to the relay's TLS identity, so a
// signature made towards an impostor relay is useless at the real one.
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace lotse::wire {

inline constexpr const char* login_signature_context = "relay-login";
inline constexpr const char* device_certificate_context = "device-certificate";
inline constexpr std::size_t challenge_bytes = 32;
inline constexpr std::size_t pin_bytes = 32;

[[nodiscard]] std::vector<std::uint8_t> login_transcript(std::span<const std::uint8_t> challenge,
                                                         std::span<const std::uint8_t> pin,
                                                         std::string_view account_id,
                                                         std::uint32_t device_id);

// What the account key signs to vouch for a device: signing_key (32) || dh_key (32).
[[nodiscard]] std::vector<std::uint8_t> device_certificate_message(
    std::span<const std::uint8_t> signing_key, std::span<const std::uint8_t> dh_key);

}  // namespace lotse::wire
