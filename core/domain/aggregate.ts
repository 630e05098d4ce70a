/**
 * Aggregation kinds (docs/architecture.md §7): how a point's readings become one value for a period `[from, to)`.
 * Each kind is an accumulator fed readings in time order (so a month of 1-second readings streams
 * through in day-sized chunks) with a one-call wrapper for tests and small inputs.
 *
 * - totalizer: difference of a cumulative counter; a drop is a roll-over (the counter wrapped at its
 *   modulus), a reset (it restarted from zero) or a correction (a small step back), told apart by the
 *   meter's declared maximum rate and correction tolerance; what none of them explains is left for
 *   review, never summed. Each is reported.
 * - events: sum of weighing tickets, each ticket counted once by its number, in the period of its
 *   earliest observation; a ticket already seen before `from` (the register still shows it) is not
 *   counted. A ticket read from the terminal's ticket memory is observed at its own weighing time
 *   (drivers/modbus/event-log-config.ts), so it counts in the month it was weighed. Ticket numbers
 *   skipped inside the period are reported as `missing`.
 * - rate: time integral of a flow rate (trapezoids between consecutive readings).
 * - gauge: time-weighted mean (sample-and-hold), min and max.
 *
 * Readings of quality `bad` carry no value and are skipped (completeness reports them); `good` and
 * `uncertain` readings are used. All arithmetic is decimal (decimal.ts); times are ms epoch.
 */
import type { Quality } from '../schema/wire.ts';
import { D, type Dec, dec, text } from './decimal.ts';

/** One reading of one point as the domain sees it. */
export interface Sample {
  /** Source time, ms epoch. */
  ts: number;
  /** Exact decimal string; null when bad. */
  value: string | null;
  quality: Quality;
  reason?: string;
}

/**
 * A counter discontinuity found by the totalizer (values in the point's engineering unit):
 * - `rollover`: the counter wrapped at its modulus, and the increase this implies
 *   (modulus − before + after) is within what the meter can count at its declared maximum rate in
 *   the time elapsed: bridged, the increase counted;
 * - `reset`: the counter restarted from zero (a replaced PLC, an operator's reset), and what it shows
 *   now (`after`) is within what it can count at its maximum rate since the last reading: `after` is
 *   counted (it was counted since zero);
 * - `correction`: a backwards step of at most the declared `correctionTolerance` (a zero correction, a
 *   totalizer trimmed by the scale's controller): nothing counted, and counting resumes once the
 *   counter passes the value before the step again (the high-water mark), so nothing is counted twice;
 * - `review`: none of these is physically plausible (or the meter declares no maximum rate, so none can
 *   be told apart), or the counter jumped forward faster than its maximum rate: nothing counted, the
 *   counter's new value becomes the base, and a person must decide (the candidates are in the event).
 */
export interface CounterEvent {
  kind: 'rollover' | 'reset' | 'correction' | 'review';
  /** Time of the first reading after the discontinuity, ms epoch. */
  ts: number;
  /** Counter before (the high-water mark counted up to) and after. */
  before: string;
  after: string;
  /** Increase counted across it: the wrapped increase (roll-over), `after` (reset), 0 (correction, review). */
  bridged: string;
  /** Time since the previous usable reading, ms. */
  elapsedMs?: number;
  /** Most the counter can have counted in that time at its maximum rate (+ time slack); absent without `maxRatePerHour`. */
  plausibleMax?: string;
  /** `review` only: why, and the increase each reading would imply. */
  reason?: 'no_max_rate' | 'implausible_drop' | 'implausible_jump';
  candidates?: { rollover?: string; reset?: string; increase?: string };
}

/** Period value of a totalizer. */
export interface TotalizerResult {
  kind: 'totalizer';
  /** Sum of the increases read in the period, exact. */
  value: string;
  /** Last usable reading before `from` the first increase is counted from; null when none (the first reading in the period is then the base). */
  baseline: { ts: number; value: string } | null;
  last: { ts: number; value: string } | null;
  /** Usable readings in the period. */
  readings: number;
  rollovers: CounterEvent[];
  resets: CounterEvent[];
  /** Backwards steps within the correction tolerance (present only when there were any). */
  corrections?: CounterEvent[];
  /** Discontinuities left for a person to decide, not counted (present only when there were any). */
  reviews?: CounterEvent[];
}

/** Options of {@link TotalizerAccumulator}. */
export interface TotalizerOptions {
  from: number;
  to: number;
  /**
   * Counter modulus in engineering units (e.g. a uint32 kWh register read in MWh: 2^32 × 0.001 =
   * "4294967.296"). Without it no drop is a roll-over.
   */
  rolloverAt?: string;
  /**
   * The meter's declared maximum rate, engineering unit per hour (site file point `maxRate`, e.g.
   * "300" t/h for a 208 t/h belt scale). A roll-over, reset or forward step is accepted only when the
   * increase it implies fits in `maxRatePerHour × (elapsed + timeSlackMs)`. Without it every drop
   * beyond the correction tolerance is left for review.
   */
  maxRatePerHour?: string;
  /**
   * Largest increase the counter makes at once, engineering unit (site file `maxStep`: a batch
   * counter adds a whole ladle, heat or block in one update); added to the plausible increase. Default 0.
   */
  maxStep?: string;
  /** Largest backwards step taken as a correction, engineering unit (site file `correctionTolerance`); default 0. */
  correctionTolerance?: string;
  /**
   * Added to the elapsed time of each plausibility check, ms: a reading's time and the instant its
   * meter last updated the register differ by up to a poll interval (evidence passes the point's).
   * Default 0.
   */
  timeSlackMs?: number;
  /**
   * Evidence formatVersion 1's rule, to recompute packages made with it: a drop whose wrapped increase
   * is under half the modulus is a roll-over, any other drop a reset counted from zero; no physics.
   */
  legacy?: boolean;
}

/** A meter's counter physics, parsed once (see {@link TotalizerOptions}). */
export interface CounterPhysics {
  /** formatVersion 1's half-modulus rule (see {@link TotalizerOptions.legacy}). */
  legacy?: boolean;
  modulus: Dec | undefined;
  maxRatePerHour: Dec | undefined;
  maxStep: Dec;
  correctionTolerance: Dec;
  timeSlackMs: number;
}

/** Parses the physics fields of totalizer options. @throws Error for a value that is not a decimal */
export function counterPhysics(o: {
  rolloverAt?: string | undefined;
  maxRatePerHour?: string | undefined;
  maxStep?: string | undefined;
  correctionTolerance?: string | undefined;
  timeSlackMs?: number | undefined;
  legacy?: boolean | undefined;
}): CounterPhysics {
  return {
    ...(o.legacy ? { legacy: true } : {}),
    modulus: o.rolloverAt !== undefined ? dec(o.rolloverAt) : undefined,
    maxRatePerHour: o.maxRatePerHour !== undefined ? dec(o.maxRatePerHour) : undefined,
    maxStep: dec(o.maxStep ?? '0'),
    correctionTolerance: dec(o.correctionTolerance ?? '0'),
    timeSlackMs: o.timeSlackMs ?? 0,
  };
}

/** What one counter step is (see {@link CounterEvent}; `increase` is an ordinary step forward). */
export interface CounterStep {
  kind: 'increase' | CounterEvent['kind'];
  /** What the step adds to the period value. */
  counted: Dec;
  plausibleMax?: Dec;
  reason?: CounterEvent['reason'];
  candidates?: CounterEvent['candidates'];
}

/**
 * Classifies the step of a cumulative counter from `ref` (what has been counted up to) to the reading
 * `v`, `elapsedMs` after the previous reading, against the meter's physics: the most it can count in
 * that time is maxRate × (elapsed + slack) / 1 h + maxStep + one count (a unit of the readings' last
 * decimal place). In order: a step forward within that is an increase
 * (beyond it: review, a preset or replaced counter); a step back of at most the correction tolerance is
 * a correction; a wrapped increase (modulus − ref + v) within it is a roll-over; a reading `v` within it
 * is a reset from zero; anything else, and every drop of a meter without a declared maximum rate, is
 * left for review (counted 0). Pure.
 */
export function classifyCounterStep(ref: Dec, v: Dec, elapsedMs: number, p: CounterPhysics): CounterStep {
  const d = v.minus(ref);
  const zero = new D(0);
  if (p.legacy) {
    if (d.gte(0)) return { kind: 'increase', counted: d };
    const w = p.modulus?.minus(ref).plus(v);
    if (w?.gte(0) && w.lt((p.modulus as Dec).div(2))) return { kind: 'rollover', counted: w };
    return { kind: 'reset', counted: v.gte(0) ? v : zero };
  }
  // A counter moves in whole counts of its last digit: one count may show in any short interval
  // (a 1 kg count of a 1.3 t/h counter within 50 ms), so one count is always plausible.
  const count = new D(10).pow(-Math.max(ref.decimalPlaces(), v.decimalPlaces()));
  const max = p.maxRatePerHour
    ?.times(Math.max(0, elapsedMs) + p.timeSlackMs)
    .div(3_600_000)
    .plus(p.maxStep)
    .plus(count);
  const withMax = max ? { plausibleMax: max } : {};
  if (d.gte(0)) {
    if (max === undefined || d.lte(max)) return { kind: 'increase', counted: d };
    return {
      kind: 'review',
      counted: zero,
      ...withMax,
      reason: 'implausible_jump',
      candidates: { increase: text(d) },
    };
  }
  if (d.neg().lte(p.correctionTolerance)) return { kind: 'correction', counted: zero, ...withMax };
  const wrapped = p.modulus?.minus(ref).plus(v);
  const candidates = {
    ...(wrapped?.gte(0) ? { rollover: text(wrapped) } : {}),
    ...(v.gte(0) ? { reset: text(v) } : {}),
  };
  if (max === undefined) return { kind: 'review', counted: zero, reason: 'no_max_rate', candidates };
  if (wrapped?.gte(0) && wrapped.lte(max)) return { kind: 'rollover', counted: wrapped, ...withMax };
  if (v.gte(0) && v.lte(max)) return { kind: 'reset', counted: v, ...withMax };
  return { kind: 'review', counted: zero, ...withMax, reason: 'implausible_drop', candidates };
}

/**
 * Totalizer accumulator. An increase is attributed to the period in which it is read: the step from
 * the last reading before `from` to the first in the period belongs to the period. Discontinuities
 * (see {@link CounterEvent}) are classified against the meter's physics: its modulus, maximum rate and
 * correction tolerance; the step from the baseline (before `from`) is classified like any other.
 */
export class TotalizerAccumulator {
  readonly #o: TotalizerOptions;
  readonly #physics: CounterPhysics;
  /** The physics' maximum rate and step as floats, for the exact-increase screen ({@link #fastIncrease}). */
  readonly #rateF: number | undefined;
  readonly #stepF: number;
  #baseline: { ts: number; text: string; value: Dec | undefined } | null = null;
  // The previous usable reading: ts, its text and value (parsed when needed; none before the first
  // one). A reading with the same text as the previous one adds exactly 0 and is not parsed (1 s data
  // of a slow counter).
  #hasPrev = false;
  #prevTs = 0;
  #prevValue: Dec | undefined;
  #prevText = '';
  /**
   * What has been counted up to (the high-water mark; above the previous reading after a correction):
   * its text (null before the first reading), its value (parsed when needed; the same object until
   * the mark moves, as the correction events compare it by identity) and its scaled-integer form.
   */
  #refText: string | null = null;
  #ref: Dec | undefined;
  #refScaled: Scaled | undefined | null;
  #sum: Dec = new D(0);
  /**
   * Increases not yet added to `#sum`: an integer of units of 10^-`#pendingScale` (exact; see
   * {@link #fastIncrease}); `#sumRoom` says whether `#sum` is small enough that adding them is exact.
   */
  #pending = 0;
  #pendingScale = 0;
  #sumRoom = true;
  #readings = 0;
  #events: CounterEvent[] = [];
  /** The high-water mark of the last correction event (one event per step down, not per reading). */
  #lastCorrectionRef: Dec | null = null;

  constructor(options: TotalizerOptions) {
    this.#o = options;
    this.#physics = counterPhysics(options);
    this.#rateF = this.#physics.maxRatePerHour?.toNumber();
    this.#stepF = this.#physics.maxStep.toNumber();
  }

  #prevDec(): Dec {
    if (this.#prevValue === undefined) this.#prevValue = dec(this.#prevText);
    return this.#prevValue;
  }

  #refDec(): Dec | null {
    if (this.#refText === null) return null;
    if (this.#ref === undefined) this.#ref = dec(this.#refText);
    return this.#ref;
  }

  /** The mark moves to the current reading (its text, and its value when parsed). */
  #setRef(scaledForm?: Scaled): void {
    this.#refText = this.#prevText;
    this.#ref = this.#prevValue;
    this.#refScaled = scaledForm;
  }

  /** Adds the pending increases to `#sum` (exact: see {@link #fastIncrease}). */
  #flush(): Dec {
    if (this.#pending !== 0) {
      this.#sum = this.#sum.plus(new D(`${this.#pending}e-${this.#pendingScale}`));
      this.#pending = 0;
    }
    this.#sumRoom = this.#sum.abs().lt(SUM_ROOM) && this.#sum.decimalPlaces() <= MAX_SCALED_DIGITS;
    return this.#sum;
  }

  /**
   * The step from the mark to the reading `t`, `elapsed` ms after the previous one, when it is
   * certainly an `increase` of {@link classifyCounterStep}: then it is added, exactly, to the pending
   * integer and true returned; otherwise (a drop, a step near or past the plausible maximum, texts
   * that are not plain decimals of at most 15 digits, a sum too large) false, and the caller takes
   * the decimal path. Exact: both readings are integers of units of 10^-scale below 2^53, so their
   * difference is exact; the plausible maximum is screened in floats with a margin of 10^-9 (far
   * above their error, 10^-15, and the decimal path's rounding at 40 digits), so "certainly below"
   * is what the decimal comparison finds; `#sum` stays below 10^20 with at most 15 decimals, so every
   * partial sum has at most 36 significant digits and the decimal path's additions (40 digits) round
   * nothing either: the order of the additions does not matter (test/unit/domain/aggregate-fastpath.test.ts).
   */
  #fastIncrease(t: string, elapsed: number): boolean {
    if (this.#physics.legacy || !this.#sumRoom) return false;
    const v = scaled(t);
    if (v === undefined) return false;
    let r = this.#refScaled;
    if (r === undefined)
      r = this.#refScaled = this.#refText === null ? null : (scaled(this.#refText) ?? null);
    if (r === null) return false;
    const scale = Math.max(v.scale, r.scale);
    const d = v.m * 10 ** (scale - v.scale) - r.m * 10 ** (scale - r.scale);
    if (!(d >= 0) || !Number.isSafeInteger(d)) return false;
    if (this.#rateF !== undefined) {
      const count = 10 ** -Math.max(v.dp, r.dp);
      const max =
        (this.#rateF * (Math.max(0, elapsed) + this.#physics.timeSlackMs)) / 3_600_000 + this.#stepF + count;
      if (!(d / 10 ** scale <= max * (1 - 1e-9))) return false;
    }
    if (scale !== this.#pendingScale || !Number.isSafeInteger(this.#pending + d)) {
      this.#flush();
      if (!this.#sumRoom) return false;
      this.#pendingScale = scale;
    }
    this.#pending += d;
    this.#setRef(v);
    return true;
  }

  /** Feeds readings in ascending `ts` (readings before `from` only set the baseline; at or after `to` are ignored). */
  push(samples: readonly Sample[]): void {
    const { from, to } = this.#o;
    for (const s of samples) {
      const t = s.value;
      if (t === null || s.quality === 'bad' || s.ts >= to) continue;
      const same = this.#hasPrev && t === this.#prevText;
      const prevTs = this.#prevTs;
      this.#hasPrev = true;
      this.#prevTs = s.ts;
      if (!same) {
        this.#prevText = t;
        this.#prevValue = undefined;
      }
      if (s.ts < from) {
        this.#baseline = { ts: s.ts, text: t, value: undefined };
        this.#setRef();
        continue;
      }
      this.#readings++;
      if (this.#refText === null) {
        this.#setRef();
        continue;
      }
      if (same && (t === this.#refText || this.#prevDec().eq(this.#refDec() as Dec))) continue;
      if (this.#fastIncrease(t, s.ts - prevTs)) continue;
      this.#step(this.#refDec() as Dec, this.#prevDec(), s.ts, s.ts - prevTs);
    }
  }

  /** Classifies the step from the high-water mark `ref` to `v` (the current reading), read `elapsed` ms after the previous reading. */
  #step(ref: Dec, v: Dec, ts: number, elapsed: number): void {
    const c = classifyCounterStep(ref, v, elapsed, this.#physics);
    this.#sum = this.#flush().plus(c.counted);
    this.#sumRoom = this.#sum.abs().lt(SUM_ROOM) && this.#sum.decimalPlaces() <= MAX_SCALED_DIGITS;
    if (c.kind === 'correction') {
      // Counted up to `ref` already: resume above it. One event per step down, not per reading.
      if (this.#lastCorrectionRef === ref) return;
      this.#lastCorrectionRef = ref;
    } else this.#setRef();
    if (c.kind === 'increase') return;
    this.#events.push({
      kind: c.kind,
      ts,
      before: text(ref),
      after: text(v),
      bridged: text(c.counted),
      ...(this.#physics.legacy ? {} : { elapsedMs: elapsed }),
      ...(c.plausibleMax ? { plausibleMax: text(c.plausibleMax, 6) } : {}),
      ...(c.reason ? { reason: c.reason } : {}),
      ...(c.candidates ? { candidates: c.candidates } : {}),
    });
  }

  #baselineDec(): { ts: number; value: Dec } | null {
    const b = this.#baseline;
    if (!b) return null;
    if (b.value === undefined) b.value = dec(b.text);
    return { ts: b.ts, value: b.value };
  }

  result(): TotalizerResult {
    const b = this.#baselineDec();
    const last =
      this.#hasPrev && this.#prevTs >= this.#o.from
        ? { ts: this.#prevTs, value: text(this.#prevDec()) }
        : null;
    const of = (k: CounterEvent['kind']) => this.#events.filter((e) => e.kind === k);
    const corrections = of('correction');
    const reviews = of('review');
    return {
      kind: 'totalizer',
      value: text(this.#flush()),
      baseline: b ? { ts: b.ts, value: text(b.value) } : null,
      last,
      readings: this.#readings,
      rollovers: of('rollover'),
      resets: of('reset'),
      ...(corrections.length > 0 ? { corrections } : {}),
      ...(reviews.length > 0 ? { reviews } : {}),
    };
  }

  /** Every discontinuity so far, in time order (for the counter rules). */
  events(): CounterEvent[] {
    return [...this.#events];
  }

  /** The state as JSON (an evidence checkpoint, evidence.ts {@link EvidenceCheckpoint}); {@link restore} takes it back. */
  snapshot(): AccumulatorState {
    const b = this.#baselineDec();
    const ref = this.#refDec();
    return {
      baseline: b ? { ts: b.ts, value: b.value.toString() } : null,
      prevTs: this.#prevTs,
      prevValue: this.#hasPrev ? this.#prevDec().toString() : null,
      prevText: this.#prevText,
      ref: ref?.toString() ?? null,
      sum: this.#flush().toString(),
      readings: this.#readings,
      events: structuredClone(this.#events),
      // The last correction's mark is compared by identity with the current mark only.
      correctionAtRef: this.#lastCorrectionRef !== null && this.#lastCorrectionRef === ref,
    };
  }

  /** Sets the state from a {@link snapshot} of an accumulator with the same options. */
  restore(s: AccumulatorState): void {
    const b = s.baseline as { ts: number; value: string } | null;
    this.#baseline = b ? { ts: b.ts, text: b.value, value: dec(b.value) } : null;
    this.#prevTs = s.prevTs as number;
    this.#hasPrev = s.prevValue !== null;
    this.#prevValue = s.prevValue === null ? undefined : dec(s.prevValue as string);
    this.#prevText = s.prevText as string;
    this.#refText = s.ref === null ? null : (s.ref as string);
    this.#ref = s.ref === null ? undefined : dec(s.ref as string);
    this.#refScaled = undefined;
    this.#sum = dec(s.sum as string);
    this.#pending = 0;
    this.#flush();
    this.#readings = s.readings as number;
    this.#events = structuredClone(s.events as CounterEvent[]);
    this.#lastCorrectionRef = s.correctionAtRef ? (this.#ref ?? null) : null;
  }
}

/** A plain decimal text as an integer of units of 10^-scale: `dp` its decimals without trailing zeros. */
interface Scaled {
  m: number;
  scale: number;
  dp: number;
}
/** At most 15 digits in all: the integer is below 2^53 (exact in a float). */
const MAX_SCALED_DIGITS = 15;
const PLAIN_DECIMAL = /^-?(\d+)(?:\.(\d+))?$/;
/** `#sum` below this (and at most 15 decimals) leaves room for exact pending additions. */
const SUM_ROOM = new D('1e20');

/** {@link Scaled} of a plain decimal text of at most 15 digits; undefined for any other text. */
function scaled(t: string): Scaled | undefined {
  const g = PLAIN_DECIMAL.exec(t);
  if (!g) return undefined;
  const int = g[1] as string;
  const frac = g[2] ?? '';
  if (int.length + frac.length > MAX_SCALED_DIGITS) return undefined;
  let dp = frac.length;
  while (dp > 0 && frac.charCodeAt(dp - 1) === 48) dp--;
  return { m: Number(frac.length > 0 ? t.replace('.', '') : t), scale: frac.length, dp };
}

/** The JSON state of an accumulator (see {@link TotalizerAccumulator.snapshot}); its shape is the class's own. */
export type AccumulatorState = Record<string, unknown>;

const decOrNull = (t: unknown): Dec | null => (t === null || t === undefined ? null : dec(t as string));

/** Totalizer value of a period in one call. See {@link TotalizerAccumulator}. */
export function aggregateTotalizer(samples: readonly Sample[], options: TotalizerOptions): TotalizerResult {
  const acc = new TotalizerAccumulator(options);
  acc.push(samples);
  return acc.result();
}

/** One observation of a ticket: its number and its value read at the same instant. */
export interface TicketObservation {
  ts: number;
  ticket: string;
  value: string;
}

/** A counted event (ticket). */
export interface CountedEvent {
  ticket: string;
  /** First time it was seen, ms epoch. */
  ts: number;
  value: string;
}

/** Period value of an events point. */
export interface EventsResult {
  kind: 'events';
  /** Sum of the values of the tickets counted, exact. */
  value: string;
  /** Tickets counted, in the order first seen. */
  events: CountedEvent[];
  /** Observations in the period (a ticket is read many times while it stays in the register). */
  observations: number;
  /** Observations of already counted tickets (repeats, replays, duplicates). */
  repeats: number;
  /** Tickets first seen before `from` and still shown in the period: not counted here. */
  carriedOver: string[];
  /** Tickets seen with different values: the first value is counted, every value is listed. */
  conflicts: { ticket: string; values: string[] }[];
  /** Value readings without a ticket reading at the same instant (not counted). */
  unpaired: number;
  /**
   * Ticket numbers never observed between two observed ones (see {@link missingTicketRanges}):
   * inclusive ranges with the time of the ticket after the gap. Empty for non-integer tickets.
   */
  missing: TicketGap[];
  /** How many ticket numbers `missing` holds (all of them, also past the listed ranges). */
  missingCount: number;
}

/** A run of ticket numbers `from..to` (inclusive) never observed; `ts` is the time of the ticket seen after it (ms epoch). */
export interface TicketGap {
  from: string;
  to: string;
  count: number;
  ts: number;
}

/** Most {@link TicketGap}s listed per point and period (all are counted in `missingCount`). */
export const MAX_TICKET_GAPS = 1000;

/** A ticket number as an integer, or undefined when it is not a plain non-negative integer. */
function ticketInt(ticket: string): number | undefined {
  if (!/^\d{1,15}$/.test(ticket)) return undefined;
  return Number(ticket);
}

/**
 * The ticket numbers skipped in a sequence of tickets in time order. A weighing terminal numbers its
 * tickets consecutively, so a jump from n to n + k (k > 1) means k − 1 tickets never arrived (lost in an
 * outage longer than the terminal's memory, or never read). A number below the previous one is a
 * renumbering (terminal reset or replaced): a new sequence starts, nothing is reported. Tickets that
 * are not plain integers are skipped.
 * @param previous the last ticket number seen before the sequence (e.g. before the month), if known:
 *   a jump from it to the first ticket counts too
 * @returns the gaps (at most {@link MAX_TICKET_GAPS}) and how many numbers they hold in all
 */
export function missingTicketRanges(
  tickets: readonly { ticket: string; ts: number }[],
  previous?: string,
): { gaps: TicketGap[]; count: number } {
  const gaps: TicketGap[] = [];
  let count = 0;
  let prev = previous !== undefined ? ticketInt(previous) : undefined;
  for (const t of tickets) {
    const n = ticketInt(t.ticket);
    if (n === undefined) continue;
    if (prev !== undefined && n > prev + 1) {
      count += n - prev - 1;
      if (gaps.length < MAX_TICKET_GAPS)
        gaps.push({ from: String(prev + 1), to: String(n - 1), count: n - prev - 1, ts: t.ts });
    }
    if (prev === undefined || n !== prev) prev = n;
  }
  return { gaps, count };
}

/** Options of {@link EventsAccumulator}. */
export interface EventsOptions {
  from: number;
  to: number;
}

/**
 * Events accumulator: each ticket number counts once, at its first observation. Observations before
 * `from` only mark tickets as seen (carried over); a replayed or duplicated observation of a counted
 * ticket adds nothing.
 */
export class EventsAccumulator {
  readonly #o: EventsOptions;
  readonly #seenBefore = new Set<string>();
  /**
   * The value of each ticket first seen before `from` (its first observation): a ticket-aligned
   * comparison with a running total (ticket-alignment.ts) needs the tickets between the total's
   * baseline poll and `from`.
   */
  readonly #beforeValues = new Map<string, string>();
  readonly #counted = new Map<string, CountedEvent>();
  /** The value text of each counted ticket's first observation (a repeat with the same text is no conflict). */
  readonly #firstText = new Map<string, string>();
  readonly #conflicts = new Map<string, Set<string>>();
  readonly #carried = new Set<string>();
  /** The latest observation before `from` (the ticket the period's numbering continues from). */
  #lastBefore: { ts: number; ticket: string } | undefined;
  #observations = 0;
  #repeats = 0;
  #unpaired = 0;

  constructor(options: EventsOptions) {
    this.#o = options;
  }

  /** Feeds observations (any order inside a chunk is fine; first seen = smallest ts overall is assumed chunk by chunk). */
  push(observations: readonly TicketObservation[]): void {
    let ascending = true;
    for (let i = 1; i < observations.length && ascending; i++)
      ascending = (observations[i - 1] as TicketObservation).ts <= (observations[i] as TicketObservation).ts;
    const sorted = ascending ? observations : [...observations].sort((a, b) => a.ts - b.ts);
    for (const o of sorted) {
      if (o.ts >= this.#o.to) continue;
      if (o.ts < this.#o.from) {
        this.#seenBefore.add(o.ticket);
        if (!this.#beforeValues.has(o.ticket)) this.#beforeValues.set(o.ticket, text(dec(o.value)));
        if (this.#lastBefore === undefined || o.ts >= this.#lastBefore.ts)
          this.#lastBefore = { ts: o.ts, ticket: o.ticket };
        continue;
      }
      this.#observations++;
      if (this.#seenBefore.has(o.ticket)) {
        this.#carried.add(o.ticket);
        continue;
      }
      const first = this.#counted.get(o.ticket);
      if (first === undefined) {
        this.#counted.set(o.ticket, { ticket: o.ticket, ts: o.ts, value: text(dec(o.value)) });
        this.#firstText.set(o.ticket, o.value);
        continue;
      }
      this.#repeats++;
      if (o.value === this.#firstText.get(o.ticket)) continue;
      if (!dec(first.value).eq(dec(o.value))) {
        const set = this.#conflicts.get(o.ticket) ?? new Set([first.value]);
        set.add(text(dec(o.value)));
        this.#conflicts.set(o.ticket, set);
      }
    }
  }

  /** Counts value readings that had no ticket reading (reported, not counted). */
  addUnpaired(n: number): void {
    this.#unpaired += n;
  }

  /** The state as JSON (see {@link TotalizerAccumulator.snapshot}). */
  snapshot(): AccumulatorState {
    return {
      seenBefore: [...this.#seenBefore],
      beforeValues: [...this.#beforeValues],
      counted: [...this.#counted.values()].map((e) => ({ ...e })),
      firstText: [...this.#firstText],
      conflicts: [...this.#conflicts].map(([t, v]) => [t, [...v]]),
      carried: [...this.#carried],
      lastBefore: this.#lastBefore ? { ...this.#lastBefore } : null,
      observations: this.#observations,
      repeats: this.#repeats,
      unpaired: this.#unpaired,
    };
  }

  /** Sets the state from a {@link snapshot} of an accumulator with the same options. */
  restore(s: AccumulatorState): void {
    this.#seenBefore.clear();
    for (const t of s.seenBefore as string[]) this.#seenBefore.add(t);
    this.#beforeValues.clear();
    for (const [t, v] of (s.beforeValues ?? []) as [string, string][]) this.#beforeValues.set(t, v);
    this.#counted.clear();
    for (const e of s.counted as CountedEvent[]) this.#counted.set(e.ticket, { ...e });
    this.#firstText.clear();
    for (const [t, v] of s.firstText as [string, string][]) this.#firstText.set(t, v);
    this.#conflicts.clear();
    for (const [t, v] of s.conflicts as [string, string[]][]) this.#conflicts.set(t, new Set(v));
    this.#carried.clear();
    for (const t of s.carried as string[]) this.#carried.add(t);
    const lb = s.lastBefore as { ts: number; ticket: string } | null;
    this.#lastBefore = lb ? { ...lb } : undefined;
    this.#observations = s.observations as number;
    this.#repeats = s.repeats as number;
    this.#unpaired = s.unpaired as number;
  }

  /**
   * Every ticket first seen before `from` with its value (first observation), ascending by time of
   * that observation as fed. Not part of {@link result} (the period's value does not include them).
   */
  lookbackTickets(): { ticket: string; value: string }[] {
    return [...this.#beforeValues].map(([ticket, value]) => ({ ticket, value }));
  }

  result(): EventsResult {
    let s = new D(0);
    for (const e of this.#counted.values()) s = s.plus(dec(e.value));
    // Counted tickets in time order (first-seen order is ascending ts when chunks come in time order).
    const inTime = [...this.#counted.values()].sort((a, b) => a.ts - b.ts);
    const gaps = missingTicketRanges(inTime, this.#lastBefore?.ticket);
    return {
      kind: 'events',
      value: text(s),
      events: [...this.#counted.values()],
      observations: this.#observations,
      repeats: this.#repeats,
      carriedOver: [...this.#carried],
      conflicts: [...this.#conflicts].map(([ticket, values]) => ({ ticket, values: [...values] })),
      unpaired: this.#unpaired,
      missing: gaps.gaps,
      missingCount: gaps.count,
    };
  }
}

/**
 * Pairs the readings of an events point with the readings of its ticket-number point. A value
 * reading pairs with the ticket reading taken at the same instant (one Modbus poll cycle reads
 * both) or, failing that, with the nearest ticket reading at most `toleranceMs` away, the earlier
 * on a tie: an OPC UA server may stamp the two variables' SourceTimestamps a few milliseconds
 * apart (OPC 10000-4 §7.11: the time of the last change at the source). Bad readings of either
 * are dropped.
 * @param values the events point's readings, ascending ts (ms)
 * @param tickets the ticket-number point's readings, ascending ts (ms)
 * @param window when given, only value readings with ts in `[from, to)` count as unpaired
 *   (observations are returned for every instant)
 * @param toleranceMs largest distance, ms, between a value reading and the ticket reading it pairs
 *   with when none shares its instant (default 0: identical timestamps only); the evidence uses half
 *   the point's poll interval, so a value never pairs across a poll cycle
 * @returns the observations (stamped with the value reading's ts) and the number of usable value
 *   readings without a ticket
 */
export function pairTickets(
  values: readonly Sample[],
  tickets: readonly Sample[],
  window?: { from: number; to: number },
  toleranceMs = 0,
): { observations: TicketObservation[]; unpaired: number } {
  const byTs = new Map<number, string>();
  const ts: number[] = [];
  const numbers: string[] = [];
  for (const t of tickets)
    if (t.value !== null && t.quality !== 'bad') {
      byTs.set(t.ts, t.value);
      ts.push(t.ts);
      numbers.push(t.value);
    }
  const nearest = (at: number): string | undefined => {
    // First index with ts >= at (ts ascending).
    let lo = 0;
    let hi = ts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((ts[mid] as number) < at) lo = mid + 1;
      else hi = mid;
    }
    const before = lo > 0 ? at - (ts[lo - 1] as number) : Number.POSITIVE_INFINITY;
    const after = lo < ts.length ? (ts[lo] as number) - at : Number.POSITIVE_INFINITY;
    if (before <= after) return before <= toleranceMs ? numbers[lo - 1] : undefined;
    return after <= toleranceMs ? numbers[lo] : undefined;
  };
  const observations: TicketObservation[] = [];
  let unpaired = 0;
  for (const v of values) {
    if (v.value === null || v.quality === 'bad') continue;
    const ticket = byTs.get(v.ts) ?? (toleranceMs > 0 ? nearest(v.ts) : undefined);
    if (ticket !== undefined) observations.push({ ts: v.ts, ticket, value: v.value });
    else if (window === undefined || (v.ts >= window.from && v.ts < window.to)) unpaired++;
  }
  return { observations, unpaired };
}

/** Events value of a period in one call. See {@link EventsAccumulator}. */
export function aggregateEvents(
  observations: readonly TicketObservation[],
  options: EventsOptions,
): EventsResult {
  const acc = new EventsAccumulator(options);
  acc.push(observations);
  return acc.result();
}

/** Options of {@link RateAccumulator}. */
export interface RateOptions {
  from: number;
  to: number;
  /** Time base of the rate in ms: 3 600 000 for t/h or Nm³/h, 1000 for kg/s. */
  perMs: number;
  /** Two readings further apart than this are not joined (the interval is a gap). */
  maxGapMs: number;
  /** Integrate the partial intervals at the period's edges (default true; false: formatVersion 1). */
  edges?: boolean;
}

/** Period value of a rate point: the integral, in the rate's unit × time base (t/h → t). */
export interface RateResult {
  kind: 'rate';
  value: string;
  /** Time integrated over, ms. */
  coveredMs: number;
  readings: number;
}

/**
 * Rate accumulator: trapezoids between consecutive usable readings in the period, each
 * (a + b) / 2 × Δt / perMs; intervals longer than `maxGapMs` are skipped. The partial poll intervals
 * at the period's edges count too: from `from` to the first reading, the trapezoid from the value
 * interpolated at `from` between the last usable reading before it (fed with the lookback) and the
 * first; from the last reading to `to`, the last value held (the next reading, after `to`, is not
 * read) — each only when that interval is at most `maxGapMs`. So consecutive months add up to the
 * whole, with no interval counted twice or lost. The sum of (a + b) × Δt is exact; the interpolation
 * and one division by 2 × perMs at the end round to 40 significant digits.
 */
export class RateAccumulator {
  readonly #o: RateOptions;
  readonly #parse = new TextCache();
  #prevTs = 0;
  #prev: Dec | null = null;
  #prevText = '';
  #acc: Dec = new D(0);
  // Pairs of readings with the same text add 2·v·Δt: their Σ 2·Δt (integer ms) is kept per run of one
  // text and multiplied once when the text changes (exactly the same sum, far fewer decimal operations).
  #run = new HoldRun();
  #covered = 0;
  #readings = 0;
  /** The last reading before `from` (null after a bad one), until the first reading in the period. */
  #before: { ts: number; v: Dec } | null = null;
  #started = false;

  constructor(options: RateOptions) {
    if (!(options.perMs > 0)) throw new RangeError('rate: perMs must be > 0');
    this.#o = options;
  }

  push(samples: readonly Sample[]): void {
    const { from, to, maxGapMs } = this.#o;
    for (const s of samples) {
      if (s.ts >= to) continue;
      const t = s.value;
      if (s.ts < from) {
        this.#before = t === null || s.quality === 'bad' ? null : { ts: s.ts, v: dec(t) };
        continue;
      }
      if (t === null || s.quality === 'bad') {
        this.#prev = null;
        this.#started = true;
        continue;
      }
      const v = this.#parse.get(t);
      this.#readings++;
      if (!this.#started && this.#o.edges !== false) {
        // The head: from `from` to the first reading, from the value interpolated at `from`.
        this.#started = true;
        const b = this.#before;
        const span = b ? s.ts - b.ts : 0;
        if (b && span > 0 && span <= maxGapMs && s.ts > from) {
          const atFrom = b.v.plus(
            v
              .minus(b.v)
              .times(from - b.ts)
              .div(span),
          );
          this.#acc = this.#acc.plus(atFrom.plus(v).times(s.ts - from));
          this.#covered += s.ts - from;
        }
      }
      const p = this.#prev;
      const pText = this.#prevText;
      const dt = s.ts - this.#prevTs;
      this.#prevTs = s.ts;
      this.#prev = v;
      this.#prevText = t;
      if (p === null) continue;
      if (dt <= 0 || dt > maxGapMs) continue;
      if (t === pText) this.#acc = this.#run.add(this.#acc, t, v, 2 * dt);
      else this.#acc = this.#acc.plus(p.plus(v).times(dt));
      this.#covered += dt;
    }
  }

  /** The state as JSON (see {@link TotalizerAccumulator.snapshot}). */
  snapshot(): AccumulatorState {
    const b = this.#before;
    return {
      prevTs: this.#prevTs,
      prev: this.#prev?.toString() ?? null,
      prevText: this.#prevText,
      acc: this.#acc.toString(),
      run: this.#run.snapshot(),
      covered: this.#covered,
      readings: this.#readings,
      before: b ? { ts: b.ts, v: b.v.toString() } : null,
      started: this.#started,
    };
  }

  /** Sets the state from a {@link snapshot} of an accumulator with the same options. */
  restore(s: AccumulatorState): void {
    this.#prevTs = s.prevTs as number;
    this.#prev = decOrNull(s.prev);
    this.#prevText = s.prevText as string;
    this.#acc = dec(s.acc as string);
    this.#run.restore(s.run as AccumulatorState);
    this.#covered = s.covered as number;
    this.#readings = s.readings as number;
    const b = s.before as { ts: number; v: string } | null;
    this.#before = b ? { ts: b.ts, v: dec(b.v) } : null;
    this.#started = s.started as boolean;
  }

  result(): RateResult {
    let acc = this.#run.total(this.#acc);
    let covered = this.#covered;
    // The tail: the last value held to `to` (without changing the state: result() may be called again).
    const tail = this.#o.to - this.#prevTs;
    if (this.#o.edges !== false && this.#prev !== null && tail > 0 && tail <= this.#o.maxGapMs) {
      acc = acc.plus(this.#prev.times(2 * tail));
      covered += tail;
    }
    return {
      kind: 'rate',
      value: text(acc.div(2 * this.#o.perMs)),
      coveredMs: covered,
      readings: this.#readings,
    };
  }
}

/** Rate integral of a period in one call. */
export function aggregateRate(samples: readonly Sample[], options: RateOptions): RateResult {
  const acc = new RateAccumulator(options);
  acc.push(samples);
  return acc.result();
}

/** Options of {@link GaugeAccumulator}. */
export interface GaugeOptions {
  from: number;
  to: number;
  /** A reading holds until the next one, a bad reading or `to`, but never longer than this. */
  maxHoldMs: number;
}

/** Period statistics of a gauge. `value` is the time-weighted mean. */
export interface GaugeResult {
  kind: 'gauge';
  /** Time-weighted mean Σ v·Δt / Σ Δt (40 significant digits); null without usable readings. */
  value: string | null;
  min: string | null;
  max: string | null;
  /** Time the mean covers, ms. */
  coveredMs: number;
  readings: number;
}

/**
 * Gauge accumulator: sample-and-hold time-weighted mean. Each usable reading in the period holds
 * from its `ts` until the next reading (usable or bad), `to`, or `ts + maxHoldMs`, whichever comes first.
 */
export class GaugeAccumulator {
  readonly #o: GaugeOptions;
  readonly #parse = new TextCache();
  #prevTs = 0;
  /** The held value (null after a bad reading or before the first one) and its text. */
  #prev: Dec | null = null;
  #prevText = '';
  #num: Dec = new D(0);
  // Consecutive holds of one text: Σ Δt kept as an integer, multiplied once (see RateAccumulator).
  #run = new HoldRun();
  #weight = 0;
  #min: Dec | null = null;
  #max: Dec | null = null;
  #readings = 0;

  constructor(options: GaugeOptions) {
    this.#o = options;
  }

  #close(until: number): void {
    const p = this.#prev;
    if (p === null) return;
    const dt = Math.min(until, this.#prevTs + this.#o.maxHoldMs) - this.#prevTs;
    if (dt <= 0) return;
    this.#num = this.#run.add(this.#num, this.#prevText, p, dt);
    this.#weight += dt;
  }

  push(samples: readonly Sample[]): void {
    const { from, to } = this.#o;
    for (const s of samples) {
      if (s.ts < from || s.ts >= to) continue;
      this.#close(s.ts);
      this.#prevTs = s.ts;
      const t = s.value;
      if (t === null || s.quality === 'bad') {
        this.#prev = null;
        continue;
      }
      this.#readings++;
      if (t !== this.#prevText || this.#prev === null) {
        const v = this.#parse.get(t);
        if (this.#min === null || v.lt(this.#min)) this.#min = v;
        if (this.#max === null || v.gt(this.#max)) this.#max = v;
        this.#prev = v;
        this.#prevText = t;
      }
    }
  }

  /** The state as JSON (see {@link TotalizerAccumulator.snapshot}). */
  snapshot(): AccumulatorState {
    return {
      prevTs: this.#prevTs,
      prev: this.#prev?.toString() ?? null,
      prevText: this.#prevText,
      num: this.#num.toString(),
      run: this.#run.snapshot(),
      weight: this.#weight,
      min: this.#min?.toString() ?? null,
      max: this.#max?.toString() ?? null,
      readings: this.#readings,
    };
  }

  /** Sets the state from a {@link snapshot} of an accumulator with the same options. */
  restore(s: AccumulatorState): void {
    this.#prevTs = s.prevTs as number;
    this.#prev = decOrNull(s.prev);
    this.#prevText = s.prevText as string;
    this.#num = dec(s.num as string);
    this.#run.restore(s.run as AccumulatorState);
    this.#weight = s.weight as number;
    this.#min = decOrNull(s.min);
    this.#max = decOrNull(s.max);
    this.#readings = s.readings as number;
  }

  result(): GaugeResult {
    // Close the last hold at `to` without mutating the state (result() may be called more than once).
    let num = this.#run.total(this.#num);
    let weight = this.#weight;
    const p = this.#prev;
    if (p !== null) {
      const dt = Math.min(this.#o.to, this.#prevTs + this.#o.maxHoldMs) - this.#prevTs;
      if (dt > 0) {
        num = num.plus(p.times(dt));
        weight += dt;
      }
    }
    return {
      kind: 'gauge',
      value: weight > 0 ? text(num.div(weight)) : null,
      min: this.#min ? text(this.#min) : null,
      max: this.#max ? text(this.#max) : null,
      coveredMs: weight,
      readings: this.#readings,
    };
  }
}

/** The last decimal text parsed and its value: 1 s data repeats the same text for long stretches. */
class TextCache {
  #text: string | undefined;
  #value: Dec = new D(0);

  /** The value of a decimal text. @throws Error for text that is not a number */
  get(t: string): Dec {
    if (t !== this.#text) {
      this.#value = dec(t);
      this.#text = t;
    }
    return this.#value;
  }
}

/**
 * A pending term v × ms of a decimal sum, for consecutive terms with the same value text: their
 * integer ms weights are added as numbers (exact below 2^53) and multiplied once, when the text
 * changes or the total is asked. The sum is the same as adding every v × Δt.
 */
class HoldRun {
  #text: string | undefined;
  #value: Dec = new D(0);
  #ms = 0;

  /** Adds value × ms to the pending term; returns `sum` with the previous term added when the text changed. */
  add(sum: Dec, t: string, value: Dec, ms: number): Dec {
    if (t === this.#text) {
      this.#ms += ms;
      return sum;
    }
    const out = this.total(sum);
    this.#text = t;
    this.#value = value;
    this.#ms = ms;
    return out;
  }

  snapshot(): AccumulatorState {
    return { text: this.#text ?? null, value: this.#value.toString(), ms: this.#ms };
  }

  restore(s: AccumulatorState): void {
    this.#text = s.text === null ? undefined : (s.text as string);
    this.#value = dec(s.value as string);
    this.#ms = s.ms as number;
  }

  /** `sum` plus the pending term (the run is left as it is). */
  total(sum: Dec): Dec {
    return this.#ms === 0 ? sum : sum.plus(this.#value.times(this.#ms));
  }
}

/** Gauge statistics of a period in one call. */
export function aggregateGauge(samples: readonly Sample[], options: GaugeOptions): GaugeResult {
  const acc = new GaugeAccumulator(options);
  acc.push(samples);
  return acc.result();
}

/** Any aggregation result. */
export type AggregateResult = TotalizerResult | EventsResult | RateResult | GaugeResult;
