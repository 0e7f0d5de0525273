#!/usr/bin/env bash
# Runs the AWS benchmarks against a moto_server started on a free loopback
# port: our library (group commit on and off) and the seed's algorithm with
# boto3, in the same run. Usage: bench/run_aws_bench.sh [build-dir] [seconds]
set -euo pipefail
build=${1:-build}
seconds=${2:-5}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp)
moto_server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  sleep 0.1
done
endpoint="http://127.0.0.1:$port"
"$build/bench/prevayler_aws_bench" --endpoint "$endpoint" --seconds "$seconds"
for threads in 1 64; do
  python3 "$(dirname "$0")/seed_boto3.py" --endpoint "$endpoint" --table "seed-$threads" \
    --threads "$threads" --seconds "$seconds"
done
