/**
 * Missing weighing tickets as findings (`MRV_F_TICKETS_MISSING`, core/schema/finding.ts): an events
 * point whose ticket numbers jump inside the month lacks the tickets in between, whatever the cause (an
 * outage longer than the weighing terminal's ticket memory, a site file that reads only the "last
 * ticket" registers). The numbers come from the events aggregation (aggregate.ts
 * `missingTicketRanges`); this file only words them. Pure.
 */
import { CompletenessFindingCodes, type Finding } from '../schema/finding.ts';
import type { EventsResult } from './aggregate.ts';
import { isoCst } from './period.ts';

/** What a finding needs to know of its evidence run. */
export interface TicketFindingContext {
  unitId: string;
  /** Period start, ms epoch (part of the stable finding id). */
  from: number;
  /** When the findings are made, ms epoch. */
  at: number;
}

/** Ranges listed in a finding's message (all of them are in `detail.ranges`). */
const RANGES_IN_MESSAGE = 20;

/**
 * One finding per events point with missing ticket numbers in the period.
 * @param results the events result of each point, with the point's ticket point when it has one
 * @returns findings with stable ids (`{unit}:MRV_F_TICKETS_MISSING:{point}:{period start}`), so a
 *   re-run over the same month gives the same finding
 */
export function ticketGapFindings(
  results: readonly { point: string; ticketPoint?: string | undefined; result: EventsResult }[],
  ctx: TicketFindingContext,
): Finding[] {
  const def = CompletenessFindingCodes.MRV_F_TICKETS_MISSING;
  const out: Finding[] = [];
  for (const { point, ticketPoint, result } of results) {
    const first = result.missing[0];
    if (result.missingCount === 0 || first === undefined) continue;
    const ranges = result.missing.map((g) => (g.from === g.to ? g.from : `${g.from}–${g.to}`));
    const shown =
      ranges.slice(0, RANGES_IN_MESSAGE).join(', ') + (ranges.length > RANGES_IN_MESSAGE ? ', …' : '');
    out.push({
      id: `${ctx.unitId}:MRV_F_TICKETS_MISSING:${point}:${ctx.from}`.slice(0, 128),
      unitId: ctx.unitId,
      point,
      source: 'completeness',
      code: 'MRV_F_TICKETS_MISSING',
      class: def.class,
      severity: def.severity,
      message: {
        zh: `${point} 缺少 ${result.missingCount} 张称量单 (单号 ${shown})：本期值不含这些称量单`,
        en: `${point}: ${result.missingCount} ticket number(s) never received (${shown}); the period's value lacks them`,
      },
      detail: {
        count: result.missingCount,
        ranges: result.missing.map((g) => ({
          from: g.from,
          to: g.to,
          count: g.count,
          next: isoCst(g.ts),
        })),
        ...(ticketPoint !== undefined ? { ticketPoint } : {}),
        counted: result.events.length,
      },
      ts: new Date(first.ts).toISOString(),
      at: new Date(ctx.at).toISOString(),
    });
  }
  return out;
}
