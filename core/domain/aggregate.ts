/**
 * Aggregation kinds (docs/architecture.md §7): how a point's readings become one value for a period `[from, to)`.
 * Each kind is an accumulator fed readings in time order (so a month of 1-second readings streams
 * through in day-sized chunks) with a one-call wrapper for tests and small inputs.
 *
 * - totalizer: difference of a cumulative counter; a drop is a roll-over (the counter wrapped at its
 *   modulus) or a reset (it restarted from zero); both are bridged and each is reported.
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

/** A counter discontinuity found by the totalizer. Values in the point's engineering unit. */
export interface CounterEvent {
  kind: 'rollover' | 'reset';
  /** Time of the first reading after the drop, ms epoch. */
  ts: number;
  /** Counter before and after the drop. */
  before: string;
  after: string;
  /** Increase counted across the drop: modulus − before + after (roll-over) or after (reset: counted from 0). */
  bridged: string;
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
}

/** Options of {@link TotalizerAccumulator}. */
export interface TotalizerOptions {
  from: number;
  to: number;
  /**
   * Counter modulus in engineering units (e.g. a uint32 kWh register read in MWh: 2^32 × 0.001 =
   * "4294967.296"). A drop whose wrapped increase is under half the modulus is a roll-over; any other
   * drop (or every drop when absent) is a reset.
   */
  rolloverAt?: string;
}

/**
 * Totalizer accumulator. An increase is attributed to the period in which it is read: the step from
 * the last reading before `from` to the first in the period belongs to the period.
 */
export class TotalizerAccumulator {
  readonly #o: TotalizerOptions;
  readonly #mod: Dec | undefined;
  #baseline: { ts: number; value: Dec } | null = null;
  // The previous usable reading: ts, value and its text (null before the first one). A reading with
  // the same text as the previous one adds exactly 0 and is not parsed (1 s data of a slow counter).
  #prevTs = 0;
  #prevValue: Dec | null = null;
  #prevText = '';
  #sum: Dec = new D(0);
  #readings = 0;
  #rollovers: CounterEvent[] = [];
  #resets: CounterEvent[] = [];

  constructor(options: TotalizerOptions) {
    this.#o = options;
    this.#mod = options.rolloverAt !== undefined ? dec(options.rolloverAt) : undefined;
  }

  /** Feeds readings in ascending `ts` (readings before `from` only set the baseline; at or after `to` are ignored). */
  push(samples: readonly Sample[]): void {
    const { from, to } = this.#o;
    for (const s of samples) {
      const t = s.value;
      if (t === null || s.quality === 'bad' || s.ts >= to) continue;
      const prev = this.#prevValue;
      const same = prev !== null && t === this.#prevText;
      const v = same ? prev : dec(t);
      if (s.ts < from) {
        this.#baseline = { ts: s.ts, value: v };
        this.#prevTs = s.ts;
        this.#prevValue = v;
        this.#prevText = t;
        continue;
      }
      this.#readings++;
      this.#prevTs = s.ts;
      this.#prevValue = v;
      this.#prevText = t;
      if (prev === null || same) continue;
      const d = v.minus(prev);
      if (d.gte(0)) {
        this.#sum = this.#sum.plus(d);
        continue;
      }
      const wrapped = this.#mod?.minus(prev).plus(v);
      if (wrapped?.gte(0) && wrapped.lt(this.#mod!.div(2))) {
        this.#sum = this.#sum.plus(wrapped);
        this.#rollovers.push({
          kind: 'rollover',
          ts: s.ts,
          before: text(prev),
          after: text(v),
          bridged: text(wrapped),
        });
      } else {
        // Restarted from zero: what it shows now was counted since the reset.
        const bridged = v.gte(0) ? v : new D(0);
        this.#sum = this.#sum.plus(bridged);
        this.#resets.push({
          kind: 'reset',
          ts: s.ts,
          before: text(prev),
          after: text(v),
          bridged: text(bridged),
        });
      }
    }
  }

  result(): TotalizerResult {
    const b = this.#baseline;
    const last =
      this.#prevValue !== null && this.#prevTs >= this.#o.from
        ? { ts: this.#prevTs, value: text(this.#prevValue) }
        : null;
    return {
      kind: 'totalizer',
      value: text(this.#sum),
      baseline: b ? { ts: b.ts, value: text(b.value) } : null,
      last,
      readings: this.#readings,
      rollovers: [...this.#rollovers],
      resets: [...this.#resets],
    };
  }
}

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
 * Pairs the readings of an events point with the readings of its ticket-number point taken at the
 * same instant (one poll cycle reads both). Bad readings of either are dropped.
 * @param window when given, only value readings with ts in `[from, to)` count as unpaired
 *   (observations are returned for every instant)
 * @returns the observations and the number of usable value readings without a ticket
 */
export function pairTickets(
  values: readonly Sample[],
  tickets: readonly Sample[],
  window?: { from: number; to: number },
): { observations: TicketObservation[]; unpaired: number } {
  const byTs = new Map<number, string>();
  for (const t of tickets) if (t.value !== null && t.quality !== 'bad') byTs.set(t.ts, t.value);
  const observations: TicketObservation[] = [];
  let unpaired = 0;
  for (const v of values) {
    if (v.value === null || v.quality === 'bad') continue;
    const ticket = byTs.get(v.ts);
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
 * (a + b) / 2 × Δt / perMs; intervals longer than `maxGapMs` are skipped. The sum of (a + b) × Δt is
 * exact; one division by 2 × perMs at the end rounds to 40 significant digits.
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

  constructor(options: RateOptions) {
    if (!(options.perMs > 0)) throw new RangeError('rate: perMs must be > 0');
    this.#o = options;
  }

  push(samples: readonly Sample[]): void {
    const { from, to, maxGapMs } = this.#o;
    for (const s of samples) {
      if (s.ts < from || s.ts >= to) continue;
      const t = s.value;
      if (t === null || s.quality === 'bad') {
        this.#prev = null;
        continue;
      }
      const v = this.#parse.get(t);
      this.#readings++;
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

  result(): RateResult {
    return {
      kind: 'rate',
      value: text(this.#run.total(this.#acc).div(2 * this.#o.perMs)),
      coveredMs: this.#covered,
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
