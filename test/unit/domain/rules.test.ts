import { describe, expect, it } from 'vitest';
import { evaluatePeriodRules, parseRulePack, SampleRuleRunner } from '../../../core/domain/rules.ts';
import { cst, good, rulePack } from './helpers.ts';

const from = cst(2026, 3, 1);
const to = cst(2026, 4, 1);
const ctx = { unitId: 'U1', from, to, at: cst(2026, 4, 2) };
const m = (n: number) => from + n * 60_000;
const points = [
  { id: 'potline.cell01.voltage' },
  { id: 'potline.current' },
  { id: 'ladle.net', parameter: 'aluminium.liquid_output' },
  { id: 'anode.set_total', parameter: 'aluminium.anode_consumption' },
];

describe('rule packs', () => {
  it('every industry pack in core/domain/rules parses and covers the four classes where it can', () => {
    for (const industry of ['aluminium', 'cement', 'steel', 'power'] as const) {
      const pack = rulePack(industry);
      expect(pack.industry).toBe(industry);
      for (const r of pack.rules) expect(r.source.length).toBeGreaterThan(0);
    }
    expect(new Set(rulePack('aluminium').rules.map((r) => r.class))).toEqual(
      new Set(['theoretical_extreme', 'threshold', 'standard_value', 'logic_check']),
    );
  });

  it('rejects a malformed pack with the path', () => {
    expect(() =>
      parseRulePack({
        kind: 'rule-pack',
        version: 1,
        id: 'x',
        packVersion: '1',
        industry: 'aluminium',
        rules: [{ id: 'bad id', class: 'nope' }],
      }),
    ).toThrow(/rules/);
  });
});

describe('theoretical extreme (理论极值)', () => {
  it('fires on a cell voltage above 60 V, once per run of readings, and not on 45 V', () => {
    const r = new SampleRuleRunner(rulePack('aluminium'), points, ctx);
    r.push('potline.cell01.voltage', [
      good(m(0), '4.2'),
      good(m(1), '45.0'),
      good(m(2), '61.5'),
      good(m(3), '65.25'),
      good(m(4), '4.2'),
    ]);
    const f = r.finish();
    expect(f.map((x) => [x.rule, x.code, x.point, x.detail.count, x.detail.worst])).toEqual([
      ['AL-TE-002', 'MRV_F_THEORETICAL_EXTREME', 'potline.cell01.voltage', 2, '65.25'],
    ]);
    expect(f[0]?.message.en).toBe(
      'potline.cell01.voltage: cell voltage 65.25 V above the theoretical extreme 60 V',
    );
    expect(f[0]?.ts).toBe(new Date(m(2)).toISOString());
  });
});

describe('threshold (阈值)', () => {
  it('fires on a current outside 350–500 kA and on a step above 20 kA/min; not on normal readings', () => {
    const r = new SampleRuleRunner(rulePack('aluminium'), points, ctx);
    // 400 → 401 (1 kA/min) → 430 (29 kA/min: rate) → 431 → 520 at +2 min (44.5 kA/min and > 500)
    r.push('potline.current', [
      good(m(0), '400'),
      good(m(1), '401'),
      good(m(2), '430'),
      good(m(3), '431'),
      good(m(5), '520'),
    ]);
    const f = r.finish();
    expect(f.map((x) => [x.rule, x.detail.worst])).toEqual([
      ['AL-TH-002', '29'],
      ['AL-TH-001', '520'],
      ['AL-TH-002', '44.5'],
    ]);
    const quiet = new SampleRuleRunner(rulePack('aluminium'), points, ctx);
    quiet.push('potline.current', [good(m(0), '400'), good(m(1), '405'), good(m(2), '399.5')]);
    expect(quiet.finish()).toEqual([]);
  });
});

const base = { points: new Map<string, string>(), counterEvents: new Map(), days: '31', catalogue: points };

describe('standard value (标准值)', () => {
  it('fires when net anode per t Al is outside 0.38–0.50, not inside', () => {
    const pack = rulePack('aluminium');
    const fire = evaluatePeriodRules(
      pack,
      {
        ...base,
        parameters: new Map([
          ['aluminium.anode_consumption', '11422.37'],
          ['aluminium.liquid_output', '21000'],
        ]),
      },
      ctx,
    );
    // 11422.37 / 21000 = 0.543922…
    expect(fire.map((f) => [f.rule, f.detail.ratio])).toEqual([['AL-SV-001', '0.543922']]);
    const ok = evaluatePeriodRules(
      pack,
      {
        ...base,
        parameters: new Map([
          ['aluminium.anode_consumption', '8400'],
          ['aluminium.liquid_output', '20000'],
        ]),
      },
      ctx,
    );
    expect(ok).toEqual([]);
  });
});

describe('logic check (逻辑校验)', () => {
  it('fires on a totalizer reset, on sub-meters not adding up and on output above capacity', () => {
    const pack = rulePack('aluminium');
    const f = evaluatePeriodRules(
      pack,
      {
        ...base,
        parameters: new Map([['aluminium.liquid_output', '31001']]), // capacity 1000 t/d × 31 d = 31000
        points: new Map([
          ['ladle.net_total', '900'],
          ['ladle.net', '899'],
        ]), // |899 − 900| = 1 > 0.001 × 900 = 0.9
        counterEvents: new Map([
          [
            'anode.set_total',
            [
              { kind: 'reset' as const, ts: m(10), before: '120', after: '3', bridged: '3' },
              { kind: 'rollover' as const, ts: m(20), before: '9', after: '1', bridged: '2' },
            ],
          ],
        ]),
      },
      ctx,
    );
    expect(f.map((x) => [x.rule, x.code])).toEqual([
      ['AL-LC-001', 'MRV_F_LOGIC_CHECK'],
      ['AL-LC-002', 'MRV_F_LOGIC_CHECK'],
      ['AL-LC-003', 'MRV_F_LOGIC_CHECK'],
    ]);
    expect(f[0]?.message.zh).toBe('anode.set_total 累计值倒退 (120 → 3), 非翻转, 按复位处理');
  });

  it('does not fire on a roll-over, matching sub-meters or output within capacity', () => {
    const f = evaluatePeriodRules(
      rulePack('aluminium'),
      {
        ...base,
        parameters: new Map([['aluminium.liquid_output', '30000']]),
        points: new Map([
          ['ladle.net_total', '900'],
          ['ladle.net', '900.5'],
        ]),
        counterEvents: new Map([
          [
            'anode.set_total',
            [{ kind: 'rollover' as const, ts: m(20), before: '9', after: '1', bridged: '2' }],
          ],
        ]),
      },
      ctx,
    );
    expect(f).toEqual([]);
  });
});
