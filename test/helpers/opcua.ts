// Helpers of the OPC UA tests: a reading collector and a temp folder per test file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Reading } from '../../core/schema/wire.ts';

/** Collects every batch a driver delivers; `waitFor` polls the collected readings. */
export class Collected {
  readonly batches: Reading[][] = [];
  readonly sink = (readings: Reading[]): void => {
    this.batches.push(readings);
  };
  get readings(): Reading[] {
    return this.batches.flat();
  }
  /** Readings of one point, in arrival order. */
  of(point: string): Reading[] {
    return this.readings.filter((r) => r.point === point);
  }
  clear(): void {
    this.batches.length = 0;
  }
  /** Resolves with the first reading (from now on) that matches, or rejects after `timeoutMs`. */
  async waitFor(match: (r: Reading) => boolean, timeoutMs = 15_000, what = 'reading'): Promise<Reading> {
    const start = Date.now();
    for (;;) {
      const hit = this.readings.find(match);
      if (hit) return hit;
      if (Date.now() - start > timeoutMs) {
        const last = this.readings.slice(-5);
        throw new Error(`no ${what} within ${timeoutMs} ms; last readings: ${JSON.stringify(last)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** A fresh temp folder; remove it with the returned function. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
