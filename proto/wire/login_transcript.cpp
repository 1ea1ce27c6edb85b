// SPDX-License-Identifier: AGPL-3.0-or-later
#include "wire/login_transcript.hpp"

namespace lotse::wire {

std::vector<std::uint8_t> login_transcript(std::span<const std::uint8_t> challenge,
                                           std::span<const std::uint8_t> pin,
                                           std::string_view account_id, std::uint32_t device_id) {
  std::vector<std::uint8_t> out;
  out.reserve(challenge.size() + pin.size() + 2 + account_id.size() + 4);
  out.insert(out.end(), challenge.begin(), challenge.end());
  out.insert(out.end(), pin.begin(), pin.end());
  out.push_back(static_cast<std::uint8_t>(account_id.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(account_id.size()));
  out.insert(out.end(), account_id.begin(), account_id.end());
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<std::uint8_t>(device_id >> shift));
  }
  return out;
}

std::vector<std::uint8_t> device_certificate_message(std::span<const std::uint8_t> signing_key,
                                                     std::span<const std::uint8_t> dh_key) {
  std::vector<std::uint8_t> out(signing_key.begin(), signing_key.end());
  out.insert(out.end(), dh_key.begin(), dh_key.end());
  return out;
}

}  // namespace lotse::wire
