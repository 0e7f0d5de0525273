// Retention on the AWS storage: segments below the newest snapshots go once
// a newer snapshot is durable, by option or by hand; recovery unaffected.
#include <gtest/gtest.h>

#include <cereal/types/vector.hpp>
#include <chrono>
#include <memory>

#include "aws/aws_storage_impl.hpp"
#include "aws/aws_test_storage.hpp"
#include "aws/journal_retention.hpp"
#include "ops/aws_journal.hpp"
#include "prevayler/prevayler.hpp"
#include "support/storage_wrappers.hpp"
#include "support/values.hpp"

namespace prevayler::testing {
namespace {

using P = Prevayler<Values, int>;

std::unique_ptr<P> open(const MotoJournal& journal, std::uint32_t keep) {
  auto so = journal.options();
  so.common.keep_snapshots = keep;
  return open_values(detail::make_aws_storage(so, nullptr));
}

// Items of the segment that retention may delete: all but its seal.
std::size_t items_in(const MotoJournal& journal, std::uint64_t segment) {
  std::size_t n = 0;
  for (const auto& item :
       MotoJournal::dynamodb().query_page(journal.table, segment, {}, 1000).items)
    if (!detail::is_seal_content(item.content)) ++n;
  return n;
}

// Seal items of the segment: the fence retention must never delete.
std::size_t seals_in(const MotoJournal& journal, std::uint64_t segment) {
  std::size_t n = 0;
  for (const auto& item :
       MotoJournal::dynamodb().query_page(journal.table, segment, {}, 1000).items)
    if (detail::is_seal_content(item.content)) ++n;
  return n;
}

TEST(AwsRetention, DefaultKeepsTheWholeJournal) {
  MotoJournal journal;
  {
    auto p = open(journal, 0);
    for (int i = 0; i < 3; ++i) {
      p->handle(i);
      p->snapshot();
    }
  }
  EXPECT_EQ(seals_in(journal, 0), 1u);  // the first open seals the empty segment 0
  for (std::uint64_t segment = 1; segment < 4; ++segment) {
    EXPECT_GT(items_in(journal, segment), 0u) << "segment " << segment;
  }
}

TEST(AwsRetention, KeepOneDeletesEverySegmentBelowTheSnapshot) {
  MotoJournal journal;
  {
    auto p = open(journal, 1);
    for (int i = 0; i < 3; ++i) {
      p->handle(i);
      p->snapshot();  // snapshots 2, 3, 4 (1 at open)
    }
    p->handle(9);
  }
  for (std::uint64_t segment = 0; segment < 4; ++segment) {
    EXPECT_EQ(items_in(journal, segment), 0u) << "segment " << segment;
    EXPECT_EQ(seals_in(journal, segment), 1u) << "segment " << segment << " lost its seal";
  }
  EXPECT_GT(items_in(journal, 4), 0u);
  auto p = open(journal, 1);
  EXPECT_EQ(p->state()->v, (std::vector<int>{0, 1, 2, 9}));
}

TEST(AwsRetention, PruneByHand) {
  MotoJournal journal;
  {
    auto p = open(journal, 0);
    for (int i = 0; i < 3; ++i) {
      p->handle(i);
      p->snapshot();
    }
    p->handle(5);
    EXPECT_GT(prune_aws_journal(journal.options()), 0u);  // while it runs
    p->handle(6);
  }
  EXPECT_EQ(items_in(journal, 0), 0u);
  EXPECT_EQ(items_in(journal, 3), 0u);
  EXPECT_EQ(seals_in(journal, 3), 1u);
  auto p = open(journal, 0);
  EXPECT_EQ(p->state()->v, (std::vector<int>{0, 1, 2, 5, 6}));
}

// Automatic snapshots with keep_snapshots 1: every segment below the last
// automatic snapshot is emptied (the journal stays bounded), and a restart
// recovers the same state replaying only the events after it.
TEST(AwsRetention, AutomaticSnapshotsBoundTheJournal) {
  constexpr int every_events = 4;
  constexpr int rounds = 6;
  MotoJournal journal;
  auto watch = std::make_shared<SnapshotWatch>();
  auto so = journal.options();
  so.common.keep_snapshots = 1;
  P::Options o;
  o.business = [](const Values& s, const int& e, Timestamp) {
    Values n = s;
    n.v.push_back(e);
    return n;
  };
  o.storage = std::make_unique<WatchedStorage>(detail::make_aws_storage(so, nullptr), watch);
  o.snapshot_every_events = every_events;
  std::vector<int> expected;
  {
    P p(std::move(o));
    for (int round = 1; round <= rounds; ++round) {
      for (int i = 0; i < every_events; ++i) {
        expected.push_back(static_cast<int>(expected.size()));
        p.handle(expected.back());
      }
      ASSERT_TRUE(watch->wait_committed(1 + static_cast<std::size_t>(round)));
    }
    for (int i = 0; i < every_events - 1; ++i) {
      expected.push_back(static_cast<int>(expected.size()));
      p.handle(expected.back());
    }
  }
  // Snapshot 1 at open, 2..rounds+1 automatic: the journal is the last
  // segment's events only.
  const std::uint64_t last = rounds + 1;
  for (std::uint64_t segment = 0; segment < last; ++segment) {
    EXPECT_EQ(items_in(journal, segment), 0u) << "segment " << segment;
  }
  EXPECT_EQ(items_in(journal, last), static_cast<std::size_t>(every_events - 1));
  auto p = open(journal, 1);
  EXPECT_EQ(p->state()->v, expected);
  EXPECT_EQ(p->stats().events_replayed, static_cast<std::uint64_t>(every_events - 1));
}

// Retention by age: the storage dates the snapshots it commits with its
// clock (here the test's), keeps the journal from the newest snapshot of
// each of the last N months, and deletes nothing it cannot date: the
// snapshots before the one an open read.
TEST(AwsRetention, ByAgeKeepsTheJournalFromEachMonthsNewestSnapshotAndNothingItCannotDate) {
  MotoJournal journal;
  auto now_ms = std::make_shared<std::int64_t>(0);
  const auto at = [&](int month, int day) {
    using namespace std::chrono;
    const sys_days date =
        year_month_day(year(2026), std::chrono::month(static_cast<unsigned>(month)),
                       std::chrono::day(static_cast<unsigned>(day)));
    *now_ms = duration_cast<milliseconds>(date.time_since_epoch()).count();
  };
  const auto open_dated = [&] {
    auto so = journal.options();
    so.common.keep_monthly_snapshots = 2;
    detail::AwsStorageTestHooks hooks;
    hooks.now_ms = [now_ms] { return *now_ms; };
    return open_values(detail::make_aws_storage(so, nullptr, hooks));
  };
  at(1, 10);
  {
    auto p = open_dated();  // snapshot 1, January
    const std::pair<int, int> dates[] = {{1, 20}, {2, 5}, {2, 25}, {3, 3}};
    for (int i = 0; i < 4; ++i) {
      at(dates[i].first, dates[i].second);
      p->handle(i);
      p->snapshot();  // snapshots 2 (January), 3, 4 (February), 5 (March)
    }
    p->handle(9);
  }
  // February and March: restore points 4 and 5, the journal from 4 on.
  for (std::uint64_t segment = 0; segment < 4; ++segment) {
    EXPECT_EQ(items_in(journal, segment), 0u) << "segment " << segment;
    EXPECT_EQ(seals_in(journal, segment), 1u) << "segment " << segment << " lost its seal";
  }
  EXPECT_GT(items_in(journal, 4), 0u);
  EXPECT_GT(items_in(journal, 5), 0u);

  // A restart cannot date what came before snapshot 5: while the window
  // reaches its month, nothing is deleted by age (segment 4 stays).
  at(3, 10);
  {
    auto p = open_dated();  // recovers 5; its snapshot at open is 6, March
    EXPECT_GT(items_in(journal, 4), 0u) << "deleted the journal of February's restore point";
    at(5, 1);
    p->handle(10);
    p->snapshot();  // 7, May: the window is April and May, after the open
    p->handle(11);
  }
  for (std::uint64_t segment = 4; segment < 7; ++segment) {
    EXPECT_EQ(items_in(journal, segment), 0u) << "segment " << segment;
  }
  EXPECT_GT(items_in(journal, 7), 0u);
  auto p = open(journal, 0);
  EXPECT_EQ(p->state()->v, (std::vector<int>{0, 1, 2, 3, 9, 10, 11}));
}

// The operator prune cannot date the snapshots before the one in S3: with
// --keep-months 2 or more it deletes nothing; with 1 it prunes as usual.
TEST(AwsRetention, PruneByAgeDeletesNothingItCannotDate) {
  MotoJournal journal;
  {
    auto p = open(journal, 0);
    for (int i = 0; i < 3; ++i) {
      p->handle(i);
      p->snapshot();
    }
  }
  auto store = ops::make_aws_journal_store(journal.options(), nullptr, {});
  EXPECT_EQ(store->prune({1, 2}), 0u);
  EXPECT_GT(items_in(journal, 1), 0u);
  EXPECT_GT(store->prune({1, 1}), 0u);
  EXPECT_EQ(items_in(journal, 1), 0u);
  EXPECT_EQ(seals_in(journal, 1), 1u);
}

}  // namespace
}  // namespace prevayler::testing
