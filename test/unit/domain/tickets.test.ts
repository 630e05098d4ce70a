/**
 * Weighing tickets by their own time and missing ticket numbers (issue 18 item 1): the events
 * aggregation counts a ticket in the month it was weighed, and ticket numbers skipped in a month
 * become MRV_F_TICKETS_MISSING.
 */
import { describe, expect, it } from 'vitest';
import {
  aggregateEvents,
  missingTicketRanges,
  type TicketObservation,
} from '../../../core/domain/aggregate.ts';
import { ticketGapFindings } from '../../../core/domain/tickets.ts';
import { Finding } from '../../../core/schema/finding.ts';
import { cst } from './helpers.ts';

const obs = (ts: number, ticket: number, value = '3'): TicketObservation => ({
  ts,
  ticket: String(ticket),
  value,
});

describe('events by weighing time', () => {
  const dec = { from: cst(2026, 12, 1), to: cst(2027, 1, 1) };
  const jan = { from: cst(2027, 1, 1), to: cst(2027, 2, 1) };
  // Ticket 500 weighed at 23:59:40 on Dec 31 (from the ticket memory), and seen again by the
  // "last ticket" registers at 00:00:01 on Jan 1; ticket 501 weighed on Jan 1.
  const weighed = cst(2026, 12, 31, 23, 59) + 40_000;
  const all = [
    obs(cst(2026, 12, 31, 23, 50), 499),
    obs(weighed, 500, '2.9'),
    obs(cst(2027, 1, 1) + 1000, 500, '2.9'),
    obs(cst(2027, 1, 1, 0, 5), 501),
  ];

  it('counts a ticket weighed at 23:59:40 on the last day in that month, not the next', () => {
    const d = aggregateEvents(all, dec);
    expect(d.events.map((e) => e.ticket)).toEqual(['499', '500']);
    expect(d.value).toBe('5.9');
    const j = aggregateEvents(all, jan);
    expect(j.events.map((e) => e.ticket)).toEqual(['501']);
    expect(j.carriedOver).toEqual(['500']);
    // 501 follows 500 (the last ticket before January): nothing missing at the month boundary.
    expect(j.missing).toEqual([]);
  });

  it('reports the numbers skipped in the month, from the last ticket before it', () => {
    const r = aggregateEvents(
      [
        obs(dec.from - 5000, 100),
        obs(dec.from + 1000, 103),
        obs(dec.from + 2000, 104),
        obs(dec.from + 3000, 110),
      ],
      dec,
    );
    expect(r.missingCount).toBe(7);
    expect(r.missing).toEqual([
      { from: '101', to: '102', count: 2, ts: dec.from + 1000 },
      { from: '105', to: '109', count: 5, ts: dec.from + 3000 },
    ]);
  });
});

describe('missingTicketRanges', () => {
  it('starts a new sequence when the numbers go back (terminal reset), and skips non-integer tickets', () => {
    const t = (ticket: string, ts: number) => ({ ticket, ts });
    const r = missingTicketRanges([t('98', 1), t('99', 2), t('1', 3), t('A-7', 4), t('3', 5)]);
    expect(r.gaps).toEqual([{ from: '2', to: '2', count: 1, ts: 5 }]);
    expect(r.count).toBe(1);
    expect(missingTicketRanges([t('5', 1)], '2').gaps).toEqual([{ from: '3', to: '4', count: 2, ts: 1 }]);
    expect(missingTicketRanges([t('5', 1), t('5', 2), t('6', 3)]).count).toBe(0);
  });
});

describe('ticketGapFindings', () => {
  it('makes one MRV_F_TICKETS_MISSING per point with stable id and both languages', () => {
    const from = cst(2026, 12, 1);
    const result = aggregateEvents([obs(from + 1, 1), obs(from + 2, 4)], { from, to: from + 86_400_000 });
    const f = ticketGapFindings([{ point: 'ladle.net', ticketPoint: 'ladle.ticket_no', result }], {
      unitId: 'U1',
      from,
      at: from + 10,
    });
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({
      id: `U1:MRV_F_TICKETS_MISSING:ladle.net:${from}`,
      code: 'MRV_F_TICKETS_MISSING',
      source: 'completeness',
      class: 'tickets',
      detail: { count: 2, ranges: [{ from: '2', to: '3', count: 2 }] },
      ts: new Date(from + 2).toISOString(),
    });
    expect(Finding.parse(f[0])).toEqual(f[0]);
    expect(f[0]?.message.zh).toContain('缺少 2 张称量单 (单号 2–3)');
    expect(
      ticketGapFindings([{ point: 'p', result: aggregateEvents([], { from, to: from + 1 }) }], {
        unitId: 'U1',
        from,
        at: 0,
      }),
    ).toEqual([]);
  });
});
