// Two writers on one journal: B opens while A is under load. From then on A
// gets nothing acknowledged (SupersededError), and every event A or B
// acknowledged is in B's state. Repeated with random timing.
//
// PREVAYLER_TAKEOVER_ROUNDS sets the rounds (default 6).
#include <gtest/gtest.h>

#include <random>

#include "aws/aws_test_storage.hpp"
#include "support/crash_driver.hpp"
#include "support/takeover_driver.hpp"

namespace prevayler::testing {
namespace {

TEST(Takeover, SecondWriterTakesOverAndLosesNothing) {
  const int rounds = env_int("PREVAYLER_TAKEOVER_ROUNDS", 6);
  const auto seed = static_cast<unsigned>(std::random_device{}() >> 1);
  std::cout << "takeover: " << rounds << " rounds, seed " << seed << "\n";
  std::mt19937 rng(seed);
  TakeoverRound timing;
  timing.delay_ms_min = 20;
  timing.delay_ms_max = 400;
  timing.snapshot_interval_ms = 30;
  timing.b_events = 20;
  for (int round = 0; round < rounds; ++round) {
    MotoJournal journal;
    run_takeover_round(
        [&] {
          TakeoverPrevayler::Options o;
          o.business = crash::apply;
          o.initial_state = crash::initial_bank;
          o.storage = journal.open();
          return std::make_unique<TakeoverPrevayler>(std::move(o));
        },
        rng, timing, "round " + std::to_string(round) + ", seed " + std::to_string(seed));
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace prevayler::testing
