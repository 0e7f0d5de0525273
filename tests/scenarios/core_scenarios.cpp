// The core scenarios (prevayler-clj-aws's own test list and more), run on
// every storage: each executable instantiates CoreScenarios with the
// storages it has.
#include "scenarios/core_scenarios.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "prevayler/prevayler.hpp"
#include "support/storage_wrappers.hpp"

namespace prevayler::testing {
namespace {

using namespace std::chrono_literals;

// The state records every event and the timestamp it was handled with.
struct History {
  std::vector<std::int64_t> events;
  std::vector<std::int64_t> timestamps_ms;
  std::string label;  // set by the initial state
  template <class Archive>
  void serialize(Archive& archive) {
    archive(events, timestamps_ms, label);
  }
};

using P = Prevayler<History, std::int64_t>;

// A business function that counts its calls and rejects negative events.
struct CountingBusiness {
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
  History operator()(const History& h, const std::int64_t& e, Timestamp t) const {
    ++*calls;
    if (e < 0) throw std::invalid_argument("negative events are rejected");
    History next = h;
    next.events.push_back(e);
    next.timestamps_ms.push_back(t.time_since_epoch().count());
    return next;
  }
};

Timestamp at_ms(std::int64_t ms) { return Timestamp(std::chrono::milliseconds(ms)); }

}  // namespace

class Scenario : public ::testing::TestWithParam<StorageKind> {
 protected:
  void SetUp() override { location = GetParam().make_location(); }

  std::unique_ptr<StorageLocation> location;
  CountingBusiness business;

  P::Options make_options(std::unique_ptr<Storage> storage) {
    P::Options o;
    o.business = business;
    o.storage = std::move(storage);
    return o;
  }
  std::unique_ptr<P> open() { return std::make_unique<P>(make_options(location->open())); }
};

TEST_P(Scenario, DefaultTimestampIsTheSystemClockInMilliseconds) {
  auto p = open();
  const auto before = std::chrono::system_clock::now();
  auto state = p->handle(1);
  const auto after = std::chrono::system_clock::now();
  const auto stamped = at_ms(state->timestamps_ms.at(0));
  EXPECT_GE(stamped, std::chrono::time_point_cast<std::chrono::milliseconds>(before));
  EXPECT_LE(stamped, after);
  EXPECT_LE(p->timestamp() - stamped, 60s);
}

TEST_P(Scenario, OverriddenTimestampFunctionIsUsedAndJournaled) {
  std::int64_t clock_ms = 1000;
  auto opts = make_options(location->open());
  opts.timestamp = [&] { return at_ms(clock_ms++); };
  {
    P p(std::move(opts));
    EXPECT_EQ(p.timestamp(), at_ms(1000));
    p.handle(7);
    p.handle(8);
    EXPECT_EQ(p.state()->timestamps_ms, (std::vector<std::int64_t>{1001, 1002}));
  }
  // The replay uses the journaled timestamps, not the clock.
  auto replay = make_options(location->open());
  replay.timestamp = [] { return at_ms(999'999); };
  P p(std::move(replay));
  EXPECT_EQ(p.state()->timestamps_ms, (std::vector<std::int64_t>{1001, 1002}));
}

TEST_P(Scenario, DefaultInitialStateIsValueInitialised) {
  auto p = open();
  EXPECT_TRUE(p->state()->events.empty());
  EXPECT_EQ(p->state()->label, "");
}

TEST_P(Scenario, OverriddenInitialStateIsWhereRecoveryStarts) {
  auto opts = make_options(location->open());
  opts.initial_state = [] { return History{{}, {}, "genesis"}; };
  {
    P p(std::move(opts));
    EXPECT_EQ(p.state()->label, "genesis");
    p.handle(3);
  }
  auto again = make_options(location->open());
  again.initial_state = [] { return History{{}, {}, "genesis"}; };
  P p(std::move(again));
  EXPECT_EQ(p.state()->label, "genesis");
  EXPECT_EQ(p.state()->events, (std::vector<std::int64_t>{3}));
}

TEST_P(Scenario, HandleReturnsTheNewStateAndMakesItCurrent) {
  auto p = open();
  auto s1 = p->handle(10);
  auto s2 = p->handle(20);
  EXPECT_EQ(s1->events, (std::vector<std::int64_t>{10}));
  EXPECT_EQ(s2->events, (std::vector<std::int64_t>{10, 20}));
  EXPECT_EQ(p->state(), s2);
}

// One producer keeps many events in flight with handle_async(); they are
// applied in call order, interleaved with handle() from other threads, each
// future gives the state its event produced, and a restart recovers them.
TEST_P(Scenario, AsyncHandleKeepsEventsInFlightAndAcknowledgesEachOnce) {
  std::vector<std::int64_t> order;
  {
    auto p = open();
    std::thread other([&] {
      for (int i = 0; i < 50; ++i) p->handle(100'000 + i);
    });
    std::vector<std::future<std::shared_ptr<const History>>> futures;
    for (int i = 0; i < 400; ++i) futures.push_back(p->handle_async(i));
    EXPECT_THROW(p->handle_async(-1), std::invalid_argument);  // rejected at once
    for (int i = 0; i < 400; ++i) {
      auto state = futures[i].get();
      ASSERT_FALSE(state->events.empty());
      EXPECT_EQ(state->events.back(), i);
    }
    other.join();
    EXPECT_EQ(futures.back().valid(), false);
    order = p->state()->events;
  }
  ASSERT_EQ(order.size(), 450u);
  std::int64_t mine = 0, theirs = 100'000;
  for (std::int64_t e : order) EXPECT_EQ(e, e < 100'000 ? mine++ : theirs++);
  auto p = open();
  EXPECT_EQ(p->state()->events, order);
}

TEST_P(Scenario, CloseWaitsForAsyncEventsInFlight) {
  std::vector<std::future<std::shared_ptr<const History>>> futures;
  {
    auto p = open();
    for (int i = 0; i < 100; ++i) futures.push_back(p->handle_async(i));
    p->close();
    EXPECT_THROW(p->handle_async(1), ClosedError);
  }
  for (int i = 0; i < 100; ++i) EXPECT_EQ(futures[i].get()->events.size(), std::size_t(i) + 1);
  auto p = open();
  EXPECT_EQ(p->state()->events.size(), 100u);
}

TEST_P(Scenario, RestartRecoversTheLastState) {
  {
    auto p = open();
    for (int i = 0; i < 50; ++i) p->handle(i);
  }
  auto p = open();
  ASSERT_EQ(p->state()->events.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(p->state()->events[i], i);
}

TEST_P(Scenario, RestartReplaysOnlyTheEventsSinceTheLastSnapshot) {
  {
    auto p = open();
    p->handle(1);
    p->handle(2);
  }
  {
    auto p = open();
    EXPECT_EQ(business.calls->load(), 2 + 2);
    p->snapshot();
    p->handle(3);
  }
  business.calls->store(0);
  auto p = open();
  EXPECT_EQ(business.calls->load(), 1);  // only event 3
  EXPECT_EQ(p->state()->events, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(p->stats().events_replayed, 1u);
}

TEST_P(Scenario, BusinessExceptionChangesNothingAlsoAfterRestart) {
  {
    auto p = open();
    p->handle(1);
    auto before = p->state();
    EXPECT_THROW(p->handle(-1), std::invalid_argument);
    EXPECT_EQ(p->state(), before);
    EXPECT_EQ(p->stats().events_journaled, 1u);
    p->handle(2);
  }
  business.calls->store(0);
  auto p = open();
  EXPECT_EQ(p->state()->events, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(business.calls->load(), 2);  // the rejected event was never journaled
}

TEST_P(Scenario, AfterSnapshotRestartDoesNotCallBusinessForEarlierEvents) {
  {
    auto p = open();
    for (int i = 0; i < 10; ++i) p->handle(i);
    p->snapshot();
  }
  business.calls->store(0);
  auto p = open();
  EXPECT_EQ(business.calls->load(), 0);
  EXPECT_EQ(p->state()->events.size(), 10u);
}

TEST_P(Scenario, SeveralSnapshotsAndEventsBetweenThem) {
  {
    auto p = open();
    for (int round = 0; round < 4; ++round) {
      p->handle(round * 10);
      p->snapshot();
      p->handle(round * 10 + 1);
    }
  }
  business.calls->store(0);
  auto p = open();
  EXPECT_EQ(business.calls->load(), 1);
  EXPECT_EQ(p->state()->events, (std::vector<std::int64_t>{0, 1, 10, 11, 20, 21, 30, 31}));
}

TEST_P(Scenario, InconsistentStateIsDetectedOnRecovery) {
  auto hash = [](const History& h) {
    std::uint64_t x = 1469598103934665603ull;
    for (auto e : h.events) x = (x ^ static_cast<std::uint64_t>(e)) * 1099511628211ull;
    return x;
  };
  {
    auto opts = make_options(location->open());
    opts.state_hash = hash;
    P p(std::move(opts));
    p.handle(1);
    p.handle(2);
    p.handle(3);
  }
  // The business function "changes its code": event 2 now means 20.
  auto opts = make_options(location->open());
  opts.state_hash = hash;
  opts.business = [](const History& h, const std::int64_t& e, Timestamp) {
    History next = h;
    next.events.push_back(e == 2 ? 20 : e);
    return next;
  };
  try {
    P p(std::move(opts));
    FAIL() << "recovery accepted an inconsistent replay";
  } catch (const InconsistentStateError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("Inconsistent state detected"), std::string::npos) << what;
    EXPECT_NE(what.find("event 2 of this recovery"), std::string::npos) << what;
    EXPECT_NE(what.find("record"), std::string::npos) << what;
  }
}

TEST_P(Scenario, ConsistentHashPassesRecovery) {
  auto hash = [](const History& h) { return static_cast<std::uint64_t>(h.events.size()); };
  for (int run = 0; run < 2; ++run) {
    auto opts = make_options(location->open());
    opts.state_hash = hash;
    P p(std::move(opts));
    p.handle(run);
    EXPECT_EQ(p.state()->events.size(), static_cast<std::size_t>(run + 1));
  }
}

TEST_P(Scenario, ConcurrentHandleAppliesEveryEventOnceInOneOrder) {
  constexpr int threads = 16;
  constexpr int per_thread = 150;
  std::vector<std::vector<std::shared_ptr<const History>>> returned(threads);
  std::vector<std::int64_t> live_order;
  {
    auto p = open();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i) returned[t].push_back(p->handle(t * 1000 + i));
      });
    }
    for (auto& w : workers) w.join();
    const auto& final_events = p->state()->events;
    ASSERT_EQ(final_events.size(), static_cast<std::size_t>(threads * per_thread));
    // Each returned state is a prefix of the final order ending in its event.
    std::set<std::size_t> lengths;
    for (int t = 0; t < threads; ++t) {
      for (int i = 0; i < per_thread; ++i) {
        const auto& s = *returned[t][i];
        ASSERT_EQ(s.events.back(), t * 1000 + i);
        ASSERT_TRUE(std::equal(s.events.begin(), s.events.end(), final_events.begin()));
        lengths.insert(s.events.size());
      }
    }
    EXPECT_EQ(lengths.size(), static_cast<std::size_t>(threads * per_thread));
    // Every event exactly once, each thread's events in its own order.
    std::map<int, int> next_of_thread;
    for (auto e : final_events) {
      const int t = static_cast<int>(e / 1000);
      ASSERT_EQ(e % 1000, next_of_thread[t]++);
    }
    live_order = final_events;
  }
  auto p = open();
  EXPECT_EQ(p->state()->events, live_order);  // the journal holds the same order
}

// Events handled while a journal write is in flight go out together in the
// next write. A gate holds the first write until the other producers'
// events were all accepted (the business function ran for each), so the
// count is exact: one write for the first event, one for the other 15.
TEST_P(Scenario, GroupCommitBatchesConcurrentEvents) {
  constexpr int threads = 16;
  auto counters = std::make_shared<AppendCounters>();
  auto gate = std::make_shared<WriteGate>();
  std::mutex accepted_mutex;
  std::condition_variable accepted_cv;
  int accepted = 0;
  auto options = make_options(std::make_unique<GatedStorage>(
      std::make_unique<CountingStorage>(location->open(), counters), gate));
  options.business = [&, count = business](const History& h, const std::int64_t& e, Timestamp t) {
    History next = count(h, e, t);
    std::lock_guard lock(accepted_mutex);
    ++accepted;
    accepted_cv.notify_all();
    return next;
  };
  P p(std::move(options));
  std::vector<std::jthread> workers;
  GateOpener opener(gate);  // destroyed first: no worker stays held
  workers.emplace_back([&] { p.handle(0); });
  ASSERT_TRUE(gate->wait_arrived(1)) << "the first write never started";
  for (int t = 1; t < threads; ++t) {
    workers.emplace_back([&, t] { p.handle(t); });
  }
  {
    std::unique_lock lock(accepted_mutex);
    ASSERT_TRUE(accepted_cv.wait_for(lock, WriteGate::arrival_wait_max,
                                     [&] { return accepted == threads; }))
        << "accepted " << accepted << " of " << threads << " events";
  }
  EXPECT_EQ(gate->arrived(), 1u) << "an event was written while the first write was in flight";
  gate->open();
  for (auto& w : workers) w.join();
  EXPECT_EQ(counters->events.load(), static_cast<std::uint64_t>(threads));
  EXPECT_EQ(counters->appends.load(), 2u);
  EXPECT_EQ(p.stats().journal_writes, 2u);
  EXPECT_EQ(p.state()->events.size(), static_cast<std::size_t>(threads));
}

TEST_P(Scenario, FailedJournalWriteFailsItsCallersAndChangesNothing) {
  auto plan = std::make_shared<FaultPlan>();
  {
    P p(make_options(std::make_unique<FaultyStorage>(location->open(), plan)));
    p.handle(1);
    plan->fail_next = 1;
    EXPECT_THROW(p.handle(2), StorageError);
    EXPECT_EQ(p.state()->events, (std::vector<std::int64_t>{1}));
    auto s = p.handle(3);  // the instance goes on from the durable state
    EXPECT_EQ(s->events, (std::vector<std::int64_t>{1, 3}));
  }
  auto p = open();
  EXPECT_EQ(p->state()->events, (std::vector<std::int64_t>{1, 3}));
}

// A failed write fails the futures of its events and of every event
// accepted after it until the failure is seen; the others are durable.
TEST_P(Scenario, FailedJournalWriteFailsTheFuturesOfItsEventsOnly) {
  auto plan = std::make_shared<FaultPlan>();
  std::vector<std::int64_t> acked;
  int failed = 0;
  {
    P p(make_options(std::make_unique<FaultyStorage>(location->open(), plan)));
    std::vector<std::future<std::shared_ptr<const History>>> futures;
    for (int i = 0; i < 300; ++i) {
      if (i == 100) plan->fail_next = 1;
      futures.push_back(p.handle_async(i));
    }
    for (int i = 0; i < 300; ++i) {
      try {
        auto state = futures[i].get();
        EXPECT_EQ(state->events.back(), i);
        acked.push_back(i);
      } catch (const StorageError& e) {
        EXPECT_NE(std::string(e.what()).find("injected"), std::string::npos) << e.what();
        ++failed;
      }
    }
    EXPECT_EQ(p.state()->events, acked);
  }
  EXPECT_GT(failed, 0);
  auto p = open();
  EXPECT_EQ(p->state()->events, acked);
}

TEST_P(Scenario, FatalStorageFailureStopsTheInstance) {
  auto plan = std::make_shared<FaultPlan>();
  plan->fatal = true;
  {
    P p(make_options(std::make_unique<FaultyStorage>(location->open(), plan)));
    p.handle(1);
    plan->fail_next = 1;
    EXPECT_THROW(p.handle(2), StorageFailedError);
    EXPECT_THROW(p.handle(3), StorageFailedError);  // stopped for good
    EXPECT_THROW(p.snapshot(), StorageFailedError);
    EXPECT_EQ(p.state()->events, (std::vector<std::int64_t>{1}));
  }
  auto p = open();
  EXPECT_EQ(p->state()->events, (std::vector<std::int64_t>{1}));
}

// snapshot() whose upload fails with StorageFailedError stops the
// instance, as the automatic snapshots' does (one failure protocol).
TEST_P(Scenario, FatalSnapshotCommitFailureStopsTheInstance) {
  auto plan = std::make_shared<FaultPlan>();
  {
    P p(make_options(std::make_unique<FaultyStorage>(location->open(), plan)));
    p.handle(1);
    plan->fatal = true;
    plan->fail_snapshot_commits = true;
    EXPECT_THROW(p.snapshot(), StorageFailedError);
    EXPECT_THROW(p.handle(2), StorageFailedError);  // stopped for good
    EXPECT_THROW(p.snapshot(), StorageFailedError);
    EXPECT_EQ(p.state()->events, (std::vector<std::int64_t>{1}));
  }
  auto p = open();
  EXPECT_EQ(p->state()->events, (std::vector<std::int64_t>{1}));
}

TEST_P(Scenario, FailedWriteUnderConcurrencyLosesNoAcknowledgedEvent) {
  auto plan = std::make_shared<FaultPlan>();
  std::mutex acked_mutex;
  std::set<std::int64_t> acked;
  std::atomic<int> failed{0};
  {
    P p(make_options(std::make_unique<FaultyStorage>(location->open(), plan)));
    std::vector<std::thread> workers;
    for (int t = 0; t < 8; ++t) {
      workers.emplace_back([&, t] {
        for (int i = 0; i < 60; ++i) {
          if (i % 20 == 10 && t == 0) plan->fail_next = 1;
          try {
            p.handle(t * 1000 + i);
            std::lock_guard lock(acked_mutex);
            acked.insert(t * 1000 + i);
          } catch (const StorageError& e) {
            EXPECT_NE(std::string(e.what()).find("journal write fail"), std::string::npos)
                << e.what();
            ++failed;
          }
        }
      });
    }
    for (auto& w : workers) w.join();
    // Thread 0 injected three failures and kept writing after each: every
    // one failed at least its own write. Every call was acknowledged or
    // failed, none lost.
    EXPECT_GE(failed.load(), 1);
    EXPECT_EQ(acked.size() + static_cast<std::size_t>(failed.load()), 8u * 60u);
    EXPECT_EQ(plan->fail_next.load(), 0);
    const auto& live = p.state()->events;
    EXPECT_EQ(std::set<std::int64_t>(live.begin(), live.end()), acked);
    EXPECT_EQ(live.size(), acked.size());
  }
  auto p = open();
  const auto& recovered = p->state()->events;
  EXPECT_EQ(std::set<std::int64_t>(recovered.begin(), recovered.end()), acked);
  EXPECT_EQ(recovered.size(), acked.size());
}

TEST_P(Scenario, CallsAfterCloseFailClearly) {
  auto p = open();
  p->handle(1);
  p->close();
  p->close();  // idempotent
  EXPECT_THROW(p->handle(2), ClosedError);
  EXPECT_THROW(p->snapshot(), ClosedError);
  EXPECT_EQ(p->state()->events.size(), 1u);
}

TEST_P(Scenario, SnapshotWhileWritersRunKeepsEveryEvent) {
  constexpr int threads = 4;
  constexpr int per_thread = 200;
  {
    auto p = open();
    std::atomic<bool> done{false};
    std::thread snapshotter([&] {
      while (!done) p->snapshot();
    });
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i) p->handle(t * 1000 + i);
      });
    }
    for (auto& w : workers) w.join();
    done = true;
    snapshotter.join();
  }
  auto p = open();
  EXPECT_EQ(p->state()->events.size(), static_cast<std::size_t>(threads * per_thread));
}

TEST_P(Scenario, FailedSnapshotKeepsThePreviousOne) {
  auto plan = std::make_shared<FaultPlan>();
  {
    P p(make_options(std::make_unique<FaultyStorage>(location->open(), plan)));
    p.handle(1);
    plan->fail_snapshots = true;
    EXPECT_THROW(p.snapshot(), StorageError);
    p.handle(2);
  }
  auto p = open();
  EXPECT_EQ(p->state()->events, (std::vector<std::int64_t>{1, 2}));
}

// The snapshot at open only shortens the next recovery: when it cannot be
// written (refused at the start, or its upload failed after the segment
// was sealed), the instance opens anyway, warns, and loses nothing.
TEST_P(Scenario, FailedSnapshotAtOpenWarnsAndOpensAnyway) {
  {
    auto p = open();
    p->handle(1);
  }
  for (bool fail_at_commit : {false, true}) {
    auto plan = std::make_shared<FaultPlan>();
    (fail_at_commit ? plan->fail_snapshot_commits : plan->fail_snapshots) = true;
    std::vector<std::string> warnings;
    auto options = make_options(std::make_unique<FaultyStorage>(location->open(), plan));
    options.warn = [&](const std::string& m) { warnings.push_back(m); };
    P p(std::move(options));
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("snapshot at open not written"), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[0].find("injected snapshot"), std::string::npos) << warnings[0];
    p.handle(fail_at_commit ? 3 : 2);
  }
  auto p = open();
  EXPECT_EQ(p->state()->events, (std::vector<std::int64_t>{1, 2, 3}));
  p->handle(4);
  EXPECT_EQ(p->state()->events, (std::vector<std::int64_t>{1, 2, 3, 4}));
}

// What a second instance on a storage in use does, by storage kind: the
// local storages refuse it (LockedError); the AWS storage lets it take over
// (the first instance is superseded at its next write).
bool second_instance_takes_over(const std::string& kind) {
  if (kind == "File" || kind == "Memory" || kind == "PipelinedMemory") return false;
  if (kind == "Aws") return true;
  ADD_FAILURE() << "storage kind " << kind
                << " unknown to SecondInstanceOnTheSameStorageIsRefusedOrTakesOver: say "
                   "whether it refuses a second instance or lets it take over";
  return false;
}

TEST_P(Scenario, SecondInstanceOnTheSameStorageIsRefusedOrTakesOver) {
  auto first = open();
  first->handle(1);
  if (second_instance_takes_over(GetParam().name)) {
    auto second = open();
    // The new owner has every event, and the old one may write no more.
    EXPECT_EQ(second->state()->events, (std::vector<std::int64_t>{1}));
    second->handle(2);
    EXPECT_THROW(first->handle(3), StorageFailedError);
    EXPECT_EQ(second->state()->events, (std::vector<std::int64_t>{1, 2}));
  } else {
    try {
      auto second = open();
      ADD_FAILURE() << "a second instance opened a storage in use";
    } catch (const LockedError& e) {
      EXPECT_NE(std::string(e.what()).find("in use"), std::string::npos) << e.what();
    }
    first->handle(2);  // the first instance is unaffected
    EXPECT_EQ(first->state()->events, (std::vector<std::int64_t>{1, 2}));
  }
}

INSTANTIATE_TEST_SUITE_P(Storages, Scenario, ::testing::ValuesIn(scenario_storage_kinds()),
                         [](const auto& info) { return info.param.name; });

}  // namespace prevayler::testing
