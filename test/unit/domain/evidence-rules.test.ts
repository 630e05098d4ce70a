/**
 * Rules and counters through computeEvidence (issue 18 items 3 and 4): the per-reading rules run on
 * every point they name, also points that feed no parameter; the site's rule settings travel in the
 * catalogue; a totalizer's discontinuities are classified by the meter's declared physics and each is
 * a finding with its values.
 */
import { describe, expect, it } from 'vitest';
import { computeEvidence, type UnitCatalogue } from '../../../core/domain/evidence.ts';
import { cst, defaultFactors, good, memorySource, rulePack } from './helpers.ts';

const from = cst(2026, 3, 1);
const min = 60_000;
const point = (id: string, extra: Record<string, unknown>) => ({
  id,
  device: 'dev',
  unit: 't',
  gatewayId: 'gw1',
  expectedIntervalMs: min,
  ...extra,
});

function catalogue(extra: Partial<UnitCatalogue> = {}): UnitCatalogue {
  return {
    unit: { id: 'U-AL', name: '测试铝厂', industry: 'aluminium', province: '内蒙古' },
    points: [
      point('potline.cell01.voltage', { unit: 'V', aggregation: 'gauge' }),
      point('anode.set_total', {
        parameter: 'aluminium.anode_consumption',
        aggregation: 'totalizer',
        rolloverAt: '4294967.296',
        maxRate: '400',
        correctionTolerance: '0.5',
      }),
    ],
    meters: [],
    ...extra,
  };
}

async function evidence(c: UnitCatalogue, data: Record<string, ReturnType<typeof good>[]>) {
  return computeEvidence({
    catalogue: c,
    month: '2026-03',
    source: memorySource(data),
    factorPack: defaultFactors(),
    rulePack: rulePack('aluminium'),
    generatedAt: cst(2026, 4, 2),
    generator: 'test',
  });
}

const voltage = [good(from, '4.2'), good(from + min, '65.535'), good(from + 2 * min, '4.2')];

describe('rules in mrv evidence', () => {
  it('runs a per-reading rule on a point that feeds no parameter (a 65.535 V cell voltage)', async () => {
    const body = await evidence(catalogue(), { 'potline.cell01.voltage': voltage });
    expect(body.findings.map((f) => [f.rule, f.point, f.detail.worst])).toEqual([
      ['AL-TE-002', 'potline.cell01.voltage', '65.535'],
    ]);
  });

  it("applies the site's settings from the catalogue (recorded in the package for mrv verify)", async () => {
    const c = catalogue({ rules: { 'AL-TE-002': { max: '70' } } });
    const body = await evidence(c, { 'potline.cell01.voltage': voltage });
    expect(body.findings).toEqual([]);
    expect(body.inputs.catalogue.rules).toEqual({ 'AL-TE-002': { max: '70' } });
  });

  it('counts a reset from the upper half of the modulus as a reset and a zero correction as 0, each a finding', async () => {
    const body = await evidence(catalogue(), {
      'anode.set_total': [
        good(from - min, '4279997'),
        good(from + min, '4280003'), // +6
        good(from + 2 * min, '0.5'), // reset: +0.5
        good(from + 3 * min, '100.5'), // +100 in a minute? over 400 t/h × 2 min = 13.3 t: review, not counted
        good(from + 4 * min, '100.2'), // correction: 0
        good(from + 5 * min, '100.9'), // +0.4 above 100.5
      ],
    });
    const anode = body.parameters.find((p) => p.id === 'aluminium.anode_consumption');
    expect(anode?.value).toBe('6.9');
    expect(
      body.findings.map((f) => [f.rule, f.code, f.detail.before, f.detail.after, f.detail.bridged]),
    ).toEqual([
      ['AL-LC-001', 'MRV_F_COUNTER_RESET', '4280003', '0.5', '0.5'],
      ['AL-LC-001', 'MRV_F_COUNTER_REVIEW', '0.5', '100.5', '0'],
      ['AL-LC-001', 'MRV_F_COUNTER_CORRECTION', '100.5', '100.2', '0'],
    ]);
  });
});

describe('rule settings for rules the pack does not have', () => {
  it('are a configuration error (MRV_E_CONFIG) naming each, not silently ignored', async () => {
    const { checkRuleOverrides } = await import('../../../evidence/service.ts');
    const c = catalogue({ rules: { 'AL-TE-092': { max: '70' } } });
    expect(() => checkRuleOverrides(c, rulePack('aluminium'))).toThrow(
      expect.objectContaining({
        code: 'MRV_E_CONFIG',
        message: expect.stringMatching(/rules\.AL-TE-092: no rule/),
      }),
    );
    expect(() =>
      checkRuleOverrides(catalogue({ rules: { 'AL-TE-002': { max: '70' } } }), rulePack('aluminium')),
    ).not.toThrow();
  });
});

describe('packages of formatVersion 1 recompute with the rules they were made with', () => {
  it('the half-modulus counter rule, no counter findings but resets, no rate edges', async () => {
    const data = {
      'anode.set_total': [
        good(from - min, '4279997'),
        good(from + min, '4280003'),
        good(from + 2 * min, '0.5'),
      ],
      'potline.cell01.voltage': voltage,
    };
    const run = (formatVersion: 1 | 2) =>
      computeEvidence({
        catalogue: catalogue(),
        month: '2026-03',
        source: memorySource(data),
        factorPack: defaultFactors(),
        rulePack: rulePack('aluminium'),
        generatedAt: cst(2026, 4, 2),
        generator: 'test',
        formatVersion,
      });
    const v1 = await run(1);
    // Version 1 took the drop as a roll-over (14 964.796 t) and read no cell voltage.
    expect(v1.parameters.find((p) => p.id === 'aluminium.anode_consumption')?.value).toBe('14970.796');
    expect(v1.findings).toEqual([]);
    const v2 = await run(2);
    expect(v2.parameters.find((p) => p.id === 'aluminium.anode_consumption')?.value).toBe('6.5');
    expect(v2.findings.map((f) => [f.rule, f.code])).toEqual([
      ['AL-TE-002', 'MRV_F_THEORETICAL_EXTREME'],
      ['AL-LC-001', 'MRV_F_COUNTER_RESET'],
    ]);
  });
});
