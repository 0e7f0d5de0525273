#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 into build-fuzz and runs each
# for a while on a scratch copy of its seed corpus (fuzz/corpus/<target>).
#
#   scripts/fuzz.sh [seconds per target, default 20]
#
# Prints the executions per target and the total; exits non-zero when a
# target crashes (the reproducer is left in build-fuzz/artifacts/<target>/,
# replay it with: build-fuzz/fuzz/<target> <file>). Environment: JOBS (build
# parallelism, default 2), FUZZ_TARGETS (space-separated subset).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds="${1:-20}"
jobs="${JOBS:-2}"
build="$root/build-fuzz"
targets="${FUZZ_TARGETS:-fuzz_journal_record fuzz_file_recovery fuzz_dynamodb_json fuzz_s3_xml}"
bash scripts/install-deps.sh --fuzz

# Through ccache when installed (scripts/ccache-env.sh).
# shellcheck source=scripts/ccache-env.sh
source scripts/ccache-env.sh
CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" \
  -DPREVAYLER_FUZZ=ON -DPREVAYLER_BUILD_TESTS=OFF -DPREVAYLER_BUILD_EXAMPLES=OFF \
  -DPREVAYLER_BUILD_BENCH=OFF -DPREVAYLER_INSTALL=OFF >/dev/null
# shellcheck disable=SC2086
cmake --build "$build" -j"$jobs" --target $targets

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

total=0
failed=0
report=()
for target in $targets; do
  # libFuzzer adds what it finds to the first corpus directory: work on a
  # copy so the checked-in seeds stay a handful of hand-made files.
  work="$build/corpus/$target"
  artifacts="$build/artifacts/$target"
  rm -rf "$work"
  mkdir -p "$work" "$artifacts"
  cp "$root/fuzz/corpus/$target"/* "$work"/ 2>/dev/null || true
  log="$build/$target.log"
  echo "== $target for ${seconds}s"
  status=0
  "$build/fuzz/$target" "$work" -max_total_time="$seconds" -print_final_stats=1 \
    -max_len=65536 -timeout=25 -rss_limit_mb=2048 -artifact_prefix="$artifacts/" \
    >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  execs="${execs:-0}"
  total=$((total + execs))
  if [ "$status" != 0 ]; then
    failed=1
    echo "!! $target FAILED (exit $status); log: $log; artifacts: $artifacts"
    grep -E "ERROR|SUMMARY|what\(\)|property violated|Test unit written" "$log" | head -20 || true
  fi
  report+=("$(printf '%-22s %12s execs  exit %s' "$target" "$execs" "$status")")
done

echo
echo "== fuzz summary (${seconds}s per target)"
printf '%s\n' "${report[@]}"
printf '%-22s %12s execs\n' "total" "$total"
exit "$failed"
