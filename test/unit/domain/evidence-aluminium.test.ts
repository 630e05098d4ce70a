/**
 * A hand-computed aluminium month (February 2026, 28 days) through computeEvidence: readings in, every
 * value of the package out, exact. Poll interval 1 day so the month has 28 expected samples per point;
 * every reading is at 12:00 UTC+8 of its day.
 */
import { describe, expect, it } from 'vitest';
import type { Sample } from '../../../core/domain/aggregate.ts';
import { computeEvidence, type UnitCatalogue } from '../../../core/domain/evidence.ts';
import { bad, cst, DAY, defaultFactors, good, memorySource, rulePack } from './helpers.ts';

const noon = (d: number) => cst(2026, 2, 1, 12) + (d - 1) * DAY; // d = 0 is Jan 31 (the lookback day)
const offline = (d: number) => d >= 20 && d <= 23; // the gateway was down Feb 20–23
const days = Array.from({ length: 29 }, (_, d) => d).filter((d) => !offline(d));

const cert = (certificate: string, date: string, validUntil: string) => ({
  certificate,
  kind: 'verification' as const,
  date,
  validUntil,
  body: 'Demo Institute',
  result: '合格 pass',
});
const point = (id: string, extra: Record<string, unknown>) => ({
  id,
  device: 'dev',
  unit: 't',
  gatewayId: 'gw1',
  expectedIntervalMs: DAY,
  ...extra,
});
const catalogue: UnitCatalogue = {
  unit: { id: 'U-AL', name: '测试铝厂', industry: 'aluminium', province: '内蒙古' },
  points: [
    point('ladle.net', {
      meter: 'ladle-1',
      parameter: 'aluminium.liquid_output',
      aggregation: 'events',
      ticketPoint: 'ladle.ticket_no',
    }),
    point('ladle.ticket_no', { meter: 'ladle-1', unit: 'id' }),
    point('anode.set_total', {
      meter: 'anode-1',
      parameter: 'aluminium.anode_consumption',
      aggregation: 'totalizer',
    }),
    point('anode.butt_total', {
      meter: 'anode-1',
      parameter: 'aluminium.anode_consumption',
      aggregation: 'totalizer',
      sign: '-',
    }),
    point('potline.ae_seconds', {
      unit: 's',
      parameter: 'aluminium.anode_effect_duration',
      aggregation: 'totalizer',
    }),
    point('potline.cell_count', {
      unit: 'count',
      parameter: 'aluminium.cells_in_operation',
      aggregation: 'gauge',
    }),
  ],
  meters: [
    // Ends on Feb 14, the next one starts on Feb 16: the readings of Feb 15 are outside calibration.
    {
      id: 'anode-1',
      name: 'anode scale',
      kind: 'crane-scale',
      calibrations: [cert('A-2025', '2025-02-15', '2026-02-14'), cert('A-2026', '2026-02-16', '2027-02-15')],
    },
    // Ends on Mar 10: due soon at month end.
    {
      id: 'ladle-1',
      name: 'ladle scale',
      kind: 'ladle-scale',
      calibrations: [cert('L-2025', '2025-03-11', '2026-03-10')],
    },
  ],
};

// Ladle: the register shows the last ticket. Ticket 1000+d weighs 3 + d/100 t.
// d=0 (Jan 31) and d=1 show ticket 1000 (tapped in January: carried over); d=5 the net weight read bad;
// d=10 still shows ticket 1009 (no tap that day); d=15 is a replayed old reading of ticket 1004.
function ladle(d: number): { ticket: string; net: Sample } {
  const t = d <= 1 ? 0 : d === 10 ? 9 : d === 15 ? 4 : d;
  return { ticket: String(1000 + t), net: d === 5 ? bad(noon(d)) : good(noon(d), (3 + t / 100).toFixed(2)) };
}
const data: Record<string, Sample[]> = {
  'ladle.net': days.map((d) => ladle(d).net),
  'ladle.ticket_no': days.map((d) => good(noon(d), ladle(d).ticket)),
  'anode.set_total': days.map((d) => good(noon(d), (1000 + 1.4 * d).toFixed(1))), // +1.4 t/day
  'anode.butt_total': days.map((d) => good(noon(d), (200 + 0.3 * d).toFixed(1))), // +0.3 t/day
  'potline.ae_seconds': days.map((d) => good(noon(d), String(50000 + 1200 * d))), // +1200 cell·s/day
  'potline.cell_count': days.map((d) => good(noon(d), '300')),
};

describe('aluminium worked month (2026-02)', async () => {
  const source = memorySource(data);
  const pkg = await computeEvidence({
    catalogue,
    month: '2026-02',
    source,
    factorPack: defaultFactors(),
    rulePack: rulePack('aluminium'),
    generatedAt: cst(2026, 3, 2, 9),
    generator: 'test',
  });
  const param = (id: string) => pkg.parameters.find((p) => p.id === id);

  it('labels the period, the deadline and the generation time in UTC+8', () => {
    expect(pkg.kind).toBe('monthly-evidence');
    expect(pkg.period).toEqual({
      from: '2026-02-01T00:00:00.000+08:00',
      to: '2026-03-01T00:00:00.000+08:00',
      timeZone: 'UTC+08:00',
      days: '28',
    });
    expect(pkg.deadline).toBe('2026-04-09'); // Mar 1 = day 1 … Apr 9 = day 40
    expect(pkg.generatedAt).toBe('2026-03-02T09:00:00.000+08:00');
  });

  it('sums each ticket once: liquid aluminium output', () => {
    // Tickets counted: d ∈ {2,3,4, 6,7,8,9, 11,12,13,14, 16,17,18,19, 24,…,28} = 20 tickets
    // (not 1000: carried over; not 1005: its weight read bad; d=10 and d=15 repeat 1009 and 1004; 20–23 offline).
    // Σ (3 + d/100) = 20 × 3 + (9 + 30 + 50 + 70 + 130) / 100 = 60 + 289/100 = 62.89 t
    const p = param('aluminium.liquid_output');
    expect(p?.value).toBe('62.89');
    expect(p?.method).toBe('measured');
    const d = p?.points[0]?.detail as {
      events: unknown[];
      observations: number;
      repeats: number;
      carriedOver: string[];
      unpaired: number;
    };
    expect(d.events).toHaveLength(20);
    expect(d.observations).toBe(23); // 28 days − 4 offline − 1 bad
    expect(d.repeats).toBe(2);
    expect(d.carriedOver).toEqual(['1000']);
    expect(d.unpaired).toBe(0);
    expect(p?.points[0]).toMatchObject({
      id: 'ladle.net',
      sign: '+',
      meter: 'ladle-1',
      value: '62.89',
      readings: 23,
      readingsOutsideCalibration: 0,
    });
  });

  it('subtracts the butts: anode consumption', () => {
    // blocks set: 1000 → 1039.2 = 39.2 t (the step from Jan 31 to Feb 1 counts); butts 200 → 208.4 = 8.4 t
    // consumption = 39.2 − 8.4 = 30.8 t
    const p = param('aluminium.anode_consumption');
    expect(p?.value).toBe('30.8');
    expect(p?.method).toBe('calculated');
    expect(p?.points.map((x) => [x.id, x.sign, x.value, x.readings, x.readingsOutsideCalibration])).toEqual([
      ['anode.butt_total', '-', '8.4', 24, 1], // 1 reading on Feb 15, when no certificate was valid
      ['anode.set_total', '+', '39.2', 24, 1],
    ]);
    expect(p?.points[1]?.detail).toMatchObject({
      baseline: { ts: '2026-01-31T12:00:00.000+08:00', value: '1000' },
      resets: [],
      rollovers: [],
    });
  });

  it('reports the supporting parameters of the slope method', () => {
    expect(param('aluminium.anode_effect_duration')?.value).toBe('33600'); // 1200 × 28
    expect(param('aluminium.cells_in_operation')?.value).toBe('300');
    expect(param('aluminium.cells_in_operation')?.points[0]?.readingsOutsideCalibration).toBeNull(); // no meter
  });

  it('computes emissions naming every factor', () => {
    // anode CO2 = 30.8 × (1 − 0.02 − 0.004) × 44/12 = 30.0608 × 44 / 12 = 110.22293333… → 110.222933
    // AEM = 33600 / 60 / (300 × 28) = 560 / 8400 = 1/15
    // CF4 = 62.89 × 0.143 × (1/15) / 1000 = 8.99327 / 15000 t = 0.000599551… → 0.000600 t; × 6630 = 3.975025…
    //   (8.99327 × 6630 / 15000 = 59625.3801 / 15000 = 3.97502534 → 3.975025)
    // C2F6 = CF4 × 0.1 = 0.0000599551… → 0.000060 t; × 11100 = 9982.5297 / 15000 = 0.66550198 → 0.665502
    // total = 110.222933 + 3.975025 + 0.665502 = 114.863460
    const e = pkg.emissions;
    expect(e.factorPack).toEqual({ id: 'cn-ets-defaults', packVersion: '2026.12-1', gwpSet: 'AR5' });
    expect(e.items.map((i) => [i.id, i.gas, i.mass, i.co2e, i.method])).toEqual([
      ['aluminium.anode_co2', 'CO2', '110.222933', '110.222933', 'calculated'],
      ['aluminium.pfc_cf4', 'CF4', '0.0006', '3.975025', 'calculated'],
      ['aluminium.pfc_c2f6', 'C2F6', '0.00006', '0.665502', 'calculated'],
    ]);
    expect(e.totalCo2e).toBe('114.86346');
    expect(e.items[0]?.factors.map((f) => [f.id, f.value, f.confirmed])).toEqual([
      ['aluminium.anode_sulphur', '0.02', false],
      ['aluminium.anode_ash', '0.004', false],
    ]);
    expect(e.items[1]?.factors.map((f) => f.id)).toEqual([
      'aluminium.slope_cf4',
      'aluminium.c2f6_to_cf4',
      'gwp.AR5.CF4',
    ]);
    expect(e.items[1]?.inputs.find((i) => i.parameter === 'aluminium.aem')?.value).toBe('0.0666666667');
  });

  it('reports completeness with bad-quality and gateway-offline gaps', () => {
    const c = (id: string) => pkg.completeness.find((x) => x.point === id);
    // ladle.net: 24 readings (23 good, 1 bad) of 28 expected; gaps: Feb 5 12:00 → Feb 6 12:00 (bad),
    // Feb 20 12:00 → Feb 24 12:00 (every point of gw1 silent: gateway offline). Covered 28 − 1 − 4 = 23 days: 23/28 = 0.8214…
    expect(c('ladle.net')).toEqual({
      point: 'ladle.net',
      gatewayId: 'gw1',
      expectedIntervalMs: DAY,
      expected: 28,
      received: 24,
      good: 23,
      uncertain: 0,
      bad: 1,
      coveredShare: '0.8214',
      gapSummary: { device_bad: { count: 1, ms: DAY }, gateway_offline: { count: 1, ms: 4 * DAY } },
      gaps: [
        {
          start: '2026-02-05T12:00:00.000+08:00',
          end: '2026-02-06T12:00:00.000+08:00',
          cause: 'device_bad',
          reason: 'MRV_E_MODBUS_TIMEOUT: no answer',
        },
        {
          start: '2026-02-20T12:00:00.000+08:00',
          end: '2026-02-24T12:00:00.000+08:00',
          cause: 'gateway_offline',
        },
      ],
    });
    // anode.set_total: 24 good; 24/28 = 0.857142… → 0.8571
    expect(c('anode.set_total')?.coveredShare).toBe('0.8571');
    expect(c('ladle.ticket_no')).toBeUndefined(); // read for pairing only
  });

  it('lists the meters with their calibration over the month', () => {
    const anode = pkg.meters.find((m) => m.id === 'anode-1');
    expect(anode?.points).toEqual(['anode.butt_total', 'anode.set_total']);
    expect(anode?.atMonthStart).toEqual({
      status: 'due_soon',
      certificate: 'A-2025',
      validUntil: '2026-02-14',
      daysLeft: 13,
    });
    expect(anode?.atMonthEnd).toEqual({
      status: 'valid',
      certificate: 'A-2026',
      validUntil: '2027-02-15',
      daysLeft: 352,
    });
    expect(
      anode?.segments.map((s) => `${s.from.slice(5, 10)}..${s.to.slice(5, 10)} ${s.status} ${s.certificate}`),
    ).toEqual(['02-01..02-15 valid A-2025', '02-15..02-16 expired A-2025', '02-16..03-01 valid A-2026']);
    const ladleM = pkg.meters.find((m) => m.id === 'ladle-1');
    expect(ladleM?.atMonthEnd).toEqual({
      status: 'due_soon',
      certificate: 'L-2025',
      validUntil: '2026-03-10',
      daysLeft: 10,
    });
  });

  it('raises no rule finding on a clean month (net anode 30.8 / 62.89 = 0.4897 t/t is within 0.38–0.50)', () => {
    expect(pkg.findings.filter((f) => f.source === 'validation')).toEqual([]);
  });

  it('lists the ticket numbers never counted: 1001, 1005 (read bad), 1010, 1015 and 1020–1023 (offline)', () => {
    const f = pkg.findings.filter((x) => x.code === 'MRV_F_TICKETS_MISSING');
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({
      id: `U-AL:MRV_F_TICKETS_MISSING:ladle.net:${cst(2026, 2, 1)}`,
      point: 'ladle.net',
      source: 'completeness',
      severity: 'error',
      detail: { count: 8, ticketPoint: 'ladle.ticket_no', counted: 20 },
    });
    const ranges = (f[0]!.detail.ranges as { from: string; to: string }[]).map((r) => `${r.from}-${r.to}`);
    expect(ranges).toEqual(['1001-1001', '1005-1005', '1010-1010', '1015-1015', '1020-1023']);
    expect(f[0]?.message.en).toBe(
      "ladle.net: 8 ticket number(s) never received (1001, 1005, 1010, 1015, 1020–1023); the period's value lacks them",
    );
    expect(pkg.findings).toHaveLength(1);
  });

  it('is reproducible: the same inputs give the same package', async () => {
    const again = await computeEvidence({
      catalogue,
      month: '2026-02',
      source: memorySource(data),
      factorPack: defaultFactors(),
      rulePack: rulePack('aluminium'),
      generatedAt: cst(2026, 3, 2, 9),
      generator: 'test',
    });
    expect(JSON.stringify(again)).toBe(JSON.stringify(pkg));
  });
});
