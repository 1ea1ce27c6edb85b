// SPDX-License-Identifier: AGPL-3.0-or-later
#include "support/relay_harness.hpp"

#include "crypto/hash.hpp"
#include "wire/invite_link.hpp"

namespace lotse::test {

std::string InProcessRelay::invite(store::Role role, std::optional<std::int64_t> inviter, std::uint32_t uses,
                                   std::chrono::seconds lifetime) {
  std::array<std::uint8_t, 32> bytes{};
  crypto::system_rng().fill(bytes);
  auto token = wire::base64url(bytes.data(), bytes.size());
  const auto hash = crypto::blake2b(crypto::as_bytes(token));
  const auto now = clock.now_ms();
  const bool ok = executor.submit<bool>(
      [&](store::RelayStore& s) {
        s.create_invite(hash, role, inviter, uses, now + lifetime.count() * 1000, now);
        return true;
      },
      [](std::optional<bool>) {});
  if (!ok) {
    throw std::runtime_error("executor refused the invite job");
  }
  executor.flush();
  return token;
}

std::int64_t InProcessRelay::account_row(const std::string& public_id) {
  std::int64_t row = 0;
  (void)executor.submit<bool>(
      [&](store::RelayStore& s) {
        if (const auto* a = s.account_by_public_id(public_id)) {
          row = a->id;
        }
        return true;
      },
      [](std::optional<bool>) {});
  executor.flush();
  return row;
}

}  // namespace lotse::test
