// include/prevayler/version.hpp against the project's VERSION in CMake.
#include "prevayler/version.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

TEST(Version, HeaderMatchesTheProjectVersion) {
  // PREVAYLER_PROJECT_VERSION is CMake's PROJECT_VERSION (tests/CMakeLists.txt).
  EXPECT_STREQ(PREVAYLER_VERSION, PREVAYLER_PROJECT_VERSION)
      << "bump include/prevayler/version.hpp with project(VERSION) in CMakeLists.txt";
  const std::string from_parts = std::to_string(PREVAYLER_VERSION_MAJOR) + "." +
                                 std::to_string(PREVAYLER_VERSION_MINOR) + "." +
                                 std::to_string(PREVAYLER_VERSION_PATCH);
  EXPECT_EQ(from_parts, PREVAYLER_VERSION);
}

}  // namespace
