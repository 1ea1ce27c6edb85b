// SPDX-License-Identifier: AGPL-3.0-or-later
#include "crypto/sodium_init.hpp"

#include <sodium.h>

#include <stdexcept>

namespace lotse::crypto {

void ensure_sodium_initialised() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) {
    throw std::runtime_error("libsodium failed to initialise");
  }
}

}  // namespace lotse::crypto
