// Evidence checkpoints (core/domain/evidence.ts `EvidenceCheckpoint`, the state kept by the day
// aggregates): resuming a month's computation after ANY chunk from the checkpoint taken there (through
// JSON, as it is kept) and reading only the later chunks gives the same body as reading every chunk —
// also when it is resumed later (another generatedAt) — on a month whose accumulators carry state over
// midnight: a correction's high-water mark, an open range run and a rate-of-change window, an outage,
// a bad-quality run, weighing tickets.
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

/** A source over the month's readings that records the earliest instant read. */
function source(): ReadingSource & { earliest: number } {
  const src = {
    earliest: Number.POSITIVE_INFINITY,
    async read(pointId: string, from: number, to: number) {
      src.earliest = Math.min(src.earliest, from);
      return (byPoint.get(pointId) ?? []).filter((s) => s.ts >= from && s.ts < to);
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
});
