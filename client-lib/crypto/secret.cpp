// SPDX-License-Identifier: AGPL-3.0-or-later
#include "crypto/secret.hpp"

#include "crypto/sodium_init.hpp"

#include <sodium.h>

#include <new>

namespace lotse::crypto {

void* guarded_alloc(std::size_t size) {
  ensure_sodium_initialised();
  void* ptr = sodium_malloc(size);
  if (ptr == nullptr) {
    throw std::bad_alloc();
  }
  return ptr;
}

void guarded_free(void* ptr) noexcept {
  if (ptr != nullptr) {
    sodium_free(ptr);
  }
}

void guarded_readonly(void* ptr) noexcept { sodium_mprotect_readonly(ptr); }
void guarded_readwrite(void* ptr) noexcept { sodium_mprotect_readwrite(ptr); }

}  // namespace lotse::crypto
