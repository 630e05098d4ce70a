/**
 * Helpers of the evidence and confirmation pages: months in UTC+8, the evidence deadline, the state
 * a regulator sees for a month (not due / open / confirmed / reviewed / overdue / not monitored), the
 * translation of the confirmation routes' refusals, and where the findings list of a month lives.
 */
import { ApiError } from '../api/client.ts';
import type { paths } from '../api/schema.d.ts';
import { cstMonth } from './format.ts';

/** A month's status as `GET /api/v1/units/{unitId}/confirmations/{month}` answers it. */
export type MonthStatus =
  paths['/api/v1/units/{unitId}/confirmations/{month}']['get']['responses'][200]['content']['application/json']['status'];
/** A confirmed version (without its bytes). */
export type ConfirmationVersion =
  paths['/api/v1/units/{unitId}/confirmations/{month}']['get']['responses'][200]['content']['application/json']['versions'][number];
/** A row of `GET /api/v1/confirmations?month=`. */
export type UnitMonthStatus =
  paths['/api/v1/confirmations']['get']['responses'][200]['content']['application/json'][number];

/** Where the classic dashboard (the page at `/` of earlier releases, server/web/) is served. */
export const CLASSIC_BASE = '/classic/';

/** `yyyy-mm` pattern of the API's month parameters. */
export const MONTH_RE = /^\d{4}-(0[1-9]|1[0-2])$/;

/** The month `n` months before `yyyy-mm` (negative n: after). */
export function monthMinus(month: string, n: number): string {
  const y = Number(month.slice(0, 4));
  const m = Number(month.slice(5, 7)) - 1 - n;
  return new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 7);
}

/** The UTC+8 month of now. */
export function currentMonth(now = Date.now()): string {
  return cstMonth(now);
}

/** First and last UTC+8 date (`yyyy-mm-dd`) of a month. */
export function monthDays(month: string): { first: string; last: string } {
  const next = monthMinus(month, -1);
  const last = new Date(Date.parse(`${next}-01T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
  return { first: `${month}-01`, last };
}

/**
 * Whole days from today (UTC+8) to `deadline` (`yyyy-mm-dd`, inclusive): 0 on the last day, negative
 * when passed. The same count as the server's (core/domain/evidence-deadline.ts).
 */
export function daysUntil(deadline: string, now = Date.now()): number {
  const today = new Date(now + 8 * 3_600_000).toISOString().slice(0, 10);
  return Math.round((Date.parse(`${deadline}T00:00:00Z`) - Date.parse(`${today}T00:00:00Z`)) / 86_400_000);
}

/** What the confirmations page shows for a month's state. */
export type ShownState = 'not_due' | 'open' | 'confirmed' | 'reviewed' | 'overdue' | 'not_monitored';
/** Every shown state, in the order of the filter. */
export const SHOWN_STATES: readonly ShownState[] = [
  'open',
  'overdue',
  'confirmed',
  'reviewed',
  'not_due',
  'not_monitored',
];

/** The shown state of a server month state (`in_progress` and `not_started` are not due yet). */
export function shownState(state: MonthStatus['state']): ShownState {
  switch (state) {
    case 'not_started':
    case 'in_progress':
      return 'not_due';
    case 'awaiting_confirmation':
      return 'open';
    default:
      return state;
  }
}

/** Element Plus tag type of a shown state: green only for reviewed and confirmed. */
export function stateTagType(s: ShownState): 'success' | 'warning' | 'danger' | 'info' | 'primary' {
  switch (s) {
    case 'reviewed':
      return 'success';
    case 'confirmed':
      return 'primary';
    case 'open':
      return 'warning';
    case 'overdue':
      return 'danger';
    default:
      return 'info';
  }
}

/** Keys of `confirmation.errors`. */
export type RefusalKey = 'notEnded' | 'noData' | 'commentRequired' | 'forbidden' | 'conflict' | 'unavailable';

/**
 * The message key of a refusal by the confirmation routes (server/confirmation-routes.ts), or undefined
 * for anything else (then shown as the server's text). `ended` tells the two 409s of a confirm apart
 * (a month not over / a month without data); on a review a 409 is a superseded or reviewed version.
 */
export function refusalKey(
  err: unknown,
  action: 'confirm' | 'review',
  ended: boolean,
): RefusalKey | undefined {
  if (!(err instanceof ApiError)) return undefined;
  switch (err.code) {
    case 'MRV_E_CONFIRMATION':
      return action === 'review' ? 'conflict' : ended ? 'noData' : 'notEnded';
    case 'MRV_E_BAD_REQUEST':
      return action === 'confirm' ? 'commentRequired' : undefined;
    case 'MRV_E_FORBIDDEN':
      return 'forbidden';
    case 'MRV_E_STATE_DB':
      return 'unavailable';
    default:
      return undefined;
  }
}

/** `/units/:unitId/evidence` without a month opens the previous month (the one whose deadline runs). */
export function evidenceRedirect(to: { params: Record<string, unknown> }) {
  return {
    name: 'evidence',
    params: { unitId: String(to.params.unitId), month: monthMinus(currentMonth(), 1) },
  };
}
