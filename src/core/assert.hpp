// PREVAYLER_ASSERT: an invariant check that stays on in release builds. A
// broken invariant stops the program loudly, naming the condition and the
// line, instead of corrupting a journal or a live state quietly; the checks
// are a few comparisons on paths that already take a lock or do I/O.
#pragma once

#include <cstdio>
#include <cstdlib>

#define PREVAYLER_ASSERT(condition)                                                          \
  do {                                                                                       \
    if (!(condition)) {                                                                      \
      std::fprintf(stderr, "prevayler: invariant broken at %s:%d: %s\n", __FILE__, __LINE__, \
                   #condition);                                                              \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)
