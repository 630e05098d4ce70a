// Where a month stands against its evidence deadline (core/domain/evidence-deadline.ts): the 40th
// calendar day after month end in UTC+8, days left/overdue counted in UTC+8 dates, states in order.
import { describe, expect, it } from 'vitest';
import { monthDeadlineStatus } from '../../../core/domain/evidence-deadline.ts';

/** An instant given as UTC+8 wall time. */
const cst = (iso: string) => Date.parse(`${iso}+08:00`);

describe('monthDeadlineStatus', () => {
  it('January 2026: deadline 2026-03-12; the last day has 0 days left, the next is 1 day overdue', () => {
    const last = monthDeadlineStatus({
      month: '2026-01',
      now: cst('2026-03-12T23:59:59'),
      monitoring: 'ended',
    });
    expect(last).toMatchObject({
      deadline: '2026-03-12',
      daysLeft: 0,
      state: 'awaiting_confirmation',
      overdue: false,
    });
    const next = monthDeadlineStatus({
      month: '2026-01',
      now: cst('2026-03-13T00:00:00'),
      monitoring: 'ended',
    });
    expect(next).toMatchObject({ daysLeft: -1, state: 'overdue', overdue: true, confirmedOnTime: null });
  });

  it('counts in UTC+8: 2026-03-12T16:30Z is already 2026-03-13 in China', () => {
    const s = monthDeadlineStatus({
      month: '2026-01',
      now: Date.parse('2026-03-12T16:30:00Z'),
      monitoring: 'ended',
    });
    expect(s.daysLeft).toBe(-1);
  });

  it('December ends in the next year: 2025-12 → 2026-02-09', () => {
    expect(
      monthDeadlineStatus({ month: '2025-12', now: cst('2026-01-01T00:00:00'), monitoring: 'ended' }),
    ).toMatchObject({
      deadline: '2026-02-09',
      daysLeft: 39,
      ended: true,
    });
  });

  it('not started, in progress, not monitored', () => {
    expect(
      monthDeadlineStatus({ month: '2026-05', now: cst('2026-04-30T23:59:59'), monitoring: 'not_started' })
        .state,
    ).toBe('not_started');
    const during = monthDeadlineStatus({
      month: '2026-05',
      now: cst('2026-05-31T23:59:59'),
      monitoring: 'measuring',
    });
    expect(during).toMatchObject({ state: 'in_progress', ended: false });
    // Before the unit's first data nothing was due, so nothing is overdue, however late.
    const before = monthDeadlineStatus({
      month: '2025-01',
      now: cst('2026-05-01T00:00:00'),
      monitoring: 'not_monitored',
    });
    expect(before).toMatchObject({ state: 'not_monitored', overdue: false });
  });

  it('confirmed, on time or late, and reviewed', () => {
    const onTime = monthDeadlineStatus({
      month: '2026-01',
      now: cst('2026-04-01T00:00:00'),
      monitoring: 'ended',
      firstConfirmedAt: cst('2026-03-12T22:00:00'),
    });
    expect(onTime).toMatchObject({
      state: 'confirmed',
      confirmedOnTime: true,
      overdue: false,
      daysLeft: -20,
    });
    const late = monthDeadlineStatus({
      month: '2026-01',
      now: cst('2026-04-01T00:00:00'),
      monitoring: 'ended',
      firstConfirmedAt: cst('2026-03-13T08:00:00'),
      latestReviewed: true,
    });
    expect(late).toMatchObject({ state: 'reviewed', confirmedOnTime: false, overdue: false });
  });
});
