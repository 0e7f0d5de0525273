// Properties of the byte formats and of the core, with rapidcheck.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cereal/types/vector.hpp>
#include <variant>

#include "core/crc32c.hpp"
#include "core/entry_codec.hpp"
#include "core/record_codec.hpp"
#include "prevayler/memory_storage.hpp"
#include "prevayler/prevayler.hpp"

namespace prevayler::testing {
namespace {

RC_GTEST_PROP(RecordCodec, RoundTripsAnyBatch,
              (const std::vector<std::string>& entries, std::uint64_t writer)) {
  RC_PRE(!entries.empty());
  EntryBatch batch;
  for (const auto& e : entries) batch.add(e);
  std::string bytes;
  detail::encode_batch_record(bytes, writer, batch, 0, batch.size());
  const auto decoded = detail::decode_record(bytes, "test");
  RC_ASSERT(decoded.writer_id == writer);
  RC_ASSERT(decoded.entries.size() == entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) RC_ASSERT(decoded.entries[i] == entries[i]);
}

RC_GTEST_PROP(RecordCodec, TruncationIsAlwaysDetected, (const std::vector<std::string>& entries)) {
  RC_PRE(!entries.empty());
  EntryBatch batch;
  for (const auto& e : entries) batch.add(e);
  std::string bytes;
  detail::encode_batch_record(bytes, 1, batch, 0, batch.size());
  const auto cut = *rc::gen::inRange<std::size_t>(0, bytes.size());
  RC_ASSERT_THROWS_AS(detail::decode_record(bytes.substr(0, cut), "test"), Error);
}

RC_GTEST_PROP(EntryCodec, RoundTripsTimestampHashAndEvent,
              (std::int64_t ms, bool with_hash, std::uint64_t hash, const std::string& event)) {
  const Timestamp t{std::chrono::milliseconds(ms)};
  const auto head = detail::encode_entry_head(t, with_hash ? std::optional(hash) : std::nullopt, 1);
  const std::string entry = head + event;  // parse_entry returns views into it
  const auto parsed = detail::parse_entry(entry, "test");
  RC_ASSERT(parsed.timestamp == t);
  RC_ASSERT(parsed.state_hash.has_value() == with_hash);
  if (with_hash) RC_ASSERT(*parsed.state_hash == hash);
  RC_ASSERT(parsed.event == event);
}

RC_GTEST_PROP(EntryCodec, RoundTripsTheSchemaVersionWithTheRest,
              (std::int64_t ms, bool with_hash, std::uint64_t hash, const std::string& event)) {
  const auto version = *rc::gen::inRange<std::uint32_t>(1, schema_version_max + 1);
  const Timestamp t{std::chrono::milliseconds(ms)};
  const auto head =
      detail::encode_entry_head(t, with_hash ? std::optional(hash) : std::nullopt, version);
  // Version 1 keeps the head of builds before schema versions (kinds 1, 2).
  RC_ASSERT(head.size() ==
            detail::entry_head_bytes_min + (with_hash ? 8u : 0u) + (version == 1 ? 0u : 2u));
  RC_ASSERT(static_cast<int>(head[0]) == (version == 1 ? 1 : 3) + (with_hash ? 1 : 0));
  const std::string entry = head + event;
  const auto parsed = detail::parse_entry(entry, "test");
  RC_ASSERT(parsed.schema_version == version);
  RC_ASSERT(parsed.timestamp == t);
  RC_ASSERT(parsed.state_hash.has_value() == with_hash);
  if (with_hash) RC_ASSERT(*parsed.state_hash == hash);
  RC_ASSERT(parsed.event == event);
}

RC_GTEST_PROP(Crc32c, ExtendEqualsWhole, (const std::string& a, const std::string& b)) {
  const auto whole = detail::crc32c(a + b);
  RC_ASSERT(detail::crc32c_extend(detail::crc32c(a), b.data(), b.size()) == whole);
  RC_ASSERT(detail::crc32c_unmask(detail::crc32c_mask(whole)) == whole);
}

TEST(Crc32c, KnownVector) {
  // RFC 3720 B.4: 32 bytes of zeros.
  EXPECT_EQ(detail::crc32c(std::string(32, '\0')), 0x8a9136aau);
  EXPECT_EQ(detail::crc32c("123456789"), 0xe3069283u);
}

// Model-based: any sequence of events, rejections, snapshots and restarts
// gives the state a plain fold over the accepted events gives.
struct Sum {
  std::vector<int> accepted;
  template <class A>
  void serialize(A& a) {
    a(accepted);
  }
};

RC_GTEST_PROP(Core, AnyHistoryRecoversToTheFoldOfAcceptedEvents, (const std::vector<int>& ops)) {
  auto store = std::make_shared<MemoryStore>();
  auto business = [](const Sum& s, const int& e, Timestamp) {
    if (e % 7 == 0) throw std::domain_error("multiples of 7 are rejected");
    Sum next = s;
    next.accepted.push_back(e);
    return next;
  };
  auto open = [&] {
    Prevayler<Sum, int>::Options o;
    o.business = business;
    o.storage = make_memory_storage(store);
    return std::make_unique<Prevayler<Sum, int>>(std::move(o));
  };
  std::vector<int> model;
  auto p = open();
  for (int op : ops) {
    if (op % 11 == 0) {
      p.reset();
      p = open();
    } else if (op % 13 == 0) {
      p->snapshot();
    } else {
      try {
        p->handle(op);
        model.push_back(op);
      } catch (const std::domain_error&) {
      }
    }
    RC_ASSERT(p->state()->accepted == model);
  }
  p.reset();
  RC_ASSERT(open()->state()->accepted == model);
}

// A std::variant Event compiles without <cereal/types/variant.hpp> (cereal's
// trait is merely false) and is refused when the instance opens: the message
// must name the missing header, the only clue the user gets. This file must
// not include <cereal/types/variant.hpp>.
struct Deposit {
  int amount = 0;
  template <class A>
  void serialize(A& a) {
    a(amount);
  }
};
struct Withdrawal {
  int amount = 0;
  template <class A>
  void serialize(A& a) {
    a(amount);
  }
};
using AccountEvent = std::variant<Deposit, Withdrawal>;

TEST(Codec, VariantEventWithoutCerealHeaderNamesTheHeader) {
  static_assert(!cereal_serializable<AccountEvent>,
                "this test needs <cereal/types/variant.hpp> left out of this file");
  Prevayler<Sum, AccountEvent>::Options o;
  o.business = [](const Sum& s, const AccountEvent&, Timestamp) { return s; };
  o.storage = make_memory_storage(std::make_shared<MemoryStore>());
  try {
    Prevayler<Sum, AccountEvent> p(std::move(o));
    FAIL() << "opened with an Event cereal cannot serialise";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("<cereal/types/variant.hpp>"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace prevayler::testing
