import { describe, expect, it } from 'vitest';
import { classifyGatewayOffline, completeness } from '../../../core/domain/completeness.ts';
import { bad, cst, good } from './helpers.ts';

const from = cst(2026, 3, 1);
const to = from + 100_000; // 100 s
const s = (sec: number) => from + sec * 1000;

describe('completeness', () => {
  it('counts expected and received samples and finds gaps with their cause', () => {
    // Poll every 1 s, gap factor 3. Readings at 0..9 s, bad at 10..14 s, good 15..49 s, silent 50..89 s, good 90..99 s.
    const samples = [
      ...Array.from({ length: 10 }, (_, i) => good(s(i), '1')),
      ...Array.from({ length: 5 }, (_, i) => bad(s(10 + i))),
      ...Array.from({ length: 35 }, (_, i) => good(s(15 + i), '1')),
      ...Array.from({ length: 10 }, (_, i) => good(s(90 + i), '1')),
    ];
    const r = completeness(samples, { from, to, expectedIntervalMs: 1000 });
    expect(r).toMatchObject({ expected: 100, received: 60, good: 55, bad: 5, uncertain: 0 });
    expect(r.gaps).toEqual([
      { start: s(10), end: s(15), cause: 'bad_quality', reason: 'MRV_E_MODBUS_TIMEOUT: no answer' },
      // last reading at 49 s covers [49, 50); the silence ends at 90 s.
      { start: s(50), end: s(90), cause: 'no_data' },
    ]);
    // covered = 100 − 5 − 40 = 55 s of 100 s
    expect(r.coveredShare).toBe('0.5500');
  });

  it('reports a point without readings as one gap over the period', () => {
    const r = completeness([], { from, to, expectedIntervalMs: 1000 });
    expect(r.gaps).toEqual([{ start: from, end: to, cause: 'no_data' }]);
    expect(r.coveredShare).toBe('0.0000');
  });

  it('calls a silence of every point of a gateway gateway_offline, a lone silence no_data', () => {
    const a = completeness([good(s(0), '1'), good(s(50), '1')], {
      from,
      to: s(51),
      expectedIntervalMs: 1000,
    });
    const b = completeness([good(s(0), '1'), good(s(50), '1')], {
      from,
      to: s(51),
      expectedIntervalMs: 1000,
    });
    const c = completeness(
      Array.from({ length: 51 }, (_, i) => good(s(i), '1')),
      { from, to: s(51), expectedIntervalMs: 1000 },
    );
    const gw = { a: 'gw1', b: 'gw1', c: 'gw2' } as Record<string, string>;
    const out = classifyGatewayOffline(
      new Map([
        ['a', a],
        ['b', b],
        ['c', c],
      ]),
      (p) => gw[p],
      2000,
    );
    expect(out.get('a')?.gaps).toEqual([{ start: s(1), end: s(50), cause: 'gateway_offline' }]);
    // Same silence but the other point of its gateway kept reporting: no_data.
    const out2 = classifyGatewayOffline(
      new Map([
        ['a', a],
        ['c', c],
      ]),
      (p) => (p === 'a' ? 'gw1' : 'gw1'),
      2000,
    );
    expect(out2.get('a')?.gaps[0]?.cause).toBe('no_data');
  });
});
