/**
 * The shipped factor pack (issue 18 item 6): every factor sourced to docs/domain.md and unconfirmed
 * unless it names the clause it was checked against; every fuel, product and deduction material of
 * docs/domain.md §2; the pack identified by its digest; `mrv verify` accepting only packs it knows.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { verify } from '../../../cli/evidence.ts';
import { computeEmissions } from '../../../core/domain/emissions.ts';
import { computeEvidence, type UnitCatalogue } from '../../../core/domain/evidence.ts';
import { type FactorPack, parseFactorPack } from '../../../core/domain/factors.ts';
import {
  checkFactorPack,
  factorPackDigest,
  knownFactorPacks,
  readFactorPackFile,
} from '../../../evidence/factor-packs.ts';
import { loadEvidenceKey, loadFactorPack, signEvidence, writeTrustFile } from '../../../evidence/service.ts';
import { cst, DAY, good, memorySource, rulePack } from './helpers.ts';

const pack = loadFactorPack();
const all = (p: FactorPack) => [
  ...Object.entries(p.factors),
  ...Object.entries(p.gwpSets).flatMap(([set, g]) =>
    Object.entries(g).map(([gas, f]) => [`gwp.${set}.${gas}`, f] as const),
  ),
];

describe('the shipped factor pack', () => {
  it('sources every value to a section of docs/domain.md and confirms none without a clause', () => {
    for (const [id, f] of all(pack)) {
      expect(f.source, id).toMatch(/docs\/domain\.md §\d(\.\d)?/);
      expect(f.confirmed && f.clause === undefined, id).toBe(false);
    }
    // Nothing has been checked against the official 2024 texts yet, GWP sets included.
    expect(all(pack).filter(([, f]) => f.confirmed)).toEqual([]);
  });

  it('refuses confirmed: true without the clause it was checked against', () => {
    const doc = structuredClone(pack) as unknown as { factors: Record<string, Record<string, unknown>> };
    (doc.factors['power.grid_ef'] as Record<string, unknown>).confirmed = true;
    expect(() => parseFactorPack(doc)).toThrow(
      /factors\.power\.grid_ef\.clause|confirmed: true needs the guideline clause/,
    );
    (doc.factors['power.grid_ef'] as Record<string, unknown>).clause = 'guideline X §1';
    expect(parseFactorPack(doc).factors['power.grid_ef']?.confirmed).toBe(true);
  });

  it('has every deduction material of docs/domain.md §2.2', () => {
    const materials = [
      'desulphurisation_powder',
      'slaked_lime',
      'carbide_slag',
      'magnesium_slag',
      'paper_white_mud',
      'caf2_sludge',
      'phosphorus_slag',
      'v_ti_slag',
      'fly_ash',
      'ferroalloy_slag',
      'desulphurisation_gypsum',
      'phosphogypsum',
      'titanium_gypsum',
      'fluorogypsum',
      'borogypsum',
      'citric_acid_residue',
      'steel_slag',
      'nickel_slag',
      'manganese_slag',
      'zinc_slag',
      'tin_slag',
      'municipal_sludge',
      'aluminium_slag',
      'pyrite_cinder',
      'copper_slag',
      'lead_zinc_slag',
      'coal_fly_ash',
      'red_mud',
    ];
    for (const m of materials) expect(pack.factors[`cement.deduction.${m}`], m).toBeDefined();
  });

  it('has the steel fuels (gases per 10^4 Nm³), inputs and products of docs/domain.md §2.3 and §2.5', () => {
    for (const fuel of ['coke', 'pulverized_coal', 'bituminous_coal', 'anthracite', 'fuel_oil', 'diesel'])
      expect(pack.factors[`fuel.${fuel}.ncv`]?.unit, fuel).toBe('GJ/t');
    for (const gas of ['natural_gas', 'coke_oven_gas', 'blast_furnace_gas', 'converter_gas'])
      expect(pack.factors[`fuel.${gas}.ncv`]?.unit, gas).toBe('GJ/10^4 Nm³');
    for (const fuel of [
      'coke',
      'pulverized_coal',
      'natural_gas',
      'coke_oven_gas',
      'blast_furnace_gas',
      'converter_gas',
    ])
      for (const x of ['carbon_per_gj', 'oxidation'])
        expect(pack.factors[`fuel.${fuel}.${x}`], `${fuel}.${x}`).toBeDefined();
    for (const m of [
      'limestone',
      'dolomite',
      'electrode',
      'pig_iron',
      'dri',
      'scrap',
      'ferronickel',
      'ferrochrome',
      'ferromolybdenum',
    ])
      expect(pack.factors[`steel.input.${m}`], m).toBeDefined();
    for (const p of ['pig_iron', 'methanol', 'crude_benzol', 'tar', 'coke'])
      expect(pack.factors[`steel.output.${p}`], p).toBeDefined();
  });

  it('labels what each aluminium and power default applies to', () => {
    expect(pack.factors['aluminium.anode_co2_default']).toMatchObject({ value: '1.424', unit: 't CO2/t Al' });
    expect(pack.factors['aluminium.pfc_co2e_default']).toMatchObject({
      value: '0.1454',
      unit: 't CO2e/t Al',
    });
    // No "t C/t Al" net consumption multiplied by (1 − S − A) any more.
    expect(Object.values(pack.factors).some((f) => f.unit === 't C/t Al')).toBe(false);
    expect(pack.factors['power.fuel.bituminous_coal.carbon_per_gj']?.value).toBe('0.03085');
  });
});

describe('a pack shipped before 2026.12 (history/) still computes as it did', () => {
  it('aluminium without anode data: legacy NC × (1 − S − A) × 44/12 and per-gas default PFC factors', () => {
    const old = readFactorPackFile(
      fileURLToPath(
        new URL('../../../core/domain/factors/history/cn-ets-defaults@2026.11-1.yaml', import.meta.url),
      ),
      { legacy: true },
    );
    const r = computeEmissions('aluminium', new Map([['aluminium.liquid_output', '2800']]), old, {
      periodDays: '28',
    });
    // anode = 2800 × 0.411 × (1 − 0.02 − 0.004) × 44/12 = 1123.1808 × 44/12 = 4118.3296
    // CF4 = 2800 × 0.034 / 1000 = 0.0952 t × 6630 = 631.176; C2F6 = 0.00952 t × 11100 = 105.672
    expect(r.items.map((i) => [i.id, i.mass, i.co2e])).toEqual([
      ['aluminium.anode_co2', '4118.3296', '4118.3296'],
      ['aluminium.pfc_cf4', '0.0952', '631.176'],
      ['aluminium.pfc_c2f6', '0.00952', '105.672'],
    ]);
  });
});

describe('a formatVersion 1 package recomputes with the emissions code it was made with', () => {
  it('catalogue units and the generic fuel factors, as before issue 18 items 6-7', async () => {
    const old = readFactorPackFile(
      fileURLToPath(
        new URL('../../../core/domain/factors/history/cn-ets-defaults@2026.11-1.yaml', import.meta.url),
      ),
      { legacy: true },
    );
    const noon = (d: number) => cst(2026, 4, 1, 12) + (d - 1) * DAY;
    const series = (f: (d: number) => string) => Array.from({ length: 31 }, (_, d) => good(noon(d), f(d)));
    const point = (id: string, parameter: string, unit: string) => ({
      id,
      device: 'd',
      unit,
      gatewayId: 'gw',
      expectedIntervalMs: DAY,
      aggregation: 'totalizer' as const,
      parameter,
    });
    const body = await computeEvidence({
      catalogue: {
        unit: { id: 'U-st', name: 'st', industry: 'steel', province: 'P' },
        points: [
          point('ng', 'steel.fuel_consumption.natural_gas', 'Nm³'),
          point('coal', 'steel.fuel_consumption.bituminous_coal', 't'),
        ],
        meters: [],
      },
      month: '2026-04',
      source: memorySource({ ng: series((d) => String(4000 * d)), coal: series((d) => String(50 * d)) }),
      factorPack: old,
      rulePack: rulePack('steel'),
      generatedAt: cst(2026, 5, 2),
      generator: 'test',
      formatVersion: 1,
    });
    // Version 1 labelled the gas with the catalogue's tonnes (the defect this issue fixed) and had no
    // factors for it; the coal: 1500 × 23.0 × 0.0258 × 0.98 × 44/12 = 3198.426.
    expect(body.parameters.find((p) => p.id === 'steel.fuel_consumption.natural_gas')?.unit).toBe('t');
    expect(body.emissions.items.map((i) => [i.id, i.co2e])).toEqual([
      ['steel.fuel_co2.bituminous_coal', '3198.426'],
    ]);
    expect(body.emissions.notes).toEqual([
      'fuel "natural_gas": no fuel.natural_gas.oxidation in the factor pack, no CO2 computed',
    ]);
    expect(body.emissions.unconfirmedFactors).toBeUndefined();
  });
});

describe('pinning a factor pack', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'mrv-pack-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('identifies a pack by the digest of its canonical JSON and knows the shipped ones', () => {
    const d = factorPackDigest(pack);
    expect(d).toMatch(/^[0-9a-f]{64}$/);
    expect(factorPackDigest(structuredClone(pack))).toBe(d);
    const known = knownFactorPacks();
    expect(known.map((k) => `${k.id}@${k.packVersion}`)).toEqual([
      'cn-ets-defaults@2026.12-1',
      'cn-ets-defaults@2026.11-1', // history/: as shipped, sources citing DOMAIN.md
      'cn-ets-defaults@2026.11-1', // history/: the same values citing docs/domain.md (another digest)
    ]);
    expect(new Set(known.map((k) => k.digest)).size).toBe(3);
    expect(checkFactorPack(pack, d, known)).toMatchObject({ ok: true, digest: d });
    const own = structuredClone(pack);
    (own.factors['aluminium.slope_cf4'] as { value: string }).value = '0.043';
    expect(checkFactorPack(own, undefined, known)).toMatchObject({
      ok: false,
      code: 'MRV_E_FACTOR_PACK_UNKNOWN',
    });
    // A recorded digest that is not the carried pack's.
    expect(checkFactorPack(pack, factorPackDigest(own), known)).toMatchObject({ ok: false });
  });

  it('mrv verify rejects a package rebuilt with its own pack (CF4 slope 0.143 → 0.043), even signed by a trusted key', async () => {
    const key = loadEvidenceKey(path.join(tmp, 'evidence.pem'));
    const trust = path.join(tmp, 'evidence.pub.json');
    writeTrustFile(trust, key, 'test');
    const catalogue: UnitCatalogue = {
      unit: { id: 'U-al', name: 'al', industry: 'aluminium', province: 'P' },
      points: [
        {
          id: 'ladle',
          device: 'd',
          unit: 't',
          gatewayId: 'gw',
          expectedIntervalMs: DAY,
          aggregation: 'totalizer',
          parameter: 'aluminium.liquid_output',
        },
        {
          id: 'ae',
          device: 'd',
          unit: 's',
          gatewayId: 'gw',
          expectedIntervalMs: DAY,
          aggregation: 'totalizer',
          parameter: 'aluminium.anode_effect_duration',
        },
        {
          id: 'cells',
          device: 'd',
          unit: 'count',
          gatewayId: 'gw',
          expectedIntervalMs: DAY,
          aggregation: 'gauge',
          parameter: 'aluminium.cells_in_operation',
        },
      ],
      meters: [],
    };
    const noon = (d: number) => cst(2026, 2, 1, 12) + (d - 1) * DAY;
    const series = (f: (d: number) => string) => Array.from({ length: 29 }, (_, d) => good(noon(d), f(d)));
    const data = {
      ladle: series((d) => String(600 * d)),
      ae: series((d) => String(9000 * d)),
      cells: series(() => '240'),
    };
    const make = async (p: FactorPack) =>
      signEvidence(
        await computeEvidence({
          catalogue,
          month: '2026-02',
          source: memorySource(data),
          factorPack: p,
          rulePack: rulePack('aluminium'),
          generatedAt: cst(2026, 3, 2),
          generator: 'test',
          factorPackDigest: factorPackDigest(p),
        }),
        key,
      );
    const own = structuredClone(pack);
    (own.factors['aluminium.slope_cf4'] as { value: string }).value = '0.043';
    const files = {
      shipped: path.join(tmp, 'shipped.json'),
      own: path.join(tmp, 'own.json'),
      ownPack: path.join(tmp, 'own.yaml'),
    };
    const good1 = await make(pack);
    const bad = await make(own);
    // The own pack lowers the CF4 figure by 0.043/0.143; the package is otherwise consistent.
    expect(Number(bad.emissions.items[1]?.co2e)).toBeLessThan(Number(good1.emissions.items[1]?.co2e));
    expect(bad.emissions.factorPack.digest).toBe(factorPackDigest(own));
    writeFileSync(files.shipped, JSON.stringify(good1));
    writeFileSync(files.own, JSON.stringify(bad));
    writeFileSync(files.ownPack, stringify(own));
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const text = () => out.mock.calls.map((c) => String(c[0])).join('');
    try {
      expect(await verify([files.shipped, '--trusted-keys', trust])).toBe(0);
      expect(text()).toMatch(/factor pack: OK \(cn-ets-defaults@2026\.12-1, sha256 [0-9a-f]{64}/);
      out.mockClear();
      expect(await verify([files.own, '--trusted-keys', trust])).toBe(1);
      expect(text()).toMatch(/REJECTED: factor pack: MRV_E_FACTOR_PACK_UNKNOWN/);
      out.mockClear();
      // A verifier who accepts that pack says so explicitly.
      expect(await verify([files.own, '--trusted-keys', trust, '--factor-pack', files.ownPack])).toBe(0);
    } finally {
      out.mockRestore();
    }
  });
});
