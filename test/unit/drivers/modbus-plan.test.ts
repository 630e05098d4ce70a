import { describe, expect, it } from 'vitest';
import type { ModbusPoint } from '../../../drivers/modbus/config.ts';
import { planRequests } from '../../../drivers/modbus/plan.ts';

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
