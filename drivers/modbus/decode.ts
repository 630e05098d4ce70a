/**
 * Pure Modbus value decoding and encoding: register words → exact engineering value. No I/O.
 *
 * Modbus itself only defines 16-bit registers sent big-endian (Modbus Application Protocol V1.1b3
 * §4.2); how multi-register values are laid out is vendor practice. We name layouts the way device
 * manuals and Telegraf do, by the order in which the bytes A (most significant) … D arrive:
 * - `ABCD` big-endian, high word first (the Modbus-native layout)
 * - `BADC` bytes swapped inside each word
 * - `CDAB` words swapped (low word first, common on energy meters)
 * - `DCBA` little-endian
 * The same two switches (byte swap, word swap) extend to 64-bit values; for 16-bit values `AB`/`BA`
 * (and the byte-swap part of a 32-bit order) apply.
 */
import { Decimal } from 'decimal.js';

/** Data types a point can have. Widths: 16-bit types use 1 register, 32-bit 2, 64-bit 4. */
export const MODBUS_TYPES = [
  'int16',
  'uint16',
  'int32',
  'uint32',
  'float32',
  'int64',
  'uint64',
  'float64',
] as const;
export type ModbusType = (typeof MODBUS_TYPES)[number];

/** Byte/word orders; see the module comment. */
export const BYTE_ORDERS = ['ABCD', 'BADC', 'CDAB', 'DCBA', 'AB', 'BA'] as const;
export type ByteOrder = (typeof BYTE_ORDERS)[number];

/** Number of 16-bit registers a type occupies. */
export function registerCount(type: ModbusType): number {
  switch (type) {
    case 'int16':
    case 'uint16':
      return 1;
    case 'int32':
    case 'uint32':
    case 'float32':
      return 2;
    default:
      return 4;
  }
}

function swaps(order: ByteOrder): { byteSwap: boolean; wordSwap: boolean } {
  return {
    byteSwap: order === 'BADC' || order === 'DCBA' || order === 'BA',
    wordSwap: order === 'CDAB' || order === 'DCBA',
  };
}

/**
 * Rearranges the bytes of `count` registers starting at byte `offset` of `wire` (as received, each
 * register big-endian) into one big-endian value of `count * 2` bytes.
 */
function toBigEndian(wire: Uint8Array, offset: number, count: number, order: ByteOrder): Buffer {
  const { byteSwap, wordSwap } = swaps(order);
  const out = Buffer.allocUnsafe(count * 2);
  for (let w = 0; w < count; w++) {
    const src = offset + (wordSwap ? count - 1 - w : w) * 2;
    const hi = wire[src];
    const lo = wire[src + 1];
    if (hi === undefined || lo === undefined) throw new RangeError('register data shorter than the value');
    out[w * 2] = byteSwap ? lo : hi;
    out[w * 2 + 1] = byteSwap ? hi : lo;
  }
  return out;
}

/**
 * Shortest decimal string that reads back to the same float32, e.g. the float32 nearest 0.1 gives
 * "0.1" rather than "0.100000001490116". This is the value the device meant; more digits would be
 * noise from the binary format, fewer would change the value.
 */
export function float32ToDecimalString(v: number): string {
  for (let p = 1; p <= 9; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) return new Decimal(s).toFixed();
  }
  return new Decimal(v).toFixed();
}

/**
 * The raw value of one point as an exact decimal string (before scale and offset).
 * @param wire the register bytes as received (2 bytes per register, each big-endian)
 * @param offset byte offset of the point's first register in `wire`
 * @throws RangeError when `wire` is too short; Error with `code` MRV_E_DECODE for NaN or ±Infinity floats
 */
export function decodeRaw(wire: Uint8Array, offset: number, type: ModbusType, order: ByteOrder): string {
  const be = toBigEndian(wire, offset, registerCount(type), order);
  switch (type) {
    case 'int16':
      return String(be.readInt16BE(0));
    case 'uint16':
      return String(be.readUInt16BE(0));
    case 'int32':
      return String(be.readInt32BE(0));
    case 'uint32':
      return String(be.readUInt32BE(0));
    case 'int64':
      return be.readBigInt64BE(0).toString();
    case 'uint64':
      return be.readBigUInt64BE(0).toString();
    case 'float32': {
      const v = be.readFloatBE(0);
      if (!Number.isFinite(v)) throw Object.assign(new Error(`float32 is ${v}`), { code: 'MRV_E_DECODE' });
      return float32ToDecimalString(v);
    }
    case 'float64': {
      const v = be.readDoubleBE(0);
      if (!Number.isFinite(v)) throw Object.assign(new Error(`float64 is ${v}`), { code: 'MRV_E_DECODE' });
      return new Decimal(String(v)).toFixed();
    }
  }
}

/** Scaling of a raw value into engineering units: `value = raw × scale + offset`, optionally rounded. */
export interface Scaling {
  /** Multiplier as a decimal string or number, e.g. "0.001" for kg → t. Default 1. */
  scale?: string | number;
  /** Added after scaling. Default 0. */
  offset?: string | number;
  /** Round the result to this many decimal places (half-even); default: keep every digit. */
  decimals?: number;
}

/** Applies {@link Scaling} exactly with decimal.js and returns a plain decimal string (no exponent). */
export function applyScaling(raw: string, s: Scaling): string {
  let v = new Decimal(raw);
  if (s.scale !== undefined && String(s.scale) !== '1') v = v.times(String(s.scale));
  if (s.offset !== undefined && String(s.offset) !== '0') v = v.plus(String(s.offset));
  if (s.decimals !== undefined) v = v.toDecimalPlaces(s.decimals, Decimal.ROUND_HALF_EVEN);
  return v.toFixed();
}

/**
 * Encodes a raw value into register words in the given order: the inverse of {@link decodeRaw}.
 * Used by simulators and tests. `value` is a number, bigint or decimal string (integers are
 * range-checked, floats are rounded to the type's precision).
 * @throws RangeError when the value does not fit the type
 */
export function encodeRaw(value: number | bigint | string, type: ModbusType, order: ByteOrder): Uint8Array {
  const n = registerCount(type);
  const be = Buffer.alloc(n * 2);
  switch (type) {
    case 'int16':
      be.writeInt16BE(Number(value));
      break;
    case 'uint16':
      be.writeUInt16BE(Number(value));
      break;
    case 'int32':
      be.writeInt32BE(Number(value));
      break;
    case 'uint32':
      be.writeUInt32BE(Number(value));
      break;
    case 'int64':
      be.writeBigInt64BE(BigInt(value));
      break;
    case 'uint64':
      be.writeBigUInt64BE(BigInt(value));
      break;
    case 'float32':
      be.writeFloatBE(Number(value));
      break;
    case 'float64':
      be.writeDoubleBE(Number(value));
      break;
  }
  // The rearrangement is its own inverse for every order (swaps are involutions).
  return toBigEndian(be, 0, n, order);
}

/** Splits register bytes into 16-bit register values (as a Modbus server stores them). */
export function bytesToRegisters(bytes: Uint8Array): number[] {
  const regs: number[] = [];
  for (let i = 0; i + 1 < bytes.length; i += 2) regs.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  return regs;
}
