/**
 * Configuration schemas of the Modbus drivers (`modbus-tcp`, `modbus-rtu`, `modbus-rtu-over-tcp`):
 * the device connection and its points. Addresses are zero-based protocol addresses (the PDU
 * address), not 1-based "40001" references. See drivers/modbus/README.md for every field.
 */
import { z } from 'zod';
import { PointCommon } from '../../core/schema/site.ts';
import { BYTE_ORDERS, MODBUS_TYPES, orderFits, registerCount, STRING_ENCODINGS } from './decode.ts';
import { ModbusEventLog } from './event-log-config.ts';

const DecimalLike = z
  .union([z.number(), z.string().regex(/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/, 'expected a decimal number')])
  .describe('number or decimal string; strings keep every digit');

/** The four Modbus data tables and the read function code of each (MODBUS Application Protocol §6.1–6.4). */
export const MODBUS_TABLES = ['coil', 'discrete', 'holding', 'input'] as const;
export type ModbusTable = (typeof MODBUS_TABLES)[number];

/** Read function code of a table: coils 1, discrete inputs 2, holding registers 3, input registers 4. */
export const FUNCTION_CODE: Readonly<Record<ModbusTable, 1 | 2 | 3 | 4>> = {
  coil: 1,
  discrete: 2,
  holding: 3,
  input: 4,
};

/** True for the single-bit tables (coils, discrete inputs). */
export function isBitTable(table: ModbusTable): table is 'coil' | 'discrete' {
  return table === 'coil' || table === 'discrete';
}

/** Width of a point in its table: bits for coils/discrete inputs, registers otherwise. */
export function pointWidth(p: Pick<ModbusPoint, 'table' | 'type' | 'count'>): number {
  return isBitTable(p.table) ? 1 : registerCount(p.type, p.count);
}

/**
 * One Modbus point: a coil or discrete input (`bool`), one bit of a register (`bool` with `bit`), a
 * number in one to four registers, or a `string` in `count` registers.
 */
export const ModbusPoint = PointCommon.extend({
  table: z.enum(MODBUS_TABLES).describe('coil (FC 1), discrete (FC 2), holding (FC 3) or input (FC 4)'),
  address: z.number().int().min(0).max(65535).describe('zero-based coil/input/register address'),
  type: z.enum(MODBUS_TYPES),
  order: z.enum(BYTE_ORDERS).default('ABCD').describe('byte/word order, see drivers/modbus/README.md'),
  bit: z
    .number()
    .int()
    .min(0)
    .max(15)
    .optional()
    .describe('for bool in a register: bit 0 (least significant) … 15'),
  count: z.number().int().min(1).max(125).optional().describe('string length in registers (2 bytes each)'),
  encoding: z.enum(STRING_ENCODINGS).optional().describe('string encoding; default ascii'),
  scale: DecimalLike.optional().describe('value = raw × scale + offset'),
  offset: DecimalLike.optional(),
  decimals: z.number().int().min(0).max(20).optional().describe('round to this many places (half-even)'),
  pollIntervalMs: z
    .number()
    .int()
    .min(10)
    .max(86_400_000)
    .optional()
    .describe("poll group: read this point at this interval instead of the device's"),
})
  .strict()
  .superRefine((p, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (isBitTable(p.table)) {
      if (p.type !== 'bool') issue('type', `a ${p.table} is a single bit: use type bool`);
      if (p.bit !== undefined) issue('bit', `bit is for bool in a register, not in the ${p.table} table`);
      return;
    }
    if (p.type === 'bool' && p.bit === undefined)
      issue('bit', 'a bool in a register needs bit: 0 (least significant) … 15');
    if (p.type !== 'bool' && p.bit !== undefined) issue('bit', 'bit is only for type bool');
    if (p.type === 'string' && p.count === undefined) issue('count', 'a string needs count (registers)');
    if (p.type !== 'string' && (p.count !== undefined || p.encoding !== undefined))
      issue(p.count !== undefined ? 'count' : 'encoding', 'count and encoding are only for type string');
    if (p.type === 'string' && (p.scale !== undefined || p.offset !== undefined || p.decimals !== undefined))
      issue('scale', 'a string cannot be scaled');
    if (p.type === 'string' && p.count === undefined) return;
    if (p.address + registerCount(p.type, p.count) > 65536)
      issue('address', `${p.type} at ${p.address} runs past register 65535`);
    if (!orderFits(p.type, p.order))
      issue(
        'order',
        registerCount(p.type, p.count) === 2
          ? `order ${p.order} does not fit ${p.type}; use ABCD, BADC, CDAB or DCBA`
          : registerCount(p.type, p.count) === 4
            ? `order ${p.order} does not fit ${p.type}; use ABCD, BADC, CDAB, DCBA or their 64-bit names`
            : `order ${p.order} does not fit ${p.type}; use AB or BA (ABCD and BADC act as AB and BA)`,
      );
  });
export type ModbusPoint = z.infer<typeof ModbusPoint>;

/** Fields every Modbus device has, whatever the transport. */
const common = {
  id: z.string(),
  pollIntervalMs: z
    .number()
    .int()
    .min(10)
    .max(86_400_000)
    .default(1000)
    .describe('default poll interval; points may set their own (poll groups)'),
  timeoutMs: z.number().int().min(10).max(60_000).default(1000),
  retries: z
    .number()
    .int()
    .min(0)
    .max(10)
    .default(1)
    .describe('extra attempts of a failed request in one cycle'),
  reconnectDelayMs: z
    .number()
    .int()
    .min(10)
    .max(600_000)
    .default(1000)
    .describe('first backoff; doubles up to 30 s'),
  maxRegistersPerRequest: z
    .number()
    .int()
    .min(1)
    .max(125)
    .default(125)
    .describe('Modbus allows 125 registers per read (MODBUS Application Protocol §6.3); some devices fewer'),
  maxGap: z
    .number()
    .int()
    .min(0)
    .max(124)
    .default(0)
    .describe('unused registers a merged request may read across to save a request'),
  maxBitsPerRequest: z
    .number()
    .int()
    .min(1)
    .max(2000)
    .default(2000)
    .describe('Modbus allows 2000 coils/discrete inputs per read (§6.1, §6.2); some devices fewer'),
  maxBitGap: z
    .number()
    .int()
    .min(0)
    .max(1999)
    .default(0)
    .describe('unused coils/inputs a merged request may read across'),
  points: z.array(ModbusPoint).min(1),
  eventLogs: z
    .array(ModbusEventLog)
    .default([])
    .describe(
      'ticket memories read so that no ticket is lost in an outage (drivers/modbus/event-log-config.ts)',
    ),
};

/**
 * Site files publish values on the wire as exact decimals (core/schema/wire.ts), so a `string`
 * point (serial number, model name) is for `mrv read` only.
 */
function noStringPoints(
  d: { points: ModbusPoint[]; eventLogs: ModbusEventLog[] },
  ctx: z.RefinementCtx,
): void {
  d.points.forEach((p, i) => {
    if (p.type === 'string')
      ctx.addIssue({
        code: 'custom',
        path: ['points', i, 'type'],
        message:
          'string points cannot be published (readings carry exact decimals, core/schema/wire.ts); read strings with `mrv read --type string`',
      });
  });
  eventLogPoints(d, ctx);
}

/**
 * Every point an event log writes is a declared point of the device (so meta, the catalogue and the
 * evidence know its unit and meaning), log ids are unique, and a point is written by one log only.
 */
function eventLogPoints(
  d: { points: ModbusPoint[]; eventLogs: ModbusEventLog[] },
  ctx: z.RefinementCtx,
): void {
  const declared = new Set(d.points.map((p) => p.id));
  const logIds = new Set<string>();
  const written = new Map<string, string>();
  d.eventLogs.forEach((log, i) => {
    if (logIds.has(log.id))
      ctx.addIssue({
        code: 'custom',
        path: ['eventLogs', i, 'id'],
        message: `duplicate event log id "${log.id}"`,
      });
    logIds.add(log.id);
    const targets: [string, (string | number)[]][] = [
      [log.number.point, ['number', 'point']],
      ...log.fields.map((f, j): [string, (string | number)[]] => [f.point, ['fields', j, 'point']]),
    ];
    for (const [point, path] of targets) {
      if (!declared.has(point))
        ctx.addIssue({
          code: 'custom',
          path: ['eventLogs', i, ...path],
          message: `unknown point "${point}"; declare it under this device's points[] (its unit, meter and parameter)`,
        });
      const other = written.get(point);
      if (other !== undefined && other !== log.id)
        ctx.addIssue({
          code: 'custom',
          path: ['eventLogs', i, ...path],
          message: `point "${point}" is already written by event log "${other}"`,
        });
      written.set(point, log.id);
    }
  });
}

const tcpConnection = {
  host: z.string().min(1).describe('IP address or host name'),
  port: z.number().int().min(1).max(65535).default(502),
};

/** A Modbus TCP device (or a TCP gateway in front of serial devices, addressed by `unitId`). */
export const ModbusTcpDeviceShape = z
  .object({
    ...common,
    driver: z.literal('modbus-tcp'),
    ...tcpConnection,
    unitId: z.number().int().min(0).max(255).default(1).describe('Modbus unit id (slave id)'),
  })
  .strict();
/** A `modbus-tcp` device of a site file. */
export const ModbusTcpDevice = ModbusTcpDeviceShape.superRefine(noStringPoints);
export type ModbusTcpDevice = z.infer<typeof ModbusTcpDeviceShape>;

/** Serial line settings of an RTU device (Modbus over Serial Line V1.02 §2.5: default 8E1). */
const serialLine = {
  path: z.string().min(1).describe('serial device, e.g. /dev/ttyUSB0 or /dev/serial/by-id/...'),
  baudRate: z.number().int().min(300).max(921_600).default(9600),
  parity: z.enum(['none', 'even', 'odd']).default('even').describe('Modbus serial default is even'),
  dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
  stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
};

/** RTU unit ids: 1–247 (0 is broadcast, which never answers a read; Modbus over Serial Line §2.2). */
const rtuUnitId = z.number().int().min(1).max(247).default(1).describe('slave address on the bus');

/**
 * A Modbus RTU device on a serial line. Several devices may share one `path` (an RS-485 bus); they
 * then share one port and one lock, so their frames never interleave. Devices on one path must agree
 * on the line settings.
 */
export const ModbusRtuDeviceShape = z
  .object({ ...common, driver: z.literal('modbus-rtu'), ...serialLine, unitId: rtuUnitId })
  .strict();
/** A `modbus-rtu` device of a site file. */
export const ModbusRtuDevice = ModbusRtuDeviceShape.superRefine(noStringPoints);
export type ModbusRtuDevice = z.infer<typeof ModbusRtuDeviceShape>;

/**
 * A Modbus RTU device behind a transparent serial-to-Ethernet converter: RTU frames (with CRC, no
 * MBAP header) over a TCP connection. Devices with the same `host:port` share the connection and a lock.
 */
export const ModbusRtuOverTcpDeviceShape = z
  .object({ ...common, driver: z.literal('modbus-rtu-over-tcp'), ...tcpConnection, unitId: rtuUnitId })
  .strict();
/** A `modbus-rtu-over-tcp` device of a site file. */
export const ModbusRtuOverTcpDevice = ModbusRtuOverTcpDeviceShape.superRefine(noStringPoints);
export type ModbusRtuOverTcpDevice = z.infer<typeof ModbusRtuOverTcpDeviceShape>;

/** Any Modbus device configuration. */
export type ModbusDevice = ModbusTcpDevice | ModbusRtuDevice | ModbusRtuOverTcpDevice;
