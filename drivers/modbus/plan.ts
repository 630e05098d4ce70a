/**
 * Request planning: coalesces points into as few reads as possible. Pure.
 * Points of the same table whose registers (or bits) are adjacent, or within a gap of unused ones,
 * share one request, capped at `maxRegisters` (125 by the Modbus spec, §6.3/§6.4, or a device's lower
 * limit) or `maxBits` (2000, §6.1/§6.2). Poll groups (points with their own `pollIntervalMs`) are
 * planned separately by {@link planGroups}.
 */

import { isBitTable, type ModbusPoint, type ModbusTable, pointWidth } from './config.ts';

/**
 * One read request and the points it serves. For register tables `byteOffset` is where the point's
 * first register starts in the response bytes; for coils and discrete inputs `byteOffset` is the
 * point's bit index from the request's first bit.
 */
export interface ReadRequest {
  table: ModbusTable;
  /** First register/bit address. */
  address: number;
  /** Registers (register tables) or bits (coil, discrete) to read. */
  count: number;
  points: { point: ModbusPoint; byteOffset: number }[];
}

/** Request limits of a device. */
export interface PlanLimits {
  /** At most this many registers per request (1–125). */
  maxRegisters: number;
  /** Merge across at most this many unused registers. */
  maxGap: number;
  /** At most this many coils/discrete inputs per request (1–2000). */
  maxBits: number;
  /** Merge across at most this many unused coils/discrete inputs. */
  maxBitGap: number;
}

const TABLE_ORDER: Record<ModbusTable, number> = { coil: 0, discrete: 1, holding: 2, input: 3 };

/**
 * Plans the read requests for a device's points.
 * @param maxRegisters at most this many registers per request (1–125)
 * @param maxGap merge across at most this many unused registers
 * @param maxBits at most this many bits per coil/discrete-input request (1–2000)
 * @param maxBitGap merge across at most this many unused bits
 * @returns requests ordered by table (coil, discrete, holding, input) then address; every point
 *   appears in exactly one request
 */
export function planRequests(
  points: readonly ModbusPoint[],
  maxRegisters = 125,
  maxGap = 0,
  maxBits = 2000,
  maxBitGap = 0,
): ReadRequest[] {
  const sorted = [...points].sort((a, b) =>
    a.table === b.table ? a.address - b.address : TABLE_ORDER[a.table] - TABLE_ORDER[b.table],
  );
  const requests: ReadRequest[] = [];
  let current: ReadRequest | undefined;
  for (const point of sorted) {
    const width = pointWidth(point);
    const bits = isBitTable(point.table);
    const unit = bits ? 1 : 2;
    if (current && current.table === point.table) {
      const end = current.address + current.count;
      const newEnd = Math.max(end, point.address + width);
      if (
        point.address - end <= (bits ? maxBitGap : maxGap) &&
        newEnd - current.address <= (bits ? maxBits : maxRegisters)
      ) {
        current.count = newEnd - current.address;
        current.points.push({ point, byteOffset: (point.address - current.address) * unit });
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

/** One poll group: the points read at one interval, and their requests. */
export interface PollGroup {
  intervalMs: number;
  requests: ReadRequest[];
}

/**
 * Splits points into poll groups by interval (a point's own `pollIntervalMs`, else `defaultIntervalMs`)
 * and plans each group's requests. A group's requests are read together, once per its interval, and
 * give one batch of readings.
 * @returns groups ordered by interval, fastest first
 */
export function planGroups(
  points: readonly ModbusPoint[],
  defaultIntervalMs: number,
  limits: PlanLimits,
): PollGroup[] {
  const byInterval = new Map<number, ModbusPoint[]>();
  for (const p of points) {
    const ms = p.pollIntervalMs ?? defaultIntervalMs;
    byInterval.set(ms, [...(byInterval.get(ms) ?? []), p]);
  }
  return [...byInterval.entries()]
    .sort(([a], [b]) => a - b)
    .map(([intervalMs, pts]) => ({
      intervalMs,
      requests: planRequests(pts, limits.maxRegisters, limits.maxGap, limits.maxBits, limits.maxBitGap),
    }));
}
