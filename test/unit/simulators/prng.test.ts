import { describe, expect, it } from 'vitest';
import { hash32, hashNormal, hashUniform, Prng } from '../../../simulators/prng.ts';

describe('Prng', () => {
  it('repeats its sequence for the same seed and differs for another', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng(43);
    const sa = Array.from({ length: 100 }, () => a.nextUint32());
    const sb = Array.from({ length: 100 }, () => b.nextUint32());
    const sc = Array.from({ length: 100 }, () => c.nextUint32());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
    for (const v of sa) expect(Number.isInteger(v) && v >= 0 && v < 2 ** 32).toBe(true);
  });

  it('has a fixed output for a fixed seed (golden values: a change here changes every simulation)', () => {
    const r = new Prng(1);
    expect([r.nextUint32(), r.nextUint32(), r.nextUint32()]).toEqual([1235322124, 80454549, 756047286]);
    expect(hash32(1, 2, 3)).toBe(1929861354);
  });

  it('draws uniform, normal, integer and exponential values with the right moments and bounds', () => {
    const r = new Prng(7);
    const n = 20_000;
    let su = 0;
    let sn = 0;
    let sn2 = 0;
    let se = 0;
    const ints = new Set<number>();
    let outOfRange = 0;
    for (let i = 0; i < n; i++) {
      const u = r.uniform(2, 4);
      if (!(u >= 2 && u < 4)) outOfRange++;
      su += u;
      const z = r.normal(10, 2);
      sn += z;
      sn2 += z * z;
      ints.add(r.int(-3, 3));
      se += r.exponential(5);
    }
    expect(su / n).toBeCloseTo(3, 1);
    const mean = sn / n;
    expect(mean).toBeCloseTo(10, 1);
    expect(Math.sqrt(sn2 / n - mean * mean)).toBeCloseTo(2, 1);
    expect(outOfRange).toBe(0);
    expect([...ints].sort((a, b) => a - b)).toEqual([-3, -2, -1, 0, 1, 2, 3]);
    expect(se / n).toBeGreaterThan(4.8);
    expect(se / n).toBeLessThan(5.2);
    expect(() => r.int(3, 2)).toThrow(RangeError);
  });
});

describe('counter-based draws', () => {
  it('depend only on their keys, in order', () => {
    expect(hash32(1, 2, 3)).toBe(hash32(1, 2, 3));
    expect(hash32(1, 2, 3)).not.toBe(hash32(3, 2, 1));
    expect(hashUniform(9, 100, 4)).toBe(hashUniform(9, 100, 4));
    expect(hashNormal(9, 100, 4)).toBe(hashNormal(9, 100, 4));
  });

  it('are roughly standard normal', () => {
    let s = 0;
    let s2 = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const z = hashNormal(5, i, 3);
      s += z;
      s2 += z * z;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.05);
    expect(Math.sqrt(s2 / n)).toBeCloseTo(1, 1);
  });
});
