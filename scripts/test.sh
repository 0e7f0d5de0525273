#!/usr/bin/env bash
# Quick start, command 2: installs what is missing, builds, and runs every test.
#
#   scripts/test.sh          the ctest suites (unit, scenario, crash, fault,
#                            takeover, simulation, moto, the consumer projects
#                            and the shared-library install) in build/, then
#                            the build without AWS and its tests
#                            (scripts/test-without-aws.sh, build-without-aws/)
#   scripts/test.sh --full   also the rest of the reliability suite, as CI runs
#                            it: the CI mutants (scripts/mutate.py --ci), the
#                            test executables under ASan+UBSan and under TSan
#                            (scripts/sanitize.sh all --fast) and 15 s of
#                            libFuzzer per target (scripts/fuzz.sh 15)
set -euo pipefail
cd "$(dirname "$0")/.."
full=0
case "${1:-}" in
  "") ;;
  --full) full=1 ;;
  *)
    echo "usage: $0 [--full]" >&2
    exit 2
    ;;
esac
if [ "$full" = 1 ]; then
  bash scripts/install-deps.sh --test --fuzz
else
  bash scripts/install-deps.sh --test
fi
venv="${PREVAYLER_MOTO_VENV:-$HOME/.cache/prevayler-cpp/moto-venv}"
[ -x "$venv/bin/moto_server" ] && export PATH="$venv/bin:$PATH"
# Through ccache when installed (scripts/ccache-env.sh).
# shellcheck source=scripts/ccache-env.sh
source scripts/ccache-env.sh
start=$SECONDS
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}"
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure --timeout 1800
echo "== ctest suites passed in $((SECONDS - start)) s"
start=$SECONDS
bash scripts/test-without-aws.sh
echo "== build without AWS and its tests passed in $((SECONDS - start)) s"
if [ "$full" = 1 ]; then
  # The test of the tests: the most important mutants (tests/mutants.json,
  # "ci") must each be killed by the suite; a survivor fails the run.
  start=$SECONDS
  python3 scripts/mutate.py --ci --build-dir build
  echo "== CI mutants killed in $((SECONDS - start)) s"
  start=$SECONDS
  bash scripts/sanitize.sh all --fast
  echo "== sanitizer runs passed in $((SECONDS - start)) s"
  start=$SECONDS
  bash scripts/fuzz.sh 15
  echo "== fuzz run passed in $((SECONDS - start)) s"
fi
