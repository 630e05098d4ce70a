#!/usr/bin/env node
// Builds the Vue dashboard (dashboard/, docs/architecture.md §8, the Vue dashboard) into server/web-app/ (git-ignored),
// which the server serves at /app/: first regenerates dashboard/src/api/schema.d.ts from the server's
// OpenAPI document (scripts/openapi-schema.ts), then runs Vite with dashboard/vite.config.ts.
// Called by scripts/build.mjs (so by `npm run build` and by `npm ci` through `prepare`); the browser
// tests call it when server/web-app/ is missing.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const started = Date.now();
execFileSync(
  process.execPath,
  [join(root, 'node_modules/tsx/dist/cli.mjs'), join(root, 'scripts/openapi-schema.ts')],
  {
    stdio: 'inherit',
    cwd: root,
  },
);
const { build } = await import('vite');
await build({ configFile: join(root, 'dashboard/vite.config.ts'), logLevel: 'warn' });
process.stderr.write(
  `mrv build: dashboard/ → server/web-app/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
);
