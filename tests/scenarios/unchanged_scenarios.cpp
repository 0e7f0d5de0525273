// Events that change nothing (Options::skip_unchanged) on every storage:
// they are not journaled, still return their state, count in the metrics,
// and are acknowledged only once the state they were applied to is durable
// (after the write in flight before them, failing with it). The business
// function adds an event to a set; an event already in it changes nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
#include <vector>

#include "prevayler/prevayler.hpp"
#include "scenarios/core_scenarios.hpp"
#include "support/storage_wrappers.hpp"
#include "support/values.hpp"

namespace prevayler::testing {
namespace {

using P = Prevayler<Values, int>;
using Future = std::future<std::shared_ptr<const Values>>;

// A future not ready now is not ready for a reason: nothing is pending that
// could make it so within a few milliseconds unless the engine is wrong.
constexpr auto not_ready_wait = std::chrono::milliseconds(50);

bool ready(Future& f) { return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }

}  // namespace

class UnchangedEvents : public ::testing::TestWithParam<StorageKind> {
 protected:
  void SetUp() override { location = GetParam().make_location(); }

  P::Options options(std::unique_ptr<Storage> storage) {
    P::Options o;
    o.business = [every_event_changes = every_event_changes](const Values& s, const int& e,
                                                             Timestamp) {
      Values n = s;
      if (every_event_changes || std::find(n.v.begin(), n.v.end(), e) == n.v.end()) {
        n.v.push_back(e);
      }
      return n;
    };
    o.skip_unchanged = [](const Values& before, const Values& after) {
      return before.v == after.v;
    };
    o.storage = std::move(storage);
    return o;
  }
  P::Options counted_options() {
    return options(std::make_unique<CountingStorage>(location->open(), counters));
  }
  P::Options gated_options(std::size_t writes_in_flight_max) {
    return options(std::make_unique<GatedStorage>(
        std::make_unique<CountingStorage>(location->open(), counters), gate, writes_in_flight_max));
  }
  // What a restart recovers, and how many events it replayed.
  std::vector<int> reopen(std::uint64_t& replayed) {
    P p(options(location->open()));
    replayed = p.stats().events_replayed;
    return p.state()->v;
  }

  // An unchanged event that arrives while the write of the state it was
  // applied to is in flight waits for that write.
  void unchanged_event_waits_for_the_write_in_flight(std::size_t writes_in_flight_max);

  // The business function appends every event, a repeated one too.
  bool every_event_changes = false;
  std::unique_ptr<StorageLocation> location;
  std::shared_ptr<AppendCounters> counters = std::make_shared<AppendCounters>();
  std::shared_ptr<WriteGate> gate = std::make_shared<WriteGate>();
};

TEST_P(UnchangedEvents, AreNotJournaledAndStillReturnTheirState) {
  {
    P p(counted_options());
    EXPECT_EQ(p.handle(1)->v, (std::vector<int>{1}));
    EXPECT_EQ(p.handle(1)->v, (std::vector<int>{1}));  // unchanged: not journaled
    EXPECT_EQ(p.handle(2)->v, (std::vector<int>{1, 2}));
    Future f = p.handle_async(2);  // unchanged, durable already: ready at once
    ASSERT_TRUE(ready(f));
    EXPECT_EQ(f.get()->v, (std::vector<int>{1, 2}));
    EXPECT_EQ(p.handle(3)->v, (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(p.state()->v, (std::vector<int>{1, 2, 3}));
    p.close();
    EXPECT_EQ(counters->events.load(), 3u);
    const Metrics m = p.metrics();
    EXPECT_EQ(m.stats.events_journaled, 3u);
    EXPECT_EQ(m.events_unchanged, 2u);
  }
  std::uint64_t replayed = 0;
  EXPECT_EQ(reopen(replayed), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(replayed, 3u);
}

// The equality decides, not the event: every event that changes the state
// is journaled, also one that repeats an earlier event's bytes.
TEST_P(UnchangedEvents, EveryChangingEventIsJournaled) {
  every_event_changes = true;
  {
    P p(counted_options());
    for (int e : {5, 5, 5, 6}) p.handle(e);
    EXPECT_EQ(p.metrics().events_unchanged, 0u);
  }
  EXPECT_EQ(counters->events.load(), 4u);
  std::uint64_t replayed = 0;
  EXPECT_EQ(reopen(replayed), (std::vector<int>{5, 5, 5, 6}));
  EXPECT_EQ(replayed, 4u);
}

void UnchangedEvents::unchanged_event_waits_for_the_write_in_flight(
    std::size_t writes_in_flight_max) {
  {
    P p(gated_options(writes_in_flight_max));
    GateOpener opener(gate);
    Future changed = p.handle_async(1);
    ASSERT_TRUE(gate->wait_started(1)) << "the first write never started";
    // Applied to {1}, which is not durable yet: neither is its answer.
    Future unchanged = p.handle_async(1);
    EXPECT_EQ(unchanged.wait_for(not_ready_wait), std::future_status::timeout)
        << "an unchanged event was acknowledged before the state it saw was durable";
    EXPECT_FALSE(ready(changed));
    EXPECT_TRUE(p.state()->v.empty());
    gate->let_through();
    EXPECT_EQ(changed.get()->v, (std::vector<int>{1}));
    EXPECT_EQ(unchanged.get()->v, (std::vector<int>{1}));
    EXPECT_EQ(p.state()->v, (std::vector<int>{1}));
    p.close();
    EXPECT_EQ(p.metrics().events_unchanged, 1u);
    EXPECT_EQ(counters->events.load(), 1u);
  }
  std::uint64_t replayed = 0;
  EXPECT_EQ(reopen(replayed), (std::vector<int>{1}));
}

TEST_P(UnchangedEvents, WaitForTheWriteInFlight) {
  unchanged_event_waits_for_the_write_in_flight(1);
}

TEST_P(UnchangedEvents, WaitForTheWriteInFlightWhenPipelined) {
  unchanged_event_waits_for_the_write_in_flight(4);
}

// The state an unchanged event was applied to never became durable: the
// event fails with the write, as an event behind it in the journal would.
TEST_P(UnchangedEvents, FailWithTheEarlierWriteTheyDependOn) {
  {
    P p(gated_options(1));
    GateOpener opener(gate);
    Future changed = p.handle_async(1);
    ASSERT_TRUE(gate->wait_started(1));
    Future unchanged = p.handle_async(1);
    gate->let_through(WriteGate::Outcome::failed);
    EXPECT_THROW(changed.get(), StorageError);
    EXPECT_THROW(unchanged.get(), StorageError);
    EXPECT_TRUE(p.state()->v.empty());
    EXPECT_EQ(p.metrics().events_unchanged, 0u);
    // The instance goes on from the durable state: the same event changes it now.
    gate->open();
    EXPECT_EQ(p.handle(1)->v, (std::vector<int>{1}));
  }
  std::uint64_t replayed = 0;
  EXPECT_EQ(reopen(replayed), (std::vector<int>{1}));
}

// Off by default: an event that changes nothing is journaled like any other.
TEST_P(UnchangedEvents, AreJournaledWithoutTheOption) {
  auto o = counted_options();
  o.skip_unchanged = nullptr;
  {
    P p(std::move(o));
    p.handle(1);
    p.handle(1);
    EXPECT_EQ(p.metrics().events_unchanged, 0u);
  }
  EXPECT_EQ(counters->events.load(), 2u);
  std::uint64_t replayed = 0;
  EXPECT_EQ(reopen(replayed), (std::vector<int>{1}));
  EXPECT_EQ(replayed, 2u);
}

INSTANTIATE_TEST_SUITE_P(Storages, UnchangedEvents, ::testing::ValuesIn(scenario_storage_kinds()),
                         [](const auto& info) { return info.param.name; });

}  // namespace prevayler::testing
