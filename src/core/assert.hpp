// Assertions on invariants (STYLE.md, TigerStyle): on in every build type,
// because a broken invariant must stop the program loudly rather than let
// it write a journal that later replays wrongly. Cheap checks only: they
// stay in release builds.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace prevayler::detail {

[[noreturn]] inline void assertion_failed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "prevayler: invariant broken at %s:%d: %s\n", file, line, condition);
  std::abort();
}

}  // namespace prevayler::detail

#define PREVAYLER_ASSERT(condition) \
  ((condition) ? void(0) : ::prevayler::detail::assertion_failed(#condition, __FILE__, __LINE__))
