/**
 * `mrv read URL ...`: the commissioning read. An engineer on site points it at a device before writing
 * a site file and gets one decoded value, exactly as the gateway would publish it. The URL scheme picks
 * the protocol; each protocol registers one reader in {@link READERS}.
 *
 * Exit codes: 0 the value was read (good quality); 1 the device answered badly or not at all
 * (timeout, exception, unreachable, undecodable; the reason is on stderr, or in the JSON); 2 the
 * command line is wrong.
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import type { z } from 'zod';
import { MrvError } from '../core/errors.ts';
import type { Reading } from '../core/schema/wire.ts';
import { systemClock } from '../core/time.ts';
import {
  ModbusRtuDeviceShape,
  ModbusRtuOverTcpDeviceShape,
  ModbusTcpDeviceShape,
} from '../drivers/modbus/config.ts';
import { ModbusDriver } from '../drivers/modbus/driver.ts';

/** Usage of `mrv read`, also shown by `mrv help`. */
export const READ_USAGE = `  mrv read modbus-tcp://HOST[:PORT] --unit-id N --table holding|input|coil|discrete --address A
           --type T [--order ABCD|BADC|CDAB|DCBA|AB|BA|...] [--bit B] [--count N] [--encoding ascii|utf8]
           [--scale S] [--offset O] [--decimals D] [--timeout MS] [--retries N] [--json]
  mrv read "modbus-rtu:///dev/ttyUSB0?baud=9600&parity=even&data-bits=8&stop-bits=1" ...
  mrv read modbus-rtu-over-tcp://HOST:PORT ...
      read one value once and print it as an exact decimal (addresses zero-based); exit 0 good,
      1 bad reading (timeout, exception, unreachable), 2 usage error
  mrv read opc.tcp://HOST:PORT --node "ns=2;s=Tag" [--security None|Sign|SignAndEncrypt]
           [--policy Basic256Sha256] [--user NAME --password-env VAR|--password-file F]
           [--cert FILE --key FILE] [--pki DIR] [--scale S] [--offset O] [--timeout MS] [--json]
      read one OPC UA variable once (JSON: with source and server time); NodeIds from
      mrv browse opc.tcp://HOST:PORT, an untrusted server certificate with mrv pki trust
`;

/** A protocol's reader: parses its flags, reads once, prints; resolves with the exit code. */
export type Reader = (url: URL, args: string[]) => Promise<number>;

/**
 * Readers by URL scheme (with the trailing colon, as `URL.protocol` gives it). Another protocol adds
 * its entry here, e.g. `'opc.tcp:': readOpcUa`.
 */
export const READERS: Record<string, Reader> = {
  'modbus-tcp:': readModbus,
  'modbus-rtu:': readModbus,
  'modbus-rtu-over-tcp:': readModbus,
  'opc.tcp:': async (url, args) => (await import('./opcua.ts')).readOpcUa(url, args),
};

/** `mrv read URL ...`: dispatches on the URL scheme. */
export async function read(args: string[]): Promise<number> {
  const [target, ...rest] = args;
  if (target === '--help' || target === '-h' || target === 'help') {
    process.stdout.write(READ_USAGE);
    return 0;
  }
  if (!target || target.startsWith('-')) return usage('missing the device URL');
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return usage(`"${target}" is not a URL; e.g. modbus-tcp://192.168.1.10:502`);
  }
  const reader = READERS[url.protocol];
  if (!reader)
    return usage(
      `unknown scheme "${url.protocol}"; supported: ${Object.keys(READERS)
        .map((s) => `${s}//`)
        .join(', ')}`,
    );
  return reader(url, rest);
}

function usage(message: string): number {
  process.stderr.write(`mrv read: ${message}\n\n${READ_USAGE}`);
  return 2;
}

/** Prints a reading: the value alone, or the whole reading as JSON. */
function print(r: Reading, json: boolean): number {
  if (json) process.stdout.write(`${JSON.stringify(r)}\n`);
  else if (r.quality === 'good') process.stdout.write(`${r.value}\n`);
  if (r.quality !== 'good') process.stderr.write(`mrv read: ${r.reason ?? r.quality}\n`);
  return r.quality === 'good' ? 0 : 1;
}

const MODBUS_FLAGS = {
  'unit-id': { type: 'string', default: '1' },
  table: { type: 'string', default: 'holding' },
  address: { type: 'string' },
  type: { type: 'string' },
  order: { type: 'string' },
  bit: { type: 'string' },
  count: { type: 'string' },
  encoding: { type: 'string' },
  scale: { type: 'string' },
  offset: { type: 'string' },
  decimals: { type: 'string' },
  timeout: { type: 'string', default: '1000' },
  retries: { type: 'string', default: '0' },
  json: { type: 'boolean', default: false },
} as const;

/** Flag → config path, so schema errors name the flag the user typed. */
const FLAG_OF: Record<string, string> = {
  unitId: '--unit-id',
  timeoutMs: '--timeout',
  retries: '--retries',
  host: 'the URL host',
  port: 'the URL port',
  path: 'the URL path',
  baudRate: '?baud=',
  parity: '?parity=',
  dataBits: '?data-bits=',
  stopBits: '?stop-bits=',
};

/** A number flag as a number (the schema checks the range); a non-number stays a string so the schema names it. */
function num(v: string | undefined): number | string | undefined {
  if (v === undefined || v === '') return undefined;
  return Number.isFinite(Number(v)) ? Number(v) : v;
}

/** `mrv read modbus-tcp://…`, `modbus-rtu://…`, `modbus-rtu-over-tcp://…`. */
async function readModbus(url: URL, args: string[]): Promise<number> {
  const { values: v } = parseArgs({ args, options: MODBUS_FLAGS, strict: true });
  if (v.address === undefined) return usage('missing --address A (zero-based)');
  if (v.type === undefined) return usage('missing --type T (e.g. uint16, float32, bool, string)');
  const point = {
    id: 'value',
    unit: '',
    table: v.table,
    address: num(v.address),
    type: v.type,
    ...(v.order !== undefined && { order: v.order }),
    ...(v.bit !== undefined && { bit: num(v.bit) }),
    ...(v.count !== undefined && { count: num(v.count) }),
    ...(v.encoding !== undefined && { encoding: v.encoding }),
    ...(v.scale !== undefined && { scale: v.scale }),
    ...(v.offset !== undefined && { offset: v.offset }),
    ...(v.decimals !== undefined && { decimals: num(v.decimals) }),
  };
  const common = {
    id: 'read',
    unitId: num(v['unit-id']),
    timeoutMs: num(v.timeout),
    retries: num(v.retries),
    points: [point],
  };
  const q = url.searchParams;
  const parsed =
    url.protocol === 'modbus-rtu:'
      ? ModbusRtuDeviceShape.safeParse({
          ...common,
          driver: 'modbus-rtu',
          path: decodeURIComponent(url.pathname),
          ...(q.has('baud') && { baudRate: num(q.get('baud') ?? '') }),
          ...(q.has('parity') && { parity: q.get('parity') }),
          ...(q.has('data-bits') && { dataBits: num(q.get('data-bits') ?? '') }),
          ...(q.has('stop-bits') && { stopBits: num(q.get('stop-bits') ?? '') }),
        })
      : (url.protocol === 'modbus-tcp:' ? ModbusTcpDeviceShape : ModbusRtuOverTcpDeviceShape).safeParse({
          ...common,
          driver: url.protocol === 'modbus-tcp:' ? 'modbus-tcp' : 'modbus-rtu-over-tcp',
          host: url.hostname.replace(/^\[|\]$/g, ''),
          ...(url.port !== '' && { port: Number(url.port) }),
        });
  if (!parsed.success) return usage(describeIssues(parsed.error));
  const driver = new ModbusDriver(parsed.data, {
    clock: systemClock,
    log: pino({ level: process.env.MRV_LOG_LEVEL ?? 'silent' }, process.stderr),
  });
  try {
    const [reading] = await driver.pollOnce();
    if (!reading) throw new MrvError('MRV_E_INTERNAL', 'no reading');
    return print(reading, v.json);
  } finally {
    await driver.stop();
  }
}

/** Schema issues as flag-named messages, e.g. `--type: Invalid option: expected one of ...`. */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const [head, , field] = i.path;
      const name =
        head === 'points' ? `--${String(field ?? 'point')}` : (FLAG_OF[String(head)] ?? String(head ?? ''));
      return `${name}: ${i.message}`;
    })
    .join('\n  ');
}
