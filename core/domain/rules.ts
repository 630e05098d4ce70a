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
 * - `sum_of_parts` (period): |Σ parts − main| > tolerance × |main| over period values of points; with
 *   `alignBy` (a ticket-number point) the parts' tickets are those numbered between the ticket numbers
 *   read in the same poll as the main total's first and last reading (ticket-alignment.ts);
 * - `capacity` (period): a parameter above `maxPerDay × days`.
 */
import { z } from 'zod';
import type { CounterFindingCode, Finding } from '../schema/finding.ts';
import { Debounce, type RuleOverride, type RuleOverrides } from '../schema/rule-overrides.ts';
import { DecimalString, Industry } from '../schema/wire.ts';
import {
  type CounterEvent,
  type CounterPhysics,
  classifyCounterStep,
  counterPhysics,
  type Sample,
} from './aggregate.ts';
import { lookupParameter } from './catalogue.ts';
import { D, type Dec, dec, text } from './decimal.ts';
import { isoCst } from './period.ts';
import type { AlignedSum } from './ticket-alignment.ts';

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
  z
    .object({
      kind: z.literal('rate_of_change'),
      target: Target,
      maxPerMinute: DecimalString,
      windowS: z
        .number()
        .min(0)
        .max(86_400)
        .default(60)
        .describe(
          "the change is measured from the latest reading at least this many seconds back (by the readings' timestamps): transducer noise and poll jitter between readings a moment apart are not a rate",
        ),
    })
    .strict(),
  z
    .object({
      kind: z.literal('ratio'),
      numerator: z.string(),
      denominator: z.string(),
      min: DecimalString.optional(),
      max: DecimalString.optional(),
      minDenominator: DecimalString.optional().describe(
        'the ratio is not judged below this denominator (a window with a ladle or two says nothing about a month)',
      ),
    })
    .strict(),
  z.object({ kind: z.literal('counter_backwards'), target: Target }).strict(),
  z
    .object({
      kind: z.literal('sum_of_parts'),
      main: z.string().describe('point id'),
      parts: z.array(z.string()).min(1),
      tolerance: DecimalString.describe('relative, e.g. "0.02" = 2 %'),
      alignBy: z
        .string()
        .min(1)
        .optional()
        .describe(
          "a ticket-number point read in the same request as `main` (a weighing station's running total): the parts are summed over the tickets numbered after the one read with the total's baseline through the one read with its last reading, not by weighing time, so the polled total's edges cannot cut tickets off (core/domain/ticket-alignment.ts); without such readings the comparison falls back to the period values and says so",
        ),
    })
    .strict(),
  z.object({ kind: z.literal('capacity'), parameter: z.string(), maxPerDay: DecimalString }).strict(),
]);

/** One rule. `message` may use `{point}`, `{value}`, `{limit}`, `{count}` placeholders (`{event}` for counter rules). */
export const Rule = z
  .object({
    id: z.string().regex(/^[A-Z0-9][A-Z0-9._-]*$/, 'rule ids are upper-case, e.g. AL-TE-001'),
    class: RuleClass,
    severity: z.enum(['info', 'warning', 'error', 'critical']).default('warning'),
    check: Check,
    debounce: Debounce.optional().describe(
      'per-reading checks: how many consecutive offending readings over how long make a finding (default 1, 0 s); sites override it',
    ),
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

/**
 * The point ids a target selects among `points` (with the parameter each feeds). A target parameter
 * that is a qualified catalogue entry (`power.ncv`, qualified by fuel) selects the points feeding it
 * with any kind (`power.ncv.bituminous_coal`), as the site files must tag them (catalogue.ts).
 */
export function targetPoints(
  target: z.infer<typeof Target>,
  points: readonly { id: string; parameter?: string }[],
): string[] {
  const globs = (target.points ?? []).map(globToRegExp);
  const wanted = target.parameter;
  return points
    .filter(
      (p) =>
        globs.some((g) => g.test(p.id)) ||
        (wanted !== undefined &&
          p.parameter !== undefined &&
          (p.parameter === wanted ||
            (p.parameter.startsWith(`${wanted}.`) && lookupParameter(p.parameter)?.entry.id === wanted))),
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
  /**
   * How late a reading may be stamped, ms (evidence `clockToleranceMs`): widens every rate-of-change
   * window and every counter plausibility check by it, so timestamp skew is no rate. Default 0.
   */
  clockToleranceMs?: number;
}

/**
 * A point as the rules see it: its id and parameter (targets), and for counters their physics so a
 * rate of change reads through roll-overs and resets (aggregate.ts {@link classifyCounterStep}), and
 * the point's own rule settings from the site file.
 */
export interface RulePoint {
  id: string;
  parameter?: string | undefined;
  aggregation?: string | undefined;
  /** Counter modulus, engineering unit (see aggregate.ts `TotalizerOptions.rolloverAt`). */
  rolloverAt?: string | undefined;
  /** Maximum rate, engineering unit per hour. */
  maxRate?: string | undefined;
  maxStep?: string | undefined;
  correctionTolerance?: string | undefined;
  /** Poll interval, ms (time slack of the counter plausibility checks). */
  expectedIntervalMs?: number | undefined;
  rules?: RuleOverrides | undefined;
}

/** The settings of a rule in force for one point: the pack's, then the site's, then the point's. */
export interface EffectiveRule {
  rule: Rule;
  enabled: boolean;
  severity: Rule['severity'];
  min?: string | undefined;
  max?: string | undefined;
  maxPerMinute?: string | undefined;
  minDenominator?: string | undefined;
  windowMs: number;
  count: number;
  minDurationMs: number;
}

/**
 * Merges a rule with the site's and the point's overrides (core/schema/rule-overrides.ts); a field
 * absent from an override keeps the value below it. Pure.
 */
export function effectiveRule(rule: Rule, site?: RuleOverride, point?: RuleOverride): EffectiveRule {
  const c = rule.check;
  const o: RuleOverride = {
    ...site,
    ...point,
    debounce: { ...rule.debounce, ...site?.debounce, ...point?.debounce },
  };
  const pick = (k: 'min' | 'max') => o[k] ?? (c.kind === 'range' || c.kind === 'ratio' ? c[k] : undefined);
  return {
    rule,
    enabled: o.enabled ?? true,
    severity: o.severity ?? rule.severity,
    min: pick('min'),
    max: pick('max'),
    maxPerMinute: o.maxPerMinute ?? (c.kind === 'rate_of_change' ? c.maxPerMinute : undefined),
    minDenominator: o.minDenominator ?? (c.kind === 'ratio' ? c.minDenominator : undefined),
    // A pack parsed before windowS existed (inside an older evidence package) compared reading pairs.
    windowMs: Math.round((o.windowS ?? (c.kind === 'rate_of_change' ? (c.windowS ?? 0) : 0)) * 1000),
    count: o.debounce?.count ?? 1,
    minDurationMs: Math.round((o.debounce?.minDurationS ?? 0) * 1000),
  };
}

/**
 * Checks that every overridden rule id exists in the pack.
 * @returns one message per unknown id (empty when all are known), naming where it was written
 */
export function unknownOverrides(
  pack: RulePack,
  site: RuleOverrides | undefined,
  points: readonly RulePoint[],
): string[] {
  const ids = new Set(pack.rules.map((r) => r.id));
  const out: string[] = [];
  for (const id of Object.keys(site ?? {}))
    if (!ids.has(id)) out.push(`rules.${id}: no rule ${id} in rule pack ${pack.id}`);
  for (const p of points)
    for (const id of Object.keys(p.rules ?? {}))
      if (!ids.has(id)) out.push(`point ${p.id}: rules.${id}: no rule ${id} in rule pack ${pack.id}`);
  return out;
}

function finding(
  ctx: RuleContext,
  rule: Rule,
  ts: number,
  vars: Record<string, string>,
  detail: Record<string, unknown>,
  point?: string,
  extra: { severity?: Rule['severity']; code?: string; id?: string; varsZh?: Record<string, string> } = {},
): Finding {
  return {
    id: (extra.id ?? `${ctx.unitId}:${rule.id}:${point ?? 'period'}:${ts}`).slice(0, 128),
    unitId: ctx.unitId,
    ...(point !== undefined ? { point } : {}),
    source: 'validation',
    code: extra.code ?? FINDING_CODE[rule.class],
    rule: rule.id,
    class: rule.class.replace('_', '-'),
    severity: extra.severity ?? rule.severity,
    message: {
      zh: fill(rule.message.zh, { ...vars, ...extra.varsZh }),
      en: fill(rule.message.en, vars),
    },
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
  limit: string;
}

/** Per (rule, point) state of a per-reading check. */
interface Watch {
  eff: EffectiveRule;
  point: string;
  key: string;
  kind: 'range' | 'rate_of_change';
  /** Parsed limits (range: min/max; rate: maxPerMinute) and their float images for the fast path. */
  min?: { d: Dec; f: number; t: string };
  max?: { d: Dec; f: number; t: string };
  rate?: Dec;
  /** Range: the last value text and its verdict (1 s data repeats values). */
  lastText?: string;
  lastLimit?: string;
  /** Rate: recent readings (ts, counted value), oldest first, pruned to the one just outside the window. */
  recent: { ts: number; v: Dec }[];
  run?: Run;
}

/** Counter state of a totalizer point for its rate rules (a cumulative count that reads through wraps). */
interface CounterTrack {
  physics: CounterPhysics;
  ref: Dec | null;
  prevTs: number;
  /** Increases counted since the first reading (the value the rate rules look at). */
  counted: Dec;
  /** Bumped at each reset or review: rate windows do not reach across one. */
  epoch: number;
}

/** A decimal limit with its float image: decisive unless the value lies within 1e-9 (relative) of it. */
function limitOf(t: string): { d: Dec; f: number; t: string } {
  return { d: dec(t), f: Number(t), t };
}

/** −1, 0, 1: `x` (text, float image `xf`) compared with a limit; decimal only near the limit. */
function compare(x: string, xf: number, l: { d: Dec; f: number }): number {
  const margin = 1e-9 * Math.max(1, Math.abs(l.f));
  if (Number.isFinite(xf) && Math.abs(xf - l.f) > margin) return xf < l.f ? -1 : 1;
  return dec(x).cmp(l.d);
}

/**
 * Per-reading rules (`range`, `rate_of_change`) over streamed readings, on every point each rule names
 * (targets by id pattern or parameter), with the site's and the point's settings. Feed each point's
 * readings in ascending ts with {@link push} (readings before `from` only prime rate windows and
 * counters); {@link finish} closes open runs. A run of consecutive offending readings raises one
 * finding when it lasts at least the debounce count and duration. Pure; no clock of its own.
 *
 * Rate of change is |Δ| per minute from the latest reading at least `windowS` back, by the readings' own
 * timestamps. On a totalizer it is the rate of what the counter counted (aggregate.ts
 * {@link classifyCounterStep}): a roll-over adds its wrapped increase, a correction nothing, and a reset
 * or a step left for review starts a new window (the counter findings report those).
 */
export class SampleRuleRunner {
  readonly #ctx: RuleContext;
  readonly #watches = new Map<string, Watch[]>();
  readonly #counters = new Map<string, CounterTrack>();
  readonly #out: Finding[] = [];

  /**
   * @param points the unit's points, for targets by pattern or parameter, counter physics and point overrides
   * @param siteRules the site's rule settings by rule id
   */
  constructor(pack: RulePack, points: readonly RulePoint[], ctx: RuleContext, siteRules?: RuleOverrides) {
    this.#ctx = ctx;
    const byId = new Map(points.map((p) => [p.id, p]));
    for (const rule of pack.rules) {
      const c = rule.check;
      if (c.kind !== 'range' && c.kind !== 'rate_of_change') continue;
      for (const id of targetPoints(c.target, points)) {
        const p = byId.get(id) as RulePoint;
        const eff = effectiveRule(rule, siteRules?.[rule.id], p.rules?.[rule.id]);
        if (!eff.enabled) continue;
        if (eff.windowMs > 0) eff.windowMs += ctx.clockToleranceMs ?? 0;
        const w: Watch = { eff, point: id, key: `${rule.id}|${id}`, kind: c.kind, recent: [] };
        if (c.kind === 'range') {
          if (eff.min !== undefined) w.min = limitOf(eff.min);
          if (eff.max !== undefined) w.max = limitOf(eff.max);
        } else {
          w.rate = dec(eff.maxPerMinute as string);
          if (p.aggregation === 'totalizer' && !this.#counters.has(id))
            this.#counters.set(id, {
              physics: counterPhysics({
                rolloverAt: p.rolloverAt,
                maxRatePerHour: p.maxRate,
                maxStep: p.maxStep,
                correctionTolerance: p.correctionTolerance,
                timeSlackMs: (p.expectedIntervalMs ?? 0) + (ctx.clockToleranceMs ?? 0),
              }),
              ref: null,
              prevTs: 0,
              counted: new D(0),
              epoch: 0,
            });
        }
        this.#watches.set(id, [...(this.#watches.get(id) ?? []), w]);
      }
    }
  }

  /** Point ids any per-reading rule looks at. */
  watchedPoints(): string[] {
    return [...this.#watches.keys()].sort();
  }

  push(point: string, samples: readonly Sample[]): void {
    const watches = this.#watches.get(point);
    if (!watches) return;
    const counter = this.#counters.get(point);
    const { from, to } = this.#ctx;
    let text0: string | undefined;
    let value0: Dec = new D(0);
    for (const s of samples) {
      if (s.ts >= to || s.value === null || s.quality === 'bad') continue;
      const t = s.value;
      const xf = Number(t);
      let parsed: Dec | undefined;
      const value = (): Dec => {
        if (parsed === undefined) {
          if (t !== text0) {
            value0 = dec(t);
            text0 = t;
          }
          parsed = value0;
        }
        return parsed;
      };
      // The counter's own view: what it counted, and whether a window may reach back across this step.
      let counted: Dec | undefined;
      let broke = false;
      if (counter) {
        const v = value();
        if (counter.ref === null) counter.ref = v;
        else if (!v.eq(counter.ref)) {
          const c = classifyCounterStep(counter.ref, v, s.ts - counter.prevTs, counter.physics);
          counter.counted = counter.counted.plus(c.counted);
          if (c.kind !== 'correction') counter.ref = v;
          broke = c.kind === 'reset' || c.kind === 'review';
        }
        counter.prevTs = s.ts;
        counted = counter.counted;
      }
      const inPeriod = s.ts >= from;
      for (const w of watches) {
        if (w.kind === 'range') {
          if (!inPeriod) continue;
          let limit: string | undefined;
          if (t === w.lastText) limit = w.lastLimit;
          else {
            if (w.min && compare(t, xf, w.min) < 0) limit = w.min.t;
            if (w.max && compare(t, xf, w.max) > 0) limit = w.max.t;
            w.lastText = t;
            w.lastLimit = limit;
          }
          if (limit !== undefined) this.#offend(w, s.ts, value(), limit);
          else if (w.run) this.#close(w);
          continue;
        }
        // rate_of_change
        const v = counted ?? value();
        if (broke) w.recent = [];
        const r = w.recent;
        r.push({ ts: s.ts, v });
        // Keep the latest earlier reading at least windowMs back as r[0] (r ends with this one).
        while (r.length > 2 && s.ts - (r[1] as { ts: number }).ts >= w.eff.windowMs) r.shift();
        const base = r[0] as { ts: number; v: Dec };
        const dt = s.ts - base.ts;
        if (!inPeriod || r.length < 2 || dt <= 0 || dt < w.eff.windowMs) continue;
        const measure = v.minus(base.v).abs().times(60_000).div(dt);
        if (measure.gt(w.rate as Dec)) this.#offend(w, s.ts, measure, w.eff.maxPerMinute as string);
        else if (w.run) this.#close(w);
      }
    }
  }

  #offend(w: Watch, ts: number, measure: Dec, limit: string): void {
    const run = w.run;
    if (!run) {
      w.run = { first: ts, last: ts, count: 1, worst: measure, limit };
      return;
    }
    run.last = ts;
    run.count++;
    if (measure.abs().gt(run.worst.abs())) {
      run.worst = measure;
      run.limit = limit;
    }
  }

  #close(w: Watch): void {
    const run = w.run as Run;
    w.run = undefined;
    const { eff, point } = w;
    // Debounce: a shorter run is a transient (noise, jitter), not a finding.
    if (run.count < eff.count || run.last - run.first < eff.minDurationMs) return;
    const value = text(run.worst, 6);
    this.#out.push(
      finding(
        this.#ctx,
        eff.rule,
        run.first,
        { point, value, limit: run.limit, count: String(run.count) },
        {
          first: isoCst(run.first),
          last: isoCst(run.last),
          count: run.count,
          worst: value,
          limit: run.limit,
          ...(w.kind === 'rate_of_change' ? { windowS: eff.windowMs / 1000 } : {}),
          ...(eff.count > 1 || eff.minDurationMs > 0
            ? { debounce: { count: eff.count, minDurationS: eff.minDurationMs / 1000 } }
            : {}),
        },
        point,
        { severity: eff.severity },
      ),
    );
  }

  /**
   * The state as JSON (an evidence checkpoint, evidence.ts): each watch's open run and rate window,
   * each counter's view and the findings closed so far. {@link restore} takes it back.
   */
  snapshot(): Record<string, unknown> {
    const run = (r: Run | undefined) => (r ? { ...r, worst: r.worst.toString() } : null);
    const watches: Record<string, unknown> = {};
    for (const ws of this.#watches.values())
      for (const w of ws)
        watches[w.key] = { run: run(w.run), recent: w.recent.map((x) => [x.ts, x.v.toString()]) };
    const counters: Record<string, unknown> = {};
    for (const [id, c] of this.#counters)
      counters[id] = {
        ref: c.ref?.toString() ?? null,
        prevTs: c.prevTs,
        counted: c.counted.toString(),
        epoch: c.epoch,
      };
    return { watches, counters, out: structuredClone(this.#out) };
  }

  /**
   * Sets the state from a {@link snapshot} of a runner built with the same pack, points and window;
   * the findings closed before it take this runner's generation time (`ctx.at`).
   */
  restore(s: Record<string, unknown>): void {
    const watches = s.watches as Record<
      string,
      { run: (Omit<Run, 'worst'> & { worst: string }) | null; recent: [number, string][] }
    >;
    for (const ws of this.#watches.values())
      for (const w of ws) {
        const st = watches[w.key];
        delete w.lastText;
        delete w.lastLimit;
        if (st?.run) w.run = { ...st.run, worst: dec(st.run.worst) };
        else delete w.run;
        w.recent = (st?.recent ?? []).map(([ts, v]) => ({ ts, v: dec(v) }));
      }
    const counters = s.counters as Record<
      string,
      { ref: string | null; prevTs: number; counted: string; epoch: number }
    >;
    for (const [id, c] of this.#counters) {
      const st = counters[id];
      if (!st) continue;
      c.ref = st.ref === null ? null : dec(st.ref);
      c.prevTs = st.prevTs;
      c.counted = dec(st.counted);
      c.epoch = st.epoch;
    }
    const at = new Date(this.#ctx.at).toISOString();
    this.#out.length = 0;
    for (const f of structuredClone(s.out as Finding[])) this.#out.push({ ...f, at });
  }

  /** Findings so far, with every open run closed. */
  finish(): Finding[] {
    for (const ws of this.#watches.values()) for (const w of ws) if (w.run) this.#close(w);
    return [...this.#out].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.id < b.id ? -1 : 1));
  }
}

/** Period inputs of the period rules. */
export interface PeriodRuleInput {
  /** Period values of parameters. */
  parameters: ReadonlyMap<string, string>;
  /** Period values of points (for `sum_of_parts`). */
  points: ReadonlyMap<string, string>;
  /**
   * For `sum_of_parts` rules with `alignBy`, by rule id: the parts' sum over the tickets read between
   * the main total's first and last reading (ticket-alignment.ts `alignedPartSum`). A rule with
   * `alignBy` and no entry (or one that could not be aligned) compares the period values and says why
   * in its finding's detail.
   */
  alignedSums?: ReadonlyMap<string, AlignedSum>;
  /** Counter discontinuities (resets, corrections, reviews, roll-overs) found per totalizer point. */
  counterEvents: ReadonlyMap<string, readonly CounterEvent[]>;
  /** Length of the period, days (decimal string). */
  days: string;
  /** The unit's points (for targets). */
  catalogue: readonly RulePoint[];
  /** The site's rule settings by rule id. */
  siteRules?: RuleOverrides | undefined;
  /**
   * Evidence formatVersion 1's counter findings, to recompute packages made with it: resets only, with
   * the rule class's code, and no `MRV-COUNTER` for points no counter rule names.
   */
  legacyCounters?: boolean;
}

/** Finding codes of counter discontinuities (core/schema/finding.ts {@link CounterFindingCodes}). */
const COUNTER_CODE: Record<Exclude<CounterEvent['kind'], 'rollover'>, CounterFindingCode> = {
  reset: 'MRV_F_COUNTER_RESET',
  correction: 'MRV_F_COUNTER_CORRECTION',
  review: 'MRV_F_COUNTER_REVIEW',
};

const EVENT_TEXT: Record<Exclude<CounterEvent['kind'], 'rollover'>, { zh: string; en: string }> = {
  reset: { zh: '复位, 自零计入', en: 'a reset, counted from zero' },
  correction: { zh: '容差内回调, 计 0', en: 'a correction within the tolerance, counted 0' },
  review: { zh: '无法判定, 未计入, 待人工复核', en: 'not explained, not counted, for review' },
};

/**
 * The counter rule for totalizer points no `counter_backwards` rule of the pack names: their resets,
 * corrections and reviews are findings all the same (docs/architecture.md §7: nothing unverified looks
 * verified).
 */
export const DEFAULT_COUNTER_RULE: Rule = {
  id: 'MRV-COUNTER',
  class: 'logic_check',
  severity: 'error',
  check: { kind: 'counter_backwards', target: { points: [] } },
  message: {
    zh: '{point} 累计值不连续 ({value}): {event}',
    en: '{point}: totalizer discontinuity ({value}): {event}',
  },
  source: '[practice] a cumulative counter only increases, or wraps at its modulus',
};

function counterFindings(
  ctx: RuleContext,
  rule: Rule,
  point: string,
  events: readonly CounterEvent[],
  severity: Rule['severity'],
): Finding[] {
  const out: Finding[] = [];
  for (const e of events) {
    if (e.kind === 'rollover') continue;
    const { ts: _ts, kind, ...values } = e;
    out.push(
      finding(
        ctx,
        rule,
        e.ts,
        { point, value: `${e.before} → ${e.after}`, event: EVENT_TEXT[kind].en },
        { event: kind, ...values, at: isoCst(e.ts) },
        point,
        {
          code: COUNTER_CODE[kind],
          // A correction is worth knowing; a step nobody can explain needs a person.
          severity:
            kind === 'correction'
              ? 'info'
              : kind === 'review' && severity !== 'critical'
                ? 'error'
                : severity,
          varsZh: { event: EVENT_TEXT[kind].zh },
        },
      ),
    );
  }
  return out;
}

/** Period rules (`ratio`, `counter_backwards`, `sum_of_parts`, `capacity`), with the site's settings. Pure. */
export function evaluatePeriodRules(pack: RulePack, input: PeriodRuleInput, ctx: RuleContext): Finding[] {
  const out: Finding[] = [];
  const countered = new Set<string>();
  const byId = new Map(input.catalogue.map((p) => [p.id, p]));
  for (const rule of pack.rules) {
    const c = rule.check;
    const eff = effectiveRule(rule, input.siteRules?.[rule.id]);
    if (c.kind === 'counter_backwards') {
      for (const p of targetPoints(c.target, input.catalogue)) {
        countered.add(p);
        const pe = effectiveRule(rule, input.siteRules?.[rule.id], byId.get(p)?.rules?.[rule.id]);
        const events = input.counterEvents.get(p) ?? [];
        if (input.legacyCounters) {
          for (const e of events)
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
        } else if (pe.enabled) out.push(...counterFindings(ctx, rule, p, events, pe.severity));
      }
      continue;
    }
    if (!eff.enabled) continue;
    const sev = { severity: eff.severity };
    if (c.kind === 'ratio') {
      const a = input.parameters.get(c.numerator);
      const b = input.parameters.get(c.denominator);
      if (a === undefined || b === undefined || dec(b).isZero()) continue;
      if (eff.minDenominator !== undefined && dec(b).lt(dec(eff.minDenominator))) continue;
      const r = dec(a).div(dec(b));
      const lo = eff.min !== undefined && r.lt(dec(eff.min));
      const hi = eff.max !== undefined && r.gt(dec(eff.max));
      if (lo || hi)
        out.push(
          finding(
            ctx,
            rule,
            ctx.from,
            { value: text(r, 6), limit: (lo ? eff.min : eff.max) ?? '' },
            { ratio: text(r, 6), numerator: a, denominator: b, min: eff.min, max: eff.max },
            undefined,
            sev,
          ),
        );
    } else if (c.kind === 'sum_of_parts') {
      const main = input.points.get(c.main);
      const parts = c.parts.map((p) => input.points.get(p));
      if (main === undefined || parts.some((p) => p === undefined)) continue;
      const aligned = c.alignBy !== undefined ? input.alignedSums?.get(rule.id) : undefined;
      const s = aligned?.ok
        ? dec(aligned.sum)
        : parts.reduce((acc: Dec, p) => acc.plus(dec(p as string)), new D(0));
      const diff = s.minus(dec(main)).abs();
      const allowed = dec(main).abs().times(dec(c.tolerance));
      // What was compared: the tickets by number (aligned), or the period values and why not aligned.
      const alignment =
        c.alignBy === undefined
          ? {}
          : aligned?.ok
            ? {
                alignedBy: c.alignBy,
                tickets: { after: aligned.after, through: aligned.through, counted: aligned.tickets },
              }
            : {
                alignedBy: null,
                notAligned: `${aligned?.reason ?? `no ${c.alignBy} readings`}: the period values are compared (the polled total's edges may cut tickets off)`,
              };
      if (diff.gt(allowed))
        out.push(
          finding(
            ctx,
            rule,
            ctx.from,
            { point: c.main, value: text(s), limit: main },
            { main, sumOfParts: text(s), difference: text(diff), tolerance: c.tolerance, ...alignment },
            c.main,
            sev,
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
            undefined,
            sev,
          ),
        );
    }
  }
  // Totalizers no counter rule names: the default counter rule.
  if (input.legacyCounters) return out;
  for (const [p, events] of [...input.counterEvents].sort(([a], [b]) => (a < b ? -1 : 1)))
    if (!countered.has(p))
      out.push(...counterFindings(ctx, DEFAULT_COUNTER_RULE, p, events, DEFAULT_COUNTER_RULE.severity));
  return out;
}
