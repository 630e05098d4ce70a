#!/usr/bin/env bash
# Prepares the benchmarks (npm run bench): Debian's libmodbus-dev and mbpoll, then builds the fast
# Modbus TCP server bench/modbus-server.c into bench/.build/ (gitignored). The tests do not need any of
# this; scripts/setup-test-deps.sh installs what they need (mosquitto, influxdb, ...), which the
# benchmarks use too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/../scripts/setup-test-deps.sh"
missing=()
[[ -f /usr/include/modbus/modbus.h ]] || missing+=(libmodbus-dev)
command -v mbpoll >/dev/null 2>&1 || missing+=(mbpoll)
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if [[ ${#missing[@]} -gt 0 ]]; then
  SUDO=()
  [[ $(id -u) -eq 0 ]] || SUDO=(sudo)
  echo "bench/setup.sh: installing ${missing[*]}" >&2
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
mkdir -p "$here/.build"
if [[ ! -x "$here/.build/modbus-server" || "$here/modbus-server.c" -nt "$here/.build/modbus-server" ]]; then
  gcc -O2 -Wall -o "$here/.build/modbus-server" "$here/modbus-server.c" $(pkg-config --cflags --libs libmodbus)
  echo "bench/setup.sh: built bench/.build/modbus-server" >&2
fi
# Node-RED with node-red-contrib-modbus and node-red-contrib-influxdb, the do-it-yourself choice
# bench/node-red.ts compares with: installed from the npm registry at the versions pinned in
# bench/node-red/package-lock.json, into bench/.build/node-red (not part of the project's dependencies;
# their install scripts, serialport's native build among them, are not run: the flow uses TCP only).
nr="$here/.build/node-red"
if [[ ! -f "$nr/node_modules/node-red/red.js" || "$here/node-red/package-lock.json" -nt "$nr/node_modules/.package-lock.json" ]]; then
  mkdir -p "$nr"
  cp "$here/node-red/package.json" "$here/node-red/package-lock.json" "$nr/"
  (cd "$nr" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null)
  echo "bench/setup.sh: installed Node-RED into bench/.build/node-red" >&2
fi
