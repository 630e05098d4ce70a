/**
 * Pure OPC UA value decoding: a DataValue (value, StatusCode, timestamps) → one exact reading. No I/O,
 * no node-opcua import, so it is unit-tested without a server and usable by the simulators.
 *
 * Rules:
 * - Integers are exact; Int64/UInt64 arrive from node-opcua as `[high, low]` uint32 pairs (OPC 10000-6
 *   §5.2.2.2 encodes them as 8-byte little-endian two's complement) and are joined with BigInt.
 * - Float (32-bit) is printed as the shortest decimal that reads back to the same float32, Double as
 *   the shortest that reads back to the same float64 (ECMAScript Number::toString), so "0.1" stays "0.1".
 * - Boolean is "1"/"0"; a String is accepted only when it already is a decimal number.
 * - The StatusCode's severity (its two top bits, OPC 10000-4 §7.39) gives the quality: Good → good,
 *   Uncertain → uncertain (value kept), Bad → bad (value dropped). The reason names the code, e.g.
 *   `MRV_E_OPCUA_STATUS: BadSensorFailure`.
 */
import { Decimal } from 'decimal.js';
import type { Quality, Reading } from '../../core/schema/wire.ts';
import { applyScaling, float32ToDecimalString, type Scaling } from '../modbus/decode.ts';

/** Built-in DataType ids of OPC 10000-6 §5.1.2 Table 1 that this module decodes. */
export const OpcuaBuiltinType = {
  Null: 0,
  Boolean: 1,
  SByte: 2,
  Byte: 3,
  Int16: 4,
  UInt16: 5,
  Int32: 6,
  UInt32: 7,
  Int64: 8,
  UInt64: 9,
  Float: 10,
  Double: 11,
  String: 12,
} as const;

/** Names of the built-in types by id, for messages (ids outside {@link OpcuaBuiltinType} print as `type N`). */
const TYPE_NAMES: Record<number, string> = {
  ...Object.fromEntries(Object.entries(OpcuaBuiltinType).map(([k, v]) => [v, k])),
  13: 'DateTime',
  14: 'Guid',
  15: 'ByteString',
  16: 'XmlElement',
  17: 'NodeId',
  18: 'ExpandedNodeId',
  19: 'StatusCode',
  20: 'QualifiedName',
  21: 'LocalizedText',
  22: 'ExtensionObject',
  23: 'DataValue',
  24: 'Variant',
  25: 'DiagnosticInfo',
};

/** Error thrown for a value that cannot be an exact decimal; `code` is always `MRV_E_DECODE`. */
export class OpcuaDecodeError extends Error {
  readonly code = 'MRV_E_DECODE';
}

const DECIMAL = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/**
 * Joins node-opcua's `[high, low]` uint32 pair into an exact integer string.
 * @param signed true for Int64 (two's complement), false for UInt64
 * @throws OpcuaDecodeError when the pair is not two uint32 numbers
 */
export function int64PairToString(pair: unknown, signed: boolean): string {
  if (!Array.isArray(pair) || pair.length !== 2)
    throw new OpcuaDecodeError('64-bit value is not a [high, low] pair');
  const [hi, lo] = pair as unknown[];
  if (
    typeof hi !== 'number' ||
    typeof lo !== 'number' ||
    !Number.isInteger(hi) ||
    !Number.isInteger(lo) ||
    hi < 0 ||
    lo < 0 ||
    hi > 0xffffffff ||
    lo > 0xffffffff
  )
    throw new OpcuaDecodeError('64-bit value words are not uint32');
  const u = (BigInt(hi) << 32n) | BigInt(lo);
  return (signed ? BigInt.asIntN(64, u) : u).toString();
}

/** Shortest decimal string of a finite double that reads back to the same double, without exponent. */
export function doubleToDecimalString(v: number): string {
  return new Decimal(String(v)).toFixed();
}

/**
 * The raw scalar of a Variant as an exact decimal string (before scale and offset).
 * @param dataType built-in DataType id (OPC 10000-6 §5.1.2), node-opcua's `variant.dataType`
 * @param value node-opcua's `variant.value`
 * @param isArray true when the Variant holds an array or matrix (node-opcua `arrayType` ≠ Scalar)
 * @throws OpcuaDecodeError for arrays, null values, NaN/±Infinity, non-numeric strings and other types
 */
export function variantToDecimalString(dataType: number, value: unknown, isArray = false): string {
  const name = TYPE_NAMES[dataType] ?? `type ${dataType}`;
  if (isArray) throw new OpcuaDecodeError(`${name} array: only scalar values are supported`);
  if (value === null || value === undefined) throw new OpcuaDecodeError(`${name} value is null`);
  switch (dataType) {
    case OpcuaBuiltinType.Boolean:
      return value ? '1' : '0';
    case OpcuaBuiltinType.SByte:
    case OpcuaBuiltinType.Byte:
    case OpcuaBuiltinType.Int16:
    case OpcuaBuiltinType.UInt16:
    case OpcuaBuiltinType.Int32:
    case OpcuaBuiltinType.UInt32:
      if (typeof value !== 'number' || !Number.isInteger(value))
        throw new OpcuaDecodeError(`${name} value is not an integer`);
      return String(value);
    case OpcuaBuiltinType.Int64:
      return typeof value === 'bigint' ? BigInt.asIntN(64, value).toString() : int64PairToString(value, true);
    case OpcuaBuiltinType.UInt64:
      return typeof value === 'bigint'
        ? BigInt.asUintN(64, value).toString()
        : int64PairToString(value, false);
    case OpcuaBuiltinType.Float:
    case OpcuaBuiltinType.Double: {
      if (typeof value !== 'number') throw new OpcuaDecodeError(`${name} value is not a number`);
      if (!Number.isFinite(value)) throw new OpcuaDecodeError(`${name} is ${value}`);
      return dataType === OpcuaBuiltinType.Float
        ? float32ToDecimalString(value)
        : doubleToDecimalString(value);
    }
    case OpcuaBuiltinType.String: {
      const s = typeof value === 'string' ? value.trim() : '';
      if (!DECIMAL.test(s))
        throw new OpcuaDecodeError(`String "${String(value).slice(0, 40)}" is not a decimal number`);
      return new Decimal(s).toFixed();
    }
    default:
      throw new OpcuaDecodeError(`${name} values cannot be read as a number`);
  }
}

/** Quality class of a StatusCode from its severity bits 30–31 (OPC 10000-4 §7.39): 00 Good, 01 Uncertain, 1x Bad. */
export function statusQuality(statusCode: number): Quality {
  const severity = (statusCode >>> 30) & 0b11;
  return severity === 0 ? 'good' : severity === 1 ? 'uncertain' : 'bad';
}

/** The parts of a node-opcua DataValue this module reads (structurally typed, so tests need no node-opcua). */
export interface DataValueLike {
  value?: { dataType: number; arrayType?: number; value: unknown } | null;
  statusCode?: { value: number; name: string } | null;
  sourceTimestamp?: Date | null;
  serverTimestamp?: Date | null;
}

/** What a point contributes to decoding: its id, meter and scaling. */
export interface PointDecode extends Scaling {
  id: string;
  meter?: string | undefined;
}

/**
 * Turns one DataValue into one reading.
 * - `ts` = SourceTimestamp, else ServerTimestamp, else `rxMs` (OPC 10000-4 §7.11 lets a server omit either).
 * - `serverTs` = ServerTimestamp when present.
 * - Good and Uncertain values are decoded and scaled; an undecodable value is `bad` with `MRV_E_DECODE`.
 * - Bad status gives `value: null` and reason `MRV_E_OPCUA_STATUS: <StatusCode name>`; an Uncertain
 *   status keeps the value and names the code in `reason` too.
 * @param rxMs gateway clock (ms epoch) when the value was received
 */
export function dataValueToReading(point: PointDecode, dv: DataValueLike, rxMs: number): Reading {
  const rxTs = new Date(rxMs).toISOString();
  const source = validDate(dv.sourceTimestamp);
  const server = validDate(dv.serverTimestamp);
  const base = {
    point: point.id,
    ...(point.meter ? { meter: point.meter } : {}),
    ts: (source ?? server)?.toISOString() ?? rxTs,
    rxTs,
    ...(server ? { serverTs: server.toISOString() } : {}),
  };
  const code = dv.statusCode?.value ?? 0;
  const quality = statusQuality(code);
  const statusReason = `MRV_E_OPCUA_STATUS: ${dv.statusCode?.name ?? `0x${(code >>> 0).toString(16).padStart(8, '0')}`}`;
  if (quality === 'bad') return { ...base, value: null, quality, reason: statusReason };
  try {
    const v = dv.value;
    // node-opcua's VariantArrayType: 0 Scalar, 1 Array, 2 Matrix.
    const raw = variantToDecimalString(
      v?.dataType ?? OpcuaBuiltinType.Null,
      v?.value,
      (v?.arrayType ?? 0) !== 0,
    );
    const value = applyScaling(raw, point);
    return quality === 'good'
      ? { ...base, value, quality }
      : { ...base, value, quality, reason: statusReason };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { ...base, value: null, quality: 'bad', reason: `MRV_E_DECODE: ${message}` };
  }
}

/** A bad reading for a point with a stable reason (`CODE: detail`), timestamped at `ms`. */
export function badReading(point: PointDecode, reason: string, ms: number): Reading {
  const ts = new Date(ms).toISOString();
  return {
    point: point.id,
    ...(point.meter ? { meter: point.meter } : {}),
    ts,
    rxTs: ts,
    value: null,
    quality: 'bad',
    reason: reason.length > 500 ? `${reason.slice(0, 497)}...` : reason,
  };
}

function validDate(d: Date | null | undefined): Date | undefined {
  // node-opcua reports a missing timestamp as null, or as the OPC UA "MinDateTime" 1601-01-01.
  if (!d || Number.isNaN(d.getTime()) || d.getTime() <= Date.UTC(1601, 0, 2)) return undefined;
  return d;
}
