#!/usr/bin/env bash
# Installs what prevayler-cpp needs on Debian 12, skipping what is there.
#   scripts/install-deps.sh          build dependencies
#   scripts/install-deps.sh --test   also the test tools (moto_server, and the aws CLI
#                                    with which a test reads the journal as other
#                                    clients do)
#   scripts/install-deps.sh --fuzz   also clang-14 and its libFuzzer runtime
#   scripts/install-deps.sh --bench  also what bench/run_all.sh compares with
#                                    and plots with (SQLite, Redis, gnuplot)
set -euo pipefail

packages=(
  g++ cmake make pkg-config
  libcereal-dev libcurl4-openssl-dev libssl-dev nlohmann-json3-dev libpugixml-dev libzstd-dev
  libcli11-dev
  libgtest-dev libgmock-dev librapidcheck-dev
)
with_test=0
for arg in "$@"; do
  case "$arg" in
    --test)
      with_test=1
      # ccache: the test run builds the library several times (scripts/ccache-env.sh).
      packages+=(python3 python3-venv python3-pip awscli ccache)
      ;;
    --fuzz) packages+=(clang-14 libclang-rt-14-dev) ;;
    --bench) packages+=(redis-server redis-tools gnuplot-nox sqlite3 libsqlite3-dev curl python3) ;;
    *)
      echo "usage: $0 [--test] [--fuzz] [--bench]" >&2
      exit 2
      ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# moto_server is the AWS emulator the AWS tests talk HTTP to. Installed into a
# private virtualenv only when absent (Debian's Python refuses system-wide pip).
if [ "$with_test" = 1 ] && ! command -v moto_server >/dev/null 2>&1; then
  venv="${PREVAYLER_MOTO_VENV:-$HOME/.cache/prevayler-cpp/moto-venv}"
  if [ ! -x "$venv/bin/moto_server" ]; then
    echo "installing moto[server] into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'moto[server]' boto3
  fi
  echo "moto_server: $venv/bin/moto_server"
fi
