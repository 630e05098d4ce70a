// The gateway's heap watch (gateway/heap-watch.ts): a process whose live heap nears V8's limit (the
// systemd unit caps it with --max-old-space-size) says so with the fix, before "heap out of memory"
// ends it. Real V8 limits in a child process, not a mocked getHeapStatistics.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HEAP_WARN_SHARE, heapVerdict, oldSpaceLimitBytes } from '../../../gateway/heap-watch.ts';

const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const watch = pathToFileURL(path.resolve(import.meta.dirname, '../../../gateway/heap-watch.ts')).href;

/** Runs a child with `--max-old-space-size=limitMiB` that keeps `keepMiB` of arrays alive, then samples once. */
function child(limitMiB: number, keepMiB: number): string {
  const script = `
    import pino from 'pino';
    import { watchHeap } from ${JSON.stringify(watch)};
    const keep = [];
    for (let i = 0; i < ${keepMiB} * 8; i++) keep.push(new Array(16384).fill(i));
    globalThis.gc?.();
    const stop = watchHeap(pino({ base: null }), 60_000);
    stop();
    console.error('kept', keep.length);
  `;
  const r = spawnSync(
    process.execPath,
    ['--import', tsx, `--max-old-space-size=${limitMiB}`, '--expose-gc', '--input-type=module', '-e', script],
    { encoding: 'utf8', cwd: path.resolve(import.meta.dirname, '../../..'), timeout: 120_000 },
  );
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe('gateway heap watch', () => {
  it('judges the share of the limit', () => {
    expect(heapVerdict(10, 100)).toEqual({ near: false, share: 0.1 });
    expect(heapVerdict(HEAP_WARN_SHARE * 100, 100).near).toBe(true);
    expect(heapVerdict(5, 0).near).toBe(false);
  });

  it('reads the old generation limit from the flags, the last one given', () => {
    expect(oldSpaceLimitBytes([], '--max-semi-space-size=4 --max-old-space-size=128')).toBe(128 * 2 ** 20);
    expect(oldSpaceLimitBytes(['--max-old-space-size=256'], '--max-old-space-size=128')).toBe(256 * 2 ** 20);
    expect(oldSpaceLimitBytes([], '')).toBeUndefined();
  });

  it('warns, with the limit and the fix, in a process whose heap nears its --max-old-space-size', () => {
    const out = child(64, 52);
    const line = out.split('\n').find((l) => l.includes('heapLimitMiB'));
    expect(line, out).toBeDefined();
    const entry = JSON.parse(line as string);
    expect(entry.level).toBe(40);
    expect(entry.share).toBeGreaterThanOrEqual(HEAP_WARN_SHARE);
    expect(entry.msg).toMatch(/raise --max-old-space-size in NODE_OPTIONS/);
  });

  it('is silent with room to spare', () => {
    expect(child(256, 8)).not.toMatch(/heapLimitMiB/);
  });
});
