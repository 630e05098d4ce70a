/**
 * The month-to-date completeness from the stores' count query (`goodReadingCounts`,
 * collector/store.ts; evidence/service.ts `completenessToDate`) over a real SQLite file and a real
 * InfluxDB holding the same readings: per point the counts equal the hourly stepped series' summed and
 * counted buckets, and the completeness is the same, byte for byte, with the method and without it
 * (the stepped series per point), for a month not started, before the unit's first reading, running and
 * ended, and through a federation whose province store lacks the method. The readings hold what the
 * evidence's gap causes come from: points with their own poll intervals, a point-bad run, a
 * device-bad run, an outage of the whole gateway (gateway offline), one point alone not delivered (no
 * data), uncertain readings, a reading after `now` (not elapsed), a second gateway's reading at the
 * same time, and a good reading a float cannot hold. The evidence package over the same readings
 * finds each of those causes without ever asking for the counts (they cannot tell causes apart).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FederatedStore } from '../../collector/federated-store.ts';
import { InfluxStore } from '../../collector/influx-store.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { StoredReading, TimeSeriesStore } from '../../collector/store.ts';
import { monthPeriod } from '../../core/domain/period.ts';
import { SiteConfig } from '../../core/schema/site.ts';
import { UnitRegistry } from '../../core/schema/unit-registry.ts';
import { buildEvidence, completenessToDate, loadEvidenceKey } from '../../evidence/service.ts';
import { type InfluxDbServer, startInfluxDb } from '../helpers/influxdb.ts';

const UNIT = '91150000COUNTS001X';
const GW = 'gw-counts';
const GW2 = 'gw-counts-2';
const MONTH = '2026-11';
const { from: FROM, to: TO } = monthPeriod(MONTH);
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Mid-month, not on an hour: the judged part ends inside a bucket. */
const NOW = FROM + 9 * DAY + 13 * HOUR + 17 * MIN + 23_000;
/** The unit's first reading: day 2, 05:30 (UTC+8), after the month's start. */
const FIRST = FROM + DAY + 5 * HOUR + 30 * MIN;

const site = SiteConfig.parse({
  version: 1,
  unit: { id: UNIT, name: '计数铝厂 Counting smelter', industry: 'aluminium', province: '内蒙古' },
  gateway: { id: GW, mqtt: { url: 'mqtt://127.0.0.1:1883' } },
  devices: [
    {
      id: 'potline',
      driver: 'modbus-tcp',
      host: '127.0.0.1',
      port: 15020,
      pollIntervalMs: 2 * MIN,
      points: [
        // Its own poll group: every minute, over the device's two.
        {
          id: 'potline.cell_count',
          unit: 'count',
          parameter: 'aluminium.cells_in_operation',
          aggregation: 'gauge',
          pollIntervalMs: MIN,
          table: 'input',
          address: 10,
          type: 'uint16',
        },
        {
          id: 'potline.ae_seconds',
          unit: 's',
          parameter: 'aluminium.anode_effect_duration',
          aggregation: 'totalizer',
          table: 'input',
          address: 12,
          type: 'uint32',
        },
        // No key parameter: not counted.
        {
          id: 'potline.current',
          unit: 'kA',
          aggregation: 'gauge',
          table: 'input',
          address: 8,
          type: 'float32',
        },
      ],
    },
    {
      id: 'anode',
      driver: 'modbus-tcp',
      host: '127.0.0.1',
      port: 15021,
      pollIntervalMs: 5 * MIN,
      points: [
        {
          id: 'anode.set_total',
          unit: 't',
          parameter: 'aluminium.anode_consumption',
          aggregation: 'totalizer',
          table: 'input',
          address: 0,
          type: 'uint16',
        },
      ],
    },
  ],
});

const POINTS = ['potline.cell_count', 'potline.ae_seconds', 'anode.set_total'] as const;
const INTERVAL: Record<string, number> = {
  'potline.cell_count': MIN,
  'potline.ae_seconds': 2 * MIN,
  'anode.set_total': 5 * MIN,
  'potline.current': 2 * MIN,
};
const DEVICE: Record<string, string> = {
  'potline.cell_count': 'potline',
  'potline.ae_seconds': 'potline',
  'potline.current': 'potline',
  'anode.set_total': 'anode',
};

const within = (ts: number, from: number, hours: number) => ts >= from && ts < from + hours * HOUR;

/** The readings: from the first one to two days after `NOW` (see the file comment). */
function readings(): StoredReading[] {
  const out: StoredReading[] = [];
  let seq = 0;
  for (const [point, iv] of Object.entries(INTERVAL))
    for (let ts = FIRST; ts < NOW + 2 * DAY; ts += iv) {
      // The whole gateway silent for 5 hours on day 4 (gateway offline).
      if (within(ts, FROM + 3 * DAY + 20 * HOUR, 5)) continue;
      // One point alone not delivered for 7 hours on day 6 (no data).
      if (point === 'potline.ae_seconds' && within(ts, FROM + 5 * DAY + 2 * HOUR + 10 * MIN, 7)) continue;
      const deviceBad = DEVICE[point] === 'potline' && within(ts, FROM + 6 * DAY + 9 * HOUR, 3);
      const pointBad = point === 'anode.set_total' && within(ts, FROM + 7 * DAY + 14 * HOUR + 25 * MIN, 2);
      const uncertain = point === 'potline.cell_count' && within(ts, FROM + 8 * DAY + HOUR, 1);
      const r: StoredReading = {
        unitId: UNIT,
        gatewayId: GW,
        device: DEVICE[point] as string,
        point,
        ts,
        rxTs: ts + 150,
        value: deviceBad || pointBad ? null : String(240 + ((ts / iv) % 7)),
        quality: deviceBad || pointBad ? 'bad' : uncertain ? 'uncertain' : 'good',
        seq: ++seq,
      };
      if (deviceBad) r.reason = 'MRV_E_MODBUS_TIMEOUT: no answer in 1000 ms';
      if (pointBad) r.reason = 'MRV_E_MODBUS_EXCEPTION: 02 illegal data address';
      if (uncertain) r.reason = 'sensor warming up';
      out.push(r);
    }
  // A second gateway's reading of the same point at the same time: a reading of its own.
  const twin = out.find((r) => r.point === 'anode.set_total' && r.ts === FROM + 2 * DAY) as StoredReading;
  out.push({ ...twin, gatewayId: GW2, seq: 1 });
  // A good reading a float cannot hold: no `value` for charts, so the stepped series does not count it.
  const huge = out.find((r) => r.point === 'potline.ae_seconds' && r.ts === FROM + 3 * DAY) as StoredReading;
  huge.value = `1${'0'.repeat(400)}`;
  return out;
}

/** The same store without `goodReadingCounts`: the completeness then sums stepped series. */
function withoutCounts(store: TimeSeriesStore): TimeSeriesStore {
  return new Proxy(store, {
    get(target, key) {
      if (key === 'goodReadingCounts') return undefined;
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** Per point, the good readings in `[from, to)` a float can hold and the hours holding one: counted here, from the written readings. */
function expectedCounts(all: StoredReading[], from: number, to: number) {
  const out = new Map<string, { good: number; hours: Set<number> }>();
  for (const r of all) {
    if (r.ts < from || r.ts >= to || r.quality !== 'good' || !Number.isFinite(Number(r.value))) continue;
    const e = out.get(r.point) ?? { good: 0, hours: new Set<number>() };
    e.good++;
    e.hours.add(Math.floor(r.ts / HOUR));
    out.set(r.point, e);
  }
  return out;
}

const all = readings();
const tmp = mkdtempSync(path.join(tmpdir(), 'mrv-counts-'));
let influx: InfluxDbServer;
const stores: { name: string; store: TimeSeriesStore }[] = [];

beforeAll(async () => {
  influx = await startInfluxDb();
  const sqlite = new SqliteStore({ path: path.join(tmp, 'mrv.sqlite') });
  const inf = new InfluxStore({ url: influx.url, database: 'mrv_counts' });
  for (const store of [sqlite, inf]) {
    await store.start();
    for (const gatewayId of [GW, GW2])
      await store.writeMeta(UNIT, {
        v: 1,
        gatewayId,
        unit: { id: UNIT, name: 'gateway name', industry: 'aluminium', province: '内蒙古' },
        points: Object.keys(INTERVAL).map((id) => ({
          id,
          device: DEVICE[id] as string,
          unit: 'x',
          aggregation: id === 'potline.cell_count' || id === 'potline.current' ? 'gauge' : 'totalizer',
          ...(id === 'potline.current'
            ? {}
            : {
                parameter:
                  id === 'potline.cell_count'
                    ? 'aluminium.cells_in_operation'
                    : id === 'potline.ae_seconds'
                      ? 'aluminium.anode_effect_duration'
                      : 'aluminium.anode_consumption',
              }),
        })),
        meters: [],
        configHash: 'c'.repeat(64),
      });
    for (let i = 0; i < all.length; i += 10_000) await store.writeReadings(all.slice(i, i + 10_000));
  }
  stores.push({ name: 'SQLite', store: sqlite }, { name: 'InfluxDB', store: inf });
}, 180_000);

afterAll(async () => {
  for (const { store } of stores) await store.stop();
  await influx?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe.each(['SQLite', 'InfluxDB'])('goodReadingCounts of the %s store', (name) => {
  const store = () => stores.find((s) => s.name === name)?.store as TimeSeriesStore;

  it('counts per point what the hourly stepped series sums and counts, and what was written', async () => {
    const s = store();
    expect(s.goodReadingCounts).toBeTypeOf('function');
    const windows = [
      [FROM, NOW],
      // Not on hours at either end; one that only holds the outage; one after `now` (readings stored ahead).
      [FROM + 2 * DAY + 17 * MIN, FROM + 6 * DAY + 10 * HOUR + 41 * MIN],
      [FROM + 3 * DAY + 20 * HOUR, FROM + 4 * DAY + HOUR],
      [NOW, NOW + DAY],
    ] as const;
    for (const [from, to] of windows) {
      const ids = [...POINTS, 'potline.current', 'no.such.point'];
      const counts = await s.goodReadingCounts?.({ unitId: UNIT, pointIds: ids, from, to, stepMs: HOUR });
      expect([...(counts?.keys() ?? [])].sort()).toEqual([...ids].sort());
      const written = expectedCounts(all, from, to);
      for (const pointId of ids) {
        const buckets = await s.series({ unitId: UNIT, pointId, from, to, stepMs: HOUR });
        const viaSeries = {
          good: buckets.reduce((n, b) => n + b.count, 0),
          buckets: buckets.filter((b) => b.count > 0).length,
        };
        expect(counts?.get(pointId), `${pointId} in [${from}, ${to})`).toEqual(viaSeries);
        const w = written.get(pointId);
        expect(viaSeries).toEqual({ good: w?.good ?? 0, buckets: w?.hours.size ?? 0 });
      }
    }
    // The windows hold something, and gaps: counts alone must not pass by being all zero or all full.
    const month = await s.goodReadingCounts?.({
      unitId: UNIT,
      pointIds: POINTS,
      from: FROM,
      to: NOW,
      stepMs: HOUR,
    });
    const hours = Math.ceil((NOW - FROM) / HOUR);
    for (const p of POINTS) {
      expect(month?.get(p)?.good).toBeGreaterThan(1000);
      expect(month?.get(p)?.buckets).toBeLessThan(hours - 30);
    }
  }, 120_000);

  it('answers an empty range and no points with zeros, and refuses bad times', async () => {
    const s = store();
    expect(
      await s.goodReadingCounts?.({ unitId: UNIT, pointIds: POINTS, from: NOW, to: NOW, stepMs: HOUR }),
    ).toEqual(new Map(POINTS.map((p) => [p, { good: 0, buckets: 0 }])));
    expect(
      await s.goodReadingCounts?.({ unitId: 'U-NONE', pointIds: ['x'], from: FROM, to: NOW, stepMs: HOUR }),
    ).toEqual(new Map([['x', { good: 0, buckets: 0 }]]));
    expect(
      await s.goodReadingCounts?.({ unitId: UNIT, pointIds: [], from: FROM, to: NOW, stepMs: HOUR }),
    ).toEqual(new Map());
    await expect(
      s.goodReadingCounts?.({ unitId: UNIT, pointIds: POINTS, from: 1.5, to: NOW, stepMs: HOUR }),
    ).rejects.toMatchObject({ code: 'MRV_E_BAD_REQUEST' });
    await expect(
      s.goodReadingCounts?.({ unitId: UNIT, pointIds: POINTS, from: FROM, to: NOW, stepMs: 0 }),
    ).rejects.toMatchObject({ code: 'MRV_E_BAD_REQUEST' });
  });

  it('gives the same month-to-date completeness with the count query as with stepped series', async () => {
    const s = store();
    const unit = {
      id: UNIT,
      name: '计数铝厂 Counting smelter',
      industry: 'aluminium' as const,
      province: '内蒙古',
    };
    for (const now of [FROM - DAY, FROM + DAY, NOW, TO - 1, TO + 5 * DAY]) {
      for (const facts of [{}, { unit }]) {
        const fast = await completenessToDate({
          store: s,
          unitId: UNIT,
          month: MONTH,
          now,
          sites: [site],
          ...facts,
        });
        const slow = await completenessToDate({
          store: withoutCounts(s),
          unitId: UNIT,
          month: MONTH,
          now,
          sites: [site],
          ...facts,
        });
        expect(JSON.stringify(fast)).toBe(JSON.stringify(slow));
      }
    }
    // The running month, checked against the written readings: each point's own interval, counted from
    // the first reading, the silent hours of the outage and of the bad runs.
    const c = await completenessToDate({ store: s, unitId: UNIT, month: MONTH, now: NOW, sites: [site] });
    expect(c.status).toBe('measuring');
    expect(Date.parse(c.firstDataAt as string)).toBe(FIRST);
    expect(Date.parse(c.countedFrom)).toBe(FIRST);
    const written = expectedCounts(all, FROM, NOW);
    const hours = Math.ceil((NOW - FROM) / HOUR);
    expect(c.points.map((p) => p.point)).toEqual([...POINTS].sort());
    for (const p of c.points) {
      expect(p.expectedIntervalMs).toBe(INTERVAL[p.point]);
      expect(p.expected).toBe(Math.floor((NOW - FIRST) / (INTERVAL[p.point] as number)));
      expect(p.good).toBe(written.get(p.point)?.good);
      expect(p.silentHours).toBe(hours - (written.get(p.point)?.hours.size ?? 0));
      expect(p.ratio).not.toBe('1.0000');
    }
    // Not yet started, not monitored before the first reading, ended after the month.
    const before = await completenessToDate({
      store: s,
      unitId: UNIT,
      month: MONTH,
      now: FROM - DAY,
      sites: [site],
    });
    expect(before.status).toBe('not_started');
    const early = await completenessToDate({
      store: s,
      unitId: UNIT,
      month: MONTH,
      now: FROM + DAY,
      sites: [site],
    });
    expect(early.status).toBe('not_monitored');
    const ended = await completenessToDate({
      store: s,
      unitId: UNIT,
      month: MONTH,
      now: TO + DAY,
      sites: [site],
    });
    expect(ended.status).toBe('ended');
  }, 120_000);
});

describe('the evidence package, which judges the causes', () => {
  it('reads the readings themselves (never the counts) and finds every cause the readings hold', async () => {
    const sqlite = stores.find((s) => s.name === 'SQLite')?.store as TimeSeriesStore;
    const noCounts = new Proxy(sqlite, {
      get(target, key) {
        if (key === 'goodReadingCounts')
          return () => Promise.reject(new Error('the evidence must not use the counts'));
        const v: unknown = Reflect.get(target, key, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const pkg = await buildEvidence({
      store: noCounts,
      unitId: UNIT,
      month: MONTH,
      now: NOW,
      generator: 'carbon-mrv test',
      key: loadEvidenceKey(path.join(tmp, 'key.pem'), true),
      sites: [site],
    });
    const causes = new Set(pkg.completeness.flatMap((c) => Object.keys(c.gapSummary)));
    for (const cause of ['gateway_offline', 'device_bad', 'point_bad', 'no_data', 'not_elapsed'])
      expect(causes, cause).toContain(cause);
    // Its good readings are the counts' plus those a float cannot hold (the counts follow the stepped
    // series, which counts values): the one planted above.
    const counted = await completenessToDate({
      store: sqlite,
      unitId: UNIT,
      month: MONTH,
      now: NOW,
      sites: [site],
    });
    for (const p of counted.points) {
      const unfloatable = all.filter(
        (r) => r.point === p.point && r.ts < NOW && r.quality === 'good' && !Number.isFinite(Number(r.value)),
      ).length;
      expect(pkg.completeness.find((c) => c.point === p.point)?.good).toBe(p.good + unfloatable);
    }
  }, 120_000);
});

describe('through a federation', () => {
  it('gives the same completeness whether the province store has the count query or not', async () => {
    const registry = new UnitRegistry([
      { id: UNIT, name: '计数铝厂', industry: 'aluminium', province: '15', gateways: [GW, GW2] },
    ]);
    const answers: string[] = [];
    for (const { store } of stores)
      for (const member of [store, withoutCounts(store)]) {
        // The federation starts and stops its members: give it a handle it may stop without closing ours.
        const handle = new Proxy(member, {
          get(target, key) {
            if (key === 'start' || key === 'stop') return async () => {};
            const v: unknown = Reflect.get(target, key, target);
            return typeof v === 'function' ? v.bind(target) : v;
          },
        });
        const fed = new FederatedStore({
          provinces: [{ province: '15', store: handle, label: 'test' }],
          registry,
        });
        await fed.start();
        answers.push(
          JSON.stringify(
            await completenessToDate({ store: fed, unitId: UNIT, month: MONTH, now: NOW, sites: [site] }),
          ),
        );
        await fed.stop();
      }
    expect(JSON.parse(answers[0] as string).good).toBeGreaterThan(0);
    expect(new Set(answers).size).toBe(1);
  }, 60_000);
});
