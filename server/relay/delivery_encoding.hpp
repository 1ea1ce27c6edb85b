// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Deliveries frames assembled from pieces, so that fan-out serialises a message once
// (docs/PROTOCOL.md 2.17). A Delivery is serialised once without its envelope_id: the "body",
// everything the recipients of one stored message have in common. Each recipient's frame is then
// its own few bytes (the ServerFrame and Deliveries tags and lengths and, per delivery, its tag,
// length and envelope_id) with the shared bodies spliced in. Protobuf writes fields in field
// number order and envelope_id is field 1, so the bytes are exactly those protobuf writes for the
// same ServerFrame (tests/unit/relay/delivery_encoding_test.cpp).
#include "relay/connection.hpp"

#include "store/relay_store.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace lotse::v1 {
class Delivery;
}

namespace lotse::relay {

// A Delivery serialised without envelope_id. Immutable and shared by every recipient.
using DeliveryBody = std::shared_ptr<const std::string>;

// A committed queue row on its way to its device.
struct QueuedDelivery {
  std::int64_t id = 0;  // the envelope id
  std::int64_t recipient_device = 0;
  DeliveryBody body;
};

// `delivery` with its envelope_id left out (whatever it is set to).
[[nodiscard]] DeliveryBody encode_delivery_body(const v1::Delivery& delivery);
// The body of a queue row read back from the store.
[[nodiscard]] DeliveryBody encode_delivery_body(const store::StoredEnvelope& envelope);

// Bytes a delivery adds to a Deliveries frame (its tag, length, envelope_id and body).
[[nodiscard]] std::size_t delivery_frame_bytes(const QueuedDelivery& delivery) noexcept;
// The ServerFrame's and Deliveries' own tags and lengths, at most.
inline constexpr std::size_t deliveries_frame_overhead = 16;

// ServerFrame { deliveries { deliveries... } } (request_id 0, a push), in pieces.
[[nodiscard]] PiecedFrame encode_deliveries(std::span<const QueuedDelivery* const> deliveries);

}  // namespace lotse::relay
