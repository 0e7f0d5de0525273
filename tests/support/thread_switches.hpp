// Voluntary context switches of this process's threads by name (the
// library names its threads): how a test sees that a thread was woken,
// without timing anything.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

namespace prevayler::testing {

// The sum over this process's threads named `name`, or -1 when there is
// none.
inline long voluntary_switches_of(const std::string& name) {
  long total = -1;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::string comm;
    std::getline(std::ifstream(task.path() / "comm"), comm);
    if (comm != name) continue;
    std::ifstream status(task.path() / "status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0) {
        total = (total < 0 ? 0 : total) + std::stol(line.substr(24));
      }
    }
  }
  return total;
}

}  // namespace prevayler::testing
