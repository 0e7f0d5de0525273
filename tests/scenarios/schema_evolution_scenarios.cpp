// Schema evolution (docs/evolution.md) on every storage: a release at
// schema version 1 writes events and snapshots, a release at version 2
// with changed types recovers them through its upcasters, the older
// release refuses what the newer one wrote, and "snapshot, then upgrade"
// keeps old events away from new business rules.
#include <gtest/gtest.h>

#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/variant.hpp>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "prevayler/prevayler.hpp"
#include "scenarios/core_scenarios.hpp"
#include "support/expect_error.hpp"

namespace prevayler::testing {
namespace schema_v1 {

struct Deposit {
  std::string account;
  long amount = 0;
  template <class A>
  void serialize(A& a) {
    a(account, amount);
  }
};
struct Withdraw {
  std::string account;
  long amount = 0;
  template <class A>
  void serialize(A& a) {
    a(account, amount);
  }
};
using Event = std::variant<Deposit, Withdraw>;

struct Bank {
  std::map<std::string, long> balances;
  template <class A>
  void serialize(A& a) {
    a(balances);
  }
};

}  // namespace schema_v1

// Version 2 reorders the event variant and adds an alternative, and
// reshapes the state: read without an upcaster, version-1 bytes would be
// misread (a deposit taken for a withdrawal).
namespace schema_v2 {

using schema_v1::Deposit;
using schema_v1::Withdraw;
struct Fee {
  std::string account;
  template <class A>
  void serialize(A& a) {
    a(account);
  }
};
using Event = std::variant<Withdraw, Deposit, Fee>;

struct Account {
  long balance = 0;
  long operations = 0;  // operations replayed or handled by version 2
  bool operator==(const Account&) const = default;
  template <class A>
  void serialize(A& a) {
    a(balance, operations);
  }
};
struct Bank {
  std::map<std::string, Account> accounts;
  template <class A>
  void serialize(A& a) {
    a(accounts);
  }
};

Event upcast(const schema_v1::Event& old) {
  return std::visit([](const auto& e) -> Event { return e; }, old);
}

Bank upcast(const schema_v1::Bank& old) {
  Bank bank;
  for (const auto& [name, balance] : old.balances) bank.accounts[name] = Account{balance, 0};
  return bank;
}

}  // namespace schema_v2

namespace {

using V1 = Prevayler<schema_v1::Bank, schema_v1::Event>;
using V2 = Prevayler<schema_v2::Bank, schema_v2::Event>;

// What the business functions and decoders saw, across opens.
struct Seen {
  int v1_business_calls = 0;
  int v2_business_calls = 0;
  std::vector<std::uint32_t> event_versions;  // decoded by version 2
  std::vector<std::uint32_t> state_versions;  // decoded by version 2
};

std::unique_ptr<V1> open_v1(StorageLocation& location, Seen& seen, bool snapshot_on_open = true) {
  V1::Options o;
  o.business = [&seen](const schema_v1::Bank& bank, const schema_v1::Event& event, Timestamp) {
    ++seen.v1_business_calls;
    schema_v1::Bank next = bank;
    std::visit(
        [&](const auto& e) {
          using E = std::decay_t<decltype(e)>;
          next.balances[e.account] += std::is_same_v<E, schema_v1::Deposit> ? e.amount : -e.amount;
        },
        event);
    return next;
  };
  o.storage = location.open();
  o.snapshot_on_open = snapshot_on_open;
  return std::make_unique<V1>(std::move(o));
}

std::unique_ptr<V2> open_v2(StorageLocation& location, Seen& seen, bool snapshot_on_open = true,
                            std::uint32_t event_schema_version_min = 1) {
  V2::Options o;
  o.business = [&seen](const schema_v2::Bank& bank, const schema_v2::Event& event, Timestamp) {
    ++seen.v2_business_calls;
    schema_v2::Bank next = bank;
    std::visit(
        [&](const auto& e) {
          using E = std::decay_t<decltype(e)>;
          schema_v2::Account& account = next.accounts[e.account];
          ++account.operations;
          if constexpr (std::is_same_v<E, schema_v2::Deposit>) account.balance += e.amount;
          if constexpr (std::is_same_v<E, schema_v2::Withdraw>) account.balance -= e.amount;
          if constexpr (std::is_same_v<E, schema_v2::Fee>) account.balance -= 1;
        },
        event);
    return next;
  };
  o.event_codec = cereal_codec<schema_v2::Event>();
  o.event_codec.decode_versioned = [&seen](std::istream& in, std::uint32_t version) {
    seen.event_versions.push_back(version);
    if (version == 1) return schema_v2::upcast(cereal_decode<schema_v1::Event>(in));
    return cereal_decode<schema_v2::Event>(in);
  };
  o.state_codec = cereal_codec<schema_v2::Bank>();
  o.state_codec.decode_versioned = [&seen](std::istream& in, std::uint32_t version) {
    seen.state_versions.push_back(version);
    if (version == 1) return schema_v2::upcast(cereal_decode<schema_v1::Bank>(in));
    return cereal_decode<schema_v2::Bank>(in);
  };
  o.event_schema_version = 2;
  o.state_schema_version = 2;
  o.event_schema_version_min = event_schema_version_min;
  o.storage = location.open();
  o.snapshot_on_open = snapshot_on_open;
  return std::make_unique<V2>(std::move(o));
}

// Version 1's history: a snapshot after two events, two more after it.
void write_v1_history(StorageLocation& location, Seen& seen) {
  auto v1 = open_v1(location, seen, /*snapshot_on_open=*/false);
  v1->handle(schema_v1::Deposit{"alice", 100});
  v1->handle(schema_v1::Deposit{"bob", 50});
  v1->snapshot();
  v1->handle(schema_v1::Withdraw{"alice", 30});
  v1->handle(schema_v1::Deposit{"bob", 5});
  v1->close();
}

}  // namespace

class SchemaEvolution : public ::testing::TestWithParam<StorageKind> {
 protected:
  std::unique_ptr<StorageLocation> location_ = GetParam().make_location();
  Seen seen_;
};

TEST_P(SchemaEvolution, VersionTwoRecoversWhatVersionOneWroteThroughItsUpcasters) {
  write_v1_history(*location_, seen_);
  {
    auto v2 = open_v2(*location_, seen_, /*snapshot_on_open=*/false);
    // The snapshot (alice 100, bob 50) was upcast, then the two events
    // after it were replayed through version 2's rules.
    EXPECT_EQ(seen_.state_versions, std::vector<std::uint32_t>{1});
    EXPECT_EQ(seen_.event_versions, (std::vector<std::uint32_t>{1, 1}));
    const auto state = v2->state();
    EXPECT_EQ(state->accounts.at("alice"), (schema_v2::Account{70, 1}));
    EXPECT_EQ(state->accounts.at("bob"), (schema_v2::Account{55, 1}));
    v2->handle(schema_v2::Fee{"alice"});
    v2->snapshot();
    v2->handle(schema_v2::Deposit{"carol", 7});
    v2->close();
  }
  seen_ = Seen{};
  auto again = open_v2(*location_, seen_);
  // Version 2's own snapshot and event now.
  EXPECT_EQ(seen_.state_versions, std::vector<std::uint32_t>{2});
  EXPECT_EQ(seen_.event_versions, std::vector<std::uint32_t>{2});
  const auto state = again->state();
  EXPECT_EQ(state->accounts.at("alice"), (schema_v2::Account{69, 2}));
  EXPECT_EQ(state->accounts.at("bob"), (schema_v2::Account{55, 1}));
  EXPECT_EQ(state->accounts.at("carol"), (schema_v2::Account{7, 1}));
}

TEST_P(SchemaEvolution, VersionOneRefusesEventsVersionTwoWrote) {
  write_v1_history(*location_, seen_);
  {
    auto v2 = open_v2(*location_, seen_, /*snapshot_on_open=*/false);
    v2->handle(schema_v2::Fee{"alice"});
    v2->close();
  }
  seen_ = Seen{};
  expect_error<SchemaVersionError>(
      [&] { open_v1(*location_, seen_); }, "version 1 must not misread a version-2 event",
      {"event schema version 2", "versions 1 to 1", "segment ", "record ", "newer release"});
  // The two version-1 events after the snapshot replayed, the version-2 one did not.
  EXPECT_EQ(seen_.v1_business_calls, 2);
}

TEST_P(SchemaEvolution, VersionOneRefusesASnapshotVersionTwoWrote) {
  write_v1_history(*location_, seen_);
  open_v2(*location_, seen_)->close();  // snapshot at open, state version 2
  seen_ = Seen{};
  expect_error<SchemaVersionError>(
      [&] { open_v1(*location_, seen_); }, "version 1 must not misread a version-2 snapshot",
      {"state schema version 2", "versions 1 to 1", "snapshot ", "newer release"});
  EXPECT_EQ(seen_.v1_business_calls, 0);
}

// Version 2 changed the business rules (it counts operations): with
// event_schema_version_min = 2 no version-1 event may reach them.
TEST_P(SchemaEvolution, SnapshotThenUpgradeReplaysNoOldEventThroughNewRules) {
  write_v1_history(*location_, seen_);
  expect_error<SchemaVersionError>(
      [&] { open_v2(*location_, seen_, true, /*event_schema_version_min=*/2); },
      "version-1 events must not reach version 2's rules",
      {"event schema version 1", "replays event schema versions 2 to 2", "event_schema_version_min",
       "previous release", "snapshot"});
  EXPECT_EQ(seen_.v2_business_calls, 0);
  EXPECT_TRUE(seen_.event_versions.empty()) << "refused before the codec saw it";

  // The upgrade step: open once with the old release (a snapshot at open
  // at the start of a new segment), close, then open with the new one.
  open_v1(*location_, seen_)->close();
  seen_ = Seen{};
  auto v2 = open_v2(*location_, seen_, true, /*event_schema_version_min=*/2);
  EXPECT_EQ(seen_.v2_business_calls, 0);
  EXPECT_TRUE(seen_.event_versions.empty());
  EXPECT_EQ(v2->stats().events_replayed, 0u);
  EXPECT_EQ(seen_.state_versions, std::vector<std::uint32_t>{1});
  EXPECT_EQ(v2->state()->accounts.at("alice"), (schema_v2::Account{70, 0}));
  EXPECT_EQ(v2->state()->accounts.at("bob"), (schema_v2::Account{55, 0}));
}

// The explicit form of the same step in a running old release:
// snapshot() then close(), with no event in between.
TEST_P(SchemaEvolution, SnapshotAndCloseInTheOldReleaseIsTheUpgradePoint) {
  {
    auto v1 = open_v1(*location_, seen_, /*snapshot_on_open=*/false);
    v1->handle(schema_v1::Deposit{"alice", 3});
    v1->snapshot();
    v1->close();
  }
  auto v2 = open_v2(*location_, seen_, false, /*event_schema_version_min=*/2);
  EXPECT_EQ(seen_.v2_business_calls, 0);
  EXPECT_EQ(v2->stats().events_replayed, 0u);
  EXPECT_EQ(v2->state()->accounts.at("alice").balance, 3);
}

INSTANTIATE_TEST_SUITE_P(Storages, SchemaEvolution, ::testing::ValuesIn(scenario_storage_kinds()),
                         [](const auto& info) { return info.param.name; });

}  // namespace prevayler::testing
