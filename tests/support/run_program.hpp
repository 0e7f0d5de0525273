// Runs a program to completion with stdin from /dev/null, capturing its
// stdout and stderr separately: the tests of the operator command and of
// other programs' exit codes and messages.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace prevayler::testing {

struct RunResult {
  int status = -1;  // exit status, or 128 + signal
  std::string out;
  std::string err;
};

using Environment = std::vector<std::pair<std::string, std::string>>;

// Runs argv (searched on PATH). The child gets this process's environment
// without any AWS_* variable, plus `environment`: passing it to the child
// instead of setenv() leaves the test process (and its other threads) alone.
RunResult run(const std::vector<std::string>& argv, const Environment& environment = {});

// "exit N", stdout and stderr, for assertion messages.
std::string describe(const RunResult& r);

}  // namespace prevayler::testing
