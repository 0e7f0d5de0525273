// Automatic snapshots (Options::snapshot_every_*) on every storage: the
// triggers, one snapshot at a time, writers that never wait for one, and
// failures that are reported without stopping the instance. Each test
// waits for the snapshots it expects through a SnapshotWatch (no sleeps),
// and checks the exact count once the instance is closed.
#include <gtest/gtest.h>

#include <atomic>
#include <cereal/types/vector.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "prevayler/prevayler.hpp"
#include "scenarios/core_scenarios.hpp"
#include "support/blocked_thread.hpp"
#include "support/storage_wrappers.hpp"
#include "support/values.hpp"

namespace prevayler::testing {
namespace {

using P = Prevayler<Values, int>;

std::vector<int> one_to(int n) {
  std::vector<int> v;
  for (int i = 1; i <= n; ++i) v.push_back(i);
  return v;
}

}  // namespace

class AutoSnapshot : public ::testing::TestWithParam<StorageKind> {
 protected:
  void SetUp() override { location = GetParam().make_location(); }

  P::Options options(std::unique_ptr<Storage> storage) {
    P::Options o;
    o.business = [](const Values& s, const int& e, Timestamp) {
      Values n = s;
      n.v.push_back(e);
      return n;
    };
    o.storage = std::move(storage);
    o.warn = [this](const std::string& m) { warnings.push_back(m); };
    return o;
  }
  P::Options watched_options() {
    return options(std::make_unique<WatchedStorage>(location->open(), watch));
  }
  // The instance a restart opens: what it recovered.
  Stats reopen_stats(std::vector<int>& state) {
    P p(options(location->open()));
    state = p.state()->v;
    return p.stats();
  }

  std::unique_ptr<StorageLocation> location;
  std::shared_ptr<SnapshotWatch> watch = std::make_shared<SnapshotWatch>();
  std::vector<std::string> warnings;  // written by the instance's threads, read after close
};

TEST_P(AutoSnapshot, EveryNEventsTakesOneSnapshotPerNEvents) {
  constexpr int n = 5;
  auto o = watched_options();
  o.snapshot_every_events = n;
  P p(std::move(o));
  ASSERT_EQ(watch->committed(), 1u);  // the snapshot at open
  int next = 1;
  for (std::size_t round = 1; round <= 3; ++round) {
    for (int i = 0; i < n; ++i) p.handle(next++);
    ASSERT_TRUE(watch->wait_committed(1 + round)) << "no automatic snapshot after round " << round;
  }
  for (int i = 0; i < n - 1; ++i) p.handle(next++);  // one short of the next trigger
  EXPECT_EQ(p.metrics().events_since_snapshot, static_cast<std::uint64_t>(n - 1));
  p.close();
  EXPECT_EQ(watch->committed(), 4u);
  const Metrics m = p.metrics();
  EXPECT_EQ(m.automatic_snapshots_written, 3u);
  EXPECT_EQ(m.snapshots_written, 4u);
  EXPECT_EQ(m.automatic_snapshots_failed, 0u);
  EXPECT_TRUE(warnings.empty()) << warnings.front();

  std::vector<int> state;
  const Stats recovered = reopen_stats(state);
  EXPECT_EQ(state, one_to(4 * n - 1));
  // Each cut fell right after its N-th event: the restart replays only
  // the events after the last one.
  EXPECT_EQ(recovered.events_replayed, static_cast<std::uint64_t>(n - 1));
}

TEST_P(AutoSnapshot, EveryNJournalBytes) {
  // The bytes one event adds to the journal, as the trigger counts them.
  std::uint64_t event_bytes = 0;
  {
    P p(options(location->open()));
    p.handle(1);
    event_bytes = p.metrics().bytes_written;
  }
  ASSERT_GT(event_bytes, 0u);
  auto o = watched_options();
  o.snapshot_every_journal_bytes = 3 * event_bytes;
  P p(std::move(o));
  ASSERT_EQ(watch->committed(), 1u);
  p.handle(2);
  p.handle(3);
  EXPECT_EQ(p.metrics().journal_bytes_since_snapshot, 2 * event_bytes);
  p.handle(4);  // the third event's bytes reach the trigger
  ASSERT_TRUE(watch->wait_committed(2));
  p.handle(5);
  p.handle(6);
  p.close();
  EXPECT_EQ(watch->committed(), 2u);
  EXPECT_EQ(p.metrics().automatic_snapshots_written, 1u);

  std::vector<int> state;
  EXPECT_EQ(reopen_stats(state).events_replayed, 2u);
  EXPECT_EQ(state, one_to(6));
}

// The time trigger reads the timestamp function: the test steps it.
TEST_P(AutoSnapshot, EveryTMillisecondsOfTheTimestampClock) {
  constexpr std::int64_t every_ms = 60'000;
  auto now_ms = std::make_shared<std::atomic<std::int64_t>>(1'000'000);
  auto o = watched_options();
  o.timestamp = [now_ms] { return Timestamp(std::chrono::milliseconds(now_ms->load())); };
  o.snapshot_every_ms = every_ms;
  P p(std::move(o));
  ASSERT_EQ(watch->committed(), 1u);  // at open, cut at 1'000'000
  p.handle(1);
  *now_ms += every_ms - 1;
  p.handle(2);  // one millisecond short
  *now_ms += 1;
  p.handle(3);  // its journal write is T after the cut
  ASSERT_TRUE(watch->wait_committed(2));
  p.handle(4);
  // No event after it: the automatic snapshots' thread notices the clock.
  *now_ms += every_ms;
  ASSERT_TRUE(watch->wait_committed(3));
  p.handle(5);  // at the last cut's time: nothing due
  p.close();
  EXPECT_EQ(watch->committed(), 3u);
  EXPECT_EQ(p.metrics().automatic_snapshots_written, 2u);

  std::vector<int> state;
  EXPECT_EQ(reopen_stats(state).events_replayed, 1u);
  EXPECT_EQ(state, one_to(5));
}

// A slow snapshot (its commit held) never stalls writers, and the events
// that reach the trigger again meanwhile take ONE more snapshot, not one
// per trigger.
TEST_P(AutoSnapshot, WritersAreAcknowledgedWhileOneIsWrittenAndTriggersDoNotQueue) {
  constexpr int n = 4;
  auto o = watched_options();
  o.snapshot_every_events = n;
  P p(std::move(o));
  SnapshotReleaser releaser(watch);
  ASSERT_EQ(watch->committed(), 1u);
  watch->hold();
  for (int i = 1; i <= n; ++i) p.handle(i);
  ASSERT_TRUE(watch->wait_arrived(2)) << "the automatic snapshot never reached its commit";
  // Progress while it is held: every one of these is acknowledged.
  for (int i = n + 1; i <= 4 * n; ++i) {
    EXPECT_EQ(p.handle(i)->v.size(), static_cast<std::size_t>(i));
  }
  EXPECT_EQ(watch->committed(), 1u);
  EXPECT_EQ(watch->begun(), 2u) << "a second snapshot started while one was written";
  watch->release();
  // The held one, then one more for the 3n events written meanwhile.
  ASSERT_TRUE(watch->wait_committed(3));
  for (int i = 4 * n + 1; i <= 5 * n - 1; ++i) p.handle(i);
  p.close();
  EXPECT_EQ(watch->begun(), 3u);
  EXPECT_EQ(watch->committed(), 3u);

  std::vector<int> state;
  EXPECT_EQ(reopen_stats(state).events_replayed, static_cast<std::uint64_t>(n - 1));
  EXPECT_EQ(state, one_to(5 * n - 1));
}

// A failed automatic snapshot is reported (warning, metric), the instance
// goes on, and the next trigger, counted from the failed one's cut, tries
// again.
TEST_P(AutoSnapshot, FailureIsReportedAndTheInstanceGoesOn) {
  constexpr int n = 3;
  auto plan = std::make_shared<FaultPlan>();
  auto o = options(std::make_unique<WatchedStorage>(
      std::make_unique<FaultyStorage>(location->open(), plan), watch));
  o.snapshot_every_events = n;
  P p(std::move(o));
  ASSERT_EQ(watch->committed(), 1u);
  plan->fail_snapshot_commits = true;
  for (int i = 1; i <= n; ++i) p.handle(i);
  // Its cut is made and its commit reached: that commit will fail.
  ASSERT_TRUE(watch->wait_arrived(2));
  plan->fail_snapshot_commits = false;
  for (int i = n + 1; i <= 2 * n; ++i) p.handle(i);
  ASSERT_TRUE(watch->wait_committed(2)) << "no automatic snapshot after the failed one";
  for (int i = 2 * n + 1; i <= 3 * n - 1; ++i) p.handle(i);
  EXPECT_EQ(p.handle(3 * n)->v.size(), static_cast<std::size_t>(3 * n));
  ASSERT_TRUE(watch->wait_committed(3));
  p.close();
  const Metrics m = p.metrics();
  EXPECT_EQ(m.automatic_snapshots_failed, 1u);
  EXPECT_EQ(m.snapshots_failed, 1u);
  EXPECT_EQ(m.automatic_snapshots_written, 2u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("automatic snapshot not written"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("injected snapshot commit failure"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("goes on"), std::string::npos) << warnings[0];

  std::vector<int> state;
  EXPECT_EQ(reopen_stats(state).events_replayed, 0u);
  EXPECT_EQ(state, one_to(3 * n));
}

// StorageFailedError from the storage stops the instance, as it does from
// any storage call (one failure protocol), and is reported too.
TEST_P(AutoSnapshot, StorageFailedErrorStopsTheInstance) {
  constexpr int n = 2;
  // A wrapper whose begin_snapshot() reports that the storage gave up.
  struct Failing : ForwardingStorage {
    using ForwardingStorage::ForwardingStorage;
    std::atomic<bool> failing{false};
    std::shared_ptr<SnapshotWatch> refused = std::make_shared<SnapshotWatch>();
    std::unique_ptr<SnapshotWriter> begin_snapshot() override {
      if (failing) {
        refused->note_committed();  // counts the refusals
        throw StorageFailedError("injected: the storage gave up");
      }
      return inner_->begin_snapshot();
    }
  };
  auto failing = std::make_unique<Failing>(location->open());
  Failing& storage = *failing;
  auto o = options(std::move(failing));
  o.snapshot_every_events = n;
  P p(std::move(o));
  storage.failing = true;
  for (int i = 1; i <= n; ++i) p.handle(i);
  ASSERT_TRUE(storage.refused->wait_committed(1));
  // snapshot() waits for the automatic one to finish, then finds the
  // instance stopped.
  EXPECT_THROW(p.snapshot(), StorageFailedError);
  EXPECT_THROW(p.handle(n + 1), StorageFailedError);
  p.close();
  EXPECT_EQ(p.metrics().automatic_snapshots_failed, 1u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("this instance stopped"), std::string::npos) << warnings[0];

  std::vector<int> state;
  reopen_stats(state);
  EXPECT_EQ(state, one_to(n));
}

// close() with a snapshot held in its commit waits for it (no thread left
// behind), and one triggered but not yet cut is abandoned cleanly.
TEST_P(AutoSnapshot, CloseWaitsForTheOneBeingWritten) {
  constexpr int n = 2;
  auto o = watched_options();
  o.snapshot_every_events = n;
  auto p = std::make_unique<P>(std::move(o));
  SnapshotReleaser releaser(watch);
  watch->hold();
  p->handle(1);
  p->handle(2);
  ASSERT_TRUE(watch->wait_arrived(2));
  std::atomic<bool> closed{false};
  std::atomic<pid_t> closer_tid{0};
  std::thread closer([&] {
    closer_tid = current_tid();
    p->close();
    closed = true;
  });
  EXPECT_TRUE(wait_until_asleep(closer_tid, [&] { return closed.load(); }))
      << "close() returned while an automatic snapshot was held in its commit";
  EXPECT_EQ(watch->committed(), 1u);
  watch->release();
  closer.join();
  EXPECT_TRUE(closed.load());
  EXPECT_EQ(watch->committed(), 2u);
  EXPECT_EQ(p->metrics().automatic_snapshots_written, 1u);
  EXPECT_THROW(p->handle(3), ClosedError);
  p.reset();

  std::vector<int> state;
  EXPECT_EQ(reopen_stats(state).events_replayed, 0u);
  EXPECT_EQ(state, one_to(2));
}

INSTANTIATE_TEST_SUITE_P(Storages, AutoSnapshot, ::testing::ValuesIn(scenario_storage_kinds()),
                         [](const auto& info) { return info.param.name; });

}  // namespace prevayler::testing
