#!/usr/bin/env node
// The `mrv` command. It runs the compiled release in dist/ (built by `npm ci` / `npm install` through
// the `prepare` script, or `npm run build`) when that build is at least as new as every source file;
// otherwise — a development checkout with edited sources, or MRV_FROM_SOURCE=1 — it runs the
// TypeScript sources through tsx. MRV_REQUIRE_DIST=1 refuses to fall back (release checks).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const infoFile = `${root}dist/build-info.json`;

async function compiledIsFresh() {
  if (!existsSync(infoFile)) return 'no compiled release in dist/ (npm run build)';
  const info = JSON.parse(readFileSync(infoFile, 'utf8'));
  const { newestSourceMtimeMs } = await import('../scripts/source-files.mjs');
  const newest = newestSourceMtimeMs(root);
  return newest > info.sourceMtimeMs ? 'dist/ is older than the sources (npm run build)' : true;
}

const fresh = process.env.MRV_FROM_SOURCE === '1' ? 'MRV_FROM_SOURCE=1' : await compiledIsFresh();
let main;
if (fresh === true) {
  ({ main } = await import('../dist/cli/main.js'));
} else {
  if (process.env.MRV_REQUIRE_DIST === '1') {
    process.stderr.write(`mrv: MRV_REQUIRE_DIST=1 but ${fresh}\n`);
    process.exit(2);
  }
  // Said only to a person at a terminal: scripts and tests parse stderr as JSON log lines.
  if (process.stderr.isTTY && fresh !== 'MRV_FROM_SOURCE=1')
    process.stderr.write(`mrv: running the sources with tsx: ${fresh}\n`);
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../cli/main.ts'));
}
process.exitCode = await main(process.argv.slice(2));
