/**
 * Static checks of a site's parameter ids against the catalogue and a factor pack (issue 18 items 6
 * and 7), run by `mrv check-config` before anything is read: the silent emission gaps it catches are
 * a qualified parameter written without its kind (`cement.substitute` instead of
 * `cement.substitute.fly_ash`: nothing is deducted), a kind the factor pack has no factor for, and a
 * quantity whose unit cannot meet its factor (a gas in Nm³ against an NCV per tonne). Pure.
 */
import type { Industry } from '../schema/wire.ts';
import { lookupParameter } from './catalogue.ts';
import { dec } from './decimal.ts';
import type { FactorPack } from './factors.ts';
import { convert, perUnitOf } from './units.ts';

/** A point as the check needs it. */
export interface CheckedPoint {
  id: string;
  unit: string;
  parameter?: string;
}

/** One warning: the point, a stable code and the text (English; ids are the user's own). */
export interface ParameterWarning {
  point: string;
  code: 'MRV_W_UNQUALIFIED_PARAMETER' | 'MRV_W_NO_FACTOR' | 'MRV_W_UNIT_MISMATCH';
  message: string;
}

/** Where the factor of a qualified kind lives, per catalogue entry (as core/domain/emissions.ts reads it). */
const FACTOR_OF: Readonly<Record<string, (kind: string) => string[]>> = {
  'cement.substitute': (k) => [`cement.deduction.${k}`],
  'cement.fuel_consumption': (k) => [`cement.fuel.${k}.ncv`, `fuel.${k}.ncv`],
  'steel.fuel_consumption': (k) => [`steel.fuel.${k}.ncv`, `fuel.${k}.ncv`],
  'steel.carbon_input': (k) => [`steel.input.${k}`],
  'steel.carbon_product_output': (k) => [`steel.output.${k}`, `fuel.${k}.ncv`],
  // Power: the NCV is the lab's (GJ/t), so only the fuel's own factors are looked for, not a unit.
  'power.fuel_consumption': (k) => [`power.fuel.${k}.oxidation`],
};

/**
 * The warnings of a site's points for its industry and a factor pack.
 * @returns warnings in point order (empty when every parameter will be computed)
 */
export function parameterWarnings(
  industry: Industry,
  points: readonly CheckedPoint[],
  pack: FactorPack,
): ParameterWarning[] {
  const out: ParameterWarning[] = [];
  for (const p of points) {
    if (p.parameter === undefined) continue;
    const hit = lookupParameter(p.parameter);
    if (!hit || hit.entry.industry !== industry) continue;
    const { entry, kind } = hit;
    if (entry.qualifier !== undefined && kind === undefined) {
      out.push({
        point: p.id,
        code: 'MRV_W_UNQUALIFIED_PARAMETER',
        message: `parameter ${p.parameter} needs its ${entry.qualifier} kind (${p.parameter}.<${entry.qualifier}>): without it no emission is computed from this point`,
      });
      continue;
    }
    const ids = kind === undefined ? undefined : FACTOR_OF[entry.id]?.(kind);
    if (!ids) continue;
    const id = ids.find((i) => i in pack.factors);
    if (id === undefined) {
      out.push({
        point: p.id,
        code: 'MRV_W_NO_FACTOR',
        message: `parameter ${p.parameter}: factor pack ${pack.id}@${pack.packVersion} has no ${ids.join(' or ')}: no emission is computed from this point`,
      });
      continue;
    }
    const per = perUnitOf(pack.factors[id]!.unit);
    if (per !== undefined && convert(dec(1), p.unit, per) === undefined)
      out.push({
        point: p.id,
        code: 'MRV_W_UNIT_MISMATCH',
        message: `parameter ${p.parameter} is measured in "${p.unit}" but ${id} applies per ${per}: not computed (no declared density or NCV converts one to the other)`,
      });
  }
  return out;
}
