/**
 * A real small filesystem for full-disk tests: `mount -t tmpfs -o size=…` on a folder, as root or
 * through `sudo -n` (like scripts/setup-test-deps.sh). Never skipped: without either the test fails
 * with the reason, so a full-disk test is never counted as passed without having run.
 */
import { execFileSync } from 'node:child_process';

const asRoot = process.getuid?.() === 0;

function run(cmd: string, args: string[]): void {
  try {
    execFileSync(asRoot ? cmd : 'sudo', asRoot ? args : ['-n', cmd, ...args], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(
      `${cmd} ${args.join(' ')} failed (${(err as Error).message.split('\n')[0]}): full-disk tests need root or passwordless sudo to mount a tmpfs`,
      { cause: err },
    );
  }
}

/** Mounts a tmpfs of `size` (e.g. `1m`, `64k`) on the existing folder `dir`. @throws Error naming the fix */
export function mountTmpfs(dir: string, size: string): void {
  run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
}

/** Lazily unmounts `dir`. */
export function unmountTmpfs(dir: string): void {
  run('umount', ['-l', dir]);
}
