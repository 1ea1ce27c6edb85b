#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# The whole test suite, from a fresh Debian 12 machine: installs missing packages, configures the
# dev preset, builds, runs every CTest label (unit, vectors, fuzz-replay, integration, blackbox).
# Usage: tests/run.sh [extra ctest arguments, e.g. -L unit]
set -euo pipefail
cd "$(dirname "$0")/.."

./deploy/install-deps.sh

jobs=$(nproc)
start=$(date +%s)
cmake --preset dev >/dev/null
cmake --build --preset dev -j "$jobs"
built=$(date +%s)
echo "tests/run.sh: build took $((built - start)) s" >&2
ctest --preset dev -j "$jobs" "$@"
echo "tests/run.sh: tests took $(($(date +%s) - built)) s" >&2
