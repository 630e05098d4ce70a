/**
 * Calibration status of meters (docs/domain.md §3, docs/architecture.md §7): whether a meter held a valid
 * verification (检定) or calibration (校准) certificate at an instant, and over a period.
 *
 * A certificate is valid on the UTC+8 dates `date ..= validUntil` (both inclusive), unless its
 * `result` says it failed (不合格 / fail). Status at an instant:
 * - `valid`: a valid certificate covers it and the latest such one has at least `dueSoonDays` left;
 * - `due_soon`: covered, but the latest covering certificate ends within `dueSoonDays` (default 30);
 * - `expired`: not covered, and a certificate ended before;
 * - `missing`: not covered and none ended before (no certificate, or only future ones).
 */
import type { Calibration, MeterMeta } from '../schema/wire.ts';
import { cstDate, DAY_MS, daysBetween, isoCst, startOfCstDate } from './period.ts';

/** Calibration status of a meter at an instant. */
export type CalibrationState = 'valid' | 'due_soon' | 'expired' | 'missing';

/** Default warning window before a certificate ends, days. */
export const DEFAULT_DUE_SOON_DAYS = 30;

/** Status at one instant, with the certificate it rests on. */
export interface CalibrationStatus {
  status: CalibrationState;
  /** Certificate number of the covering certificate (valid/due_soon) or of the last expired one; null when missing. */
  certificate: string | null;
  /** Its `validUntil` (UTC+8 date, inclusive), or null. */
  validUntil: string | null;
  /** Whole days from the instant's date to `validUntil` (negative once expired), or null. */
  daysLeft: number | null;
}

/** A stretch of a period with one state. `[from, to)` ISO-8601 +08:00. */
export interface CalibrationSegment {
  from: string;
  to: string;
  status: 'valid' | 'expired' | 'missing';
  certificate: string | null;
}

function failed(c: Calibration): boolean {
  return /不合格|fail/i.test(c.result);
}

function covering(meter: MeterMeta | undefined, day: string): Calibration[] {
  return (meter?.calibrations ?? []).filter((c) => !failed(c) && c.date <= day && day <= c.validUntil);
}

/**
 * Status of a meter at instant `at` (ms epoch).
 * @param meter the meter, or undefined for a point without a meter (→ `missing`)
 */
export function calibrationStatus(
  meter: MeterMeta | undefined,
  at: number,
  dueSoonDays: number = DEFAULT_DUE_SOON_DAYS,
): CalibrationStatus {
  const day = cstDate(at);
  const cover = covering(meter, day).sort((a, b) => (a.validUntil < b.validUntil ? 1 : -1))[0];
  if (cover) {
    const daysLeft = daysBetween(day, cover.validUntil);
    return {
      status: daysLeft < dueSoonDays ? 'due_soon' : 'valid',
      certificate: cover.certificate,
      validUntil: cover.validUntil,
      daysLeft,
    };
  }
  const ended = (meter?.calibrations ?? [])
    .filter((c) => c.validUntil < day)
    .sort((a, b) => (a.validUntil < b.validUntil ? 1 : -1))[0];
  if (ended)
    return {
      status: 'expired',
      certificate: ended.certificate,
      validUntil: ended.validUntil,
      daysLeft: daysBetween(day, ended.validUntil),
    };
  return { status: 'missing', certificate: null, validUntil: null, daysLeft: null };
}

/** Whether a reading taken at `ts` was taken while its meter held a valid certificate. */
export function withinCalibration(meter: MeterMeta | undefined, ts: number): boolean {
  return covering(meter, cstDate(ts)).length > 0;
}

/**
 * The period `[from, to)` cut into stretches of one state: boundaries at every certificate's first
 * day and at the day after its `validUntil`. Adjacent stretches with the same state and certificate merge.
 */
export function calibrationOverPeriod(
  meter: MeterMeta | undefined,
  from: number,
  to: number,
): CalibrationSegment[] {
  const cuts = new Set<number>([from, to]);
  for (const c of meter?.calibrations ?? []) {
    for (const t of [startOfCstDate(c.date), startOfCstDate(c.validUntil) + DAY_MS])
      if (t > from && t < to) cuts.add(t);
  }
  const points = [...cuts].sort((a, b) => a - b);
  const out: CalibrationSegment[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const a = points[i] as number;
    const b = points[i + 1] as number;
    const st = calibrationStatus(meter, a, 0);
    const status = st.status === 'due_soon' ? 'valid' : st.status;
    const certificate = status === 'valid' ? st.certificate : status === 'expired' ? st.certificate : null;
    const last = out[out.length - 1];
    if (last && last.status === status && last.certificate === certificate) last.to = isoCst(b);
    else out.push({ from: isoCst(a), to: isoCst(b), status, certificate });
  }
  return out;
}
