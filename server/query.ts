/**
 * Parsing and validation of the series route's query (docs/architecture.md §9
 * `GET /api/v1/units/{unitId}/points/{pointId}/series?from=&to=&step=&limit=`). Pure: no I/O, the
 * current time is passed in, every rejection is an `MRV_E_BAD_REQUEST` {@link MrvError} whose
 * message names the parameter and what is expected.
 */
import { MrvError } from '../core/errors.ts';

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** Window of a series query that gives neither `from` nor `to`: the last hour. */
export const DEFAULT_WINDOW_MS = HOUR_MS;
/** Widest window of one series query (a year and a day, enough for annual reports). */
export const MAX_RANGE_MS = 366 * DAY_MS;
/** Smallest bucket width; the gateways do not poll faster than once a second. */
export const MIN_STEP_MS = SECOND_MS;
/** Most buckets one stepped query may produce (`(to − from) / step`). */
export const MAX_BUCKETS = 10_000;
/** Most readings one raw query returns, and the default `limit`. */
export const MAX_RAW_LIMIT = 10_000;

/** The series query as it arrives, all strings (fastify has already checked `limit` is an integer). */
export interface SeriesQueryText {
  from?: string;
  to?: string;
  step?: string;
  limit?: number;
}

/** A validated series window: ms epoch, `to` exclusive; `stepMs` absent means raw readings. */
export interface SeriesWindow {
  from: number;
  to: number;
  stepMs?: number;
  limit: number;
}

const ISO_WITH_OFFSET =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:(Z)|([+-])(\d{2}):?(\d{2}))$/;
const EPOCH_MS = /^\d{1,15}$/;
// A `+` in a query string decodes to a space, so `...T08:00:00+08:00` sent unencoded arrives as `...T08:00:00 08:00`.
const SPACE_FOR_PLUS = / (\d{2}:?\d{2})$/;

function badRequest(message: string, detail: Record<string, unknown>): MrvError {
  return new MrvError('MRV_E_BAD_REQUEST', message, detail);
}

/**
 * Parses an instant given as ISO-8601 with an offset (`2025-03-01T08:00:00+08:00`,
 * `2025-03-01T00:00:00.000Z`; seconds and fraction optional, fraction truncated to ms) or as a
 * non-negative integer of ms since the epoch. A time without an offset is rejected as ambiguous.
 * @param name parameter name used in the error message
 * @returns ms since the epoch
 * @throws MrvError `MRV_E_BAD_REQUEST` when the text is neither form or names an impossible date
 */
export function parseInstant(text: string, name: string): number {
  const trimmed = text.trim();
  if (EPOCH_MS.test(trimmed)) return Number(trimmed);
  const m = ISO_WITH_OFFSET.exec(trimmed.replace(SPACE_FOR_PLUS, '+$1'));
  if (m === null) {
    throw badRequest(
      `${name}: expected ISO-8601 with an offset (e.g. 2025-03-01T08:00:00+08:00) or ms since the epoch, got "${text}"`,
      { parameter: name, value: text },
    );
  }
  const [, y, mo, d, h, mi, s, frac, z, sign, oh, om] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s ?? '0');
  const ms = Number((frac ?? '').padEnd(3, '0').slice(0, 3));
  const offsetMin = z === undefined ? (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) : 0;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth ||
    hour > 23 ||
    minute > 59 ||
    second > 59 ||
    Math.abs(offsetMin) > 18 * 60
  ) {
    throw badRequest(`${name}: "${text}" is not a valid date and time`, { parameter: name, value: text });
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMin * MINUTE_MS;
}

const STEP = /^(\d{1,12})(ms|s|m|h|d)?$/;
const STEP_UNIT_MS: Record<string, number> = { ms: 1, s: SECOND_MS, m: MINUTE_MS, h: HOUR_MS, d: DAY_MS };

/**
 * Parses a bucket width: an integer with a unit (`10s`, `1m` minute, `1h`, `1d`, `500ms`) or a bare
 * integer of milliseconds.
 * @returns width in ms, at least {@link MIN_STEP_MS}
 * @throws MrvError `MRV_E_BAD_REQUEST` for another form or a width under one second
 */
export function parseStep(text: string): number {
  const m = STEP.exec(text.trim());
  if (m === null) {
    throw badRequest(`step: expected a width such as 10s, 1m, 1h, 1d or a number of ms, got "${text}"`, {
      parameter: 'step',
      value: text,
    });
  }
  const stepMs = Number(m[1]) * (STEP_UNIT_MS[m[2] ?? 'ms'] ?? 1);
  if (stepMs < MIN_STEP_MS) {
    throw badRequest(`step: must be at least 1s (${MIN_STEP_MS} ms), got "${text}"`, {
      parameter: 'step',
      value: text,
      minMs: MIN_STEP_MS,
    });
  }
  return stepMs;
}

/**
 * Turns the series query into a window. Defaults: `to` = `now`, `from` = `to` − 1 h, raw readings,
 * `limit` = {@link MAX_RAW_LIMIT}.
 * @param now current time, ms epoch (from the server's injected clock)
 * @throws MrvError `MRV_E_BAD_REQUEST` when a parameter is malformed, `from` ≥ `to`, the window is
 *   wider than {@link MAX_RANGE_MS}, or the step gives more than {@link MAX_BUCKETS} buckets
 */
export function resolveSeriesWindow(q: SeriesQueryText, now: number): SeriesWindow {
  const to = q.to !== undefined ? parseInstant(q.to, 'to') : now;
  const from = q.from !== undefined ? parseInstant(q.from, 'from') : to - DEFAULT_WINDOW_MS;
  if (from >= to) {
    throw badRequest(
      `from must be before to (to is exclusive): from ${new Date(from).toISOString()}, to ${new Date(to).toISOString()}`,
      { from, to },
    );
  }
  if (to - from > MAX_RANGE_MS) {
    throw badRequest(`from..to spans more than ${MAX_RANGE_MS / DAY_MS} days; query a shorter window`, {
      from,
      to,
      maxRangeMs: MAX_RANGE_MS,
    });
  }
  const limit = q.limit ?? MAX_RAW_LIMIT;
  if (q.step === undefined) return { from, to, limit };
  const stepMs = parseStep(q.step);
  const buckets = Math.ceil((to - from) / stepMs);
  if (buckets > MAX_BUCKETS) {
    throw badRequest(
      `step ${q.step} gives ${buckets} buckets over from..to, at most ${MAX_BUCKETS}: use a larger step or a shorter window`,
      { buckets, maxBuckets: MAX_BUCKETS, stepMs },
    );
  }
  return { from, to, stepMs, limit };
}
