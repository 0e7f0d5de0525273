// The crash test against moto: a worker on the AWS storage is killed with
// SIGKILL at random moments; after each kill this process takes over the
// journal (sealing it) and checks that every acknowledged event is there
// exactly once and money is conserved.
//
// PREVAYLER_AWS_CRASH_KILLS sets the number of kills (default 12 in the test
// run; the full run is 100: see docs/reliability.md).
#include <gtest/gtest.h>

#include <random>

#include "aws/aws_test_storage.hpp"
#include "support/crash_driver.hpp"

namespace prevayler::testing {
namespace {

TEST(AwsCrashTest, SigkillAtRandomMomentsLosesNoAcknowledgedEvent) {
  MotoJournal journal;
  CrashRun run;
  run.kills = env_int("PREVAYLER_AWS_CRASH_KILLS", 12);
  run.seed = static_cast<unsigned>(
      env_int("PREVAYLER_CRASH_SEED", static_cast<int>(std::random_device{}() >> 1)));
  // Starting takes a few round trips to moto; kill after it, mostly.
  run.delay_ms_min = 50;
  run.delay_ms_max = 1500;
  run_crash_rounds(
      {PREVAYLER_CRASH_WORKER, "--aws", aws::testing::moto().endpoint(), journal.table,
       journal.bucket, std::to_string(run.threads)},
      [&] { return journal.open(); }, run);
}

}  // namespace
}  // namespace prevayler::testing
