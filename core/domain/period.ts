/**
 * Calendar periods in China Standard Time (UTC+8, no daylight saving) whatever the machine's time
 * zone (docs/architecture.md §6a). Instants are ms since the Unix epoch; a period is `[from, to)`.
 */

/** UTC+8 in ms. China has kept one zone without daylight saving since 1992. */
export const CST_OFFSET_MS = 8 * 3_600_000;
/** One day, ms. */
export const DAY_MS = 86_400_000;

/** A half-open period `[from, to)` in ms epoch with its label (`2026-01` or `2026-01-31`). */
export interface Period {
  label: string;
  from: number;
  to: number;
}

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * The calendar month `yyyy-mm` in UTC+8: from the 1st 00:00+08:00 to the next month's 1st 00:00+08:00.
 * @example monthPeriod('2026-01') → { from: Date.parse('2025-12-31T16:00:00Z'), to: Date.parse('2026-01-31T16:00:00Z') }
 * @throws RangeError for text that is not `yyyy-mm`
 */
export function monthPeriod(month: string): Period {
  const m = MONTH.exec(month);
  if (!m) throw new RangeError(`expected a month as yyyy-mm, got "${month}"`);
  const y = Number(m[1]);
  const mo = Number(m[2]);
  return {
    label: month,
    from: Date.UTC(y, mo - 1, 1) - CST_OFFSET_MS,
    to: Date.UTC(y, mo, 1) - CST_OFFSET_MS,
  };
}

/** The calendar day `yyyy-mm-dd` in UTC+8. @throws RangeError for another form */
export function dayPeriod(date: string): Period {
  const m = DATE.exec(date);
  if (!m) throw new RangeError(`expected a date as yyyy-mm-dd, got "${date}"`);
  const from = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) - CST_OFFSET_MS;
  return { label: date, from, to: from + DAY_MS };
}

/** The UTC+8 calendar days of a period, in order (a partial first/last day is clipped to the period). */
export function daysOf(p: { from: number; to: number }): Period[] {
  const out: Period[] = [];
  let start = p.from;
  while (start < p.to) {
    const day = dayPeriod(cstDate(start));
    const end = Math.min(day.to, p.to);
    out.push({ label: day.label, from: start, to: end });
    start = end;
  }
  return out;
}

/** The UTC+8 calendar date (`yyyy-mm-dd`) of an instant. */
export function cstDate(ms: number): string {
  return new Date(ms + CST_OFFSET_MS).toISOString().slice(0, 10);
}

/** The UTC+8 month (`yyyy-mm`) of an instant. */
export function cstMonth(ms: number): string {
  return cstDate(ms).slice(0, 7);
}

/** ISO-8601 with ms and the `+08:00` offset, e.g. `2026-01-01T00:00:00.000+08:00`. */
export function isoCst(ms: number): string {
  return `${new Date(ms + CST_OFFSET_MS).toISOString().slice(0, 23)}+08:00`;
}

/** Start (00:00+08:00) of a UTC+8 date, ms epoch. */
export function startOfCstDate(date: string): number {
  return dayPeriod(date).from;
}

/** Whole UTC+8 calendar days from date `a` to date `b` (negative when b is earlier). */
export function daysBetween(a: string, b: string): number {
  return Math.round((startOfCstDate(b) - startOfCstDate(a)) / DAY_MS);
}

/**
 * Deadline of the monthly evidence (月度存证) of `month`: the 40th calendar day after the month ends
 * (docs/domain.md §1 [official]: "within 40 calendar days after each month ends"). Day 1 is the first day
 * of the next month, so the deadline is that day + 39. January 2026 → 2026-03-12.
 * @returns the last permitted UTC+8 date, `yyyy-mm-dd` (inclusive)
 */
export function evidenceDeadline(month: string): string {
  const p = monthPeriod(month);
  return cstDate(p.to + 39 * DAY_MS);
}
