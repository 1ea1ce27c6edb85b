# SPDX-License-Identifier: AGPL-3.0-or-later
# Every third-party dependency comes from a Debian 12 package (deploy/install-deps.sh installs them).
find_package(PkgConfig REQUIRED)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium>=1.0.18)

find_package(Protobuf 3.21 REQUIRED)
find_package(Boost 1.81 REQUIRED CONFIG)
find_package(Threads REQUIRED)

if(LOTSE_BUILD_TESTS)
  find_package(doctest REQUIRED)
  find_package(nlohmann_json 3.11 REQUIRED)
endif()

# Known-answer vectors we did not write, installed by Debian packages (see deploy/install-deps.sh).
set(LOTSE_CRYPTOPP_VECTORS_DIR "/usr/share/crypto++/TestVectors" CACHE PATH
    "Crypto++ TestVectors directory (Debian package libcrypto++-utils)")
set(LOTSE_CIRCL_DIR "/usr/share/gocode/src/github.com/cloudflare/circl" CACHE PATH
    "cloudflare/circl sources with testdata (Debian package golang-github-cloudflare-circl-dev)")
