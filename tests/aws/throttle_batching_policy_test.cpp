// The DynamoDB journal's batching policy under throttling, fed throttle
// counts at chosen times: a burst halves the writes in flight once,
// sustained throttling takes them to one, quiet gives them back one per
// quiet period, and records compress from a lower size while throttled.
#include "aws/throttle_batching_policy.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace prevayler::detail {
namespace {

using Policy = ThrottleBatchingPolicy;
using std::chrono::milliseconds;

constexpr std::size_t configured_bytes = 1024;

// Feeds observations every `step` for `duration`, the throttle count
// unchanged; returns the time reached.
Policy::Clock::time_point quiet(Policy& policy, std::uint64_t throttled_total,
                                Policy::Clock::time_point now, milliseconds duration,
                                milliseconds step = milliseconds(50)) {
  const Policy::Clock::time_point end = now + duration;
  while (now < end) {
    now += step;
    policy.observe(throttled_total, now);
  }
  return now;
}

const Policy::Clock::time_point start = Policy::Clock::time_point{} + std::chrono::hours(1);

TEST(ThrottleBatchingPolicy, WithoutThrottlesAdvisesTheMaximumAndTheConfiguredThreshold) {
  Policy policy(4, configured_bytes);
  quiet(policy, 0, start, milliseconds(10'000));
  EXPECT_EQ(policy.writes_in_flight_advised(), 4u);
  EXPECT_FALSE(policy.throttled());
  EXPECT_EQ(policy.compress_records_over_bytes(), configured_bytes);
}

TEST(ThrottleBatchingPolicy, OneBurstOfThrottlesHalvesTheWritesInFlightOnce) {
  Policy policy(4, configured_bytes);
  // Every write in flight meets the same empty bucket within a few ms.
  policy.observe(1, start);
  policy.observe(3, start + milliseconds(10));
  policy.observe(4, start + Policy::throttle_burst_time - milliseconds(1));
  EXPECT_EQ(policy.writes_in_flight_advised(), 2u);
  EXPECT_TRUE(policy.throttled());
  EXPECT_EQ(policy.compress_records_over_bytes(), Policy::throttled_compress_records_over_bytes);
}

TEST(ThrottleBatchingPolicy, SustainedThrottlingTakesTheWritesInFlightToOne) {
  Policy policy(8, configured_bytes);
  std::uint64_t throttles = 0;
  auto now = start;
  for (int burst = 0; burst < 10; ++burst) {
    policy.observe(++throttles, now);
    now += Policy::throttle_burst_time;
  }
  EXPECT_EQ(policy.writes_in_flight_advised(), 1u);
  EXPECT_TRUE(policy.throttled());
}

TEST(ThrottleBatchingPolicy, QuietGivesOneWriteBackPerQuietPeriodThenEndsTheThrottledState) {
  Policy policy(4, configured_bytes);
  policy.observe(1, start);
  policy.observe(2, start + Policy::throttle_burst_time);
  ASSERT_EQ(policy.writes_in_flight_advised(), 1u);
  auto now = start + Policy::throttle_burst_time;
  const milliseconds period = Policy::throttle_quiet_time;
  now = quiet(policy, 2, now, period - milliseconds(50));
  EXPECT_EQ(policy.writes_in_flight_advised(), 1u) << "not quiet for a whole period yet";
  now = quiet(policy, 2, now, milliseconds(50));
  EXPECT_EQ(policy.writes_in_flight_advised(), 2u);
  now = quiet(policy, 2, now, period);
  EXPECT_EQ(policy.writes_in_flight_advised(), 3u);
  now = quiet(policy, 2, now, period);
  EXPECT_EQ(policy.writes_in_flight_advised(), 4u);
  EXPECT_TRUE(policy.throttled()) << "one more quiet period at the maximum ends it";
  EXPECT_EQ(policy.compress_records_over_bytes(), Policy::throttled_compress_records_over_bytes);
  now = quiet(policy, 2, now, period);
  EXPECT_EQ(policy.writes_in_flight_advised(), 4u);
  EXPECT_FALSE(policy.throttled());
  EXPECT_EQ(policy.compress_records_over_bytes(), configured_bytes);
}

TEST(ThrottleBatchingPolicy, AThrottleWhileRecoveringCutsAgain) {
  Policy policy(4, configured_bytes);
  policy.observe(1, start);  // 2
  auto now = quiet(policy, 1, start, Policy::throttle_quiet_time);
  ASSERT_EQ(policy.writes_in_flight_advised(), 3u);
  policy.observe(2, now + milliseconds(10));
  EXPECT_EQ(policy.writes_in_flight_advised(), 1u);
}

TEST(ThrottleBatchingPolicy, ThrottledThresholdNeverRaisesTheConfiguredOneNorEnablesCompression) {
  Policy higher(4, 4096);
  Policy lower(4, 512);
  Policy never(4, 0);
  for (Policy* policy : {&higher, &lower, &never}) policy->observe(1, start);
  EXPECT_EQ(higher.compress_records_over_bytes(), Policy::throttled_compress_records_over_bytes);
  EXPECT_EQ(lower.compress_records_over_bytes(), 512u);
  EXPECT_EQ(never.compress_records_over_bytes(), 0u);
}

TEST(ThrottleBatchingPolicy, OneWriteInFlightStillCompressesFromTheLowerThreshold) {
  Policy policy(1, configured_bytes);
  policy.observe(1, start);
  EXPECT_EQ(policy.writes_in_flight_advised(), 1u);
  EXPECT_TRUE(policy.throttled());
  EXPECT_EQ(policy.compress_records_over_bytes(), Policy::throttled_compress_records_over_bytes);
  quiet(policy, 1, start, Policy::throttle_quiet_time);
  EXPECT_FALSE(policy.throttled());
}

// A partition that takes `units_per_s_max` write units per second, each
// write one unit and one tick long: the policy keeps the writes in flight
// where they mostly fit, and goes back up once the limit is lifted.
TEST(ThrottleBatchingPolicy, ThrottledPartitionSettlesWhereItsWritesFitAndRecoversWhenLifted) {
  constexpr milliseconds tick{50};
  constexpr double ticks_per_s = 1000.0 / 50;
  Policy policy(4, configured_bytes);
  std::uint64_t throttles = 0;
  auto now = start;
  auto run = [&](double units_per_s_max, int ticks) {
    int throttled_ticks = 0;
    for (int i = 0; i < ticks; ++i) {
      now += tick;
      const double units_per_s =
          static_cast<double>(policy.writes_in_flight_advised()) * ticks_per_s;
      if (units_per_s > units_per_s_max) {
        ++throttles;
        ++throttled_ticks;
      }
      policy.observe(throttles, now);
    }
    return throttled_ticks;
  };
  // 50 units/s: 2 writes in flight (40/s) fit, 3 (60/s) do not.
  const int ticks = 2000;
  const int throttled_ticks = run(50, ticks);
  EXPECT_LT(throttled_ticks, ticks / 10) << "the policy kept meeting throttles";
  EXPECT_LE(policy.writes_in_flight_advised(), 3u);
  run(1e9, 5 * static_cast<int>(ticks_per_s));
  EXPECT_EQ(policy.writes_in_flight_advised(), 4u);
  EXPECT_FALSE(policy.throttled());
}

}  // namespace
}  // namespace prevayler::detail
