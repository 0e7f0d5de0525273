#!/usr/bin/env bash
# The build without the AWS storage (PREVAYLER_WITH_AWS=OFF), as on a machine
# without curl, nlohmann-json and pugixml: CMake is told those packages do
# not exist, so any find_package of them fails the configure. (OpenSSL's
# libcrypto stays: the core needs it for encryption at rest.)
# Builds the library, the bank example and the core tests
# (the file storage's; not the prevayler command, which needs nlohmann-json
# for its JSON output), and runs them with the README examples and the
# file-only package consumer test. scripts/test.sh runs it after the suites.
#
#   scripts/test-without-aws.sh [BUILD_DIR]   (default: build-without-aws)
#
# With ccache installed it compiles through ccache (scripts/ccache-env.sh),
# sharing the objects of the main build (build/) whose compile commands are
# the same.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build-without-aws}"
# shellcheck source=scripts/ccache-env.sh
source scripts/ccache-env.sh
cmake -S . -B "$build" --no-warn-unused-cli -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" \
  -DPREVAYLER_WITH_AWS=OFF -DPREVAYLER_BUILD_BENCH=OFF \
  -DCMAKE_DISABLE_FIND_PACKAGE_CURL=ON \
  -DCMAKE_DISABLE_FIND_PACKAGE_nlohmann_json=ON -DCMAKE_DISABLE_FIND_PACKAGE_pugixml=ON
cmake --build "$build" -j"$(nproc)"
# consumer_subdirectory would compile the library once more for the same
# proof (a configure with the AWS packages hidden): package suffices.
ctest --test-dir "$build" --output-on-failure --timeout 1800 -E '^consumer_subdirectory$'
