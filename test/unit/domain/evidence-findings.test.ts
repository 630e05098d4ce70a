// Evidence and the finding lifecycle (core/domain/evidence.ts, render.ts): stored findings are cited
// when open (a finding stored before the lifecycle, without `state`, is open), resolved ones are listed
// apart with when and by which batches, and a month without resolved findings makes the package it made
// before (no `resolvedFindings` key), so older packages recompute unchanged.
import { describe, expect, it } from 'vitest';
import { computeEvidence, type UnitCatalogue } from '../../../core/domain/evidence.ts';
import { evidenceCsv, evidenceHtml } from '../../../core/domain/render.ts';
import type { Finding } from '../../../core/schema/finding.ts';
import { cst, DAY, defaultFactors, good, memorySource, rulePack } from './helpers.ts';

const catalogue: UnitCatalogue = {
  unit: { id: 'U-CE', name: '测试水泥厂', industry: 'cement', province: '安徽' },
  points: [
    {
      id: 'clinker.total',
      device: 'belt',
      unit: 't',
      parameter: 'cement.clinker_output',
      aggregation: 'totalizer',
      gatewayId: 'gw1',
      expectedIntervalMs: DAY,
    },
  ],
  meters: [],
};
const gap = (id: string, extra: Partial<Finding> = {}): Finding => ({
  id,
  unitId: 'U-CE',
  gatewayId: 'gw1',
  source: 'integrity',
  code: 'MRV_F_SEQ_GAP',
  class: 'delivery',
  severity: 'error',
  message: { zh: `批次缺失 ${id}`, en: `batches missing ${id}` },
  detail: { from: 3, to: 5, missing: 3 },
  ts: new Date(cst(2026, 3, 10)).toISOString(),
  at: new Date(cst(2026, 3, 10, 1)).toISOString(),
  ...extra,
});
const old = gap('gap-old');
const open = gap('gap-open', { state: 'open', detail: { from: 7, to: 9, remaining: [[9, 9]] } });
const resolved = gap('gap-resolved', {
  state: 'resolved',
  resolvedAt: new Date(cst(2026, 3, 10, 2)).toISOString(),
  resolution: {
    by: 'late-batches',
    seqs: [[3, 5]],
    message: { zh: '批次 3–5 已迟到补齐', en: 'batches 3..5 arrived late' },
    detail: {},
  },
});

const evidence = (storedFindings: Finding[]) =>
  computeEvidence({
    catalogue,
    month: '2026-03',
    source: memorySource({
      'clinker.total': Array.from({ length: 32 }, (_, d) =>
        good(cst(2026, 3, 1, 12) + (d - 1) * DAY, `${d}`),
      ),
    }),
    factorPack: defaultFactors(),
    rulePack: rulePack('cement'),
    generatedAt: cst(2026, 4, 2),
    generator: 'test',
    storedFindings,
  });

describe('evidence cites open findings and lists resolved ones', () => {
  it('splits the stored findings by state, old ones (no state) open', async () => {
    const pkg = await evidence([old, resolved, open]);
    expect(pkg.storedFindings.map((f) => f.id)).toEqual(['gap-old', 'gap-open']);
    expect(pkg.resolvedFindings).toEqual([resolved]);

    const html = evidenceHtml(pkg);
    const [cited, listed] = html.split('已解决的问题 Resolved findings');
    expect(cited).toContain('批次缺失 gap-open');
    expect(cited).not.toContain('gap-resolved');
    expect(listed).toContain('<td>3–5</td>');
    expect(listed).toContain('批次 3–5 已迟到补齐');
    expect(listed).toContain(resolved.resolvedAt);
    const csv = evidenceCsv(pkg).split('\r\n');
    expect(csv.filter((l) => l.startsWith('finding,')).map((l) => l.includes('gap-open'))).toContain(true);
    expect(csv.filter((l) => l.startsWith('resolved_finding,'))).toHaveLength(1);
    expect(csv.find((l) => l.startsWith('resolved_finding,'))).toContain('3–5');
  });

  it('makes the package of before when nothing is resolved (no resolvedFindings key, no section)', async () => {
    const pkg = await evidence([old]);
    expect('resolvedFindings' in pkg).toBe(false);
    expect(pkg.storedFindings).toEqual([old]);
    expect(evidenceHtml(pkg)).not.toContain('Resolved findings');
  });
});
