/**
 * Pure logic of event logs (ticket memories, event-log-config.ts): which requests read the ring, how a
 * record decodes (ticket number, weighing time, fields), and which records are new since the last
 * ticket emitted, with the numbers the ring no longer holds. No I/O; the driver (driver.ts) reads and
 * emits, event-log-state.ts keeps the last number emitted.
 */
import { applyScaling, decodeRaw, type ModbusType } from './decode.ts';
import type { EventLogField, ModbusEventLog } from './event-log-config.ts';

/** One read request of a ring: registers `[address, address + count)`, slots `firstSlot…firstSlot + slots − 1`. */
export interface RingRequest {
  address: number;
  count: number;
  firstSlot: number;
  slots: number;
}

/**
 * The requests that read a whole ring, aligned on records so that every record comes from one answer
 * (a terminal writes a record between two requests, never inside one).
 * @param maxRegisters the device's `maxRegistersPerRequest` (1–125)
 * @throws RangeError when one record is longer than `maxRegisters`
 */
export function planRingRequests(log: ModbusEventLog, maxRegisters: number): RingRequest[] {
  const { address, records, stride } = log.ring;
  const perRequest = Math.floor(maxRegisters / stride);
  if (perRequest < 1)
    throw new RangeError(
      `event log ${log.id}: a record of ${stride} registers does not fit a request of ${maxRegisters}`,
    );
  const out: RingRequest[] = [];
  for (let slot = 0; slot < records; slot += perRequest) {
    const slots = Math.min(perRequest, records - slot);
    out.push({ address: address + slot * stride, count: slots * stride, firstSlot: slot, slots });
  }
  return out;
}

/** One field's value in a record: the exact decimal, or why it could not be decoded. */
export interface RecordValue {
  point: string;
  value?: string;
  error?: string;
}

/** A decoded record. `timeMs` is absent (and `timeError` says why) when the weighing time does not decode. */
export interface TicketRecord {
  /** Ring slot it was read from. */
  slot: number;
  /** Ticket number; 0 is an empty slot. */
  number: number;
  timeMs?: number;
  timeError?: string;
  values: RecordValue[];
}

/** An unsigned integer (ticket number) at `offset` bytes. */
export function decodeNumber(
  bytes: Uint8Array,
  offset: number,
  type: 'uint16' | 'uint32',
  order: ModbusEventLog['index']['order'],
): number {
  return Number(decodeRaw(bytes, offset, type, order));
}

/** Minutes east of UTC of an offset such as "+08:00". */
function offsetMinutes(utcOffset: string): number {
  const sign = utcOffset.startsWith('-') ? -1 : 1;
  const [h, m] = utcOffset.slice(1).split(':').map(Number) as [number, number];
  return sign * (h * 60 + m);
}

/** Two BCD digits of one byte, or NaN when a nibble is above 9. */
function bcdByte(b: number): number {
  const hi = b >> 4;
  const lo = b & 0x0f;
  return hi > 9 || lo > 9 ? Number.NaN : hi * 10 + lo;
}

/**
 * A packed-BCD wall time of three registers, YY MM | DD hh | mm ss, at `utcOffset`, as ms epoch.
 * Years are 2000 + YY.
 * @throws RangeError for a non-BCD nibble or an impossible date or time (e.g. month 13, 31 April)
 */
export function decodeBcdTime(bytes: Uint8Array, offset: number, utcOffset: string): number {
  const d = Array.from({ length: 6 }, (_, i) => bcdByte(bytes[offset + i] ?? 0xff));
  const [yy, mo, dd, hh, mi, ss] = d as [number, number, number, number, number, number];
  const hex = Array.from(bytes.subarray(offset, offset + 6), (b) => b.toString(16).padStart(2, '0')).join('');
  if (d.some(Number.isNaN)) throw new RangeError(`BCD time 0x${hex} has a nibble above 9`);
  const ms = Date.UTC(2000 + yy, mo - 1, dd, hh, mi, ss);
  const back = new Date(ms);
  if (mo < 1 || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== dd || hh > 23 || mi > 59 || ss > 59)
    throw new RangeError(`BCD time 0x${hex} is not a valid date and time`);
  return ms - offsetMinutes(utcOffset) * 60_000;
}

/**
 * The weighing time of a record, ms epoch.
 * @throws RangeError when it does not decode or is 0 (a terminal that never set its clock)
 */
export function decodeRecordTime(log: ModbusEventLog, bytes: Uint8Array, recordOffset: number): number {
  const at = recordOffset + log.time.register * 2;
  if (log.time.format === 'bcd') return decodeBcdTime(bytes, at, log.time.utcOffset);
  const s = Number(decodeRaw(bytes, at, 'uint32', log.time.order));
  if (s === 0) throw new RangeError('weighing time is 0 (the terminal has no time for this ticket)');
  return s * 1000;
}

function decodeField(f: EventLogField, bytes: Uint8Array, at: number): RecordValue {
  try {
    const raw = decodeRaw(bytes, at, f.type as ModbusType, f.order);
    return {
      point: f.point,
      value: applyScaling(raw, {
        ...(f.scale !== undefined ? { scale: f.scale } : {}),
        ...(f.offset !== undefined ? { offset: f.offset } : {}),
      }),
    };
  } catch (err) {
    return { point: f.point, error: (err as Error).message };
  }
}

/**
 * Decodes one record.
 * @param bytes a response's data bytes; the record starts at `recordOffset`
 * @throws RangeError when `bytes` is too short for the record
 */
export function decodeRecord(
  log: ModbusEventLog,
  bytes: Uint8Array,
  recordOffset: number,
  slot: number,
): TicketRecord {
  if (recordOffset + log.ring.stride * 2 > bytes.length)
    throw new RangeError(`event log ${log.id}: record ${slot} runs past the answer`);
  const number = decodeNumber(
    bytes,
    recordOffset + log.number.register * 2,
    log.number.type,
    log.number.order,
  );
  const values = log.fields.map((f) => decodeField(f, bytes, recordOffset + f.register * 2));
  try {
    return { slot, number, timeMs: decodeRecordTime(log, bytes, recordOffset), values };
  } catch (err) {
    return { slot, number, timeError: (err as Error).message, values };
  }
}

/** An inclusive range of ticket numbers. */
export type NumberRange = [from: number, to: number];

/** What {@link selectRecords} found. */
export interface Selection {
  /** Records to emit, ascending by number, each number once. */
  fresh: TicketRecord[];
  /** Numbers in `(lastSeen, index]` the ring no longer holds (overwritten before they were read). */
  missing: NumberRange[];
  /**
   * Numbers above the newest record found, up to the index, while `reportTop` is false: not in the
   * ring yet (a terminal may count the index up before it writes the record), asked for again.
   */
  pending?: NumberRange;
  /** The last number emitted (or reported missing) after this selection, to keep for the next read. */
  next: number;
  /** The index went below `lastSeen`: the terminal renumbered (reset, replaced); the ring was taken whole. */
  renumbered: boolean;
}

/**
 * Picks the records to emit from a ring read after the index showed `index`.
 * - `lastSeen` known: the records numbered `lastSeen + 1 … index`. Numbers the ring lacks below the
 *   newest record found are `missing` (the outage outlasted the ring: a ring loses its oldest records
 *   first). Numbers above the newest record found are `pending` (not written yet) and `next` stays
 *   below them, unless `reportTop`, when they are `missing` too (the caller asked again long enough).
 *   Records above `index` were written after the index was read: left for the next read.
 * - `lastSeen` unknown (first start without state) or above `index` (renumbered): every record
 *   `1 … index` the ring holds (a repeat of a ticket already stored is harmless: the events
 *   aggregation counts each number once); nothing is reported missing, nothing is known before them.
 * Empty slots (number 0) are ignored; two slots with one number keep the first.
 */
export function selectRecords(
  records: readonly TicketRecord[],
  lastSeen: number | undefined,
  index: number,
  reportTop = true,
): Selection {
  const renumbered = lastSeen !== undefined && index < lastSeen;
  const low = lastSeen === undefined || renumbered ? 0 : lastSeen;
  const byNumber = new Map<number, TicketRecord>();
  for (const r of records)
    if (r.number > low && r.number <= index && !byNumber.has(r.number)) byNumber.set(r.number, r);
  const fresh = [...byNumber.values()].sort((a, b) => a.number - b.number);
  if (lastSeen === undefined || renumbered) return { fresh, missing: [], next: index, renumbered };
  const missing: NumberRange[] = [];
  let expect = lastSeen + 1;
  for (const r of fresh) {
    if (r.number > expect) missing.push([expect, r.number - 1]);
    expect = r.number + 1;
  }
  if (expect > index) return { fresh, missing, next: index, renumbered };
  if (reportTop) return { fresh, missing: [...missing, [expect, index]], next: index, renumbered };
  return { fresh, missing, pending: [expect, index], next: expect - 1, renumbered };
}

/** Ranges as text: "101–136, 140". */
export function formatRanges(ranges: readonly NumberRange[]): string {
  return ranges.map(([a, b]) => (a === b ? String(a) : `${a}–${b}`)).join(', ');
}

/** How many numbers the ranges hold. */
export function rangeCount(ranges: readonly NumberRange[]): number {
  return ranges.reduce((n, [a, b]) => n + b - a + 1, 0);
}
