// Issue 18 items 2 and 5 (core/domain/evidence.ts, completeness.ts, render.ts, evidence/service.ts):
// completeness by the point's own interval and by elapsed time only, causes that say what happened,
// a content status separate from the signature, named defaults and missing parameters, the findings
// of every watched point, and formatVersion 1 packages recomputed with their own rules.
import { describe, expect, it } from 'vitest';
import { computeEvidence, type UnitCatalogue } from '../../../core/domain/evidence.ts';
import { evidenceCsv, evidenceHtml } from '../../../core/domain/render.ts';
import type { SiteConfig } from '../../../core/schema/site.ts';
import { catalogueFromSites } from '../../../evidence/service.ts';
import { loadSiteConfig } from '../../../gateway/config.ts';
import { cst, DAY, defaultFactors, good, memorySource, rulePack } from './helpers.ts';

const MIN5 = 300_000;
const march = { from: cst(2026, 3, 1), to: cst(2026, 4, 1) };

/** A cement site whose clinker totalizer is polled every 300 s on a device polled every second. */
const site = {
  version: 1,
  unit: { id: 'U-CE', name: '测试水泥厂', industry: 'cement', province: '安徽' },
  gateway: { id: 'gw1', mqtt: { url: 'mqtt://127.0.0.1:1883' } },
  meters: [],
  devices: [
    {
      id: 'belt',
      driver: 'modbus-tcp',
      pollIntervalMs: 1000,
      points: [
        {
          id: 'clinker.total',
          unit: 't',
          parameter: 'cement.clinker_output',
          aggregation: 'totalizer',
          table: 'holding',
          address: 0,
          type: 'uint32',
          pollIntervalMs: MIN5,
        },
      ],
    },
  ],
} as unknown as SiteConfig;

/** A reading every `every` ms from `from` up to (not including) `until`, the counter rising by 1 each. */
function counter(from: number, until: number, every: number) {
  const out = [];
  for (let ts = from, v = 0; ts < until; ts += every, v++) out.push(good(ts, `${v}`));
  return out;
}

const evidence = (
  catalogue: UnitCatalogue,
  data: Parameters<typeof memorySource>[0],
  generatedAt: number,
  formatVersion?: 1 | 2,
  industry: 'cement' | 'aluminium' = 'cement',
) =>
  computeEvidence({
    catalogue,
    month: '2026-03',
    source: memorySource(data),
    factorPack: defaultFactors(),
    rulePack: rulePack(industry),
    generatedAt,
    generator: 'test',
    ...(formatVersion ? { formatVersion } : {}),
  });

describe('completeness by declared interval', () => {
  it("takes a point's own pollIntervalMs: a 300 s point read every 300 s is complete", async () => {
    const catalogue = catalogueFromSites('U-CE', [site]) as UnitCatalogue;
    // Before the fix the catalogue said 1000 ms (the device's): 1/300 of the expected readings.
    expect(catalogue.points[0]?.expectedIntervalMs).toBe(MIN5);
    const pkg = await evidence(
      catalogue,
      { 'clinker.total': counter(march.from, march.to, MIN5) },
      cst(2026, 4, 2),
    );
    const c = pkg.completeness[0];
    expect(c).toMatchObject({
      expected: (31 * DAY) / MIN5,
      received: (31 * DAY) / MIN5,
      coveredShare: '1.0000',
    });
    expect(c?.gaps).toEqual([]);
    expect(pkg.content?.status).toBe('complete');
  });

  it('expects the shipped cement example’s 5 s totals every 5 s, its rates every second', () => {
    const loaded = loadSiteConfig(
      new URL('../../../examples/cement-plant.site.yaml', import.meta.url).pathname,
    );
    const cat = catalogueFromSites(loaded.site.unit.id, [loaded.site]) as UnitCatalogue;
    const iv = (id: string) => cat.points.find((p) => p.id === id)?.expectedIntervalMs;
    expect(iv('clinker.total')).toBe(5000);
    expect(iv('clinker.running')).toBe(5000);
    const device = cat.points.filter(
      (p) => p.device === cat.points.find((q) => q.id === 'clinker.total')?.device,
    );
    expect(device.some((p) => p.expectedIntervalMs === 1000)).toBe(true);
  });
});

describe('completeness by elapsed time', () => {
  it('judges the current month up to now: complete so far, not gateway_offline in red', async () => {
    const catalogue = catalogueFromSites('U-CE', [site]) as UnitCatalogue;
    const now = cst(2026, 3, 10, 12);
    const pkg = await evidence(catalogue, { 'clinker.total': counter(march.from, now, MIN5) }, now);
    const c = pkg.completeness[0];
    // Before the fix: expected the whole month, the 21.5 days to come a no_data gap, share 0.3065.
    expect(c?.coveredShare).toBe('1.0000');
    expect(c?.expected).toBe((9.5 * DAY) / MIN5);
    expect(Object.keys(c?.gapSummary ?? {})).toEqual(['not_elapsed']);
    expect(c?.gaps).toEqual([
      { start: '2026-03-10T12:00:00.000+08:00', end: '2026-04-01T00:00:00.000+08:00', cause: 'not_elapsed' },
    ]);
    expect(pkg.content).toMatchObject({
      status: 'incomplete',
      reasons: ['month_not_over'],
      judgedTo: '2026-03-10T12:00:00.000+08:00',
      coveredShare: '1.0000',
    });
  });
});

describe('the package states what it knows', () => {
  it('an empty month says no_data first, names every missing parameter and claims no default it did not use', async () => {
    const catalogue = catalogueFromSites('U-CE', [site]) as UnitCatalogue;
    const pkg = await evidence(catalogue, {}, cst(2026, 4, 2));
    expect(pkg.formatVersion).toBe(2);
    expect(pkg.content).toMatchObject({ status: 'no_data', received: 0, coveredShare: '0.0000' });
    expect(pkg.content?.reasons).toContain('no_readings');
    const clinker = pkg.parameters.find((p) => p.id === 'cement.clinker_output');
    // Before: "default" although no default stands in for clinker (no process CO2 is computed).
    expect(clinker).toMatchObject({ value: null, method: 'not_measured' });
    const notice = pkg.notices?.find((n) => n.parameter === 'cement.clinker_output');
    expect(notice).toMatchObject({ issue: 'no_data', method: 'not_measured', emissions: [] });
    expect(notice?.consequence.en).toContain('clinker.total');
    // A parameter an emission needs and no point feeds is named too.
    const fed = new Set(catalogue.points.map((p) => p.parameter));
    const unsupplied = pkg.notices?.filter((n) => n.issue === 'not_supplied') ?? [];
    expect(unsupplied.length).toBeGreaterThan(0);
    for (const n of unsupplied) expect(fed.has(n.parameter)).toBe(false);

    const csv = evidenceCsv(pkg).split('\r\n');
    expect(csv[1]).toBe('content,U-CE,status,no_data,');
    expect(csv.some((l) => l.startsWith('notice,cement.clinker_output,no_data,'))).toBe(true);
    const html = evidenceHtml(pkg);
    expect(html.indexOf('data-content-status="no_data"')).toBeGreaterThan(0);
    expect(html.indexOf('data-content-status')).toBeLessThan(html.indexOf('关键参数 Key parameters'));
  });

  it('names a value computed from readings with gaps as partial, with what the gap does to it', async () => {
    const catalogue = catalogueFromSites('U-CE', [site]) as UnitCatalogue;
    const readings = counter(march.from, march.to, MIN5).filter(
      (s) => s.ts < cst(2026, 3, 5) || s.ts >= cst(2026, 3, 6),
    );
    const pkg = await evidence(catalogue, { 'clinker.total': readings }, cst(2026, 4, 2));
    expect(pkg.content?.status).toBe('incomplete');
    expect(pkg.content?.reasons).toContain('gaps');
    const n = pkg.notices?.find((x) => x.parameter === 'cement.clinker_output');
    expect(n).toMatchObject({ issue: 'partial_data', method: 'measured' });
    expect(n?.consequence.en).toContain('counter difference spans the gaps');
  });

  it('cites the findings of every point a rule watches, as the findings list does', async () => {
    const catalogue: UnitCatalogue = {
      unit: { id: 'U-AL', name: '测试铝厂', industry: 'aluminium', province: '山东' },
      points: [
        {
          id: 'potline.cell01.voltage',
          device: 'pot',
          unit: 'V',
          gatewayId: 'gw1',
          expectedIntervalMs: 1000,
        },
      ],
      meters: [],
    };
    const data = {
      'potline.cell01.voltage': [good(cst(2026, 3, 3), '4.1'), good(cst(2026, 3, 3) + 1000, '75')],
    };
    const v2 = await evidence(catalogue, data, cst(2026, 4, 2), undefined, 'aluminium');
    // Before: the package read only parameter points, so its "Findings: 0" hid this one.
    expect(v2.findings.map((f) => f.point)).toContain('potline.cell01.voltage');
    const v1 = await evidence(catalogue, data, cst(2026, 4, 2), 1, 'aluminium');
    expect(v1.findings).toEqual([]);
  });

  it('recomputes a formatVersion 1 package with the rules of version 1', async () => {
    const catalogue = catalogueFromSites('U-CE', [site]) as UnitCatalogue;
    const now = cst(2026, 3, 10, 12);
    const pkg = await evidence(catalogue, { 'clinker.total': counter(march.from, now, MIN5) }, now, 1);
    expect(pkg.formatVersion).toBe(1);
    expect('content' in pkg).toBe(false);
    expect('notices' in pkg).toBe(false);
    expect(pkg.completeness[0]?.gaps.map((g) => g.cause)).toEqual(['no_data']);
    expect(pkg.parameters.find((p) => p.id === 'cement.clinker_output')?.method).toBe('measured');
    expect(pkg.parameters.filter((p) => p.value === null).every((p) => p.method === 'default')).toBe(true);
  });
});
