// Lets a test wait until another of its threads is blocked (asleep in the
// kernel, e.g. on a condition variable), instead of sleeping for a guessed
// time: to show that a call blocks, wait until its thread sleeps, check
// that its effect has not happened, then release what it waits for. Linux
// only (/proc/self/task/<tid>/stat).
#pragma once

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

namespace prevayler::testing {

// The kernel id of the calling thread.
inline pid_t current_tid() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

// The scheduler state of a thread of this process: 'R' running, 'S'
// asleep (blocked), ...; '?' when it cannot be read (the thread exited).
inline char thread_state(pid_t tid) {
  std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() ? '?' : line[paren + 2];
}

// A test that polls longer than this has hung: fail it rather than block.
inline constexpr int blocked_polls_max = 10'000'000;

// Polls until the thread whose id is published in `tid` is asleep, or
// `finished()` (the call returned: it did not block). True when asleep.
inline bool wait_until_asleep(const std::atomic<pid_t>& tid,
                              const std::function<bool()>& finished) {
  for (int poll = 0; poll < blocked_polls_max; ++poll) {
    if (finished()) return false;
    const pid_t id = tid.load();
    if (id != 0 && thread_state(id) == 'S') return true;
    std::this_thread::yield();
  }
  return false;
}

}  // namespace prevayler::testing
