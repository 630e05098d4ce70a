/**
 * Where the installed package lives, the same from the TypeScript sources (`cli/…`, run by tsx in
 * development and tests) and from the compiled release (`dist/cli/…`, run by `bin/mrv.js`): the
 * nearest folder above this module that holds carbon-mrv's `package.json`. Files that ship beside the
 * code (example site files, `package.json` itself) are resolved from here, never from a module's own
 * relative position, which differs by one `dist/` level between the two.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const PACKAGE_NAME = 'carbon-mrv';

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      try {
        const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: unknown };
        if (pkg.name === PACKAGE_NAME) return dir;
      } catch {
        // an unreadable package.json on the way up is not ours; keep looking
      }
    }
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(`${PACKAGE_NAME}: no package.json named ${PACKAGE_NAME} above ${start}`);
    dir = parent;
  }
}

/** Absolute path of the package's root folder (holds `package.json`, `examples/`, `deploy/`). */
export const PACKAGE_ROOT: string = findRoot(import.meta.dirname);

let cachedVersion: string | undefined;

/** The `version` field of the package's `package.json` ("unknown" when it has none). */
export function packageVersion(): string {
  if (cachedVersion === undefined) {
    const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: unknown };
    cachedVersion = typeof pkg.version === 'string' ? pkg.version : 'unknown';
  }
  return cachedVersion;
}
