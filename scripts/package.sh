#!/usr/bin/env bash
# `npm run package [-- --out DIR]`: the offline installable release (issue 19 item 5).
#   DIR/carbon-mrv-VERSION-linux-ARCH.tar.gz  compiled code (dist/), production node_modules with the
#                                             native better-sqlite3 module built, bin/, examples/,
#                                             deploy/ (systemd units, Mosquitto config), docs/
#   DIR/carbon-mrv_VERSION_ARCH.deb            the same tree under /opt/carbon-mrv, the systemd units in
#                                             /lib/systemd/system (disabled: the package enables and
#                                             starts nothing), a system user `mrv` made by postinst
# Needs only what `npm ci` left here: production packages come from npm's cache (--offline first,
# the registry only if the cache lacks one) and the native module is copied from this checkout's build
# (same Node ABI and architecture), so packaging works without network and without a compiler.
# The target machine needs Node >= 20.19 at /usr/bin/node (the units call it there).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

OUT=$ROOT/.build/package
if [ "${1:-}" = "--out" ]; then OUT=$(realpath -m "$2"); fi
VERSION=$(node -p "require('./package.json').version")
ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)
NODE_ARCH=$(node -p process.arch)
NAME=carbon-mrv-$VERSION
STAGE=$OUT/stage/$NAME
DEBROOT=$OUT/deb-root

say() { printf 'mrv package: %s\n' "$*" >&2; }
rm -rf "$OUT/stage" "$DEBROOT"
mkdir -p "$STAGE" "$OUT"

say "staging $NAME"
# compiled straight into the stage: this checkout's dist/ may be in use by a running mrv or test
node scripts/build.mjs --out "$STAGE/dist"
cp -R bin examples deploy docs "$STAGE/"
mkdir -p "$STAGE/scripts"
cp scripts/source-files.mjs "$STAGE/scripts/" # bin/mrv.js reads it to judge dist/'s freshness
cp package.json package-lock.json README.md LICENSE BENCHMARKS.md "$STAGE/"
# source maps point at TypeScript files the release does not carry
find "$STAGE/dist" -name "*.map" -delete

say "production node_modules (npm cache first)"
(
  cd "$STAGE"
  npm ci --omit=dev --ignore-scripts --offline --no-audit --no-fund --loglevel=error ||
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
)
# --ignore-scripts skipped better-sqlite3's native build: take this checkout's, built by npm ci here.
NATIVE=node_modules/better-sqlite3/build/Release/better_sqlite3.node
if [ ! -f "$NATIVE" ]; then
  say "missing $NATIVE: run npm ci first"
  exit 1
fi
mkdir -p "$STAGE/$(dirname "$NATIVE")"
cp "$NATIVE" "$STAGE/$NATIVE"
# npm's bookkeeping of the install is not part of the release
rm -rf "$STAGE/node_modules/.package-lock.json" "$STAGE/node_modules/.cache"

say "tarball"
TARBALL=$OUT/$NAME-linux-$NODE_ARCH.tar.gz
tar -C "$OUT/stage" -czf "$TARBALL" "$NAME"

say "debian package"
mkdir -p "$DEBROOT/opt" "$DEBROOT/lib/systemd/system" "$DEBROOT/DEBIAN" "$DEBROOT/usr/bin"
cp -R "$STAGE" "$DEBROOT/opt/carbon-mrv"
cp deploy/systemd/*.service "$DEBROOT/lib/systemd/system/"
ln -s /opt/carbon-mrv/bin/mrv.js "$DEBROOT/usr/bin/mrv"
SIZE_KB=$(du -sk "$DEBROOT" | cut -f1)
cat >"$DEBROOT/DEBIAN/control" <<EOF
Package: carbon-mrv
Version: $VERSION
Architecture: $ARCH
Maintainer: carbon-mrv developers <maintainers@carbon-mrv.invalid>
Installed-Size: $SIZE_KB
Depends: adduser
Recommends: mosquitto
Section: misc
Priority: optional
Description: carbon-market MRV for key meters of steel, cement, aluminium and power plants
 Reads the key measuring instruments of a key emitting unit over Modbus TCP/RTU
 and OPC UA, chains and signs the readings, carries them over MQTT to a
 collector and serves monthly key-parameter evidence to regulators.
 Needs Node.js >= 20.19 at /usr/bin/node. The systemd units are installed
 disabled; see /opt/carbon-mrv/docs/install.en.md.
EOF
cat >"$DEBROOT/DEBIAN/postinst" <<'EOF'
#!/bin/sh
# carbon-mrv: the unprivileged system user the units run as, and the configuration folders.
# Enables and starts nothing: a plant engineer checks the site file first (mrv check-config).
set -e
if [ "$1" = configure ]; then
  if ! getent passwd mrv >/dev/null; then
    adduser --system --group --home /var/lib/mrv --no-create-home --gecos "carbon-mrv" mrv
  fi
  install -d -m 0755 /etc/mrv
  install -d -m 0700 /etc/mrv/credentials
  install -d -o mrv -g mrv -m 0750 /var/lib/mrv
  if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || true; fi
fi
exit 0
EOF
cat >"$DEBROOT/DEBIAN/prerm" <<'EOF'
#!/bin/sh
# Stops whatever units the operator enabled before the files go away.
set -e
if [ -d /run/systemd/system ]; then
  for u in mrv-gateway mrv-collector mrv-server mrv-uplink-hj212; do
    systemctl stop "$u.service" >/dev/null 2>&1 || true
  done
fi
exit 0
EOF
chmod 0755 "$DEBROOT/DEBIAN/postinst" "$DEBROOT/DEBIAN/prerm"
DEB=$OUT/carbon-mrv_${VERSION}_$ARCH.deb
dpkg-deb --root-owner-group -Zgzip -z6 --build "$DEBROOT" "$DEB" >/dev/null
rm -rf "$DEBROOT"
say "wrote $TARBALL ($(du -h "$TARBALL" | cut -f1)) and $DEB ($(du -h "$DEB" | cut -f1))"
