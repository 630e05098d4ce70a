/**
 * The RTU framing of drivers/modbus/rtu-port.ts against a raw RTU-over-TCP peer written here, for
 * faults pymodbus cannot make: an answer delivered in two pieces with a pause longer than the answer
 * guard (as a USB serial adapter or a converter may deliver it) is still one answer, and so is a slow
 * one (600 ms of a 1000 ms timeout) cycle after cycle, though the guard grows with it; an answer
 * followed by extra bytes, or of the wrong unit id or function code, is rejected (`MRV_E_DECODE`) for
 * that request only and the next cycle, after the drain, reads right again; a frame that waits on a
 * new connection (a converter forwarding a late answer meant for the previous one) is drained, not
 * taken for the first answer; an answer that arrived while the process was busy past the timeout
 * counts (it waited in the kernel), not a timeout.
 */
import net from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../core/time.ts';
import { ModbusRtuOverTcpDevice } from '../../drivers/modbus/config.ts';
import { ModbusDriver } from '../../drivers/modbus/driver.ts';
import { interFrameSilenceMs, MIN_GUARD_MS } from '../../drivers/modbus/rtu-port.ts';

const log = pino({ level: 'silent' });

/** CRC-16/MODBUS (Modbus over Serial Line §6.2.2), low byte first on the wire. */
function withCrc(bytes: number[]): Buffer {
  let crc = 0xffff;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return Buffer.from([...bytes, crc & 0xff, crc >>> 8]);
}

type Mode =
  | 'plain'
  | 'split'
  | 'slow'
  | 'trailing'
  | 'wrong-unit'
  | 'wrong-fc'
  | 'stale-on-connect'
  | 'answer-then-stall';
let mode: Mode = 'plain';
let server: net.Server;
let port = 0;

/** Answers FC 3 for unit 1 with register value 1000 + address, misbehaving as `mode` says. */
beforeAll(async () => {
  server = net.createServer((socket) => {
    // A converter forwarding, on a new connection, the late answer of a request the previous connection
    // sent (or a serial buffer left with it): register 4's answer shape, values no register holds.
    if (mode === 'stale-on-connect')
      setTimeout(() => {
        if (!socket.destroyed) socket.write(withCrc([1, 3, 4, 0xde, 0xad, 0xbe, 0xef]));
      }, 10);
    socket.on('data', (req) => {
      const unit = req[0] ?? 0;
      const address = req.readUInt16BE(2);
      const count = req.readUInt16BE(4);
      const data: number[] = [];
      for (let i = 0; i < count; i++) data.push((1000 + address + i) >> 8, (1000 + address + i) & 0xff);
      const frame = withCrc([
        mode === 'wrong-unit' ? unit + 1 : unit,
        mode === 'wrong-fc' ? 4 : 3,
        count * 2,
        ...data,
      ]);
      if (mode === 'slow') setTimeout(() => socket.write(frame), 600);
      else if (mode === 'stale-on-connect') setTimeout(() => socket.write(frame), 60);
      else if (mode === 'answer-then-stall') {
        // The answer is on its way at once; then this process (the gateway's too) is busy for longer
        // than the request's timeout, as a loaded machine's may be.
        socket.write(frame);
        const end = Date.now() + STALL_MS;
        while (Date.now() < end);
      } else if (mode === 'split') {
        socket.write(frame.subarray(0, 4));
        setTimeout(() => socket.write(frame.subarray(4)), MIN_GUARD_MS * 3);
      } else if (mode === 'trailing') socket.write(Buffer.concat([frame, Buffer.from([0x01, 0x03, 0x00])]));
      else socket.write(frame);
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** Longer than the devices' 1000 ms answer timeout. */
const STALL_MS = 1300;

function rawDevice(points: unknown[]) {
  return ModbusRtuOverTcpDevice.parse({
    id: 'raw',
    driver: 'modbus-rtu-over-tcp',
    host: '127.0.0.1',
    port,
    timeoutMs: 1000,
    retries: 0,
    points,
  });
}

describe('RTU framing (rtu-port.ts)', () => {
  it('uses 3.5 character times of 11 bits, fixed 1.75 ms above 19200 baud (Serial Line §2.5.1.1)', () => {
    expect(interFrameSilenceMs(9600)).toBeCloseTo(4.01, 2);
    expect(interFrameSilenceMs(19_200)).toBeCloseTo(2.005, 3);
    expect(interFrameSilenceMs(115_200)).toBe(1.75);
  });

  it('takes a split answer whole and rejects extra bytes, wrong unit id and function code', async () => {
    const driver = new ModbusDriver(
      rawDevice([
        { id: 'a', unit: '', table: 'holding', address: 4, type: 'uint32' },
        { id: 'b', unit: '', table: 'holding', address: 20, type: 'uint16' },
      ]),
      { clock: systemClock, log },
    );
    const good = [
      { point: 'a', quality: 'good', value: String(1004 * 65536 + 1005) },
      { point: 'b', quality: 'good', value: '1020' },
    ];
    try {
      for (const m of ['plain', 'split'] as const) {
        mode = m;
        expect(await driver.pollOnce(), m).toMatchObject(good);
      }
      // 600 ms of a 1000 ms timeout: the guard grows with the slow answers but ends before the timeout.
      mode = 'slow';
      for (let cycle = 0; cycle < 3; cycle++)
        expect(await driver.pollOnce(), `slow ${cycle}`).toMatchObject(good);
      const cases: [Mode, RegExp][] = [
        ['trailing', /^MRV_E_DECODE: holding \d+\+\d: answer does not fit the request: (CRC|Data length)/],
        ['wrong-unit', /^MRV_E_DECODE: holding \d+\+\d: answer does not fit the request/],
        ['wrong-fc', /^MRV_E_DECODE: holding \d+\+\d: answer does not fit the request/],
      ];
      for (const [m, reason] of cases) {
        mode = m;
        const readings = await driver.pollOnce();
        expect(
          readings.map((r) => r.quality),
          m,
        ).toEqual(['bad', 'bad']);
        for (const r of readings) expect(r.reason, m).toMatch(reason);
        mode = 'plain';
        expect(await driver.pollOnce(), `${m}, then plain`).toMatchObject(good);
      }
      expect(driver.status().drains ?? 0).toBeGreaterThanOrEqual(cases.length);
    } finally {
      await driver.stop();
    }
  }, 60_000);

  /** One poll of register 4 (uint32) with the slave in `m`; `check` sees the driver after it. */
  async function pollInMode(m: typeof mode, check: (driver: ModbusDriver) => void): Promise<void> {
    mode = m;
    const driver = new ModbusDriver(
      rawDevice([{ id: 'a', unit: '', table: 'holding', address: 4, type: 'uint32' }]),
      { clock: systemClock, log },
    );
    try {
      expect(await driver.pollOnce()).toMatchObject([
        { point: 'a', quality: 'good', value: String(1004 * 65536 + 1005) },
      ]);
      check(driver);
    } finally {
      mode = 'plain';
      await driver.stop();
    }
  }

  it('does not take a frame waiting on a new connection for the answer to its first request', async () => {
    // Before the fix the first request went out at once; the stale frame came 10 ms after the
    // connect, inside the 20 ms silence of a port with no answer times yet, and was taken as the
    // answer (register 4 = 0xdeadbeef, good) before the real answer came 60 ms after the request.
    await pollInMode('stale-on-connect', (driver) => {
      // The drain of a new connection is not an anomaly of the line.
      expect(driver.status().drains ?? 0).toBe(0);
    });
  }, 30_000);

  it('takes an answer that arrived while the process was busy past the timeout, not a timeout', async () => {
    // Before the fix modbus-serial's timer, due during the stall, ran before the waiting input was
    // read (a due timer runs first): MRV_E_MODBUS_TIMEOUT for an answer that came in 1 ms.
    await pollInMode('answer-then-stall', (driver) => {
      expect(driver.status().failedRequests ?? 0).toBe(0);
    });
  }, 30_000);
});
