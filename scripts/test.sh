#!/usr/bin/env bash
# Quick start, command 2: installs what is missing, builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test
venv="${PREVAYLER_MOTO_VENV:-$HOME/.cache/prevayler-cpp/moto-venv}"
[ -x "$venv/bin/moto_server" ] && export PATH="$venv/bin:$PATH"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure --timeout 1800
