// The crash-test loop shared by the file and AWS crash tests: run the
// worker, SIGKILL it at a random moment, recover in this process, check.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "prevayler/storage.hpp"

namespace prevayler::testing {

struct CrashRun {
  int kills = 60;
  unsigned seed = 0;
  int threads = 8;
  // Odd rounds count the kill's delay from the worker's start (a kill may
  // come during its recovery); even rounds from its first acknowledgement,
  // so that a slow start (fsync under load, a sanitizer build) cannot leave
  // every round killed before anything was acknowledged.
  int delay_ms_min = 2;
  int delay_ms_max = 120;
  // An even round that sees no acknowledgement within this kills anyway.
  int first_ack_wait_ms_max = 30'000;
};

// Uses gtest assertions; check HasFatalFailure() after it returns.
void run_crash_rounds(const std::vector<std::string>& worker_argv,
                      const std::function<std::unique_ptr<Storage>()>& open_storage,
                      const CrashRun& run);

int env_int(const char* name, int fallback);

}  // namespace prevayler::testing
