// The hand-written fast path of `Batch.safeParse` (core/schema/wire.ts) against zod's own schema: same
// successes, same output (values and key order), same errors, field by field and constraint by constraint.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  Batch,
  DecimalString,
  fastBatch,
  Identifier,
  IsoTimestamp,
  isDecimalString,
  isIdentifier,
  isIsoTimestamp,
  MAX_READINGS_PER_BATCH,
} from '../../../core/schema/wire.ts';

/** The schema without the fast path: a fresh zod object of the same shape. */
const ZodBatch = z.object(Batch.shape).strict();

type Json = Record<string, unknown>;

const READING: Json = {
  point: 'p0001',
  meter: 'm1',
  ts: '2026-10-01T00:00:00.000Z',
  rxTs: '2026-10-01T08:00:00.003+08:00',
  serverTs: '2026-10-01T00:00:00.001Z',
  value: '412.5',
  quality: 'uncertain',
  reason: 'MRV_X: detail',
};
const BATCH: Json = {
  v: 1,
  unitId: 'U1',
  gatewayId: 'gw-1',
  seq: 7,
  prevHash: 'a'.repeat(64),
  sentAt: '2026-10-01T00:00:00.010Z',
  device: 'd.1',
  readings: [READING, { point: 'p2', ts: READING.ts, rxTs: READING.ts, value: '1', quality: 'good' }],
  backlogFrom: 3,
  sig: 'c2ln',
};

/** Checks that `Batch.safeParse(x)` and the plain zod schema agree in every respect. */
function same(x: unknown): boolean {
  const ref = ZodBatch.safeParse(x);
  const got = Batch.safeParse(x);
  expect(got.success).toBe(ref.success);
  if (ref.success && got.success) {
    expect(got.data).toStrictEqual(ref.data);
    // Same key order, so the live feed and logs serialise the batch identically.
    expect(JSON.stringify(got.data)).toBe(JSON.stringify(ref.data));
    expect(got.data.readings.map((r) => Object.keys(r))).toEqual(
      ref.data.readings.map((r) => Object.keys(r)),
    );
  } else if (!ref.success && !got.success) {
    expect(z.prettifyError(got.error)).toBe(z.prettifyError(ref.error));
  }
  // The fast path never accepts what zod rejects.
  if (!ref.success) expect(fastBatch(x)).toBeUndefined();
  return ref.success;
}

const withBatch = (patch: Json) => ({ ...BATCH, ...patch });
const withReading = (patch: Json, base: Json = READING) => ({ ...BATCH, readings: [{ ...base, ...patch }] });
const without = (o: Json, key: string) => {
  const { [key]: _, ...rest } = o;
  return rest;
};

const TIMESTAMPS: Array<[unknown, boolean]> = [
  ['2026-10-01T00:00:00.000Z', true],
  ['2026-10-01T00:00:00.000+08:00', true],
  ['2026-10-01T00:00:00.000-23:59', true],
  ['2024-02-29T23:59:59.999Z', true],
  ['2000-02-29T00:00:00.000Z', true],
  ['1900-02-29T00:00:00.000Z', false],
  ['2026-02-29T00:00:00.000Z', false],
  ['2026-04-31T00:00:00.000Z', false],
  ['2026-13-01T00:00:00.000Z', false],
  ['2026-00-01T00:00:00.000Z', false],
  ['2026-10-00T00:00:00.000Z', false],
  ['2026-10-01T24:00:00.000Z', false],
  ['2026-10-01T00:60:00.000Z', false],
  ['2026-10-01T00:00:60.000Z', false],
  ['2026-10-01T00:00:00Z', false],
  ['2026-10-01T00:00:00.00Z', false],
  ['2026-10-01T00:00:00.0000Z', false],
  ['2026-10-01T00:00:00.000', false],
  ['2026-10-01T00:00:00.000+0800', false],
  ['2026-10-01T00:00:00.000+24:00', false],
  ['2026-10-01 00:00:00.000Z', false],
  ['2026-10-01t00:00:00.000z', false],
  ['2026-10-01T00:00:00.000Z\n', false],
  [' 2026-10-01T00:00:00.000Z', false],
  ['+02026-10-01T00:00:00.000Z', false],
  ['2026-10-01T00:00:00.000Z'.replace('1', '١'), false],
  ['', false],
  [1_790_000_000_000, false],
  [null, false],
];
const DECIMALS: Array<[unknown, boolean]> = [
  ['0', true],
  ['-0', true],
  ['412.5', true],
  ['-1.25e-7', true],
  ['1E+21', true],
  ['10', true],
  ['01', false],
  ['1.', false],
  ['.5', false],
  ['+1', false],
  ['1e', false],
  ['1e+', false],
  [' 1', false],
  ['1 ', false],
  ['NaN', false],
  ['Infinity', false],
  ['0x10', false],
  ['', false],
  [1.5, false],
];
const IDENTIFIERS: Array<[unknown, boolean]> = [
  ['a', true],
  ['9', true],
  ['A-b_c.d', true],
  ['a'.repeat(64), true],
  ['a'.repeat(65), false],
  ['', false],
  ['-a', false],
  ['_a', false],
  ['.a', false],
  ['a b', false],
  ['a,b', false],
  ['a/b', false],
  ['ä', false],
  [1, false],
  [null, false],
];

describe('the is* predicates agree with their zod schemas', () => {
  it.each(TIMESTAMPS)('IsoTimestamp %j', (s, ok) => {
    expect(IsoTimestamp.safeParse(s).success).toBe(ok);
    expect(isIsoTimestamp(s)).toBe(ok);
  });
  it.each(DECIMALS)('DecimalString %j', (s, ok) => {
    expect(DecimalString.safeParse(s).success).toBe(ok);
    expect(isDecimalString(s)).toBe(ok);
  });
  it.each(IDENTIFIERS)('Identifier %j', (s, ok) => {
    expect(Identifier.safeParse(s).success).toBe(ok);
    expect(isIdentifier(s)).toBe(ok);
  });
});

describe('Batch.safeParse with the fast path equals zod', () => {
  it('valid batches take the fast path and give zod output', () => {
    // The schema's safeParse is the one with the fast path (an own property over zod's prototype method).
    expect(Object.hasOwn(Batch, 'safeParse')).toBe(true);
    expect(Object.hasOwn(ZodBatch, 'safeParse')).toBe(false);
    expect(same(BATCH)).toBe(true);
    expect(fastBatch(BATCH)).toBeDefined();
    const minimal = without(without(without(BATCH, 'device'), 'sig'), 'backlogFrom');
    expect(same(minimal)).toBe(true);
    expect(fastBatch(minimal)).toBeDefined();
    expect(same(withBatch({ readings: [] }))).toBe(true);
    // Keys in another order than the schema's come out in the schema's order.
    const reversed = Object.fromEntries(Object.entries(BATCH).reverse());
    reversed.readings = [Object.fromEntries(Object.entries(READING).reverse())];
    expect(same(reversed)).toBe(true);
    expect(Object.keys((Batch.safeParse(reversed) as { data: Json }).data)).toEqual(Object.keys(BATCH));
    // A JSON round trip (what the collector parses) too, and the output is a copy.
    const parsed = JSON.parse(JSON.stringify(BATCH));
    expect(same(parsed)).toBe(true);
    const r = Batch.safeParse(parsed);
    expect(r.success && r.data !== parsed && r.data.readings[0] !== parsed.readings[0]).toBe(true);
  });

  it('rejects what zod rejects at the batch level, with zod errors', () => {
    for (const x of [null, undefined, 1, 'x', [], [BATCH], new Date(0)]) expect(same(x)).toBe(false);
    expect(same(withBatch({ extra: 1 }))).toBe(false);
    expect(same(withBatch({ __proto__: null }))).toBe(true); // a literal __proto__ sets the prototype
    expect(same(JSON.parse('{"__proto__": 1, "v": 1}'))).toBe(false);
    for (const key of ['v', 'unitId', 'gatewayId', 'seq', 'prevHash', 'sentAt', 'readings'])
      expect(same(without(BATCH, key))).toBe(false);
    for (const v of [2, 0, '1', true, 1.0000001]) expect(same(withBatch({ v }))).toBe(false);
    for (const [id, ok] of IDENTIFIERS) {
      expect(same(withBatch({ unitId: id }))).toBe(ok);
      expect(same(withBatch({ gatewayId: id }))).toBe(ok);
      expect(same(withBatch({ device: id }))).toBe(ok);
    }
    for (const [seq, ok] of [
      [1, true],
      [2 ** 53 - 1, true],
      [2 ** 53, false],
      [0, false],
      [-0, false],
      [-1, false],
      [1.5, false],
      [Number.NaN, false],
      [Number.POSITIVE_INFINITY, false],
      ['1', false],
      [null, false],
    ] as Array<[unknown, boolean]>) {
      expect(same(withBatch({ seq }))).toBe(ok);
      expect(same(withBatch({ backlogFrom: seq }))).toBe(ok);
    }
    for (const [prevHash, ok] of [
      ['0'.repeat(64), true],
      ['0123456789abcdef'.repeat(4), true],
      ['A'.repeat(64), false],
      ['a'.repeat(63), false],
      ['a'.repeat(65), false],
      ['g'.repeat(64), false],
      [1, false],
    ] as Array<[unknown, boolean]>)
      expect(same(withBatch({ prevHash }))).toBe(ok);
    for (const [sentAt, ok] of TIMESTAMPS) expect(same(withBatch({ sentAt }))).toBe(ok);
    for (const [sig, ok] of [
      ['', true],
      ['x', true],
      [1, false],
      [null, false],
    ] as Array<[unknown, boolean]>)
      expect(same(withBatch({ sig }))).toBe(ok);
    for (const readings of [null, {}, 'x', { 0: READING, length: 1 }])
      expect(same(withBatch({ readings }))).toBe(false);
    const holey = [READING, READING, READING];
    delete holey[1]; // a hole, as zod sees it: not an object
    expect(same(withBatch({ readings: holey }))).toBe(false);
    expect(same(withBatch({ readings: [READING, undefined, READING] }))).toBe(false);
  });

  it('takes `lost` (declared lost seq ranges) like zod, constraint by constraint', () => {
    const ok = { from: 2, to: 3, cause: 'buffer_full' };
    const valid = [[ok], [ok, { from: 5, to: 5, cause: 'corrupt' }], [{ cause: 'torn', to: 4, from: 1 }]];
    for (const lost of valid) {
      expect(fastBatch(withBatch({ lost }))).toBeDefined();
      expect(same(withBatch({ lost }))).toBe(true);
    }
    const invalid: unknown[] = [
      [],
      ok,
      [{ ...ok, cause: 'other' }],
      [{ ...ok, from: 0 }],
      [{ ...ok, to: 1 }],
      [{ ...ok, from: 1.5 }],
      [{ ...ok, extra: 1 }],
      [{ from: 2, cause: 'torn' }],
      [null],
      Array.from({ length: 65 }, () => ok),
    ];
    for (const lost of invalid) {
      expect(fastBatch(withBatch({ lost }))).toBeUndefined();
      expect(same(withBatch({ lost }))).toBe(false);
    }
  });

  it('optional members present as undefined go to zod and come out as zod has them', () => {
    for (const key of ['device', 'backlogFrom', 'lost', 'sig']) {
      expect(fastBatch(withBatch({ [key]: undefined }))).toBeUndefined();
      expect(same(withBatch({ [key]: undefined }))).toBe(true);
    }
    for (const key of ['meter', 'serverTs', 'reason']) {
      const x = withReading({ [key]: undefined }, { ...READING, quality: 'good' });
      expect(fastBatch(x)).toBeUndefined();
      expect(same(x)).toBe(true);
    }
  });

  it('rejects what zod rejects in a reading, with zod errors', () => {
    for (const r of [null, 1, 'x', [], new Date(0)]) expect(same(withBatch({ readings: [r] }))).toBe(false);
    expect(same(withReading({ extra: 1 }))).toBe(false);
    for (const key of ['point', 'ts', 'rxTs', 'value', 'quality'])
      expect(same({ ...BATCH, readings: [without(READING, key)] })).toBe(false);
    for (const key of ['meter', 'serverTs', 'reason'])
      expect(same({ ...BATCH, readings: [without(READING, key)] })).toBe(true);
    for (const [id, ok] of IDENTIFIERS) {
      expect(same(withReading({ point: id }))).toBe(ok);
      expect(same(withReading({ meter: id }))).toBe(ok);
    }
    for (const [ts, ok] of TIMESTAMPS) {
      expect(same(withReading({ ts }))).toBe(ok);
      expect(same(withReading({ rxTs: ts }))).toBe(ok);
      expect(same(withReading({ serverTs: ts }))).toBe(ts === null ? false : ok);
    }
    for (const [value, ok] of DECIMALS) expect(same(withReading({ value }))).toBe(ok);
    for (const [quality, ok] of [
      ['good', true],
      ['uncertain', true],
      ['bad', true],
      ['Good', false],
      ['ok', false],
      [1, false],
      [null, false],
    ] as Array<[unknown, boolean]>)
      expect(same(withReading({ quality }))).toBe(ok);
    for (const [reason, ok] of [
      ['', true],
      ['x'.repeat(500), true],
      ['x'.repeat(501), false],
      [1, false],
      [null, false],
    ] as Array<[unknown, boolean]>)
      expect(same(withReading({ reason }))).toBe(ok);
  });

  it('applies the reading refinements like zod', () => {
    const noReason = without(READING, 'reason');
    expect(same(withReading({ quality: 'bad', value: null }))).toBe(true);
    expect(same(withReading({ quality: 'bad', value: '1' }))).toBe(true);
    expect(same(withReading({ quality: 'bad', value: null }, noReason))).toBe(false);
    expect(same(withReading({ quality: 'bad', value: '1' }, noReason))).toBe(false);
    expect(same(withReading({ quality: 'good', value: null }))).toBe(false);
    expect(same(withReading({ quality: 'uncertain', value: null }))).toBe(false);
    expect(same(withReading({ quality: 'good', value: '1' }, noReason))).toBe(true);
    // Both refinements at once, and a refinement next to a field error.
    expect(same(withReading({ quality: 'bad', value: null }, noReason))).toBe(false);
    expect(same(withReading({ quality: 'good', value: null, point: '' }))).toBe(false);
  });

  it('limits the readings to MAX_READINGS_PER_BATCH like zod', () => {
    const r = { point: 'p', ts: READING.ts, rxTs: READING.ts, value: '1', quality: 'good' };
    expect(same(withBatch({ readings: new Array(MAX_READINGS_PER_BATCH).fill(r) }))).toBe(true);
    expect(same(withBatch({ readings: new Array(MAX_READINGS_PER_BATCH + 1).fill(r) }))).toBe(false);
  });

  it('agrees with zod on randomly combined valid and invalid members', () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)] as T;
    const ABSENT = Symbol('absent');
    const ok = (xs: Array<[unknown, boolean]>) => xs.filter(([, y]) => y).map(([x]) => x);
    const notOk = (xs: Array<[unknown, boolean]>) => xs.filter(([, y]) => !y).map(([x]) => x);
    // [valid choices, invalid choices] per member; a member is valid 9 times in 10.
    const pools: Record<string, [unknown[], unknown[]]> = {
      point: [ok(IDENTIFIERS), [...notOk(IDENTIFIERS), ABSENT]],
      meter: [[...ok(IDENTIFIERS), ABSENT, ABSENT], notOk(IDENTIFIERS)],
      ts: [ok(TIMESTAMPS), [...notOk(TIMESTAMPS), ABSENT]],
      rxTs: [ok(TIMESTAMPS), [...notOk(TIMESTAMPS), ABSENT]],
      serverTs: [[...ok(TIMESTAMPS), ABSENT, ABSENT], notOk(TIMESTAMPS)],
      value: [
        [...ok(DECIMALS), null],
        [...notOk(DECIMALS), ABSENT],
      ],
      quality: [
        ['good', 'uncertain', 'bad'],
        ['Good', 1, ABSENT],
      ],
      reason: [
        ['x', '', ABSENT, ABSENT],
        ['y'.repeat(501), 3],
      ],
      extra: [[ABSENT], [1]],
    };
    let accepted = 0;
    for (let i = 0; i < 5000; i++) {
      const readings = Array.from({ length: 1 + rand(2) }, () => {
        const r: Json = {};
        for (const [k, [good, bad]] of Object.entries(pools)) {
          const v = rand(20) === 0 ? pick(bad) : pick(good);
          if (v !== ABSENT) r[k] = v;
        }
        return r;
      });
      if (same(withBatch({ readings }))) accepted++;
    }
    expect(accepted).toBeGreaterThan(100);
  });
});
