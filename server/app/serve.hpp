// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "app/config.hpp"

namespace lotse::app {

// Runs the relay until SIGINT/SIGTERM; returns the process exit code. Prints to standard output:
//   lotse-relay: listening on HOST:PORT
//   lotse-relay: certificate pin <64 hex digits>
// and on the first start with an empty database the bootstrap admin invite (a lotse:// line).
// Logs go to standard error as JSON lines.
int serve(const Config& config);

}  // namespace lotse::app
