// Day aggregates (evidence/day-aggregates.ts, docs/architecture.md §7): a month built from kept
// chunks (the lookback, then each hour of each UTC+8 day) is the package built from the raw readings,
// byte for byte (figures, findings, readings digest, cited batches, signature), on a real SqliteStore
// with a month of the usual events — a counter reset, a roll-over, a correction step just before
// midnight (the totalizer's high-water mark crosses the day), an outage across midnight, a bad-quality
// run, a range violation and a rate-of-change run across midnight, weighing tickets — and a late batch
// that fills a gap: the day it lands on and every later day are read again, the days before are not,
// and the package equals the raw one again. A month not yet over keeps its ended hours, never the
// hour not yet ended; a build resumed at each hour of today equals the raw one; a late write into an
// earlier hour of today re-reads from that hour (hour marks), a write into the current hour keeps the
// ended ones, and a store with day marks only re-reads today; rows of the older format are dropped.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { TimeSeriesStore } from '../../collector/store.ts';
import { DayAggregates } from '../../evidence/day-aggregates.ts';
import { buildEvidence, type EvidenceKey, loadEvidenceKey } from '../../evidence/service.ts';
import { DAY, MONTH, MONTH_FROM, MONTH_TO, readings, site, UNIT } from '../helpers/aggregates-month.ts';

describe('day aggregates: the kept month equals the raw one', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'mrv-days-'));
  const store = new SqliteStore({ path: path.join(tmp, 'mrv.sqlite') });
  let aggregates: DayAggregates;
  let key: EvidenceKey;
  const after = MONTH_TO + 3_600_000;

  const HOUR = 3_600_000;
  /** Index of the hour chunk `hour` of day `day` (1-based) of the month (chunk 0 is the lookback). */
  const hourChunk = (day: number, hour: number) => 1 + (day - 1) * 24 + hour;
  const build = async (now: number, kept?: DayAggregates, over: TimeSeriesStore = store) => {
    let stats: { resumed: number; kept: number; chunks: number } | undefined;
    const pkg = await buildEvidence({
      store: over,
      unitId: UNIT,
      month: MONTH,
      now,
      generator: 'carbon-mrv test',
      key,
      sites: [site],
      ...(kept ? { dayAggregates: kept, onStats: (s) => (stats = s) } : {}),
    });
    return { pkg, stats };
  };

  beforeAll(async () => {
    await store.start();
    const all = readings(false);
    for (let i = 0; i < all.length; i += 20_000) await store.writeReadings(all.slice(i, i + 20_000));
    aggregates = new DayAggregates(path.join(tmp, 'days.sqlite'));
    key = loadEvidenceKey(path.join(tmp, 'key.pem'), true);
  }, 120_000);

  afterAll(async () => {
    aggregates?.close();
    await store.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('builds a month cold, then warm, equal to the raw build; a late batch re-reads from its day on', async () => {
    const raw = await build(after);
    // The month has what the test is about: the events the kept state must carry over midnight.
    const anode = raw.pkg.parameters
      .find((p) => p.id === 'aluminium.anode_consumption')
      ?.points.find((p) => p.id === 'anode.set_total');
    expect(anode?.detail.resets).toHaveLength(1);
    expect(anode?.detail.rollovers).toHaveLength(1);
    expect(anode?.detail.corrections).toHaveLength(1);
    expect(raw.pkg.findings.some((f) => f.rule === 'AL-TH-001')).toBe(true);
    expect(raw.pkg.findings.some((f) => f.rule === 'AL-TH-002')).toBe(true);
    const gaps = raw.pkg.completeness.find((c) => c.point === 'anode.set_total')?.gapSummary ?? {};
    expect(Object.keys(gaps)).toContain('gateway_offline');
    expect(Object.keys(gaps).some((k) => k.includes('bad'))).toBe(true);

    const cold = await build(after, aggregates);
    const all = hourChunk(31, 24);
    expect(cold.stats).toEqual({ resumed: 0, kept: all, chunks: all });
    expect(JSON.stringify(cold.pkg)).toBe(JSON.stringify(raw.pkg));

    const warm = await build(after, aggregates);
    expect(warm.stats).toEqual({ resumed: all, kept: 0, chunks: all });
    expect(JSON.stringify(warm.pkg)).toBe(JSON.stringify(raw.pkg));

    // The gap of day 10 arrives late (a backlog after an outage), in the batches it was sent in.
    await store.writeReadings(readings(true));
    const raw2 = await build(after);
    expect(raw2.pkg.rawData?.readings).toBe((raw.pkg.rawData?.readings ?? 0) + 4 * 60 * 6);
    expect(raw2.pkg.rawData?.readingsDigest).not.toBe(raw.pkg.rawData?.readingsDigest);
    const again = await build(after, aggregates);
    // The lookback and days 1–9 are resumed from (the hours of an ended day are links of the chain,
    // not taken up again); day 10 and the later days are read again.
    expect(again.stats).toEqual({ resumed: hourChunk(9, 24), kept: all - hourChunk(9, 24), chunks: all });
    expect(JSON.stringify(again.pkg)).toBe(JSON.stringify(raw2.pkg));
    expect(JSON.stringify((await build(after, aggregates)).pkg)).toBe(JSON.stringify(raw2.pkg));
  }, 600_000);

  it('keeps the ended hours of a month not yet over, never the open hour, and resumes at each', async () => {
    const mid = new DayAggregates(path.join(tmp, 'mid.sqlite'));
    try {
      const day15 = MONTH_FROM + 14 * DAY;
      const first = await build(day15 + 12 * HOUR + 30 * 60_000, mid);
      // The lookback, days 1–14 and 00:00–12:00 of day 15 have ended; 12:00–13:00 has not: not kept.
      expect(first.stats).toEqual({ resumed: 0, kept: hourChunk(15, 12), chunks: hourChunk(31, 24) });
      expect(mid.count(UNIT, MONTH)).toBe(hourChunk(15, 12));
      expect(JSON.stringify(first.pkg)).toBe(
        JSON.stringify((await build(day15 + 12 * HOUR + 30 * 60_000)).pkg),
      );
      // The last second of each later hour of the day: one hour read raw, the package the raw one.
      for (let h = 13; h <= 24; h++) {
        const now = day15 + h * HOUR - 1000;
        const b = await build(now, mid);
        expect(b.stats, `at ${h - 1}:59:59`).toMatchObject({ resumed: hourChunk(15, h - 1), kept: 0 });
        expect(JSON.stringify(b.pkg), `at ${h - 1}:59:59`).toBe(JSON.stringify((await build(now)).pkg));
        const ended = await build(now + 1000, mid);
        expect(ended.stats).toMatchObject({ resumed: hourChunk(15, h - 1), kept: 1 });
      }
      expect(first.pkg.content?.reasons).toContain('month_not_over');
    } finally {
      mid.close();
    }
  }, 600_000);

  it('a late write into an earlier hour of today re-reads from that hour; a live write keeps the ended hours', async () => {
    const live = new DayAggregates(path.join(tmp, 'live.sqlite'));
    try {
      const day16 = MONTH_FROM + 15 * DAY;
      const now = day16 + 9 * HOUR + 59 * 60_000;
      expect((await build(now, live)).stats).toMatchObject({ resumed: 0, kept: hourChunk(16, 9) });
      // A reading of 09:58 (the current hour) written again, as a live write lands: the ended hours stay kept.
      const all = readings(false).filter((r) => r.point === 'potline.current');
      const at = (ts: number) => all.find((r) => r.ts === ts) as (typeof all)[number];
      await store.writeReadings([{ ...at(day16 + 9 * HOUR + 58 * 60_000), value: '401.5' }]);
      const b1 = await build(now, live);
      expect(b1.stats).toMatchObject({ resumed: hourChunk(16, 9), kept: 0 });
      expect(JSON.stringify(b1.pkg)).toBe(JSON.stringify((await build(now)).pkg));
      // A reading of 04:30 today corrected late: hours 04:00 on are read again, 00:00–04:00 are not.
      await store.writeReadings([
        { ...at(day16 + 4 * HOUR + 30 * 60_000), value: '402.25', quality: 'uncertain' },
      ]);
      const b2 = await build(now, live);
      expect(b2.stats).toMatchObject({ resumed: hourChunk(16, 4), kept: 5 });
      expect(JSON.stringify(b2.pkg)).toBe(JSON.stringify((await build(now)).pkg));
      expect(b2.pkg.rawData?.readingsDigest).not.toBe(b1.pkg.rawData?.readingsDigest);
      // A store with day marks only (no readingHourMarks): a write of today re-reads today from 00:00.
      const dayMarksOnly = new Proxy(store, {
        get: (target, name) => {
          if (name === 'readingHourMarks') return undefined;
          const v = Reflect.get(target, name);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      }) as TimeSeriesStore;
      const daily = new DayAggregates(path.join(tmp, 'daily.sqlite'));
      try {
        expect((await build(now, daily, dayMarksOnly)).stats).toMatchObject({
          resumed: 0,
          kept: hourChunk(16, 9),
        });
        expect((await build(now, daily, dayMarksOnly)).stats).toMatchObject({ resumed: hourChunk(16, 9) });
        await store.writeReadings([{ ...at(day16 + 9 * HOUR + 58 * 60_000), value: '401.75' }]);
        const d = await build(now, daily, dayMarksOnly);
        expect(d.stats).toMatchObject({ resumed: hourChunk(15, 24), kept: 9 });
        expect(JSON.stringify(d.pkg)).toBe(JSON.stringify((await build(now)).pkg));
      } finally {
        daily.close();
      }
    } finally {
      live.close();
    }
  }, 600_000);

  it('drops the rows of the older format (day chunks) when it opens the file', async () => {
    const file = path.join(tmp, 'old.sqlite');
    const old = new Database(file);
    old.exec(`CREATE TABLE day_aggregate (unit TEXT NOT NULL, month TEXT NOT NULL, key TEXT NOT NULL,
      chunk INTEGER NOT NULL, chunk_from INTEGER NOT NULL, chunk_to INTEGER NOT NULL, marks TEXT NOT NULL,
      checkpoint BLOB NOT NULL, part BLOB NOT NULL, made_at INTEGER NOT NULL, PRIMARY KEY (unit, month, key, chunk))`);
    old
      .prepare("INSERT INTO day_aggregate VALUES (?, ?, ?, 0, 0, 1, ?, x'00', x'00', 0)")
      .run(UNIT, MONTH, 'k', 'm');
    old.close();
    const reopened = new DayAggregates(file);
    try {
      const tables = new Database(file, { readonly: true });
      expect(
        tables.prepare("SELECT name FROM sqlite_master WHERE name = 'day_aggregate'").all(),
      ).toHaveLength(0);
      tables.close();
      expect(reopened.count(UNIT, MONTH)).toBe(0);
      expect((await build(MONTH_FROM + DAY, reopened)).stats).toMatchObject({
        resumed: 0,
        kept: hourChunk(1, 24),
      });
    } finally {
      reopened.close();
    }
  }, 600_000);
});
