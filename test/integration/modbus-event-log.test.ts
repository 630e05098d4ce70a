// The Modbus driver reading a ticket memory over TCP loopback from a terminal whose registers the test
// writes: a BCD weighing time, a terminal that counts its index up before it writes the record, a
// ticket whose time does not decode, and a terminal that renumbers. (The aluminium simulator's ring,
// unix-s times, runs through the whole pipeline in ladle-tickets.test.ts.)
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '../../core/schema/wire.ts';
import { ManualClock } from '../../core/time.ts';
import { ModbusTcpDevice } from '../../drivers/modbus/config.ts';
import { ModbusDriver } from '../../drivers/modbus/driver.ts';
import { FaultControl, listenModbusTcp, serviceVector } from '../../simulators/shared/modbus-server.ts';

const log = pino({ level: 'silent' });

/** A ManualClock that counts its sleepers: both poll loops asleep = the driver is at rest. */
class CountingClock extends ManualClock {
  sleeping = 0;
  override sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeping++;
    return super.sleep(ms, signal).finally(() => this.sleeping--);
  }
}
const RECORDS = 4;
const STRIDE = 6; // number uint32 @0, BCD time @2..4, net uint16 kg @5

/** The terminal's holding registers 0..(2 + RECORDS × STRIDE): index at 0, ring from 2. */
const regs = new Array<number>(2 + RECORDS * STRIDE).fill(0);
const bcd = (n: number) => Math.floor(n / 10) * 16 + (n % 10);
function writeTicket(n: number, wall: [number, number, number, number, number, number], netKg: number) {
  const base = 2 + (n % RECORDS) * STRIDE;
  const [y, mo, d, h, mi, s] = wall.map(bcd) as [number, number, number, number, number, number];
  regs.splice(base, STRIDE, n >>> 16, n & 0xffff, (y << 8) | mo, (d << 8) | h, (mi << 8) | s, netKg);
}
const setIndex = (n: number) => regs.splice(0, 2, n >>> 16, n & 0xffff);
/** Reads of the ring's first register (one per ring read). */
let ringReads = 0;

describe('Modbus driver: event log against a terminal over TCP', () => {
  const clock = new CountingClock(Date.parse('2026-12-31T16:00:00.000Z'));
  let close: () => Promise<void>;
  let driver: ModbusDriver;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'mrv-evlog-'));
  const stateFile = path.join(dataDir, 'event-logs', 'scale.json');
  /** The host's durable log: the first wait is held until the test releases it, later ones resolve at once. */
  let release: () => void = () => {};
  const firstDurable = new Promise<void>((r) => {
    release = r;
  });
  let durableCalls = 0;
  /** While true the host's log never syncs (a failing disk). */
  let hang = false;
  const batches: Reading[][] = [];

  beforeAll(async () => {
    const slave = {
      read: (table: string, address: number, length: number) => {
        if (table !== 'holding' || address + length > regs.length)
          throw Object.assign(new Error('x'), { modbusErrorCode: 2 });
        if (address === 2) ringReads++;
        return regs.slice(address, address + length);
      },
    };
    const server = await listenModbusTcp(
      serviceVector(() => slave, new FaultControl(clock)),
      '127.0.0.1',
      0,
    );
    close = server.close;
    const config = ModbusTcpDevice.parse({
      id: 'scale',
      driver: 'modbus-tcp',
      host: '127.0.0.1',
      port: server.port,
      timeoutMs: 15_000,
      maxRegistersPerRequest: 14, // two records per request
      points: [
        { id: 'w.ticket_no', unit: 'id', meter: 'ws-1', table: 'holding', address: 0, type: 'uint32' },
        {
          id: 'w.net',
          unit: 't',
          meter: 'ws-1',
          table: 'holding',
          address: 7,
          type: 'uint16',
          scale: '0.001',
        },
      ],
      eventLogs: [
        {
          id: 'tickets',
          index: { address: 0 },
          ring: { address: 2, records: RECORDS, stride: STRIDE },
          number: { point: 'w.ticket_no' },
          time: { register: 2, format: 'bcd' },
          fields: [{ point: 'w.net', register: 5, type: 'uint16', order: 'AB', scale: '0.001' }],
        },
      ],
    });
    driver = new ModbusDriver(config, {
      clock,
      log,
      dataDir,
      durableWaitMs: 300,
      durable: () =>
        durableCalls++ === 0 ? firstDurable : hang ? new Promise<void>(() => {}) : Promise.resolve(),
    });
    writeTicket(1, [26, 12, 31, 23, 59, 40], 3105);
    setIndex(1);
    await driver.start((r) => {
      if (r.some((x) => x.ts !== x.rxTs || (x.quality === 'bad' && x.reason?.startsWith('MRV_E_TICKETS'))))
        batches.push(r);
    });
  });

  afterAll(async () => {
    await driver?.stop();
    await close?.();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Waits until both loops (points, event log) sleep: an advance then wakes each for one cycle. */
  async function atRest() {
    await expect.poll(() => clock.sleeping, { timeout: 30_000, interval: 10 }).toBe(2);
  }

  /** Advances the clock one poll interval (from rest) and waits until `n` event-log batches arrived. */
  async function cycle(n: number) {
    await atRest();
    clock.advance(1000);
    await expect.poll(() => batches.length, { timeout: 30_000, interval: 20 }).toBeGreaterThanOrEqual(n);
  }

  it('emits a ticket with its BCD weighing time (China Standard Time), its number and meter', async () => {
    await expect.poll(() => batches.length, { timeout: 30_000, interval: 20 }).toBe(1);
    expect(batches[0]).toEqual([
      {
        point: 'w.ticket_no',
        meter: 'ws-1',
        ts: '2026-12-31T15:59:40.000Z',
        rxTs: '2026-12-31T16:00:00.000Z',
        serverTs: '2026-12-31T16:00:00.000Z',
        value: '1',
        quality: 'good',
      },
      {
        point: 'w.net',
        meter: 'ws-1',
        ts: '2026-12-31T15:59:40.000Z',
        rxTs: '2026-12-31T16:00:00.000Z',
        serverTs: '2026-12-31T16:00:00.000Z',
        value: '3.105',
        quality: 'good',
      },
    ]);
  });

  it('keeps the last number on disk only once the host says its log holds the tickets', async () => {
    await expect.poll(() => durableCalls, { timeout: 30_000, interval: 10 }).toBe(1);
    expect(existsSync(stateFile)).toBe(false);
    release();
    await expect.poll(() => existsSync(stateFile), { timeout: 30_000, interval: 10 }).toBe(true);
    expect(JSON.parse(readFileSync(stateFile, 'utf8')).logs.tickets.lastSeen).toBe(1);
  });

  it('waits for a record the index already counts, instead of reporting it lost', async () => {
    setIndex(2); // the terminal counted up; record 2 comes a moment later
    // Two cycles read the ring without record 2: nothing is emitted, nothing reported lost.
    for (let i = 0; i < 2; i++) {
      await atRest();
      const before = ringReads;
      clock.advance(1000);
      await expect.poll(() => ringReads, { timeout: 30_000, interval: 20 }).toBeGreaterThan(before);
    }
    await atRest();
    expect(batches).toHaveLength(1);
    writeTicket(2, [27, 1, 1, 0, 4, 5], 2990);
    await cycle(2);
    expect(batches[1]?.map((r) => [r.point, r.ts, r.value, r.quality])).toEqual([
      ['w.ticket_no', '2026-12-31T16:04:05.000Z', '2', 'good'],
      ['w.net', '2026-12-31T16:04:05.000Z', '2.99', 'good'],
    ]);
  });

  it('places a ticket whose time does not decode at the read time, uncertain, and reports a wrap', async () => {
    // Tickets 3..8 while nobody reads: the ring of 4 keeps 5..8; ticket 8 has a broken time.
    for (let n = 3; n <= 7; n++) writeTicket(n, [27, 1, 1, 1, n, 0], 3000 + n);
    writeTicket(8, [27, 13, 1, 1, 8, 0], 3008);
    setIndex(8);
    await cycle(3);
    const b = batches[2] as Reading[];
    expect(b.filter((r) => r.point === 'w.ticket_no' && r.quality !== 'bad').map((r) => r.value)).toEqual([
      '5',
      '6',
      '7',
      '8',
    ]);
    const eight = b.filter((r) => r.value === '8' || r.value === '3.008');
    expect(
      eight.every(
        (r) =>
          r.quality === 'uncertain' &&
          r.ts === r.rxTs &&
          /^MRV_E_DECODE: ticket 8: BCD time/.test(r.reason ?? ''),
      ),
    ).toBe(true);
    expect(b.at(-1)).toMatchObject({
      point: 'w.ticket_no',
      value: null,
      quality: 'bad',
      reason:
        'MRV_E_TICKETS_OVERWRITTEN: 2 ticket(s) 3–4 were overwritten in event log tickets (4 records) before they were read',
    });
  });

  it('takes the ring whole when the terminal renumbers', async () => {
    regs.fill(0);
    writeTicket(1, [27, 1, 2, 8, 0, 0], 2500);
    setIndex(1);
    await cycle(4);
    expect(batches[3]?.map((r) => [r.point, r.value])).toEqual([
      ['w.ticket_no', '1'],
      ['w.net', '2.5'],
    ]);
  });

  it('goes on reading when the host log does not sync within a minute, keeping the number in memory', async () => {
    hang = true;
    writeTicket(2, [27, 1, 2, 8, 5, 0], 2600);
    setIndex(2);
    await cycle(5);
    // The wait for the log gives up after durableWaitMs of real time (however the plant clock runs):
    // the number 2 is kept in memory only.
    await new Promise((r) => setTimeout(r, 600));
    expect(JSON.parse(readFileSync(stateFile, 'utf8')).logs.tickets.lastSeen).toBe(1);
    hang = false;
    writeTicket(3, [27, 1, 2, 8, 10, 0], 2700);
    setIndex(3);
    await cycle(6);
    expect(batches[5]?.map((r) => [r.point, r.value])).toEqual([
      ['w.ticket_no', '3'],
      ['w.net', '2.7'],
    ]);
    await expect
      .poll(() => JSON.parse(readFileSync(stateFile, 'utf8')).logs.tickets.lastSeen, { timeout: 30_000 })
      .toBe(3);
  });
});
