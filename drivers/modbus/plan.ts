/**
 * Request planning: coalesces points into as few reads as possible. Pure.
 * Points of the same table whose registers are adjacent (or within `maxGap` unused registers) share
 * one request, capped at `maxRegisters` (125 by the Modbus spec, §6.3/§6.4, or a device's lower limit).
 */

import type { ModbusPoint } from './config.ts';
import { registerCount } from './decode.ts';

/** One read request and the points it serves, with each point's byte offset in the response. */
export interface ReadRequest {
  table: 'holding' | 'input';
  address: number;
  count: number;
  points: { point: ModbusPoint; byteOffset: number }[];
}

/**
 * Plans the read requests for a device's points.
 * @param maxRegisters at most this many registers per request (1–125)
 * @param maxGap merge across at most this many unused registers
 * @returns requests ordered by table then address; every point appears in exactly one request
 */
export function planRequests(points: readonly ModbusPoint[], maxRegisters = 125, maxGap = 0): ReadRequest[] {
  const sorted = [...points].sort((a, b) =>
    a.table === b.table ? a.address - b.address : a.table < b.table ? -1 : 1,
  );
  const requests: ReadRequest[] = [];
  let current: ReadRequest | undefined;
  for (const point of sorted) {
    const width = registerCount(point.type);
    if (current && current.table === point.table) {
      const end = current.address + current.count;
      const newEnd = Math.max(end, point.address + width);
      if (point.address - end <= maxGap && newEnd - current.address <= maxRegisters) {
        current.count = newEnd - current.address;
        current.points.push({ point, byteOffset: (point.address - current.address) * 2 });
        continue;
      }
    }
    current = {
      table: point.table,
      address: point.address,
      count: width,
      points: [{ point, byteOffset: 0 }],
    };
    requests.push(current);
  }
  return requests;
}
