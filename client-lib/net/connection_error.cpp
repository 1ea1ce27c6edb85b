// SPDX-License-Identifier: AGPL-3.0-or-later
#include "net/connection_error.hpp"

#include <string>

namespace lotse::net_client {
namespace {

class Category final : public boost::system::error_category {
public:
  [[nodiscard]] const char* name() const noexcept override { return "lotse.net_client"; }

  [[nodiscard]] std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::ok: return "success";
      case errc::relay_unreachable: return "relay unreachable";
      case errc::pin_mismatch:
        return "pin mismatch: the relay's certificate is not the one the invite pinned";
      case errc::handshake_failed: return "handshake with the relay failed";
      case errc::version_refused: return "the relay refused our protocol version";
      case errc::timed_out: return "timed out waiting for the relay";
      case errc::closed: return "the connection was closed";
      case errc::connection_lost: return "the connection to the relay was lost";
      case errc::not_connected: return "not connected to the relay";
      case errc::authentication_refused: return "the relay refused the login or registration";
      case errc::too_many_pending: return "too many requests are waiting for the relay";
      case errc::queue_full: return "the outgoing queue is full";
      case errc::frame_too_large: return "the frame is larger than the relay accepts";
      case errc::invalid_request: return "the request cannot be sent on this connection";
      case errc::protocol_violation: return "the relay sent a frame that does not decode";
      case errc::wrong_thread:
        return "a blocking call on the connection's own thread would deadlock";
      case errc::already_running: return "the connection is already running";
    }
    return "unknown relay connection error";
  }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

}  // namespace lotse::net_client
