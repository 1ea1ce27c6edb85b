// SPDX-License-Identifier: AGPL-3.0-or-later
#include "client/content.hpp"

#include <algorithm>

namespace lotse::client {

bool valid_utf8(std::string_view text) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    std::size_t extra = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
      min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
      min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
      min = 0x10000;
    } else {
      return false;
    }
    if (static_cast<std::size_t>(end - p) <= extra) {
      return false;
    }
    for (std::size_t i = 1; i <= extra; ++i) {
      if ((p[i] & 0xC0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    p += extra + 1;
  }
  return true;
}

Result<void> check_display_name(std::string_view name) {
  if (name.empty() || name.size() > max_display_name_bytes || !valid_utf8(name)) {
    return errc::invalid_name;
  }
  const bool control = std::any_of(name.begin(), name.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c == 0x7F;
  });
  if (control || name.find_first_not_of(' ') == std::string_view::npos) {
    return errc::invalid_name;
  }
  return {};
}

Result<void> check_text(std::string_view text) {
  if (text.empty()) {
    return errc::empty_message;
  }
  if (text.size() > max_text_bytes) {
    return errc::message_too_long;
  }
  if (!valid_utf8(text)) {
    return errc::invalid_text;
  }
  return {};
}

Result<void> check_file_name(std::string_view name) {
  if (name.empty() || name.size() > max_file_name_bytes || !valid_utf8(name) || name == "." ||
      name == "..") {
    return errc::invalid_file_name;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    const bool c1 = c == 0xC2 && i + 1 < name.size() &&
                    static_cast<unsigned char>(name[i + 1]) >= 0x80 &&
                    static_cast<unsigned char>(name[i + 1]) <= 0x9F;
    if (c < 0x20 || c == 0x7F || c == '/' || c == '\\' || c1) {
      return errc::invalid_file_name;
    }
  }
  return {};
}

bool valid_media_type(std::string_view media_type) noexcept {
  return media_type.size() <= max_media_type_bytes &&
         std::all_of(media_type.begin(), media_type.end(), [](char ch) {
           const auto c = static_cast<unsigned char>(ch);
           return c >= 0x20 && c <= 0x7E;
         });
}

Result<void> check_caption(std::string_view caption) {
  if (caption.size() > max_caption_bytes) {
    return errc::message_too_long;
  }
  if (!valid_utf8(caption)) {
    return errc::invalid_text;
  }
  return {};
}

bool is_message_body(const v1::Content& content) noexcept {
  return content.has_text() || content.has_attachment();
}

namespace {

bool valid_attachment(const v1::Attachment& a) {
  return a.blob_id().size() == blob_id_bytes &&
         protocol::FileKeyReference::from_proto(a.file()).has_value() &&
         check_file_name(a.name()).has_value() && valid_media_type(a.media_type()) &&
         check_caption(a.caption()).has_value();
}

v1::Content base(std::string_view message_id, std::int64_t sent_at_ms) {
  v1::Content c;
  c.set_message_id(std::string(message_id));
  c.set_sent_at_ms(static_cast<std::uint64_t>(std::max<std::int64_t>(sent_at_ms, 0)));
  return c;
}

}  // namespace

v1::Content text_content(std::string_view message_id, std::int64_t sent_at_ms,
                         std::string_view text) {
  auto c = base(message_id, sent_at_ms);
  c.mutable_text()->set_text(std::string(text));
  return c;
}

v1::Content profile_content(std::string_view message_id, std::int64_t sent_at_ms,
                            std::string_view display_name) {
  auto c = base(message_id, sent_at_ms);
  c.mutable_profile()->set_display_name(std::string(display_name));
  return c;
}

v1::Content receipt_content(std::string_view message_id, std::int64_t sent_at_ms,
                            const std::vector<std::string>& received_ids) {
  auto c = base(message_id, sent_at_ms);
  for (const auto& id : received_ids) {
    c.mutable_receipt()->add_message_ids(id);
  }
  return c;
}

v1::Content group_setup_content(std::string_view message_id, std::int64_t sent_at_ms,
                                std::string_view group_id, std::uint64_t epoch,
                                crypto::ByteView distribution, const v1::GroupInfo* info) {
  auto c = base(message_id, sent_at_ms);
  auto* g = c.mutable_group_setup();
  g->set_group_id(std::string(group_id));
  g->set_epoch(epoch);
  g->set_sender_key_distribution(distribution.data(), distribution.size());
  if (info != nullptr) {
    *g->mutable_info() = *info;
  }
  return c;
}

v1::Content attachment_content(std::string_view message_id, std::int64_t sent_at_ms,
                               std::string_view blob_id, const protocol::FileKeyReference& file,
                               std::string_view name, std::string_view media_type,
                               std::string_view caption) {
  auto c = base(message_id, sent_at_ms);
  auto* a = c.mutable_attachment();
  a->set_blob_id(std::string(blob_id));
  file.to_proto(*a->mutable_file());
  a->set_name(std::string(name));
  a->set_media_type(std::string(media_type));
  a->set_caption(std::string(caption));
  return c;
}

void wipe_file_key(v1::Content& content) noexcept {
  if (content.has_attachment()) {
    crypto::wipe(*content.mutable_attachment()->mutable_file()->mutable_key());
  }
}

Result<void> check_topic(std::string_view topic) {
  if (topic.size() > max_topic_bytes) {
    return errc::message_too_long;
  }
  if (!valid_utf8(topic)) {
    return errc::invalid_text;
  }
  return {};
}

crypto::Bytes serialise(const v1::Content& content) {
  crypto::Bytes out(content.ByteSizeLong());
  (void)content.SerializeToArray(out.data(), static_cast<int>(out.size()));
  return out;
}

std::optional<v1::Content> parse_content(crypto::ByteView plaintext,
                                         std::string_view expected_message_id) {
  v1::Content c;
  if (plaintext.size() > 2 * max_text_bytes ||
      !c.ParseFromArray(plaintext.data(), static_cast<int>(plaintext.size()))) {
    return std::nullopt;
  }
  if (c.message_id().size() != message_id_bytes || c.message_id() != expected_message_id) {
    return std::nullopt;
  }
  switch (c.body_case()) {
    case v1::Content::kText:
      if (!check_text(c.text().text())) {
        return std::nullopt;
      }
      break;
    case v1::Content::kProfile:
      if (!check_display_name(c.profile().display_name())) {
        return std::nullopt;
      }
      break;
    case v1::Content::kReceipt:
      if (c.receipt().message_ids_size() == 0 ||
          static_cast<std::size_t>(c.receipt().message_ids_size()) > max_receipt_ids) {
        return std::nullopt;
      }
      for (const auto& id : c.receipt().message_ids()) {
        if (id.size() != message_id_bytes) {
          return std::nullopt;
        }
      }
      break;
    case v1::Content::kClose: break;  // a flag only; who may send it is checked on receipt
    case v1::Content::kHistory:
      // Bounds per entry are checked as each is stored; the whole is bounded by the envelope.
      if (c.history().group_id().size() != 16) {
        return std::nullopt;
      }
      break;
    case v1::Content::kGroupSetup: {
      const auto& g = c.group_setup();
      if (g.group_id().size() != 16 ||
          g.sender_key_distribution().size() > max_distribution_bytes ||
          (g.has_info() &&
           (!check_display_name(g.info().name()) || !check_topic(g.info().topic()))) ||
          (g.sender_key_distribution().empty() && !g.has_info())) {
        return std::nullopt;
      }
      break;
    }
    case v1::Content::kAttachment:
      if (!valid_attachment(c.attachment())) {
        wipe_file_key(c);
        return std::nullopt;
      }
      break;
    case v1::Content::BODY_NOT_SET: return std::nullopt;
  }
  return c;
}

}  // namespace lotse::client
