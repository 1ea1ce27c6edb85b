#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# Runs lotse-relay from this checkout on a fresh Debian 12 machine: installs missing packages,
# builds the relay (the same build tests/run.sh uses, so after the tests this is quick), and starts
# it in the foreground with embedded SQLite in ./lotse-data and a generated localhost certificate.
# On the first start it prints the certificate pin and a one-time bootstrap admin invite.
#
# Usage: deploy/run-relay.sh [lotse-relay serve options, e.g. --listen 0.0.0.0:7443]
#   LOTSE_DATA_DIR   data directory (default: lotse-data in the checkout)
# Stop it with Ctrl-C (SIGINT) or SIGTERM: it finishes what it acknowledged and exits.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

./deploy/install-deps.sh
cmake --preset dev >/dev/null
cmake --build --preset dev --target lotse-relay -j "$(nproc)"

data_dir="${LOTSE_DATA_DIR:-$root/lotse-data}"
relay="$root/build/dev/server/app/lotse-relay"
if [[ -f "$data_dir/relay.db" ]]; then
  echo "run-relay: using the existing data in $data_dir (its bootstrap invite was printed on the first start)." >&2
  echo "run-relay: make another admin invite with: $relay invite create --role admin --data-dir $data_dir" >&2
fi
exec "$relay" serve --data-dir "$data_dir" "$@"
