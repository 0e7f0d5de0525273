// The writes allowed in flight follow the throughput: it settles low when more
// writes in flight slow the service down (a CPU-bound emulator) and high
// when they overlap latency (a real region).
#include "core/writes_in_flight_tuner.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <map>

namespace prevayler::detail {
namespace {

// Drives the tuner for `windows` measurement windows against a service
// whose acknowledged events per second depend on the writes in flight;
// returns how many windows it spent at each number of writes.
std::map<std::size_t, int> drive(WritesInFlightTuner& tuner,
                                 const std::function<double(std::size_t)>& rate, int windows) {
  std::map<std::size_t, int> time_at;
  auto now = WritesInFlightTuner::Clock::time_point{} + std::chrono::seconds(1);
  const auto tick = WritesInFlightTuner::window_time / WritesInFlightTuner::window_writes;
  for (int w = 0; w < windows; ++w) {
    const std::size_t writes = tuner.writes_in_flight_allowed();
    ++time_at[writes];
    const double events_per_tick = rate(writes) * std::chrono::duration<double>(tick).count();
    for (std::uint64_t i = 0; i < WritesInFlightTuner::window_writes; ++i) {
      now += tick;
      tuner.acknowledged(static_cast<std::uint64_t>(events_per_tick), now);
    }
  }
  return time_at;
}

TEST(WritesInFlightTuner, OneWriteAtATimeWhenTheServiceIsCpuBound) {
  WritesInFlightTuner tuner(8, 8);
  // Each extra write in flight costs throughput (smaller batches, more requests).
  auto time_at = drive(
      tuner, [](std::size_t d) { return 6000.0 / (1 + 0.3 * (d - 1)); }, 400);
  EXPECT_GE(time_at[1] + time_at[2], 300)
      << "settled at writes in flight " << tuner.writes_in_flight_allowed();
}

TEST(WritesInFlightTuner, ManyWritesInFlightWhenLatencyDominates) {
  WritesInFlightTuner tuner(8, 1);
  // Throughput grows with the writes in flight up to 6, then flattens.
  auto time_at = drive(
      tuner,
      [](std::size_t d) { return 1000.0 * static_cast<double>(std::min<std::size_t>(d, 6)); }, 400);
  EXPECT_GE(time_at[5] + time_at[6] + time_at[7] + time_at[8], 300);
}

TEST(WritesInFlightTuner, StaysAtOneWhenTheStorageAllowsOne) {
  WritesInFlightTuner tuner(1, 5);
  drive(
      tuner, [](std::size_t) { return 1000.0; }, 50);
  EXPECT_EQ(tuner.writes_in_flight_allowed(), 1u);
}

}  // namespace
}  // namespace prevayler::detail
