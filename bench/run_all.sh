#!/usr/bin/env bash
# The whole benchmark suite (issue 5), every scenario against its baseline in
# the same run:
#   1. the AWS journal against moto_server, 1/8/64 producers, direct and
#      through prevayler_latency_proxy (+5 ms), vs the seed's algorithm in
#      boto3 and our library with batching off (1 producer also in
#      alternated rounds, and 1 vs 64 producers in alternated rounds on moto
#      directly); then through the latency
#      proxy's DynamoDB capacity model (--model dynamodb), ours vs the seed,
#      writes and the replay of 100k events vs the seed's paged Query;
#   3. the file journal, fsync on, 1/64 producers, vs a bare write+fdatasync
#      loop, SQLite (WAL, synchronous=FULL) and Redis (appendfsync always);
#   4. recovery: file replay of 1M events, moto replay of 100k events vs a
#      boto3 paged Query of the seed's layout, snapshot save/load of 1 GB;
#   5. state() reads per second while writers run;
#   6. cost vs event size and snapshot time vs state size (PNG plots).
# Writes BENCHMARKS.md at the repository root and PNGs into docs/bench/.
#
#   bash bench/run_all.sh [--quick]
#
# --quick: short runs and small sizes (a smoke test, < 5 minutes once built).
# Installs what is missing (Debian packages, moto_server), builds the bench
# targets (Release, build-bench/), starts moto_server, redis-server and the
# latency proxy on free loopback ports and stops them at the end.
# Environment: PREVAYLER_BENCH_BUILD (build dir, default build-bench),
# PREVAYLER_BENCH_MAX_IN_FLIGHT (passed to prevayler_aws_bench
# --max-in-flight; default: the library's default).
set -euo pipefail

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    *)
      echo "usage: bash bench/run_all.sh [--quick]" >&2
      exit 2
      ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${PREVAYLER_BENCH_BUILD:-build-bench}
results="$build/bench-results"
data="$build/bench-data" # fsync runs: on the repository's disk
plots="docs/bench"
started=$(date +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

if [ "$quick" = 1 ]; then
  file_seconds=1
  aws_seconds=2
  size_seconds=1
  reads_seconds=1
  file_replay_events=100000
  moto_replay_events=5000
  snapshot_mb=64
  snapshot_sizes=(16 64) # includes snapshot_mb
else
  file_seconds=5
  aws_seconds=5
  size_seconds=3
  reads_seconds=5
  file_replay_events=1000000
  moto_replay_events=100000
  snapshot_mb=1024
  snapshot_sizes=(16 64 256 1024) # includes snapshot_mb
fi
event_sizes=(100 1024 10240 102400 1048576)
delay_ms=5

# --- dependencies -----------------------------------------------------------
bash scripts/install-deps.sh --test --bench
venv="${PREVAYLER_MOTO_VENV:-$HOME/.cache/prevayler-cpp/moto-venv}"
moto=$(command -v moto_server || echo "$venv/bin/moto_server")
python=python3
python3 -c 'import boto3' 2>/dev/null || python="$venv/bin/python"
# redis-server may live in /usr/sbin, off a non-root PATH.
redis_server=$(command -v redis-server || echo /usr/bin/redis-server)

# --- build ------------------------------------------------------------------
targets=(prevayler_journal_bench prevayler_aws_bench prevayler_latency_proxy prevayler_sqlite_bench
  prevayler_snapshot_bench)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPREVAYLER_BUILD_TESTS=OFF \
  -DPREVAYLER_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j2 --target "${targets[@]}"
bin="$build/bench"

rm -rf "$results" "$data"
mkdir -p "$results" "$data" "$plots"
: >"$results/results.txt"
: >"$results/commands.txt"
raw="$results/raw.log"

# --- services ---------------------------------------------------------------
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$data"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_for() { # description, command...
  local what=$1
  shift
  for _ in $(seq 300); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$what did not start" >&2
  exit 1
}

moto_port=$(free_port)
"$moto" -H 127.0.0.1 -p "$moto_port" >"$results/moto.log" 2>&1 &
pids+=($!)
wait_for moto_server curl -s -o /dev/null "http://127.0.0.1:$moto_port/"
direct="http://127.0.0.1:$moto_port"

"$bin/prevayler_latency_proxy" --listen 127.0.0.1:0 --upstream "127.0.0.1:$moto_port" \
  --delay-ms "$delay_ms" >"$results/proxy.log" 2>&1 &
pids+=($!)
wait_for prevayler_latency_proxy grep -q listening "$results/proxy.log"
proxy_port=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$results/proxy.log")
delayed="http://127.0.0.1:$proxy_port"

redis_port=$(free_port)
mkdir -p "$data/redis"
"$redis_server" --bind 127.0.0.1 --port "$redis_port" --dir "$root/$data/redis" \
  --appendonly yes --appendfsync always --save "" --daemonize no >"$results/redis.log" 2>&1 &
pids+=($!)
wait_for redis-server redis-cli -p "$redis_port" ping

# --- helpers ----------------------------------------------------------------
# run PREFIX COMMAND...: runs a benchmark, records the command, and keeps its
# `name value unit` lines under PREFIX in results.txt.
run() {
  local prefix=$1
  shift
  echo "$*" >>"$results/commands.txt"
  echo "+ $*" | tee -a "$raw"
  "$@" 2>&1 | tee -a "$raw" | awk -v p="$prefix" '!/^#/ && NF == 3 && $2 ~ /^[-+0-9.eE]+$/ { print p $0 }' \
    >>"$results/results.txt"
}

# Redis: calibrate -n so each run lasts about SECONDS.
redis_run() { # clients seconds [prefix, default file.]
  local clients=$1 seconds=$2 prefix=${3:-file.} probe rps n line
  probe=$(redis-benchmark -h 127.0.0.1 -p "$redis_port" -t set -d 100 -c "$clients" -n 500 --csv |
    tail -1 | cut -d, -f2 | tr -d '"')
  rps=${probe%.*}
  n=$((rps * ${seconds%.*}))
  [ "$n" -lt 1000 ] && n=1000
  local cmd=(redis-benchmark -h 127.0.0.1 -p "$redis_port" -t set -d 100 -c "$clients" -n "$n" --csv)
  echo "${cmd[*]}" >>"$results/commands.txt"
  echo "+ ${cmd[*]}" | tee -a "$raw"
  line=$("${cmd[@]}" | tee -a "$raw" | tail -1 | tr -d '"')
  # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  echo "$line" | awk -F, -v c="$clients" -v p="$prefix" '{
    printf "%sredis.c%s.events_per_s %s events/s\n", p, c, $2
    printf "%sredis.c%s.p50_us %g us\n", p, c, $5 * 1000
    printf "%sredis.c%s.p99_us %g us\n", p, c, $7 * 1000 }' >>"$results/results.txt"
}

# --- 1. AWS journal vs moto (direct and +5 ms) -------------------------------
aws_extra=()
if [ -n "${PREVAYLER_BENCH_MAX_IN_FLIGHT:-}" ]; then
  aws_extra=(--max-in-flight "$PREVAYLER_BENCH_MAX_IN_FLIGHT")
fi
for path in direct delayed; do
  endpoint=$direct
  [ "$path" = delayed ] && endpoint=$delayed
  run "aws.$path." "$bin/prevayler_aws_bench" --endpoint "$endpoint" --seconds "$aws_seconds" \
    --producers 1,8,64 --table-prefix "bench-$path" "${aws_extra[@]}"
  # The same 64 producers with handle_async(), 16 events in flight each: not
  # the target's closed loop (one event per producer until acknowledged).
  run "aws.$path." "$bin/prevayler_aws_bench" --endpoint "$endpoint" --seconds "$aws_seconds" \
    --batching on --producers 64 --async-window 16 --table-prefix "bench-async-$path" \
    "${aws_extra[@]}"
  # 1 producer with batching off and on, run next to each other in 3 rounds:
  # moto's speed drifts over minutes more than the two differ.
  run "aws.$path." "$bin/prevayler_aws_bench" --endpoint "$endpoint" --seconds "$aws_seconds" \
    --producers 0 --alternate 3 --table-prefix "bench-alt-$path" "${aws_extra[@]}"
  # Issue 15's 64 producers vs 64 x the 1-producer rate, from neighbours:
  # 1 and 64 producers in 3 rounds, the order swapped every round (the
  # --producers 1,8,64 runs above are a minute's drift apart). Its target
  # is on moto directly.
  if [ "$path" = direct ]; then
    run "aws.$path." "$bin/prevayler_aws_bench" --endpoint "$endpoint" --seconds "$aws_seconds" \
      --batching on --producers 0 --scaling-rounds 3 --table-prefix "bench-scale-$path" \
      "${aws_extra[@]}"
  fi
  for threads in 1 8 64; do
    run "aws.$path." "$python" bench/seed_boto3.py --endpoint "$endpoint" \
      --table "seed-$path-$threads" --threads "$threads" --seconds "$aws_seconds"
  done
done

# --- 1b. through the DynamoDB capacity model --------------------------------
# prevayler_latency_proxy --model dynamodb (docs/benchmarks.md): 5 ms median,
# 20 ms p99 for the whole round trip, moto's own time inside it
# (--latency-covers upstream), 1,000 write units/s per partition, text
# events. Guarded: a failure here is reported and the rest of the suite
# still runs.
capacity_model_run() {
  local median_ms=5 p99_ms=20
  "$bin/prevayler_latency_proxy" --model dynamodb --listen 127.0.0.1:0 \
    --upstream "127.0.0.1:$moto_port" --latency-median-ms "$median_ms" \
    --latency-p99-ms "$p99_ms" --seed 1 --latency-covers upstream \
    >"$results/model-proxy.log" 2>&1 &
  local proxy=$!
  pids+=("$proxy")
  # Not wait_for: it ends the whole suite when a service does not start.
  local tries
  for tries in $(seq 300); do
    grep -q listening "$results/model-proxy.log" && break
    [ "$tries" = 300 ] && return 1
    sleep 0.1
  done
  local port
  port=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$results/model-proxy.log")
  # bench/report.py says which latency the figures were measured with.
  {
    echo "aws.model.latency_median_ms $median_ms ms"
    echo "aws.model.latency_p99_ms $p99_ms ms"
    echo "aws.model.latency_covers_upstream 1 flag"
  } >>"$results/results.txt"
  run "aws.model." "$bin/prevayler_aws_bench" --endpoint "http://127.0.0.1:$port" \
    --seconds "$aws_seconds" --producers 1,8,64 --batching on --event-content text \
    --table-prefix bench-model "${aws_extra[@]}"
  for threads in 1 8 64; do
    run "aws.model." "$python" bench/seed_boto3.py --endpoint "http://127.0.0.1:$port" \
      --table "seed-model-$threads" --threads "$threads" --seconds "$aws_seconds" \
      --event-content text
  done
  # Replay through the model (issue 15: within the read limit, >= 10x the
  # seed's paged Query): ours (table bench-model-replay, written by 64
  # producers through the model) vs the seed's Query of the same number of
  # one-item events, seeded on moto directly (untimed; through the model its
  # write units would take minutes); read units from the proxy's counters.
  run "aws.model." "$bin/prevayler_aws_bench" --endpoint "http://127.0.0.1:$port" --batching on \
    --producers 0 --replay-events "$moto_replay_events" --event-content text \
    --table-prefix bench-model "${aws_extra[@]}"
  run "aws.model." "$python" bench/seed_replay_boto3.py --endpoint "http://127.0.0.1:$port" \
    --seed-endpoint "$direct" --table seed-model-replay --items "$moto_replay_events"
  # SIGTERM makes the proxy print its counters (model.TABLE.*) and exit.
  kill -TERM "$proxy"
  wait "$proxy" || true
  awk '/^model\./ && NF == 3 { print "aws." $0 }' "$results/model-proxy.log" >>"$results/results.txt"
}
capacity_model_run || echo "the capacity model run failed (see $results/model-proxy.log)" >&2

# --- 3. file journal: prevayler vs bare loop, SQLite, Redis -------------------
run "file." "$bin/prevayler_journal_bench" --bare --producers 1,64 --alternate 3 \
  --seconds "$file_seconds" --dir "$data/journal"
run "file." "$bin/prevayler_sqlite_bench" --threads 1,64 --seconds "$file_seconds" \
  --dir "$data/sqlite"
redis_run 1 "$file_seconds"
redis_run 64 "$file_seconds"
# Issue 15's "64 producers vs Redis 64 clients >= 2x" from neighbours: both
# group-commit on the same disk, whose fdatasync time drifts between minutes
# (Redis 28k and 50k events/s in two runs of this script on one machine),
# so 3 rounds of the two, the order swapped every round; report.py takes
# the verdict from the median.
redis_rounds=3
for k in $(seq "$redis_rounds"); do
  for slot in 1 2; do
    if [ $(((k + slot) % 2)) = 0 ]; then
      run "file.redis_rounds.r$k." "$bin/prevayler_journal_bench" --producers 64 \
        --seconds "$file_seconds" --dir "$data/redis-rounds"
    else
      redis_run 64 "$file_seconds" "file.redis_rounds.r$k."
    fi
  done
done
echo "file.redis_rounds.rounds $redis_rounds rounds" >>"$results/results.txt"

# --- 4. recovery and snapshots ------------------------------------------------
run "recovery.file." "$bin/prevayler_journal_bench" --no-prevayler \
  --replay-events "$file_replay_events" --dir "$data/replay"
run "recovery.moto." "$bin/prevayler_aws_bench" --endpoint "$direct" --batching on --producers 0 \
  --replay-events "$moto_replay_events" --table-prefix bench-replay "${aws_extra[@]}"
run "recovery.moto." "$python" bench/seed_replay_boto3.py --endpoint "$direct" \
  --table seed-replay --items "$moto_replay_events"
for mb in "${snapshot_sizes[@]}"; do
  run "snapshot.mb$mb." "$bin/prevayler_snapshot_bench" --mb "$mb" --dir "$data/snapshot"
done

# --- 5. reads while writers run ----------------------------------------------
run "reads." "$bin/prevayler_journal_bench" --producers 4 --readers 2 --seconds "$reads_seconds" \
  --dir "$data/reads"
run "reads_cached." "$bin/prevayler_journal_bench" --producers 4 --readers 2 --read-with read \
  --seconds "$reads_seconds" --dir "$data/reads"

# --- 6. cost vs event size ----------------------------------------------------
# Journal compression off: the events are one repeated byte, which zstd
# would shrink to nothing (docs/benchmarks.md has compression figures).
for bytes in "${event_sizes[@]}"; do
  run "size.b$bytes." "$bin/prevayler_journal_bench" --producers 1,64 --event-bytes "$bytes" \
    --compress-over 0 --seconds "$size_seconds" --dir "$data/size"
done

# Issue 15's 1 MiB target: 64 vs 1 producer in rounds of swapped order after a
# warm-up (the first run of a process pays for fresh page-cache memory).
run "large." "$bin/prevayler_journal_bench" --producers 1,64 --rounds 3 --event-bytes 1048576 \
  --compress-over 0 --seconds "$size_seconds" --dir "$data/large"

# --- report -------------------------------------------------------------------
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "mode: $([ "$quick" = 1 ] && echo 'quick (--quick: short runs, small sizes)' || echo full)"
  echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  echo "cores: $(nproc)"
  echo "ram: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "kernel: $(uname -sr)"
  dev=$(findmnt -no SOURCE -T "$root/$build")
  echo "disk: $dev ($(findmnt -no FSTYPE -T "$root/$build"), $(lsblk -dno SIZE,ROTA,MODEL "$dev" 2>/dev/null |
    awk '{ printf "%s, %s", $1, ($2 == 1 ? "rotational" : "non-rotational"); $1 = $2 = ""; if ($0 ~ /[^ ]/) printf ",%s", $0 }'))"
  echo "load average before the run: $load_before"
  echo "g++: $(g++ --version | head -1)"
  echo "cmake: $(cmake --version | head -1)"
  echo "moto: $("$python" -c 'import moto; print(moto.__version__)' 2>/dev/null || echo '?')"
  echo "boto3: $("$python" -c 'import boto3; print(boto3.__version__)' 2>/dev/null || echo '?')"
  echo "redis: $("$redis_server" --version | sed 's/^Redis server //')"
  echo "sqlite: $(sed -n 's/^# sqlite \([^,]*\),.*/\1/p' "$raw" | head -1)"
  echo "gnuplot: $(gnuplot --version)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes in the working tree)')"
  echo "duration: $(($(date +%s) - started)) s"
  echo "command: bash bench/run_all.sh $*"
  echo "snapshot_mb: $snapshot_mb"
} >"$results/meta.txt"
python3 bench/report.py --results "$results" --out BENCHMARKS.md --plots "$plots"
echo "wrote BENCHMARKS.md and $plots/*.png ($(($(date +%s) - started)) s)"
