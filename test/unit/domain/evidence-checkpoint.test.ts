// Evidence checkpoints (core/domain/evidence.ts `EvidenceCheckpoint`, the state kept by the day
// aggregates): resuming a month's computation after ANY chunk from the checkpoint taken there (through
// JSON, as it is kept) and reading only the later chunks gives the same body as reading every chunk —
// also when it is resumed later (another generatedAt) — on a month whose accumulators carry state over
// midnight: a correction's high-water mark, an open range run and a rate-of-change window, an outage,
// a bad-quality run, weighing tickets. Read in hour chunks (`hourChunks`, what the day aggregates keep),
// the body is the one day chunks give, and resuming after an hour inside a day gives it too.
import { describe, expect, it } from 'vitest';
import {
  type BatchSample,
  computeEvidence,
  type EvidenceCheckpoint,
  type EvidenceInput,
  evidenceChunks,
  type ReadingSource,
} from '../../../core/domain/index.ts';
import { catalogueFromSites, loadFactorPack, loadRulePack } from '../../../evidence/service.ts';
import { MONTH, MONTH_TO, readings, site, UNIT } from '../../helpers/aggregates-month.ts';

const byPoint = new Map<string, BatchSample[]>();
for (const r of readings(false)) {
  const list = byPoint.get(r.point) ?? [];
  const s: BatchSample = { ts: r.ts, value: r.value, quality: r.quality, gatewayId: r.gatewayId, seq: r.seq };
  if (r.reason !== undefined) s.reason = r.reason;
  list.push(s);
  byPoint.set(r.point, list);
}
for (const list of byPoint.values()) list.sort((a, b) => a.ts - b.ts);

/** A source over the month's readings that records the earliest instant read. */
function source(): ReadingSource & { earliest: number } {
  const src = {
    earliest: Number.POSITIVE_INFINITY,
    async read(pointId: string, from: number, to: number) {
      src.earliest = Math.min(src.earliest, from);
      const list = byPoint.get(pointId) ?? [];
      // The readings are in ts order: the first at or after `t` by bisection.
      const at = (t: number) => {
        let lo = 0;
        let hi = list.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if ((list[mid] as BatchSample).ts < t) lo = mid + 1;
          else hi = mid;
        }
        return lo;
      };
      return list.slice(at(from), at(to));
    },
  };
  return src;
}

const catalogue = catalogueFromSites(UNIT, [site]);
if (!catalogue) throw new Error('no catalogue');
const base = (generatedAt: number): Omit<EvidenceInput, 'source'> => ({
  catalogue,
  month: MONTH,
  factorPack: loadFactorPack(),
  rulePack: loadRulePack('aluminium'),
  generatedAt,
  generator: 'carbon-mrv test',
});

describe('evidence checkpoints', () => {
  it('resuming after any chunk gives the body of the whole computation', async () => {
    const t1 = MONTH_TO + 3_600_000;
    const checkpoints: EvidenceCheckpoint[] = [];
    const whole = await computeEvidence({
      ...base(t1),
      source: source(),
      onChunk: (chunk, checkpoint) => {
        expect(chunk.index).toBe(checkpoints.length);
        checkpoints.push(JSON.parse(JSON.stringify(checkpoint())));
      },
    });
    const chunks = evidenceChunks({ month: MONTH });
    expect(checkpoints).toHaveLength(chunks.length);
    // The month holds what the state has to carry over midnight.
    const anode = whole.parameters.flatMap((p) => p.points).find((p) => p.id === 'anode.set_total')
      ?.detail as Record<string, unknown[]>;
    expect(anode.corrections).toHaveLength(1);
    expect(anode.resets).toHaveLength(1);
    expect(anode.rollovers).toHaveLength(1);
    expect(whole.findings.filter((f) => f.rule === 'AL-TH-001').length).toBeGreaterThan(0);
    expect(whole.findings.filter((f) => f.rule === 'AL-TH-002').length).toBeGreaterThan(0);

    // Resumed an hour later: every figure equal to a whole computation made then.
    const t2 = t1 + 3_600_000;
    const wholeLater = JSON.stringify(await computeEvidence({ ...base(t2), source: source() }));
    expect(wholeLater).not.toBe(JSON.stringify(whole));
    for (const cp of checkpoints) {
      const src = source();
      const resumed = await computeEvidence({ ...base(t2), source: src, resume: cp });
      const next = chunks[cp.chunk + 1];
      // Nothing before the next chunk was read again.
      expect(src.earliest).toBe(next ? next.from : Number.POSITIVE_INFINITY);
      const text = JSON.stringify(resumed);
      // On a difference, the object comparison shows where (the string one says only that).
      if (text !== wholeLater)
        expect(JSON.parse(text), `resumed after chunk ${cp.chunk}`).toEqual(JSON.parse(wholeLater));
      expect(text, `resumed after chunk ${cp.chunk}`).toBe(wholeLater);
    }
  }, 300_000);

  it('hour chunks give the body of day chunks, and resuming after an hour inside a day gives it too', async () => {
    const at = MONTH_TO - 10 * 3_600_000;
    const byDay = JSON.stringify(await computeEvidence({ ...base(at), source: source() }));
    const checkpoints = new Map<number, EvidenceCheckpoint>();
    const hours = evidenceChunks({ month: MONTH, hourChunks: true });
    expect(hours).toHaveLength(1 + 31 * 24);
    expect(hours.filter((c) => c.closes)).toHaveLength(32);
    // Hours where state crosses an hour or midnight: the counter reset (day 5, 08:00), the range run
    // (day 7 23:50 → day 8 00:20), the late gap (day 10), the correction (day 12 23:59 → day 13), the
    // bad run (day 16), the outage (day 20 22:00 → day 21 03:00), weighing tickets every three hours.
    const at0 = (day: number, hour: number) => 1 + (day - 1) * 24 + hour;
    const picks = new Set([
      at0(5, 7),
      at0(5, 8),
      at0(7, 23),
      at0(8, 0),
      at0(10, 3),
      at0(12, 22),
      at0(12, 23),
      at0(13, 0),
      at0(16, 11),
      at0(20, 22),
      at0(21, 1),
      at0(31, 5),
    ]);
    // And every hour of the two nights the range run and the correction cross.
    for (const day of [7, 8, 12, 13]) for (let h = 0; h < 24; h++) picks.add(at0(day, h));
    const whole = JSON.stringify(
      await computeEvidence({
        ...base(at),
        source: source(),
        hourChunks: true,
        onChunk: (chunk, checkpoint) => {
          expect(chunk).toEqual(hours[chunk.index]);
          if (picks.has(chunk.index)) checkpoints.set(chunk.index, JSON.parse(JSON.stringify(checkpoint())));
        },
      }),
    );
    if (whole !== byDay) expect(JSON.parse(whole)).toEqual(JSON.parse(byDay));
    expect(whole).toBe(byDay);
    expect(checkpoints.size).toBe(picks.size);
    for (const [index, cp] of checkpoints) {
      const src = source();
      const resumed = JSON.stringify(
        await computeEvidence({ ...base(at), source: src, resume: cp, hourChunks: true }),
      );
      const next = hours[index + 1] as (typeof hours)[number];
      // Only the points read whole (tickets and weighings) go back to the start of their day.
      expect(src.earliest).toBe(Math.min(next.from, next.segment.from));
      if (resumed !== byDay)
        expect(JSON.parse(resumed), `resumed after hour chunk ${index}`).toEqual(JSON.parse(byDay));
      expect(resumed, `resumed after hour chunk ${index}`).toBe(byDay);
    }
  }, 300_000);
});
