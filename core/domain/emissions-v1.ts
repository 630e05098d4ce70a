/**
 * Emissions as computed for evidence formatVersion 1 (packages made before issue 18 items 6-7), frozen
 * so that such a package recomputes exactly as it was made (`mrv verify`): every parameter taken in
 * its catalogue unit, fuels by the generic `fuel.*` factors, aluminium defaults by NC × (1 − S − A)
 * and per-gas PFC factors. New packages use core/domain/emissions.ts. Do not change this file.
 */
import type { Industry } from '../schema/wire.ts';
import { D, type Dec, dec, text } from './decimal.ts';
import {
  EMISSION_DECIMALS,
  type EmissionInput,
  type EmissionItem,
  type EmissionsOptions,
  type EmissionsResult,
  type ParameterValues,
} from './emissions.ts';
import { type CitedFactor, type FactorPack, factor, gwp, hasFactor } from './factors.ts';

const round = (d: Dec) => text(d, EMISSION_DECIMALS);

function get(values: ParameterValues, id: string): Dec | undefined {
  const v = values.get(id);
  return v === undefined ? undefined : dec(v);
}

/** Kinds of a qualified parameter present in the values: `cement.substitute` → ['fly_ash', ...], sorted. */
function kinds(values: ParameterValues, prefix: string): string[] {
  return [...values.keys()]
    .filter((k) => k.startsWith(`${prefix}.`) && !k.slice(prefix.length + 1).includes('.'))
    .map((k) => k.slice(prefix.length + 1))
    .sort();
}

function item(base: Omit<EmissionItem, 'mass' | 'co2e'>, mass: Dec, gwpFactor?: CitedFactor): EmissionItem {
  const m = mass.toDecimalPlaces(EMISSION_DECIMALS, D.ROUND_HALF_EVEN);
  const co2e = gwpFactor ? mass.times(dec(gwpFactor.value)) : mass;
  return {
    ...base,
    mass: round(m),
    co2e: round(co2e),
    factors: gwpFactor ? [...base.factors, gwpFactor] : base.factors,
  };
}

function aluminium(
  values: ParameterValues,
  pack: FactorPack,
  o: EmissionsOptions,
  notes: string[],
): EmissionItem[] {
  const out: EmissionItem[] = [];
  const P = get(values, 'aluminium.liquid_output');
  const AC = get(values, 'aluminium.anode_consumption');
  const S = factor(pack, 'aluminium.anode_sulphur');
  const A = factor(pack, 'aluminium.anode_ash');
  const carbonShare = new D(1).minus(dec(S.value)).minus(dec(A.value));
  const names = {
    id: 'aluminium.anode_co2',
    nameZh: '阳极消耗CO2排放',
    nameEn: 'CO2 from anode consumption',
    gas: 'CO2' as const,
  };
  if (AC !== undefined) {
    out.push(
      item(
        {
          ...names,
          method: 'calculated',
          formula: 'E_CO2 = AC × (1 − S − A) × 44/12',
          inputs: [{ parameter: 'aluminium.anode_consumption', value: text(AC), unit: 't' }],
          factors: [S, A],
        },
        AC.times(carbonShare).times(44).div(12),
      ),
    );
  } else if (P !== undefined) {
    const NC = factor(pack, 'aluminium.anode_net_consumption_default');
    notes.push('anode consumption not measured: anode CO2 from the default net consumption per t Al');
    out.push(
      item(
        {
          ...names,
          method: 'default',
          formula: 'E_CO2 = P × NC × (1 − S − A) × 44/12',
          inputs: [{ parameter: 'aluminium.liquid_output', value: text(P), unit: 't' }],
          factors: [NC, S, A],
        },
        P.times(dec(NC.value)).times(carbonShare).times(44).div(12),
      ),
    );
  } else notes.push('neither anode consumption nor liquid aluminium output: no anode CO2');

  if (P === undefined) {
    notes.push('no liquid aluminium output: no PFC emissions');
    return out;
  }
  const dur = get(values, 'aluminium.anode_effect_duration');
  const cells = get(values, 'aluminium.cells_in_operation');
  const method = o.pfcMethod ?? 'auto';
  const slopeOk = dur && cells?.gt(0) && dec(o.periodDays).gt(0);
  if (method === 'slope' && !slopeOk)
    notes.push('slope method asked for but anode-effect duration or cells missing: default factors used');
  const pIn: EmissionInput = { parameter: 'aluminium.liquid_output', value: text(P), unit: 't' };
  let efCf4: Dec;
  let efC2f6: Dec;
  let used: CitedFactor[];
  let inputs: EmissionInput[];
  let pfcMethod: 'calculated' | 'default';
  let formulaCf4: string;
  let formulaC2f6: string;
  if (slopeOk && method !== 'default') {
    const slope = factor(pack, 'aluminium.slope_cf4');
    const ratio = factor(pack, 'aluminium.c2f6_to_cf4');
    // AEM: anode-effect minutes per cell-day = (cell-seconds / 60) / (mean cells × days).
    const aem = dur!.div(60).div(cells!.times(dec(o.periodDays)));
    efCf4 = dec(slope.value).times(aem);
    efC2f6 = efCf4.times(dec(ratio.value));
    used = [slope, ratio];
    inputs = [
      pIn,
      { parameter: 'aluminium.anode_effect_duration', value: text(dur!), unit: 'cell·s' },
      { parameter: 'aluminium.cells_in_operation', value: text(cells!), unit: 'count' },
      { parameter: 'period.days', value: o.periodDays, unit: 'd' },
      { parameter: 'aluminium.aem', value: text(aem, 10), unit: 'AE-min/(cell·d)' },
    ];
    pfcMethod = 'calculated';
    formulaCf4 = 'AEM = T_AE / 60 / (N_cells × days); E_CF4 = P × slope × AEM / 1000';
    formulaC2f6 = 'E_C2F6 = E_CF4 × r_C2F6/CF4';
  } else {
    const fCf4 = factor(pack, 'aluminium.ef_cf4_default');
    const fC2f6 = factor(pack, 'aluminium.ef_c2f6_default');
    efCf4 = dec(fCf4.value);
    efC2f6 = dec(fC2f6.value);
    used = [fCf4, fC2f6];
    inputs = [pIn];
    pfcMethod = 'default';
    formulaCf4 = 'E_CF4 = P × EF_CF4 / 1000';
    formulaC2f6 = 'E_C2F6 = P × EF_C2F6 / 1000';
  }
  out.push(
    item(
      {
        id: 'aluminium.pfc_cf4',
        nameZh: '阳极效应CF4排放',
        nameEn: 'CF4 from anode effects',
        gas: 'CF4',
        method: pfcMethod,
        formula: formulaCf4,
        inputs,
        factors: pfcMethod === 'default' ? [used[0]!] : used,
      },
      P.times(efCf4).div(1000),
      gwp(pack, 'CF4'),
    ),
  );
  out.push(
    item(
      {
        id: 'aluminium.pfc_c2f6',
        nameZh: '阳极效应C2F6排放',
        nameEn: 'C2F6 from anode effects',
        gas: 'C2F6',
        method: pfcMethod,
        formula: formulaC2f6,
        inputs,
        factors: pfcMethod === 'default' ? [used[1]!] : used,
      },
      P.times(efC2f6).div(1000),
      gwp(pack, 'C2F6'),
    ),
  );
  return out;
}

/**
 * Σ Q_k × EF_k over every kind k of a parameter family (`${paramPrefix}.k`, tonnes) with its factor
 * `${factorPrefix}.k`; each term's input and factor are appended to `inputs`/`factors`. A kind without
 * a factor is left out and `noteOf(kind, factorId)` says so in `notes`.
 * @returns the sum in the factors' unit (t CO2)
 */
function sumOverKinds(
  values: ParameterValues,
  pack: FactorPack,
  paramPrefix: string,
  factorPrefix: string,
  noteOf: (kind: string, factorId: string) => string,
  acc: { inputs: EmissionInput[]; factors: CitedFactor[]; notes: string[] },
): Dec {
  let sum = new D(0);
  for (const k of kinds(values, paramPrefix)) {
    const fid = `${factorPrefix}.${k}`;
    if (!hasFactor(pack, fid)) {
      acc.notes.push(noteOf(k, fid));
      continue;
    }
    const q = get(values, `${paramPrefix}.${k}`)!;
    const f = factor(pack, fid);
    acc.inputs.push({ parameter: `${paramPrefix}.${k}`, value: text(q), unit: 't' });
    acc.factors.push(f);
    sum = sum.plus(q.times(dec(f.value)));
  }
  return sum;
}

/** Fuel CO2 = FC × NCV × CC × OF × 44/12 per fuel, NCV and carbon from measured parameters when present. */
function fuelItems(
  values: ParameterValues,
  pack: FactorPack,
  prefix: string,
  id: string,
  notes: string[],
  measured?: { carbon: string; ncv: string },
): EmissionItem[] {
  const out: EmissionItem[] = [];
  for (const fuel of kinds(values, prefix)) {
    const fc = get(values, `${prefix}.${fuel}`)!;
    const inputs: EmissionInput[] = [{ parameter: `${prefix}.${fuel}`, value: text(fc), unit: 't' }];
    const ofId = `fuel.${fuel}.oxidation`;
    if (!hasFactor(pack, ofId)) {
      notes.push(`fuel "${fuel}": no ${ofId} in the factor pack, no CO2 computed`);
      continue;
    }
    const OF = factor(pack, ofId);
    const car = measured ? get(values, `${measured.carbon}.${fuel}`) : undefined;
    let carbon: Dec;
    let factors: CitedFactor[];
    let formula: string;
    if (car !== undefined) {
      inputs.push({ parameter: `${measured!.carbon}.${fuel}`, value: text(car), unit: 't C/t' });
      carbon = fc.times(car);
      factors = [OF];
      formula = 'E = FC × C_ar × OF × 44/12';
    } else {
      const ncvMeasured = measured ? get(values, `${measured.ncv}.${fuel}`) : undefined;
      const ncvF = ncvMeasured === undefined ? factor(pack, `fuel.${fuel}.ncv`) : undefined;
      const ncv = ncvMeasured ?? dec(ncvF!.value);
      if (ncvMeasured !== undefined)
        inputs.push({ parameter: `${measured!.ncv}.${fuel}`, value: text(ncvMeasured), unit: 'GJ/t' });
      const cc = factor(pack, `fuel.${fuel}.carbon_per_gj`);
      carbon = fc.times(ncv).times(dec(cc.value));
      factors = [...(ncvF ? [ncvF] : []), cc, OF];
      formula = 'E = FC × NCV × CC × OF × 44/12';
    }
    out.push(
      item(
        {
          id: `${id}.${fuel}`,
          nameZh: `燃料燃烧CO2排放 (${fuel})`,
          nameEn: `Fuel combustion CO2 (${fuel})`,
          gas: 'CO2',
          method: 'calculated',
          formula,
          inputs,
          factors,
        },
        carbon.times(dec(OF.value)).times(44).div(12),
      ),
    );
  }
  return out;
}

function cement(
  values: ParameterValues,
  pack: FactorPack,
  o: EmissionsOptions,
  notes: string[],
): EmissionItem[] {
  const out: EmissionItem[] = [];
  const clinker = get(values, 'cement.clinker_output');
  if (clinker === undefined) notes.push('no clinker output: no process CO2');
  else {
    const ef = factor(pack, `cement.ef_clinker.${o.clinkerType ?? 'portland'}`);
    let e = clinker.times(dec(ef.value));
    const inputs: EmissionInput[] = [{ parameter: 'cement.clinker_output', value: text(clinker), unit: 't' }];
    const factors: CitedFactor[] = [ef];
    e = e.minus(
      sumOverKinds(
        values,
        pack,
        'cement.substitute',
        'cement.deduction',
        (m, fid) => `substitute material "${m}" has no deduction factor ${fid}: not deducted`,
        { inputs, factors, notes },
      ),
    );
    out.push(
      item(
        {
          id: 'cement.process_co2',
          nameZh: '熟料生产过程CO2排放 (扣除替代原料)',
          nameEn: 'Clinker process CO2 less substitute deductions',
          gas: 'CO2',
          method: 'calculated',
          formula: 'E = Q_clinker × EF_clinker − Σ Q_i × D_i',
          inputs,
          factors,
        },
        e,
      ),
    );
  }
  out.push(...fuelItems(values, pack, 'cement.fuel_consumption', 'cement.fuel_co2', notes));
  return out;
}

function steel(
  values: ParameterValues,
  pack: FactorPack,
  _o: EmissionsOptions,
  notes: string[],
): EmissionItem[] {
  const out = fuelItems(values, pack, 'steel.fuel_consumption', 'steel.fuel_co2', notes);
  const inputs: EmissionInput[] = [];
  const factors: CitedFactor[] = [];
  const e = sumOverKinds(
    values,
    pack,
    'steel.carbon_input',
    'steel.input',
    (m, fid) => `carbon-bearing input "${m}" has no factor ${fid}`,
    { inputs, factors, notes },
  );
  if (inputs.length > 0)
    out.push(
      item(
        {
          id: 'steel.process_co2',
          nameZh: '过程排放 (熔剂、电极、外购含碳原料)',
          nameEn: 'Process CO2 (fluxes, electrodes, purchased carbon-bearing materials)',
          gas: 'CO2',
          method: 'calculated',
          formula: 'E = Σ Q_i × EF_i',
          inputs,
          factors,
        },
        e,
      ),
    );
  const fixedIn: EmissionInput[] = [];
  const fixedF: CitedFactor[] = [];
  let fixed = new D(0);
  const crude = get(values, 'steel.crude_steel_output');
  if (crude !== undefined) {
    const f = factor(pack, 'steel.carbon_fixed.crude_steel');
    fixedIn.push({ parameter: 'steel.crude_steel_output', value: text(crude), unit: 't' });
    fixedF.push(f);
    fixed = fixed.plus(crude.times(dec(f.value)));
  }
  fixed = fixed.plus(
    sumOverKinds(
      values,
      pack,
      'steel.carbon_product_output',
      'steel.output',
      (p, fid) => `carbon-bearing product "${p}" has no factor ${fid}`,
      { inputs: fixedIn, factors: fixedF, notes },
    ),
  );
  if (fixedIn.length > 0)
    out.push(
      item(
        {
          id: 'steel.carbon_fixed',
          nameZh: '固碳产品隐含排放 (扣减)',
          nameEn: 'Carbon fixed in products (deducted)',
          gas: 'CO2',
          method: 'calculated',
          formula: 'E = −Σ Q_j × EF_j',
          inputs: fixedIn,
          factors: fixedF,
        },
        fixed.neg(),
      ),
    );
  return out;
}

function power(
  values: ParameterValues,
  pack: FactorPack,
  _o: EmissionsOptions,
  notes: string[],
): EmissionItem[] {
  const out = fuelItems(values, pack, 'power.fuel_consumption', 'power.fuel_co2', notes, {
    carbon: 'power.carbon_content',
    ncv: 'power.ncv',
  });
  const el = get(values, 'power.purchased_electricity');
  if (el !== undefined) {
    const f = factor(pack, 'power.grid_ef');
    out.push(
      item(
        {
          id: 'power.purchased_electricity_co2',
          nameZh: '购入电力CO2排放',
          nameEn: 'CO2 of purchased electricity',
          gas: 'CO2',
          method: 'calculated',
          formula: 'E = AD_el × EF_grid',
          inputs: [{ parameter: 'power.purchased_electricity', value: text(el), unit: 'MWh' }],
          factors: [f],
        },
        el.times(dec(f.value)),
      ),
    );
  }
  return out;
}

/**
 * Emissions of formatVersion 1 from its period parameter values (`options.units` and
 * `options.factorPackDigest` are ignored: version 1 had neither).
 * - aluminium: anode CO2 = AC × (1 − S − A) × 44/12 (or P × NC × … by default); CF4 and C2F6 by the
 *   slope method from AEM or the default factors, with the pack's GWP set (DOMAIN.md §2);
 * - cement: process CO2 = clinker × EF_clinker − Σ substitute × deduction, plus fuel CO2;
 * - steel: fuel CO2 + process CO2 of carbon-bearing inputs − carbon fixed in crude steel and products;
 * - power: fuel CO2 (measured carbon content when present, else NCV × carbon per GJ) + purchased electricity × grid factor.
 * @throws Error when the pack lacks a factor a present parameter needs (pack is incomplete)
 */
export function computeEmissionsV1(
  industry: Industry,
  values: ParameterValues,
  pack: FactorPack,
  options: EmissionsOptions,
): EmissionsResult {
  const notes: string[] = [];
  const fn = { aluminium, cement, steel, power }[industry];
  const items = fn(values, pack, options, notes);
  const total = items.reduce((s, i) => s.plus(dec(i.co2e)), new D(0));
  return {
    industry,
    factorPack: { id: pack.id, packVersion: pack.packVersion, gwpSet: pack.gwpSet },
    decimals: EMISSION_DECIMALS,
    items,
    totalCo2e: text(total),
    notes,
  };
}
