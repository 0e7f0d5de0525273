// Two hosts on a shared filesystem, played in one process (the flock that
// protects one host is skipped): B opens the directory while A is under
// load. From then on A gets nothing acknowledged, and every event A or B
// acknowledged is in B's state. Repeated with random timing.
//
// PREVAYLER_TAKEOVER_ROUNDS sets the rounds (default 20).
#include <gtest/gtest.h>

#include <random>

#include "file/file_storage_impl.hpp"
#include "support/crash_driver.hpp"
#include "support/takeover_driver.hpp"
#include "support/temp_dir.hpp"

namespace prevayler::testing {
namespace {

TEST(FileTakeover, SecondHostTakesOverAndLosesNothing) {
  const int rounds = env_int("PREVAYLER_TAKEOVER_ROUNDS", 20);
  const auto seed = static_cast<unsigned>(std::random_device{}() >> 1);
  std::cout << "file takeover: " << rounds << " rounds, seed " << seed << "\n";
  std::mt19937 rng(seed);
  for (int round = 0; round < rounds; ++round) {
    TempDir tmp;
    run_takeover_round(
        [&] {
          TakeoverPrevayler::Options o;
          o.business = crash::apply;
          o.initial_state = crash::initial_bank;
          FileStorageOptions so;
          so.directory = tmp.path();
          so.common.warn = [](const std::string&) {};
          o.storage =
              detail::make_file_storage(so, detail::posix_file_system(), /*lock_directory=*/false);
          return std::make_unique<TakeoverPrevayler>(std::move(o));
        },
        rng, TakeoverRound{}, "round " + std::to_string(round) + ", seed " + std::to_string(seed));
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace prevayler::testing
