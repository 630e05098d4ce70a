/**
 * Ticket-aligned comparison of a weighing station's running total with its tickets (rules.ts
 * `sum_of_parts` with `alignBy`, e.g. AL-LC-002: Σ ladle tickets = Δ station total).
 *
 * Why: the station total is polled. The period value of the totalizer runs from its last reading
 * before the period's start to its last reading before the period's end, and each of those readings
 * lags its edge by up to one poll interval; the tickets are counted by their own weighing time inside
 * the period. The tickets weighed between the baseline poll and the start are in the total but not in
 * the ticket sum; those weighed between the last poll and the end are in the ticket sum but not in the
 * total. Over a month this edge error (two or three ladles at a 12-minute poll) is well below a 0.1 %
 * tolerance, over a findings window of a few days it is not (measured in the demo at 2880×: a window
 * from 18:00 with the baseline polled 708 s earlier: the total 2232.759 t, the tickets 2224.661 t, the
 * three ladles 2.429 + 3.047 + 2.622 t weighed in between).
 *
 * By physics: a weighing terminal's registers are consistent within one read of a contiguous block
 * (the site's ticket number and running total are read in one request, so their readings share one
 * timestamp). The total read with ticket number N includes exactly the tickets up to N. So the change
 * of the total between the baseline poll (ticket N0) and the last poll (ticket N1) must equal the sum
 * of the tickets numbered N0 + 1 … N1, wherever they fall in time. The tickets of the lookback are
 * kept for this (aggregate.ts `EventsAccumulator.lookbackTickets`). Pure.
 */
import type { AccumulatorState, Sample } from './aggregate.ts';
import { D, dec, text } from './decimal.ts';

/** A reading of the total and the ticket number read in the same poll (same timestamp), if any. */
export interface PollTicket {
  /** Timestamp of the total's reading, ms epoch. */
  ts: number;
  /** The ticket number read at the same instant; undefined when none was (or it was bad). */
  ticket?: string;
}

/** Options of {@link PollTicketEdges}: the period, as the main totalizer's. */
export interface PollTicketEdgesOptions {
  from: number;
  to: number;
}

/**
 * Finds the ticket number read in the same poll as a totalizer's base reading (its last usable
 * reading before `from`, else its first in the period, as `TotalizerAccumulator` counts from) and as
 * its last usable reading before `to`. Fed chunk by chunk, in time order, with the totalizer's and the
 * ticket point's readings of the chunk.
 */
export class PollTicketEdges {
  readonly #o: PollTicketEdgesOptions;
  #base: PollTicket | undefined;
  #last: PollTicket | undefined;

  constructor(options: PollTicketEdgesOptions) {
    this.#o = options;
  }

  /**
   * Feeds one chunk: the totalizer's readings and the ticket point's readings over the same span
   * (each ascending ts; a chunk's readings come after every earlier chunk's).
   */
  push(totals: readonly Sample[], tickets: readonly Sample[]): void {
    const { from, to } = this.#o;
    const byTs = new Map<number, string>();
    for (const t of tickets) if (t.value !== null && t.quality !== 'bad') byTs.set(t.ts, t.value);
    for (const s of totals) {
      // The readings TotalizerAccumulator counts: usable, before `to`.
      if (s.value === null || s.quality === 'bad' || s.ts >= to) continue;
      const ticket = byTs.get(s.ts);
      const at: PollTicket = ticket === undefined ? { ts: s.ts } : { ts: s.ts, ticket };
      if (s.ts < from) this.#base = at;
      else {
        // Without a reading before `from`, the first in the period is the base (and the last, so far).
        this.#base ??= at;
        this.#last = at;
      }
    }
  }

  /** The base and last reading with their tickets (undefined when the totalizer has none). */
  result(): { base?: PollTicket; last?: PollTicket } {
    return {
      ...(this.#base ? { base: { ...this.#base } } : {}),
      ...(this.#last ? { last: { ...this.#last } } : {}),
    };
  }

  /** The state as JSON (an evidence checkpoint); {@link restore} takes it back. */
  snapshot(): AccumulatorState {
    return { base: this.#base ? { ...this.#base } : null, last: this.#last ? { ...this.#last } : null };
  }

  /** Sets the state from a {@link snapshot} of an instance with the same options. */
  restore(s: AccumulatorState): void {
    const b = s.base as PollTicket | null;
    const l = s.last as PollTicket | null;
    this.#base = b ? { ...b } : undefined;
    this.#last = l ? { ...l } : undefined;
  }
}

/** The tickets of a part (an events point): every ticket seen in the lookback and in the period. */
export interface PartTickets {
  point: string;
  /** The part's ticket-number point (site file `ticketPoint`). */
  ticketPoint?: string | undefined;
  tickets: readonly { ticket: string; value: string }[];
}

/** What {@link alignedPartSum} found: the aligned sum, or why there is none. */
export type AlignedSum =
  | {
      ok: true;
      /** Σ of the parts' tickets numbered `after + 1` … `through`, exact. */
      sum: string;
      /** Ticket number read with the total's base reading, and with its last reading. */
      after: string;
      through: string;
      /** Tickets summed (of `through − after` numbers). */
      tickets: number;
    }
  | { ok: false; reason: string };

const INT = /^\d{1,15}$/;

/**
 * The sum of the parts' tickets numbered N0 + 1 … N1, N0 and N1 the ticket numbers read in the same
 * poll as the total's base and last reading (see the file's docstring).
 * @returns `ok: false` with the reason (English) when the comparison cannot be aligned: no ticket
 *   number read with the base or the last reading, numbers that are not integers, a renumbering (N1 <
 *   N0), or a part not numbered by `alignBy`
 */
export function alignedPartSum(
  alignBy: string,
  edges: { base?: PollTicket; last?: PollTicket },
  parts: readonly PartTickets[],
): AlignedSum {
  const { base, last } = edges;
  if (base === undefined || last === undefined) return { ok: false, reason: 'the total has no readings' };
  const other = parts.find((p) => p.ticketPoint !== alignBy);
  if (other) return { ok: false, reason: `${other.point} is not numbered by ${alignBy}` };
  if (base.ticket === undefined || last.ticket === undefined)
    return {
      ok: false,
      reason: `no ${alignBy} reading in the same poll as the total's ${base.ticket === undefined ? 'first' : 'last'} reading`,
    };
  if (!INT.test(base.ticket) || !INT.test(last.ticket))
    return { ok: false, reason: `${alignBy} is not an integer (${base.ticket}, ${last.ticket})` };
  const n0 = Number(base.ticket);
  const n1 = Number(last.ticket);
  if (n1 < n0) return { ok: false, reason: `${alignBy} went back from ${n0} to ${n1} (renumbered)` };
  let sum = new D(0);
  let count = 0;
  for (const p of parts)
    for (const t of p.tickets) {
      if (!INT.test(t.ticket)) continue;
      const n = Number(t.ticket);
      if (n > n0 && n <= n1) {
        sum = sum.plus(dec(t.value));
        count++;
      }
    }
  return { ok: true, sum: text(sum), after: base.ticket, through: last.ticket, tickets: count };
}
