// The modbus-tcp driver against a real Modbus TCP server (modbus-serial ServerTCP) over loopback:
// coalesced reads, exact decoding, exception responses, silent devices and reconnection.
import ModbusRTU from 'modbus-serial';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/time.ts';
import { ModbusTcpDevice } from '../../drivers/modbus/config.ts';
import { bytesToRegisters, encodeRaw } from '../../drivers/modbus/decode.ts';
import { ModbusTcpDriver } from '../../drivers/modbus/tcp.ts';
import { getFreePort } from '../helpers/free-port.ts';

const log = pino({ level: 'silent' });

/** A register image served by a real ServerTCP; counts the requests it answers. */
async function startServer(port: number, holding: number[], unitID = 255) {
  let requests = 0;
  // ServerTCP calls the getMultiple* functions only for reads of more than one register.
  const vector = {
    getHoldingRegister(addr: number) {
      return vector.getMultipleHoldingRegisters(addr, 1)[0] ?? 0;
    },
    getInputRegister(addr: number) {
      return vector.getMultipleInputRegisters(addr, 1)[0] ?? 0;
    },
    getMultipleHoldingRegisters(addr: number, length: number) {
      requests++;
      if (addr + length > holding.length) throw { modbusErrorCode: 0x02, msg: 'Illegal data address' };
      return holding.slice(addr, addr + length);
    },
    getMultipleInputRegisters(addr: number, length: number) {
      requests++;
      return Array.from({ length }, (_, i) => (addr + i) & 0xffff);
    },
  };
  const server = new ModbusRTU.ServerTCP(vector, { host: '127.0.0.1', port, unitID });
  await new Promise<void>((resolve) => server.on('initialized', () => resolve()));
  return {
    requests: () => requests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const image = [
  ...bytesToRegisters(encodeRaw('412.5', 'float32', 'CDAB')), // 0-1 line current kA
  ...bytesToRegisters(encodeRaw(4213, 'uint16', 'AB')), // 2 cell voltage mV
  ...bytesToRegisters(encodeRaw(3_012_345, 'uint32', 'CDAB')), // 3-4 energy kWh
  ...bytesToRegisters(encodeRaw(-2, 'int16', 'AB')), // 5
];

function device(port: number, extra: Record<string, unknown> = {}): ModbusTcpDevice {
  return ModbusTcpDevice.parse({
    id: 'dev',
    driver: 'modbus-tcp',
    host: '127.0.0.1',
    port,
    timeoutMs: 300,
    retries: 1,
    reconnectDelayMs: 1000,
    points: [
      {
        id: 'current',
        table: 'holding',
        address: 0,
        type: 'float32',
        order: 'CDAB',
        unit: 'kA',
        meter: 'ct',
      },
      { id: 'voltage', table: 'holding', address: 2, type: 'uint16', scale: '0.001', unit: 'V' },
      {
        id: 'energy',
        table: 'holding',
        address: 3,
        type: 'uint32',
        order: 'CDAB',
        scale: '0.001',
        unit: 'MWh',
      },
      { id: 'signed', table: 'holding', address: 5, type: 'int16', unit: '' },
      { id: 'input7', table: 'input', address: 7, type: 'uint16', unit: '' },
    ],
    ...extra,
  });
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('modbus-tcp driver', () => {
  it('reads every point exactly with one request per table', async () => {
    const port = await getFreePort();
    const server = await startServer(port, image);
    cleanups.push(server.stop);
    const clock = new ManualClock(Date.parse('2026-11-01T00:00:00.000Z'));
    const driver = new ModbusTcpDriver(device(port), { clock, log });
    cleanups.push(() => driver.stop());
    const readings = await driver.pollOnce();
    expect(server.requests()).toBe(2);
    expect(Object.fromEntries(readings.map((r) => [r.point, r.value]))).toEqual({
      current: '412.5',
      voltage: '4.213',
      energy: '3012.345',
      signed: '-2',
      input7: '7',
    });
    expect(readings.every((r) => r.quality === 'good' && r.ts === '2026-11-01T00:00:00.000Z')).toBe(true);
    expect(readings.find((r) => r.point === 'current')?.meter).toBe('ct');
    expect(driver.status()).toMatchObject({ connected: true, cycles: 1, failedRequests: 0 });
  });

  it('maps a Modbus exception to bad quality for the points of that request only', async () => {
    const port = await getFreePort();
    const server = await startServer(port, image.slice(0, 4)); // registers 4-5 do not exist
    cleanups.push(server.stop);
    const driver = new ModbusTcpDriver(device(port), { clock: new ManualClock(0), log });
    cleanups.push(() => driver.stop());
    const readings = await driver.pollOnce();
    const byPoint = Object.fromEntries(readings.map((r) => [r.point, r]));
    expect(byPoint.current).toMatchObject({ quality: 'bad', value: null });
    expect(byPoint.current?.reason).toMatch(/^MRV_E_MODBUS_EXCEPTION: holding 0\+6: Modbus exception 2/);
    expect(byPoint.input7).toMatchObject({ quality: 'good', value: '7' });
  });

  it('times out on a silent device and says so, without a stale value', async () => {
    const port = await getFreePort();
    // The server answers unit 9 only; requests to unit 1 are dropped without a reply.
    const server = await startServer(port, image, 9);
    cleanups.push(server.stop);
    const driver = new ModbusTcpDriver(device(port), { clock: new ManualClock(0), log });
    cleanups.push(() => driver.stop());
    const readings = await driver.pollOnce();
    expect(readings).toHaveLength(5);
    for (const r of readings) {
      expect(r.quality).toBe('bad');
      expect(r.value).toBeNull();
    }
    expect(readings[0]?.reason).toMatch(/^MRV_E_MODBUS_TIMEOUT/);
    expect(driver.status().failedRequests).toBeGreaterThanOrEqual(1);
  });

  it('reports an unreachable device, backs off, and reconnects when it comes up', async () => {
    const port = await getFreePort();
    const clock = new ManualClock(0);
    const driver = new ModbusTcpDriver(device(port), { clock, log });
    cleanups.push(() => driver.stop());
    const down = await driver.pollOnce();
    expect(down.every((r) => r.quality === 'bad' && r.reason?.startsWith('MRV_E_DEVICE_UNREACHABLE'))).toBe(
      true,
    );
    const server = await startServer(port, image);
    cleanups.push(server.stop);
    // Still inside the backoff window: no attempt, still bad, and the reason says when the next one is.
    const waiting = await driver.pollOnce();
    expect(waiting[0]?.reason).toMatch(/next attempt in \d+ ms/);
    expect(server.requests()).toBe(0);
    clock.advance(1000);
    const up = await driver.pollOnce();
    expect(up.every((r) => r.quality === 'good')).toBe(true);
    expect(up.find((r) => r.point === 'current')?.value).toBe('412.5');
  });

  it('reconnects after the device restarts', async () => {
    const port = await getFreePort();
    let server = await startServer(port, image);
    const clock = new ManualClock(0);
    const driver = new ModbusTcpDriver(device(port), { clock, log });
    cleanups.push(() => driver.stop());
    expect((await driver.pollOnce()).every((r) => r.quality === 'good')).toBe(true);
    await server.stop();
    const lost = await driver.pollOnce();
    expect(lost.every((r) => r.quality === 'bad')).toBe(true);
    server = await startServer(port, image);
    cleanups.push(server.stop);
    clock.advance(1000);
    expect((await driver.pollOnce()).every((r) => r.quality === 'good')).toBe(true);
  });

  it('delivers one poll cycle per interval to the sink', async () => {
    const port = await getFreePort();
    const server = await startServer(port, image);
    cleanups.push(server.stop);
    const clock = new ManualClock(0);
    const driver = new ModbusTcpDriver(device(port, { pollIntervalMs: 1000 }), { clock, log });
    const cycles: number[] = [];
    await driver.start((readings) => cycles.push(readings.length));
    await expect.poll(() => cycles.length).toBe(1);
    clock.advance(1000);
    await expect.poll(() => cycles.length).toBe(2);
    await driver.stop();
    expect(cycles).toEqual([5, 5]);
  });
});
