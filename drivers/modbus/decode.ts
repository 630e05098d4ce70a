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
 * The same two switches (byte swap, word swap) extend to 64-bit values (also spelled `ABCDEFGH`,
 * `BADCFEHG`, `GHEFCDAB`, `HGFEDCBA`: `CDAB` on 64 bits reverses all four words); for 16-bit values
 * `AB`/`BA` (and the byte-swap part of a 32-bit order) apply.
 * Bits of coils and discrete inputs (§6.1, §6.2) arrive packed least significant first; see {@link decodeBit}.
 */
import { Decimal } from 'decimal.js';

/**
 * Data types a point can have. Widths: `bool` is one bit of a coil/discrete-input table or one bit
 * (`bit`) of a register; 16-bit types use 1 register, 32-bit 2, 64-bit 4; `string` uses `count`
 * registers (two bytes each).
 */
export const MODBUS_TYPES = [
  'bool',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'float32',
  'int64',
  'uint64',
  'float64',
  'string',
] as const;
export type ModbusType = (typeof MODBUS_TYPES)[number];

/**
 * Byte/word orders; see the module comment. The 8-letter names are the 64-bit spellings of the same
 * two switches (`ABCDEFGH` = `ABCD`, `BADCFEHG` = `BADC`, `GHEFCDAB` = `CDAB`, `HGFEDCBA` = `DCBA`).
 */
export const BYTE_ORDERS = [
  'ABCD',
  'BADC',
  'CDAB',
  'DCBA',
  'AB',
  'BA',
  'ABCDEFGH',
  'BADCFEHG',
  'GHEFCDAB',
  'HGFEDCBA',
] as const;
export type ByteOrder = (typeof BYTE_ORDERS)[number];

/** Text encodings of `string` points. `ascii` rejects bytes above 0x7f; `utf8` rejects invalid sequences. */
export const STRING_ENCODINGS = ['ascii', 'utf8'] as const;
export type StringEncoding = (typeof STRING_ENCODINGS)[number];

/**
 * Number of 16-bit registers a type occupies.
 * @param count the register count of a `string` (required for strings, ignored otherwise)
 * @throws RangeError for a `string` without a positive `count`
 */
export function registerCount(type: ModbusType, count?: number): number {
  switch (type) {
    case 'bool':
    case 'int16':
    case 'uint16':
      return 1;
    case 'int32':
    case 'uint32':
    case 'float32':
      return 2;
    case 'string':
      if (count === undefined || !Number.isInteger(count) || count < 1)
        throw new RangeError(`a string needs a register count >= 1, got ${String(count)}`);
      return count;
    default:
      return 4;
  }
}

/** Whether an order is allowed for a type (16-bit: AB/BA/ABCD/BADC; 32-bit: 4-letter; 64-bit: 4- or 8-letter). */
export function orderFits(type: ModbusType, order: ByteOrder): boolean {
  const { wordSwap } = swaps(order);
  if (type === 'bool' || type === 'string' || registerCount(type, 1) === 1)
    return !wordSwap && order.length <= 4;
  if (registerCount(type) === 2) return order.length === 4;
  return order.length !== 2;
}

/** The two switches of every order, computed once (swaps() runs for every decoded value). */
const SWAPS: Readonly<Record<ByteOrder, { readonly byteSwap: boolean; readonly wordSwap: boolean }>> =
  Object.fromEntries(
    BYTE_ORDERS.map((order) => [
      order,
      {
        byteSwap:
          order === 'BADC' ||
          order === 'DCBA' ||
          order === 'BA' ||
          order === 'BADCFEHG' ||
          order === 'HGFEDCBA',
        wordSwap: order === 'CDAB' || order === 'DCBA' || order === 'GHEFCDAB' || order === 'HGFEDCBA',
      },
    ]),
  ) as Record<ByteOrder, { byteSwap: boolean; wordSwap: boolean }>;

const NO_SWAPS = { byteSwap: false, wordSwap: false } as const;

function swaps(order: ByteOrder): { readonly byteSwap: boolean; readonly wordSwap: boolean } {
  return SWAPS[order] ?? NO_SWAPS;
}

/**
 * Rearranges the bytes of `count` registers starting at byte `offset` of `wire` (as received, each
 * register big-endian) into one big-endian value of `count * 2` bytes, in `out` (a new Buffer by
 * default).
 */
function toBigEndian(
  wire: Uint8Array,
  offset: number,
  count: number,
  order: ByteOrder,
  out: Buffer = Buffer.allocUnsafe(count * 2),
): Buffer {
  const { byteSwap, wordSwap } = swaps(order);
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
  // Only for a finite, non-zero float32 can a length be ruled out cheaply (see cannotRoundTrip).
  const filter = v !== 0 && Number.isFinite(v) && Math.fround(v) === v;
  const a = Math.abs(v);
  const gap = filter ? float32Gap(a) : 0;
  const e = filter ? decimalExponent(a) : 0;
  for (let p = 1; p <= 9; p++) {
    if (filter && p < 9 && cannotRoundTrip(a, gap, e, p)) continue;
    const s = v.toPrecision(p);
    // Without an exponent, the shortest round-trip form is already plain (no trailing zeros): it is
    // what Decimal#toFixed would give, without a Decimal per reading (bench/).
    if (Math.fround(Number(s)) === v) return s.includes('e') ? new Decimal(s).toFixed() : s;
  }
  return new Decimal(v).toFixed();
}

/** 10^k as the nearest double, for k in [-64, 64] (index k + 64). */
const POW10 = Array.from({ length: 129 }, (_, i) => Number(`1e${i - 64}`));
const pow10 = (k: number): number => POW10[k + 64] ?? Number(`1e${k}`);

/** The decimal exponent of a > 0: 10^e <= a < 10^(e+1) (up to the rounding of 10^e as a double). */
function decimalExponent(a: number): number {
  let e = Math.floor(Math.log10(a));
  if (a < pow10(e)) e--;
  else if (a >= pow10(e + 1)) e++;
  return e;
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The larger distance from a float32 a > 0 to its neighbours (Infinity above the largest float32). */
function float32Gap(a: number): number {
  F32[0] = a;
  const bits = U32[0] as number;
  U32[0] = bits + 1;
  const up = (F32[0] as number) - a;
  U32[0] = bits - 1;
  const down = a - (F32[0] as number);
  return Math.max(up, down);
}

/**
 * True only when no decimal of `p` significant digits can read back as the float32 `a` > 0, so that
 * `toPrecision(p)` (~0.3 µs, the gateway's largest single cost, bench/) need not be tried: the
 * result is the same as trying it. A p-digit decimal reads back as `a` only within half the gap to
 * a neighbour float32 (plus double rounding, ~1e-16 relative); the nearest p-digit decimal is at
 * least as far as the nearest multiple of 10^(e-p+1) (those below 10^e are farther than 10^e
 * itself). The test asks for more than a whole gap, so the ~1e-16 errors of the arithmetic here
 * cannot turn a possible length into a skipped one; near a power of ten (where e may be off by one)
 * a multiple lies within that error of `a` and nothing is skipped.
 */
function cannotRoundTrip(a: number, gap: number, e: number, p: number): boolean {
  const g = pow10(e - p + 1);
  const n = Math.round(a / g);
  const dist = Math.min(Math.abs(a - n * g), Math.abs(a - (n - 1) * g), Math.abs(a - (n + 1) * g));
  return dist > gap;
}

/** Scratch space of {@link decodeRaw} (8 bytes, the widest numeric type). */
const SCRATCH = Buffer.alloc(8);

function decodeError(message: string): Error {
  return Object.assign(new Error(message), { code: 'MRV_E_DECODE' });
}

/**
 * The raw value of one numeric point in registers as an exact decimal string (before scale and offset).
 * A `bool` here is bit `bit` (0 = least significant) of the register after its byte order, "1" or "0".
 * @param wire the register bytes as received (2 bytes per register, each big-endian)
 * @param offset byte offset of the point's first register in `wire`
 * @throws RangeError when `wire` is too short or a `bool` has no bit 0–15; Error with `code`
 *   MRV_E_DECODE for NaN or ±Infinity floats; Error for `string` (use {@link decodeString})
 */
export function decodeRaw(
  wire: Uint8Array,
  offset: number,
  type: ModbusType,
  order: ByteOrder,
  bit?: number,
): string {
  if (type === 'string') throw new Error('decodeRaw: strings are decoded by decodeString');
  // Numeric values are at most 4 registers: rearranged into one scratch buffer, read at once, never kept.
  const be = toBigEndian(wire, offset, registerCount(type), order, SCRATCH);
  switch (type) {
    case 'bool': {
      if (bit === undefined || !Number.isInteger(bit) || bit < 0 || bit > 15)
        throw new RangeError(`a bool in a register needs bit 0–15, got ${String(bit)}`);
      return (be.readUInt16BE(0) >> bit) & 1 ? '1' : '0';
    }
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
      if (!Number.isFinite(v)) throw decodeError(`float32 is ${v}`);
      return float32ToDecimalString(v);
    }
    case 'float64': {
      const v = be.readDoubleBE(0);
      if (!Number.isFinite(v)) throw decodeError(`float64 is ${v}`);
      return new Decimal(String(v)).toFixed();
    }
  }
}

/**
 * One bit of a coil or discrete-input response, "1" or "0". The data bytes pack the bits least
 * significant first: bit 0 of the first byte is the first coil/input requested (MODBUS Application
 * Protocol V1.1b3 §6.1, §6.2).
 * @param packed the response's data bytes (after the byte count)
 * @param index zero-based position of the bit from the request's start address
 * @throws RangeError when `packed` is too short
 */
export function decodeBit(packed: Uint8Array, index: number): string {
  const byte = packed[index >> 3];
  if (byte === undefined) throw new RangeError('bit data shorter than the request');
  return (byte >> (index & 7)) & 1 ? '1' : '0';
}

/**
 * Text held in `count` registers, two characters per register, first character in the high byte
 * (order `AB`/`ABCD`) or in the low byte (`BA`/`BADC`, common on devices with little-endian
 * firmware). The text ends at the first NUL; trailing spaces (a usual padding) are removed.
 * @throws RangeError when `wire` is too short; Error with `code` MRV_E_DECODE for bytes that are not
 *   valid in `encoding`
 */
export function decodeString(
  wire: Uint8Array,
  offset: number,
  count: number,
  order: ByteOrder,
  encoding: StringEncoding = 'ascii',
): string {
  const bytes = toBigEndian(wire, offset, count, swaps(order).byteSwap ? 'BA' : 'AB');
  const nul = bytes.indexOf(0);
  const text = nul >= 0 ? bytes.subarray(0, nul) : bytes;
  if (encoding === 'ascii') {
    const bad = text.findIndex((b) => b > 0x7f);
    if (bad >= 0) throw decodeError(`byte 0x${text[bad]?.toString(16)} at ${bad} is not ASCII`);
    return text.toString('latin1').replace(/ +$/, '');
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(text).replace(/ +$/, '');
  } catch {
    throw decodeError('not valid UTF-8');
  }
}

/**
 * Encodes text into `count` registers' bytes (NUL-padded): the inverse of {@link decodeString}.
 * @throws RangeError when the text needs more than `count * 2` bytes
 */
export function encodeString(
  text: string,
  count: number,
  order: ByteOrder,
  encoding: StringEncoding = 'ascii',
): Uint8Array {
  const raw = Buffer.from(text, encoding === 'ascii' ? 'latin1' : 'utf8');
  if (raw.length > count * 2)
    throw new RangeError(`"${text}" needs ${raw.length} bytes; ${count} registers hold ${count * 2}`);
  const be = Buffer.alloc(count * 2);
  raw.copy(be);
  return toBigEndian(be, 0, count, swaps(order).byteSwap ? 'BA' : 'AB');
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

/** A decimal string exactly as Decimal#toFixed writes it: no exponent, no leading or trailing zeros, no "-0". */
const PLAIN_DECIMAL = /^(-?[1-9]\d*(\.\d*[1-9])?|-?0\.\d*[1-9]|0)$/;

/** Applies {@link Scaling} exactly with decimal.js and returns a plain decimal string (no exponent). */
export function applyScaling(raw: string, s: Scaling): string {
  // Nothing to scale: the common case of a decoded float or integer, without a Decimal per reading.
  if (
    (s.scale === undefined || String(s.scale) === '1') &&
    (s.offset === undefined || String(s.offset) === '0') &&
    s.decimals === undefined &&
    PLAIN_DECIMAL.test(raw)
  )
    return raw;
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
 * @throws RangeError when the value does not fit the type; Error for `string` (use {@link encodeString})
 */
export function encodeRaw(value: number | bigint | string, type: ModbusType, order: ByteOrder): Uint8Array {
  if (type === 'string') throw new Error('encodeRaw: strings are encoded by encodeString');
  const n = registerCount(type);
  const be = Buffer.alloc(n * 2);
  switch (type) {
    case 'bool':
      // A bool encodes as a whole register 0 or 1 (bit 0); set other bits with encodeRaw on uint16.
      be.writeUInt16BE(Number(value) ? 1 : 0);
      break;
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

/** What {@link decodePoint} needs to know of a point (a subset of config.ts `ModbusPoint`). */
export interface PointEncoding extends Scaling {
  table: 'coil' | 'discrete' | 'holding' | 'input';
  type: ModbusType;
  order: ByteOrder;
  bit?: number | undefined;
  count?: number | undefined;
  encoding?: StringEncoding | undefined;
}

/**
 * The engineering value of one point from a read response: "1"/"0" for coils, discrete inputs and
 * bits in registers, the text of a `string`, else the scaled exact decimal.
 * @param data the response's data bytes (registers big-endian, or packed bits for coils/discrete inputs)
 * @param offset byte offset of the point's first register, or for coils/discrete inputs its bit index
 * @throws as {@link decodeRaw}, {@link decodeBit} and {@link decodeString}
 */
export function decodePoint(p: PointEncoding, data: Uint8Array, offset: number): string {
  if (p.table === 'coil' || p.table === 'discrete') return decodeBit(data, offset);
  if (p.type === 'string')
    return decodeString(data, offset, registerCount('string', p.count), p.order, p.encoding);
  const raw = decodeRaw(data, offset, p.type, p.order, p.bit);
  return p.type === 'bool' ? raw : applyScaling(raw, p);
}
