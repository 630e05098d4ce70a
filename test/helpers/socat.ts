/**
 * A virtual serial cable for RTU tests: `socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B` makes two
 * pseudo-terminals joined back to back; a slave opens one end, the master the other. socat comes from
 * Debian (scripts/setup-test-deps.sh installs it).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnTied } from './tied-process.ts';

/** A running pty pair. */
export interface PtyPair {
  /** Path of the slave's end. */
  a: string;
  /** Path of the master's end. */
  b: string;
  /** Stops socat and removes the links. */
  stop(): Promise<void>;
}

/**
 * Starts socat and waits until both links exist.
 * @throws Error when socat is missing or the links do not appear within 5 s
 */
export async function startPtyPair(): Promise<PtyPair> {
  const dir = mkdtempSync(join(tmpdir(), 'mrv-pty-'));
  const a = join(dir, 'slave');
  const b = join(dir, 'master');
  const socat = await spawnTied('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
    orphanCleanupDir: dir,
  });
  const deadline = Date.now() + 5000;
  while (!existsSync(a) || !existsSync(b)) {
    if (!socat.running() || Date.now() > deadline) {
      await socat.stop();
      throw new Error(`socat did not make the pty pair: ${socat.tail()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    a,
    b,
    stop: async () => {
      await socat.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
