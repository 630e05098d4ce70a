/**
 * Completeness of a point over a period (docs/architecture.md §7, "以日保月"): expected versus received samples,
 * the gaps with start, end and cause, and the share of the period covered.
 *
 * A reading covers `[ts, ts + interval)`. A missing-data gap is an interval longer than
 * `gapFactor × interval` without any reading (including before the first and after the last reading
 * of the period); a bad-quality gap is a run of consecutive bad readings, from the first bad one to the
 * next non-bad reading. Causes: `bad_quality` (the device or driver said so; the reason of the first
 * bad reading is kept), `gateway_offline` (every other point of the same gateway was silent too, see
 * {@link classifyGatewayOffline}), `no_data` (anything else: the point alone was not delivered).
 */

import type { Sample } from './aggregate.ts';
import { D } from './decimal.ts';

/** Why data is missing. */
export type GapCause = 'bad_quality' | 'gateway_offline' | 'no_data';

/** A gap in a point's data, `[start, end)` in ms epoch. */
export interface Gap {
  start: number;
  end: number;
  cause: GapCause;
  /** The first bad reading's reason (bad_quality only). */
  reason?: string;
}

/** Completeness of one point over one period. */
export interface CompletenessResult {
  /** Samples the poll interval promises: floor((to − from) / interval). */
  expected: number;
  /** Readings stored in the period, any quality. */
  received: number;
  good: number;
  uncertain: number;
  bad: number;
  gaps: Gap[];
  /** Period minus the gaps, ms. */
  coveredMs: number;
  /** coveredMs / (to − from), 4 decimals, half-even (e.g. "0.9987"). */
  coveredShare: string;
}

/** Options of {@link CompletenessAccumulator}. */
export interface CompletenessOptions {
  from: number;
  to: number;
  /** The point's poll interval, ms (site file `pollIntervalMs`). */
  expectedIntervalMs: number;
  /** A silence longer than this many intervals is a gap. Default 3. */
  gapFactor?: number;
}

/** Streams a point's readings (ascending ts, any chunking) into a {@link CompletenessResult}. */
export class CompletenessAccumulator {
  readonly #o: Required<CompletenessOptions>;
  #lastTs: number | null = null;
  #badRun: { start: number; reason?: string } | null = null;
  #gaps: Gap[] = [];
  #counts = { received: 0, good: 0, uncertain: 0, bad: 0 };

  constructor(options: CompletenessOptions) {
    if (!(options.expectedIntervalMs > 0))
      throw new RangeError('completeness: expectedIntervalMs must be > 0');
    this.#o = { gapFactor: 3, ...options };
  }

  push(samples: readonly Sample[]): void {
    const { from, to, expectedIntervalMs: iv, gapFactor } = this.#o;
    for (const s of samples) {
      if (s.ts < from || s.ts >= to) continue;
      const prevEnd = this.#lastTs === null ? from : this.#lastTs + iv;
      const silence = s.ts - (this.#lastTs ?? from);
      if (silence > gapFactor * iv)
        this.#gaps.push({ start: Math.min(prevEnd, s.ts), end: s.ts, cause: 'no_data' });
      this.#lastTs = s.ts;
      this.#counts.received++;
      this.#counts[s.quality]++;
      if (s.quality === 'bad') {
        if (this.#badRun === null)
          this.#badRun = { start: s.ts, ...(s.reason !== undefined ? { reason: s.reason } : {}) };
      } else if (this.#badRun !== null) {
        this.#gaps.push({
          start: this.#badRun.start,
          end: s.ts,
          cause: 'bad_quality',
          ...reasonOf(this.#badRun),
        });
        this.#badRun = null;
      }
    }
  }

  result(): CompletenessResult {
    const { from, to, expectedIntervalMs: iv, gapFactor } = this.#o;
    const gaps = [...this.#gaps];
    const last = this.#lastTs;
    if (this.#badRun !== null) {
      gaps.push({
        start: this.#badRun.start,
        end: Math.min(to, (last ?? from) + iv),
        cause: 'bad_quality',
        ...reasonOf(this.#badRun),
      });
    }
    if (last === null) gaps.push({ start: from, end: to, cause: 'no_data' });
    else if (to - last > gapFactor * iv) gaps.push({ start: last + iv, end: to, cause: 'no_data' });
    gaps.sort((a, b) => a.start - b.start);
    const missing = gaps.reduce((n, g) => n + (g.end - g.start), 0);
    const coveredMs = Math.max(0, to - from - missing);
    return {
      expected: Math.floor((to - from) / iv),
      ...this.#counts,
      gaps,
      coveredMs,
      coveredShare: new D(coveredMs).div(to - from).toFixed(4, D.ROUND_HALF_EVEN),
    };
  }
}

function reasonOf(run: { reason?: string }): { reason?: string } {
  return run.reason !== undefined ? { reason: run.reason } : {};
}

/** Completeness of a period in one call. */
export function completeness(samples: readonly Sample[], options: CompletenessOptions): CompletenessResult {
  const acc = new CompletenessAccumulator(options);
  acc.push(samples);
  return acc.result();
}

/**
 * Marks `no_data` gaps as `gateway_offline` where every other point of the same gateway has a
 * `no_data` gap covering the same interval (within `toleranceMs` at each end: points of one gateway are
 * polled a few intervals apart). A gateway with one point cannot tell the two apart: its gaps stay `no_data`.
 * @param byPoint completeness per point id (mutated copies are returned; inputs are not changed)
 * @param gatewayOf gateway id of each point
 */
export function classifyGatewayOffline(
  byPoint: ReadonlyMap<string, CompletenessResult>,
  gatewayOf: (pointId: string) => string | undefined,
  toleranceMs: number,
): Map<string, CompletenessResult> {
  // Each point's no_data gaps sorted by start (a point's gaps never overlap), for a binary search.
  const silent = new Map<string, Gap[]>();
  for (const [p, r] of byPoint)
    silent.set(
      p,
      r.gaps.filter((g) => g.cause === 'no_data').sort((a, b) => a.start - b.start),
    );
  const covers = (gaps: Gap[], g: Gap): boolean => {
    let lo = 0;
    let hi = gaps.length - 1;
    let idx = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((gaps[mid] as Gap).start <= g.start + toleranceMs) {
        idx = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    for (let i = idx; i >= 0 && i >= idx - 1; i--)
      if ((gaps[i] as Gap).end >= g.end - toleranceMs) return true;
    return false;
  };
  const out = new Map<string, CompletenessResult>();
  for (const [point, res] of byPoint) {
    const gw = gatewayOf(point);
    const peers = [...byPoint.keys()].filter((p) => p !== point && gw !== undefined && gatewayOf(p) === gw);
    const gaps = res.gaps.map((g) =>
      g.cause === 'no_data' && peers.length > 0 && peers.every((p) => covers(silent.get(p) ?? [], g))
        ? { ...g, cause: 'gateway_offline' as const }
        : g,
    );
    out.set(point, { ...res, gaps });
  }
  return out;
}
