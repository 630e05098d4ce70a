import { describe, expect, it } from 'vitest';
import { ModbusTcpDevice } from '../../../drivers/modbus/config.ts';
import { encodeRaw } from '../../../drivers/modbus/decode.ts';
import {
  decodeBcdTime,
  decodeRecord,
  formatRanges,
  planRingRequests,
  rangeCount,
  selectRecords,
  type TicketRecord,
} from '../../../drivers/modbus/event-log.ts';
import { ModbusEventLog } from '../../../drivers/modbus/event-log-config.ts';

const LOG = ModbusEventLog.parse({
  id: 'tickets',
  index: { address: 100 },
  ring: { address: 102, records: 32, stride: 8 },
  number: { point: 't.no', register: 0 },
  time: { register: 2 },
  fields: [
    { point: 't.net', register: 4, type: 'uint32', scale: '0.001' },
    { point: 't.ladle', register: 6, type: 'uint16', order: 'AB' },
  ],
});

function record(no: number, timeS: number, netKg: number, ladle: number): Uint8Array {
  return Uint8Array.from([
    ...encodeRaw(no, 'uint32', 'ABCD'),
    ...encodeRaw(timeS, 'uint32', 'ABCD'),
    ...encodeRaw(netKg, 'uint32', 'ABCD'),
    ...encodeRaw(ladle, 'uint16', 'AB'),
    0,
    0,
  ]);
}

const rec = (number: number, slot = number % 32): TicketRecord => ({
  slot,
  number,
  timeMs: number * 1000,
  values: [],
});

describe('event log configuration', () => {
  it('rejects fields that overlap or run past the record, and unknown points', () => {
    const bad = ModbusEventLog.safeParse({
      id: 'x',
      index: { address: 0 },
      ring: { address: 2, records: 4, stride: 4 },
      number: { point: 'a' },
      time: { register: 1 },
      fields: [{ point: 'b', register: 3, type: 'uint32' }],
    });
    expect(bad.success).toBe(false);
    const messages = bad.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    expect(messages).toContain('time.register: overlaps number in the record');
    expect(messages).toContain('fields.0.register: runs past the record (stride 4 registers)');

    const device = ModbusTcpDevice.safeParse({
      id: 'd',
      driver: 'modbus-tcp',
      host: '127.0.0.1',
      points: [{ id: 't.no', unit: 'id', table: 'holding', address: 0, type: 'uint32' }],
      eventLogs: [LOG],
    });
    expect(device.success).toBe(false);
    expect(device.error?.issues.map((i) => i.path.join('.'))).toEqual([
      'eventLogs.0.fields.0.point',
      'eventLogs.0.fields.1.point',
    ]);
  });
});

describe('planRingRequests', () => {
  it('reads the ring in record-aligned requests of at most maxRegisters', () => {
    const reqs = planRingRequests(LOG, 125);
    // 15 records of 8 registers fit 125: 15 + 15 + 2
    expect(reqs).toEqual([
      { address: 102, count: 120, firstSlot: 0, slots: 15 },
      { address: 222, count: 120, firstSlot: 15, slots: 15 },
      { address: 342, count: 16, firstSlot: 30, slots: 2 },
    ]);
    expect(() => planRingRequests(LOG, 7)).toThrow(/does not fit/);
  });
});

describe('decodeRecord', () => {
  it('decodes number, unix time and scaled fields', () => {
    const bytes = Uint8Array.from([...record(7, 0, 0, 0), ...record(260_001, 1_798_732_780, 3105, 4)]);
    const r = decodeRecord(LOG, bytes, 16, 1);
    expect(r).toEqual({
      slot: 1,
      number: 260_001,
      timeMs: 1_798_732_780_000,
      values: [
        { point: 't.net', value: '3.105' },
        { point: 't.ladle', value: '4' },
      ],
    });
    // A ticket without a time (0) keeps its values and says why the time is missing.
    const empty = decodeRecord(LOG, bytes, 0, 0);
    expect(empty.timeMs).toBeUndefined();
    expect(empty.timeError).toMatch(/weighing time is 0/);
    expect(() => decodeRecord(LOG, bytes, 24, 2)).toThrow(/runs past the answer/);
  });

  it('decodes packed BCD wall time at the terminal offset', () => {
    const bcd = Uint8Array.from([0x26, 0x12, 0x31, 0x23, 0x59, 0x40]);
    // 2026-12-31 23:59:40 in China Standard Time = 15:59:40 UTC
    expect(new Date(decodeBcdTime(bcd, 0, '+08:00')).toISOString()).toBe('2026-12-31T15:59:40.000Z');
    expect(new Date(decodeBcdTime(bcd, 0, '+00:00')).toISOString()).toBe('2026-12-31T23:59:40.000Z');
    expect(() => decodeBcdTime(Uint8Array.from([0x26, 0x04, 0x31, 0, 0, 0]), 0, '+08:00')).toThrow(
      /not a valid date/,
    );
    expect(() => decodeBcdTime(Uint8Array.from([0x26, 0x1a, 0x01, 0, 0, 0]), 0, '+08:00')).toThrow(
      /nibble above 9/,
    );
  });
});

describe('selectRecords', () => {
  it('takes every ticket after the last one emitted, up to the index, in number order', () => {
    const ring = [rec(105), rec(103), rec(104), rec(102), rec(101), rec(106)];
    const s = selectRecords(ring, 102, 105);
    expect(s.fresh.map((r) => r.number)).toEqual([103, 104, 105]); // 106 was written after the index
    expect(s.missing).toEqual([]);
    expect(s.next).toBe(105);
  });

  it('names the numbers the ring overwrote before they were read', () => {
    // A ring of 4 after an outage: 101 was the last emitted, 102..109 were weighed, 106..109 remain.
    const ring = [rec(108, 0), rec(109, 1), rec(106, 2), rec(107, 3)];
    const s = selectRecords(ring, 101, 109);
    expect(s.fresh.map((r) => r.number)).toEqual([106, 107, 108, 109]);
    expect(s.missing).toEqual([[102, 105]]);
    expect(formatRanges(s.missing)).toBe('102–105');
    expect(rangeCount(s.missing)).toBe(4);
    // Holes inside the window too (a slot holding an older ticket).
    expect(selectRecords([rec(4), rec(6)], 2, 7).missing).toEqual([
      [3, 3],
      [5, 5],
      [7, 7],
    ]);
  });

  it('takes the ring whole without state, and after a renumbering, reporting nothing missing', () => {
    const ring = [rec(0), rec(11), rec(12), rec(10)];
    const first = selectRecords(ring, undefined, 12);
    expect(first.fresh.map((r) => r.number)).toEqual([10, 11, 12]);
    expect(first.missing).toEqual([]);
    const reset = selectRecords([rec(1), rec(2), rec(500)], 600, 2);
    expect(reset.renumbered).toBe(true);
    expect(reset.fresh.map((r) => r.number)).toEqual([1, 2]);
    expect(reset.missing).toEqual([]);
    expect(reset.next).toBe(2);
  });

  it('asks again for numbers above the newest record (index counted up before the record was written)', () => {
    const s = selectRecords([rec(4)], 2, 6, false);
    expect(s.fresh.map((r) => r.number)).toEqual([4]);
    expect(s.missing).toEqual([[3, 3]]); // below the newest record: overwritten
    expect(s.pending).toEqual([5, 6]);
    expect(s.next).toBe(4); // 5 and 6 are read again next time
    expect(selectRecords([], 2, 3, false)).toMatchObject({
      fresh: [],
      missing: [],
      pending: [3, 3],
      next: 2,
    });
    // Asked long enough: reported.
    expect(selectRecords([rec(4)], 2, 6, true)).toMatchObject({
      missing: [
        [3, 3],
        [5, 6],
      ],
      next: 6,
    });
  });

  it('counts each number once when two slots hold it', () => {
    expect(selectRecords([rec(5, 0), rec(5, 1)], 4, 5).fresh.map((r) => r.slot)).toEqual([0]);
  });
});
