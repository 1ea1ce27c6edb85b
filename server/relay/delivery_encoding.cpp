// SPDX-License-Identifier: AGPL-3.0-or-later
#include "relay/delivery_encoding.hpp"

#include "relay/wire_varint.hpp"

#include "lotse/v1/relay.pb.h"

#include <utility>

namespace lotse::relay {
namespace {

namespace wv = wire_varint;

constexpr std::uint32_t envelope_id_tag = wv::tag(1, wv::varint);         // Delivery.envelope_id
constexpr std::uint32_t delivery_tag = wv::tag(1, wv::length_delimited);  // Deliveries.deliveries
constexpr std::uint32_t server_frame_deliveries_tag = wv::tag(20, wv::length_delimited);

// The Delivery message's length: envelope_id (omitted when 0, as protobuf does) and the body.
std::size_t delivery_size(const QueuedDelivery& d) noexcept {
  const auto id = static_cast<std::uint64_t>(d.id);
  const std::size_t id_bytes = id == 0 ? 0 : wv::size(envelope_id_tag) + wv::size(id);
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
  d.set_disappear_at_ms(static_cast<std::uint64_t>(e.disappear_at));
  d.set_account_erased(e.erased_account);
  if (!e.case_notice.empty()) {
    (void)d.mutable_case_notice()->ParseFromArray(e.case_notice.data(),
                                                  static_cast<int>(e.case_notice.size()));
  }
  return std::make_shared<const std::string>(d.SerializeAsString());
}

std::size_t delivery_frame_bytes(const QueuedDelivery& delivery) noexcept {
  const auto size = delivery_size(delivery);
  return wv::size(delivery_tag) + wv::size(size) + size;
}

PiecedFrame encode_deliveries(std::span<const QueuedDelivery* const> deliveries) {
  std::size_t list_size = 0;
  for (const auto* d : deliveries) {
    list_size += delivery_frame_bytes(*d);
  }
  auto frame = std::make_shared<FramePieces>();
  frame->own.reserve(deliveries_frame_overhead + deliveries.size() * 16);
  frame->splices.reserve(deliveries.size());
  wv::put(frame->own, server_frame_deliveries_tag);
  wv::put(frame->own, list_size);
  for (const auto* d : deliveries) {
    wv::put(frame->own, delivery_tag);
    wv::put(frame->own, delivery_size(*d));
    if (d->id != 0) {
      wv::put(frame->own, envelope_id_tag);
      wv::put(frame->own, static_cast<std::uint64_t>(d->id));
    }
    frame->splices.push_back({frame->own.size(), d->body});
  }
  return frame;
}

}  // namespace lotse::relay
