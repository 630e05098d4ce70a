#!/usr/bin/env bash
# Installs the real servers and peers the integration tests run against (docs/development.md), from Debian:
#   influxd (influxdb), mosquitto, mosquitto_sub (mosquitto-clients), mbpoll, chromium, socat (RTU over a
#   pty pair), python3-pymodbus with python3-serial and python3-serial-asyncio (a Modbus TCP/RTU server
#   nobody here wrote, run with /usr/bin/python3), fonts-noto-cjk (Chinese text in the dashboard screenshots),
#   openssl (the throw-away CA and certificates of the MQTT-over-TLS tests; slim images lack it),
#   postgresql (the state database's contract suite; test/helpers/postgres.ts runs its own server),
#   nats-server (the JetStream transport's cluster tests; test/helpers/nats.ts runs its own nodes).
# Silent and instant when everything is there (`npm test` runs it every time). Installs only what is
# missing, with sudo when not root, and never starts the installed services: the tests start their own
# servers on free loopback ports.
set -euo pipefail

# command → Debian package. Also looked up in the sbin folders, which a normal user's PATH may lack
# (Debian puts mosquitto in /usr/sbin).
declare -A PACKAGE_OF=(
  [influxd]=influxdb
  [mosquitto]=mosquitto
  [mosquitto_sub]=mosquitto-clients
  [mbpoll]=mbpoll
  [chromium]=chromium
  [socat]=socat
  [pymodbus]=python3-pymodbus
  [pyserial]=python3-serial
  [serial_asyncio]=python3-serial-asyncio
  [noto-cjk]=fonts-noto-cjk
  [openssl]=openssl
  [postgres]=postgresql
  [nats-server]=nats-server
)
ORDER=(influxd mosquitto mosquitto_sub mbpoll chromium socat pymodbus pyserial serial_asyncio noto-cjk openssl postgres nats-server)

have() {
  # Python modules are not commands: ask Debian's interpreter (not a venv's) whether it imports.
  # pymodbus's servers import pyserial and serial_asyncio, which Debian's python3-pymodbus only recommends.
  case $1 in
    pymodbus | serial_asyncio) /usr/bin/python3 -c "import $1" >/dev/null 2>&1; return ;;
    pyserial) /usr/bin/python3 -c 'import serial' >/dev/null 2>&1; return ;;
    # Chinese glyphs for the browser tests' screenshots (Chromium draws boxes without a CJK font).
    noto-cjk) compgen -G '/usr/share/fonts/opentype/noto/NotoSansCJK*' >/dev/null; return ;;
    # PostgreSQL (the state database's second engine): Debian keeps its binaries off PATH.
    postgres) compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; return ;;
  esac
  command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" || -x "/usr/bin/$1" || -x "/sbin/$1" ]]
}

missing=()
for cmd in "${ORDER[@]}"; do
  have "$cmd" || missing+=("${PACKAGE_OF[$cmd]}")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "setup-test-deps: installing missing Debian packages: ${missing[*]}" >&2

if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "setup-test-deps: not root and no sudo; install these Debian packages yourself: ${missing[*]}" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-test-deps: apt-get not found (not Debian/Ubuntu?); install these packages yourself: ${missing[*]}" >&2
  exit 1
fi

# Keep the packages' init scripts from starting influxd/mosquitto/nats-server: invoke-rc.d (and deb-systemd-invoke
# where systemd runs) ask /usr/sbin/policy-rc.d first, and exit code 101 means "action forbidden".
# Docker images usually have this file already; otherwise put one in place for the install only.
POLICY=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $POLICY ]]; then
  "${SUDO[@]}" sh -c "printf '#!/bin/sh\n# setup-test-deps.sh: do not start services during apt-get install\nexit 101\n' > $POLICY && chmod 755 $POLICY"
  created_policy=1
fi
cleanup() {
  if [[ $created_policy -eq 1 ]]; then "${SUDO[@]}" rm -f "$POLICY"; fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

still=()
for cmd in "${ORDER[@]}"; do
  have "$cmd" || still+=("$cmd")
done
if [[ ${#still[@]} -gt 0 ]]; then
  echo "setup-test-deps: still missing after install: ${still[*]}" >&2
  exit 1
fi
echo "setup-test-deps: installed ${missing[*]}" >&2
