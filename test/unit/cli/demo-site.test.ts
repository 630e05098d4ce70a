/**
 * `mrv demo --speed N`: the site files as the demo runs them (plant-time poll intervals a gateway can
 * keep at that speed, OPC UA polled) and the held clock that starts a simulated month at its first second.
 */
import { describe, expect, it } from 'vitest';
import {
  DEMO_REAL_MS_PER_POLL,
  DEMO_RTU_REQUEST_SHARE,
  demoMinPollMs,
  loadDemoSite,
} from '../../../cli/demo-units.ts';
import { instantFlag } from '../../../cli/run.ts';
import { effectiveIntervalMs } from '../../../core/domain/completeness.ts';
import { ManualClock, nextDue, ScaledClock, systemClock } from '../../../core/time.ts';

const root = new URL('../../..', import.meta.url).pathname;
const example = (name: string) => `${root}examples/${name}.site.yaml`;

/** Every device's and point's effective interval as completeness sees it, from the loaded config. */
function intervals(file: string, minPollMs: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const d of loadDemoSite(file, 0, minPollMs).devices) {
    const dev = d.config as unknown as Record<string, unknown>;
    for (const p of d.config.points)
      out.set(p.id, effectiveIntervalMs(dev, p as unknown as Record<string, unknown>).ms);
  }
  return out;
}

describe('demo site files at --speed N', () => {
  it('declares N × 250 ms of real time per poll, rounded up to whole plant seconds; speed 1 unchanged', () => {
    expect(DEMO_REAL_MS_PER_POLL).toBe(250);
    expect(demoMinPollMs(1)).toBe(1);
    expect(demoMinPollMs(2880)).toBe(720_000);
    expect(demoMinPollMs(60)).toBe(15_000);
    expect(demoMinPollMs(3)).toBe(1000);
  });

  it('raises every poll interval below the floor and keeps longer ones (cement: 1 s rates, 5 s totals)', () => {
    const asWritten = intervals(example('cement-plant'), 1);
    expect(asWritten.get('clinker.rate')).toBe(1000);
    expect(asWritten.get('clinker.total')).toBe(5000);
    const at60 = intervals(example('cement-plant'), 15_000);
    expect(at60.get('clinker.rate')).toBe(15_000);
    expect(at60.get('clinker.total')).toBe(15_000);
    // power: a 60 s point stays 60 s at ×60 and becomes 720 s at ×2880
    const power = intervals(example('power-plant'), 15_000);
    expect(Math.max(...power.values())).toBe(60_000);
    expect(Math.max(...intervals(example('power-plant'), 720_000).values())).toBe(720_000);
    expect(Math.min(...intervals(example('power-plant'), 720_000).values())).toBe(720_000);
  });

  it('gives devices sharing one RTU line the floor times their number, twice (they take turns on the wire, each answer waits its answer window)', () => {
    const at2880 = intervals(example('cement-plant'), 720_000);
    // clinker, raw meal and coal over Modbus TCP; the three substitute feeders behind one converter
    for (const p of ['clinker.total', 'rawmeal.total', 'coal.total']) expect(at2880.get(p)).toBe(720_000);
    for (const p of ['carbide_slag.total', 'steel_slag.total', 'fly_ash.total'])
      expect(at2880.get(p)).toBe(DEMO_RTU_REQUEST_SHARE * 3 * 720_000);
    // as written (speed 1) nothing changes
    expect(intervals(example('cement-plant'), 1).get('carbide_slag.total')).toBe(5000);
  });

  it('reads OPC UA in polling mode: a subscription runs on the server’s real time, not plant time', () => {
    const subscribed = loadDemoSite(example('steel-plant'), 0).devices.find((d) => d.id === 'steel-opcua');
    expect((subscribed?.config as unknown as { mode: string } | undefined)?.mode).toBe('subscription');
    const polled = loadDemoSite(example('steel-plant'), 0, 720_000).devices.find(
      (d) => d.id === 'steel-opcua',
    );
    const cfg = polled?.config as unknown as { mode: string; pollIntervalMs: number };
    expect(cfg.mode).toBe('polling');
    expect(cfg.pollIntervalMs).toBe(720_000);
    expect(new Set(intervals(example('steel-plant'), 720_000).values())).toEqual(new Set([720_000]));
  });
});

describe('nextDue: poll loops on a fixed grid', () => {
  it('keeps the grid whatever the cycle took or the timer was late, and restarts it after a long stall', () => {
    expect(nextDue(0, 720, 5)).toBe(720);
    // a cycle that ended late (timer 2 s late, poll 1 s): the next slot stays on the grid
    expect(nextDue(720, 720, 723)).toBe(1440);
    // behind by less than an interval: the next slot is now due at once (wait 0), on the grid
    expect(nextDue(1440, 720, 2500)).toBe(2160);
    // more than a whole interval behind: no burst, the grid restarts now
    expect(nextDue(2160, 720, 5000)).toBe(5000);
    // a fixed delay (cycle start + interval) would have drifted: 100 cycles each 2 late lose 200
    let due = 0;
    let now = 0;
    for (let i = 0; i < 100; i++) {
      now = due + 2;
      due = nextDue(due, 720, now);
    }
    expect(due).toBe(72_000);
  });
});

describe('ScaledClock held', () => {
  it('a sleep begun while held counts from the release (a poll loop reads once at the start, then waits)', async () => {
    const clock = new ScaledClock(5_000, 1000, systemClock, { held: true });
    expect(clock.held).toBe(true);
    let woke = false;
    const sleeping = clock.sleep(10).then(() => {
      woke = true;
    });
    await new Promise((r) => setTimeout(r, 100));
    // 10 ms of plant time is 10 µs of real time: without the hold it would have ended long ago
    expect(woke).toBe(false);
    expect(clock.now()).toBe(5_000);
    clock.release();
    await sleeping;
    expect(woke).toBe(true);
    expect(clock.held).toBe(false);
    const aborted = new ScaledClock(0, 10, systemClock, { held: true });
    const ac = new AbortController();
    const p = aborted.sleep(1, ac.signal);
    ac.abort(new Error('stopped'));
    await expect(p).rejects.toThrow('stopped');
  });

  it('stands at its start until released, then runs N times faster from there', async () => {
    const real = new ManualClock(1_000_000);
    const clock = new ScaledClock(5_000, 100, real, { held: true });
    expect(clock.now()).toBe(5_000);
    real.advance(10_000);
    expect(clock.now()).toBe(5_000);
    clock.release();
    real.advance(20);
    expect(clock.now()).toBe(7_000);
    clock.release(); // a second release changes nothing
    expect(clock.now()).toBe(7_000);
    const running = new ScaledClock(5_000, 100, real);
    real.advance(10);
    expect(running.now()).toBe(6_000);
  });
});

describe('--start', () => {
  it('takes an ISO 8601 instant with its zone and refuses one without, naming the flag', () => {
    expect(instantFlag('start', '2026-11-01T00:00:00+08:00')).toBe(Date.UTC(2026, 9, 31, 16));
    expect(instantFlag('start', '2026-10-31T16:00:00Z')).toBe(Date.UTC(2026, 9, 31, 16));
    expect(instantFlag('start', undefined)).toBeUndefined();
    expect(() => instantFlag('start', '2026-11-01T00:00:00')).toThrow(
      /--start: expected an ISO 8601 instant/,
    );
    expect(() => instantFlag('start', 'soon+08:00')).toThrow(/--start/);
  });
});
