/**
 * Kept day counts of the month-to-date completeness (evidence/day-counts.ts) over a real SQLite file and
 * a real InfluxDB: the completeness with kept counts is the completeness without them, byte for byte,
 * for a month not started, before the first reading, running and ended; over readings with per-point
 * poll intervals, a device-bad run, a point-bad run, uncertain readings and a 5-hour outage. Reopened
 * (a server restart), the kept days are not read again: only today is asked of the store. A day still
 * open is never kept. A late batch filling the outage changes that day's mark: the figure changes, to
 * what the store counts without kept counts, and only that day is counted again. The server's
 * completeness worker thread keeps its counts in the day aggregates file and answers the same. A file
 * that fails only costs time.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InfluxStore } from '../../collector/influx-store.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { GoodCountQuery, StoredReading, TimeSeriesStore } from '../../collector/store.ts';
import { monthPeriod } from '../../core/domain/period.ts';
import { SiteConfig } from '../../core/schema/site.ts';
import { DayCounts } from '../../evidence/day-counts.ts';
import type { CompletenessJob } from '../../evidence/evidence-jobs.ts';
import { EVIDENCE_COUNTS_NICE, EVIDENCE_WORKER_NICE, EvidencePool } from '../../evidence/evidence-pool.ts';
import { completenessToDate } from '../../evidence/service.ts';
import { type InfluxDbServer, startInfluxDb } from '../helpers/influxdb.ts';

const UNIT = '91150000DAYCNT001X';
const GW = 'gw-daycounts';
const MONTH = '2026-11';
const { from: FROM, to: TO } = monthPeriod(MONTH);
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Day 10 (UTC+8), 13:17:23: nine days ended, the tenth open. */
const NOW = FROM + 9 * DAY + 13 * HOUR + 17 * MIN + 23_000;
/** The unit's first reading: day 2, 05:30. */
const FIRST = FROM + DAY + 5 * HOUR + 30 * MIN;
/** The outage: the whole gateway silent for 5 hours from day 4, 18:00 (delivered late in one test). */
const OUTAGE = FROM + 3 * DAY + 18 * HOUR;
const ENDED_DAYS = 9;

const POINT = (id: string, parameter: string, aggregation: 'gauge' | 'totalizer', address: number) => ({
  id,
  unit: 'x',
  parameter,
  aggregation,
  table: 'input' as const,
  address,
  type: 'uint16' as const,
});

const site = SiteConfig.parse({
  version: 1,
  unit: { id: UNIT, name: '日计数铝厂 Day-count smelter', industry: 'aluminium', province: '内蒙古' },
  gateway: { id: GW, mqtt: { url: 'mqtt://127.0.0.1:1883' } },
  devices: [
    {
      id: 'potline',
      driver: 'modbus-tcp',
      host: '127.0.0.1',
      port: 15020,
      pollIntervalMs: 2 * MIN,
      points: [
        { ...POINT('potline.cell_count', 'aluminium.cells_in_operation', 'gauge', 10), pollIntervalMs: MIN },
        POINT('potline.ae_seconds', 'aluminium.anode_effect_duration', 'totalizer', 12),
      ],
    },
    {
      id: 'anode',
      driver: 'modbus-tcp',
      host: '127.0.0.1',
      port: 15021,
      pollIntervalMs: 5 * MIN,
      points: [POINT('anode.set_total', 'aluminium.anode_consumption', 'totalizer', 0)],
    },
  ],
});

const INTERVAL: Record<string, number> = {
  'potline.cell_count': MIN,
  'potline.ae_seconds': 2 * MIN,
  'anode.set_total': 5 * MIN,
};
const DEVICE = (point: string) => point.split('.')[0] as string;
const within = (ts: number, from: number, hours: number) => ts >= from && ts < from + hours * HOUR;

/** The readings up to a day after `NOW`; `late`: only the outage's, delivered late. */
function readings(late: boolean): StoredReading[] {
  const out: StoredReading[] = [];
  for (const [point, iv] of Object.entries(INTERVAL))
    for (let ts = FIRST; ts < NOW + DAY; ts += iv) {
      if (within(ts, OUTAGE, 5) !== late) continue;
      const deviceBad = DEVICE(point) === 'potline' && within(ts, FROM + 6 * DAY + 9 * HOUR, 3);
      const pointBad = point === 'anode.set_total' && within(ts, FROM + 7 * DAY + 14 * HOUR + 25 * MIN, 2);
      const uncertain = point === 'potline.cell_count' && within(ts, FROM + 8 * DAY + HOUR, 1);
      out.push({
        unitId: UNIT,
        gatewayId: GW,
        device: DEVICE(point),
        point,
        ts,
        rxTs: ts + (late ? DAY : 150),
        value: deviceBad || pointBad ? null : String(240 + ((ts / iv) % 7)),
        quality: deviceBad || pointBad ? 'bad' : uncertain ? 'uncertain' : 'good',
        ...(deviceBad || pointBad ? { reason: 'MRV_E_MODBUS_TIMEOUT: no answer in 1000 ms' } : {}),
        seq: Math.floor(ts / iv),
      });
    }
  return out;
}

/** Threads of this process (Linux /proc). */
const threadCount = () => (process.platform === 'linux' ? readdirSync('/proc/self/task').length : 0);

/** The nice value of every thread of this process (Linux /proc). */
function threadNices(): number[] {
  return readdirSync('/proc/self/task').map((t) => {
    const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

/** The store with its count queries counted: calls and the milliseconds of readings they asked for. */
function spied(store: TimeSeriesStore) {
  const seen = { calls: 0, spanMs: 0 };
  const proxy = new Proxy(store, {
    get(target, key) {
      if (key === 'goodReadingCounts')
        return (q: GoodCountQuery) => {
          seen.calls++;
          seen.spanMs += q.to - q.from;
          return target.goodReadingCounts?.(q);
        };
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { store: proxy, seen };
}

/** The store without its write marks: nothing can be kept. */
function withoutMarks(store: TimeSeriesStore): TimeSeriesStore {
  return new Proxy(store, {
    get(target, key) {
      if (key === 'readingDayMarks') return undefined;
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** The gateway's catalogue of the unit's points. */
async function writeCatalogue(store: TimeSeriesStore): Promise<void> {
  await store.writeMeta(UNIT, {
    v: 1,
    gatewayId: GW,
    unit: { id: UNIT, name: 'gateway name', industry: 'aluminium', province: '内蒙古' },
    points: Object.keys(INTERVAL).map((id) => ({
      id,
      device: DEVICE(id),
      unit: 'x',
      aggregation: id === 'potline.cell_count' ? 'gauge' : 'totalizer',
      parameter:
        id === 'potline.cell_count'
          ? 'aluminium.cells_in_operation'
          : id === 'potline.ae_seconds'
            ? 'aluminium.anode_effect_duration'
            : 'aluminium.anode_consumption',
    })),
    meters: [],
    configHash: 'd'.repeat(64),
  });
}

const tmp = mkdtempSync(path.join(tmpdir(), 'mrv-daycounts-'));
let influx: InfluxDbServer;
const stores = new Map<string, TimeSeriesStore>();

beforeAll(async () => {
  influx = await startInfluxDb();
  const all = readings(false);
  for (const [name, store] of [
    ['SQLite', new SqliteStore({ path: path.join(tmp, 'mrv.sqlite') })],
    ['InfluxDB', new InfluxStore({ url: influx.url, database: 'mrv_daycounts' })],
  ] as const) {
    await store.start();
    await writeCatalogue(store);
    for (let i = 0; i < all.length; i += 10_000) await store.writeReadings(all.slice(i, i + 10_000));
    stores.set(name, store);
  }
}, 180_000);

afterAll(async () => {
  for (const store of stores.values()) await store.stop();
  await influx?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const completeness = (store: TimeSeriesStore, now: number, dayCounts?: DayCounts) =>
  completenessToDate({
    store,
    unitId: UNIT,
    month: MONTH,
    now,
    sites: [site],
    ...(dayCounts ? { dayCounts } : {}),
  });

describe.each(['SQLite', 'InfluxDB'])('kept day counts over the %s store', (name) => {
  const store = () => stores.get(name) as TimeSeriesStore;
  const file = path.join(tmp, `${name}-days.sqlite`);

  it('give the completeness the store counts without them, first and when reused', async () => {
    const s = store();
    const days = new DayCounts(file);
    try {
      for (const now of [FROM - DAY, FROM + DAY, FROM + 4 * DAY, NOW, TO - 1, TO + 5 * DAY]) {
        const plain = JSON.stringify(await completeness(s, now));
        expect(JSON.stringify(await completeness(s, now, days)), `first, now ${now}`).toBe(plain);
        expect(JSON.stringify(await completeness(s, now, days)), `reused, now ${now}`).toBe(plain);
      }
      expect(days.stats.reused).toBeGreaterThan(0);
      expect(days.stats.failures).toBe(0);
      // The fixture has gaps: a figure of all zeros or all full would not test anything.
      const c = await completeness(s, NOW, days);
      expect(c.status).toBe('measuring');
      for (const p of c.points) {
        expect(p.good).toBeGreaterThan(1000);
        expect(p.silentHours).toBeGreaterThan(4);
        expect(p.expectedIntervalMs).toBe(INTERVAL[p.point]);
      }
    } finally {
      days.close();
    }
  }, 120_000);

  it('are reused after a restart (only today is asked of the store), never keep the open day, and are recounted for a day a late batch touched', async () => {
    // A store of its own: the late batch below changes it.
    const s =
      name === 'SQLite'
        ? new SqliteStore({ path: path.join(tmp, 'late.sqlite') })
        : new InfluxStore({ url: influx.url, database: 'mrv_daycounts_late' });
    await s.start();
    try {
      const all = readings(false);
      for (let i = 0; i < all.length; i += 10_000) await s.writeReadings(all.slice(i, i + 10_000));
      await writeCatalogue(s);
      const keptFile = path.join(tmp, `${name}-late-days.sqlite`);
      const first = new DayCounts(keptFile);
      const a = spied(s);
      const before = await completeness(a.store, NOW, first);
      expect(before).toEqual(await completeness(s, NOW));
      // First time: each ended day counted (and kept), then today.
      expect(first.stats).toMatchObject({ reused: 0, counted: ENDED_DAYS, open: 1 });
      expect(a.seen.calls).toBe(ENDED_DAYS + 1);
      // Ended days only: three points each, today not kept.
      expect(first.rows(UNIT)).toBe(ENDED_DAYS * 3);
      first.close();

      // A restart: a new handle on the same file. Only today is counted.
      const again = new DayCounts(keptFile);
      const b = spied(s);
      expect(await completeness(b.store, NOW, again)).toEqual(before);
      expect(again.stats).toMatchObject({ reused: ENDED_DAYS, counted: 0, open: 1 });
      expect(b.seen.calls).toBe(1);
      expect(b.seen.spanMs).toBeLessThan(DAY);
      // Today is counted afresh each time: a reading of today shows at once.
      const today = NOW - 10 * MIN + 7;
      await s.writeReadings([
        {
          unitId: UNIT,
          gatewayId: GW,
          device: 'anode',
          point: 'anode.set_total',
          ts: today,
          rxTs: today + 5,
          value: '1',
          quality: 'good',
          seq: 1,
        },
      ]);
      const withToday = await completeness(s, NOW, again);
      const good = (c: typeof before) => c.points.find((p) => p.point === 'anode.set_total')?.good ?? 0;
      expect(good(withToday)).toBe(good(before) + 1);

      // The outage delivered late (day 4): its mark changes, the day is counted again, the figure moves.
      await s.writeReadings(readings(true));
      const c = spied(s);
      const counted = again.stats.counted;
      const after = await completeness(c.store, NOW, again);
      expect(after).toEqual(await completeness(s, NOW));
      expect(again.stats.counted).toBe(counted + 1);
      expect(c.seen.calls).toBe(2);
      expect(after.good).toBeGreaterThan(withToday.good);
      for (const p of after.points) {
        const q = withToday.points.find((x) => x.point === p.point);
        expect(p.silentHours).toBe((q?.silentHours ?? 0) - 5);
        expect(p.good).toBe((q?.good ?? 0) + (5 * HOUR) / (INTERVAL[p.point] as number));
      }
      // Reused again after that, with the new figure.
      const d = spied(s);
      expect(await completeness(d.store, NOW, again)).toEqual(after);
      expect(d.seen.calls).toBe(1);
      again.close();
    } finally {
      await s.stop();
    }
  }, 180_000);
});

describe('kept day counts without the store’s write marks', () => {
  it('count everything and keep nothing', async () => {
    const s = withoutMarks(stores.get('SQLite') as TimeSeriesStore);
    const days = new DayCounts(path.join(tmp, 'no-marks.sqlite'));
    try {
      expect(await completeness(s, NOW, days)).toEqual(await completeness(s, NOW));
      expect(days.rows(UNIT)).toBe(0);
      expect(days.stats.reused).toBe(0);
    } finally {
      days.close();
    }
  });
});

describe('a kept-counts file that fails', () => {
  it('costs time, never the answer: every day counted in the store, the failure counted', async () => {
    const s = stores.get('SQLite') as TimeSeriesStore;
    const days = new DayCounts(path.join(tmp, 'closed.sqlite'));
    days.close();
    expect(await completeness(s, NOW, days)).toEqual(await completeness(s, NOW));
    expect(days.stats.counted).toBe(ENDED_DAYS);
    expect(days.stats.failures).toBe(1 + ENDED_DAYS);
    expect(days.stats.lastError).toMatch(/closed\.sqlite/);
  });
});

describe('the completeness worker thread', () => {
  it('keeps its day counts in the day aggregates file and answers what the event loop counts', async () => {
    const store = stores.get('SQLite') as TimeSeriesStore;
    const dayAggregatesFile = path.join(tmp, 'worker-days.sqlite');
    const job: CompletenessJob = {
      kind: 'completeness',
      unitId: UNIT,
      month: MONTH,
      now: NOW,
      sites: [site],
    };
    const expected = await completeness(store, NOW);
    for (let start = 0; start < 2; start++) {
      const pool = new EvidencePool({
        store,
        spec: { kind: 'sqlite', path: path.join(tmp, 'mrv.sqlite') },
        threads: 1,
        dayAggregatesFile,
      });
      try {
        const threads = threadCount();
        expect(await pool.run(job)).toEqual(expected);
        expect(pool.counters).toEqual({ inWorker: 1, inProcess: 0 });
        // Its thread runs at normal priority (builds at nice 10): bounded work, never starved.
        if (process.platform === 'linux') {
          expect(threadCount()).toBeGreaterThan(threads);
          expect(threadNices()).not.toContain(EVIDENCE_WORKER_NICE);
          expect(EVIDENCE_COUNTS_NICE).toBe(0);
        }
      } finally {
        await pool.close();
      }
    }
    const kept = new DayCounts(dayAggregatesFile);
    try {
      expect(kept.rows(UNIT)).toBe(ENDED_DAYS * 3);
    } finally {
      kept.close();
    }
  }, 120_000);
});
