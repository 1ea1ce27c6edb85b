// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// A group's membership log (docs/PROTOCOL.md 4.2, 4.3), sans I/O, shared by clients and relay.
// Every change is a GroupCommit signed by an owner's or admin's device key; each names the hash of
// the one before, so the log is a chain. A client applies a commit only on top of the state it
// has verified, which is why a relay (or a plain member) cannot add anyone that clients accept:
// it cannot sign as an owner or admin. The relay runs the same checks before storing a commit, so
// honest clients never receive one they would refuse.
//
// The rules (who may change what) live here once: apply_group_commit enforces them and
// make_group_commit refuses to sign what apply_group_commit would refuse.
#include "protocol/error.hpp"
#include "protocol/identity.hpp"

#include "crypto/bytes.hpp"
#include "crypto/public_key.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lotse::v1 {
class SignedGroupCommit;
}

namespace lotse::protocol {

inline constexpr std::size_t group_id_bytes = 16;
inline constexpr std::size_t max_group_members = 1000;
inline constexpr std::size_t max_group_account_id_bytes = 64;
inline constexpr std::uint32_t group_commit_version = 1;  // 2 is reserved for MLS

namespace sig_context {
inline constexpr const char* group_commit = "group-commit";
inline constexpr const char* device_certificate = "device-certificate";
}  // namespace sig_context

// Same numbers as lotse.v1.GroupRole.
enum class GroupRole : int { owner = 1, admin = 2, member = 3 };
[[nodiscard]] const char* to_string(GroupRole role) noexcept;

struct GroupMember {
  std::string account_id;
  crypto::Ed25519PublicKey account_key;
  GroupRole role = GroupRole::member;

  friend bool operator==(const GroupMember&, const GroupMember&) = default;
};

// A verified point in a group's log.
struct GroupState {
  crypto::Bytes group_id;  // group_id_bytes
  std::uint64_t epoch = 0;
  std::array<std::uint8_t, 32> head{};  // BLAKE2b-256 of the current commit's bytes
  std::vector<GroupMember> members;     // sorted by account_id, unique
  bool archived = false;
  // With archived: the case was closed (docs/PROTOCOL.md 2.21); members delete their copies,
  // staff keep theirs when keep_staff_copy.
  bool closed = false;
  bool keep_staff_copy = false;
  std::string author_account_id;  // of the current commit
  std::uint32_t author_device_id = 0;
  std::int64_t created_at_ms = 0;  // the current commit's (author's clock)

  [[nodiscard]] const GroupMember* find(std::string_view account_id) const noexcept;
  [[nodiscard]] bool is_member(std::string_view account_id) const noexcept {
    return find(account_id) != nullptr;
  }
  // Owner or admin.
  [[nodiscard]] bool may_manage(std::string_view account_id) const noexcept;
};

// Who signs a commit: this device and the certificate its account key made for it
// (Ed25519, context "device-certificate", over signing_key || dh_key; 64 bytes).
struct CommitAuthor {
  std::string account_id;
  std::uint32_t device_id = 0;
  const DeviceIdentity& device;
  crypto::ByteView device_certificate;
};

// Builds and signs the commit that moves `previous` to `members` (any order; sorted here) and
// `archived`. previous == nullptr creates the group `group_id` (ignored otherwise). Fails with the
// error apply_group_commit would give for the result, so nothing unacceptable is ever signed.
[[nodiscard]] Result<v1::SignedGroupCommit> make_group_commit(
    const GroupState* previous, crypto::ByteView group_id, std::vector<GroupMember> members,
    bool archived, const CommitAuthor& author, std::int64_t now_ms,
    std::optional<bool> closed_keep_staff_copy = std::nullopt);

// Verifies `commit` on top of `previous` (nullptr: it must create the group, epoch 0) and returns
// the new state. Errors, in the order checked:
//   malformed_message      the commit does not decode
//   unsupported_version    GroupCommit.version != 1
//   malformed_message      wrong sizes, members not sorted/unique, bad role, no members, more
//                          than max_group_members
//   group_mismatch         another group_id than `previous`
//   group_out_of_order     epoch != previous epoch + 1 or previous != previous head (or a
//                          non-zero epoch without a previous state)
//   group_archived         `previous` is archived
//   group_rule_violation   the author is not allowed to make this change (below)
//   bad_signature          device certificate (by the author's account key as `previous` lists
//                          it, or at epoch 0 as the commit lists it) or commit signature
// Rules: at epoch 0 the author is the only owner. Afterwards the author must be a member of
// `previous`; a plain member may only remove itself; an admin may add and remove members and
// admins and promote members to admin or demote admins, but may not make or change owners (it
// may remove them); an owner may change anything. A continuing member's account key never
// changes. Archiving keeps the membership unchanged. Unless archived, at least one owner or
// admin remains.
[[nodiscard]] Result<GroupState> apply_group_commit(const GroupState* previous,
                                                    const v1::SignedGroupCommit& commit);

// Applies a whole log from epoch 0.
[[nodiscard]] Result<GroupState> verify_group_log(std::span<const v1::SignedGroupCommit> log);

// Decodes a commit this party verified earlier (its own stored state) without checking the
// signature or the rules again. malformed_message if it does not decode.
[[nodiscard]] Result<GroupState> decode_trusted_group_commit(const v1::SignedGroupCommit& commit);

// What a member device does with its sender keys after it applied a commit (docs/PROTOCOL.md
// 4.4), from `before` (nullptr: the device did not know the group) to `after`:
//   - `self` is not a member any more: forget every chain of the group (removed = true);
//   - `self` is new, or somebody left: start a new chain of our own (rotate) and send it to every
//     other member (send_new_to), and forget the chains of those who left (forget);
//   - otherwise members were added: send our current chain to them only (send_current_to), so
//     they read what we send from now on and nothing from before;
//   - role changes and archiving change no keys.
struct SenderKeyPlan {
  bool removed = false;
  bool rotate = false;
  std::vector<std::string> send_new_to;      // account ids (every device of each)
  std::vector<std::string> send_current_to;  // account ids
  std::vector<std::string> forget;           // account ids whose chains to drop
};
[[nodiscard]] SenderKeyPlan plan_sender_keys(const GroupState* before, const GroupState& after,
                                             std::string_view self);

// The hash a following commit names as `previous`.
[[nodiscard]] std::array<std::uint8_t, 32> group_commit_hash(crypto::ByteView commit_bytes);

}  // namespace lotse::protocol
