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
