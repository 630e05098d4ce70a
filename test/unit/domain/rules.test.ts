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
      ['AL-LC-001', 'MRV_F_COUNTER_RESET'],
      ['AL-LC-002', 'MRV_F_LOGIC_CHECK'],
      ['AL-LC-003', 'MRV_F_LOGIC_CHECK'],
    ]);
    expect(f[0]?.message.zh).toBe('anode.set_total 累计值不连续 (120 → 3): 复位, 自零计入');
    expect(f[0]?.message.en).toBe(
      'anode.set_total: totalizer discontinuity (120 → 3): a reset, counted from zero',
    );
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

describe('rules a regulator can trust (issue 18 item 4)', () => {
  const s = (n: number) => from + n * 1000;

  it('a rate of change is measured over the window, not between readings a moment apart (AL-TH-002 on noise and jitter)', () => {
    // 1 s readings with ±0.4 kA noise, and a poll that stalls 2 s and then fires twice 50 ms apart:
    // pairwise that is 0.7 kA / 50 ms = 840 kA/min; over 60 s it is under 1 kA/min.
    const xs = [];
    for (let i = 0; i < 600; i++) xs.push(good(s(i), (400 + (i % 2 === 0 ? 0.4 : -0.4)).toFixed(1)));
    xs.push(good(s(602), '400.4'), good(s(602) + 50, '399.7'));
    for (let i = 603; i < 700; i++) xs.push(good(s(i), (400 + (i % 2 === 0 ? 0.4 : -0.4)).toFixed(1)));
    const r = new SampleRuleRunner(rulePack('aluminium'), points, ctx);
    r.push('potline.current', xs);
    expect(r.finish()).toEqual([]);
    // A real step of 30 kA still trips it, once, with the window in the detail.
    const step = new SampleRuleRunner(rulePack('aluminium'), points, ctx);
    step.push('potline.current', [
      ...Array.from({ length: 120 }, (_, i) => good(s(i), '400')),
      ...Array.from({ length: 120 }, (_, i) => good(s(120 + i), '430')),
    ]);
    const f = step.finish();
    expect(f.map((x) => [x.rule, x.detail.windowS])).toEqual([['AL-TH-002', 60]]);
    expect(Number(f[0]?.detail.worst)).toBeGreaterThan(20);
  });

  it('windowS 0 compares each reading with the one before (a site that wants the pairwise rate)', () => {
    const r = new SampleRuleRunner(rulePack('aluminium'), points, ctx, { 'AL-TH-002': { windowS: 0 } });
    r.push('potline.current', [good(s(0), '400'), good(s(1), '400.5'), good(s(2), '400')]);
    // 0.5 kA in 1 s = 30 kA/min, twice in a row: one run of two readings.
    expect(r.finish().map((x) => [x.rule, x.detail.count, x.detail.worst])).toEqual([['AL-TH-002', 2, '30']]);
  });

  it('a rate rule on a totalizer reads through a roll-over (CE-TH-001 read 4 294 963.6 t/min)', () => {
    const pts = [
      {
        id: 'clinker.total',
        parameter: 'cement.clinker_output',
        aggregation: 'totalizer',
        rolloverAt: '4294967.296',
        maxRate: '300',
        expectedIntervalMs: 5000,
      },
    ];
    // 208 t/h = 0.2889 t per 5 s, wrapping at 4294967.296 t.
    const xs = [];
    let v = 4294960;
    for (let i = 0; i < 200; i++) {
      xs.push(good(from + i * 5000, v.toFixed(3)));
      v = (v + 0.289) % 4294967.296;
    }
    const r = new SampleRuleRunner(rulePack('cement'), pts, ctx);
    r.push('clinker.total', xs);
    expect(r.finish()).toEqual([]);
  });

  it('a clock tolerance widens the rate window, so readings stamped late are no rate (the demo at --speed 2880)', () => {
    const pts = [
      {
        id: 'clinker.total',
        parameter: 'cement.clinker_output',
        aggregation: 'totalizer',
        rolloverAt: '4294967.296',
        maxRate: '1000', // (so the counter itself takes the step as plausible)
        expectedIntervalMs: 5000,
      },
    ];
    // ~3.5 t/min, but the second reading was stamped 60 s early: 12 t in 70 s reads 10.3 t/min.
    const xs = [good(s(0), '1000'), good(s(70), '1012'), good(s(200), '1012.3')];
    const strict = new SampleRuleRunner(rulePack('cement'), pts, ctx);
    strict.push('clinker.total', xs);
    expect(strict.finish().map((f) => f.rule)).toEqual(['CE-TH-001']);
    const tolerant = new SampleRuleRunner(rulePack('cement'), pts, { ...ctx, clockToleranceMs: 120_000 });
    tolerant.push('clinker.total', xs);
    expect(tolerant.finish()).toEqual([]); // over ≥ 180 s: 12.3 t in 200 s = 3.7 t/min
  });

  it('thresholds and debounce come from the site and the point', () => {
    const pts = [
      ...points.filter((p) => p.id !== 'potline.current'),
      { id: 'potline.current', rules: { 'AL-TH-001': { max: '410' } } },
    ];
    const xs = [
      good(m(0), '400'),
      good(m(1), '415'),
      good(m(2), '400'),
      good(m(3), '415'),
      good(m(4), '416'),
      good(m(5), '400'),
    ];
    // Point: max 410 instead of 500; site: at least 2 consecutive readings over at least 30 s.
    const r = new SampleRuleRunner(rulePack('aluminium'), pts, ctx, {
      'AL-TH-001': { debounce: { count: 2, minDurationS: 30 } },
      'AL-TH-002': { enabled: false },
    });
    r.push('potline.current', xs);
    const f = r.finish();
    expect(f.map((x) => [x.rule, x.detail.first, x.detail.count, x.detail.limit])).toEqual([
      ['AL-TH-001', '2026-03-01T00:03:00.000+08:00', 2, '410'],
    ]);
    expect(f[0]?.detail.debounce).toEqual({ count: 2, minDurationS: 30 });
  });

  it('the pack cannot be overridden with a rule id it does not have', async () => {
    const { unknownOverrides } = await import('../../../core/domain/rules.ts');
    expect(
      unknownOverrides(rulePack('aluminium'), { 'AL-TH-099': { max: '1' } }, [
        { id: 'potline.current', rules: { 'AL-TH-001': { max: '480' }, 'XX-1': {} } },
      ]),
    ).toEqual([
      'rules.AL-TH-099: no rule AL-TH-099 in rule pack aluminium',
      'point potline.current: rules.XX-1: no rule XX-1 in rule pack aluminium',
    ]);
  });

  it('CE-SV-001 compares the net process CO2 per t clinker with a net range, and only on enough clinker', () => {
    const pack = rulePack('cement');
    const run = (co2: string, clinker: string) =>
      evaluatePeriodRules(
        pack,
        {
          ...base,
          parameters: new Map([
            ['emissions.cement.process_co2', co2],
            ['cement.clinker_output', clinker],
          ]),
        },
        ctx,
      ).map((f) => f.rule);
    // The demo line: 0.535 gross − 0.072 of substitute deductions = 0.463 t/t: no finding.
    expect(run('70000', '151200')).toEqual([]);
    expect(run('30000', '151200')).toEqual(['CE-SV-001']); // 0.198 t/t: too low even net
    expect(run('20', '100')).toEqual([]); // 100 t of clinker: not judged
  });

  it('every totalizer discontinuity is a finding, also on points no counter rule names', () => {
    const f = evaluatePeriodRules(
      rulePack('aluminium'),
      {
        ...base,
        parameters: new Map(),
        counterEvents: new Map([
          [
            'other.total',
            [{ kind: 'correction' as const, ts: m(3), before: '100.5', after: '100.2', bridged: '0' }],
          ],
          [
            'anode.set_total',
            [
              {
                kind: 'review' as const,
                ts: m(4),
                before: '10',
                after: '5000',
                bridged: '0',
                reason: 'implausible_jump' as const,
              },
            ],
          ],
        ]),
      },
      ctx,
    );
    expect(f.map((x) => [x.rule, x.code, x.point, x.severity])).toEqual([
      ['AL-LC-001', 'MRV_F_COUNTER_REVIEW', 'anode.set_total', 'error'],
      ['MRV-COUNTER', 'MRV_F_COUNTER_CORRECTION', 'other.total', 'info'],
    ]);
  });
});
