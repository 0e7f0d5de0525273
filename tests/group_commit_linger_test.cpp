// The group commit after an acknowledgement waits for that write's
// producers to come back (and for those of the write before, when they are
// not all back yet), never for a lone producer, and never longer than its
// bound: a share of the write's time, at most linger_time_max.
#include "core/group_commit_linger.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace prevayler::detail {
namespace {

using namespace std::chrono_literals;
using Clock = GroupCommitLinger::Clock;

const Clock::time_point t0 = Clock::time_point{} + 1s;

TEST(GroupCommitLinger, NeverWaitsBeforeTheFirstAcknowledgement) {
  GroupCommitLinger linger;
  EXPECT_FALSE(linger.waiting(t0));
  linger.arrived();
  EXPECT_FALSE(linger.waiting(t0));
}

TEST(GroupCommitLinger, ALoneProducerNeverWaits) {
  GroupCommitLinger linger;
  for (int write = 0; write < 100; ++write) {
    const Clock::time_point now = t0 + write * 10ms;
    linger.acknowledged(1, 5ms, now);
    linger.arrived();  // its next event, which the next write carries
    EXPECT_FALSE(linger.waiting(now)) << "write " << write;
  }
}

TEST(GroupCommitLinger, WaitsUntilTheAcknowledgedProducersAreBack) {
  GroupCommitLinger linger;
  linger.acknowledged(32, 8ms, t0);
  for (int back = 0; back < 32; ++back) {
    EXPECT_TRUE(linger.waiting(t0 + 100us)) << back << " back of 32";
    linger.arrived();
  }
  EXPECT_FALSE(linger.waiting(t0 + 100us));
  // More arrivals change nothing until the next acknowledgement.
  linger.arrived();
  EXPECT_FALSE(linger.waiting(t0 + 100us));
  linger.acknowledged(64, 8ms, t0 + 10ms);
  EXPECT_TRUE(linger.waiting(t0 + 10ms));
}

TEST(GroupCommitLinger, TwoWritesAcknowledgedTogetherWaitForBothCohorts) {
  GroupCommitLinger linger;
  linger.acknowledged(40, 8ms, t0);
  for (int back = 0; back < 10; ++back) linger.arrived();
  // The next write's 24 producers are released before the first 30 of the
  // other cohort are back: one group commit for all 54.
  linger.acknowledged(24, 8ms, t0 + 100us);
  for (int back = 0; back < 54; ++back) {
    EXPECT_TRUE(linger.waiting(t0 + 200us)) << back << " back of 54";
    linger.arrived();
  }
  EXPECT_FALSE(linger.waiting(t0 + 200us));
  // Its deadline is the later write's.
  linger.acknowledged(8, 8ms, t0 + 10ms);
  linger.acknowledged(8, 2ms, t0 + 10ms + 100us);
  EXPECT_EQ(linger.deadline(), t0 + 10ms + 100us + 1ms);
}

TEST(GroupCommitLinger, ACohortThatIsBackOrLateIsNotCarriedOver) {
  GroupCommitLinger linger;
  linger.acknowledged(40, 8ms, t0);
  for (int back = 0; back < 40; ++back) linger.arrived();
  linger.acknowledged(24, 8ms, t0 + 100us);  // the first cohort is all back
  for (int back = 0; back < 24; ++back) linger.arrived();
  EXPECT_FALSE(linger.waiting(t0 + 200us));

  linger.acknowledged(40, 1ms, t0 + 10ms);  // waits until t0 + 10.5 ms at most
  linger.arrived();
  linger.acknowledged(24, 8ms, t0 + 10ms + 600us);  // that wait is over
  for (int back = 0; back < 24; ++back) {
    EXPECT_TRUE(linger.waiting(t0 + 10ms + 700us)) << back << " back of 24";
    linger.arrived();
  }
  EXPECT_FALSE(linger.waiting(t0 + 10ms + 700us));
}

TEST(GroupCommitLinger, WaitsAtMostHalfTheWriteTime) {
  GroupCommitLinger linger;
  static_assert(GroupCommitLinger::linger_write_time_percent == 50);
  linger.acknowledged(64, 1ms, t0);
  EXPECT_EQ(linger.deadline(), t0 + 500us);
  EXPECT_TRUE(linger.waiting(t0 + 499us));
  EXPECT_FALSE(linger.waiting(t0 + 500us));
}

TEST(GroupCommitLinger, WaitsAtMostTheMaximumForSlowWrites) {
  GroupCommitLinger linger;
  linger.acknowledged(64, 1s, t0);
  EXPECT_EQ(linger.deadline(), t0 + GroupCommitLinger::linger_time_max);
  EXPECT_TRUE(linger.waiting(t0 + GroupCommitLinger::linger_time_max - 1us));
  EXPECT_FALSE(linger.waiting(t0 + GroupCommitLinger::linger_time_max));
}

TEST(GroupCommitLinger, AnInstantWriteIsNotWaitedFor) {
  GroupCommitLinger linger;
  linger.acknowledged(64, 0ms, t0);
  EXPECT_FALSE(linger.waiting(t0));
  linger.acknowledged(64, -1ms, t0);  // a clock that went back: no wait either
  EXPECT_FALSE(linger.waiting(t0));
}

}  // namespace
}  // namespace prevayler::detail
