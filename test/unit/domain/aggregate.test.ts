import { describe, expect, it } from 'vitest';
import {
  aggregateEvents,
  aggregateGauge,
  aggregateRate,
  aggregateTotalizer,
  EventsAccumulator,
  pairTickets,
} from '../../../core/domain/aggregate.ts';
import { bad, cst, good } from './helpers.ts';

const from = cst(2026, 3, 1);
const to = cst(2026, 4, 1);
const h = 3_600_000;

describe('totalizer', () => {
  it('bridges a uint32 kWh roll-over read in MWh when the meter can count that much in the time', () => {
    // Modulus 2^32 × 0.001 = 4294967.296 MWh; max rate 2 MWh/h. Baseline 4294967.000 before the month;
    // 4294967.200 (+0.200), then 0.150: wrapped 4294967.296 − 4294967.200 + 0.150 = 0.246 ≤ 2 MWh in 1 h;
    // then 1.000 (+0.850). Total 0.200 + 0.246 + 0.850 = 1.296.
    const r = aggregateTotalizer(
      [
        good(from - h, '4294967.000'),
        good(from + h, '4294967.200'),
        good(from + 2 * h, '0.150'),
        good(from + 3 * h, '1.000'),
      ],
      { from, to, rolloverAt: '4294967.296', maxRatePerHour: '2' },
    );
    expect(r.value).toBe('1.296');
    expect(r.rollovers).toEqual([
      {
        kind: 'rollover',
        ts: from + 2 * h,
        before: '4294967.2',
        after: '0.15',
        bridged: '0.246',
        elapsedMs: h,
        plausibleMax: '2.01', // 2 MWh/h × 1 h + one count of the readings' last digit (0.01)
      },
    ]);
    expect(r.resets).toEqual([]);
    expect(r.reviews).toBeUndefined();
    expect(r.baseline).toEqual({ ts: from - h, value: '4294967' });
  });

  it('bridges a reset (counter back to zero) by counting from zero when that fits the max rate, and reports it', () => {
    // 100 → 110 (+10) → 3 (reset: +3 counted since zero, ≤ 20 t/h × 1 h) → 8 (+5): total 18.
    const r = aggregateTotalizer(
      [good(from, '100'), good(from + h, '110'), good(from + 2 * h, '3'), good(from + 3 * h, '8')],
      { from, to, maxRatePerHour: '20' },
    );
    expect(r.value).toBe('18');
    expect(r.baseline).toBeNull(); // no reading before the month: the first one is the base
    expect(r.resets).toMatchObject([
      { kind: 'reset', ts: from + 2 * h, before: '110', after: '3', bridged: '3' },
    ]);
  });

  it('takes a reset from the upper half of the modulus as a reset, not a roll-over (issue 18, defect 2)', () => {
    // A replaced PLC: 4 279 997 → 4 280 003 t (+6 in a minute, at most 400 t/h × 65 s = 7.2 t), then
    // 0.5 t. The wrapped increase 4294967.296 − 4280003 + 0.5 = 14964.796 t is under half the modulus
    // (the old guess took it as a roll-over) but far beyond 7.2 t; 0.5 t since zero fits: a reset.
    const m = 60_000;
    const r = aggregateTotalizer(
      [good(from, '4279997'), good(from + m, '4280003'), good(from + 2 * m, '0.5')],
      { from, to, rolloverAt: '4294967.296', maxRatePerHour: '400', timeSlackMs: 5000 },
    );
    expect(r.value).toBe('6.5');
    expect(r.rollovers).toEqual([]);
    expect(r.resets).toMatchObject([{ kind: 'reset', before: '4280003', after: '0.5', bridged: '0.5' }]);
  });

  it('takes a small backwards step within the tolerance as a correction, counting from the high-water mark (defect 3)', () => {
    // 100.5 → 100.2 (zero correction, 0) → 100.9 (+0.4 above 100.5): 0.4 t, not 100.9 t.
    const m = 60_000;
    const r = aggregateTotalizer(
      [
        good(from - m, '100.5'),
        good(from + m, '100.2'),
        good(from + 2 * m, '100.2'),
        good(from + 3 * m, '100.9'),
      ],
      { from, to, rolloverAt: '4294967.296', maxRatePerHour: '300', correctionTolerance: '0.5' },
    );
    expect(r.value).toBe('0.4');
    expect(r.resets).toEqual([]);
    expect(r.corrections).toMatchObject([
      { kind: 'correction', before: '100.5', after: '100.2', bridged: '0' },
    ]);
  });

  it('leaves a drop nothing explains for review, never summed: no max rate, or neither roll-over nor reset fits', () => {
    const m = 60_000;
    // No max rate declared: a drop cannot be told apart; both candidates are reported.
    const a = aggregateTotalizer([good(from, '1000'), good(from + m, '2'), good(from + 2 * m, '3')], {
      from,
      to,
      rolloverAt: '4294967.296',
    });
    expect(a.value).toBe('1'); // only 2 → 3 after the new base
    expect(a.resets).toEqual([]);
    expect(a.reviews).toMatchObject([
      {
        kind: 'review',
        reason: 'no_max_rate',
        bridged: '0',
        candidates: { rollover: '4293969.296', reset: '2' },
      },
    ]);
    // 1000 → 500 in a minute at most 300 t/h (5 t): neither a roll-over nor a reset from zero.
    const b = aggregateTotalizer([good(from, '1000'), good(from + m, '500')], {
      from,
      to,
      rolloverAt: '4294967.296',
      maxRatePerHour: '300',
    });
    expect(b.value).toBe('0');
    expect(b.reviews).toMatchObject([{ reason: 'implausible_drop', before: '1000', after: '500' }]);
    // A jump forward faster than the meter counts (a preset counter): not material, for review.
    const c = aggregateTotalizer([good(from, '10'), good(from + m, '5000'), good(from + 2 * m, '5001')], {
      from,
      to,
      maxRatePerHour: '300',
    });
    expect(c.value).toBe('1');
    expect(c.reviews).toMatchObject([{ reason: 'implausible_jump', candidates: { increase: '4990' } }]);
  });

  it('skips bad readings and ignores readings at or after the end', () => {
    const r = aggregateTotalizer(
      [good(from - 1, '10'), bad(from + 1), good(from + 2, '12.5'), good(to, '99')],
      { from, to },
    );
    expect(r.value).toBe('2.5');
    expect(r.readings).toBe(1);
  });
});

describe('events', () => {
  it('counts each ticket once, however often read, replayed or duplicated', () => {
    const obs = [
      { ts: from - 10, ticket: '7', value: '3.000' }, // seen before the month
      { ts: from + 1, ticket: '7', value: '3.000' }, // still in the register: carried over, not counted
      { ts: from + 2, ticket: '8', value: '2.950' },
      { ts: from + 3, ticket: '8', value: '2.950' }, // read again
      { ts: from + 4, ticket: '9', value: '3.120' },
      { ts: from + 4, ticket: '9', value: '3.120' }, // duplicated reading
      { ts: from + 9, ticket: '8', value: '2.950' }, // replayed old reading
      { ts: from + 10, ticket: '10', value: '3.500' },
      { ts: from + 11, ticket: '10', value: '3.400' }, // same ticket, different value: conflict, first counts
    ];
    const r = aggregateEvents(obs, { from, to });
    // 2.950 + 3.120 + 3.500 = 9.570
    expect(r.value).toBe('9.57');
    expect(r.events.map((e) => e.ticket)).toEqual(['8', '9', '10']);
    expect(r.observations).toBe(8);
    expect(r.repeats).toBe(4);
    expect(r.carriedOver).toEqual(['7']);
    expect(r.conflicts).toEqual([{ ticket: '10', values: ['3.5', '3.4'] }]);
  });

  it('counts a ticket first seen in the next chunk only once across chunks', () => {
    const acc = new EventsAccumulator({ from, to });
    acc.push([{ ts: from + 1, ticket: '1', value: '2' }]);
    acc.push([
      { ts: from + 2, ticket: '1', value: '2' },
      { ts: from + 3, ticket: '2', value: '2.5' },
    ]);
    expect(acc.result().value).toBe('4.5');
  });

  it('pairs value and ticket readings of the same poll', () => {
    const { observations, unpaired } = pairTickets(
      [good(1, '3.1'), good(2, '3.2'), bad(3), good(4, '3.3')],
      [good(1, '101'), good(2, '102'), good(3, '103')],
    );
    expect(observations).toEqual([
      { ts: 1, ticket: '101', value: '3.1' },
      { ts: 2, ticket: '102', value: '3.2' },
    ]);
    expect(unpaired).toBe(1); // ts 4 has no ticket reading
  });

  it('pairs readings stamped apart within the tolerance with the nearest ticket reading', () => {
    // An OPC UA server stamps a heat's number at the tap (1000) and its net weight 180 ms later;
    // the next heat's number comes 40 min later. Without a tolerance nothing pairs.
    const values = [good(1180, '152.3'), good(2_401_150, '149.8'), good(5_000_000, '150.1')];
    const tickets = [good(1000, '7001'), good(2_401_000, '7002'), good(4_998_000, '7003')];
    expect(pairTickets(values, tickets).unpaired).toBe(3);
    const { observations, unpaired } = pairTickets(values, tickets, undefined, 500);
    expect(observations).toEqual([
      { ts: 1180, ticket: '7001', value: '152.3' },
      { ts: 2_401_150, ticket: '7002', value: '149.8' },
    ]);
    expect(unpaired).toBe(1); // 2 s from its ticket: beyond half a 1 s poll interval
  });

  it('prefers the same instant, then the nearer reading, then the earlier on a tie', () => {
    const tickets = [good(900, '1'), good(1000, '2'), good(1100, '3'), bad(1200), good(1300, '5')];
    const pair = (ts: number) =>
      pairTickets([good(ts, '9')], tickets, undefined, 150).observations[0]?.ticket;
    expect(pair(1000)).toBe('2');
    expect(pair(1040)).toBe('2');
    expect(pair(1060)).toBe('3');
    expect(pair(1050)).toBe('2'); // tie: the earlier
    expect(pair(1190)).toBe('3'); // the bad reading at 1200 does not pair
    expect(pair(1260)).toBe('5');
    expect(pair(1500)).toBeUndefined();
  });
});

describe('rate', () => {
  it('integrates the first and last partial poll intervals of the month (issue 18, defect 4)', () => {
    // 12 t/h read every 10 min, 5 min off the month's edges: before, the 5 min after `from` and the
    // 5 min before `to` were lost (2 t of a 12 t/h flow). Now: the whole month, 12 t/h × 744 h.
    const iv = 600_000;
    const xs = [];
    for (let t = from - iv / 2; t < to + iv; t += iv) xs.push(good(t, '12'));
    const r = aggregateRate(xs, { from, to, perMs: h, maxGapMs: 2 * iv });
    expect(r.value).toBe(String(12 * ((to - from) / h)));
    expect(r.coveredMs).toBe(to - from);
    // Consecutive months add up: the head interpolates from the last reading before `from`.
    const ramp = [good(from - iv / 2, '10'), good(from + iv / 2, '20')];
    const head = aggregateRate(ramp, { from, to: from + iv, perMs: h, maxGapMs: 2 * iv });
    // Head: 15 t/h interpolated at `from`, (15 + 20) / 2 × 5 min = 1.4583… t; tail: 20 t/h held for the
    // 5 min to `to`, 1.6666… t; 3.125 t in all.
    expect(head.value).toBe('3.125');
  });

  it('integrates a flow rate with trapezoids and skips long gaps', () => {
    // t/h readings: 10 at 0 h, 20 at 1 h, 20 at 2 h, (gap of 5 h, skipped), 30 at 7 h, 30 at 8 h.
    // (10+20)/2×1 + (20+20)/2×1 + (30+30)/2×1 = 15 + 20 + 30 = 65 t
    const r = aggregateRate(
      [
        good(from, '10'),
        good(from + h, '20'),
        good(from + 2 * h, '20'),
        good(from + 7 * h, '30'),
        good(from + 8 * h, '30'),
      ],
      { from, to, perMs: h, maxGapMs: 2 * h },
    );
    expect(r.value).toBe('65');
    expect(r.coveredMs).toBe(3 * h);
  });
});

describe('gauge', () => {
  it('rounds a non-terminating mean to 40 significant digits', () => {
    // 1 held 1 h, 2 held 2 h: (1 + 4) / 3 = 1.6666… → 40 significant digits, half-even.
    const r = aggregateGauge([good(from, '1'), good(from + h, '2')], {
      from,
      to: from + 3 * h,
      maxHoldMs: 10 * h,
    });
    expect(r.value).toBe('1.666666666666666666666666666666666666667');
  });

  it('gives the time-weighted mean, min and max with sample-and-hold', () => {
    // 4.2 V held 1 h (until the next reading); 4.3 V held 2 h (max hold 2 h, the bad reading at 4 h comes
    // later; 3–5 h is not covered); 4.0 V held 2 h (max hold).
    // mean = (4.2×1 + 4.3×2 + 4.0×2) / 5 = (4.2 + 8.6 + 8.0) / 5 = 20.8 / 5 = 4.16
    const r = aggregateGauge(
      [good(from, '4.2'), good(from + h, '4.3'), bad(from + 4 * h), good(from + 5 * h, '4.0')],
      {
        from,
        to,
        maxHoldMs: 2 * h,
      },
    );
    expect(r.value).toBe('4.16');
    expect(r.min).toBe('4');
    expect(r.max).toBe('4.3');
    expect(r.coveredMs).toBe(5 * h);
  });
});
