// gateway/send-order.ts: seq order while little waits; after an outage, new batches ahead of the
// backlog with a reserved share of the in-flight window; every batch handed over until acknowledged.
import { describe, expect, it } from 'vitest';
import { type Lane, SendOrder } from '../../../gateway/send-order.ts';

/** Takes until nothing may go; returns what went, as [seq, lane]. */
function drain(o: SendOrder, durable: number): [number, Lane][] {
  const out: [number, Lane][] = [];
  for (let t = o.take(durable); t; t = o.take(durable)) out.push([t.seq, t.lane]);
  return out;
}

describe('SendOrder', () => {
  it('sends in seq order, at most the window, while little waits', () => {
    const o = new SendOrder({ maxInFlight: 4 });
    expect(drain(o, 3)).toEqual([
      [1, 'backlog'],
      [2, 'backlog'],
      [3, 'backlog'],
    ]);
    expect(drain(o, 6)).toEqual([[4, 'backlog']]); // window full
    o.settled(1, 'backlog', true);
    expect(drain(o, 6)).toEqual([[5, 'backlog']]);
    expect(o.draining).toBe(false);
  });

  it('sends the newest batch ahead of a backlog, keeps live slots free, and merges when caught up', () => {
    const o = new SendOrder({ maxInFlight: 8, liveSlots: 2 });
    // A gateway back from an outage: 100 batches wait.
    expect(drain(o, 100)).toEqual([
      [100, 'live'],
      [1, 'backlog'],
      [2, 'backlog'],
      [3, 'backlog'],
      [4, 'backlog'],
      [5, 'backlog'],
      [6, 'backlog'],
    ]);
    expect(o.draining).toBe(true);
    // A new batch is durable: it goes at once on the free live slot, ahead of 7..99.
    expect(drain(o, 101)).toEqual([[101, 'live']]);
    // The third new batch waits for a live slot (both in flight), not for the backlog.
    expect(drain(o, 102)).toEqual([]);
    o.settled(100, 'live', true);
    expect(drain(o, 102)).toEqual([[102, 'live']]);
    // The backlog drains in order in its share of the window.
    const sent: number[] = [];
    for (let s = 1; s <= 99; s++) {
      o.settled(s, 'backlog', true);
      for (const [seq, lane] of drain(o, 102)) {
        expect(lane).toBe('backlog');
        sent.push(seq);
      }
    }
    expect(sent).toEqual(Array.from({ length: 93 }, (_, i) => i + 7));
    // Caught up: 100..102 went live, so the lanes merge and 103 follows in order.
    expect(o.draining).toBe(false);
    expect(drain(o, 103)).toEqual([[103, 'backlog']]);
  });

  it('sends a failed batch again, in order, from the backlog lane', () => {
    const o = new SendOrder({ maxInFlight: 4, liveSlots: 1 });
    expect(drain(o, 20).map(([s]) => s)).toEqual([20, 1, 2, 3]);
    o.settled(20, 'live', false); // MQTT.js gave up on the live one
    o.settled(2, 'backlog', false);
    expect(drain(o, 20)).toEqual([[2, 'backlog']]);
    for (const s of [1, 3, 2]) o.settled(s, 'backlog', true);
    const rest: number[] = [];
    for (let i = 0; i < 40; i++) {
      const t = o.take(20);
      if (!t) break;
      rest.push(t.seq);
      o.settled(t.seq, t.lane, true);
    }
    expect(rest).toEqual(Array.from({ length: 17 }, (_, i) => i + 4)); // 4..20, 20 again included
  });

  it('sends what an earlier run made in seq order; only new batches go ahead', () => {
    const o = new SendOrder({ maxInFlight: 4, liveSlots: 1 });
    o.liveFrom(51); // the log held 1..50 at start
    expect(drain(o, 50).map(([s, lane]) => `${s}${lane[0]}`)).toEqual(['1b', '2b', '3b', '4b']);
    o.settled(1, 'backlog', true);
    expect(drain(o, 51)).toEqual([[51, 'live']]);
    // The earlier run's batches go on the backlog topic; new ones on data.
    expect(o.backlogTopic(2, 'backlog')).toBe(true);
    expect(o.backlogTopic(51, 'live')).toBe(false);
    const fresh = new SendOrder({ maxInFlight: 4 });
    expect(drain(fresh, 2).map(([s, lane]) => fresh.backlogTopic(s, lane))).toEqual([false, false]);
  });

  it('skips what the log no longer has', () => {
    const o = new SendOrder({ maxInFlight: 4 });
    o.skipTo(10);
    expect(drain(o, 11)).toEqual([
      [10, 'backlog'],
      [11, 'backlog'],
    ]);
  });

  it('hands every batch over until it is acknowledged, under random acks, failures and appends', () => {
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let run = 0; run < 20; run++) {
      const o = new SendOrder({ maxInFlight: 1 + Math.floor(rnd() * 16) });
      let durable = Math.floor(rnd() * 200);
      const acked = new Set<number>();
      const inFlight: { seq: number; lane: Lane }[] = [];
      for (let step = 0; step < 5000 && (acked.size < durable || inFlight.length > 0); step++) {
        if (rnd() < 0.1 && durable < 400) durable++;
        for (let t = o.take(durable); t; t = o.take(durable)) {
          expect(inFlight.some((f) => f.seq === t.seq)).toBe(false); // never twice at once
          expect(acked.has(t.seq)).toBe(false); // never after its acknowledgement
          inFlight.push(t);
        }
        if (inFlight.length > 0) {
          const f = inFlight.splice(Math.floor(rnd() * inFlight.length), 1)[0] as { seq: number; lane: Lane };
          const ok = rnd() > 0.05;
          if (ok) acked.add(f.seq);
          o.settled(f.seq, f.lane, ok);
        }
      }
      expect(acked.size).toBe(durable);
    }
  });

  it('sends requeued batches again, lowest first, before new ones, also ones that went ahead on the live lane', () => {
    const o = new SendOrder({ maxInFlight: 4, liveSlots: 1 });
    expect(drain(o, 3).map(([s]) => s)).toEqual([1, 2, 3]);
    for (const s of [1, 2, 3]) o.settled(s, 'backlog', true);
    // Taken by the broker, never confirmed by a collector: back they go, in seq order, ahead of 4.
    o.requeue([3, 1]);
    expect(drain(o, 5)).toEqual([
      [1, 'backlog'],
      [3, 'backlog'],
      [4, 'backlog'],
      [5, 'backlog'],
    ]);
    for (const s of [1, 3, 4, 5]) o.settled(s, 'backlog', true);
    // A backlog: 6 goes ahead on the live lane while 6.. are more than the window.
    const ahead = drain(o, 20);
    expect(ahead[0]).toEqual([20, 'live']);
    o.settled(20, 'live', true);
    o.requeue([20]);
    for (const [s, lane] of ahead.slice(1)) o.settled(s, lane, true);
    // 20 is no longer "sent ahead": the backlog lane reaches it in order instead of skipping it.
    const rest: number[] = [];
    for (let more = drain(o, 20); more.length > 0; more = drain(o, 20)) {
      for (const [s, lane] of more) o.settled(s, lane, true);
      rest.push(...more.map(([s]) => s));
    }
    expect(rest.filter((s) => s === 20)).toEqual([20]);
    expect(rest.at(-1)).toBe(20);
  });
});
