// SPDX-License-Identifier: AGPL-3.0-or-later
// The message log: idempotent append, order and paging, status, shown marks, conversations,
// removal, seq never reused, bounds, and tampering (bit flips, swaps, moves, reordering).
#include "store/messages.hpp"

#include "store/limits.hpp"
#include "store/profile.hpp"

#include "unit/store/store_fixture.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace lotse;
using store::DeliveryStatus;
using store::Direction;
using store::errc;
using test::ProfileFixture;
using test::RawDb;

namespace {

const store::DeviceAddress me{"acct-me", 1};
const store::DeviceAddress anna{"acct-anna", 2};
const store::DeviceAddress ben{"acct-ben", 1};

store::Message incoming(const std::string& id, const std::string& conversation,
                        const store::DeviceAddress& from, const std::string& text,
                        std::int64_t t = 1000) {
  return {id,          conversation,
          from,        Direction::incoming,
          text,        t,
          t + 5,       DeliveryStatus::delivered,
          std::nullopt};
}

store::Message outgoing(const std::string& id, const std::string& conversation,
                        const std::string& text, std::int64_t t = 2000) {
  return {id,          conversation, me, Direction::outgoing, text, t, t, DeliveryStatus::pending,
          std::nullopt};
}

store::Message with_file(store::Message m, const std::string& name) {
  store::Attachment a;
  a.blob_id = std::string(32, 'b');
  a.name = name;
  a.media_type = "application/pdf";
  a.caption = "the minutes";
  a.size = 70'000;
  a.chunk_size = 65'536;
  a.encrypted_size = *protocol::encrypted_size(a.size, a.chunk_size);
  a.digest.fill(0xD1);
  m.text.clear();
  m.attachment = a;
  return m;
}

crypto::StreamKey file_key(std::uint8_t fill) {
  crypto::StreamKey k;
  std::fill(k.mutable_secret_bytes().begin(), k.mutable_secret_bytes().end(), fill);
  return k;
}

std::vector<std::string> texts(const std::vector<store::StoredMessage>& ms) {
  std::vector<std::string> out;
  for (const auto& m : ms) {
    out.push_back(m.message.text);
  }
  return out;
}

}  // namespace

TEST_SUITE_BEGIN("store.messages");
TEST_CASE("append is idempotent per (sender, device, id) and reports which") {
  ProfileFixture f;
  auto p = f.create();
  auto& m = p.messages();
  const auto first = m.append(incoming("id-1", "anna", anna, "hello"));
  REQUIRE(first);
  CHECK(first->inserted);
  const auto again = m.append(incoming("id-1", "anna", anna, "hello (redelivered)"));
  REQUIRE(again);
  CHECK_FALSE(again->inserted);
  CHECK(again->seq == first->seq);
  CHECK(texts(m.list("anna").value()) == std::vector<std::string>{"hello"});

  // The same id from another device or account is another message.
  CHECK(m.append(incoming("id-1", "anna", {"acct-anna", 3}, "other device"))->inserted);
  CHECK(m.append(incoming("id-1", "anna", ben, "other account"))->inserted);
  CHECK(m.list("anna")->size() == 3);
}

TEST_CASE("round trip of every field, order, paging and latest, across a reopen") {
  ProfileFixture f;
  const auto in = incoming(std::string("\x00\x01 binary id", 12), "anna", anna, "first", 111);
  {
    auto p = f.create();
    auto& m = p.messages();
    REQUIRE(m.append(in));
    REQUIRE(m.append(outgoing("o-1", "anna", "second")));
    REQUIRE(m.append(incoming("b-1", "ben", ben, "ben's")));
    REQUIRE(m.append(incoming("a-2", "anna", anna, "third")));
  }
  auto p = f.open();
  auto& m = p.messages();
  const auto all = m.list("anna");
  REQUIRE(all);
  CHECK(texts(*all) == std::vector<std::string>{"first", "second", "third"});
  CHECK((*all)[0].message == in);
  CHECK((*all)[0].seq < (*all)[1].seq);
  CHECK((*all)[1].message.direction == Direction::outgoing);
  CHECK((*all)[1].message.sender == me);

  CHECK(texts(m.list("anna", (*all)[0].seq).value()) ==
        std::vector<std::string>{"second", "third"});
  CHECK(texts(m.list("anna", 0, 2).value()) == std::vector<std::string>{"first", "second"});
  CHECK(texts(m.latest("anna", 2).value()) == std::vector<std::string>{"second", "third"});
  CHECK(m.list("nobody")->empty());

  const auto found = m.find(anna, in.id);
  REQUIRE(found);
  REQUIRE(*found);
  CHECK((*found)->message == in);
  CHECK(m.find(ben, in.id).value() == std::nullopt);
}

TEST_CASE("delivery status only moves forward") {
  ProfileFixture f;
  auto p = f.create();
  auto& m = p.messages();
  REQUIRE(m.append(outgoing("o-1", "anna", "hi")));
  CHECK(m.set_status(me, "o-1", DeliveryStatus::delivered).value());  // receipt overtook Sent
  CHECK_FALSE(m.set_status(me, "o-1", DeliveryStatus::sent).value());
  CHECK_FALSE(m.set_status(me, "o-1", DeliveryStatus::delivered).value());
  CHECK(m.find(me, "o-1").value()->message.status == DeliveryStatus::delivered);
  CHECK_FALSE(m.set_status(me, "missing", DeliveryStatus::sent).value());
  CHECK(m.set_status(me, "o-1", static_cast<DeliveryStatus>(9)).error() == errc::invalid_argument);

  REQUIRE(m.append(outgoing("o-2", "anna", "again")));
  CHECK(m.set_status(me, "o-2", DeliveryStatus::sent).value());
  CHECK(m.find(me, "o-2").value()->message.status == DeliveryStatus::sent);
  CHECK(m.find(me, "o-2").value()->message.text == "again");
}

TEST_CASE("unshown incoming messages, shown marks and conversation summaries") {
  ProfileFixture f;
  {
    auto p = f.create();
    auto& m = p.messages();
    REQUIRE(m.append(incoming("a1", "anna", anna, "a1")));
    REQUIRE(m.append(outgoing("o1", "anna", "o1")));
    REQUIRE(m.append(incoming("b1", "ben", ben, "b1")));
    REQUIRE(m.append(incoming("a2", "anna", anna, "a2")));
    REQUIRE(m.append(incoming("b2", "ben", ben, "b2")));

    const auto unshown = m.unshown();
    REQUIRE(unshown);
    CHECK(texts(*unshown) == std::vector<std::string>{"a1", "b1", "a2", "b2"});  // no outgoing
    // A cursor: only what came after the last one seen.
    CHECK(texts(m.unshown((*unshown)[1].seq).value()) == std::vector<std::string>{"a2", "b2"});
    CHECK(texts(m.unshown(0, 3).value()) == std::vector<std::string>{"a1", "b1", "a2"});

    const auto anna_msgs = m.list("anna").value();
    REQUIRE(m.mark_shown("anna", anna_msgs.back().seq));
    REQUIRE(m.mark_shown("anna", 1));                  // never moves back
    REQUIRE(m.mark_shown("unknown conversation", 5));  // nothing to mark
  }
  auto p = f.open();
  auto& m = p.messages();
  CHECK(texts(m.unshown().value()) == std::vector<std::string>{"b1", "b2"});
  REQUIRE(m.append(incoming("a3", "anna", anna, "a3")));
  CHECK(texts(m.unshown().value()) == std::vector<std::string>{"b1", "b2", "a3"});

  const auto convs = m.conversations();
  REQUIRE(convs);
  REQUIRE(convs->size() == 2);
  CHECK((*convs)[0].conversation == "anna");  // most recent first
  CHECK((*convs)[0].unshown == 1);
  CHECK((*convs)[0].last_seq == m.latest("anna", 1)->at(0).seq);
  CHECK((*convs)[1].conversation == "ben");
  CHECK((*convs)[1].unshown == 2);
  CHECK((*convs)[1].shown_through == 0);
}

TEST_CASE("remove a message or a conversation; seq is never reused") {
  ProfileFixture f;
  std::uint64_t last = 0;
  {
    auto p = f.create();
    auto& m = p.messages();
    REQUIRE(m.append(incoming("a1", "anna", anna, "a1")));
    REQUIRE(m.append(incoming("b1", "ben", ben, "b1")));
    last = m.append(incoming("a2", "anna", anna, "a2"))->seq;
    CHECK(m.remove(anna, "a2").value());
    CHECK_FALSE(m.remove(anna, "a2").value());
  }
  auto p = f.open();
  auto& m = p.messages();
  const auto next = m.append(incoming("a3", "anna", anna, "a3"));
  REQUIRE(next);
  CHECK(next->seq > last);
  CHECK(m.remove_conversation("anna").value() == 2);
  CHECK(m.list("anna")->empty());
  CHECK(m.find(anna, "a1").value() == std::nullopt);
  CHECK(m.conversations()->size() == 1);
  CHECK(m.remove_conversation("anna").value() == 0);
  // Appending after removal starts the conversation afresh.
  CHECK(m.append(incoming("a1", "anna", anna, "a1 again"))->inserted);
  CHECK(texts(m.unshown().value()) == std::vector<std::string>{"b1", "a1 again"});
}

TEST_CASE("invalid arguments") {
  ProfileFixture f;
  auto p = f.create();
  auto& m = p.messages();
  CHECK(m.append(incoming("", "anna", anna, "x")).error() == errc::invalid_argument);
  CHECK(m.append(incoming("id", "", anna, "x")).error() == errc::invalid_argument);
  CHECK(m.append(incoming("id", "anna", {"", 1}, "x")).error() == errc::invalid_argument);
  CHECK(m.append(incoming("id", "anna", anna, std::string(store::max_value_bytes + 1, 'x')))
            .error() == errc::invalid_argument);
  auto bad = incoming("id", "anna", anna, "x");
  bad.direction = static_cast<Direction>(0);
  CHECK(m.append(bad).error() == errc::invalid_argument);
  CHECK(m.list("").error() == errc::invalid_argument);
  CHECK(m.mark_shown("", 1).error() == errc::invalid_argument);
  CHECK(m.list("anna")->empty());
}

TEST_CASE("attachments: sealed with their key, found by id, kept across status changes") {
  ProfileFixture f;
  const auto key = file_key(0x5A);
  const auto sent = with_file(outgoing("f1", "anna", ""), "Protokoll.pdf");
  {
    auto p = f.create();
    auto& m = p.messages();
    // The key comes with the attachment, never without one.
    CHECK(m.append(sent).error() == errc::invalid_argument);
    CHECK(m.append(outgoing("t1", "anna", "text"), &key).error() == errc::invalid_argument);
    REQUIRE(m.append(sent, &key));
    REQUIRE(m.append(outgoing("t1", "anna", "a text")));
    REQUIRE(m.append(incoming("f1", "ben", ben, "same id, other sender")));
    CHECK(m.set_status(me, "f1", DeliveryStatus::delivered).value());
  }
  auto p = f.open();
  auto& m = p.messages();
  const auto found = m.find(me, "f1");
  REQUIRE(found);
  REQUIRE(*found);
  auto expected = sent;
  expected.status = DeliveryStatus::delivered;
  CHECK((*found)->message == expected);

  const auto ref = m.file_reference(me, "f1");
  REQUIRE(ref);
  REQUIRE(*ref);
  CHECK(std::equal(key.secret_bytes().begin(), key.secret_bytes().end(),
                   (*ref)->key.secret_bytes().begin()));
  CHECK((*ref)->size == 70'000);
  CHECK((*ref)->chunk_size == 65'536);
  CHECK((*ref)->digest == sent.attachment->digest);
  CHECK((*ref)->valid());
  CHECK_FALSE(m.file_reference(me, "t1").value());       // a text: no reference
  CHECK_FALSE(m.file_reference(me, "nothing").value());  // no such message

  // By id alone: both senders' messages, in arrival order.
  const auto by_id = m.find_by_id("f1");
  REQUIRE(by_id);
  REQUIRE(by_id->size() == 2);
  CHECK(by_id->at(0).message.attachment.has_value());
  CHECK(by_id->at(1).message.sender == ben);
  CHECK(m.find_by_id("t1")->size() == 1);
  CHECK(m.find_by_id("none")->empty());
  CHECK(m.find_by_id("").error() == errc::invalid_argument);

  // Removing messages removes their index rows.
  CHECK(m.remove(me, "t1").value());
  CHECK(m.find_by_id("t1")->empty());
  CHECK(m.remove_conversation("anna").value() == 1);
  CHECK(m.find_by_id("f1")->size() == 1);
}

TEST_CASE("a profile from before the id index opens and indexes new messages") {
  ProfileFixture f;
  {
    auto p = f.create();
    REQUIRE(p.messages().append(incoming("old", "anna", anna, "before")));
  }
  {
    // What an older build left: no message_ids table.
    RawDb raw(f.file());
    raw.exec("DROP INDEX message_ids_by_id; DROP TABLE message_ids");
  }
  auto p = f.open();
  CHECK(texts(p.messages().list("anna").value()) == std::vector<std::string>{"before"});
  CHECK(p.messages().find_by_id("old")->empty());  // stored before the index existed
  const auto key = file_key(1);
  REQUIRE(p.messages().append(with_file(incoming("new", "anna", anna, ""), "a.txt"), &key));
  CHECK(p.messages().find_by_id("new")->size() == 1);
}

TEST_CASE("lists are bounded by max_list_messages") {
  ProfileFixture f;
  auto p = f.create();
  auto& m = p.messages();
  {
    auto tx = p.begin();
    REQUIRE(tx);
    for (std::size_t i = 0; i < store::max_list_messages + 5; ++i) {
      REQUIRE(m.append(incoming("id-" + std::to_string(i), "c", anna, "m")));
    }
    REQUIRE(tx->commit());
  }
  CHECK(m.list("c", 0, store::max_list_messages + 5)->size() == store::max_list_messages);
  CHECK(m.unshown(0, store::max_list_messages + 5)->size() == store::max_list_messages);
  CHECK(m.conversations()->at(0).unshown == store::max_list_messages + 5);
}

TEST_CASE("tampering with message rows is detected") {
  enum class Tamper { flip_bit, swap_values, move_conversation, swap_seq };
  for (const auto tamper :
       {Tamper::flip_bit, Tamper::swap_values, Tamper::move_conversation, Tamper::swap_seq}) {
    CAPTURE(static_cast<int>(tamper));
    ProfileFixture f;
    {
      auto p = f.create();
      REQUIRE(p.messages().append(incoming("a1", "anna", anna, "to anna")));
      REQUIRE(p.messages().append(incoming("b1", "ben", ben, "to ben")));
    }
    {
      RawDb raw(f.file());
      const auto keys = raw.blobs("messages", "key", "seq");
      REQUIRE(keys.size() == 2);
      switch (tamper) {
        case Tamper::flip_bit: raw.flip_bit("messages", "value", "key", keys[0]); break;
        case Tamper::swap_values:
          raw.swap_blobs("messages", "value", "key", keys[0], keys[1]);
          break;
        case Tamper::move_conversation: {
          // Ben's message moved into Anna's conversation.
          const auto convs = raw.blobs("messages", "conversation", "seq");
          raw.set_blob("messages", "conversation", "key", keys[1], convs[0]);
          break;
        }
        case Tamper::swap_seq:
          raw.exec("UPDATE messages SET seq = -seq; UPDATE messages SET seq = 3 + seq");
          break;
      }
    }
    auto p = f.open();
    CHECK(p.messages().list("anna").error() == errc::corrupt);
    CHECK(p.messages().unshown().error() == errc::corrupt);
    if (tamper != Tamper::move_conversation) {
      CHECK(p.messages().find(anna, "a1").error() == errc::corrupt);
    }
    if (tamper == Tamper::flip_bit) {
      CHECK(texts(p.messages().list("ben").value()) == std::vector<std::string>{"to ben"});
    } else if (tamper != Tamper::move_conversation) {
      CHECK(p.messages().list("ben").error() == errc::corrupt);
    }
  }
}
TEST_SUITE_END();
