/**
 * Checks of the key-parameter ids a site file puts on its points (`parameter`, docs/architecture.md §3)
 * against the catalogue of the unit's industry (catalogue.ts), for `mrv check-config`: ids the monthly
 * evidence would never use, qualified parameters named without their kind, and parameters an emission
 * needs that no point of the file feeds. Pure; warnings, not errors (a unit may have several gateways,
 * and a file may carry points for later use).
 */
import type { Industry } from '../schema/wire.ts';
import { suggest } from '../suggest.ts';
import { lookupParameter, parametersOf } from './catalogue.ts';

/** One warning about a parameter id. */
export interface ParameterWarning {
  /**
   * `unknown` (no catalogue entry: the evidence ignores the point), `other_industry` (an entry of
   * another industry: ignored too), `unqualified` (an entry that needs a kind, e.g.
   * `cement.fuel_consumption.coal`, named without one), `not_supplied` (an emission needs the
   * parameter and no point of this file feeds it).
   */
  code: 'unknown' | 'other_industry' | 'unqualified' | 'not_supplied';
  /** The point carrying the id; absent for `not_supplied`. */
  point?: string;
  parameter: string;
  /** English text for the terminal, with what to do. */
  message: string;
}

/**
 * The warnings of a site's points for its industry, in point order, then the parameters not supplied
 * in catalogue order.
 */
export function checkParameterIds(
  industry: Industry,
  points: readonly { id: string; parameter?: string | undefined }[],
): ParameterWarning[] {
  const out: ParameterWarning[] = [];
  const fed = new Set<string>();
  const unqualified = new Set<string>();
  for (const p of points) {
    if (p.parameter === undefined) continue;
    const hit = lookupParameter(p.parameter);
    if (!hit) {
      const ids = parametersOf(industry).map((e) => e.id);
      // A typo of an entry, or of an entry before its kind (`cement.substitue.fly_ash`).
      const hint = suggest(p.parameter, ids) ?? suggest(p.parameter.split('.').slice(0, 2).join('.'), ids);
      const near = hint === undefined ? [] : [hint];
      out.push({
        code: 'unknown',
        point: p.id,
        parameter: p.parameter,
        message: `point ${p.id}: parameter "${p.parameter}" is not in the ${industry} catalogue, so no evidence uses it${near.length ? ` (did you mean ${near.join(', ')}?)` : ''}; known: ${parametersOf(
          industry,
        )
          .map((e) => (e.qualifier ? `${e.id}.<${e.qualifier}>` : e.id))
          .join(', ')}`,
      });
      continue;
    }
    if (hit.entry.industry !== industry) {
      out.push({
        code: 'other_industry',
        point: p.id,
        parameter: p.parameter,
        message: `point ${p.id}: parameter "${p.parameter}" belongs to the ${hit.entry.industry} catalogue, not ${industry}: no evidence of this unit uses it`,
      });
      continue;
    }
    if (hit.entry.qualifier !== undefined && hit.kind === undefined) {
      out.push({
        code: 'unqualified',
        point: p.id,
        parameter: p.parameter,
        message: `point ${p.id}: parameter "${p.parameter}" needs its ${hit.entry.qualifier}: write ${hit.entry.id}.<${hit.entry.qualifier}> (e.g. ${hit.entry.id}.${p.id.split('.')[0]}); the kind picks the emission factor`,
      });
      unqualified.add(hit.entry.id);
      continue;
    }
    fed.add(hit.entry.id);
  }
  // Optional alternatives (the clinker's CaO/MgO for the default factor) are not missing when absent.
  for (const e of parametersOf(industry))
    if (e.gases.length > 0 && !e.optional && !fed.has(e.id) && !unqualified.has(e.id))
      out.push({
        code: 'not_supplied',
        parameter: e.qualifier ? `${e.id}.<${e.qualifier}>` : e.id,
        message: `no point of this file feeds ${e.qualifier ? `${e.id}.<${e.qualifier}>` : e.id} (${e.nameEn}), which the ${e.gases.join('/')} emissions need; unless another gateway of the unit feeds it, the evidence names it as not supplied`,
      });
  return out;
}
