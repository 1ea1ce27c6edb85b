// SPDX-License-Identifier: AGPL-3.0-or-later
#include "net/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace lotse::net_client {

std::chrono::milliseconds backoff_cap(unsigned failures, std::chrono::milliseconds min,
                                      std::chrono::milliseconds max) noexcept {
  using ms = std::chrono::milliseconds;
  min = std::max(min, ms::zero());
  max = std::max(max, min);
  if (min.count() == 0) {
    return min;
  }
  auto cap = min;
  for (unsigned i = 0; i < failures; ++i) {
    if (cap >= max / 2) {
      return max;
    }
    cap *= 2;
  }
  return std::min(cap, max);
}

std::chrono::milliseconds backoff_delay(unsigned failures, std::chrono::milliseconds min,
                                        std::chrono::milliseconds max, double unit) noexcept {
  if (!(unit >= 0.0)) {  // also NaN
    unit = 0.0;
  }
  unit = std::min(unit, 1.0);
  const auto cap = backoff_cap(failures, min, max);
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(
      std::floor(unit * static_cast<double>(cap.count()))));
}

}  // namespace lotse::net_client
