/**
 * The one contract every {@link TimeSeriesStore} passes (docs/architecture.md §10 rule 8), run by
 * `influx-store.test.ts` (real InfluxDB) and `sqlite-store.test.ts` (embedded SQLite).
 *
 * Expected values are written out by hand, never computed with the code under test. All times are
 * in January 2025 (UTC); `T0` is a multiple of every bucket size used, so buckets start at T0.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ArchivedBatch,
  cstDayStart,
  type StoredReading,
  type TimeSeriesStore,
} from '../../collector/store.ts';
import { MrvError } from '../../core/errors.ts';
import type { Finding } from '../../core/schema/finding.ts';
import type { GatewayMeta, GatewayStatus, PointMeta, UnitMeta } from '../../core/schema/wire.ts';

/** A store made for one test, not started yet; `cleanup` runs after the suite has stopped it. */
export interface StoreUnderTest {
  store: TimeSeriesStore;
  cleanup(): Promise<void>;
}

/** Raw series rows also carry the reading's `reason` (see the stores; not yet on `SeriesPoint`). */
interface RawPoint {
  ts: string;
  value: string | null;
  min: string | null;
  max: string | null;
  count: number;
  quality?: string;
  reason?: string;
}

const T0 = Date.UTC(2025, 0, 15, 0, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();
const S = 1000;

const U1 = '91150200MA0N00001X';
const U2 = '91320500MA0N00002Y';
const U3 = '91410100MA0N00003Z';

/** Free text may hold anything a site file can: quotes, backslashes (even `\'` and a trailing one), newlines. */
const HOSTILE_NAME = `O'Brien "North" Smelter \\ C:\\plant\\' 电解铝\nline 2 \\`;
const HOSTILE_REASON = `MRV_E_MODBUS_TIMEOUT: no answer from "pot 7" \\ 'unit 1'\\' after 3 tries\nretrying`;
/** Query arguments that would change an InfluxQL or SQL query if spliced into it. */
const HOSTILE_IDS = [
  `${U1}' OR '1'='1`,
  `${U1}" OR "1"="1`,
  `x' OR "unit" =~ /.*/ OR "unit" = 'y`,
  `${U1}\\`,
  `${U1}\\'`,
  `a\\b`,
  `'; DROP TABLE reading; --`,
  `${U1}\n`,
  '',
];

const unit1: UnitMeta = { id: U1, name: HOSTILE_NAME, industry: 'aluminium', province: '内蒙古' };
const unit2: UnitMeta = { id: U2, name: '苏州水泥熟料厂', industry: 'cement', province: '江苏' };
const unit3: UnitMeta = { id: U3, name: 'Zhengzhou Power No. 3', industry: 'power', province: '河南' };

const potCurrent: PointMeta = {
  id: 'pot.current',
  device: 'potline-plc',
  meter: 'CT-1',
  unit: 'kA',
  description: 'pot-line current',
  aggregation: 'gauge',
};
const potVoltage: PointMeta = { id: 'pot.voltage', device: 'potline-plc', unit: 'V', aggregation: 'gauge' };
const ladleWeight: PointMeta = {
  id: 'ladle.weight',
  device: 'ladle-scale',
  meter: 'LS-1',
  unit: 't',
  parameter: 'liquid aluminium output',
  aggregation: 'events',
};
const clinker: PointMeta = { id: 'clinker.belt', device: 'belt-scale', meter: 'BS-1', unit: 't' };

function meta(gatewayId: string, unit: UnitMeta, points: PointMeta[]): GatewayMeta {
  return { v: 1, gatewayId, unit, points, meters: [], configHash: 'c'.repeat(64) };
}

function status(gatewayId: string, state: 'online' | 'offline'): GatewayStatus {
  return { v: 1, gatewayId, state, at: iso(T0), version: '0.1.0' };
}

/** A good reading of `pot.current` from gw-a of U1, 5 ms receive delay, seq 1, unless overridden. */
function reading(over: Partial<StoredReading> & { ts: number }): StoredReading {
  return {
    unitId: U1,
    gatewayId: 'gw-a',
    device: 'potline-plc',
    point: 'pot.current',
    meter: 'CT-1',
    rxTs: over.ts + 5,
    value: '0',
    quality: 'good',
    seq: 1,
    ...over,
  };
}

/** Resolves the MrvError a promise rejects with (fails the test if it resolves or throws something else). */
async function rejection(p: Promise<unknown>): Promise<MrvError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(MrvError);
    return err as MrvError;
  }
  throw new Error('expected a rejection');
}

/**
 * Declares the shared `TimeSeriesStore` suite under `name`. `make` returns a fresh, empty, not yet
 * started store per test; the suite calls `start()` before and `stop()` then `cleanup()` after each test.
 */
export function describeStoreContract(name: string, make: () => Promise<StoreUnderTest>): void {
  describe(`TimeSeriesStore contract: ${name}`, () => {
    let sut: StoreUnderTest;
    let store: TimeSeriesStore;

    beforeEach(async () => {
      sut = await make();
      store = sut.store;
      await store.start();
    });
    afterEach(async () => {
      await store.stop();
      await sut.cleanup();
    });

    const raw = async (unitId: string, pointId: string, from: number, to: number, limit?: number) =>
      (await store.series({
        unitId,
        pointId,
        from,
        to,
        ...(limit === undefined ? {} : { limit }),
      })) as RawPoint[];

    it('marks each UTC+8 day written, and changes only the marks of the days a later write touches', async () => {
      const day = cstDayStart(T0);
      const dayMs = 86_400_000;
      await store.writeReadings([
        reading({ ts: day + 1000 }),
        reading({ ts: day + dayMs + 1000 }),
        reading({ ts: day + 2 * dayMs + 1000, quarantine: 'MRV_F_BAD_SIGNATURE' }),
      ]);
      const first = await store.readingDayMarks?.(U1, day, day + 3 * dayMs);
      expect([...(first?.keys() ?? [])]).toEqual([day, day + dayMs]);
      // A late reading of the first day only (a backlog): that day's mark changes, the next one's does not.
      await store.writeReadings([reading({ ts: day + 5000, seq: 2 })]);
      const second = await store.readingDayMarks?.(U1, day, day + 3 * dayMs);
      expect(second?.get(day)).not.toBe(first?.get(day));
      expect(second?.get(day + dayMs)).toBe(first?.get(day + dayMs));
      expect((await store.readingDayMarks?.(U2, day, day + 3 * dayMs))?.size).toBe(0);
    });

    it('lists units from their newest catalogue, with online state and newest data time', async () => {
      await store.writeMeta(U1, meta('gw-a', { ...unit1, name: 'old name' }, [potCurrent, potVoltage]));
      await store.writeMeta(U1, meta('gw-a', unit1, [potCurrent, potVoltage]));
      await store.writeMeta(U1, meta('gw-b', unit1, [ladleWeight]));
      await store.writeMeta(U2, meta('gw-c', unit2, [clinker]));
      await store.writeMeta(U3, meta('gw-d', unit3, []));

      // U1: one gateway online is enough. U2: its only gateway went offline; a late, older "online"
      // must not undo that. U3: no status at all.
      await store.writeStatus(U1, status('gw-a', 'online'), T0 + 1);
      await store.writeStatus(U1, status('gw-b', 'offline'), T0 + 2);
      await store.writeStatus(U2, status('gw-c', 'online'), T0);
      await store.writeStatus(U2, status('gw-c', 'offline'), T0 + 10 * S);
      await store.writeStatus(U2, status('gw-c', 'online'), T0 + 5 * S);

      await store.writeReadings([
        reading({ ts: T0 + 9 * S, value: '412.5' }),
        reading({ ts: T0 + 2 * S, value: '411' }),
        reading({
          ts: T0 + 3 * S,
          gatewayId: 'gw-b',
          device: 'ladle-scale',
          point: 'ladle.weight',
          value: '12.5',
        }),
        reading({
          unitId: U2,
          gatewayId: 'gw-c',
          device: 'belt-scale',
          point: 'clinker.belt',
          ts: T0 + 3 * S,
        }),
        // Readings of a unit without a catalogue do not make it a listed unit.
        reading({ unitId: 'U-without-meta', gatewayId: 'gw-x', ts: T0 + 20 * S }),
      ]);

      expect(await store.listUnits()).toEqual([
        { ...unit1, online: true, lastDataAt: iso(T0 + 9 * S) },
        { ...unit2, online: false, lastDataAt: iso(T0 + 3 * S) },
        { ...unit3, online: false, lastDataAt: null },
      ]);
    });

    it('lists an empty store as no units', async () => {
      expect(await store.listUnits()).toEqual([]);
      expect(await store.listPoints(U1)).toBeUndefined();
    });

    it('lists the points of all gateways of a unit with their newest reading; unknown unit gives undefined', async () => {
      await store.writeMeta(U1, meta('gw-b', unit1, [ladleWeight]));
      await store.writeMeta(U1, meta('gw-a', unit1, [potCurrent, potVoltage]));
      await store.writeMeta(U2, meta('gw-c', unit2, [clinker]));
      await store.writeReadings([
        reading({ ts: T0 + 2 * S, value: '413.25', seq: 3 }),
        reading({ ts: T0, value: '411.0', seq: 1 }),
        reading({ ts: T0 + 1 * S, value: '412.5', seq: 2 }),
        // The same point id in another unit is another point.
        reading({ unitId: U2, gatewayId: 'gw-c', ts: T0 + 60 * S, value: '999' }),
        reading({
          ts: T0,
          gatewayId: 'gw-b',
          device: 'ladle-scale',
          point: 'ladle.weight',
          meter: 'LS-1',
          value: '12.5',
        }),
        reading({
          ts: T0 + 5 * S,
          gatewayId: 'gw-b',
          device: 'ladle-scale',
          point: 'ladle.weight',
          meter: 'LS-1',
          value: null,
          quality: 'bad',
          reason: 'MRV_E_DEVICE_UNREACHABLE: scale offline',
        }),
      ]);

      expect(await store.listPoints(U1)).toEqual([
        { ...potCurrent, last: { ts: iso(T0 + 2 * S), value: '413.25', quality: 'good' } },
        { ...potVoltage, last: null },
        { ...ladleWeight, last: { ts: iso(T0 + 5 * S), value: null, quality: 'bad' } },
      ]);
      expect(await store.listPoints(U2)).toEqual([{ ...clinker, last: null }]);
      expect(await store.listPoints('no-such-unit')).toBeUndefined();
    });

    it('keeps the newest catalogue of a gateway: a point removed from it disappears', async () => {
      await store.writeMeta(U1, meta('gw-a', unit1, [potCurrent, potVoltage]));
      await store.writeMeta(U1, meta('gw-a', unit1, [potVoltage]));
      expect(await store.listPoints(U1)).toEqual([{ ...potVoltage, last: null }]);
    });

    const exactValues = [
      '1234567.891',
      '0.1',
      '-3',
      '4294967295',
      '12345678901234567890.123456789',
      '0.000000000000000000001',
      '2.50',
      '-0.50',
      '1E+3',
      '0',
    ];

    it('returns raw readings as the exact decimal strings written, oldest first', async () => {
      // Written newest first: the store orders by source time, not by arrival.
      const written = exactValues
        .map((value, i) => reading({ ts: T0 + i * S, value, seq: 100 - i }))
        .reverse();
      expect(await store.writeReadings(written)).toBe(exactValues.length);

      const all = await raw(U1, 'pot.current', T0, T0 + 60 * S);
      expect(all).toEqual(
        exactValues.map((value, i) => ({
          ts: iso(T0 + i * S),
          value,
          min: value,
          max: value,
          count: 1,
          quality: 'good',
        })),
      );
    });

    it('takes from inclusive and to exclusive, and applies the limit to the oldest readings', async () => {
      await store.writeReadings(exactValues.map((value, i) => reading({ ts: T0 + i * S, value })));

      const window = await raw(U1, 'pot.current', T0 + 1 * S, T0 + 3 * S);
      expect(window.map((p) => [p.ts, p.value])).toEqual([
        [iso(T0 + 1 * S), '0.1'],
        [iso(T0 + 2 * S), '-3'],
      ]);
      const limited = await raw(U1, 'pot.current', T0, T0 + 60 * S, 3);
      expect(limited.map((p) => p.value)).toEqual(['1234567.891', '0.1', '-3']);
      expect(await raw(U1, 'pot.current', T0 + 3 * S, T0 + 3 * S)).toEqual([]);
      expect(await raw(U1, 'pot.current', T0 + 100 * S, T0 + 200 * S)).toEqual([]);
      expect(await raw(U1, 'pot.voltage', T0, T0 + 60 * S)).toEqual([]);
    });

    /**
     * Point `flow` of U1 (30 s buckets from T0):
     *   [T0, +30s):     good 1, 2, 4.5            → mean 2.5, min 1, max 4.5, count 3
     *   [+30s, +60s):   good 10, bad, uncertain 100 → only the good one: 10, count 1
     *   [+60s, +90s):   bad only                  → omitted
     *   [+90s, +120s):  nothing                   → omitted
     *   [+120s, +150s): good -7.25                → -7.25, count 1
     *   +150s:          good 13.75, at `to`       → excluded (a one-hour bucket: 6 good readings, mean 4)
     */
    const flow = (
      ts: number,
      value: string | null,
      quality: 'good' | 'uncertain' | 'bad' = 'good',
      reason?: string,
    ) =>
      reading({
        point: 'flow',
        device: 'flowmeter',
        meter: 'FM-1',
        ts: T0 + ts,
        value,
        quality,
        ...(reason === undefined ? {} : { reason }),
      });
    const flowReadings = [
      flow(0, '1'),
      flow(10 * S, '2'),
      flow(20 * S, '4.5'),
      flow(30 * S, '10'),
      flow(40 * S, null, 'bad', HOSTILE_REASON),
      flow(50 * S, '100', 'uncertain', 'MRV_E_DECODE: out of calibration'),
      flow(60 * S, null, 'bad', 'MRV_E_MODBUS_TIMEOUT'),
      flow(120 * S, '-7.25'),
      flow(150 * S, '13.75'),
    ];

    it('steps into epoch-aligned buckets with mean, min, max and count of the good readings', async () => {
      await store.writeReadings(flowReadings);
      const buckets = await store.series({
        unitId: U1,
        pointId: 'flow',
        from: T0,
        to: T0 + 150 * S,
        stepMs: 30 * S,
      });
      expect(buckets).toEqual([
        { ts: iso(T0), value: '2.5', min: '1', max: '4.5', count: 3 },
        { ts: iso(T0 + 30 * S), value: '10', min: '10', max: '10', count: 1 },
        { ts: iso(T0 + 120 * S), value: '-7.25', min: '-7.25', max: '-7.25', count: 1 },
      ]);

      // A `from` inside a bucket: the bucket keeps its aligned start and holds only readings >= from.
      const shifted = await store.series({
        unitId: U1,
        pointId: 'flow',
        from: T0 + 15 * S,
        to: T0 + 45 * S,
        stepMs: 30 * S,
      });
      expect(shifted).toEqual([
        { ts: iso(T0), value: '4.5', min: '4.5', max: '4.5', count: 1 },
        { ts: iso(T0 + 30 * S), value: '10', min: '10', max: '10', count: 1 },
      ]);

      // One bucket over everything.
      const whole = await store.series({
        unitId: U1,
        pointId: 'flow',
        from: T0,
        to: T0 + 3600 * S,
        stepMs: 3600 * S,
      });
      expect(whole).toEqual([{ ts: iso(T0), value: '4', min: '-7.25', max: '13.75', count: 6 }]);
    });

    it('returns bad and uncertain readings in raw series with their quality and reason', async () => {
      await store.writeReadings(flowReadings);
      const rows = await raw(U1, 'flow', T0 + 30 * S, T0 + 90 * S);
      expect(rows).toEqual([
        { ts: iso(T0 + 30 * S), value: '10', min: '10', max: '10', count: 1, quality: 'good' },
        {
          ts: iso(T0 + 40 * S),
          value: null,
          min: null,
          max: null,
          count: 1,
          quality: 'bad',
          reason: HOSTILE_REASON,
        },
        {
          ts: iso(T0 + 50 * S),
          value: '100',
          min: '100',
          max: '100',
          count: 1,
          quality: 'uncertain',
          reason: 'MRV_E_DECODE: out of calibration',
        },
        {
          ts: iso(T0 + 60 * S),
          value: null,
          min: null,
          max: null,
          count: 1,
          quality: 'bad',
          reason: 'MRV_E_MODBUS_TIMEOUT',
        },
      ]);
    });

    it('returns raw readings with the gateway and batch seq each arrived in, a redelivery counting last', async () => {
      await store.writeReadings([
        ...flowReadings.slice(3, 6).map((r, i) => ({ ...r, seq: 40 + i })),
        reading({ point: 'flow', gatewayId: 'gw-b', ts: T0 + 70 * S, value: '3', seq: 9 }),
        reading({ unitId: U2, point: 'flow', ts: T0 + 30 * S, value: '8', seq: 2 }),
      ]);
      // the reading at 30 s is redelivered in batch 44
      await store.writeReadings([{ ...(flowReadings[3] as StoredReading), seq: 44 }]);
      expect(await store.rawReadings({ unitId: U1, pointId: 'flow', from: T0, to: T0 + 3600 * S })).toEqual([
        { ts: T0 + 30 * S, value: '10', quality: 'good', gatewayId: 'gw-a', seq: 44 },
        { ts: T0 + 40 * S, value: null, quality: 'bad', reason: HOSTILE_REASON, gatewayId: 'gw-a', seq: 41 },
        {
          ts: T0 + 50 * S,
          value: '100',
          quality: 'uncertain',
          reason: 'MRV_E_DECODE: out of calibration',
          gatewayId: 'gw-a',
          seq: 42,
        },
        { ts: T0 + 70 * S, value: '3', quality: 'good', gatewayId: 'gw-b', seq: 9 },
      ]);
      expect(
        await store.rawReadings({
          unitId: U1,
          pointId: 'flow',
          from: T0 + 40 * S,
          to: T0 + 70 * S,
          limit: 1,
        }),
      ).toEqual([
        { ts: T0 + 40 * S, value: null, quality: 'bad', reason: HOSTILE_REASON, gatewayId: 'gw-a', seq: 41 },
      ]);
      expect(await store.rawReadings({ unitId: U1, pointId: 'flow', from: T0, to: T0 })).toEqual([]);
      expect(
        (await rejection(store.rawReadings({ unitId: U1, pointId: 'flow', from: 0.5, to: 1 }))).code,
      ).toBe('MRV_E_BAD_REQUEST');
    });

    it('replaces a redelivered reading instead of adding a second row', async () => {
      await store.writeMeta(U1, meta('gw-a', unit1, [potCurrent]));
      const batch = [reading({ ts: T0, value: '1' }), reading({ ts: T0 + S, value: '2' }), ...flowReadings];
      expect(await store.writeReadings(batch)).toBe(batch.length);
      expect(await store.writeReadings(batch)).toBe(batch.length);
      expect(await store.writeReadings(batch.slice(0, 2))).toBe(2);

      expect((await raw(U1, 'pot.current', T0, T0 + 60 * S)).map((p) => p.value)).toEqual(['1', '2']);
      expect(await raw(U1, 'flow', T0, T0 + 3600 * S)).toHaveLength(flowReadings.length);
      const whole = await store.series({
        unitId: U1,
        pointId: 'flow',
        from: T0,
        to: T0 + 3600 * S,
        stepMs: 3600 * S,
      });
      expect(whole).toEqual([{ ts: iso(T0), value: '4', min: '-7.25', max: '13.75', count: 6 }]);

      // Same identity, new content (e.g. a corrected resend): the last write wins.
      await store.writeReadings([reading({ ts: T0 + S, value: '2.000', seq: 7 })]);
      expect((await raw(U1, 'pot.current', T0, T0 + 60 * S)).map((p) => p.value)).toEqual(['1', '2.000']);
      expect((await store.listPoints(U1))?.[0]?.last).toEqual({
        ts: iso(T0 + S),
        value: '2.000',
        quality: 'good',
      });
    });

    it("keeps another gateway's reading at the same time beside a gateway's own, never replacing it", async () => {
      await store.writeReadings([reading({ ts: T0, value: '102', seq: 3 })]);
      await store.writeReadings([reading({ ts: T0, value: '7', gatewayId: 'gw-b', seq: 1 })]);
      expect(await store.rawReadings({ unitId: U1, pointId: 'pot.current', from: T0, to: T0 + S })).toEqual([
        { ts: T0, value: '102', quality: 'good', gatewayId: 'gw-a', seq: 3 },
        { ts: T0, value: '7', quality: 'good', gatewayId: 'gw-b', seq: 1 },
      ]);
    });

    it('keeps quarantined readings apart: listed, never in series, points, raw readings or newest data', async () => {
      await store.writeMeta(U1, meta('gw-a', unit1, [potCurrent]));
      await store.writeReadings([
        reading({ ts: T0, value: '102', seq: 3 }),
        reading({ ts: T0 + S, value: '104', seq: 4 }),
      ]);
      const forged = (over: Partial<StoredReading> & { ts: number }) =>
        reading({ quality: 'uncertain', reason: 'MRV_F_BAD_SIGNATURE: batch 9 not verified', ...over });
      // Same gateway and times (an unsigned or wrongly signed batch), another gateway, and a newer time.
      expect(
        await store.writeReadings([
          forged({ ts: T0, value: '777777', seq: 9, quarantine: 'MRV_F_BAD_SIGNATURE' }),
          forged({ ts: T0 + S, value: '555555', seq: 9, quarantine: 'MRV_F_BAD_SIGNATURE' }),
          forged({
            ts: T0 + S,
            value: '333333',
            gatewayId: 'rogue',
            seq: 1,
            reason: 'MRV_F_UNKNOWN_KEY: batch 1 not verified',
            quarantine: 'MRV_F_UNKNOWN_KEY',
          }),
          forged({ ts: T0 + 60 * S, value: '999', seq: 10, quarantine: 'MRV_F_BAD_SIGNATURE' }),
        ]),
      ).toBe(4);
      expect((await raw(U1, 'pot.current', T0, T0 + 3600 * S)).map((p) => [p.value, p.quality])).toEqual([
        ['102', 'good'],
        ['104', 'good'],
      ]);
      expect(
        (await store.rawReadings({ unitId: U1, pointId: 'pot.current', from: T0, to: T0 + 3600 * S })).map(
          (r) => [r.value, r.gatewayId, r.seq],
        ),
      ).toEqual([
        ['102', 'gw-a', 3],
        ['104', 'gw-a', 4],
      ]);
      expect(
        await store.series({
          unitId: U1,
          pointId: 'pot.current',
          from: T0,
          to: T0 + 3600 * S,
          stepMs: 3600 * S,
        }),
      ).toEqual([{ ts: iso(T0), value: '103', min: '102', max: '104', count: 2 }]);
      expect((await store.listPoints(U1))?.[0]?.last).toEqual({
        ts: iso(T0 + S),
        value: '104',
        quality: 'good',
      });
      expect((await store.listUnits())[0]?.lastDataAt).toBe(iso(T0 + S));

      const q = await store.listQuarantine({ unitId: U1, from: T0, to: T0 + 3600 * S });
      expect(q.map((r) => [r.ts - T0, r.gatewayId, r.value, r.seq, r.cause])).toEqual([
        [0, 'gw-a', '777777', 9, 'MRV_F_BAD_SIGNATURE'],
        [S, 'gw-a', '555555', 9, 'MRV_F_BAD_SIGNATURE'],
        [S, 'rogue', '333333', 1, 'MRV_F_UNKNOWN_KEY'],
        [60 * S, 'gw-a', '999', 10, 'MRV_F_BAD_SIGNATURE'],
      ]);
      expect(q[0]).toEqual({
        unitId: U1,
        gatewayId: 'gw-a',
        device: 'potline-plc',
        point: 'pot.current',
        meter: 'CT-1',
        ts: T0,
        rxTs: T0 + 5,
        value: '777777',
        quality: 'uncertain',
        reason: 'MRV_F_BAD_SIGNATURE: batch 9 not verified',
        seq: 9,
        cause: 'MRV_F_BAD_SIGNATURE',
      });
      expect(
        (await store.listQuarantine({ unitId: U1, from: T0, to: T0 + 3600 * S, gatewayId: 'rogue' })).map(
          (r) => r.value,
        ),
      ).toEqual(['333333']);
      expect(
        (await store.listQuarantine({ unitId: U1, from: T0 + S, to: T0 + 60 * S, limit: 1 })).map(
          (r) => r.value,
        ),
      ).toEqual(['555555']);
      expect(await store.listQuarantine({ unitId: U2, from: T0, to: T0 + 3600 * S })).toEqual([]);
      expect((await rejection(store.listQuarantine({ unitId: U1, from: 0.5, to: 1 }))).code).toBe(
        'MRV_E_BAD_REQUEST',
      );
      expect(
        (await rejection(store.writeReadings([reading({ ts: T0, quarantine: 'not a code' })]))).code,
      ).toBe('MRV_E_STORE');
    });

    it('keeps quotes, backslashes and newlines in names and reasons, and never lets them change a query', async () => {
      await store.writeMeta(U1, meta('gw-a', unit1, [potCurrent]));
      await store.writeReadings([
        reading({ ts: T0, value: '1' }),
        reading({ ts: T0 + S, value: null, quality: 'bad', reason: HOSTILE_REASON }),
      ]);

      expect((await store.listUnits()).map((u) => u.name)).toEqual([HOSTILE_NAME]);
      for (const id of HOSTILE_IDS) {
        expect(await store.listPoints(id), `listPoints(${JSON.stringify(id)})`).toBeUndefined();
        expect(await raw(id, 'pot.current', T0, T0 + 60 * S), `series unit ${JSON.stringify(id)}`).toEqual(
          [],
        );
        expect(await raw(U1, id, T0, T0 + 60 * S), `series point ${JSON.stringify(id)}`).toEqual([]);
        const stepped = await store.series({
          unitId: id,
          pointId: id,
          from: T0,
          to: T0 + 60 * S,
          stepMs: 60 * S,
        });
        expect(stepped, `stepped ${JSON.stringify(id)}`).toEqual([]);
      }
      // Nothing was changed or dropped by the attempts above.
      const rows = await raw(U1, 'pot.current', T0, T0 + 60 * S);
      expect(rows.map((p) => [p.value, p.reason])).toEqual([
        ['1', undefined],
        [null, HOSTILE_REASON],
      ]);
    });

    it('refuses readings, catalogues and statuses with ids that are not Identifiers, writing nothing', async () => {
      for (const id of [`${U1}'x`, 'a b', 'a,b=c', 'back\\slash', '']) {
        const err = await rejection(
          store.writeReadings([reading({ ts: T0, value: '1' }), reading({ ts: T0, unitId: id })]),
        );
        expect(err.code).toBe('MRV_E_STORE');
        expect((await rejection(store.writeReadings([reading({ ts: T0, point: id })]))).code).toBe(
          'MRV_E_STORE',
        );
        expect((await rejection(store.writeMeta(id, meta('gw-a', unit1, [])))).code).toBe('MRV_E_STORE');
        expect((await rejection(store.writeStatus(id, status('gw-a', 'online'), T0))).code).toBe(
          'MRV_E_STORE',
        );
      }
      const notDecimal = await rejection(store.writeReadings([reading({ ts: T0, value: '1,5' })]));
      expect(notDecimal.code).toBe('MRV_E_STORE');
      expect(await raw(U1, 'pot.current', T0, T0 + 60 * S)).toEqual([]);
      expect(await store.listUnits()).toEqual([]);
    });

    it('answers an empty write with 0 and rejects malformed series queries with MRV_E_BAD_REQUEST', async () => {
      expect(await store.writeReadings([])).toBe(0);
      const q = { unitId: U1, pointId: 'pot.current', from: T0, to: T0 + S };
      for (const bad of [
        { stepMs: 0 },
        { stepMs: -1000 },
        { stepMs: 1.5 },
        { limit: 0 },
        { from: Number.NaN },
      ]) {
        expect((await rejection(store.series({ ...q, ...bad }))).code).toBe('MRV_E_BAD_REQUEST');
      }
    });

    /** A finding of U1 at `ts`, integrity source, unless overridden. */
    function finding(over: Partial<Finding> & { id: string; ts: string }): Finding {
      return {
        unitId: U1,
        gatewayId: 'gw-a',
        source: 'integrity',
        code: 'MRV_F_SEQ_GAP',
        class: 'delivery',
        severity: 'error',
        message: { zh: '批次 3–4 缺失', en: `batches 3..4 missing ${HOSTILE_NAME}` },
        detail: { from: 3, to: 4, note: HOSTILE_REASON },
        at: iso(T0 + 99 * S),
        ...over,
      };
    }

    it('keeps findings of every source and lists them by unit and time range, oldest first', async () => {
      const a = finding({ id: 'f-a', ts: iso(T0 + 2 * S) });
      const b = finding({
        id: 'f-b',
        ts: iso(T0),
        source: 'validation',
        code: 'MRV_F_THRESHOLD',
        rule: 'al.current.max',
        class: 'threshold',
        severity: 'warning',
        point: 'pot.current',
      });
      const c = finding({ id: 'f-c', ts: iso(T0 + 60 * S) });
      const other = finding({ id: 'f-u2', unitId: U2, gatewayId: 'gw-c', ts: iso(T0 + S) });
      expect(await store.writeFindings([a, b, c, other])).toBe(4);
      expect(await store.listFindings(U1, T0, T0 + 60 * S)).toEqual([b, a]);
      expect(await store.listFindings(U1, T0, T0 + 61 * S, { source: 'integrity' })).toEqual([a, c]);
      expect(await store.listFindings(U1, T0, T0 + 61 * S, { code: 'MRV_F_THRESHOLD' })).toEqual([b]);
      expect(await store.listFindings(U1, T0, T0 + 61 * S, { limit: 1 })).toEqual([b]);
      expect(await store.listFindings(U2, 0, T0 + 61 * S)).toEqual([other]);
      expect(await store.listFindings('no-such-unit', 0, T0 + 61 * S)).toEqual([]);
      for (const id of HOSTILE_IDS) expect(await store.listFindings(id, 0, T0 + 61 * S)).toEqual([]);
    });

    it('writes a finding once per id: raising it again replaces it', async () => {
      await store.writeFindings([finding({ id: 'gap-3-4', ts: iso(T0) })]);
      const again = finding({ id: 'gap-3-4', ts: iso(T0), severity: 'critical' });
      await store.writeFindings([again]);
      expect(await store.listFindings(U1, T0, T0 + S)).toEqual([again]);
    });

    it('rejects a finding that does not match the schema with MRV_E_STORE and writes nothing', async () => {
      const good = finding({ id: 'ok', ts: iso(T0) });
      const bad = { ...finding({ id: 'bad', ts: iso(T0) }), code: 'not a code' };
      expect((await rejection(store.writeFindings([good, bad]))).code).toBe('MRV_E_STORE');
      expect(await store.listFindings(U1, 0, T0 + S)).toEqual([]);
      expect((await rejection(store.listFindings(U1, Number.NaN, T0))).code).toBe('MRV_E_BAD_REQUEST');
      expect(await store.writeFindings([])).toBe(0);
    });

    /** `f` resolved at `at` by the batches `seqs`. */
    const resolvedOf = (f: Finding, at: number, seqs: [number, number][]): Finding => ({
      ...f,
      state: 'resolved',
      resolvedAt: iso(at),
      resolution: {
        by: 'late-batches',
        seqs,
        message: { zh: `批次 3–4 已迟到补齐 ${HOSTILE_NAME}`, en: 'batches 3..4 arrived late' },
        detail: { note: HOSTILE_REASON },
      },
    });

    it('keeps a finding lifecycle: resolving rewrites it under its id, and the states are listed apart', async () => {
      // Written before the lifecycle existed: no state, which reads as open.
      const old = finding({ id: 'gap-old', ts: iso(Date.UTC(2020, 5, 1)) });
      const open = finding({ id: 'gap-3-4', ts: iso(T0), state: 'open' });
      const otherGateway = finding({ id: 'gap-b', gatewayId: 'gw-b', ts: iso(T0 + 60 * S), state: 'open' });
      const broken = finding({
        id: 'cb-7',
        ts: iso(T0 + 2 * S),
        code: 'MRV_F_CHAIN_BROKEN',
        class: 'authenticity',
        severity: 'critical',
        detail: { seq: 7 },
        state: 'open',
      });
      const done = resolvedOf(finding({ id: 'gap-1-1', ts: iso(T0 + S) }), T0 + 500 * S, [[1, 1]]);
      const u2 = finding({ id: 'gap-u2', unitId: U2, gatewayId: 'gw-c', ts: iso(T0) });
      expect(await store.writeFindings([open, old, otherGateway, broken, done, u2])).toBe(6);

      // Open ones of one code, whatever their time, oldest first; resolved and other units left out.
      expect(await store.listOpenFindings(U1, 'MRV_F_SEQ_GAP')).toEqual([old, open, otherGateway]);
      expect(await store.listOpenFindings(U1, 'MRV_F_SEQ_GAP', { gatewayId: 'gw-b' })).toEqual([
        otherGateway,
      ]);
      expect(await store.listOpenFindings(U1, 'MRV_F_SEQ_GAP', { limit: 1 })).toEqual([old]);
      expect(await store.listOpenFindings(U1, 'MRV_F_CHAIN_BROKEN')).toEqual([broken]);
      expect(await store.listOpenFindings(U1, 'MRV_F_REPLAY')).toEqual([]);
      for (const id of HOSTILE_IDS) {
        expect(await store.listOpenFindings(id, 'MRV_F_SEQ_GAP')).toEqual([]);
        expect(await store.listOpenFindings(U1, id)).toEqual([]);
      }
      // listFindings narrows by state, a finding without state counting as open.
      const all = [Date.UTC(2020, 0, 1), T0 + 3600 * S] as const;
      expect(await store.listFindings(U1, ...all, { state: 'resolved' })).toEqual([done]);
      expect(await store.listFindings(U1, ...all, { state: 'open', code: 'MRV_F_SEQ_GAP' })).toEqual([
        old,
        open,
        otherGateway,
      ]);

      // Resolving the gap: the same id and ts, rewritten; one finding, resolved, with time and seqs.
      const resolved = resolvedOf(open, T0 + 900 * S, [
        [3, 3],
        [4, 4],
      ]);
      await store.writeFindings([resolved]);
      expect(await store.listFindings(U1, T0, T0 + S)).toEqual([resolved]);
      expect(await store.listOpenFindings(U1, 'MRV_F_SEQ_GAP')).toEqual([old, otherGateway]);
      // ... and reopening it (a producer re-raising it open) is a rewrite too.
      await store.writeFindings([open]);
      expect(await store.listOpenFindings(U1, 'MRV_F_SEQ_GAP')).toEqual([old, open, otherGateway]);
    });

    it('rejects a resolved finding without resolvedAt or resolution, and an open one that has them', async () => {
      const f = finding({ id: 'gap-x', ts: iso(T0) });
      const r = resolvedOf(f, T0 + S, [[3, 4]]);
      const { resolvedAt: _a, ...noTime } = r;
      const { resolution: _r, ...noWhy } = r;
      for (const bad of [noTime, noWhy, { ...r, state: 'open' as const }, resolvedOf(f, T0, [[5, 4]])])
        expect((await rejection(store.writeFindings([bad]))).code).toBe('MRV_E_STORE');
      expect(await store.listFindings(U1, 0, T0 + S)).toEqual([]);
      expect(await store.listOpenFindings(U1, 'MRV_F_SEQ_GAP')).toEqual([]);
    });

    /** An archived batch of gw-a of U1. */
    function archived(seq: number, over: Partial<ArchivedBatch> = {}): ArchivedBatch {
      return {
        unitId: U1,
        gatewayId: 'gw-a',
        seq,
        hash: String(seq % 10).repeat(64),
        prevHash: String((seq - 1) % 10).repeat(64),
        canonical: `{"seq":${seq},"name":${JSON.stringify(HOSTILE_NAME)}}`,
        sig: seq % 2 === 0 ? null : 'c2lnbmF0dXJl',
        receivedAt: T0 + seq,
        verdict: 'verified',
        findings: [],
        ...over,
      };
    }

    it('archives batches per gateway in seq order and reports each gateway head', async () => {
      const big = archived(3, {
        canonical: `{"r":"${'电'.repeat(40_000)}x"}`,
        verdict: 'failed',
        findings: ['MRV_F_CHAIN_BROKEN'],
      });
      await store.archiveBatches([archived(2), big, archived(1)]);
      await store.archiveBatches([
        archived(7, { gatewayId: 'gw-b' }),
        archived(1, { unitId: U2, gatewayId: 'gw-c' }),
      ]);
      expect(await store.listBatches({ unitId: U1, gatewayId: 'gw-a' })).toEqual([
        archived(1),
        archived(2),
        big,
      ]);
      expect(await store.listBatches({ unitId: U1, gatewayId: 'gw-a', fromSeq: 2, toSeq: 2 })).toEqual([
        archived(2),
      ]);
      expect(await store.listBatches({ unitId: U1, gatewayId: 'gw-a', fromSeq: 2, limit: 1 })).toEqual([
        archived(2),
      ]);
      expect(await store.listBatches({ unitId: U1, gatewayId: 'nope' })).toEqual([]);
      // The links are the same rows without the bytes.
      const link = (b: ArchivedBatch) => ({
        seq: b.seq,
        hash: b.hash,
        prevHash: b.prevHash,
        receivedAt: b.receivedAt,
        verdict: b.verdict,
        findings: b.findings,
      });
      expect(await store.listBatchLinks({ unitId: U1, gatewayId: 'gw-a' })).toEqual(
        [archived(1), archived(2), big].map(link),
      );
      expect(
        await store.listBatchLinks({ unitId: U1, gatewayId: 'gw-a', fromSeq: 2, toSeq: 3, limit: 1 }),
      ).toEqual([link(archived(2))]);
      expect(await store.listBatchLinks({ unitId: U1, gatewayId: 'nope' })).toEqual([]);
      expect(await store.batchHeads()).toEqual([
        { unitId: U1, gatewayId: 'gw-a', seq: 3, hash: big.hash },
        { unitId: U1, gatewayId: 'gw-b', seq: 7, hash: archived(7).hash },
        { unitId: U2, gatewayId: 'gw-c', seq: 1, hash: archived(1).hash },
      ]);
      // The same seq again replaces the stored version, a shorter canonical included.
      const replaced = archived(3, { canonical: '{"short":true}', hash: 'a'.repeat(64), sig: null });
      await store.archiveBatches([replaced]);
      expect(await store.listBatches({ unitId: U1, gatewayId: 'gw-a', fromSeq: 3 })).toEqual([replaced]);
    });

    it('takes no batch whose signature failed as a gateway head, however high its seq', async () => {
      await store.archiveBatches([
        archived(1),
        archived(2),
        archived(896_599, { verdict: 'failed', findings: ['MRV_F_BAD_SIGNATURE'] }),
        archived(900_000, { verdict: 'failed', findings: ['MRV_F_UNKNOWN_KEY', 'MRV_F_CLOCK_SKEW'] }),
        archived(1, { gatewayId: 'rogue', verdict: 'failed', findings: ['MRV_F_UNKNOWN_KEY'] }),
      ]);
      expect(await store.batchHeads()).toEqual([
        { unitId: U1, gatewayId: 'gw-a', seq: 2, hash: archived(2).hash },
      ]);
      // Still archived, still listed.
      expect(
        (await store.listBatchLinks({ unitId: U1, gatewayId: 'gw-a', fromSeq: 3 })).map((l) => l.seq),
      ).toEqual([896_599, 900_000]);
    });

    it('rejects a malformed archived batch with MRV_E_STORE', async () => {
      for (const bad of [archived(0), archived(1, { hash: 'xyz' }), archived(1, { unitId: "U1'" })])
        expect((await rejection(store.archiveBatches([bad]))).code).toBe('MRV_E_STORE');
      expect(await store.batchHeads()).toEqual([]);
    });

    it('refuses to work before start() with MRV_E_STORE', async () => {
      const other = await make();
      try {
        expect((await rejection(other.store.listUnits())).code).toBe('MRV_E_STORE');
        expect((await rejection(other.store.writeReadings([reading({ ts: T0 })]))).code).toBe('MRV_E_STORE');
      } finally {
        await other.cleanup();
      }
    });
  });
}
