/**
 * Where a unit's month stands against its evidence deadline (月度存证报送期限, docs/domain.md §1: within
 * 40 calendar days after each month ends, China Standard Time): pure, from the month, "now", the
 * month-to-date monitoring status (completeness.ts `monthToDate`) and the month's confirmations.
 */
import { cstDate, daysBetween, evidenceDeadline, monthPeriod } from './period.ts';

/** The month's monitoring status, as `monthToDate` (completeness.ts) answers it. */
export type MonitoringStatus = 'not_started' | 'not_monitored' | 'no_data' | 'measuring' | 'ended';

/**
 * Where the month stands:
 * - `not_started`: the month has not begun;
 * - `not_monitored`: the month ended before the unit's first reading (nothing was due);
 * - `in_progress`: the month is not over (nothing can be confirmed yet);
 * - `awaiting_confirmation`: over, not confirmed, deadline not passed;
 * - `overdue`: over, not confirmed, deadline passed;
 * - `confirmed`: a version is confirmed, its latest not reviewed;
 * - `reviewed`: the latest version is reviewed by the regulator.
 */
export type MonthState =
  | 'not_started'
  | 'not_monitored'
  | 'in_progress'
  | 'awaiting_confirmation'
  | 'overdue'
  | 'confirmed'
  | 'reviewed';

/** What {@link monthDeadlineStatus} answers. */
export interface MonthDeadlineStatus {
  month: string;
  state: MonthState;
  /** Last permitted UTC+8 date, `yyyy-mm-dd` (inclusive). */
  deadline: string;
  /**
   * Whole UTC+8 days from today to the deadline: 0 on the last day, negative when it passed (−3 =
   * three days overdue). Counted whether or not the month is confirmed.
   */
  daysLeft: number;
  /** Unconfirmed and past the deadline. */
  overdue: boolean;
  /** True when version 1 was confirmed on or before the deadline (UTC+8 date); null when unconfirmed. */
  confirmedOnTime: boolean | null;
  /** True once the month is over (it may be confirmed if it has data). */
  ended: boolean;
}

/**
 * The deadline status of `month` at `now`.
 * @param o.monitoring the month's monitoring status (`monthToDate`)
 * @param o.firstConfirmedAt when version 1 was confirmed (ms epoch), undefined when never
 * @param o.latestReviewed whether the latest version is reviewed
 * @throws RangeError for a malformed month (period.ts)
 */
export function monthDeadlineStatus(o: {
  month: string;
  now: number;
  monitoring: MonitoringStatus;
  firstConfirmedAt?: number;
  latestReviewed?: boolean;
}): MonthDeadlineStatus {
  const p = monthPeriod(o.month);
  const deadline = evidenceDeadline(o.month);
  const daysLeft = daysBetween(cstDate(o.now), deadline);
  const ended = o.now >= p.to;
  const confirmed = o.firstConfirmedAt !== undefined;
  const state: MonthState = confirmed
    ? o.latestReviewed
      ? 'reviewed'
      : 'confirmed'
    : o.now < p.from || o.monitoring === 'not_started'
      ? 'not_started'
      : o.monitoring === 'not_monitored'
        ? 'not_monitored'
        : !ended
          ? 'in_progress'
          : daysLeft < 0
            ? 'overdue'
            : 'awaiting_confirmation';
  return {
    month: o.month,
    state,
    deadline,
    daysLeft,
    overdue: state === 'overdue',
    confirmedOnTime: o.firstConfirmedAt === undefined ? null : cstDate(o.firstConfirmedAt) <= deadline,
    ended,
  };
}
