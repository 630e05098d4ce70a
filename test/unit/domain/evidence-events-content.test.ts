/**
 * The content status of a package with an `events` point (a heat's or ladle's net weight, one reading
 * per weighing, stamped with its weighing time): such a point is judged by its ticket numbers, not by
 * a poll interval. Measured in the demo at --speed 2880: the steel plant's heats come every 34–45
 * plant minutes while the OPC UA device is polled every 12, so `bof1.ladle_net` had 33 "no_data" gaps
 * a day and the steel package could never be `complete` however well the gateway read.
 */
import { describe, expect, it } from 'vitest';
import type { Sample } from '../../../core/domain/aggregate.ts';
import { computeEvidence, type UnitCatalogue } from '../../../core/domain/evidence.ts';
import { cst, defaultFactors, good, memorySource, rulePack } from './helpers.ts';

const MIN12 = 720_000;
const point = (id: string, extra: Record<string, unknown>) => ({
  id,
  device: 'dev',
  unit: 't',
  gatewayId: 'gw1',
  expectedIntervalMs: MIN12,
  ...extra,
});
const catalogue: UnitCatalogue = {
  unit: { id: 'U-ST', name: '测试钢厂', industry: 'steel', province: '河北' },
  points: [
    point('bof1.ladle_net', {
      parameter: 'steel.crude_steel_output',
      aggregation: 'events',
      ticketPoint: 'bof1.heat_no',
    }),
    point('bof1.heat_no', { unit: 'id' }),
  ],
  meters: [],
};
const from = cst(2026, 11, 1);
const to = cst(2026, 12, 1);
/** A heat every 40 minutes over the month, numbered 1, 2, …; `skip` numbers are never seen. */
function heats(skip: ReadonlySet<number>): Record<string, Sample[]> {
  const net: Sample[] = [];
  const no: Sample[] = [];
  for (let ts = from + 60_000, n = 1; ts < to; ts += 2_400_000, n++) {
    if (skip.has(n)) continue;
    net.push(good(ts, '150.0'));
    no.push(good(ts, String(n)));
  }
  return { 'bof1.ladle_net': net, 'bof1.heat_no': no };
}
const pkg = (data: Record<string, Sample[]>) =>
  computeEvidence({
    catalogue,
    month: '2026-11',
    source: memorySource(data),
    factorPack: defaultFactors(),
    rulePack: rulePack('steel'),
    generatedAt: cst(2026, 12, 2),
    generator: 'test',
  });

describe('content status with an events point', () => {
  it('is complete when every ticket number arrived, however long the silence between two heats', async () => {
    const p = await pkg(heats(new Set()));
    // the interval view still shows the silences between heats (40 min > 3 × 12 min) …
    expect(
      p.completeness.find((c) => c.point === 'bof1.ladle_net')?.gapSummary.no_data?.count,
    ).toBeGreaterThan(1000);
    // … but they are not gaps of an events point
    expect(p.findings.filter((f) => f.code === 'MRV_F_TICKETS_MISSING')).toEqual([]);
    expect(p.content).toMatchObject({ status: 'complete', reasons: [] });
  });

  it('is incomplete when a ticket number never arrived', async () => {
    const p = await pkg(heats(new Set([500])));
    expect(p.findings.filter((f) => f.code === 'MRV_F_TICKETS_MISSING').map((f) => f.point)).toEqual([
      'bof1.ladle_net',
    ]);
    expect(p.content).toMatchObject({ status: 'incomplete', reasons: ['gaps'] });
  });
});
