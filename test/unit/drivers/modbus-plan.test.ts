import { describe, expect, it } from 'vitest';
import type { ModbusPoint } from '../../../drivers/modbus/config.ts';
import { planGroups, planRequests } from '../../../drivers/modbus/plan.ts';

function pt(
  id: string,
  table: 'holding' | 'input',
  address: number,
  type: ModbusPoint['type'] = 'uint16',
): ModbusPoint {
  return { id, table, address, type, order: 'ABCD', unit: '' };
}

describe('planRequests', () => {
  it('coalesces adjacent points of one table into one request', () => {
    const reqs = planRequests([
      pt('b', 'holding', 2, 'float32'),
      pt('a', 'holding', 0, 'uint32'),
      pt('c', 'holding', 4),
    ]);
    expect(reqs).toHaveLength(1);
    expect(reqs[0]).toMatchObject({ table: 'holding', address: 0, count: 5 });
    expect(reqs[0]?.points.map((p) => [p.point.id, p.byteOffset])).toEqual([
      ['a', 0],
      ['b', 4],
      ['c', 8],
    ]);
  });

  it('never mixes tables', () => {
    const reqs = planRequests([pt('a', 'holding', 0), pt('b', 'input', 1)]);
    expect(reqs.map((r) => r.table)).toEqual(['holding', 'input']);
  });

  it('splits at a gap unless maxGap allows reading across it', () => {
    const points = [pt('a', 'input', 0), pt('b', 'input', 5)];
    expect(planRequests(points)).toHaveLength(2);
    const merged = planRequests(points, 125, 4);
    expect(merged).toHaveLength(1);
    expect(merged[0]).toMatchObject({ address: 0, count: 6 });
  });

  it('respects the 125-register cap and a lower per-device cap', () => {
    const points = Array.from({ length: 200 }, (_, i) => pt(`p${i}`, 'holding', i));
    const reqs = planRequests(points);
    expect(reqs.map((r) => r.count)).toEqual([125, 75]);
    expect(planRequests(points, 60).map((r) => r.count)).toEqual([60, 60, 60, 20]);
    expect(reqs.flatMap((r) => r.points).length).toBe(200);
  });

  it('keeps a multi-register value whole at the cap', () => {
    const points = [
      ...Array.from({ length: 124 }, (_, i) => pt(`p${i}`, 'holding', i)),
      pt('f', 'holding', 124, 'float32'),
    ];
    const reqs = planRequests(points);
    expect(reqs.map((r) => [r.address, r.count])).toEqual([
      [0, 124],
      [124, 2],
    ]);
  });

  it('serves overlapping points from one request', () => {
    const reqs = planRequests([pt('w', 'holding', 10, 'uint32'), pt('lo', 'holding', 11)]);
    expect(reqs).toHaveLength(1);
    expect(reqs[0]).toMatchObject({ address: 10, count: 2 });
  });
});

describe('planRequests for coils and discrete inputs', () => {
  const bit = (id: string, table: 'coil' | 'discrete', address: number): ModbusPoint => ({
    id,
    table,
    address,
    type: 'bool',
    order: 'ABCD',
    unit: '',
  });

  it('reads bits of one table in one request, addressed by bit index', () => {
    const reqs = planRequests([bit('a', 'coil', 3), bit('b', 'coil', 4), bit('c', 'discrete', 0)]);
    expect(reqs.map((r) => [r.table, r.address, r.count])).toEqual([
      ['coil', 3, 2],
      ['discrete', 0, 1],
    ]);
    expect(reqs[0]?.points.map((p) => p.byteOffset)).toEqual([0, 1]);
  });

  it('respects 2000 bits per request, a lower device cap and the bit gap', () => {
    const points = Array.from({ length: 2500 }, (_, i) => bit(`c${i}`, 'coil', i));
    expect(planRequests(points).map((r) => r.count)).toEqual([2000, 500]);
    expect(planRequests(points, 125, 0, 1000).map((r) => r.count)).toEqual([1000, 1000, 500]);
    const gap = [bit('a', 'discrete', 0), bit('b', 'discrete', 20)];
    expect(planRequests(gap)).toHaveLength(2);
    expect(planRequests(gap, 125, 0, 2000, 19).map((r) => r.count)).toEqual([21]);
  });

  it('serves several bits of one register from one request', () => {
    const reqs = planRequests([
      { ...pt('b0', 'holding', 7), type: 'bool', bit: 0 },
      { ...pt('b5', 'holding', 7), type: 'bool', bit: 5 },
    ]);
    expect(reqs.map((r) => [r.address, r.count, r.points.length])).toEqual([[7, 1, 2]]);
  });
});

describe('planGroups', () => {
  it('splits points by poll interval, fastest first, each group planned on its own', () => {
    const groups = planGroups(
      [
        { ...pt('fast', 'holding', 0), pollIntervalMs: 500 },
        pt('dflt1', 'holding', 1),
        pt('dflt2', 'holding', 2),
        { ...pt('slow', 'holding', 3), pollIntervalMs: 60_000 },
      ],
      1000,
      { maxRegisters: 125, maxGap: 0, maxBits: 2000, maxBitGap: 0 },
    );
    expect(
      groups.map((g) => [g.intervalMs, g.requests.flatMap((r) => r.points.map((p) => p.point.id))]),
    ).toEqual([
      [500, ['fast']],
      [1000, ['dflt1', 'dflt2']],
      [60_000, ['slow']],
    ]);
  });
});
