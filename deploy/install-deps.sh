#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# Installs every Debian 12 package Lotse needs to build, test and run. Idempotent: installs only what is
# missing, so it is cheap to call before every build. Uses sudo when not run as root.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config git
  # libraries
  libsodium-dev libboost1.81-dev libprotobuf-dev protobuf-compiler libsqlite3-dev libssl-dev
  libtomlplusplus-dev libcli11-dev libreadline-dev
  # tests: doctest, known-answer vectors we did not write, raw SQLite inspection
  doctest-dev nlohmann-json3-dev libcrypto++-utils golang-github-cloudflare-circl-dev sqlite3 openssl
)
if [[ "${LOTSE_FUZZ:-0}" == 1 ]]; then
  packages+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
