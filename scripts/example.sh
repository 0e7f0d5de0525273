#!/usr/bin/env bash
# Quick start, command 1: installs what is missing, builds, and runs the bank
# example on the file storage (the embedded default). A scripted session runs
# twice, the second run finding the balances of the first; then, on a
# terminal, the bank stays open for your own commands (ledger in ./bank-data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target prevayler-bank
bank=build/examples/bank/prevayler-bank
demo=build/demo-bank-data
rm -rf "$demo"

# One output line per command, printed beside it.
session() {
  local out
  out=$(printf '%s\n' "$@" | "$bank" --dir "$demo")
  paste -d ' ' <(printf '  %-26s->\n' "$@") <(printf '%s\n' "$out")
}
echo "== first run (ledger in $demo)"
session "deposit alice 10000" "deposit bob 2500" "transfer alice bob 1234" \
  "withdraw bob 999999" "snapshot" "deposit carol 42" "total"
echo "== second run: the balances survived the restart"
session "balance alice" "balance bob" "balance carol" "total"

if [ -t 0 ]; then
  echo "== your turn (ledger in ./bank-data; quit or Ctrl-D to leave)"
  exec "$bank" --dir ./bank-data
fi
