/**
 * Hand-computed months for cement, steel and power (aluminium: evidence-aluminium.test.ts), with the
 * default factor pack. Poll interval 1 day, one reading per day at 12:00 UTC+8, plus the last day of
 * the previous month as the totalizer baseline (d = 0).
 */
import { describe, expect, it } from 'vitest';
import type { Sample } from '../../../core/domain/aggregate.ts';
import { computeEvidence, type UnitCatalogue } from '../../../core/domain/evidence.ts';
import type { Industry } from '../../../core/schema/wire.ts';
import { cst, DAY, defaultFactors, good, memorySource, rulePack } from './helpers.ts';

function month(
  y: number,
  m: number,
  n: number,
  industry: Industry,
  points: Record<
    string,
    {
      parameter?: string;
      aggregation: 'totalizer' | 'events' | 'gauge';
      ticketPoint?: string;
      /** Engineering unit of the point (default t). */
      unit?: string;
      /** ms after noon the point's readings are stamped (an OPC UA SourceTimestamp; default 0). */
      offsetMs?: number;
      value: (d: number) => string;
    }
  >,
) {
  const noon = (d: number) => cst(y, m, 1, 12) + (d - 1) * DAY;
  const catalogue: UnitCatalogue = {
    unit: { id: `U-${industry}`, name: industry, industry, province: 'P' },
    points: Object.entries(points).map(([id, p]) => ({
      id,
      device: 'd',
      unit: p.unit ?? 't',
      gatewayId: 'gw',
      expectedIntervalMs: DAY,
      meter: 'm1',
      aggregation: p.aggregation,
      ...(p.parameter ? { parameter: p.parameter } : {}),
      ...(p.ticketPoint ? { ticketPoint: p.ticketPoint } : {}),
    })),
    meters: [
      {
        id: 'm1',
        name: 'meter',
        kind: 'belt-scale',
        calibrations: [
          {
            certificate: 'C1',
            kind: 'verification',
            date: '2025-06-01',
            validUntil: '2027-05-31',
            body: 'B',
            result: '合格',
          },
        ],
      },
    ],
  };
  const data: Record<string, Sample[]> = {};
  for (const [id, p] of Object.entries(points))
    data[id] = Array.from({ length: n + 1 }, (_, d) => good(noon(d) + (p.offsetMs ?? 0), p.value(d)));
  return computeEvidence({
    catalogue,
    month: `${y}-${String(m).padStart(2, '0')}`,
    source: memorySource(data),
    factorPack: defaultFactors(),
    rulePack: rulePack(industry),
    generatedAt: cst(y, m + 1, 2),
    generator: 'test',
  });
}

describe('cement worked month (2026-03)', async () => {
  const pkg = await month(2026, 3, 31, 'cement', {
    'clinker.total': {
      parameter: 'cement.clinker_output',
      aggregation: 'totalizer',
      value: (d) => String(5000 + 100 * d),
    },
    'sub.carbide': {
      parameter: 'cement.substitute.carbide_slag',
      aggregation: 'totalizer',
      value: (d) => String(100 + 2 * d),
    },
    'sub.flyash': {
      parameter: 'cement.substitute.fly_ash',
      aggregation: 'totalizer',
      value: (d) => String(50 + d),
    },
    'coal.total': {
      parameter: 'cement.fuel_consumption.bituminous_coal',
      aggregation: 'totalizer',
      value: (d) => String(300 + 10 * d),
    },
  });

  it('gives every key parameter', () => {
    expect(pkg.parameters.map((p) => [p.id, p.value, p.method])).toEqual([
      ['cement.clinker_output', '3100', 'measured'], // 100 × 31
      ['cement.substitute.carbide_slag', '62', 'measured'], // 2 × 31
      ['cement.substitute.fly_ash', '31', 'measured'],
      ['cement.fuel_consumption.bituminous_coal', '310', 'measured'],
    ]);
    expect(pkg.parameters[1]?.nameEn).toBe(
      'Non-carbonate substitute raw material consumption (carbide_slag)',
    );
    expect(
      pkg.completeness.every((c) => c.coveredShare === '1.0000' && c.gaps.length === 0 && c.received === 31),
    ).toBe(true);
    expect(pkg.meters[0]?.atMonthEnd.status).toBe('valid');
  });

  it('computes process CO2 less deductions plus fuel CO2', () => {
    // process = 3100 × 0.535 − 62 × 0.480 − 31 × 0.305 = 1658.5 − 29.76 − 9.455 = 1619.285
    // fuel = FC × NCV × CC × OF × 44/12 (docs/domain.md §2.2, IPCC defaults §2.5)
    //      = 310 × 25.8 × 0.0258 × 1 × 44/12 = 7998 × 0.0258 = 206.3484; × 44 / 12 = 756.6108
    // total = 1619.285 + 756.6108 = 2375.8958
    expect(pkg.emissions.items.map((i) => [i.id, i.co2e])).toEqual([
      ['cement.process_co2', '1619.285'],
      ['cement.fuel_co2.bituminous_coal', '756.6108'],
    ]);
    expect(pkg.emissions.totalCo2e).toBe('2375.8958');
    expect(pkg.emissions.items[0]?.factors.map((f) => `${f.id}=${f.value}`)).toEqual([
      'cement.ef_clinker.portland=0.535',
      'cement.deduction.carbide_slag=0.480',
      'cement.deduction.fly_ash=0.305',
    ]);
    // 1619.285 / 3100 = 0.52235 t/t: inside the 0.52–0.55 standard value
    expect(pkg.findings).toEqual([]);
  });
});

describe('steel worked month (2026-04)', async () => {
  const pkg = await month(2026, 4, 30, 'steel', {
    'bof.heat_net': {
      parameter: 'steel.crude_steel_output',
      aggregation: 'events',
      ticketPoint: 'bof.heat_no',
      value: () => '100',
    },
    'bof.heat_no': { aggregation: 'gauge', value: (d) => String(5000 + d) },
    'flux.limestone': {
      parameter: 'steel.carbon_input.limestone',
      aggregation: 'totalizer',
      value: (d) => String(10 * d),
    },
    'flux.dolomite': {
      parameter: 'steel.carbon_input.dolomite',
      aggregation: 'totalizer',
      value: (d) => String(5 * d),
    },
    'coal.total': {
      parameter: 'steel.fuel_consumption.bituminous_coal',
      aggregation: 'totalizer',
      value: (d) => String(50 * d),
    },
    'out.pig_iron': {
      parameter: 'steel.carbon_product_output.pig_iron',
      aggregation: 'totalizer',
      value: (d) => String(2 * d),
    },
  });

  it('gives every key parameter', () => {
    expect(pkg.parameters.map((p) => [p.id, p.value])).toEqual([
      ['steel.crude_steel_output', '3000'], // 30 heats × 100 t (heat 5000 was seen on Mar 31)
      ['steel.carbon_product_output.pig_iron', '60'],
      ['steel.carbon_input.dolomite', '150'],
      ['steel.carbon_input.limestone', '300'],
      ['steel.fuel_consumption.bituminous_coal', '1500'],
    ]);
  });

  it('computes fuel + process − carbon fixed, and flags the intensity outside the long-process range', () => {
    // fuel = 1500 × 25.8 × 0.0258 × 1 × 44/12 = 38700 × 0.0258 = 998.46; × 44 / 12 = 3661.02
    // process = 150 × 0.471 + 300 × 0.440 = 70.65 + 132 = 202.65
    // fixed = −(3000 × 0.0154 + 60 × 0.172) = −(46.2 + 10.32) = −56.52
    // total = 3661.02 + 202.65 − 56.52 = 3807.15
    expect(pkg.emissions.items.map((i) => [i.id, i.co2e])).toEqual([
      ['steel.fuel_co2.bituminous_coal', '3661.02'],
      ['steel.process_co2', '202.65'],
      ['steel.carbon_fixed', '-56.52'],
    ]);
    expect(pkg.emissions.totalCo2e).toBe('3807.15');
    // 3807.15 / 3000 = 1.26905 t/t < 1.8: standard value finding ST-SV-001
    expect(pkg.findings.map((f) => [f.rule, f.code, f.class, f.message.en])).toEqual([
      [
        'ST-SV-001',
        'MRV_F_STANDARD_VALUE',
        'standard-value',
        '1.26905 t CO2 per t crude steel outside the standard value (limit 1.8)',
      ],
    ]);
  });
});

describe('steel heats stamped apart (2026-04)', async () => {
  // An OPC UA server stamps each heat's net weight 180 ms after its number (their SourceTimestamps):
  // they still pair, within half the points' poll interval, so no heat goes missing.
  const pkg = await month(2026, 4, 30, 'steel', {
    'bof.heat_net': {
      parameter: 'steel.crude_steel_output',
      aggregation: 'events',
      ticketPoint: 'bof.heat_no',
      offsetMs: 180,
      value: () => '100',
    },
    'bof.heat_no': { aggregation: 'gauge', value: (d) => String(5000 + d) },
  });

  it('counts every heat', () => {
    expect(pkg.parameters.find((p) => p.id === 'steel.crude_steel_output')?.value).toBe('3000');
  });
});

describe('power worked month (2026-05)', async () => {
  const pkg = await month(2026, 5, 31, 'power', {
    'coal.total': {
      parameter: 'power.fuel_consumption.bituminous_coal',
      aggregation: 'totalizer',
      value: (d) => String(1000 * d),
    },
    'lab.carbon': {
      parameter: 'power.carbon_content.bituminous_coal',
      aggregation: 'gauge',
      unit: 't C/t',
      value: () => '0.6',
    },
    'gen.total': {
      parameter: 'power.generation',
      aggregation: 'totalizer',
      unit: 'MWh',
      value: (d) => String(2000 * d),
    },
    'grid.import': {
      parameter: 'power.purchased_electricity',
      aggregation: 'totalizer',
      unit: 'MWh',
      value: (d) => String(10 * d),
    },
  });

  it('gives every key parameter', () => {
    expect(pkg.parameters.map((p) => [p.id, p.value])).toEqual([
      ['power.fuel_consumption.bituminous_coal', '31000'],
      ['power.carbon_content.bituminous_coal', '0.6'],
      ['power.generation', '62000'],
      ['power.heat_supplied', null],
      ['power.purchased_electricity', '310'],
    ]);
  });

  it('computes fuel CO2 from the measured carbon content plus purchased electricity', () => {
    // fuel = FC × C_ar × OF × 44/12 = 31000 × 0.6 × 1 × 44/12 = 18600 × 44 / 12 = 68200
    // electricity = 310 × 0.5703 = 176.793; total 68376.793
    expect(pkg.emissions.items.map((i) => [i.id, i.co2e, i.formula])).toEqual([
      ['power.fuel_co2.bituminous_coal', '68200', 'E = FC × C_ar × OF × 44/12'],
      ['power.purchased_electricity_co2', '176.793', 'E = AD_el × EF_grid'],
    ]);
    expect(pkg.emissions.totalCo2e).toBe('68376.793');
    expect(pkg.findings).toEqual([]);
  });
});
