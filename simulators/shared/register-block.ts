/**
 * Register maps as data, shared by the plant simulators whose meters answer one contiguous block of
 * one table (aluminium stations, power-plant meters): a point says where it lives, how it is encoded,
 * what it means and how its raw value is taken from a model snapshot. The same points drive the
 * Modbus slave ({@link blockSlave}) and the example site files ({@link toSitePoints}), which tests keep
 * equal.
 *
 * Addresses are zero-based PDU addresses. Engineering value = raw × `scale` (decimal string, exact).
 */
import { type ByteOrder, encodeRaw, type ModbusType, registerCount } from '../../drivers/modbus/decode.ts';
import { EXCEPTION, modbusError, type SimSlave } from './modbus-server.ts';

/** Aggregation kinds of core/schema/wire.ts `PointMeta.aggregation`. */
export type AggregationKind = 'totalizer' | 'events' | 'rate' | 'gauge';

/** One point of a register block, read from snapshots of type `S`. */
export interface BlockPoint<S> {
  /** Point id (site-wide unique, an `Identifier`). */
  id: string;
  /** Register table: holding (FC 3) or input (FC 4). */
  table: 'holding' | 'input';
  /** Zero-based address of the first register. */
  address: number;
  type: ModbusType;
  order: ByteOrder;
  /** Decimal multiplier from raw to engineering unit, e.g. "0.001" for kg → t; absent means 1. */
  scale?: string;
  /** Engineering unit after scaling. */
  unit: string;
  /** English description. */
  description: string;
  /** Chinese description. */
  descriptionZh: string;
  /** Meter (site `meters[].id`) the point belongs to, when it is a key measuring instrument. */
  meter?: string;
  /** Key parameter (关键参数) the point feeds. */
  parameter?: string;
  /** How readings aggregate over a period. */
  aggregation?: AggregationKind;
  /** "-" when the point's period value is subtracted from its parameter. */
  sign?: '+' | '-';
  /** Events: the point holding the ticket number of each event. */
  ticketPoint?: string;
  /** Totalizer physics (site file `maxRate`, `maxStep`, `correctionTolerance`; core/schema/wire.ts PointMeta). */
  maxRate?: string;
  maxStep?: string;
  correctionTolerance?: string;
  /** Raw register value (before scale) from a snapshot: integers for integer types, any number for floats. */
  raw: (s: S) => number;
}

/** The register block a device answers: one table, registers `[start, start + count)`. */
export interface RegisterBlock {
  table: 'holding' | 'input';
  start: number;
  count: number;
}

/**
 * The block `points` occupy.
 * @param name the device, for the error message
 * @throws Error when the points are empty, mix tables or leave gaps (a map bug)
 */
export function pointsBlock(name: string, points: readonly BlockPoint<never>[]): RegisterBlock {
  const first = points[0];
  if (!first) throw new Error(`${name} has no points`);
  let end = first.address;
  for (const p of points) {
    if (p.table !== first.table) throw new Error(`${name}: ${p.id} is not in table ${first.table}`);
    if (p.address !== end) throw new Error(`${name}: ${p.id} at ${p.address}, expected ${end}`);
    end += registerCount(p.type);
  }
  return { table: first.table, start: first.address, count: end - first.address };
}

/** Reduces an unsigned counter to its register width, as a counter register wraps. */
function wrap(raw: number, type: ModbusType): number | bigint {
  switch (type) {
    case 'uint16':
      return ((Math.trunc(raw) % 65536) + 65536) % 65536;
    case 'uint32':
      return ((Math.trunc(raw) % 4294967296) + 4294967296) % 4294967296;
    case 'uint64':
      return BigInt.asUintN(64, BigInt(Math.trunc(raw)));
    case 'int64':
      return BigInt.asIntN(64, BigInt(Math.trunc(raw)));
    case 'int16':
    case 'int32':
      return Math.trunc(raw);
    default:
      return raw;
  }
}

/**
 * Encodes a block's registers from a snapshot: 16-bit register values for `[start, start + count)` of
 * `block`, each point in its type and order (drivers/modbus/decode.ts `encodeRaw`). Unsigned counters
 * wrap at their width (a uint32 kWh totalizer rolls over at 2^32).
 */
export function encodePoints<S>(
  block: RegisterBlock,
  points: readonly BlockPoint<S>[],
  snapshot: S,
): number[] {
  const regs = new Array<number>(block.count).fill(0);
  for (const p of points) {
    const bytes = encodeRaw(wrap(p.raw(snapshot), p.type), p.type, p.order);
    for (let i = 0; i < bytes.length; i += 2)
      regs[p.address - block.start + i / 2] = ((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0);
  }
  return regs;
}

/**
 * A device answering its block as a {@link SimSlave}: reads inside the block answer from `snapshot()`
 * (called once per request, after the caller's model is moved to the clock's time); reads outside,
 * coils and discrete inputs answer exception 02 (illegal data address).
 */
export function blockSlave<S>(name: string, points: readonly BlockPoint<S>[], snapshot: () => S): SimSlave {
  const block = pointsBlock(name, points);
  return {
    read: (table, addr, length) => {
      if (
        table !== block.table ||
        length < 1 ||
        addr < block.start ||
        addr + length > block.start + block.count
      )
        throw modbusError(
          EXCEPTION.ILLEGAL_DATA_ADDRESS,
          `${name}: ${table} ${addr}+${length} outside ${block.table} ${block.start}+${block.count}`,
        );
      const offset = addr - block.start;
      return encodePoints(block, points, snapshot()).slice(offset, offset + length);
    },
  };
}

/** A point as written in a site file (`devices[].points[]` of a `modbus-tcp` device). */
export interface SitePoint {
  id: string;
  meter?: string;
  unit: string;
  description: string;
  parameter?: string;
  aggregation?: AggregationKind;
  sign?: '+' | '-';
  ticketPoint?: string;
  maxRate?: string;
  maxStep?: string;
  correctionTolerance?: string;
  table: 'holding' | 'input';
  address: number;
  type: ModbusType;
  order: ByteOrder;
  scale?: string;
}

/**
 * Points in site-file form (the shape drivers/modbus/config.ts `ModbusPoint` accepts); the description
 * is "English / 中文". Used to write and to check the example site files.
 */
export function toSitePoints(points: readonly BlockPoint<never>[]): SitePoint[] {
  return points.map((p) => ({
    id: p.id,
    ...(p.meter !== undefined && { meter: p.meter }),
    unit: p.unit,
    description: `${p.description} / ${p.descriptionZh}`,
    ...(p.parameter !== undefined && { parameter: p.parameter }),
    ...(p.aggregation !== undefined && { aggregation: p.aggregation }),
    ...(p.sign !== undefined && { sign: p.sign }),
    ...(p.ticketPoint !== undefined && { ticketPoint: p.ticketPoint }),
    ...(p.maxRate !== undefined && { maxRate: p.maxRate }),
    ...(p.maxStep !== undefined && { maxStep: p.maxStep }),
    ...(p.correctionTolerance !== undefined && { correctionTolerance: p.correctionTolerance }),
    table: p.table,
    address: p.address,
    type: p.type,
    order: p.order,
    ...(p.scale !== undefined && { scale: p.scale }),
  }));
}
