#!/usr/bin/env bash
# Builds the test suites under sanitizers (g++) and runs them.
#
#   scripts/sanitize.sh [address|thread|all] [--fast] [--filter=GTEST_FILTER]
#
#   address  -DPREVAYLER_SANITIZE=address,undefined into build-asan
#   thread   -DPREVAYLER_SANITIZE=thread into build-tsan
#   all      both (the default)
#   --fast   skips the slowest tests (the crash tests, the simulation, the bank example
#            and prevayler command tests, which spawn many sanitized processes, and the
#            two AWS tests of huge events and states): what CI runs. See docs/fuzzing.md
#            for the measured times. Each excluded pattern must match a listed test
#            (--gtest_list_tests), or the script fails: a renamed test is not silently
#            run, and a pattern that matches nothing is not silently kept.
#   --filter a gtest filter passed to both test executables (wins over --fast).
#
# Before the suites, each stage runs its canary (tests/sanitizer_canary/): a
# deliberate data race under TSan, a heap overflow under ASan, with the same
# options and suppressions as the suites. The script fails if the sanitizer
# does not report the canary: a suppression or option that hides it hides
# real errors too.
#
# After the suites, the model test (tests/model/) runs MODEL_SEEDS (100) seeds
# on each in-process storage under the same sanitizer.
#
# Environment: PREVAYLER_CRASH_KILLS (default 10 here: sanitized workers are
# slow to start), JOBS (default 2), MODEL_SEEDS, PREVAYLER_SANITIZE_BUILD_ONLY=1.
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
# Excluded by --fast, named exactly (suite.* or suite.test). The first eight
# spawn child processes (crash worker, prevayler-bank, prevayler) over
# and over, and under a sanitizer each start costs seconds; the last three
# move hundreds of megabytes (one a 1 GiB event) through instrumented code. The library code
# they exercise is covered by the other tests in-process.
fast_excluded=(
  "CrashTest.*"
  "AwsCrashTest.*"
  "Simulation.*"
  "BankExample.*"
  "BankOnAws.*"
  "OperatorCommand.*"
  "OperatorCommandAws.*"
  "OperatorCommandSetup.*"
  "AwsStorage.SixtyFourMebibyteEventIsDurableBeforeItsAcknowledgement"
  "AwsStorage.TwoHundredMegabyteStateIsSnapshottedAndRecovered"
  "FileStoragePromises.EventOverTheEntryLimitIsEventTooLargeError"
)
check_fast_patterns=0
if [ -z "$filter" ] && [ "$fast" = 1 ]; then
  filter="-$(
    IFS=:
    echo "${fast_excluded[*]}"
  )"
  check_fast_patterns=1
fi
jobs="${JOBS:-2}"
bash scripts/install-deps.sh --test
export PREVAYLER_CRASH_KILLS="${PREVAYLER_CRASH_KILLS:-10}"

# moto_server for the AWS tests, from the venv scripts/install-deps.sh makes.
venv="${PREVAYLER_MOTO_VENV:-$HOME/.cache/prevayler-cpp/moto-venv}"
[ -x "$venv/bin/moto_server" ] && export PATH="$venv/bin:$PATH"

summary=()
failed=0

# list_tests <executable>: one "Suite.Test" a line (parameterised tests
# with their prefix and suffix, as gtest filters see them).
list_tests() {
  "$1" --gtest_list_tests | awk '
    /^[^ ]/ { suite = $1; next }
    /^  / { print suite $1 }'
}

# check_fast_excluded <build dir>: every --fast pattern matches at least one
# test of the two executables, else the filter has gone stale.
check_fast_excluded() {
  local dir="$1" names pattern name matched stale=0
  names=$(list_tests "$dir/tests/prevayler_tests") || return 1
  names+=$'\n'$(list_tests "$dir/tests/prevayler_aws_tests") || return 1
  for pattern in "${fast_excluded[@]}"; do
    matched=0
    while IFS= read -r name; do
      # Unquoted on the right: a glob, like gtest's * and ?.
      # shellcheck disable=SC2053
      if [[ $name == $pattern ]]; then
        matched=1
        break
      fi
    done <<<"$names"
    if [ "$matched" = 0 ]; then
      echo "sanitize.sh: --fast excludes '$pattern', which matches no test of" \
        "$dir/tests/prevayler_tests or prevayler_aws_tests: rename it in fast_excluded" >&2
      stale=1
    fi
  done
  return "$stale"
}

# run_canary <build dir> <executable> <report> <env...>: the canary must
# fail and print the sanitizer's report.
run_canary() {
  local dir="$1" exe="$2" report="$3" output status=0
  shift 3
  echo "== $dir/$exe (must be reported: $report)"
  output=$(env "$@" "$dir/tests/$exe" 2>&1) || status=$?
  if [ "$status" != 0 ] && grep -q "$report" <<<"$output"; then
    summary+=("$(printf '%-12s %-22s %5s   reported' "$dir" "canary $exe" "")")
  else
    printf '%s\n' "$output" >&2
    echo "sanitize.sh: the canary $exe exited $status without '$report':" \
      "the sanitizer (or its options/suppressions) hides real errors" >&2
    summary+=("$(printf '%-12s %-22s %5s   NOT reported' "$dir" "canary $exe" "")")
    failed=1
  fi
}

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

# run_model <build dir> <env...>: the model test's in-process storages, a
# few hundred seeds each: several instances, pipelined writes, retention and
# crashes on real threads, where the races would be.
run_model() {
  local dir="$1"
  shift
  local storage start status
  for storage in file aws-sim; do
    start=$SECONDS
    status=0
    echo "== $dir/prevayler_model_tests --storage=$storage"
    env "$@" "$dir/tests/prevayler_model_tests" --storage="$storage" --seeds="${MODEL_SEEDS:-100}" \
      --ops=20 --gtest_filter='ModelTest.*' || status=$?
    summary+=("$(printf '%-12s %-22s %5ss  exit %s' "$dir" "model $storage" \
      "$((SECONDS - start))" "$status")")
    [ "$status" = 0 ] || failed=1
  done
}

# Through ccache when installed (scripts/ccache-env.sh).
# shellcheck source=scripts/ccache-env.sh
source scripts/ccache-env.sh

# build <dir> <sanitizers> <canary target>
build() {
  local dir="$1" sanitize="$2" canary="$3" start=$SECONDS
  CC=gcc CXX=g++ cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" \
    -DPREVAYLER_SANITIZE="$sanitize" -DPREVAYLER_BUILD_BENCH=OFF >/dev/null
  cmake --build "$dir" -j"$jobs" --target prevayler_tests prevayler_aws_tests \
    prevayler_model_tests "$canary"
  summary+=("$(printf '%-12s %-22s %5ss' "$dir" "build" "$((SECONDS - start))")")
}

if [ "$mode" = address ] || [ "$mode" = all ]; then
  build build-asan "address,undefined" sanitizer_canary_heap_overflow
  if [ "$check_fast_patterns" = 1 ]; then check_fast_excluded build-asan || exit 1; fi
  if [ -z "${PREVAYLER_SANITIZE_BUILD_ONLY:-}" ]; then
    # Child processes (crash worker, bank example) inherit these options.
    asan_env=(
      "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
      "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1"
    )
    run_canary build-asan sanitizer_canary_heap_overflow \
      "ERROR: AddressSanitizer: heap-buffer-overflow" "${asan_env[@]}"
    run_suite build-asan prevayler_tests "${asan_env[@]}"
    run_suite build-asan prevayler_aws_tests "${asan_env[@]}"
    run_model build-asan "${asan_env[@]}"
  fi
fi

if [ "$mode" = thread ] || [ "$mode" = all ]; then
  build build-tsan thread sanitizer_canary_data_race
  if [ "$check_fast_patterns" = 1 ]; then check_fast_excluded build-tsan || exit 1; fi
  if [ -z "${PREVAYLER_SANITIZE_BUILD_ONLY:-}" ]; then
    tsan_env=("TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$root/scripts/tsan.supp")
    run_canary build-tsan sanitizer_canary_data_race \
      "WARNING: ThreadSanitizer: data race" "${tsan_env[@]}"
    run_suite build-tsan prevayler_tests "${tsan_env[@]}"
    run_suite build-tsan prevayler_aws_tests "${tsan_env[@]}"
    run_model build-tsan "${tsan_env[@]}"
  fi
fi

echo
echo "== sanitizer summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
