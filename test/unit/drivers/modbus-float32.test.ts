// float32ToDecimalString skips the lengths that provably cannot read back (cannotRoundTrip): its result
// must be exactly what trying every length from 1 to 9 in turn gives.
import { Decimal } from 'decimal.js';
import { describe, expect, it } from 'vitest';
import { float32ToDecimalString } from '../../../drivers/modbus/decode.ts';
import { Prng } from '../../../simulators/prng.ts';

/** The definition: the first length whose toPrecision reads back, as before the skipping. */
function reference(v: number): string {
  for (let p = 1; p <= 9; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) return s.includes('e') ? new Decimal(s).toFixed() : s;
  }
  return new Decimal(v).toFixed();
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** The float32 with these bits. */
function fromBits(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0] as number;
}

/** Deterministic uniform draws in [0, 1) (simulators/prng.ts), so a failure can be reproduced. */
function rng(seed: number): () => number {
  const g = new Prng(seed);
  return () => g.uniform();
}

function mismatches(values: Iterable<number>): string[] {
  const out: string[] = [];
  for (const v of values) {
    const got = float32ToDecimalString(v);
    const want = reference(v);
    if (got !== want) out.push(`${v}: ${got} != ${want}`);
  }
  return out;
}

describe('float32ToDecimalString skipping impossible lengths', () => {
  it('equals trying every length on 300 000 random float32 bit patterns', () => {
    const r = rng(3);
    function* values() {
      for (let i = 0; i < 300_000; i++) {
        const v = fromBits(Math.floor(r() * 2 ** 32));
        if (Number.isFinite(v)) yield v;
      }
    }
    expect(mismatches(values())).toEqual([]);
  });

  it('equals it at every power of two and its neighbours, near powers of ten, subnormals and the extremes', () => {
    function* values() {
      for (let exp = 0; exp < 255; exp++)
        for (const d of [-2, -1, 0, 1, 2]) {
          const v = fromBits((exp << 23) + d);
          if (Number.isFinite(v)) yield* [v, -v];
        }
      for (let k = -45; k <= 38; k++)
        for (const m of [1, 2, 5, 9.999, 1.0000001, 0.9999999, 3.3333]) {
          const v = Math.fround(m * Number(`1e${k}`));
          f32[0] = v;
          const bits = u32[0] as number;
          yield* [v, fromBits(bits + 1), fromBits(bits - 1)];
        }
      for (let b = 0; b < 20_000; b++) yield fromBits(b); // subnormals from the smallest
      yield* [0, -0, 1.5, 16777217, 3.4028234663852886e38, -3.4028234663852886e38, Math.fround(0.1)];
    }
    expect(mismatches(values())).toEqual([]);
  });

  it('equals it on values as meters send them (tenths, halves, thousandths, large integers)', () => {
    function* values() {
      for (let i = 0; i < 100_000; i++) {
        yield Math.fround(i / 10);
        yield Math.fround(i + 0.5);
        yield Math.fround(i / 1000);
        yield Math.fround(i * 1000);
        yield Math.fround(-i / 7);
      }
    }
    expect(mismatches(values())).toEqual([]);
  });

  it('falls back to the plain definition for values that are not finite float32s', () => {
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0.1, 1 / 3, 1e300])
      expect(float32ToDecimalString(v)).toBe(reference(v));
  });
});
