import { describe, expect, it } from 'vitest';
import {
  cstDate,
  cstMonth,
  daysOf,
  evidenceDeadline,
  isoCst,
  monthPeriod,
} from '../../../core/domain/period.ts';

describe('UTC+8 calendar periods', () => {
  it('puts a month boundary at 16:00 UTC of the previous day, whatever the machine zone', () => {
    const jan = monthPeriod('2026-01');
    expect(new Date(jan.from).toISOString()).toBe('2025-12-31T16:00:00.000Z');
    expect(new Date(jan.to).toISOString()).toBe('2026-01-31T16:00:00.000Z');
    // 2026-01-31T17:00Z is still January in UTC but already February 1st 01:00 in China.
    const t = Date.UTC(2026, 0, 31, 17);
    expect(new Date(t).toISOString().slice(0, 7)).toBe('2026-01');
    expect(cstMonth(t)).toBe('2026-02');
    expect(t >= jan.to).toBe(true);
    // ...and 2025-12-31T16:30Z is 2026-01-01 00:30 in China.
    expect(cstDate(Date.UTC(2025, 11, 31, 16, 30))).toBe('2026-01-01');
    expect(isoCst(jan.from)).toBe('2026-01-01T00:00:00.000+08:00');
  });

  it('cuts a month into its UTC+8 days', () => {
    const days = daysOf(monthPeriod('2026-02'));
    expect(days).toHaveLength(28);
    expect(days[0]?.label).toBe('2026-02-01');
    expect(days[27]?.to).toBe(monthPeriod('2026-02').to);
  });

  it('sets the deadline on the 40th calendar day after month end', () => {
    // January ends on the 31st: Feb 1 is day 1, Feb 28 day 28, Mar 12 day 40.
    expect(evidenceDeadline('2026-01')).toBe('2026-03-12');
    // February 2026 ends on the 28th: Mar 1 day 1, Mar 31 day 31, Apr 9 day 40.
    expect(evidenceDeadline('2026-02')).toBe('2026-04-09');
    // December 2026: Jan 1 day 1 … Jan 31 day 31, Feb 9 day 40.
    expect(evidenceDeadline('2026-12')).toBe('2027-02-09');
    // Leap year: Feb 2028 has 29 days; March 1 + 39 = April 9.
    expect(evidenceDeadline('2028-02')).toBe('2028-04-09');
  });

  it('rejects a malformed month', () => {
    expect(() => monthPeriod('2026-13')).toThrow(RangeError);
    expect(() => monthPeriod('2026-1')).toThrow(RangeError);
  });
});
