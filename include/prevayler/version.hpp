// The version of prevayler-cpp: the same as the VERSION in project() of the
// top CMakeLists.txt (bump both together; tests/version_test.cpp checks they
// agree). The same number is the CMake package version and the pkg-config
// Version.
#pragma once

#define PREVAYLER_VERSION_MAJOR 0
#define PREVAYLER_VERSION_MINOR 1
#define PREVAYLER_VERSION_PATCH 0
#define PREVAYLER_VERSION "0.1.0"
