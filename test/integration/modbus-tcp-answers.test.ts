/**
 * Modbus TCP answers that do not fit their request (issue 15), against Debian's pymodbus slave:
 * a short answer (one register fewer, byte count to match) is a decode error of that request only,
 * not a lost connection that marks the next request bad with its text; a wrong unit id (the slave
 * drops the request) is a timeout every cycle, not a timeout and "unreachable" by turns.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../core/time.ts';
import { ModbusTcpDevice } from '../../drivers/modbus/config.ts';
import { ModbusDriver } from '../../drivers/modbus/driver.ts';
import { type PyModbus, startPymodbus } from '../helpers/pymodbus.ts';

const log = pino({ level: 'silent' });
let py: PyModbus;
beforeAll(async () => {
  py = await startPymodbus('tcp', { 1: { hr: Array.from({ length: 16 }, (_, i) => 1000 + i) } });
});
afterAll(() => py?.stop());

const device = (extra: Record<string, unknown>) =>
  ModbusTcpDevice.parse({
    id: 'py',
    driver: 'modbus-tcp',
    host: '127.0.0.1',
    port: py.port,
    timeoutMs: 3000,
    retries: 0,
    reconnectDelayMs: 1000,
    points: [
      { id: 'wide', unit: '', table: 'holding', address: 0, type: 'uint32' },
      { id: 'narrow', unit: '', table: 'holding', address: 10, type: 'uint16' },
    ],
    ...extra,
  });

describe('modbus-tcp: answers that do not fit the request', () => {
  it('codes a short answer MRV_E_DECODE for its own request only', async () => {
    py.setFaults({ short: true });
    const driver = new ModbusDriver(device({}), { clock: systemClock, log });
    try {
      for (let cycle = 0; cycle < 3; cycle++) {
        const [wide, narrow] = await driver.pollOnce();
        expect(wide?.quality).toBe('bad');
        expect(wide?.reason).toMatch(/^MRV_E_DECODE: holding 0\+2: answer does not fit the request/);
        // One register asked, one register answered: untouched by the fault, and not marked bad with
        // the first request's text.
        expect(narrow).toMatchObject({ point: 'narrow', quality: 'good', value: '1010' });
      }
      expect(driver.status().connects).toBe(1);
    } finally {
      py.setFaults({});
      await driver.stop();
    }
  });

  it('codes a wrong unit id MRV_E_MODBUS_TIMEOUT every cycle', async () => {
    // The connect timeout is timeoutMs too: 500 ms keeps the test short and a loopback connect inside it.
    const driver = new ModbusDriver(device({ unitId: 9, timeoutMs: 500 }), { clock: systemClock, log });
    try {
      const reasons: string[] = [];
      for (let cycle = 0; cycle < 5; cycle++)
        for (const r of await driver.pollOnce()) reasons.push((r.reason ?? r.quality).split(':')[0] ?? '');
      expect(reasons).toEqual(Array(10).fill('MRV_E_MODBUS_TIMEOUT'));
    } finally {
      await driver.stop();
    }
  });
});
