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
  int delay_ms_min = 2;
  int delay_ms_max = 120;
};

// Uses gtest assertions; check HasFatalFailure() after it returns.
void run_crash_rounds(const std::vector<std::string>& worker_argv,
                      const std::function<std::unique_ptr<Storage>()>& open_storage,
                      const CrashRun& run);

int env_int(const char* name, int fallback);

}  // namespace prevayler::testing
