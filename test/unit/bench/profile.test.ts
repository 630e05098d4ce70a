/**
 * bench/profile.ts: the CPU-profile summariser behind BENCHMARKS.md "Where the time goes" — self time
 * per function from `samples` and `timeDeltas` as DevTools counts it, summed over call paths and chunks,
 * idle left out of the busy share; file:line repository-relative and 1-based; and a real profile of this
 * process (node:inspector) naming the busy function of this file at its line.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type CpuProfile,
  frameLocation,
  isMemoryFigure,
  readProfileDir,
  renderCpuSummary,
  summariseCpuProfiles,
} from '../../../bench/profile.ts';

const ROOT = '/repo';
const frame = (functionName: string, url = '', lineNumber = -1) => ({ functionName, url, lineNumber });

/** root → main → (hot, cold); `hot` also under `other` (a second call path); plus (idle) and (garbage collector). */
function profile(samples: number[], timeDeltas: number[], endTime: number): CpuProfile {
  return {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 5, 6, 7] },
      { id: 2, callFrame: frame('main', 'file:///repo/bench/a.ts', 9), children: [3, 4] },
      { id: 3, callFrame: frame('hot', 'file:///repo/evidence/service.ts', 99) },
      { id: 4, callFrame: frame('', 'node:internal/streams', 4) },
      { id: 5, callFrame: frame('(idle)') },
      { id: 6, callFrame: frame('(garbage collector)') },
      { id: 7, callFrame: frame('other', 'file:///elsewhere/node_modules/pkg/x.js', 0), children: [8] },
      { id: 8, callFrame: frame('hot', 'file:///repo/evidence/service.ts', 99) },
    ],
    startTime: 0,
    endTime,
    samples,
    timeDeltas,
  };
}

describe('summariseCpuProfiles', () => {
  it('counts each sample until the next one, sums a function over its call paths, leaves idle out', () => {
    // samples at t = 1000, 2000, 5000, 6000, 8000 µs; end 10 000 µs
    const p = profile([3, 8, 5, 6, 4], [1000, 1000, 3000, 1000, 2000], 10_000);
    const s = summariseCpuProfiles([p], 10, ROOT);
    expect(s.totalMs).toBe(9); // from the first sample to the end
    expect(s.busyMs).toBe(8); // minus (idle)'s 1 ms
    expect(s.top.map((r) => [r.functionName, r.location, r.selfMs])).toEqual([
      ['hot', 'evidence/service.ts:100', 4], // 1 ms on one path + 3 ms on the other
      ['(anonymous)', 'node:internal/streams:5', 2], // the last sample, to endTime
      ['(garbage collector)', '', 2],
    ]);
    expect(s.top[0]?.selfPct).toBe(50);
    expect(s.top.some((r) => r.functionName === '(idle)')).toBe(false);
  });

  it('sums chunks of the same thread and keeps only the top N', () => {
    const a = profile([3, 4], [0, 1000], 2000);
    const b = profile([6, 3], [0, 500], 1000);
    const s = summariseCpuProfiles([a, b], 1, ROOT);
    expect(s.totalMs).toBe(3);
    expect(s.top).toEqual([
      { functionName: 'hot', location: 'evidence/service.ts:100', selfMs: 1.5, selfPct: 50 },
    ]);
  });

  it('leaves out the samples before fromUs (a window: the request, not the start-up before it)', () => {
    const p = profile([3, 8, 5, 6, 4], [1000, 1000, 3000, 1000, 2000], 10_000);
    const s = summariseCpuProfiles([p], 10, ROOT, [5000]);
    expect(s.totalMs).toBe(5); // samples at 5000 (idle), 6000, 8000
    expect(s.busyMs).toBe(4);
    expect(s.top.find((r) => r.functionName === 'hot')).toBeUndefined();
  });

  it('is empty, not NaN, for a profile without samples', () => {
    const s = summariseCpuProfiles([profile([], [], 0)], 10, ROOT);
    expect(s).toEqual({ totalMs: 0, busyMs: 0, top: [] });
  });
});

describe('frameLocation and isMemoryFigure', () => {
  it('names files relative to the repository, node_modules from there, V8 frames empty', () => {
    expect(frameLocation('file:///repo/core/x.ts', 0, ROOT)).toBe('core/x.ts:1');
    expect(frameLocation('file:///work/main/node_modules/tsx/dist/a.mjs', 2, ROOT)).toBe(
      'node_modules/tsx/dist/a.mjs:3',
    );
    expect(frameLocation('node:fs', 10, ROOT)).toBe('node:fs:11');
    expect(frameLocation('', -1, ROOT)).toBe('');
  });
  it('tells memory figures from the others', () => {
    expect(isMemoryFigure({ name: 'gateway peak RSS', unit: 'MiB' })).toBe(true);
    expect(isMemoryFigure({ name: 'points/s', unit: 'points/s' })).toBe(false);
  });
});

/** Busy for `ms` in a function of this file. */
function spinHere(ms: number): number {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x += Math.sqrt(x + 1);
  return x;
}

describe('a real profile', () => {
  it("names this file's busy function among the top, and readProfileDir reads a preload's chunks", async () => {
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    // 1.5 s of wall time: a loaded CI machine gave this thread 47 ms of samples in 300 ms.
    spinHere(1500);
    const { profile: p } = await session.post('Profiler.stop');
    session.disconnect();
    const s = summariseCpuProfiles([p as unknown as CpuProfile]);
    const spin = s.top.find((r) => r.functionName === 'spinHere');
    expect(spin?.location).toMatch(/^test\/unit\/bench\/profile\.test\.ts:\d+$/);
    expect(spin?.selfMs ?? 0).toBeGreaterThan(50);
    expect(renderCpuSummary(s).join('\n')).toContain('| spinHere | test/unit/bench/profile.test.ts:');

    const dir = mkdtempSync(join(tmpdir(), 'mrv-profile-test-'));
    try {
      writeFileSync(join(dir, '123.0.0000.cpuprofile'), JSON.stringify(p));
      writeFileSync(join(dir, '123.0.0001.cpuprofile'), '{"cut short');
      writeFileSync(join(dir, '123.0.argv.json'), JSON.stringify({ argv: ['node', 'x.js'], threadId: 0 }));
      const [t, ...rest] = readProfileDir(dir);
      expect(rest).toEqual([]);
      expect(t?.process).toBe('node x.js');
      expect(t?.cpu?.top.find((r) => r.functionName === 'spinHere')?.selfMs).toBe(spin?.selfMs);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
