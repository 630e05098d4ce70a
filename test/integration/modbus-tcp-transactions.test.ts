/**
 * modbus-serial keeps every transaction of a TCP client by its id (up to 256) with the closure that
 * holds its answer; drivers/modbus/link.ts `request` forgets each one once it settled, so that 16
 * links do not keep ~4,000 stale answers (~5 MiB) for the gateway's life (bench/analysis.md, gateway
 * footprint). Against Debian's pymodbus slave.
 */
import ModbusRTU from 'modbus-serial';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../../drivers/modbus/link.ts';
import { type PyModbus, startPymodbus } from '../helpers/pymodbus.ts';

let py: PyModbus;
beforeAll(async () => {
  py = await startPymodbus('tcp', { 1: { hr: Array.from({ length: 16 }, (_, i) => 1000 + i) } });
});
afterAll(() => py?.stop());

describe('modbus-tcp: settled transactions', () => {
  it('keeps none of 300 settled requests, answers and failures alike', async () => {
    const client = new ModbusRTU.default();
    await client.connectTCP('127.0.0.1', { port: py.port });
    client.setID(1);
    client.setTimeout(3000);
    const transactions = () =>
      Object.keys((client as unknown as { _transactions: Record<string, unknown> })._transactions).length;
    try {
      for (let i = 0; i < 300; i++) {
        const r = await request(client, 'holding', i % 8, 4);
        expect([...r.buffer]).toEqual(
          [0, 1, 2, 3].flatMap((k) => [(1000 + (i % 8) + k) >> 8, (1000 + (i % 8) + k) & 0xff]),
        );
        expect(transactions()).toBe(0);
      }
      // An exception answer (illegal data address) settles too.
      await expect(request(client, 'holding', 9000, 4)).rejects.toThrow();
      expect(transactions()).toBe(0);
    } finally {
      await new Promise<void>((resolve) => client.close(() => resolve()));
    }
  });
});
