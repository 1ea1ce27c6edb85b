// SPDX-License-Identifier: AGPL-3.0-or-later
#include "relay/delivery_encoding.hpp"

#include "lotse/v1/relay.pb.h"

#include <utility>

namespace lotse::relay {
namespace {

// Protobuf wire format: tags are (field number << 3) | wire type; 0 = varint, 2 = length-delimited.
constexpr std::uint32_t envelope_id_tag = (1U << 3) | 0U;               // Delivery.envelope_id
constexpr std::uint32_t delivery_tag = (1U << 3) | 2U;                  // Deliveries.deliveries
constexpr std::uint32_t server_frame_deliveries_tag = (20U << 3) | 2U;  // ServerFrame.deliveries

std::size_t varint_size(std::uint64_t v) noexcept {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// The Delivery message's length: envelope_id (omitted when 0, as protobuf does) and the body.
std::size_t delivery_size(const QueuedDelivery& d) noexcept {
  const auto id = static_cast<std::uint64_t>(d.id);
  const std::size_t id_bytes = id == 0 ? 0 : varint_size(envelope_id_tag) + varint_size(id);
  return id_bytes + d.body->size();
}

}  // namespace

DeliveryBody encode_delivery_body(const v1::Delivery& delivery) {
  if (delivery.envelope_id() == 0) {
    return std::make_shared<const std::string>(delivery.SerializeAsString());
  }
  v1::Delivery copy = delivery;
  copy.clear_envelope_id();
  return std::make_shared<const std::string>(copy.SerializeAsString());
}

DeliveryBody encode_delivery_body(const store::StoredEnvelope& e) {
  v1::Delivery d;
  d.set_sender_account_id(e.sender_account);
  d.set_sender_device_id(e.sender_device_no);
  d.set_client_message_id(e.client_message_id.data(), e.client_message_id.size());
  d.set_ciphertext(e.ciphertext.data(), e.ciphertext.size());
  d.set_server_time_ms(static_cast<std::uint64_t>(e.created_at));
  d.set_group_id(e.group_id.data(), e.group_id.size());
  d.set_group_commit(e.group_commit.data(), e.group_commit.size());
  return std::make_shared<const std::string>(d.SerializeAsString());
}

std::size_t delivery_frame_bytes(const QueuedDelivery& delivery) noexcept {
  const auto size = delivery_size(delivery);
  return varint_size(delivery_tag) + varint_size(size) + size;
}

PiecedFrame encode_deliveries(std::span<const QueuedDelivery* const> deliveries) {
  std::size_t list_size = 0;
  for (const auto* d : deliveries) {
    list_size += delivery_frame_bytes(*d);
  }
  auto frame = std::make_shared<FramePieces>();
  frame->own.reserve(deliveries_frame_overhead + deliveries.size() * 16);
  frame->splices.reserve(deliveries.size());
  put_varint(frame->own, server_frame_deliveries_tag);
  put_varint(frame->own, list_size);
  for (const auto* d : deliveries) {
    put_varint(frame->own, delivery_tag);
    put_varint(frame->own, delivery_size(*d));
    if (d->id != 0) {
      put_varint(frame->own, envelope_id_tag);
      put_varint(frame->own, static_cast<std::uint64_t>(d->id));
    }
    frame->splices.push_back({frame->own.size(), d->body});
  }
  return frame;
}

}  // namespace lotse::relay
