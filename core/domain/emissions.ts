/**
 * Emissions from key parameters and a factor pack (docs/architecture.md §7, docs/domain.md §2). Every
 * figure names the parameters and factors it used; every factor carries its source and `confirmed`
 * flag, and the result lists every unconfirmed factor used (`unconfirmedFactors`).
 *
 * Units (issue 18 item 7): each parameter value comes with the unit its points measured it in
 * (`EmissionsOptions.units`, default the catalogue unit). A quantity is rescaled only within its
 * dimension to what the factor applies to (core/domain/units.ts): a gas measured in Nm³ takes an NCV
 * per 10^4 Nm³, never a factor per tonne; a quantity whose unit does not fit its factor is not
 * computed and a `MRV_E_UNIT_MISMATCH` note says so.
 *
 * Figures are computed at 40 significant digits and published rounded half-even to
 * {@link EMISSION_DECIMALS} decimals (t); the total is the sum of the published items.
 */
import type { Industry } from '../schema/wire.ts';
import { D, type Dec, dec, text } from './decimal.ts';
import { type CitedFactor, type FactorPack, factor, firstFactor, gwp, hasFactor } from './factors.ts';
import { convert, perUnitOf } from './units.ts';

/** Decimals (t) of published emission figures. */
export const EMISSION_DECIMALS = 6;

/** Period values of parameters by id (qualified ids such as `cement.substitute.fly_ash` included). */
export type ParameterValues = ReadonlyMap<string, string>;

/** An input of an emission figure: the parameter's value in the unit it was measured in. */
export interface EmissionInput {
  parameter: string;
  value: string;
  unit: string;
  /** The same quantity rescaled to the unit its factor applies to (kg → t, Nm³ → 10^4 Nm³), when it differs. */
  converted?: { value: string; unit: string };
}

/** One emission figure. */
export interface EmissionItem {
  id: string;
  nameZh: string;
  nameEn: string;
  /** The gas; `CF4+C2F6` for a default PFC intensity that gives only the CO2-equivalent of both. */
  gas: 'CO2' | 'CF4' | 'C2F6' | 'CF4+C2F6';
  /** Mass of the gas, t (negative for deductions such as carbon fixed in products); null when only CO2e is known. */
  mass: string | null;
  /** CO2-equivalent, t CO2e. */
  co2e: string;
  /** `calculated` from measured parameters, `default` when a default replaced a missing measurement. */
  method: 'calculated' | 'default';
  /** The formula in words, with the symbols of `inputs` and `factors`. */
  formula: string;
  inputs: EmissionInput[];
  factors: CitedFactor[];
}

/** Emissions of a unit over a period. */
export interface EmissionsResult {
  industry: Industry;
  /** The pack used; `digest` (SHA-256 of its canonical JSON) when the caller gave it. */
  factorPack: { id: string; packVersion: string; gwpSet: string; digest?: string };
  decimals: number;
  items: EmissionItem[];
  /** Σ items' co2e, t CO2e. */
  totalCo2e: string;
  /**
   * Every factor used that is not confirmed against the official text (ids, sorted): the package names
   * them. Always set by {@link computeEmissions}; absent in formatVersion 1 packages (emissions-v1.ts).
   */
  unconfirmedFactors?: string[];
  /** What could not be computed and why. */
  notes: string[];
}

/** Options of {@link computeEmissions}. */
export interface EmissionsOptions {
  /** Length of the period in days (AEM needs cell-days). */
  periodDays: string;
  /** Cement clinker type, a suffix of `cement.ef_clinker.*` in the pack. Default `portland`. */
  clinkerType?: string;
  /** Aluminium PFC: `slope` (needs anode-effect duration and cells), `default`, or `auto` (slope when possible). */
  pfcMethod?: 'auto' | 'slope' | 'default';
  /** Unit of each parameter value as measured (parameter id → unit); absent: the catalogue unit. */
  units?: ReadonlyMap<string, string>;
  /** SHA-256 (hex) of the pack's canonical JSON, recorded in the result. */
  factorPackDigest?: string;
}

/** What the industry functions share: the values with their units, the pack, and the notes. */
interface Ctx {
  values: ParameterValues;
  pack: FactorPack;
  o: EmissionsOptions;
  notes: string[];
}

const round = (d: Dec) => text(d, EMISSION_DECIMALS);

function get(values: ParameterValues, id: string): Dec | undefined {
  const v = values.get(id);
  return v === undefined ? undefined : dec(v);
}

/** The unit a parameter value was measured in (catalogue unit `fallback` when not told). */
function unitOf(c: Ctx, id: string, fallback: string): string {
  return c.o.units?.get(id) ?? fallback;
}

/**
 * A parameter's value as an input, rescaled to `want` (the unit its factor applies to).
 * @returns the input and the value in `want`, or undefined (with a `MRV_E_UNIT_MISMATCH` note) when
 *   the measured unit cannot be rescaled to `want` without a density or NCV the pack does not declare
 */
function quantity(
  c: Ctx,
  id: string,
  want: string,
  fallbackUnit = 't',
): { input: EmissionInput; value: Dec } | undefined {
  const v = get(c.values, id);
  if (v === undefined) return undefined;
  const unit = unitOf(c, id, fallbackUnit);
  const inWant = convert(v, unit, want);
  if (inWant === undefined) {
    c.notes.push(
      `MRV_E_UNIT_MISMATCH: ${id} is measured in ${unit} but its factor applies per ${want}: not computed (a conversion needs a declared density or NCV with its source)`,
    );
    return undefined;
  }
  const input: EmissionInput = { parameter: id, value: text(v), unit };
  if (unit !== want) input.converted = { value: text(inWant), unit: want };
  return { input, value: inWant };
}

/** The unit a factor applies to (`t CO2/t` → `t`); `t` when the factor's unit names none. */
function per(f: CitedFactor): string {
  return perUnitOf(f.unit) ?? 't';
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

function aluminium(c: Ctx): EmissionItem[] {
  const { pack, o, notes } = c;
  const out: EmissionItem[] = [];
  const pQ = quantity(c, 'aluminium.liquid_output', 't');
  const P = pQ?.value;
  const acQ = quantity(c, 'aluminium.anode_consumption', 't');
  const names = {
    id: 'aluminium.anode_co2',
    nameZh: '阳极消耗CO2排放',
    nameEn: 'CO2 from anode consumption',
    gas: 'CO2' as const,
  };
  if (acQ !== undefined) {
    // AC is tonnes of anode; S and A are mass fractions of the anode (docs/domain.md §2.1).
    const S = factor(pack, 'aluminium.anode_sulphur');
    const A = factor(pack, 'aluminium.anode_ash');
    const carbonShare = new D(1).minus(dec(S.value)).minus(dec(A.value));
    out.push(
      item(
        {
          ...names,
          method: 'calculated',
          formula: 'E_CO2 = AC × (1 − S − A) × 44/12',
          inputs: [acQ.input],
          factors: [S, A],
        },
        acQ.value.times(carbonShare).times(44).div(12),
      ),
    );
  } else if (pQ !== undefined && P !== undefined) {
    notes.push('anode consumption not measured: anode CO2 from the default intensity per t Al');
    if (hasFactor(pack, 'aluminium.anode_co2_default')) {
      const EF = factor(pack, 'aluminium.anode_co2_default');
      out.push(
        item(
          { ...names, method: 'default', formula: 'E_CO2 = P × EF_anode', inputs: [pQ.input], factors: [EF] },
          P.times(dec(EF.value)),
        ),
      );
    } else {
      // Packs made before 2026.12 (history/): net consumption NC (t anode/t Al) × (1 − S − A) × 44/12.
      const NC = factor(pack, 'aluminium.anode_net_consumption_default');
      const S = factor(pack, 'aluminium.anode_sulphur');
      const A = factor(pack, 'aluminium.anode_ash');
      out.push(
        item(
          {
            ...names,
            method: 'default',
            formula: 'E_CO2 = P × NC × (1 − S − A) × 44/12',
            inputs: [pQ.input],
            factors: [NC, S, A],
          },
          P.times(dec(NC.value))
            .times(new D(1).minus(dec(S.value)).minus(dec(A.value)))
            .times(44)
            .div(12),
        ),
      );
    }
  } else notes.push('neither anode consumption nor liquid aluminium output: no anode CO2');

  if (pQ === undefined || P === undefined) {
    notes.push('no liquid aluminium output: no PFC emissions');
    return out;
  }
  const dur = get(c.values, 'aluminium.anode_effect_duration');
  const cells = get(c.values, 'aluminium.cells_in_operation');
  const method = o.pfcMethod ?? 'auto';
  const slopeOk = dur && cells?.gt(0) && dec(o.periodDays).gt(0);
  if (method === 'slope' && !slopeOk)
    notes.push('slope method asked for but anode-effect duration or cells missing: default factors used');
  const pIn = pQ.input;
  if (slopeOk && method !== 'default') {
    const slope = factor(pack, 'aluminium.slope_cf4');
    const ratio = factor(pack, 'aluminium.c2f6_to_cf4');
    // AEM: anode-effect minutes per cell-day = (cell-seconds / 60) / (mean cells × days).
    const aem = dur!.div(60).div(cells!.times(dec(o.periodDays)));
    const efCf4 = dec(slope.value).times(aem);
    const efC2f6 = efCf4.times(dec(ratio.value));
    const inputs: EmissionInput[] = [
      pIn,
      {
        parameter: 'aluminium.anode_effect_duration',
        value: text(dur!),
        unit: unitOf(c, 'aluminium.anode_effect_duration', 'cell·s'),
      },
      { parameter: 'aluminium.cells_in_operation', value: text(cells!), unit: 'count' },
      { parameter: 'period.days', value: o.periodDays, unit: 'd' },
      { parameter: 'aluminium.aem', value: text(aem, 10), unit: 'AE-min/(cell·d)' },
    ];
    const base = { method: 'calculated' as const, inputs, factors: [slope, ratio] };
    out.push(
      item(
        {
          ...base,
          id: 'aluminium.pfc_cf4',
          nameZh: '阳极效应CF4排放',
          nameEn: 'CF4 from anode effects',
          gas: 'CF4',
          formula: 'AEM = T_AE / 60 / (N_cells × days); E_CF4 = P × slope × AEM / 1000',
        },
        P.times(efCf4).div(1000),
        gwp(pack, 'CF4'),
      ),
    );
    out.push(
      item(
        {
          ...base,
          id: 'aluminium.pfc_c2f6',
          nameZh: '阳极效应C2F6排放',
          nameEn: 'C2F6 from anode effects',
          gas: 'C2F6',
          formula: 'E_C2F6 = E_CF4 × r_C2F6/CF4',
        },
        P.times(efC2f6).div(1000),
        gwp(pack, 'C2F6'),
      ),
    );
    return out;
  }
  if (hasFactor(pack, 'aluminium.pfc_co2e_default')) {
    // One CO2e intensity for both gases (2024 draft): the gases' masses are not known apart.
    const EF = factor(pack, 'aluminium.pfc_co2e_default');
    out.push({
      id: 'aluminium.pfc_co2e',
      nameZh: '阳极效应PFC排放 (缺省强度)',
      nameEn: 'PFC from anode effects (default intensity)',
      gas: 'CF4+C2F6',
      method: 'default',
      formula: 'E_PFC = P × EF_PFC (t CO2e)',
      inputs: [pIn],
      factors: [EF],
      mass: null,
      co2e: round(P.times(dec(EF.value))),
    });
    return out;
  }
  // Packs made before 2026.12 (history/): legacy kg/t Al factors per gas with the pack's GWP set.
  const fCf4 = factor(pack, 'aluminium.ef_cf4_default');
  const fC2f6 = factor(pack, 'aluminium.ef_c2f6_default');
  out.push(
    item(
      {
        id: 'aluminium.pfc_cf4',
        nameZh: '阳极效应CF4排放',
        nameEn: 'CF4 from anode effects',
        gas: 'CF4',
        method: 'default',
        formula: 'E_CF4 = P × EF_CF4 / 1000',
        inputs: [pIn],
        factors: [fCf4],
      },
      P.times(dec(fCf4.value)).div(1000),
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
        method: 'default',
        formula: 'E_C2F6 = P × EF_C2F6 / 1000',
        inputs: [pIn],
        factors: [fC2f6],
      },
      P.times(dec(fC2f6.value)).div(1000),
      gwp(pack, 'C2F6'),
    ),
  );
  return out;
}

/**
 * Σ Q_k × EF_k over every kind k of a parameter family (`${paramPrefix}.k`) with its factor
 * `${factorPrefix}.k`, each Q rescaled to the unit its factor applies to; each term's input and factor
 * are appended to `acc`. A kind without a factor, or whose unit does not fit it, is left out with a note.
 * @returns the sum in the factors' unit (t CO2)
 */
function sumOverKinds(
  c: Ctx,
  paramPrefix: string,
  factorPrefix: string,
  noteOf: (kind: string, factorId: string) => string,
  acc: { inputs: EmissionInput[]; factors: CitedFactor[] },
): Dec {
  let sum = new D(0);
  for (const k of kinds(c.values, paramPrefix)) {
    const fid = `${factorPrefix}.${k}`;
    if (!hasFactor(c.pack, fid)) {
      c.notes.push(noteOf(k, fid));
      continue;
    }
    const f = factor(c.pack, fid);
    const q = quantity(c, `${paramPrefix}.${k}`, per(f));
    if (!q) continue;
    acc.inputs.push(q.input);
    acc.factors.push(f);
    sum = sum.plus(q.value.times(dec(f.value)));
  }
  return sum;
}

/**
 * Carbon (t C) of a quantity of fuel or gas by its heat: Q (in the NCV's per-unit) × NCV × CC.
 * `ncvMeasured` (GJ/t, a lab parameter) replaces the pack's NCV when given. Factor ids are looked up
 * under each of `prefixes` in turn (`power.fuel`, then `fuel`).
 * @returns undefined with a note when a factor is missing or the unit does not fit
 */
function carbonByHeat(
  c: Ctx,
  paramId: string,
  fuel: string,
  prefixes: readonly string[],
  ncvMeasured?: { parameter: string; value: Dec },
): { carbon: Dec; inputs: EmissionInput[]; factors: CitedFactor[] } | undefined {
  const ids = (x: string) => prefixes.map((p) => `${p}.${fuel}.${x}`);
  const cc = firstFactor(c.pack, ids('carbon_per_gj'));
  const ncvF = ncvMeasured ? undefined : firstFactor(c.pack, ids('ncv'));
  if (!cc || (!ncvMeasured && !ncvF)) {
    const lacking = [
      ...(cc ? [] : [ids('carbon_per_gj').join(' or ')]),
      ...(ncvMeasured || ncvF ? [] : [ids('ncv').join(' or ')]),
    ];
    c.notes.push(`${paramId}: the factor pack has no ${lacking.join(', nor ')}: no CO2 computed`);
    return undefined;
  }
  const want = ncvF ? per(ncvF) : 't';
  const q = quantity(c, paramId, want);
  if (!q) return undefined;
  const inputs = [q.input];
  if (ncvMeasured)
    inputs.push({
      parameter: ncvMeasured.parameter,
      value: text(ncvMeasured.value),
      unit: unitOf(c, ncvMeasured.parameter, 'GJ/t'),
    });
  const ncv = ncvMeasured?.value ?? dec(ncvF!.value);
  return {
    carbon: q.value.times(ncv).times(dec(cc.value)),
    inputs,
    factors: [...(ncvF ? [ncvF] : []), cc],
  };
}

/**
 * Fuel CO2 = FC × NCV × CC × OF × 44/12 per fuel kind `${prefix}.<fuel>`. With `lab` (power), a
 * measured elemental carbon content (t C/t) gives FC × C_ar × OF × 44/12, else a measured NCV with the
 * pack's default carbon per GJ (method `default`); the pack's NCV is not used for power.
 */
function fuelItems(
  c: Ctx,
  prefix: string,
  id: string,
  factorPrefixes: readonly string[],
  lab?: { carbon: string; ncv: string },
): EmissionItem[] {
  const out: EmissionItem[] = [];
  for (const fuel of kinds(c.values, prefix)) {
    const paramId = `${prefix}.${fuel}`;
    const OF = firstFactor(
      c.pack,
      factorPrefixes.map((p) => `${p}.${fuel}.oxidation`),
    );
    if (!OF) {
      c.notes.push(
        `fuel "${fuel}": no ${factorPrefixes[0]}.${fuel}.oxidation in the factor pack, no CO2 computed`,
      );
      continue;
    }
    const car = lab ? get(c.values, `${lab.carbon}.${fuel}`) : undefined;
    let carbon: Dec;
    let inputs: EmissionInput[];
    let factors: CitedFactor[];
    let formula: string;
    let method: 'calculated' | 'default' = 'calculated';
    if (lab && car !== undefined) {
      const q = quantity(c, paramId, 't');
      if (!q) continue;
      inputs = [q.input, { parameter: `${lab.carbon}.${fuel}`, value: text(car), unit: 't C/t' }];
      carbon = q.value.times(car);
      factors = [OF];
      formula = 'E = FC × C_ar × OF × 44/12';
    } else {
      const ncvV = lab ? get(c.values, `${lab.ncv}.${fuel}`) : undefined;
      if (lab && ncvV === undefined) {
        c.notes.push(
          `fuel "${fuel}": neither carbon content (${lab.carbon}.${fuel}) nor NCV (${lab.ncv}.${fuel}) measured: no CO2 computed`,
        );
        continue;
      }
      const r = carbonByHeat(
        c,
        paramId,
        fuel,
        factorPrefixes,
        ncvV === undefined ? undefined : { parameter: `${lab!.ncv}.${fuel}`, value: ncvV },
      );
      if (!r) continue;
      ({ carbon, inputs } = r);
      factors = [...r.factors, OF];
      formula = 'E = FC × NCV × CC × OF × 44/12';
      if (lab) {
        method = 'default';
        c.notes.push(
          `fuel "${fuel}": elemental carbon content not measured: the default carbon per unit heat ${r.factors[0]?.id} is used`,
        );
      }
    }
    out.push(
      item(
        {
          id: `${id}.${fuel}`,
          nameZh: `燃料燃烧CO2排放 (${fuel})`,
          nameEn: `Fuel combustion CO2 (${fuel})`,
          gas: 'CO2',
          method,
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

/**
 * The clinker factor (t CO2/t clinker): by the clinker's CaO and MgO (mass fractions, less the
 * non-carbonate shares when given), EF = (CaO − CaO_nc) × 44/56 + (MgO − MgO_nc) × 44/40 (molar mass
 * ratios CO2/CaO and CO2/MgO, stoichiometry of CaCO3 and MgCO3 calcination); else the pack's default
 * for the clinker type (docs/domain.md §2.2).
 */
function clinkerFactor(c: Ctx): {
  ef: Dec;
  inputs: EmissionInput[];
  factors: CitedFactor[];
  formula: string;
} {
  const frac = (id: string) => quantity(c, id, '1', '1');
  const cao = frac('cement.clinker_cao');
  const mgo = frac('cement.clinker_mgo');
  if (cao && mgo) {
    const caoNc = frac('cement.clinker_cao_noncarbonate');
    const mgoNc = frac('cement.clinker_mgo_noncarbonate');
    const ef = cao.value
      .minus(caoNc?.value ?? 0)
      .times(44)
      .div(56)
      .plus(
        mgo.value
          .minus(mgoNc?.value ?? 0)
          .times(44)
          .div(40),
      );
    const inputs = [cao.input, ...(caoNc ? [caoNc.input] : []), mgo.input, ...(mgoNc ? [mgoNc.input] : [])];
    if (!caoNc || !mgoNc)
      c.notes.push(
        'clinker CaO/MgO method: non-carbonate CaO or MgO not given, taken as 0 (all CaO and MgO from carbonates)',
      );
    return {
      ef,
      inputs,
      factors: [],
      formula:
        'EF_clinker = (CaO − CaO_nc) × 44/56 + (MgO − MgO_nc) × 44/40; E = Q_clinker × EF_clinker − Σ Q_i × D_i',
    };
  }
  const f = factor(c.pack, `cement.ef_clinker.${c.o.clinkerType ?? 'portland'}`);
  return { ef: dec(f.value), inputs: [], factors: [f], formula: 'E = Q_clinker × EF_clinker − Σ Q_i × D_i' };
}

function cement(c: Ctx): EmissionItem[] {
  const out: EmissionItem[] = [];
  const clinker = quantity(c, 'cement.clinker_output', 't');
  if (clinker === undefined) c.notes.push('no clinker output: no process CO2');
  else {
    const cf = clinkerFactor(c);
    const inputs: EmissionInput[] = [clinker.input, ...cf.inputs];
    const factors: CitedFactor[] = [...cf.factors];
    const deducted = sumOverKinds(
      c,
      'cement.substitute',
      'cement.deduction',
      (m, fid) => `substitute material "${m}" has no deduction factor ${fid}: not deducted`,
      { inputs, factors },
    );
    out.push(
      item(
        {
          id: 'cement.process_co2',
          nameZh: '熟料生产过程CO2排放 (扣除替代原料)',
          nameEn: 'Clinker process CO2 less substitute deductions',
          gas: 'CO2',
          method: cf.factors.length === 0 ? 'calculated' : 'default',
          formula: cf.formula,
          inputs,
          factors,
        },
        clinker.value.times(cf.ef).minus(deducted),
      ),
    );
  }
  out.push(...fuelItems(c, 'cement.fuel_consumption', 'cement.fuel_co2', ['cement.fuel', 'fuel']));
  return out;
}

function steel(c: Ctx): EmissionItem[] {
  const { pack, notes } = c;
  const out = fuelItems(c, 'steel.fuel_consumption', 'steel.fuel_co2', ['steel.fuel', 'fuel']);
  const inputs: EmissionInput[] = [];
  const factors: CitedFactor[] = [];
  const e = sumOverKinds(
    c,
    'steel.carbon_input',
    'steel.input',
    (m, fid) => `carbon-bearing input "${m}" has no factor ${fid}: no process CO2 for it`,
    { inputs, factors },
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
  const crude = quantity(c, 'steel.crude_steel_output', 't');
  if (crude !== undefined) {
    const f = factor(pack, 'steel.carbon_fixed.crude_steel');
    fixedIn.push(crude.input);
    fixedF.push(f);
    fixed = fixed.plus(crude.value.times(dec(f.value)));
  }
  for (const p of kinds(c.values, 'steel.carbon_product_output')) {
    const id = `steel.carbon_product_output.${p}`;
    if (hasFactor(pack, `steel.output.${p}`)) {
      const f = factor(pack, `steel.output.${p}`);
      const q = quantity(c, id, per(f));
      if (!q) continue;
      fixedIn.push(q.input);
      fixedF.push(f);
      fixed = fixed.plus(q.value.times(dec(f.value)));
      continue;
    }
    // A gas sold (converter gas ...): its carbon by heat, Q × NCV × CC, × 44/12 (no oxidation).
    if (hasFactor(pack, `fuel.${p}.carbon_per_gj`)) {
      const r = carbonByHeat(c, id, p, ['steel.fuel', 'fuel']);
      if (!r) continue;
      fixedIn.push(...r.inputs);
      fixedF.push(...r.factors);
      fixed = fixed.plus(r.carbon.times(44).div(12));
      continue;
    }
    notes.push(
      `carbon-bearing product "${p}" has neither steel.output.${p} nor fuel.${p}.* in the factor pack: its carbon is not deducted`,
    );
  }
  if (fixedIn.length > 0)
    out.push(
      item(
        {
          id: 'steel.carbon_fixed',
          nameZh: '固碳产品隐含排放 (扣减)',
          nameEn: 'Carbon fixed in products (deducted)',
          gas: 'CO2',
          method: 'calculated',
          formula: 'E = −(Σ Q_j × EF_j + Σ V_g × NCV_g × CC_g × 44/12)',
          inputs: fixedIn,
          factors: fixedF,
        },
        fixed.neg(),
      ),
    );
  return out;
}

function power(c: Ctx): EmissionItem[] {
  const out = fuelItems(c, 'power.fuel_consumption', 'power.fuel_co2', ['power.fuel'], {
    carbon: 'power.carbon_content',
    ncv: 'power.ncv',
  });
  const el = quantity(c, 'power.purchased_electricity', 'MWh', 'MWh');
  if (el !== undefined) {
    const f = factor(c.pack, 'power.grid_ef');
    out.push(
      item(
        {
          id: 'power.purchased_electricity_co2',
          nameZh: '购入电力CO2排放',
          nameEn: 'CO2 of purchased electricity',
          gas: 'CO2',
          method: 'calculated',
          formula: 'E = AD_el × EF_grid',
          inputs: [el.input],
          factors: [f],
        },
        el.value.times(dec(f.value)),
      ),
    );
  }
  return out;
}

/**
 * Emissions of an industry's unit from its period parameter values (docs/domain.md §2):
 * - aluminium: anode CO2 = AC × (1 − S − A) × 44/12, or P × the default intensity; CF4 and C2F6 by the
 *   slope method from AEM with the pack's GWP set, or P × the default PFC intensity (t CO2e);
 * - cement: process CO2 = clinker × EF_clinker (CaO/MgO method or default) − Σ substitute × deduction,
 *   plus fuel CO2;
 * - steel: fuel CO2 + process CO2 of carbon-bearing inputs − carbon fixed in crude steel and products
 *   (gases by volume × NCV × CC);
 * - power: fuel CO2 (measured carbon content, else measured NCV × the default carbon per GJ) +
 *   purchased electricity × grid factor.
 * @throws Error when the pack lacks a factor a present parameter needs and no note can stand for it
 */
export function computeEmissions(
  industry: Industry,
  values: ParameterValues,
  pack: FactorPack,
  options: EmissionsOptions,
): EmissionsResult {
  const notes: string[] = [];
  const fn = { aluminium, cement, steel, power }[industry];
  const items = fn({ values, pack, o: options, notes });
  const total = items.reduce((s, i) => s.plus(dec(i.co2e)), new D(0));
  const unconfirmed = new Set(items.flatMap((i) => i.factors.filter((f) => !f.confirmed).map((f) => f.id)));
  return {
    industry,
    factorPack: {
      id: pack.id,
      packVersion: pack.packVersion,
      gwpSet: pack.gwpSet,
      ...(options.factorPackDigest ? { digest: options.factorPackDigest } : {}),
    },
    decimals: EMISSION_DECIMALS,
    items,
    totalCo2e: text(total),
    unconfirmedFactors: [...unconfirmed].sort(),
    notes,
  };
}
