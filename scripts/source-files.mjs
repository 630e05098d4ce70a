// The folders the compiled release is built from, and the newest modification time among their
// files: shared by scripts/build.mjs (records it) and bin/mrv.js (compares it at start-up, a few ms).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Runtime source folders, relative to the package root (the same list as tsconfig.build.json). */
export const SOURCE_DIRS = [
  'cli',
  'core',
  'uplink',
  'drivers',
  'gateway',
  'collector',
  'evidence',
  'server',
  'ops',
  'simulators',
];

/** Newest mtime (ms) of any file under SOURCE_DIRS; 0 when none exist (an installed release ships no sources). */
export function newestSourceMtimeMs(root) {
  let newest = 0;
  const walk = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of SOURCE_DIRS) walk(join(root, d));
  return newest;
}
