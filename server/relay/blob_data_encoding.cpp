// SPDX-License-Identifier: AGPL-3.0-or-later
#include "relay/blob_data_encoding.hpp"

#include "relay/wire_varint.hpp"

#include <utility>

namespace lotse::relay {
namespace {

namespace wv = wire_varint;

constexpr std::uint32_t request_id_tag = wv::tag(1, wv::varint);  // ServerFrame.request_id
constexpr std::uint32_t blob_data_tag = wv::tag(19, wv::length_delimited);  // ServerFrame.blob_data
constexpr std::uint32_t offset_tag = wv::tag(1, wv::varint);                // BlobData.offset
constexpr std::uint32_t data_tag = wv::tag(2, wv::length_delimited);        // BlobData.data
constexpr std::uint32_t size_tag = wv::tag(3, wv::varint);                  // BlobData.size

// A field as protobuf writes it in proto3: left out when it has its default value (0, empty).
std::size_t varint_field_size(std::uint32_t tag, std::uint64_t v) noexcept {
  return v == 0 ? 0 : wv::size(tag) + wv::size(v);
}
void put_varint_field(std::string& out, std::uint32_t tag, std::uint64_t v) {
  if (v != 0) {
    wv::put(out, tag);
    wv::put(out, v);
  }
}

}  // namespace

PiecedFrame encode_blob_data(std::uint64_t request_id, std::uint64_t offset, std::string_view data,
                             std::uint64_t size, std::shared_ptr<const void> owner) {
  const std::size_t data_field =
      data.empty() ? 0 : wv::size(data_tag) + wv::size(data.size()) + data.size();
  const std::size_t body =
      varint_field_size(offset_tag, offset) + data_field + varint_field_size(size_tag, size);
  auto frame = std::make_shared<FramePieces>();
  frame->own.reserve(48);
  put_varint_field(frame->own, request_id_tag, request_id);
  wv::put(frame->own, blob_data_tag);
  wv::put(frame->own, body);
  put_varint_field(frame->own, offset_tag, offset);
  if (!data.empty()) {
    wv::put(frame->own, data_tag);
    wv::put(frame->own, data.size());
    frame->splices.emplace_back(frame->own.size(), data, std::move(owner));
  }
  put_varint_field(frame->own, size_tag, size);
  return frame;
}

}  // namespace lotse::relay
