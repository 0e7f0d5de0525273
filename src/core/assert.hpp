// Assertions on invariants (STYLE.md, TigerStyle): on in every build type
// (the project builds RelWithDebInfo, where <cassert> is off), because a
// broken invariant must stop the program loudly rather than let it write a
// journal that later replays wrongly. Only for conditions that are cheap to
// check and can never be false unless the code itself is wrong; errors of
// the world (I/O, services, configuration) are exceptions, never assertions.
//
//   PREVAYLER_ASSERT(pending_bytes_ >= bytes);
//   PREVAYLER_ASSERT(writes_in_flight_ > 0, "each write is waited once");
#pragma once

#include <cstdio>
#include <cstdlib>

namespace prevayler::detail {

[[noreturn]] inline void assertion_failed(const char* condition, const char* why, const char* file,
                                          int line) {
  std::fprintf(stderr, "prevayler: invariant broken at %s:%d: %s%s%s%s\n", file, line, condition,
               *why ? " (" : "", why, *why ? ")" : "");
  std::abort();
}

}  // namespace prevayler::detail

// The optional second argument, a string literal, says why it must hold.
#define PREVAYLER_ASSERT(condition, ...) \
  ((condition)                           \
       ? void(0)                         \
       : ::prevayler::detail::assertion_failed(#condition, "" __VA_ARGS__, __FILE__, __LINE__))
