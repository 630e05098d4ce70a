/**
 * Per-site and per-point settings of the validation rules (core/domain/rules.ts), written in the site
 * file: a plant's own thresholds and debounce for a rule of its industry's rule pack, keyed by rule id.
 *
 * ```yaml
 * rules:                      # site level: every point the rule names
 *   AL-TH-002: { maxPerMinute: "25", debounce: { count: 2, minDurationS: 30 } }
 * devices:
 *   - points:
 *       - id: potline.current
 *         rules:              # point level: this point only, over the site level
 *           AL-TH-001: { min: "380", max: "480" }
 * ```
 *
 * Only the fields a rule's check has are used (`min`/`max` for range and ratio, `maxPerMinute` and
 * `windowS` for rate of change); an override for a rule id the pack does not have is an error at start
 * (`mrv check-config`, the evidence) so that a typo never silently leaves the pack's limits in force.
 * Overrides travel in the evidence package's catalogue, so `mrv verify` recomputes with them.
 */
import { z } from 'zod';
import { DecimalString } from './wire.ts';

/**
 * When consecutive offending readings become a finding: at least `count` of them, spanning at least
 * `minDurationS` seconds (first to last offending reading, by the readings' own timestamps). A shorter
 * run is noise or a transient and raises nothing. Default: one reading, no duration.
 */
export const Debounce = z
  .object({
    count: z.number().int().min(1).max(1_000_000).optional().describe('consecutive offending readings'),
    minDurationS: z
      .number()
      .min(0)
      .max(31 * 86_400)
      .optional()
      .describe('seconds from the first to the last offending reading of a run'),
  })
  .strict();
export type Debounce = z.infer<typeof Debounce>;

/** The settings of one rule for a site or a point. Every field is optional: absent keeps the pack's. */
export const RuleOverride = z
  .object({
    enabled: z.boolean().optional().describe('false: the rule does not run (for this site or point)'),
    severity: z.enum(['info', 'warning', 'error', 'critical']).optional(),
    min: DecimalString.optional().describe('range, ratio: lower limit'),
    max: DecimalString.optional().describe('range, ratio: upper limit'),
    maxPerMinute: DecimalString.optional().describe('rate of change: limit, point unit per minute'),
    minDenominator: DecimalString.optional().describe('ratio: not judged below this denominator'),
    windowS: z
      .number()
      .min(0)
      .max(86_400)
      .optional()
      .describe('rate of change: the change is measured over at least this many seconds'),
    debounce: Debounce.optional(),
  })
  .strict();
export type RuleOverride = z.infer<typeof RuleOverride>;

/** Overrides by rule id (e.g. `AL-TH-002`). */
export const RuleOverrides = z.record(
  z.string().regex(/^[A-Z0-9][A-Z0-9._-]*$/, 'a rule id such as AL-TH-002'),
  RuleOverride,
);
export type RuleOverrides = z.infer<typeof RuleOverrides>;
