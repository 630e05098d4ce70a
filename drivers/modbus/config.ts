/**
 * Configuration schema of the `modbus-tcp` driver: the device connection and its points.
 * Addresses are zero-based protocol addresses (the PDU address), not 1-based "40001" references.
 */
import { z } from 'zod';
import { PointCommon } from '../../core/schema/site.ts';
import { BYTE_ORDERS, MODBUS_TYPES, registerCount } from './decode.ts';

const DecimalLike = z
  .union([z.number(), z.string().regex(/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/, 'expected a decimal number')])
  .describe('number or decimal string; strings keep every digit');

/** One Modbus point: a value in a holding or input register (or several registers for 32/64-bit types). */
export const ModbusPoint = PointCommon.extend({
  table: z.enum(['holding', 'input']).describe('register table: holding (FC 3) or input (FC 4)'),
  address: z.number().int().min(0).max(65535).describe('zero-based register address'),
  type: z.enum(MODBUS_TYPES),
  order: z.enum(BYTE_ORDERS).default('ABCD').describe('byte/word order, see drivers/modbus/README.md'),
  scale: DecimalLike.optional().describe('value = raw × scale + offset'),
  offset: DecimalLike.optional(),
  decimals: z.number().int().min(0).max(20).optional().describe('round to this many places (half-even)'),
})
  .strict()
  .superRefine((p, ctx) => {
    if (p.address + registerCount(p.type) > 65536)
      ctx.addIssue({
        code: 'custom',
        path: ['address'],
        message: `${p.type} at ${p.address} runs past register 65535`,
      });
    const is16 = registerCount(p.type) === 1;
    if (!is16 && (p.order === 'AB' || p.order === 'BA'))
      ctx.addIssue({
        code: 'custom',
        path: ['order'],
        message: `order ${p.order} is for 16-bit types; use ABCD, BADC, CDAB or DCBA for ${p.type}`,
      });
  });
export type ModbusPoint = z.infer<typeof ModbusPoint>;

/** A Modbus TCP device (or a gateway in front of serial devices, addressed by `unitId`). */
export const ModbusTcpDevice = z
  .object({
    id: z.string(),
    driver: z.literal('modbus-tcp'),
    host: z.string().min(1).describe('IP address or host name'),
    port: z.number().int().min(1).max(65535).default(502),
    unitId: z.number().int().min(0).max(255).default(1).describe('Modbus unit id (slave id)'),
    pollIntervalMs: z.number().int().min(10).max(86_400_000).default(1000),
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
      .describe(
        'Modbus allows 125 registers per read (MODBUS Application Protocol §6.3); some devices fewer',
      ),
    maxGap: z
      .number()
      .int()
      .min(0)
      .max(124)
      .default(0)
      .describe('unused registers a merged request may read across to save a request'),
    points: z.array(ModbusPoint).min(1),
  })
  .strict();
export type ModbusTcpDevice = z.infer<typeof ModbusTcpDevice>;
