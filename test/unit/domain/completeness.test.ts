import { describe, expect, it } from 'vitest';
import {
  classifyBadQuality,
  classifyGatewayOffline,
  completeness,
  effectiveIntervalMs,
  monthToDate,
} from '../../../core/domain/completeness.ts';
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

  it('judges only the elapsed part of a current month: the future is not_elapsed, not offline (issue 18)', () => {
    // Readings every second from 0 to 39 s; now = 40 s of a 100 s period. Before the fix the 60 s
    // still to come were a no_data gap (then gateway_offline) and the share was 0.4000.
    const samples = Array.from({ length: 40 }, (_, i) => good(s(i), '1'));
    const r = completeness(samples, { from, to, expectedIntervalMs: 1000, now: s(40) });
    expect(r).toMatchObject({ expected: 40, received: 40, elapsedMs: 40_000, coveredShare: '1.0000' });
    expect(r.gaps).toEqual([{ start: s(40), end: to, cause: 'not_elapsed' }]);
    // A reading stamped after now is not counted (it cannot have been due yet).
    expect(
      completeness([...samples, good(s(70), '1')], { from, to, expectedIntervalMs: 1000, now: s(40) })
        .received,
    ).toBe(40);
    // Nothing elapsed (a future month): no share at all, and nothing missing.
    const future = completeness([], { from, to, expectedIntervalMs: 1000, now: from - 5 });
    expect(future).toMatchObject({ expected: 0, elapsedMs: 0, coveredShare: null });
    expect(future.gaps).toEqual([{ start: from, end: to, cause: 'not_elapsed' }]);
  });

  it('tells a bad device from a bad point', () => {
    // a and b on device d1 both bad from 10 s to 15 s: device_bad. c on d2 bad alone with a decode
    // error: point_bad. e alone on d3 with a device-level code: device_bad.
    const run = (reason?: string) => [
      ...Array.from({ length: 10 }, (_, i) => good(s(i), '1')),
      ...Array.from({ length: 5 }, (_, i) => bad(s(10 + i), reason)),
      ...Array.from({ length: 85 }, (_, i) => good(s(15 + i), '1')),
    ];
    const opts = { from, to, expectedIntervalMs: 1000 };
    const byPoint = new Map([
      ['a', completeness(run('MRV_E_MODBUS_EXCEPTION: illegal data address'), opts)],
      ['b', completeness(run('MRV_E_MODBUS_EXCEPTION: illegal data address'), opts)],
      ['c', completeness(run('MRV_E_DECODE: NaN'), opts)],
      ['c2', completeness(run().slice(0, 10).concat(run().slice(15)), opts)],
      ['e', completeness(run('MRV_E_DEVICE_UNREACHABLE: ECONNREFUSED'), opts)],
    ]);
    const dev = { a: 'd1', b: 'd1', c: 'd2', c2: 'd2', e: 'd3' } as Record<string, string>;
    const out = classifyBadQuality(byPoint, (p) => dev[p], 2000);
    expect(out.get('a')?.gaps.map((g) => g.cause)).toEqual(['device_bad']);
    expect(out.get('b')?.gaps.map((g) => g.cause)).toEqual(['device_bad']);
    expect(out.get('c')?.gaps.map((g) => g.cause)).toEqual(['point_bad']);
    expect(out.get('e')?.gaps.map((g) => g.cause)).toEqual(['device_bad']);
  });
});

describe('effectiveIntervalMs', () => {
  it("takes the point's own interval over the device's (issue 18: a 300 s point was expected every second)", () => {
    const modbus = { driver: 'modbus-tcp', pollIntervalMs: 1000 };
    expect(effectiveIntervalMs(modbus, { id: 'p', pollIntervalMs: 300_000 })).toEqual({
      ms: 300_000,
      source: 'point',
    });
    expect(effectiveIntervalMs(modbus, { id: 'p' })).toEqual({ ms: 1000, source: 'device' });
    expect(effectiveIntervalMs({ driver: 'modbus-rtu' }, { id: 'p' })).toEqual({
      ms: 1000,
      source: 'default',
    });
  });

  it('uses the sampling interval of an OPC UA subscription, the poll interval in polling mode', () => {
    const sub = {
      driver: 'opcua',
      samplingIntervalMs: 500,
      publishingIntervalMs: 2000,
      pollIntervalMs: 9000,
    };
    expect(effectiveIntervalMs(sub, { id: 'p' })).toEqual({ ms: 500, source: 'device' });
    expect(effectiveIntervalMs(sub, { id: 'p', samplingIntervalMs: 5000 })).toEqual({
      ms: 5000,
      source: 'point',
    });
    expect(effectiveIntervalMs(sub, { id: 'p', samplingIntervalMs: 0 })).toEqual({
      ms: 2000,
      source: 'point',
    });
    expect(effectiveIntervalMs({ ...sub, mode: 'polling' }, { id: 'p' })).toEqual({
      ms: 9000,
      source: 'device',
    });
  });
});

describe('monthToDate', () => {
  const m = { from: cst(2026, 3, 1), to: cst(2026, 4, 1) };
  const pt = (good: number) => ({
    point: 'p',
    gatewayId: 'gw',
    expectedIntervalMs: 60_000,
    good,
    silentHours: 0,
  });
  it('counts a unit that began mid-month from its first reading, and a month before it as not monitored', () => {
    const now = cst(2026, 3, 10);
    const r = monthToDate({ ...m, now, firstDataAt: cst(2026, 3, 9), points: [pt(1440)] });
    expect(r).toMatchObject({
      status: 'measuring',
      countedFrom: cst(2026, 3, 9),
      expected: 1440,
      ratio: '1.0000',
    });
    expect(monthToDate({ ...m, now, firstDataAt: cst(2026, 4, 2), points: [pt(0)] }).status).toBe(
      'not_monitored',
    );
    expect(monthToDate({ ...m, now, firstDataAt: null, points: [pt(0)] }).status).toBe('not_monitored');
    expect(monthToDate({ ...m, now: cst(2026, 2, 1), firstDataAt: null, points: [pt(0)] })).toMatchObject({
      status: 'not_started',
      ratio: null,
    });
    // Monitored since before the month, nothing yet: no_data, 0 of what was due.
    expect(monthToDate({ ...m, now, firstDataAt: cst(2026, 1, 1), points: [pt(0)] })).toMatchObject({
      status: 'no_data',
      ratio: '0.0000',
      expected: 9 * 1440,
    });
    // More readings than due (a faster poll than declared) cap at 1.
    expect(
      monthToDate({ ...m, now: cst(2026, 4, 2), firstDataAt: cst(2026, 1, 1), points: [pt(99_999)] }),
    ).toMatchObject({
      status: 'ended',
      ratio: '1.0000',
    });
  });
});
