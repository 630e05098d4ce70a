#!/usr/bin/env node
// Builds the compiled release into dist/: tsc (tsconfig.build.json) turns the runtime sources into
// JavaScript with their `.ts` import specifiers rewritten to `.js`; the files the code reads beside
// itself (the dashboard in server/web/, the Vue dashboard that scripts/build-dashboard.mjs builds from
// dashboard/ into server/web-app/, the factor packs and rule packs in core/domain/) are copied to the
// same relative places. Runs as the `prepare` script, i.e. inside `npm ci`/`npm install`.
// Writes dist/build-info.json last: bin/mrv.js runs dist/ only when that file exists and no source
// is newer than the build (otherwise it runs the sources with tsx and says so).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newestSourceMtimeMs, SOURCE_DIRS } from './source-files.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// --out DIR builds elsewhere (the release test builds under test-results/ so that it never replaces the
// dist/ other tests are running); DIR must lie inside the package so node_modules resolves from it.
const outArg = process.argv.indexOf('--out');
const dist = outArg > 0 ? resolve(process.argv[outArg + 1]) : join(root, 'dist');
const started = Date.now();

const tsc = join(root, 'node_modules/typescript/bin/tsc');
if (!existsSync(tsc)) {
  // A production install (npm ci --omit=dev) of a release that already carries dist/.
  process.stderr.write('mrv build: typescript is not installed; keeping the dist/ that shipped\n');
  process.exit(0);
}
rmSync(dist, { recursive: true, force: true });
// The Vue dashboard first (its API types come from the server's OpenAPI document; it lands in
// server/web-app/, which the server serves at /app/ from the sources and, copied below, from dist/).
execFileSync(process.execPath, [join(root, 'scripts/build-dashboard.mjs')], { stdio: 'inherit' });
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', dist], {
  stdio: 'inherit',
});

/** Copies every non-TypeScript file under `from` (relative to the root) to the same place in dist/. */
function copyAssets(from, keep) {
  const walk = (dir) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const rel = join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (keep(entry.name)) {
        mkdirSync(join(dist, dir), { recursive: true });
        cpSync(join(root, rel), join(dist, rel));
      }
    }
  };
  walk(from);
}
copyAssets('server/web', () => true);
copyAssets('server/web-app', () => true);
copyAssets('core/domain', (name) => name.endsWith('.yaml'));

const info = {
  builtAt: new Date().toISOString(),
  // bin/mrv.js compares this with the sources' newest mtime to notice a stale build
  sourceMtimeMs: newestSourceMtimeMs(root),
  sourceDirs: SOURCE_DIRS,
};
writeFileSync(join(dist, 'build-info.json'), `${JSON.stringify(info, null, 2)}\n`);
const files = (function count(dir) {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true }))
    n += e.isDirectory() ? count(join(dir, e.name)) : 1;
  return n;
})(dist);
process.stderr.write(
  `mrv build: ${files} files in ${relative(root, dist)}/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
);
