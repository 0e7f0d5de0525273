// The check most error tests make: a call must throw a given error type
// whose message names what went wrong (and often the remedy).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace prevayler::testing {

// Runs `call`, which must throw an E whose message contains each of
// `parts`; `why` says what it means when nothing is thrown. Any other
// exception propagates, and fails the test.
template <class E, class Call>
void expect_error(Call call, const std::string& why, const std::vector<std::string>& parts) {
  try {
    call();
  } catch (const E& e) {
    for (const auto& part : parts) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
    return;
  }
  ADD_FAILURE() << why;
}

}  // namespace prevayler::testing
