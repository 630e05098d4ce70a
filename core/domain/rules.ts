/**
 * Validation rules as data (docs/architecture.md §7, docs/domain.md §1): YAML rule packs per industry in
 * `core/domain/rules/`, validated by {@link RulePack}, evaluated by a pure engine. The four classes of
 * the national platform: theoretical extreme (理论极值), threshold (阈值), standard value (标准值) and
 * logic check (逻辑校验). The platform's own ~100 rules are [unconfirmed]; every limit here is data
 * with its source.
 *
 * Checks:
 * - `range` (per reading): value outside `[min, max]`; consecutive offending readings of a point form one finding;
 * - `rate_of_change` (per reading pair): |Δvalue| per minute above `maxPerMinute`;
 * - `ratio` (period): parameter a / parameter b outside `[min, max]` (e.g. net anode per t Al);
 * - `counter_backwards` (period): a totalizer dropped without being a roll-over (a reset);
 * - `sum_of_parts` (period): |Σ parts − main| > tolerance × |main| over period values of points;
 * - `capacity` (period): a parameter above `maxPerDay × days`.
 */
import { z } from 'zod';
import type { Finding } from '../schema/finding.ts';
import { DecimalString, Industry } from '../schema/wire.ts';
import type { CounterEvent, Sample } from './aggregate.ts';
import { D, type Dec, dec, text } from './decimal.ts';
import { isoCst } from './period.ts';

/** The four rule classes of the national platform. */
export const RuleClass = z.enum(['theoretical_extreme', 'threshold', 'standard_value', 'logic_check']);
export type RuleClass = z.infer<typeof RuleClass>;

/** Chinese names of the classes. */
export const RULE_CLASS_ZH: Record<RuleClass, string> = {
  theoretical_extreme: '理论极值',
  threshold: '阈值',
  standard_value: '标准值',
  logic_check: '逻辑校验',
};

/** Which points a per-reading rule looks at: point ids (a trailing or inner `*` matches any text) and/or a parameter. */
const Target = z
  .object({
    points: z.array(z.string().min(1)).optional(),
    parameter: z.string().optional().describe('every point that feeds this parameter'),
  })
  .strict()
  .refine((t) => t.points !== undefined || t.parameter !== undefined, 'give points or parameter');

const Check = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('range'),
      target: Target,
      min: DecimalString.optional(),
      max: DecimalString.optional(),
    })
    .strict(),
  z.object({ kind: z.literal('rate_of_change'), target: Target, maxPerMinute: DecimalString }).strict(),
  z
    .object({
      kind: z.literal('ratio'),
      numerator: z.string(),
      denominator: z.string(),
      min: DecimalString.optional(),
      max: DecimalString.optional(),
    })
    .strict(),
  z.object({ kind: z.literal('counter_backwards'), target: Target }).strict(),
  z
    .object({
      kind: z.literal('sum_of_parts'),
      main: z.string().describe('point id'),
      parts: z.array(z.string()).min(1),
      tolerance: DecimalString.describe('relative, e.g. "0.02" = 2 %'),
    })
    .strict(),
  z.object({ kind: z.literal('capacity'), parameter: z.string(), maxPerDay: DecimalString }).strict(),
]);

/** One rule. `message` may use `{point}`, `{value}`, `{limit}`, `{count}` placeholders. */
export const Rule = z
  .object({
    id: z.string().regex(/^[A-Z0-9][A-Z0-9._-]*$/, 'rule ids are upper-case, e.g. AL-TE-001'),
    class: RuleClass,
    severity: z.enum(['info', 'warning', 'error', 'critical']).default('warning'),
    check: Check,
    message: z.object({ zh: z.string().min(1), en: z.string().min(1) }).strict(),
    source: z.string().min(1).describe('where the rule or its limits come from, with standing'),
  })
  .strict();
export type Rule = z.infer<typeof Rule>;

/** A rule pack file. */
export const RulePack = z
  .object({
    kind: z.literal('rule-pack'),
    version: z.literal(1),
    id: z.string().min(1),
    packVersion: z.string().min(1),
    industry: Industry,
    rules: z.array(Rule),
  })
  .strict()
  .superRefine((p, ctx) => {
    const ids = new Set<string>();
    p.rules.forEach((r, i) => {
      if (ids.has(r.id))
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate rule id ${r.id}` });
      ids.add(r.id);
    });
  });
export type RulePack = z.infer<typeof RulePack>;

/** Validates a parsed YAML rule pack. @throws Error listing every problem with its path */
export function parseRulePack(doc: unknown, name = 'rule pack'): RulePack {
  const r = RulePack.safeParse(doc);
  if (!r.success) throw new Error(`${name}: ${z.prettifyError(r.error)}`);
  return r.data;
}

const FINDING_CODE: Record<RuleClass, string> = {
  theoretical_extreme: 'MRV_F_THEORETICAL_EXTREME',
  threshold: 'MRV_F_THRESHOLD',
  standard_value: 'MRV_F_STANDARD_VALUE',
  logic_check: 'MRV_F_LOGIC_CHECK',
};

function globToRegExp(glob: string): RegExp {
  return new RegExp(
    `^${glob
      .split('*')
      .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
}

/** The point ids a target selects among `points` (with the parameter each feeds). */
export function targetPoints(
  target: z.infer<typeof Target>,
  points: readonly { id: string; parameter?: string }[],
): string[] {
  const globs = (target.points ?? []).map(globToRegExp);
  return points
    .filter(
      (p) =>
        globs.some((g) => g.test(p.id)) ||
        (target.parameter !== undefined && p.parameter === target.parameter),
    )
    .map((p) => p.id);
}

function fill(template: string, vars: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m);
}

/** What the engine needs besides the readings. */
export interface RuleContext {
  unitId: string;
  from: number;
  to: number;
  /** Time the findings are raised (the caller's clock). */
  at: number;
}

function finding(
  ctx: RuleContext,
  rule: Rule,
  ts: number,
  vars: Record<string, string>,
  detail: Record<string, unknown>,
  point?: string,
): Finding {
  return {
    id: `${ctx.unitId}:${rule.id}:${point ?? 'period'}:${ts}`.slice(0, 128),
    unitId: ctx.unitId,
    ...(point !== undefined ? { point } : {}),
    source: 'validation',
    code: FINDING_CODE[rule.class],
    rule: rule.id,
    class: rule.class.replace('_', '-'),
    severity: rule.severity,
    message: { zh: fill(rule.message.zh, vars), en: fill(rule.message.en, vars) },
    detail: { ruleClass: rule.class, ruleClassZh: RULE_CLASS_ZH[rule.class], source: rule.source, ...detail },
    ts: new Date(ts).toISOString(),
    at: new Date(ctx.at).toISOString(),
  };
}

interface Run {
  first: number;
  last: number;
  count: number;
  worst: Dec;
}

/**
 * Per-reading rules (`range`, `rate_of_change`) over streamed readings. Feed each point's readings
 * in ascending ts with {@link push}; {@link finish} closes open runs. Pure; no clock of its own.
 */
export class SampleRuleRunner {
  readonly #ctx: RuleContext;
  readonly #rules: { rule: Rule; points: Set<string> }[];
  readonly #runs = new Map<string, Run>();
  readonly #prev = new Map<string, { ts: number; value: Dec }>();
  readonly #out: Finding[] = [];
  /** Parsed rule limits by text, and the last reading's text and value (1 s data repeats values). */
  readonly #limits = new Map<string, Dec>();
  #text: string | undefined;
  #value: Dec | undefined;

  /** @param points the unit's points, for targets by pattern or parameter */
  constructor(pack: RulePack, points: readonly { id: string; parameter?: string }[], ctx: RuleContext) {
    this.#ctx = ctx;
    this.#rules = pack.rules
      .filter((r) => r.check.kind === 'range' || r.check.kind === 'rate_of_change')
      .map((rule) => ({
        rule,
        points: new Set(targetPoints((rule.check as { target: z.infer<typeof Target> }).target, points)),
      }));
  }

  /** Point ids any per-reading rule looks at. */
  watchedPoints(): string[] {
    return [...new Set(this.#rules.flatMap((r) => [...r.points]))].sort();
  }

  push(point: string, samples: readonly Sample[]): void {
    const rules = this.#rules.filter((r) => r.points.has(point));
    if (rules.length === 0) return;
    const keys = rules.map(({ rule }) => `${rule.id}|${point}`);
    // A range verdict depends on the value only: kept per rule for the last value text.
    const rangeText: (string | undefined)[] = rules.map(() => undefined);
    const rangeBad: boolean[] = rules.map(() => false);
    const rangeLimit: string[] = rules.map(() => '');
    for (const s of samples) {
      if (s.ts < this.#ctx.from || s.ts >= this.#ctx.to || s.value === null || s.quality === 'bad') continue;
      if (s.value !== this.#text || this.#value === undefined) {
        this.#value = dec(s.value);
        this.#text = s.value;
      }
      const v = this.#value;
      for (let i = 0; i < rules.length; i++) {
        const { rule } = rules[i] as (typeof rules)[number];
        const key = keys[i] as string;
        const c = rule.check;
        let bad = false;
        let measure = v;
        let limit = '';
        if (c.kind === 'range') {
          if (s.value === rangeText[i]) {
            bad = rangeBad[i] as boolean;
            limit = rangeLimit[i] as string;
          } else {
            if (c.min !== undefined && v.lt(this.#limit(c.min))) [bad, limit] = [true, c.min];
            if (c.max !== undefined && v.gt(this.#limit(c.max))) [bad, limit] = [true, c.max];
            rangeText[i] = s.value;
            rangeBad[i] = bad;
            rangeLimit[i] = limit;
          }
        } else if (c.kind === 'rate_of_change') {
          const p = this.#prev.get(key);
          this.#prev.set(key, { ts: s.ts, value: v });
          if (p && s.ts > p.ts) {
            measure = v
              .minus(p.value)
              .abs()
              .times(60_000)
              .div(s.ts - p.ts);
            if (measure.gt(this.#limit(c.maxPerMinute))) [bad, limit] = [true, c.maxPerMinute];
          }
        }
        const run = this.#runs.get(key);
        if (bad) {
          if (run) {
            run.last = s.ts;
            run.count++;
            if (measure.abs().gt(run.worst.abs())) run.worst = measure;
          } else this.#runs.set(key, { first: s.ts, last: s.ts, count: 1, worst: measure });
          (this.#runs.get(key) as Run & { limit?: string }).limit = limit;
        } else if (run) this.#close(rule, point, run);
      }
    }
  }

  /** A rule limit's decimal value, parsed once. */
  #limit(t: string): Dec {
    let d = this.#limits.get(t);
    if (d === undefined) {
      d = dec(t);
      this.#limits.set(t, d);
    }
    return d;
  }

  #close(rule: Rule, point: string, run: Run & { limit?: string }): void {
    this.#runs.delete(`${rule.id}|${point}`);
    const value = text(run.worst, 6);
    this.#out.push(
      finding(
        this.#ctx,
        rule,
        run.first,
        { point, value, limit: run.limit ?? '', count: String(run.count) },
        {
          first: isoCst(run.first),
          last: isoCst(run.last),
          count: run.count,
          worst: value,
          limit: run.limit,
        },
        point,
      ),
    );
  }

  /** Findings so far, with every open run closed. */
  finish(): Finding[] {
    for (const [key, run] of [...this.#runs]) {
      const [ruleId, point] = key.split('|') as [string, string];
      const rule = this.#rules.find((r) => r.rule.id === ruleId)?.rule;
      if (rule) this.#close(rule, point, run);
    }
    return [...this.#out].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.id < b.id ? -1 : 1));
  }
}

/** Period inputs of the period rules. */
export interface PeriodRuleInput {
  /** Period values of parameters. */
  parameters: ReadonlyMap<string, string>;
  /** Period values of points (for `sum_of_parts`). */
  points: ReadonlyMap<string, string>;
  /** Counter resets and roll-overs found per totalizer point. */
  counterEvents: ReadonlyMap<string, readonly CounterEvent[]>;
  /** Length of the period, days (decimal string). */
  days: string;
  /** The unit's points (for targets). */
  catalogue: readonly { id: string; parameter?: string }[];
}

/** Period rules (`ratio`, `counter_backwards`, `sum_of_parts`, `capacity`). Pure. */
export function evaluatePeriodRules(pack: RulePack, input: PeriodRuleInput, ctx: RuleContext): Finding[] {
  const out: Finding[] = [];
  for (const rule of pack.rules) {
    const c = rule.check;
    if (c.kind === 'ratio') {
      const a = input.parameters.get(c.numerator);
      const b = input.parameters.get(c.denominator);
      if (a === undefined || b === undefined || dec(b).isZero()) continue;
      const r = dec(a).div(dec(b));
      const lo = c.min !== undefined && r.lt(dec(c.min));
      const hi = c.max !== undefined && r.gt(dec(c.max));
      if (lo || hi)
        out.push(
          finding(
            ctx,
            rule,
            ctx.from,
            { value: text(r, 6), limit: (lo ? c.min : c.max) ?? '' },
            { ratio: text(r, 6), numerator: a, denominator: b, min: c.min, max: c.max },
          ),
        );
    } else if (c.kind === 'counter_backwards') {
      for (const p of targetPoints(c.target, input.catalogue))
        for (const e of input.counterEvents.get(p) ?? [])
          if (e.kind === 'reset')
            out.push(
              finding(
                ctx,
                rule,
                e.ts,
                { point: p, value: `${e.before} → ${e.after}` },
                { before: e.before, after: e.after, bridged: e.bridged, at: isoCst(e.ts) },
                p,
              ),
            );
    } else if (c.kind === 'sum_of_parts') {
      const main = input.points.get(c.main);
      const parts = c.parts.map((p) => input.points.get(p));
      if (main === undefined || parts.some((p) => p === undefined)) continue;
      const s = parts.reduce((acc: Dec, p) => acc.plus(dec(p as string)), new D(0));
      const diff = s.minus(dec(main)).abs();
      const allowed = dec(main).abs().times(dec(c.tolerance));
      if (diff.gt(allowed))
        out.push(
          finding(
            ctx,
            rule,
            ctx.from,
            { point: c.main, value: text(s), limit: main },
            { main, sumOfParts: text(s), difference: text(diff), tolerance: c.tolerance },
            c.main,
          ),
        );
    } else if (c.kind === 'capacity') {
      const v = input.parameters.get(c.parameter);
      if (v === undefined) continue;
      const cap = dec(c.maxPerDay).times(dec(input.days));
      if (dec(v).gt(cap))
        out.push(
          finding(
            ctx,
            rule,
            ctx.from,
            { value: v, limit: text(cap) },
            { value: v, capacity: text(cap), maxPerDay: c.maxPerDay, days: input.days },
          ),
        );
    }
  }
  return out;
}
