// Day aggregates (evidence/day-aggregates.ts, docs/architecture.md §7): a month built from kept day
// aggregates is the package built from the raw readings, byte for byte (figures, findings, readings
// digest, cited batches, signature), on a real SqliteStore with a month of the usual events — a
// counter reset, a roll-over, a correction step just before midnight (the totalizer's high-water mark
// crosses the day), an outage across midnight, a bad-quality run, a range violation and a
// rate-of-change run across midnight, weighing tickets — and a late batch that fills a gap: the day it
// lands on and every later day are read again, the days before are not, and the package equals the
// raw one again. A month not yet over keeps only its ended days.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import { DayAggregates } from '../../evidence/day-aggregates.ts';
import { buildEvidence, type EvidenceKey, loadEvidenceKey } from '../../evidence/service.ts';
import { DAY, MONTH, MONTH_FROM, MONTH_TO, readings, site, UNIT } from '../helpers/aggregates-month.ts';

describe('day aggregates: the kept month equals the raw one', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'mrv-days-'));
  const store = new SqliteStore({ path: path.join(tmp, 'mrv.sqlite') });
  let aggregates: DayAggregates;
  let key: EvidenceKey;
  const after = MONTH_TO + 3_600_000;

  const build = async (now: number, kept?: DayAggregates) => {
    let stats: { resumed: number; kept: number; chunks: number } | undefined;
    const pkg = await buildEvidence({
      store,
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
    expect(cold.stats).toEqual({ resumed: 0, kept: 32, chunks: 32 });
    expect(JSON.stringify(cold.pkg)).toBe(JSON.stringify(raw.pkg));

    const warm = await build(after, aggregates);
    expect(warm.stats).toEqual({ resumed: 32, kept: 0, chunks: 32 });
    expect(JSON.stringify(warm.pkg)).toBe(JSON.stringify(raw.pkg));

    // The gap of day 10 arrives late (a backlog after an outage), in the batches it was sent in.
    await store.writeReadings(readings(true));
    const raw2 = await build(after);
    expect(raw2.pkg.rawData?.readings).toBe((raw.pkg.rawData?.readings ?? 0) + 4 * 60 * 6);
    expect(raw2.pkg.rawData?.readingsDigest).not.toBe(raw.pkg.rawData?.readingsDigest);
    const again = await build(after, aggregates);
    // The lookback and days 1–9 are resumed from; day 10 and the later days are read again.
    expect(again.stats).toEqual({ resumed: 10, kept: 22, chunks: 32 });
    expect(JSON.stringify(again.pkg)).toBe(JSON.stringify(raw2.pkg));
    expect(JSON.stringify((await build(after, aggregates)).pkg)).toBe(JSON.stringify(raw2.pkg));
  }, 600_000);

  it('keeps only the ended days of a month not yet over, and resumes from them later that day', async () => {
    const mid = new DayAggregates(path.join(tmp, 'mid.sqlite'));
    try {
      const noon = MONTH_FROM + 14 * DAY + 12 * 3_600_000;
      const first = await build(noon, mid);
      // The lookback and days 1–14 have ended; day 15 (today) is read, never kept.
      expect(first.stats).toEqual({ resumed: 0, kept: 15, chunks: 32 });
      expect(JSON.stringify(first.pkg)).toBe(JSON.stringify((await build(noon)).pkg));
      const evening = noon + 9 * 3_600_000;
      const later = await build(evening, mid);
      expect(later.stats).toEqual({ resumed: 15, kept: 0, chunks: 32 });
      expect(JSON.stringify(later.pkg)).toBe(JSON.stringify((await build(evening)).pkg));
      expect(later.pkg.content?.reasons).toContain('month_not_over');
    } finally {
      mid.close();
    }
  }, 600_000);
});
