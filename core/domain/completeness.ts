/**
 * Completeness of a point over a period (docs/architecture.md §7, "以日保月"): expected versus received
 * samples, the gaps with start, end and cause, and the share of the period covered.
 *
 * A reading covers `[ts, ts + interval)`. A missing-data gap is an interval longer than
 * `gapFactor × interval` without any reading (including before the first and after the last reading
 * of the period); a bad-quality gap is a run of consecutive bad readings, from the first bad one to the
 * next non-bad reading. With `now` (the package's generation time) only the elapsed part
 * `[from, min(to, now))` is expected and judged; the rest is one `not_elapsed` gap that counts as
 * neither missing nor covered (a current month is month-to-date, never "offline" in the future).
 *
 * Causes: `bad_quality` (the device or driver said so; the reason of the first bad reading is kept),
 * refined by {@link classifyBadQuality} into `device_bad` (the whole device: every other point of the
 * device bad too, or a device-level code such as `MRV_E_DEVICE_UNREACHABLE`) and `point_bad` (this point
 * alone); `gateway_offline` (every other point of the same gateway was silent too, see
 * {@link classifyGatewayOffline}); `no_data` (anything else: the point alone was not delivered);
 * `not_elapsed` (after `now`).
 */

import type { Sample } from './aggregate.ts';
import { D } from './decimal.ts';

/** Why data is missing (see the file comment); `not_elapsed` is not missing, only not due yet. */
export type GapCause =
  | 'bad_quality'
  | 'device_bad'
  | 'point_bad'
  | 'gateway_offline'
  | 'no_data'
  | 'not_elapsed';

/** A gap in a point's data, `[start, end)` in ms epoch. */
export interface Gap {
  start: number;
  end: number;
  cause: GapCause;
  /** The first bad reading's reason (bad_quality, device_bad, point_bad only). */
  reason?: string;
}

/** Completeness of one point over one period. */
export interface CompletenessResult {
  /** Samples the poll interval promises: floor(elapsed / interval). */
  expected: number;
  /** The judged part of the period, ms: `min(to, now) − from` (`to − from` without `now`). */
  elapsedMs: number;
  /** Readings stored in the period, any quality. */
  received: number;
  good: number;
  uncertain: number;
  bad: number;
  gaps: Gap[];
  /** Elapsed part minus the gaps, ms. */
  coveredMs: number;
  /** coveredMs / elapsedMs, 4 decimals, half-even (e.g. "0.9987"); null when nothing has elapsed. */
  coveredShare: string | null;
}

/** Options of {@link CompletenessAccumulator}. */
export interface CompletenessOptions {
  from: number;
  to: number;
  /** The point's poll interval, ms (site file `pollIntervalMs`). */
  expectedIntervalMs: number;
  /** A silence longer than this many intervals is a gap. Default 3. */
  gapFactor?: number;
  /**
   * Now, ms epoch: only `[from, min(to, now))` is judged, readings at or after it are ignored and the
   * rest of the period is a `not_elapsed` gap. Absent: the whole period is judged (packages of
   * formatVersion 1).
   */
  now?: number;
}

/** Streams a point's readings (ascending ts, any chunking) into a {@link CompletenessResult}. */
export class CompletenessAccumulator {
  readonly #o: Required<Omit<CompletenessOptions, 'now'>>;
  /** End of the judged part: min(to, now), at least from. */
  readonly #end: number;
  #lastTs: number | null = null;
  #badRun: { start: number; reason?: string } | null = null;
  #gaps: Gap[] = [];
  #counts = { received: 0, good: 0, uncertain: 0, bad: 0 };

  constructor(options: CompletenessOptions) {
    if (!(options.expectedIntervalMs > 0))
      throw new RangeError('completeness: expectedIntervalMs must be > 0');
    const { now, ...rest } = options;
    this.#o = { gapFactor: 3, ...rest };
    this.#end = now === undefined ? options.to : Math.max(options.from, Math.min(options.to, now));
  }

  push(samples: readonly Sample[]): void {
    const { from, expectedIntervalMs: iv, gapFactor } = this.#o;
    const to = this.#end;
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

  /** The state as JSON (an evidence checkpoint, evidence.ts); {@link restore} takes it back. */
  snapshot(): Record<string, unknown> {
    return {
      lastTs: this.#lastTs,
      badRun: this.#badRun ? { ...this.#badRun } : null,
      gaps: this.#gaps.map((g) => ({ ...g })),
      counts: { ...this.#counts },
    };
  }

  /**
   * Sets the state from a {@link snapshot} of an accumulator with the same options (`now` may differ
   * when every reading pushed before the snapshot was before both).
   */
  restore(s: Record<string, unknown>): void {
    this.#lastTs = s.lastTs as number | null;
    const b = s.badRun as { start: number; reason?: string } | null;
    this.#badRun = b ? { ...b } : null;
    this.#gaps = (s.gaps as Gap[]).map((g) => ({ ...g }));
    this.#counts = { ...(s.counts as { received: number; good: number; uncertain: number; bad: number }) };
  }

  result(): CompletenessResult {
    const { from, expectedIntervalMs: iv, gapFactor } = this.#o;
    const to = this.#end;
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
    if (last === null) {
      if (to > from) gaps.push({ start: from, end: to, cause: 'no_data' });
    } else if (to - last > gapFactor * iv) gaps.push({ start: last + iv, end: to, cause: 'no_data' });
    gaps.sort((a, b) => a.start - b.start);
    const missing = gaps.reduce((n, g) => n + (g.end - g.start), 0);
    const elapsedMs = to - from;
    const coveredMs = Math.max(0, elapsedMs - missing);
    if (to < this.#o.to) gaps.push({ start: to, end: this.#o.to, cause: 'not_elapsed' });
    return {
      expected: Math.floor(elapsedMs / iv),
      elapsedMs,
      ...this.#counts,
      gaps,
      coveredMs,
      coveredShare: elapsedMs > 0 ? new D(coveredMs).div(elapsedMs).toFixed(4, D.ROUND_HALF_EVEN) : null,
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

/**
 * Reason codes that speak for the whole device (the link or session failed, not one address): a bad
 * run whose first reason starts with one of them is `device_bad` even on a device with one point.
 * Matched on the stable code before ":" (core/errors.ts), never on message text.
 */
export const DEVICE_LEVEL_CODES: ReadonlySet<string> = new Set([
  'MRV_E_DEVICE_UNREACHABLE',
  'MRV_E_MODBUS_TIMEOUT',
  'MRV_E_OPCUA_SESSION',
  'MRV_E_OPCUA_CERTIFICATE',
  'MRV_E_OPCUA_IDENTITY',
]);

/**
 * Splits `bad_quality` gaps into `device_bad` and `point_bad`: `device_bad` where every other point of
 * the same device has a bad-quality gap covering the same interval (within `toleranceMs` at each end),
 * or where the run's first reason carries a device-level code ({@link DEVICE_LEVEL_CODES});
 * `point_bad` otherwise (the device answered for its other points). Other causes are kept.
 * @param byPoint completeness per point id (copies are returned; inputs are not changed)
 * @param deviceOf device id of each point
 */
export function classifyBadQuality(
  byPoint: ReadonlyMap<string, CompletenessResult>,
  deviceOf: (pointId: string) => string | undefined,
  toleranceMs: number,
): Map<string, CompletenessResult> {
  const bad = new Map<string, Gap[]>();
  for (const [p, r] of byPoint)
    bad.set(
      p,
      r.gaps.filter((g) => g.cause === 'bad_quality'),
    );
  const covered = (gaps: readonly Gap[], g: Gap) =>
    gaps.some((h) => h.start <= g.start + toleranceMs && h.end >= g.end - toleranceMs);
  const out = new Map<string, CompletenessResult>();
  for (const [point, res] of byPoint) {
    const dev = deviceOf(point);
    const peers = [...byPoint.keys()].filter((p) => p !== point && dev !== undefined && deviceOf(p) === dev);
    const gaps = res.gaps.map((g) => {
      if (g.cause !== 'bad_quality') return g;
      const code = g.reason?.split(':', 1)[0]?.trim() ?? '';
      const whole =
        DEVICE_LEVEL_CODES.has(code) ||
        (peers.length > 0 && peers.every((p) => covered(bad.get(p) ?? [], g)));
      return { ...g, cause: whole ? ('device_bad' as const) : ('point_bad' as const) };
    });
    out.set(point, { ...res, gaps });
  }
  return out;
}

/** Poll interval a device or point gets when its site file names none (the drivers' defaults), ms. */
export const DEFAULT_INTERVAL_MS = 1000;

/** Where an effective interval came from ({@link effectiveIntervalMs}). */
export type IntervalSource = 'point' | 'device' | 'default';

/**
 * The interval at which a point's readings are expected, ms, from its site-file entries (driver
 * fields read loosely, so core stays free of driver imports): the point's own `pollIntervalMs` (a
 * Modbus poll group, drivers/modbus/plan.ts) over the device's `pollIntervalMs`. An OPC UA device in
 * `subscription` mode (the default) is sampled instead: the point's `samplingIntervalMs` over the
 * device's (a sampling interval of 0, "as fast as the server can", counts as the publishing
 * interval). Default {@link DEFAULT_INTERVAL_MS}. A subscription with a deadband reports only changes,
 * so its completeness is a lower bound.
 */
export function effectiveIntervalMs(
  device: Readonly<Record<string, unknown>>,
  point: Readonly<Record<string, unknown>>,
): { ms: number; source: IntervalSource } {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);
  const subscribed = device.driver === 'opcua' && (device.mode ?? 'subscription') === 'subscription';
  if (subscribed) {
    const publish = num(device.publishingIntervalMs) || DEFAULT_INTERVAL_MS;
    const own = num(point.samplingIntervalMs);
    if (own !== undefined) return { ms: own || publish, source: 'point' };
    const dev = num(device.samplingIntervalMs);
    if (dev !== undefined) return { ms: dev || publish, source: 'device' };
    return { ms: DEFAULT_INTERVAL_MS, source: 'default' };
  }
  const own = num(point.pollIntervalMs);
  if (own) return { ms: own, source: 'point' };
  const dev = num(device.pollIntervalMs);
  if (dev) return { ms: dev, source: 'device' };
  return { ms: DEFAULT_INTERVAL_MS, source: 'default' };
}

/** One point's good readings so far in a month ({@link monthToDate}). */
export interface PointCount {
  point: string;
  gatewayId: string;
  /** Effective interval, ms ({@link effectiveIntervalMs}). */
  expectedIntervalMs: number;
  /** Good readings stored in `[from, judgedTo)`. */
  good: number;
  /** Hours of `[from, judgedTo)` (UTC+8 clock hours) without a single good reading. */
  silentHours: number;
}

/**
 * Month-to-date completeness of a unit (the overview's cell, `GET /api/v1/units/{id}/completeness`),
 * from good-reading counts alone (no gaps, no evidence build): counted from `countedFrom` = the later
 * of the month start and the unit's first reading (before it nothing was due: a unit that began
 * reporting mid-month is judged since then; its evidence package still shows the month-start gap)
 * up to `judgedTo` = min(now, month end). Per point `expected` = floor((judgedTo − countedFrom) /
 * interval), `ratio` = min(1, good / expected) with 4 decimals; overall Σ min(good, expected) / Σ expected.
 *
 * `status`: `not_started` (the month has not begun), `not_monitored` (the month ended before the
 * unit's first reading, or there is none yet: nothing was due, nothing is overdue), `no_data`
 * (monitored, but not one good reading so far), `measuring` (month not over), `ended` (month over;
 * the package holds the exact gaps).
 */
export function monthToDate(input: {
  from: number;
  to: number;
  now: number;
  /** The unit's first reading ever, ms epoch; null when it has none. */
  firstDataAt: number | null;
  points: readonly PointCount[];
}): {
  status: 'not_started' | 'not_monitored' | 'no_data' | 'measuring' | 'ended';
  countedFrom: number;
  judgedTo: number;
  elapsedMs: number;
  expected: number;
  good: number;
  ratio: string | null;
  points: (PointCount & { expected: number; ratio: string | null })[];
} {
  const judgedTo = Math.max(input.from, Math.min(input.to, input.now));
  const first = input.firstDataAt;
  const countedFrom = first !== null && first > input.from ? Math.min(first, judgedTo) : input.from;
  const elapsedMs = judgedTo - countedFrom;
  const share = (good: number, expected: number) =>
    expected > 0 ? D.min(1, new D(good).div(expected)).toFixed(4, D.ROUND_HALF_EVEN) : null;
  const points = input.points.map((p) => {
    const expected = Math.floor(elapsedMs / p.expectedIntervalMs);
    return { ...p, expected, ratio: share(p.good, expected) };
  });
  const expected = points.reduce((n, p) => n + p.expected, 0);
  const good = points.reduce((n, p) => n + Math.min(p.good, p.expected), 0);
  const status =
    input.now < input.from
      ? 'not_started'
      : input.firstDataAt === null || input.firstDataAt >= input.to
        ? 'not_monitored'
        : good === 0
          ? 'no_data'
          : input.now < input.to
            ? 'measuring'
            : 'ended';
  return { status, countedFrom, judgedTo, elapsedMs, expected, good, ratio: share(good, expected), points };
}
