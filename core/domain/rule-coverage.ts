/**
 * Which rules of a unit's rule pack a site file leaves without their points, for `mrv check-config`:
 * a per-reading rule whose target selects no point of the file, a `sum_of_parts` rule whose total or
 * one of whose parts is missing (the rule never runs: core/domain/rules.ts `evaluatePeriodRules` skips
 * it), and a `sum_of_parts` rule whose `alignBy` ticket-number point is missing (it runs, but compares
 * the period values, so the polled total's edges can cut tickets off: core/domain/ticket-alignment.ts).
 * Pure; warnings, not errors (a unit may have several gateways, each with a part of the points).
 * Rules on key parameters (`ratio`, `capacity`) are not checked here: their inputs are the month's key
 * parameters, which parameter-check.ts covers.
 */
import { type RulePack, targetPoints } from './rules.ts';

/** One rule left without (some of) its points by a site file. */
export interface RuleCoverageWarning {
  /**
   * `no_target` (a per-reading rule selects no point: it checks nothing), `missing_points` (a
   * `sum_of_parts` rule's total or parts are missing: it never runs), `not_aligned` (its `alignBy`
   * point is missing: it compares period values).
   */
  code: 'no_target' | 'missing_points' | 'not_aligned';
  rule: string;
  /** The point ids named by the rule and absent from the file (empty for `no_target`). */
  missing: string[];
  /** English text for the terminal, with the consequence and what to do. */
  message: string;
}

/**
 * The coverage warnings of a site's points against its industry's rule pack, in the pack's rule order.
 * @param points every point of the site file, with the key parameter it feeds
 */
export function checkRuleCoverage(
  pack: RulePack,
  points: readonly { id: string; parameter?: string | undefined }[],
): RuleCoverageWarning[] {
  const ids = new Set(points.map((p) => p.id));
  const catalogue = points.map((p) =>
    p.parameter === undefined ? { id: p.id } : { id: p.id, parameter: p.parameter },
  );
  const out: RuleCoverageWarning[] = [];
  for (const rule of pack.rules) {
    const c = rule.check;
    if (c.kind === 'range' || c.kind === 'rate_of_change' || c.kind === 'counter_backwards') {
      if (targetPoints(c.target, catalogue).length > 0) continue;
      const named = [
        ...(c.target.points ?? []).map((p) => `point ${p}`),
        ...(c.target.parameter === undefined ? [] : [`parameter ${c.target.parameter}`]),
      ].join(', ');
      out.push({
        code: 'no_target',
        rule: rule.id,
        missing: [],
        message: `rule ${rule.id} (${rule.message.en}) selects no point of this file (${named}): it checks nothing here; unless another gateway of the unit has such points, name them as the rule does or tag the point with the parameter`,
      });
    } else if (c.kind === 'sum_of_parts') {
      const missing = [c.main, ...c.parts].filter((p) => !ids.has(p));
      if (missing.length > 0) {
        out.push({
          code: 'missing_points',
          rule: rule.id,
          missing,
          message: `rule ${rule.id} (${rule.message.en}) needs points ${missing.join(', ')}, which this file does not have: the rule never runs for this unit unless another gateway of the unit has them`,
        });
      } else if (c.alignBy !== undefined && !ids.has(c.alignBy)) {
        out.push({
          code: 'not_aligned',
          rule: rule.id,
          missing: [c.alignBy],
          message: `rule ${rule.id} (${rule.message.en}) aligns its parts by the ticket number ${c.alignBy}, which this file does not have: it compares the period values instead, so the polled total's edges can cut tickets off and raise a false finding; add ${c.alignBy}, read in the same request as ${c.main}`,
        });
      }
    }
  }
  return out;
}
