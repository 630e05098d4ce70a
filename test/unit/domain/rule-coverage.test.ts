// `mrv check-config`'s rule coverage (core/domain/rule-coverage.ts): rules of the unit's pack that a site
// file leaves without their points, and the qualified-parameter targets (`power.ncv` selects
// `power.ncv.bituminous_coal`) that used to select nothing.
import { describe, expect, it } from 'vitest';
import { checkRuleCoverage } from '../../../core/domain/rule-coverage.ts';
import { SampleRuleRunner, targetPoints } from '../../../core/domain/rules.ts';
import { cst, good, rulePack } from './helpers.ts';

const aluminium = [
  { id: 'potline.cell01.voltage' },
  { id: 'potline.current' },
  { id: 'potline.ae_seconds', parameter: 'aluminium.anode_effect_duration' },
  { id: 'potline.cell_count', parameter: 'aluminium.cells_in_operation' },
  { id: 'ladle.net', parameter: 'aluminium.liquid_output' },
  { id: 'ladle.net_total' },
  { id: 'ladle.ticket_no' },
  { id: 'anode.set_total', parameter: 'aluminium.anode_consumption' },
  { id: 'anode.butt_total' },
];

describe('checkRuleCoverage', () => {
  it('names a sum_of_parts rule whose alignBy ticket point is missing, with the false finding it risks', () => {
    const all = checkRuleCoverage(rulePack('aluminium'), aluminium);
    expect(all.filter((w) => w.rule === 'AL-LC-002')).toEqual([]);
    const w = checkRuleCoverage(
      rulePack('aluminium'),
      aluminium.filter((p) => p.id !== 'ladle.ticket_no'),
    ).filter((x) => x.rule === 'AL-LC-002');
    expect(w.map((x) => [x.code, x.missing])).toEqual([['not_aligned', ['ladle.ticket_no']]]);
    expect(w[0]?.message).toMatch(/compares the period values/);
  });

  it('names a sum_of_parts rule that never runs because its total or a part is missing', () => {
    const w = checkRuleCoverage(
      rulePack('aluminium'),
      aluminium.filter((p) => p.id !== 'ladle.net_total'),
    ).filter((x) => x.rule === 'AL-LC-002');
    expect(w.map((x) => [x.code, x.missing])).toEqual([['missing_points', ['ladle.net_total']]]);
    expect(w[0]?.message).toMatch(/never runs/);
  });

  it('names a per-reading rule that selects no point, and is silent once a point is tagged', () => {
    const power = [{ id: 'gen.active_energy_export', parameter: 'power.generation' }];
    const before = checkRuleCoverage(rulePack('power'), power).map((w) => `${w.code} ${w.rule}`);
    expect(before).toEqual(['no_target PW-TE-001', 'no_target PW-TH-001']);
    const after = checkRuleCoverage(rulePack('power'), [
      ...power,
      { id: 'lab.ncv_as_fired', parameter: 'power.ncv.bituminous_coal' },
      { id: 'lab.carbon_as_fired', parameter: 'power.carbon_content.bituminous_coal' },
    ]);
    expect(after).toEqual([]);
  });
});

describe('qualified parameter targets', () => {
  it('a target on a qualified entry selects its kinds, not another entry sharing the prefix', () => {
    const pts = [
      { id: 'a', parameter: 'power.ncv.bituminous_coal' },
      { id: 'b', parameter: 'power.ncv' },
      { id: 'c', parameter: 'power.ncvx' },
      { id: 'd', parameter: 'power.fuel_consumption.bituminous_coal' },
    ];
    expect(targetPoints({ parameter: 'power.ncv' }, pts)).toEqual(['a', 'b']);
    // An unqualified entry's id is not widened to ids below it.
    expect(
      targetPoints({ parameter: 'power.generation' }, [{ id: 'g', parameter: 'power.generation.x' }]),
    ).toEqual([]);
  });

  it('PW-TH-001 fires on a lab NCV tagged with its fuel kind (it selected nothing before)', () => {
    const from = cst(2026, 3, 1);
    const ctx = { unitId: 'U4', from, to: cst(2026, 4, 1), at: cst(2026, 4, 2) };
    const r = new SampleRuleRunner(
      rulePack('power'),
      [{ id: 'lab.ncv_as_fired', parameter: 'power.ncv.bituminous_coal' }],
      ctx,
    );
    r.push('lab.ncv_as_fired', [good(from + 60_000, '22.5'), good(from + 120_000, '35.1')]);
    const f = r.finish();
    expect(f.map((x) => [x.rule, x.point, x.detail.worst])).toEqual([
      ['PW-TH-001', 'lab.ncv_as_fired', '35.1'],
    ]);
  });
});
