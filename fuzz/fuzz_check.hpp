// How a fuzz target reports a violated property: print it and abort, so
// libFuzzer saves the input that broke it (scripts/fuzz.sh greps for
// "property violated").
#pragma once

#include <cstdio>
#include <cstdlib>

namespace prevayler::fuzz {

[[noreturn]] inline void property_violated(const char* file, int line, const char* what) {
  std::fprintf(stderr, "%s:%d: property violated: %s\n", file, line, what);
  std::abort();
}

}  // namespace prevayler::fuzz

#define FUZZ_FAIL(what) ::prevayler::fuzz::property_violated(__FILE__, __LINE__, what)
#define FUZZ_CHECK(cond) \
  if (!(cond)) FUZZ_FAIL(#cond)
