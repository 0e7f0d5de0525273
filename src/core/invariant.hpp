// Assertions on invariants that stay on in every build type (the project
// builds RelWithDebInfo, where <cassert> is off): a broken invariant stops
// the program loudly instead of corrupting a journal quietly (TigerStyle).
// Only for conditions that are cheap to check and can never be false
// unless the code itself is wrong; errors of the world (I/O, services,
// configuration) are exceptions, never invariants.
#pragma once

#include <cstdio>
#include <cstdlib>

#define PREVAYLER_INVARIANT(condition, why)                                                       \
  do {                                                                                            \
    if (!(condition)) {                                                                           \
      std::fprintf(stderr, "prevayler: invariant broken at %s:%d: %s (%s)\n", __FILE__, __LINE__, \
                   #condition, why);                                                              \
      std::abort();                                                                               \
    }                                                                                             \
  } while (false)
