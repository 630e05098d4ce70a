/**
 * A worked month per industry (issue 18 item 7), computed by hand here with the formulas and the
 * factor-pack values of docs/domain.md (§2.1 aluminium, §2.2 cement, §2.3 steel, §2.4 power, §2.5
 * fuel defaults), each quantity in the unit its meter gives (kg, %, Nm³, kWh), matched to the last
 * published decimal of the evidence package. One reading a day at 12:00 UTC+8, the previous month's
 * last day as the totalizer baseline (d = 0).
 */
import { describe, expect, it } from 'vitest';
import type { Sample } from '../../../core/domain/aggregate.ts';
import { computeEvidence, type EvidenceBody, type UnitCatalogue } from '../../../core/domain/evidence.ts';
import type { Industry } from '../../../core/schema/wire.ts';
import { cst, DAY, defaultFactors, good, memorySource, rulePack } from './helpers.ts';

interface P {
  parameter?: string;
  aggregation: 'totalizer' | 'gauge';
  unit: string;
  value: (d: number) => string;
}

async function month(y: number, m: number, n: number, industry: Industry, points: Record<string, P>) {
  const noon = (d: number) => cst(y, m, 1, 12) + (d - 1) * DAY;
  const catalogue: UnitCatalogue = {
    unit: { id: `U-${industry}`, name: industry, industry, province: 'P' },
    points: Object.entries(points).map(([id, p]) => ({
      id,
      device: 'd',
      unit: p.unit,
      gatewayId: 'gw',
      expectedIntervalMs: DAY,
      aggregation: p.aggregation,
      ...(p.parameter ? { parameter: p.parameter } : {}),
    })),
    meters: [],
  };
  const data: Record<string, Sample[]> = {};
  for (const [id, p] of Object.entries(points))
    data[id] = Array.from({ length: n + 1 }, (_, d) => good(noon(d), p.value(d)));
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

const items = (pkg: EvidenceBody) => pkg.emissions.items.map((i) => [i.id, i.gas, i.mass, i.co2e, i.method]);
const param = (pkg: EvidenceBody, id: string) => pkg.parameters.find((p) => p.id === id);

describe('aluminium, no anode or anode-effect data (2026-02): the 2024 draft default intensities', async () => {
  const pkg = await month(2026, 2, 28, 'aluminium', {
    'ladle.total': {
      parameter: 'aluminium.liquid_output',
      aggregation: 'totalizer',
      unit: 't',
      value: (d) => String(100 * d),
    },
  });

  it('computes anode CO2 = P × 1.424 and PFC = P × 0.1454 t CO2e (docs/domain.md §2.1)', () => {
    // P = 100 × 28 = 2800 t Al
    // anode CO2 = 2800 × 1.424 = 3987.2 t (not 2800 × 0.411 × (1 − 0.02 − 0.004) × 44/12 = 4118.2, +3.3 %)
    // PFC = 2800 × 0.1454 = 407.12 t CO2e (not 2800 × (0.034 × 6630 + 0.0034 × 11100) / 1000 = 736.848, +81 %)
    expect(items(pkg)).toEqual([
      ['aluminium.anode_co2', 'CO2', '3987.2', '3987.2', 'default'],
      ['aluminium.pfc_co2e', 'CF4+C2F6', null, '407.12', 'default'],
    ]);
    expect(pkg.emissions.totalCo2e).toBe('4394.32');
    expect(pkg.emissions.unconfirmedFactors).toEqual([
      'aluminium.anode_co2_default',
      'aluminium.pfc_co2e_default',
    ]);
  });
});

describe('cement with clinker CaO/MgO, substitutes in kg (2026-03)', async () => {
  const pkg = await month(2026, 3, 31, 'cement', {
    'clinker.total': {
      parameter: 'cement.clinker_output',
      aggregation: 'totalizer',
      unit: 't',
      value: (d) => String(5000 + 100 * d),
    },
    'lab.cao': { parameter: 'cement.clinker_cao', aggregation: 'gauge', unit: '%', value: () => '65.5' },
    'lab.mgo': { parameter: 'cement.clinker_mgo', aggregation: 'gauge', unit: '%', value: () => '2.0' },
    'sub.carbide': {
      parameter: 'cement.substitute.carbide_slag',
      aggregation: 'totalizer',
      unit: 'kg',
      value: (d) => String(2000 * d),
    },
    'sub.steel_slag': {
      parameter: 'cement.substitute.steel_slag',
      aggregation: 'totalizer',
      unit: 't',
      value: (d) => String(d),
    },
    'coal.total': {
      parameter: 'cement.fuel_consumption.bituminous_coal',
      aggregation: 'totalizer',
      unit: 't',
      value: (d) => String(10 * d),
    },
  });

  it('keeps each parameter in its own unit', () => {
    expect(param(pkg, 'cement.substitute.carbide_slag')).toMatchObject({ value: '62000', unit: 'kg' });
    expect(param(pkg, 'cement.clinker_cao')).toMatchObject({ value: '65.5', unit: '%' });
    expect(param(pkg, 'cement.clinker_output')).toMatchObject({ value: '3100', unit: 't' });
  });

  it('computes the clinker factor from CaO/MgO, less the deductions, plus fuel CO2 (docs/domain.md §2.2, §2.5)', () => {
    // EF = 0.655 × 44/56 + 0.020 × 44/40 = 0.514642857142857… + 0.022 = 0.536642857142857…
    // 3100 × EF = 1595.392857142857… + 68.2 = 1663.592857142857…
    // deductions: carbide slag 62000 kg = 62 t × 0.480 = 29.76; steel slag 31 t × 0.215 = 6.665
    // process = 1663.592857142857… − 36.425 = 1627.167857142857… → 1627.167857
    // fuel = 310 t × 25.8 GJ/t × 0.0258 t C/GJ × 1 × 44/12 = 206.3484 × 44/12 = 756.6108
    expect(items(pkg)).toEqual([
      ['cement.process_co2', 'CO2', '1627.167857', '1627.167857', 'calculated'],
      ['cement.fuel_co2.bituminous_coal', 'CO2', '756.6108', '756.6108', 'calculated'],
    ]);
    expect(pkg.emissions.totalCo2e).toBe('2383.778657');
    const process = pkg.emissions.items[0];
    expect(process?.factors.map((f) => f.id)).toEqual([
      'cement.deduction.carbide_slag',
      'cement.deduction.steel_slag',
    ]);
    expect(process?.inputs.find((i) => i.parameter === 'cement.substitute.carbide_slag')).toEqual({
      parameter: 'cement.substitute.carbide_slag',
      value: '62000',
      unit: 'kg',
      converted: { value: '62', unit: 't' },
    });
    expect(pkg.emissions.notes.join('\n')).toMatch(/non-carbonate CaO or MgO not given, taken as 0/);
  });
});

describe('steel with gases in Nm³ (2026-04)', async () => {
  const daily = (per: number) => (d: number) => String(per * d);
  const pkg = await month(2026, 4, 30, 'steel', {
    'bof.total': {
      parameter: 'steel.crude_steel_output',
      aggregation: 'totalizer',
      unit: 't',
      value: daily(100),
    },
    'coke.total': {
      parameter: 'steel.fuel_consumption.coke',
      aggregation: 'totalizer',
      unit: 't',
      value: daily(35),
    },
    'pci.total': {
      parameter: 'steel.fuel_consumption.pulverized_coal',
      aggregation: 'totalizer',
      unit: 'kg',
      value: daily(15000),
    },
    'ng.total': {
      parameter: 'steel.fuel_consumption.natural_gas',
      aggregation: 'totalizer',
      unit: 'Nm³',
      value: daily(4000),
    },
    'flux.total': {
      parameter: 'steel.carbon_input.limestone',
      aggregation: 'totalizer',
      unit: 't',
      value: daily(6),
    },
    'tar.total': {
      parameter: 'steel.carbon_product_output.tar',
      aggregation: 'totalizer',
      unit: 't',
      value: (d) => (1.2 * d).toFixed(1),
    },
    'benzol.total': {
      parameter: 'steel.carbon_product_output.crude_benzol',
      aggregation: 'totalizer',
      unit: 't',
      value: (d) => (0.4 * d).toFixed(1),
    },
    'ldg.total': {
      parameter: 'steel.carbon_product_output.converter_gas',
      aggregation: 'totalizer',
      unit: 'Nm³',
      value: daily(10000),
    },
  });

  it('never labels a gas volume as tonnes', () => {
    expect(param(pkg, 'steel.fuel_consumption.natural_gas')).toMatchObject({ value: '120000', unit: 'Nm³' });
    expect(param(pkg, 'steel.carbon_product_output.converter_gas')).toMatchObject({
      value: '300000',
      unit: 'Nm³',
    });
    expect(param(pkg, 'steel.fuel_consumption.pulverized_coal')).toMatchObject({
      value: '450000',
      unit: 'kg',
    });
  });

  it('computes fuel + process − carbon fixed (docs/domain.md §2.3, §2.5)', () => {
    // coke = 1050 t × 28.2 × 0.0292 × 1 × 44/12 = 864.612 t C × 44/12 = 3170.244
    // natural gas = 120000 Nm³ = 12 × 10^4 Nm³ × 389.31 GJ = 4671.72 GJ × 0.0153 = 71.477316 t C × 44/12 = 262.083492
    // PCI = 450000 kg = 450 t × 25.8 × 0.0258 × 1 × 44/12 = 299.538 × 44/12 = 1098.306
    // process = 180 t limestone × 0.440 = 79.2
    // fixed = 3000 × 0.0154 + 36 × 2.2587 + 12 × 3.385 + 30 × 10^4 Nm³ × 84.00 GJ × 0.0496 × 44/12
    //       = 46.2 + 81.3132 + 40.62 + 458.304 = 626.4372
    // total = 3170.244 + 262.083492 + 1098.306 + 79.2 − 626.4372 = 3983.396292
    expect(items(pkg)).toEqual([
      ['steel.fuel_co2.coke', 'CO2', '3170.244', '3170.244', 'calculated'],
      ['steel.fuel_co2.natural_gas', 'CO2', '262.083492', '262.083492', 'calculated'],
      ['steel.fuel_co2.pulverized_coal', 'CO2', '1098.306', '1098.306', 'calculated'],
      ['steel.process_co2', 'CO2', '79.2', '79.2', 'calculated'],
      ['steel.carbon_fixed', 'CO2', '-626.4372', '-626.4372', 'calculated'],
    ]);
    expect(pkg.emissions.totalCo2e).toBe('3983.396292');
    const ng = pkg.emissions.items[1];
    expect(ng?.inputs[0]).toEqual({
      parameter: 'steel.fuel_consumption.natural_gas',
      value: '120000',
      unit: 'Nm³',
      converted: { value: '12', unit: '10^4 Nm³' },
    });
    expect(ng?.factors.map((f) => [f.id, f.unit])).toEqual([
      ['fuel.natural_gas.ncv', 'GJ/10^4 Nm³'],
      ['fuel.natural_gas.carbon_per_gj', 't C/GJ'],
      ['fuel.natural_gas.oxidation', '1'],
    ]);
    expect(pkg.emissions.notes).toEqual([]);
  });
});

describe('power with a lab NCV and no elemental carbon, electricity in kWh (2026-05)', async () => {
  const pkg = await month(2026, 5, 31, 'power', {
    'coal.total': {
      parameter: 'power.fuel_consumption.bituminous_coal',
      aggregation: 'totalizer',
      unit: 't',
      value: (d) => String(1000 * d),
    },
    'lab.ncv': {
      parameter: 'power.ncv.bituminous_coal',
      aggregation: 'gauge',
      unit: 'GJ/t',
      value: () => '20.93',
    },
    'grid.import': {
      parameter: 'power.purchased_electricity',
      aggregation: 'totalizer',
      unit: 'kWh',
      value: (d) => String(10000 * d),
    },
  });

  it('uses the default carbon per unit heat 0.03085 t C/GJ, never the IPCC 0.0258 (docs/domain.md §2.4)', () => {
    // fuel = 31000 t × 20.93 GJ/t × 0.03085 t C/GJ × 1 × 44/12 = 20016.4055 t C × 44/12 = 73393.486833…
    // electricity = 310000 kWh = 310 MWh × 0.5703 = 176.793; total 73570.279833
    expect(items(pkg)).toEqual([
      ['power.fuel_co2.bituminous_coal', 'CO2', '73393.486833', '73393.486833', 'default'],
      ['power.purchased_electricity_co2', 'CO2', '176.793', '176.793', 'calculated'],
    ]);
    expect(pkg.emissions.totalCo2e).toBe('73570.279833');
    expect(pkg.emissions.items[0]?.factors.map((f) => `${f.id}=${f.value}`)).toEqual([
      'power.fuel.bituminous_coal.carbon_per_gj=0.03085',
      'power.fuel.bituminous_coal.oxidation=1',
    ]);
    expect(pkg.emissions.notes.join('\n')).toMatch(/elemental carbon content not measured/);
    expect(param(pkg, 'power.purchased_electricity')).toMatchObject({ value: '310000', unit: 'kWh' });
  });
});

describe('units that do not meet', async () => {
  it('never sums a mass and a volume into one parameter', async () => {
    const pkg = await month(2026, 4, 30, 'steel', {
      'ng.a': {
        parameter: 'steel.fuel_consumption.natural_gas',
        aggregation: 'totalizer',
        unit: 'Nm³',
        value: (d) => String(d),
      },
      'ng.b': {
        parameter: 'steel.fuel_consumption.natural_gas',
        aggregation: 'totalizer',
        unit: 't',
        value: (d) => String(d),
      },
    });
    expect(param(pkg, 'steel.fuel_consumption.natural_gas')?.value).toBeNull();
    expect(pkg.emissions.notes[0]).toMatch(
      /^MRV_E_UNIT_MISMATCH: steel.fuel_consumption.natural_gas has points in/,
    );
    expect(pkg.emissions.items).toEqual([]);
  });

  it('does not take a rate (Nm³/h) for a volume', async () => {
    const pkg = await month(2026, 4, 30, 'steel', {
      'ng.t': {
        parameter: 'steel.fuel_consumption.natural_gas',
        aggregation: 'totalizer',
        unit: 'Nm³/h',
        value: (d) => String(d),
      },
    });
    expect(pkg.emissions.items).toEqual([]);
    expect(pkg.emissions.notes.join('\n')).toMatch(
      /MRV_E_UNIT_MISMATCH: steel.fuel_consumption.natural_gas is measured in Nm³\/h/,
    );
  });
});
