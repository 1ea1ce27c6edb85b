// SPDX-License-Identifier: AGPL-3.0-or-later
#include "relay/limits.hpp"

#include "protocol/file_stream.hpp"

#include <stdexcept>
#include <string>

namespace lotse::relay {

// The frame around UploadChunk.data or BlobData.data (request id, tags, lengths, blob id, offsets)
// takes far less than this.
constexpr std::size_t chunk_frame_overhead = 1024;

std::uint64_t max_blob_bytes(const Limits& limits) noexcept {
  return protocol::encrypted_size(limits.max_file_bytes, protocol::file_stream::min_chunk_size)
      .value_or(0);
}

void check_limits(const Limits& limits) {
  const auto fail = [](const std::string& what) { throw std::invalid_argument(what); };
  if (limits.inbox_registrations_per_hour < 1.0) {
    fail("limits.inbox_registrations_per_hour must be at least 1 (below, nobody could register)");
  }
  if (limits.max_file_bytes == 0 || max_blob_bytes(limits) == 0) {
    fail("limits.max_file_bytes must be between 1 and " +
         std::to_string(protocol::file_stream::max_file_size));
  }
  if (limits.max_chunk_bytes == 0 ||
      limits.max_chunk_bytes + chunk_frame_overhead > limits.max_frame_bytes) {
    fail("limits.max_chunk_bytes must be at least 1 and at most limits.max_frame_bytes - 1024 (" +
         std::to_string(limits.max_frame_bytes - chunk_frame_overhead) + ")");
  }
  if (limits.max_chunk_bytes + chunk_frame_overhead > limits.max_outgoing_bytes) {
    fail(
        "limits.max_outgoing_bytes must hold one BlobData answer: at least "
        "limits.max_chunk_bytes + 1024");
  }
  if (limits.transfer_burst_bytes < transfer_tokens(limits.max_chunk_bytes)) {
    fail(
        "limits.transfer_burst_bytes must be at least limits.max_chunk_bytes (and 4096): "
        "otherwise a full chunk could never be sent");
  }
  if (limits.max_concurrent_uploads == 0 || limits.max_blobs_per_send == 0) {
    fail("limits.max_concurrent_uploads and limits.max_blobs_per_send must be at least 1");
  }
  if (limits.upload_timeout.count() <= 0 || limits.blob_lifetime.count() <= 0 ||
      limits.blob_sweep_interval.count() <= 0) {
    fail(
        "limits.upload_timeout, limits.blob_lifetime and limits.blob_sweep_interval must be "
        "positive");
  }
  if (limits.disappearing_min > limits.disappearing_max ||
      limits.disappearing_max.count() > std::int64_t{0xffffffff}) {
    fail(
        "policy.disappearing_min must not be above policy.disappearing_max, and "
        "policy.disappearing_max must be below 136 years (4294967295 s)");
  }
  if (limits.disappearing_default.count() != 0 &&
      (limits.disappearing_default < limits.disappearing_min ||
       limits.disappearing_default > limits.disappearing_max)) {
    fail(
        "policy.disappearing_default must be 0 (off) or between policy.disappearing_min and "
        "policy.disappearing_max");
  }
  if (limits.inactive_client_erasure.count() < 0 || limits.audit_log_lifetime.count() <= 0) {
    fail("policy.inactive_client_erasure must not be negative, policy.audit_log_lifetime positive");
  }
}

}  // namespace lotse::relay
