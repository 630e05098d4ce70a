// The accumulators skip decimal work for readings whose text repeats the previous one (1 s data of a
// slow counter or gauge): totalizer steps of 0, rate and gauge terms grouped by value text and
// multiplied once, rule limits parsed once, seq sets as bitmaps. These tests compare every fast path
// with a plain per-reading decimal reference (the code before the fast paths) on generated series with
// repeats, roll-overs, resets, bad readings, gaps, equal timestamps and equal values written differently.
import { describe, expect, it } from 'vitest';
import {
  aggregateGauge,
  aggregateRate,
  aggregateTotalizer,
  EventsAccumulator,
  pairTickets,
  type Sample,
  type TicketObservation,
} from '../../../core/domain/aggregate.ts';
import { D, type Dec, dec, text } from '../../../core/domain/decimal.ts';
import { SeqSet } from '../../../core/domain/raw-batches.ts';
import { Prng } from '../../../simulators/prng.ts';

/** Deterministic uniform draws in [0, 1) (simulators/prng.ts), so a failure can be reproduced. */
function prng(seed: number): () => number {
  const g = new Prng(seed);
  return () => g.uniform();
}

const from = Date.UTC(2026, 2, 1);
const to = from + 3_600_000;

/**
 * A 1 s series around [from, to): long runs of one value, steps up, roll-overs past `mod`, resets to
 * small values, small steps back, bad readings, gaps, repeated timestamps and the same value written as "5" and "5.000".
 */
function series(seed: number, mod = 1000): Sample[] {
  const r = prng(seed);
  const out: Sample[] = [];
  let v = new D(900);
  let ts = from - 120_000;
  while (ts < to + 60_000) {
    const x = r();
    if (x < 0.02)
      ts += 1000 * Math.floor(r() * 120); // a gap
    else if (x < 0.03)
      ts += 0; // the same ts again
    else ts += 1000;
    const y = r();
    if (y < 0.03) out.push({ ts, value: null, quality: 'bad', reason: 'timeout' });
    else {
      if (y < 0.1) v = v.plus(new D(Math.floor(r() * 5000)).div(100));
      else if (y < 0.105)
        v = new D(Math.floor(r() * 10)); // reset or roll-over
      else if (y < 0.108 && v.gte(1)) v = v.minus(1); // a small step back (a correction)
      if (v.gte(mod)) v = v.minus(mod);
      const s = y < 0.12 ? v.toFixed(3) : text(v);
      out.push({ ts, value: s, quality: y < 0.15 ? 'uncertain' : 'good' });
    }
  }
  return out;
}

/** Chunks the series like the evidence does (pieces of any length). */
function chunks<T>(xs: readonly T[], seed: number): T[][] {
  const r = prng(seed);
  const out: T[][] = [];
  for (let i = 0; i < xs.length; ) {
    const n = 1 + Math.floor(r() * 500);
    out.push(xs.slice(i, i + n));
    i += n;
  }
  return out;
}

// ---- References: one decimal operation per reading, as before the fast paths.

/** Counter physics of the generated series: modulus 1000, at most 50 per second, steps back of 2 are corrections. */
const PHYSICS = { rolloverAt: '1000', maxRatePerHour: '180000', correctionTolerance: '2', timeSlackMs: 500 };

function refTotalizer(samples: readonly Sample[]) {
  const m = dec(PHYSICS.rolloverAt);
  const rate = dec(PHYSICS.maxRatePerHour);
  const tol = dec(PHYSICS.correctionTolerance);
  let ref: Dec | null = null;
  let prevTs = 0;
  let corrected = false;
  let sum = new D(0);
  let readings = 0;
  const events: string[] = [];
  for (const s of samples) {
    if (s.value === null || s.quality === 'bad' || s.ts >= to) continue;
    const v = dec(s.value);
    const dt = s.ts - prevTs;
    prevTs = s.ts;
    if (s.ts < from || ref === null) {
      if (s.ts >= from) readings++;
      ref = v;
      corrected = false;
      continue;
    }
    readings++;
    const count = new D(10).pow(-Math.max(ref.decimalPlaces(), v.decimalPlaces()));
    const max = rate
      .times(dt + PHYSICS.timeSlackMs)
      .div(3_600_000)
      .plus(count);
    const d = v.minus(ref);
    if (d.isZero()) continue;
    if (d.gt(0) && d.lte(max)) sum = sum.plus(d);
    else if (d.gt(0)) events.push(`review ${s.ts} 0`);
    else if (d.neg().lte(tol)) {
      if (!corrected) events.push(`correction ${s.ts} 0`);
      corrected = true;
      continue;
    } else {
      const w = m.minus(ref).plus(v);
      if (w.gte(0) && w.lte(max)) {
        sum = sum.plus(w);
        events.push(`rollover ${s.ts} ${text(w)}`);
      } else if (v.gte(0) && v.lte(max)) {
        sum = sum.plus(v);
        events.push(`reset ${s.ts} ${text(v)}`);
      } else events.push(`review ${s.ts} 0`);
    }
    ref = v;
    corrected = false;
  }
  return { value: text(sum), readings, events };
}

function refRate(samples: readonly Sample[], perMs: number, maxGapMs: number) {
  let prev: { ts: number; v: Dec } | null = null;
  let before: { ts: number; v: Dec } | null = null;
  let started = false;
  let acc = new D(0);
  let covered = 0;
  for (const s of samples) {
    if (s.ts >= to) continue;
    const usable = s.value !== null && s.quality !== 'bad';
    if (s.ts < from) {
      before = usable ? { ts: s.ts, v: dec(s.value as string) } : null;
      continue;
    }
    if (!usable) {
      prev = null;
      started = true;
      continue;
    }
    const v = dec(s.value as string);
    if (!started) {
      // Head: trapezoid from the value interpolated at `from`.
      started = true;
      if (before && s.ts - before.ts <= maxGapMs && s.ts > from && s.ts > before.ts) {
        const atFrom = before.v.plus(
          v
            .minus(before.v)
            .times(from - before.ts)
            .div(s.ts - before.ts),
        );
        acc = acc.plus(atFrom.plus(v).times(s.ts - from));
        covered += s.ts - from;
      }
    }
    const p = prev;
    prev = { ts: s.ts, v };
    if (!p) continue;
    const dt = s.ts - p.ts;
    if (dt <= 0 || dt > maxGapMs) continue;
    acc = acc.plus(p.v.plus(v).times(dt));
    covered += dt;
  }
  // Tail: the last value held to `to`.
  if (prev && to - prev.ts > 0 && to - prev.ts <= maxGapMs) {
    acc = acc.plus(prev.v.times(2 * (to - prev.ts)));
    covered += to - prev.ts;
  }
  return { value: text(acc.div(2 * perMs)), covered };
}

function refGauge(samples: readonly Sample[], maxHoldMs: number) {
  let prev: { ts: number; v: Dec | null } | null = null;
  let num = new D(0);
  let weight = 0;
  let min: Dec | null = null;
  let max: Dec | null = null;
  const close = (until: number) => {
    if (!prev || prev.v === null) return;
    const dt = Math.min(until, prev.ts + maxHoldMs) - prev.ts;
    if (dt <= 0) return;
    num = num.plus(prev.v.times(dt));
    weight += dt;
  };
  for (const s of samples) {
    if (s.ts < from || s.ts >= to) continue;
    close(s.ts);
    if (s.value === null || s.quality === 'bad') {
      prev = { ts: s.ts, v: null };
      continue;
    }
    const v = dec(s.value);
    if (min === null || v.lt(min)) min = v;
    if (max === null || v.gt(max)) max = v;
    prev = { ts: s.ts, v };
  }
  close(to);
  return {
    value: weight > 0 ? text(num.div(weight)) : null,
    min: min ? text(min) : null,
    max: max ? text(max) : null,
    weight,
  };
}

describe('fast paths equal the per-reading decimal reference', () => {
  const kindsSeen = new Set<string>();
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const xs = series(seed);

    it(`totalizer (seed ${seed}): value, readings, roll-overs, resets, corrections and reviews`, () => {
      const ref = refTotalizer(xs);
      const got = aggregateTotalizer(xs, { from, to, ...PHYSICS });
      expect(got.value).toBe(ref.value);
      expect(got.readings).toBe(ref.readings);
      const all = [...got.rollovers, ...got.resets, ...(got.corrections ?? []), ...(got.reviews ?? [])];
      expect(all.map((e) => `${e.kind} ${e.ts} ${e.bridged}`)).toEqual(expect.arrayContaining(ref.events));
      expect(all.length).toBe(ref.events.length);
      // The series really exercises the paths (every kind over the seeds: see below).
      expect(all.length).toBeGreaterThan(0);
      for (const e of all) kindsSeen.add(e.kind);
    });

    it(`rate (seed ${seed}): integral and covered time, fed in chunks`, () => {
      const ref = refRate(xs, 3_600_000, 10_000);
      const acc = aggregateRate([], { from, to, perMs: 3_600_000, maxGapMs: 10_000 });
      expect(acc.value).toBe('0');
      const whole = aggregateRate(xs, { from, to, perMs: 3_600_000, maxGapMs: 10_000 });
      expect(whole.value).toBe(ref.value);
      expect(whole.coveredMs).toBe(ref.covered);
    });

    it(`gauge (seed ${seed}): time-weighted mean, min, max, covered time`, () => {
      const ref = refGauge(xs, 10_000);
      const got = aggregateGauge(xs, { from, to, maxHoldMs: 10_000 });
      expect(got.value).toBe(ref.value);
      expect(got.min).toBe(ref.min);
      expect(got.max).toBe(ref.max);
      expect(got.coveredMs).toBe(ref.weight);
    });
  }

  it('totalizer: steps at the plausible maximum, one count either side, long texts and a sum past 10^20', () => {
    // The exact-increase screen (aggregate.ts #fastIncrease) decides in floats only where it is certain:
    // steps of exactly the maximum (50/s × (elapsed + 0.5 s) + one count) and one count above or below
    // it, at several elapsed times and decimal places, give what the decimal reference gives.
    const xs: Sample[] = [];
    let v = new D(100);
    let ts = from;
    const r = prng(99);
    for (let i = 0; i < 3000; i++) {
      const dt = 1000 * (1 + Math.floor(r() * 3)) + (i % 7 === 0 ? 250 : 0);
      ts += dt;
      const places = i % 3;
      const count = new D(10).pow(-places);
      const max = new D(50)
        .times(dt + 500)
        .div(1000)
        .plus(count);
      const step = max.plus(count.times(Math.floor(r() * 3) - 1));
      v = v.plus(step).toDecimalPlaces(places, D.ROUND_DOWN);
      if (v.gte(1000)) v = v.minus(1000);
      xs.push({ ts, value: places === 2 && i % 2 ? v.toFixed(4) : text(v), quality: 'good' });
    }
    const ref = refTotalizer(xs);
    const got = aggregateTotalizer(xs, { from, to, ...PHYSICS });
    expect(got.value).toBe(ref.value);
    expect((got.reviews ?? []).length).toBeGreaterThan(100);
    expect([
      ...got.rollovers,
      ...got.resets,
      ...(got.corrections ?? []),
      ...(got.reviews ?? []),
    ]).toHaveLength(ref.events.length);
    // Texts of more than 15 digits take the decimal path (a drop without a maximum rate is left for
    // review, counted 0); a sum past 10^20 takes it too and keeps every digit.
    const big: Sample[] = [];
    let b = new D('99999999999999999990.123456');
    for (let i = 0; i < 50; i++) {
      b = b.plus('0.000001').plus(i % 2 ? '1' : '0');
      big.push({ ts: from + i * 1000, value: text(b), quality: 'good' });
    }
    for (let i = 0; i < 50; i++)
      big.push({ ts: from + (50 + i) * 1000, value: String(7 + i), quality: 'good' });
    const first = new D(big[0]?.value ?? '');
    expect(aggregateTotalizer(big, { from, to }).value).toBe(text(b.minus(first).plus(49)));
    const past = ['0', '200000000000000000000', '1', '2.5', '4.25', '4.250001'].map(
      (value, i): Sample => ({ ts: from + i * 1000, value, quality: 'good' }),
    );
    expect(aggregateTotalizer(past, { from, to }).value).toBe('200000000000000000003.250001');
  });

  it('the generated series exercise every kind of counter discontinuity', () => {
    expect([...kindsSeen].sort()).toEqual(['correction', 'reset', 'review', 'rollover']);
  });

  it('gives the same results whatever the chunking (the evidence feeds pages)', async () => {
    const { GaugeAccumulator, RateAccumulator, TotalizerAccumulator } = await import(
      '../../../core/domain/aggregate.ts'
    );
    const xs = series(11);
    const t = new TotalizerAccumulator({ from, to, ...PHYSICS });
    const r = new RateAccumulator({ from, to, perMs: 1000, maxGapMs: 5000 });
    const g = new GaugeAccumulator({ from, to, maxHoldMs: 5000 });
    for (const c of chunks(xs, 12)) {
      t.push(c);
      r.push(c);
      g.push(c);
    }
    expect(t.result()).toEqual(aggregateTotalizer(xs, { from, to, ...PHYSICS }));
    expect(r.result()).toEqual(aggregateRate(xs, { from, to, perMs: 1000, maxGapMs: 5000 }));
    expect(g.result()).toEqual(aggregateGauge(xs, { from, to, maxHoldMs: 5000 }));
    // result() does not change the state: asking twice gives the same.
    expect(g.result()).toEqual(g.result());
    expect(r.result()).toEqual(r.result());
  });

  it('events: repeats with equal text or equal value are no conflict, other values are', () => {
    const acc = new EventsAccumulator({ from, to });
    const obs: TicketObservation[] = [
      { ts: from + 1000, ticket: 'T1', value: '5.0' },
      { ts: from + 2000, ticket: 'T1', value: '5.0' },
      { ts: from + 3000, ticket: 'T1', value: '5' },
      { ts: from + 4000, ticket: 'T1', value: '5.5' },
      { ts: from + 5000, ticket: 'T2', value: '1' },
    ];
    acc.push(obs.slice(0, 2));
    acc.push(obs.slice(2));
    const r = acc.result();
    expect(r.value).toBe('6');
    expect(r.repeats).toBe(3);
    expect(r.conflicts).toEqual([{ ticket: 'T1', values: ['5', '5.5'] }]);
    // Out-of-order observations inside a push are still counted at their first (smallest) ts.
    const b = new EventsAccumulator({ from, to });
    b.push([obs[1] as TicketObservation, obs[0] as TicketObservation]);
    expect(b.result().events).toEqual([{ ticket: 'T1', ts: from + 1000, value: '5' }]);
  });

  it('pairTickets with a window counts unpaired readings in the window only, observations everywhere', () => {
    const values: Sample[] = [
      { ts: from - 1000, value: '1', quality: 'good' },
      { ts: from - 500, value: '1', quality: 'good' },
      { ts: from, value: '2', quality: 'good' },
      { ts: from + 1000, value: '2', quality: 'good' },
      { ts: from + 2000, value: null, quality: 'bad' },
    ];
    const tickets: Sample[] = [
      { ts: from - 1000, value: 'A', quality: 'good' },
      { ts: from, value: 'B', quality: 'good' },
    ];
    const all = pairTickets(values, tickets);
    const win = pairTickets(values, tickets, { from, to });
    expect(win.observations).toEqual(all.observations);
    expect(all.unpaired).toBe(2);
    expect(win.unpaired).toBe(1);
    const inWindow = values.filter((s) => s.ts >= from && s.ts < to);
    expect(win.unpaired).toBe(pairTickets(inWindow, tickets).unpaired);
  });
});

describe('SeqSet as a bitmap', () => {
  it('equals a plain set for interleaved, repeated and sparse seqs', () => {
    const r = prng(5);
    const s = new SeqSet();
    const plain = new Set<number>();
    // Three devices' batches interleaved (1, 4, 7 ... / 2, 5, 8 ...), repeats, and far-away seqs
    // across block boundaries (2^16) and beyond 2^32.
    for (let dev = 0; dev < 3; dev++)
      for (let i = 0; i < 30_000; i++) {
        const seq = i * 3 + dev + 1;
        if (r() < 0.9) {
          s.add(seq);
          plain.add(seq);
        }
      }
    for (const seq of [65_535, 65_536, 65_537, 2 ** 32 + 5, 2 ** 32 + 6, 0, 90_000, 90_000]) {
      s.add(seq);
      plain.add(seq);
    }
    expect(s.count).toBe(plain.size);
    const expected: [number, number][] = [];
    for (const n of [...plain].sort((a, b) => a - b)) {
      const last = expected.at(-1);
      if (last && last[1] + 1 === n) last[1] = n;
      else expected.push([n, n]);
    }
    expect(s.ranges()).toEqual(expected);
  });

  it('rejects a seq that is not a non-negative integer', () => {
    const s = new SeqSet();
    expect(() => s.add(-1)).toThrow(RangeError);
    expect(() => s.add(1.5)).toThrow(RangeError);
  });
});

describe('per-reading rules with cached values and verdicts', () => {
  it('raise the same findings whether readings come in pages or one by one (two points interleaved)', async () => {
    const { SampleRuleRunner } = await import('../../../core/domain/rules.ts');
    const { rulePack } = await import('./helpers.ts');
    const points = [{ id: 'potline.current' }, { id: 'potline.cell01.voltage' }];
    const ctx = { unitId: 'U1', from, to, at: to };
    const r = prng(21);
    // Long runs of one value, excursions above/below the limits, repeats of an out-of-range value, bad readings.
    const mk = (lo: number, hi: number, out: number): Sample[] => {
      const xs: Sample[] = [];
      let v = String(lo);
      for (let ts = from; ts < from + 1_800_000; ts += 1000) {
        const x = r();
        if (x < 0.02) v = String(out);
        else if (x < 0.05) v = (lo + Math.floor(r() * (hi - lo))).toFixed(1);
        xs.push(x > 0.99 ? { ts, value: null, quality: 'bad' } : { ts, value: v, quality: 'good' });
      }
      return xs;
    };
    const current = mk(400, 480, 520);
    const voltage = mk(4, 5, 61);
    const paged = new SampleRuleRunner(rulePack('aluminium'), points, ctx);
    const single = new SampleRuleRunner(rulePack('aluminium'), points, ctx);
    const pc = chunks(current, 3);
    const pv = chunks(voltage, 4);
    for (let i = 0; i < Math.max(pc.length, pv.length); i++) {
      paged.push('potline.current', pc[i] ?? []);
      paged.push('potline.cell01.voltage', pv[i] ?? []);
    }
    for (let i = 0; i < current.length; i++) {
      single.push('potline.current', [current[i] as Sample]);
      single.push('potline.cell01.voltage', [voltage[i] as Sample]);
    }
    const a = paged.finish();
    expect(a).toEqual(single.finish());
    expect(new Set(a.map((f) => f.rule))).toEqual(new Set(['AL-TH-001', 'AL-TH-002', 'AL-TE-002']));
  });
});
