// Kills a worker with SIGKILL at random moments, many times, and checks
// after each restart that every acknowledged event is there exactly once,
// nothing appears out of order, and money is conserved.
//
// PREVAYLER_CRASH_KILLS sets the number of kills (default 60 in the test
// run; the full run is 1000: see docs/reliability.md). The seed is printed;
// PREVAYLER_CRASH_SEED repeats a run.
#include <gtest/gtest.h>

#include <random>

#include "prevayler/file_storage.hpp"
#include "support/crash_driver.hpp"
#include "support/temp_dir.hpp"

namespace prevayler::testing {
namespace {

TEST(CrashTest, SigkillAtRandomMomentsLosesNoAcknowledgedEvent) {
  TempDir tmp;
  const std::string dir = (tmp.path() / "data").string();
  CrashRun run;
  run.kills = env_int("PREVAYLER_CRASH_KILLS", 60);
  run.seed = static_cast<unsigned>(
      env_int("PREVAYLER_CRASH_SEED", static_cast<int>(std::random_device{}() >> 1)));
  run_crash_rounds(
      {PREVAYLER_CRASH_WORKER, dir, std::to_string(run.threads)},
      [&] {
        FileStorageOptions storage;
        storage.directory = dir;
        storage.common.warn = [](const std::string&) {};
        return make_file_storage(storage);
      },
      run);
}

}  // namespace
}  // namespace prevayler::testing
