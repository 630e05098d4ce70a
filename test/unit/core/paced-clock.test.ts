// The demo's paced plant clock (core/paced-clock.ts) on an injected real clock: full speed while the
// process runs, a stall counted only up to the cap, monotonic, and sleeps that never end early.
import { describe, expect, it } from 'vitest';
import { PacedClock } from '../../../core/paced-clock.ts';
import { ManualClock, systemClock } from '../../../core/time.ts';

const SPEED = 2880;

/** Lets the clock's ticker (a promise chain on the manual clock) run after an `advance`. */
const settle = () => new Promise((r) => setImmediate(r));

/** Advances `real` by `totalMs` in steps of `stepMs`, letting the ticker run after each. */
async function run(real: ManualClock, totalMs: number, stepMs: number): Promise<void> {
  for (let t = 0; t < totalMs; t += stepMs) {
    real.advance(stepMs);
    await settle();
  }
}

describe('PacedClock', () => {
  it('runs speed times faster than real time while the process keeps ticking', async () => {
    const real = new ManualClock(1_000_000);
    const clock = new PacedClock(5_000, SPEED, real, { maxStepMs: 100, tickMs: 20 });
    await run(real, 1_000, 20);
    expect(clock.now()).toBe(5_000 + 1_000 * SPEED);
    // Between ticks, too: 7 ms after the last one.
    real.advance(7);
    expect(clock.now()).toBe(5_000 + 1_007 * SPEED);
    expect(clock.stalledMs).toBe(0);
    clock.stop();
  });

  it('counts a 2 s stall as at most the cap: 2 s of real time is ≤ 100 ms × speed of plant time', async () => {
    const real = new ManualClock(1_000_000);
    const clock = new PacedClock(0, SPEED, real, { maxStepMs: 100, tickMs: 20 });
    await run(real, 200, 20);
    const before = clock.now();
    real.advance(2_000); // nothing ran for 2 s
    const after = clock.now(); // the first reader after the stall
    expect(after - before).toBeLessThanOrEqual(100 * SPEED);
    expect(after - before).toBeGreaterThan(0);
    await settle(); // the ticker's late tick changes nothing
    expect(clock.now()).toBe(after);
    expect(clock.stalledMs).toBe(2_000 - 100);
    // And then full speed again.
    await run(real, 100, 20);
    expect(clock.now()).toBe(after + 100 * SPEED);
    clock.stop();
  });

  it('is monotonic through ticks, stalls and a real clock stepping back', async () => {
    const real = new ManualClock(1_000_000);
    const clock = new PacedClock(0, SPEED, real, { maxStepMs: 50, tickMs: 10 });
    let last = clock.now();
    const steps = [3, 10, 1, 700, 10, 10, 49, 51, 5_000, -300, 10, 10, 2];
    for (const s of steps) {
      real.advance(s);
      const a = clock.now();
      expect(a).toBeGreaterThanOrEqual(last);
      await settle();
      const b = clock.now();
      expect(b).toBeGreaterThanOrEqual(a);
      last = b;
    }
    clock.stop();
  });

  it('ends a sleep only once plant time has moved by its length, also when a stall slowed the plant meanwhile', async () => {
    const real = new ManualClock(1_000_000);
    const clock = new PacedClock(0, SPEED, real, { maxStepMs: 100, tickMs: 20 });
    const began = clock.now();
    let wokeAt: number | undefined;
    // 720 s of plant time: 250 ms of real time at full speed.
    const sleeping = clock.sleep(720_000).then(() => {
      wokeAt = clock.now();
    });
    real.advance(2_000); // a stall: the real timer is long over, the plant moved 288 s
    await settle();
    expect(wokeAt).toBeUndefined();
    expect(clock.now() - began).toBe(100 * SPEED);
    await run(real, 140, 10); // 140 ms × 2880 = 403 s more: 691 s, not yet
    expect(wokeAt).toBeUndefined();
    await run(real, 20, 10); // 749 s: over
    await sleeping;
    expect(wokeAt).toBeGreaterThanOrEqual(began + 720_000);
    expect(wokeAt).toBeLessThanOrEqual(began + 720_000 + 20 * SPEED);
    clock.stop();
  });

  it('stands at its start while held; a sleep begun meanwhile counts from the release', async () => {
    const real = new ManualClock(1_000_000);
    const clock = new PacedClock(5_000, 100, real, { held: true, maxStepMs: 100, tickMs: 20 });
    expect(clock.held).toBe(true);
    let woke = false;
    const sleeping = clock.sleep(1_000).then(() => {
      woke = true;
    });
    await run(real, 10_000, 1_000);
    expect(clock.now()).toBe(5_000);
    expect(woke).toBe(false);
    clock.release();
    expect(clock.held).toBe(false);
    await run(real, 20, 2); // 20 ms × 100 = 2 s of plant time
    await sleeping;
    expect(woke).toBe(true);
    expect(clock.now()).toBe(7_000);
    clock.release(); // a second release changes nothing
    expect(clock.now()).toBe(7_000);
    const ac = new AbortController();
    const p = clock.sleep(1_000_000, ac.signal);
    ac.abort(new Error('stopped'));
    await expect(p).rejects.toThrow('stopped');
    clock.stop();
  });

  it('on the system clock: keeps pace with real time when nothing stalls, and stop() ends its ticker', async () => {
    const clock = new PacedClock(0, 1_000, systemClock);
    const t0 = Date.now();
    const p0 = clock.now();
    await clock.sleep(200_000); // 200 ms of real time
    const real = Date.now() - t0;
    const plant = clock.now() - p0;
    expect(plant).toBeGreaterThanOrEqual(200_000);
    // A busy test machine may stall the loop: plant time never runs ahead of real time × speed.
    expect(plant).toBeLessThanOrEqual((real + 1) * 1_000);
    clock.stop();
    const stopped = clock.now();
    await new Promise((r) => setTimeout(r, 300));
    expect(clock.now() - stopped).toBeLessThanOrEqual(clock.maxStepMs * 1_000);
  });

  it('refuses a speed, cap or tick that cannot work', () => {
    expect(() => new PacedClock(0, 0)).toThrow(RangeError);
    expect(() => new PacedClock(0, 10, systemClock, { held: true, maxStepMs: 0 })).toThrow(/maxStepMs/);
    expect(() => new PacedClock(0, 10, systemClock, { held: true, maxStepMs: 50, tickMs: 50 })).toThrow(
      /tickMs/,
    );
  });
});
