/**
 * Static checks of a site's parameter ids against a factor pack (issue 18 items 6 and 7), run by
 * `mrv check-config` before anything is read, beside the catalogue checks of parameter-check.ts
 * (unknown, other-industry and unqualified ids): the silent emission gaps it catches are a kind the
 * factor pack has no factor for (`cement.substitute.unobtainium`: nothing deducted) and a quantity
 * whose unit cannot meet its factor (a gas in Nm³ against an NCV per tonne). Pure.
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
export interface FactorWarning {
  point: string;
  code: 'MRV_W_NO_FACTOR' | 'MRV_W_UNIT_MISMATCH';
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
 * The factor warnings of a site's points for its industry and a factor pack (ids without their kind
 * are parameter-check.ts's `unqualified` and are skipped here).
 * @returns warnings in point order (empty when every qualified parameter has its factor)
 */
export function factorWarnings(
  industry: Industry,
  points: readonly CheckedPoint[],
  pack: FactorPack,
): FactorWarning[] {
  const out: FactorWarning[] = [];
  for (const p of points) {
    if (p.parameter === undefined) continue;
    const hit = lookupParameter(p.parameter);
    if (!hit || hit.entry.industry !== industry) continue;
    const { entry, kind } = hit;
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
