/**
 * The RTU answer guard (drivers/modbus/rtu-guard.ts): the answer window learnt from the line's
 * answers, and the instant a frame counts as complete.
 */
import { describe, expect, it } from 'vitest';
import {
  ANSWER_SAMPLES,
  AnswerTimes,
  frameCompleteAt,
  MIN_GUARD_MS,
  TIMER_MARGIN_MS,
} from '../../../drivers/modbus/rtu-guard.ts';

/** An AnswerTimes fed with `latencies` (oldest first). */
function fed(latencies: readonly number[]): AnswerTimes {
  const a = new AnswerTimes();
  for (const l of latencies) a.add(l);
  return a;
}

describe('AnswerTimes', () => {
  it('is 0 before any answer', () => {
    expect(new AnswerTimes().windowMs()).toBe(0);
  });

  it('in step: 1.25 × the 90th percentile of the last 32 answers, so that one stalled read is ignored', () => {
    // 31 answers of 4 ms and one read 125 ms late by a busy event loop (the demo at load 8).
    const a = fed([...Array.from({ length: 31 }, () => 4), 125]);
    expect(a.suspect).toBe(false);
    expect(a.windowMs()).toBe(5);
    // Three of 32 slow are still ignored; four are not (the 29th of 32 sorted is the percentile).
    expect(fed([...Array.from({ length: 29 }, () => 4), 100, 100, 100]).windowMs()).toBe(5);
    expect(fed([...Array.from({ length: 28 }, () => 4), 100, 100, 100, 100]).windowMs()).toBe(125);
  });

  it('a device that is slow throughout gets its own answer time', () => {
    expect(fed(Array.from({ length: 10 }, () => 600)).windowMs()).toBe(750);
    // Few samples: the percentile is the slowest.
    expect(fed([3, 40]).windowMs()).toBe(50);
  });

  it('keeps only the last 32 answers', () => {
    const a = fed([
      ...Array.from({ length: 8 }, () => 400),
      ...Array.from({ length: ANSWER_SAMPLES }, () => 8),
    ]);
    expect(a.windowMs()).toBe(10);
  });

  it('after an anomaly: the slowest answer time for the next 32 answers, then the percentile again', () => {
    const a = fed([...Array.from({ length: 31 }, () => 4), 125]);
    a.markAnomaly();
    expect(a.suspect).toBe(true);
    expect(a.windowMs()).toBe(157);
    for (let i = 0; i < ANSWER_SAMPLES - 1; i++) a.add(4);
    // The 125 ms answer is still among the last 32 and the line is still suspect for one more answer.
    expect(a.suspect).toBe(true);
    expect(a.windowMs()).toBe(157);
    a.add(4);
    expect(a.suspect).toBe(false);
    expect(a.windowMs()).toBe(5);
  });

  it('clamps negative latencies (a clock step) to 0', () => {
    expect(fed([-5, -1]).windowMs()).toBe(0);
  });
});

describe('frameCompleteAt', () => {
  const base = { sentAt: 1000, timeoutMs: 500, minGuardMs: MIN_GUARD_MS };

  it('waits the inter-frame silence after the last byte when the window has passed', () => {
    expect(frameCompleteAt({ ...base, lastRxAt: 1080, windowMs: 50 })).toBe(1100);
  });

  it('counts the window from the request, not from the frame: a frame read late does not wait it again', () => {
    // Answer read 72 ms after the request (a busy loop), window 157 ms: complete at request + 157.
    expect(frameCompleteAt({ ...base, lastRxAt: 1072, windowMs: 157 })).toBe(1157);
    // A fast answer still waits for the window: a stale frame's real answer would come inside it.
    expect(frameCompleteAt({ ...base, lastRxAt: 1001, windowMs: 157 })).toBe(1157);
  });

  it('ends the window before the request timeout, never the inter-frame silence', () => {
    expect(frameCompleteAt({ ...base, lastRxAt: 1100, windowMs: 5000 })).toBe(1500 - TIMER_MARGIN_MS);
    expect(frameCompleteAt({ ...base, lastRxAt: 1495, windowMs: 5000 })).toBe(1495 + MIN_GUARD_MS);
  });
});
