#!/usr/bin/env bash
# Builds the test suites under sanitizers (g++) and runs them.
#
#   scripts/sanitize.sh [address|thread|all] [--fast] [--filter=GTEST_FILTER]
#
#   address  -DPREVAYLER_SANITIZE=address,undefined into build-asan
#   thread   -DPREVAYLER_SANITIZE=thread into build-tsan
#   all      both (the default)
#   --fast   skips the slowest tests (the crash test, the simulation, the bank example and
#            prevayler-aws tool tests, which spawn many sanitized processes):
#            what CI runs. See docs/fuzzing.md for the measured times.
#   --filter a gtest filter passed to both test executables (wins over --fast).
#
# Environment: PREVAYLER_CRASH_KILLS (default 10 here: sanitized workers are
# slow to start), JOBS (default 2), PREVAYLER_SANITIZE_BUILD_ONLY=1.
# Exits non-zero when a build fails or a sanitizer (or a test) reports.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

mode=all
filter=""
fast=0
for arg in "$@"; do
  case "$arg" in
    address | thread | all) mode="$arg" ;;
    --fast) fast=1 ;;
    --filter=*) filter="${arg#--filter=}" ;;
    *)
      echo "usage: $0 [address|thread|all] [--fast] [--filter=GTEST_FILTER]" >&2
      exit 2
      ;;
  esac
done
if [ -z "$filter" ] && [ "$fast" = 1 ]; then
  # These spawn child processes (crash worker, prevayler-bank, prevayler-aws)
  # over and over; under a sanitizer each start costs seconds. The library
  # code they exercise is covered by the other tests in-process.
  filter="-CrashTest.*:AwsCrashTest.*:Simulation.*:*BankExample*:*BankAws*:*ToolTest*:*PrevaylerAwsTool*:*TwoHundred*:*SixtyFour*"
fi
jobs="${JOBS:-2}"
bash scripts/install-deps.sh --test
export PREVAYLER_CRASH_KILLS="${PREVAYLER_CRASH_KILLS:-10}"

# moto_server for the AWS tests, from the venv scripts/install-deps.sh makes.
venv="${PREVAYLER_MOTO_VENV:-$HOME/.cache/prevayler-cpp/moto-venv}"
[ -x "$venv/bin/moto_server" ] && export PATH="$venv/bin:$PATH"

summary=()
failed=0

# run_suite <build dir> <executable> <env...>
run_suite() {
  local dir="$1" exe="$2"
  shift 2
  local args=()
  [ -n "$filter" ] && args+=("--gtest_filter=$filter")
  local start=$SECONDS status=0
  echo "== $dir/$exe ${args[*]:-}"
  env "$@" "$dir/tests/$exe" "${args[@]}" || status=$?
  local took=$((SECONDS - start))
  summary+=("$(printf '%-12s %-22s %5ss  exit %s' "$dir" "$exe" "$took" "$status")")
  [ "$status" = 0 ] || failed=1
}

# build <dir> <sanitizers>
build() {
  local dir="$1" sanitize="$2" start=$SECONDS
  CC=gcc CXX=g++ cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPREVAYLER_SANITIZE="$sanitize" -DPREVAYLER_BUILD_BENCH=OFF >/dev/null
  cmake --build "$dir" -j"$jobs" --target prevayler_tests prevayler_aws_tests
  summary+=("$(printf '%-12s %-22s %5ss' "$dir" "build" "$((SECONDS - start))")")
}

if [ "$mode" = address ] || [ "$mode" = all ]; then
  build build-asan "address,undefined"
  if [ -z "${PREVAYLER_SANITIZE_BUILD_ONLY:-}" ]; then
    # Child processes (crash worker, bank example) inherit these options.
    asan_env=(
      "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
      "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1"
    )
    run_suite build-asan prevayler_tests "${asan_env[@]}"
    run_suite build-asan prevayler_aws_tests "${asan_env[@]}"
  fi
fi

if [ "$mode" = thread ] || [ "$mode" = all ]; then
  build build-tsan thread
  if [ -z "${PREVAYLER_SANITIZE_BUILD_ONLY:-}" ]; then
    tsan_env=("TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$root/scripts/tsan.supp")
    run_suite build-tsan prevayler_tests "${tsan_env[@]}"
    run_suite build-tsan prevayler_aws_tests "${tsan_env[@]}"
  fi
fi

echo
echo "== sanitizer summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
