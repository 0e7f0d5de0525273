// The group commit after an acknowledgement waits for that write's
// producers to come back, never for a lone producer, and never longer than
// its bound: a share of the write's time, at most linger_time_max.
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
