/**
 * Interoperability: our Modbus drivers read Debian's python3-pymodbus (a slave nobody here wrote) as
 * a Modbus TCP server, an RTU-over-TCP server and an RTU slave on a socat pty pair, in every type and
 * every byte/word order. pymodbus encodes the values itself with Python's struct module
 * (test/helpers/pymodbus-server.py), so both sides of each comparison are independent.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../core/time.ts';
import {
  type ModbusDevice,
  ModbusRtuDeviceShape,
  ModbusRtuOverTcpDeviceShape,
  ModbusTcpDeviceShape,
} from '../../drivers/modbus/config.ts';
import { type ModbusType, registerCount } from '../../drivers/modbus/decode.ts';
import { ModbusDriver } from '../../drivers/modbus/driver.ts';
import { type PyImage, type PyModbus, type PyValue, startPymodbus } from '../helpers/pymodbus.ts';
import { type PtyPair, startPtyPair } from '../helpers/socat.ts';

const log = pino({ level: 'silent' });

const ORDERS: Record<number, string[]> = {
  1: ['AB', 'BA'],
  2: ['ABCD', 'BADC', 'CDAB', 'DCBA'],
  4: ['ABCD', 'BADC', 'CDAB', 'DCBA', 'ABCDEFGH', 'BADCFEHG', 'GHEFCDAB', 'HGFEDCBA'],
};
/** One value per type; the expected text is what the driver must print (exact decimals). */
const VALUES: [ModbusType, string][] = [
  ['int16', '-12345'],
  ['uint16', '54321'],
  ['int32', '-123456789'],
  ['uint32', '3000000000'],
  ['float32', '123.456'],
  ['int64', '-1234567890123456789'],
  ['uint64', '18446744073709551615'],
  ['float64', '-98765.4321'],
];

/** Every type in every order in holding registers 0…123, plus bits, strings and input registers. */
function layout(): {
  values: PyValue[];
  points: Record<string, unknown>[];
  expected: Record<string, string>;
} {
  const values: PyValue[] = [];
  const points: Record<string, unknown>[] = [];
  const expected: Record<string, string> = {};
  let address = 0;
  for (const [type, value] of VALUES)
    for (const order of ORDERS[registerCount(type)] ?? []) {
      const id = `${type}.${order}`;
      values.push({ table: 'hr', address, type, order, value });
      points.push({ id, unit: '', table: 'holding', address, type, order });
      expected[id] = value;
      address += registerCount(type);
    }
  values.push(
    { table: 'ir', address: 0, type: 'bool', value: '1', bit: 0 },
    { table: 'ir', address: 0, type: 'bool', value: '1', bit: 13 },
    { table: 'ir', address: 1, type: 'string', order: 'AB', value: 'CEMENT-42', count: 5 },
    { table: 'ir', address: 6, type: 'string', order: 'BA', value: 'SLAG', count: 2 },
    { table: 'ir', address: 8, type: 'uint32', order: 'CDAB', value: '4294967295' },
  );
  points.push(
    { id: 'bit0', unit: '', table: 'input', address: 0, type: 'bool', bit: 0 },
    { id: 'bit1', unit: '', table: 'input', address: 0, type: 'bool', bit: 1 },
    { id: 'bit13', unit: '', table: 'input', address: 0, type: 'bool', bit: 13 },
    { id: 'text.AB', unit: '', table: 'input', address: 1, type: 'string', count: 5 },
    { id: 'text.BA', unit: '', table: 'input', address: 6, type: 'string', order: 'BA', count: 2 },
    { id: 'total', unit: 't', table: 'input', address: 8, type: 'uint32', order: 'CDAB', scale: '0.001' },
    { id: 'coil0', unit: '', table: 'coil', address: 0, type: 'bool' },
    { id: 'coil9', unit: '', table: 'coil', address: 9, type: 'bool' },
    { id: 'di2', unit: '', table: 'discrete', address: 2, type: 'bool' },
  );
  Object.assign(expected, {
    bit0: '1',
    bit1: '0',
    bit13: '1',
    'text.AB': 'CEMENT-42',
    'text.BA': 'SLAG',
    total: '4294967.295',
    coil0: '1',
    coil9: '1',
    di2: '1',
  });
  return { values, points, expected };
}

const { values, points, expected } = layout();
const image: PyImage = {
  1: { values, co: [1, 0, 0, 0, 0, 0, 0, 0, 0, 1], di: [0, 0, 1] },
  2: { hr: [7, 8, 9] },
};

async function readAll(config: ModbusDevice): Promise<Record<string, string | null>> {
  const driver = new ModbusDriver(config, { clock: systemClock, log });
  try {
    const readings = await driver.pollOnce();
    const bad = readings.filter((r) => r.quality !== 'good');
    expect(bad, JSON.stringify(bad)).toEqual([]);
    return Object.fromEntries(readings.map((r) => [r.point, r.value]));
  } finally {
    await driver.stop();
  }
}

const base = { id: 'py', unitId: 1, timeoutMs: 1000, retries: 1, points };

describe('pymodbus as a Modbus TCP server', () => {
  let py: PyModbus;
  beforeAll(async () => {
    py = await startPymodbus('tcp', image);
  });
  afterAll(() => py?.stop());

  it('reads every type in every order, bits, coils, discrete inputs and strings', async () => {
    const config = ModbusTcpDeviceShape.parse({
      ...base,
      driver: 'modbus-tcp',
      host: '127.0.0.1',
      port: py.port,
    });
    const driver = new ModbusDriver(config, { clock: systemClock, log });
    // 124 holding registers in one request, the input registers in one, coils and discrete inputs in one each.
    expect(driver.requests.map((r) => [r.table, r.address, r.count])).toEqual([
      ['coil', 0, 1],
      ['coil', 9, 1],
      ['discrete', 2, 1],
      ['holding', 0, 124],
      ['input', 0, 10],
    ]);
    expect(await readAll(config)).toEqual(expected);
  });

  it('reads coils in one request when the gap may be filled, and caps requests at a lower device limit', async () => {
    const config = ModbusTcpDeviceShape.parse({
      ...base,
      driver: 'modbus-tcp',
      host: '127.0.0.1',
      port: py.port,
      maxBitGap: 8,
      maxRegistersPerRequest: 16,
    });
    const driver = new ModbusDriver(config, { clock: systemClock, log });
    expect(driver.requests.filter((r) => r.table === 'coil').map((r) => [r.address, r.count])).toEqual([
      [0, 10],
    ]);
    expect(driver.requests.filter((r) => r.table === 'holding').every((r) => r.count <= 16)).toBe(true);
    expect(await readAll(config)).toEqual(expected);
  });
});

describe('pymodbus as an RTU-over-TCP server', () => {
  let py: PyModbus;
  beforeAll(async () => {
    py = await startPymodbus('rtu-over-tcp', image);
  });
  afterAll(() => py?.stop());

  it('reads every type in every order', async () => {
    const config = ModbusRtuOverTcpDeviceShape.parse({
      ...base,
      driver: 'modbus-rtu-over-tcp',
      host: '127.0.0.1',
      port: py.port,
    });
    expect(await readAll(config)).toEqual(expected);
  });
});

describe('pymodbus as an RTU slave on a pty pair', () => {
  let py: PyModbus;
  let pty: PtyPair;
  beforeAll(async () => {
    pty = await startPtyPair();
    py = await startPymodbus('rtu', image, pty.a);
  });
  afterAll(async () => {
    await py?.stop();
    await pty?.stop();
  });

  it('reads every type in every order, and a second unit id on the same port at the same time', async () => {
    // pyserial cannot set even parity on a pty (EINVAL), so this bus runs 8N1.
    const serial = { driver: 'modbus-rtu', path: pty.b, baudRate: 9600, parity: 'none' };
    const one = ModbusRtuDeviceShape.parse({ ...base, ...serial });
    const two = ModbusRtuDeviceShape.parse({
      ...base,
      ...serial,
      id: 'py2',
      unitId: 2,
      points: [{ id: 'u2', unit: '', table: 'holding', address: 1, type: 'uint32' }],
    });
    const [a, b] = await Promise.all([readAll(one), readAll(two)]);
    expect(a).toEqual(expected);
    expect(b).toEqual({ u2: String(8 * 65536 + 9) });
  });
});
