/**
 * Configuration of a device's event logs (`devices[].eventLogs[]` of a Modbus device): the ticket
 * memory of a weighing terminal or batching controller. Such a terminal keeps, besides the registers
 * showing its last ticket, an index register with the number of the latest ticket and a ring of the
 * most recent N records (ticket number, weighing time, net weight, ...), each record `stride`
 * registers long. Reading the ring after an outage collects every ticket weighed meanwhile, as long as
 * the ring still holds it (docs/architecture.md §7, docs/domain.md §2.1).
 *
 * Each record becomes one reading per field, all with ts = the record's own weighing time: the
 * ticket number as a reading of `number.point` and each field as a reading of its point. Those points
 * are ordinary points of the device (`points[]`: unit, meter, parameter, aggregation, ticketPoint),
 * usually the "last ticket" registers, so the catalogue, meta and evidence know them already; the
 * events aggregation counts each ticket once, by number, at its earliest observation (the weighing time).
 */
import { z } from 'zod';
import { BYTE_ORDERS, MODBUS_TYPES, orderFits, registerCount } from './decode.ts';

const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const Id = z.string().min(1).max(64).regex(IDENTIFIER, 'letters, digits, "_", "." and "-" only');
const DecimalLike = z
  .union([z.number(), z.string().regex(/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/, 'expected a decimal number')])
  .describe('number or decimal string; strings keep every digit');

/** Numeric types a record field can have (no bool, no string: readings carry decimals). */
export const FIELD_TYPES = MODBUS_TYPES.filter((t) => t !== 'bool' && t !== 'string') as Exclude<
  (typeof MODBUS_TYPES)[number],
  'bool' | 'string'
>[];

/** Unsigned integer types a ticket number (index register, record number) can have. */
export const NUMBER_TYPES = ['uint16', 'uint32'] as const;

/**
 * Weighing-time encodings of a record:
 * - `unix-s`: uint32, seconds since 1970-01-01 UTC (the time zone does not matter);
 * - `bcd`: three registers of packed BCD, YY MM | DD hh | mm ss (0x2612 0x3123 0x5940 = 2026-12-31
 *   23:59:40), the terminal's local wall time at `utcOffset` (China Standard Time by default).
 */
export const TIME_FORMATS = ['unix-s', 'bcd'] as const;
export type TimeFormat = (typeof TIME_FORMATS)[number];

/** One value field of a record: where it sits in the record, how it is encoded, which point it becomes. */
export const EventLogField = z
  .object({
    point: Id.describe('the point (declared in this device’s points[]) the field becomes a reading of'),
    register: z.number().int().min(0).max(124).describe('register offset of the field inside a record'),
    type: z.enum(FIELD_TYPES as [string, ...string[]]).describe('numeric type of the field'),
    order: z.enum(BYTE_ORDERS).default('ABCD').describe('byte/word order, as for points'),
    scale: DecimalLike.optional().describe('value = raw × scale + offset'),
    offset: DecimalLike.optional(),
  })
  .strict();
export type EventLogField = z.infer<typeof EventLogField>;

/** The ticket number inside each record. */
export const EventLogNumber = z
  .object({
    point: Id.describe('the point the ticket number becomes a reading of (the events point’s ticketPoint)'),
    register: z.number().int().min(0).max(124).default(0),
    type: z.enum(NUMBER_TYPES).default('uint32'),
    order: z.enum(BYTE_ORDERS).default('ABCD'),
  })
  .strict();

/** The weighing time inside each record. */
export const EventLogTime = z
  .object({
    register: z.number().int().min(0).max(124),
    format: z.enum(TIME_FORMATS).default('unix-s'),
    order: z.enum(BYTE_ORDERS).default('ABCD').describe('word order of a unix-s time'),
    utcOffset: z
      .string()
      .regex(/^[+-]\d{2}:\d{2}$/, 'expected an offset such as +08:00')
      .default('+08:00')
      .describe('bcd: the offset of the terminal’s wall clock from UTC'),
  })
  .strict();

/**
 * One event log (ticket memory) of a device. The gateway reads the index each `pollIntervalMs`;
 * when it moved, it reads the whole ring (record-aligned requests of at most `maxRegistersPerRequest`)
 * and emits every record numbered above the last one it emitted, up to the index. The last emitted
 * number is kept under the gateway's data folder, so a restart neither re-reads nor skips.
 */
export const ModbusEventLog = z
  .object({
    id: Id.describe('name of the log, unique in the device; names the state file entry'),
    description: z.string().optional(),
    table: z.enum(['holding', 'input']).default('holding'),
    index: z
      .object({
        address: z.number().int().min(0).max(65535).describe('register of the latest ticket number'),
        type: z.enum(NUMBER_TYPES).default('uint32'),
        order: z.enum(BYTE_ORDERS).default('ABCD'),
      })
      .strict(),
    ring: z
      .object({
        address: z.number().int().min(0).max(65535).describe('first register of record slot 0'),
        records: z.number().int().min(1).max(4096).describe('slots in the ring (tickets it remembers)'),
        stride: z.number().int().min(1).max(125).describe('registers per record'),
      })
      .strict(),
    number: EventLogNumber,
    time: EventLogTime,
    fields: z.array(EventLogField).min(1, 'an event log needs at least one value field'),
    pollIntervalMs: z
      .number()
      .int()
      .min(10)
      .max(86_400_000)
      .optional()
      .describe('how often the index is read; default the device’s pollIntervalMs'),
  })
  .strict()
  .superRefine((log, ctx) => {
    const issue = (path: (string | number)[], message: string) =>
      ctx.addIssue({ code: 'custom', path, message });
    const { stride, records, address } = log.ring;
    if (address + stride * records > 65536)
      issue(['ring', 'records'], `${records} records of ${stride} registers from ${address} run past 65535`);
    // Registers each part of a record takes, to check they fit the stride and do not overlap.
    const parts: { path: (string | number)[]; from: number; width: number }[] = [
      { path: ['number'], from: log.number.register, width: registerCount(log.number.type) },
      { path: ['time'], from: log.time.register, width: log.time.format === 'bcd' ? 3 : 2 },
      ...log.fields.map((f, i) => ({
        path: ['fields', i],
        from: f.register,
        width: registerCount(f.type as (typeof FIELD_TYPES)[number]),
      })),
    ];
    for (const p of parts)
      if (p.from + p.width > stride)
        issue([...p.path, 'register'], `runs past the record (stride ${stride} registers)`);
    for (let i = 0; i < parts.length; i++)
      for (let j = i + 1; j < parts.length; j++) {
        const a = parts[i] as (typeof parts)[number];
        const b = parts[j] as (typeof parts)[number];
        if (a.from < b.from + b.width && b.from < a.from + a.width)
          issue([...b.path, 'register'], `overlaps ${a.path.join('.')} in the record`);
      }
    if (!orderFits(log.index.type, log.index.order)) issue(['index', 'order'], 'order does not fit the type');
    if (!orderFits(log.number.type, log.number.order))
      issue(['number', 'order'], 'order does not fit the type');
    if (log.time.format === 'unix-s' && !orderFits('uint32', log.time.order))
      issue(['time', 'order'], 'a unix-s time is 32 bits: use ABCD, BADC, CDAB or DCBA');
    log.fields.forEach((f, i) => {
      if (!orderFits(f.type as (typeof FIELD_TYPES)[number], f.order))
        issue(['fields', i, 'order'], `order ${f.order} does not fit ${f.type}`);
    });
    const points = [log.number.point, ...log.fields.map((f) => f.point)];
    points.forEach((p, i) => {
      if (points.indexOf(p) !== i)
        issue(i === 0 ? ['number', 'point'] : ['fields', i - 1, 'point'], `point "${p}" is used twice`);
    });
  });
export type ModbusEventLog = z.infer<typeof ModbusEventLog>;
