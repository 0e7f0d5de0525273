// The ThreadSanitizer canary: two std::threads increment one plain int with
// no synchronisation, a data race TSan must report. scripts/sanitize.sh
// runs it with the suppressions of the real suites and fails if it passes:
// a suppression broad enough to hide this (e.g. one matching a frame every
// std::thread stack has) hides real races in prevayler-cpp too.
#include <cstdio>
#include <thread>

namespace {

constexpr int increments_per_thread = 10'000;

int counter = 0;

void race() {
  for (int i = 0; i < increments_per_thread; ++i) {
    ++counter;
    // Keeps the compiler from folding the loop into one addition.
    asm volatile("" ::: "memory");
  }
}

}  // namespace

int main() {
  std::thread first(race);
  std::thread second(race);
  first.join();
  second.join();
  std::printf("data race canary: counter %d (TSan should have stopped this)\n", counter);
  return 0;
}
