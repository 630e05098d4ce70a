/**
 * AL-LC-002 (Σ ladle tickets = Δ weighing-station total) over a findings window whose edges cut
 * between two polls of the station total (issue 18, "done when": no false finding in the demo month).
 *
 * The readings are shaped like the demo's at 2880× (measured in its store): the station's registers
 * (last ticket number, last net, running total) are polled every 720 plant seconds in one request, so
 * they share a timestamp; the ticket memory delivers every ticket stamped with its own weighing time
 * (whole seconds), ~290 s apart, 2.4–3.4 t each. The window from 18:00 starts 700 s after the last
 * poll: the tickets weighed in between are in the total's period value but not in the ticket sum.
 * Compared by ticket number (`alignBy: ladle.ticket_no`) the rule raises nothing, and still raises a
 * dropped ticket, a tampered net and a total that moves without a ticket; checkpointed (incremental)
 * evidence equals a whole build.
 */
import { describe, expect, it } from 'vitest';
import type { Sample } from '../../../core/domain/aggregate.ts';
import {
  computeEvidence,
  type EvidenceCheckpoint,
  type EvidenceInput,
  evidenceChunks,
  type UnitCatalogue,
} from '../../../core/domain/evidence.ts';
import type { RulePack } from '../../../core/domain/rules.ts';
import { alignedPartSum, PollTicketEdges } from '../../../core/domain/ticket-alignment.ts';
import type { Finding } from '../../../core/schema/finding.ts';
import { cst, DAY, defaultFactors, good, memorySource, rulePack } from './helpers.ts';

const POLL_MS = 720_000;
/** The window: 18:00 on 28 Nov (UTC+8), about two and a half days (to a second after a poll). */
const FROM = cst(2026, 11, 28, 18);
const TO = FROM + 2.5 * DAY - 699_000;
/** The station's polls: on a grid 700 s before FROM (plus 520 ms: a poll is stamped when answered). */
const POLL0 = FROM - 700_000 - 36 * POLL_MS + 520;
/** The first ticket, ~1.5 days before the window. */
const START = FROM - 1.5 * DAY;
const FIRST_TICKET = 260_001;

interface Ticket {
  no: number;
  /** Weighing time, ms (whole seconds). */
  ts: number;
  netKg: number;
}

/** Tickets every 290 s ± up to 59 s, 2 400–3 399 kg. */
function tickets(): Ticket[] {
  const out: Ticket[] = [];
  for (let k = 0; START + k * 290_000 < TO + DAY; k++)
    out.push({
      no: FIRST_TICKET + k,
      ts: START + k * 290_000 + ((k * 7919) % 60) * 1000,
      netKg: 2400 + ((k * 373) % 1000),
    });
  return out;
}

const t = (kg: number) => (kg / 1000).toFixed(3);

interface Station {
  'ladle.net': Sample[];
  'ladle.ticket_no': Sample[];
  'ladle.net_total': Sample[];
}

/**
 * The readings of the station: the ticket memory's (each ticket at its weighing time) and the polls'
 * (last ticket, its net and the running total, one timestamp).
 * @param o.logged which tickets the ticket memory delivered (default all)
 * @param o.totalExtraKg added to the running total from a time on (a total that moves without a ticket)
 */
function station(
  all: readonly Ticket[],
  o: { logged?: (x: Ticket) => boolean; totalExtraKg?: { from: number; kg: number } } = {},
): Station {
  const s: Station = { 'ladle.net': [], 'ladle.ticket_no': [], 'ladle.net_total': [] };
  for (const x of all)
    if (o.logged?.(x) ?? true) {
      s['ladle.net'].push(good(x.ts, t(x.netKg)));
      s['ladle.ticket_no'].push(good(x.ts, String(x.no)));
    }
  let i = 0;
  let totalKg = 1_000_000;
  for (let p = POLL0 - 2 * DAY; p < TO + DAY; p += POLL_MS) {
    while (i < all.length && (all[i] as Ticket).ts <= p) totalKg += (all[i++] as Ticket).netKg;
    const last = all[i - 1];
    if (!last) continue;
    const extra = o.totalExtraKg && p >= o.totalExtraKg.from ? o.totalExtraKg.kg : 0;
    s['ladle.net'].push(good(p, t(last.netKg)));
    s['ladle.ticket_no'].push(good(p, String(last.no)));
    s['ladle.net_total'].push(good(p, t(totalKg + extra)));
  }
  for (const xs of Object.values(s)) xs.sort((a: Sample, b: Sample) => a.ts - b.ts);
  return s;
}

const point = (id: string, extra: Record<string, unknown>) => ({
  id,
  device: 'ladle-scale',
  meter: 'ladle-scale-1',
  unit: 't',
  gatewayId: 'gw1',
  expectedIntervalMs: POLL_MS,
  ...extra,
});
const catalogue: UnitCatalogue = {
  unit: { id: 'U-AL', name: '测试铝厂', industry: 'aluminium', province: '内蒙古' },
  points: [
    point('ladle.net', {
      parameter: 'aluminium.liquid_output',
      aggregation: 'events',
      ticketPoint: 'ladle.ticket_no',
    }),
    point('ladle.ticket_no', { unit: 'id' }),
    point('ladle.net_total', { aggregation: 'totalizer', maxRate: '60', maxStep: '4.5' }),
  ],
  meters: [],
};

/** The shipped pack with AL-LC-002 as it was before `alignBy` (tickets by weighing time). */
function unalignedPack(): RulePack {
  const p = rulePack('aluminium');
  return {
    ...p,
    rules: p.rules.map((r) => {
      if (r.check.kind !== 'sum_of_parts') return r;
      const { alignBy: _a, ...check } = r.check;
      return { ...r, check };
    }),
  };
}

const input = (data: Station, pack = rulePack('aluminium')): EvidenceInput => ({
  catalogue,
  month: '2026-11',
  window: { from: FROM, to: TO },
  source: memorySource(data as unknown as Record<string, Sample[]>),
  factorPack: defaultFactors(),
  rulePack: pack,
  generatedAt: TO + 3_600_000,
  generator: 'test',
});

const lc002 = (fs: readonly Finding[]) => fs.filter((f) => f.rule === 'AL-LC-002');
const kg = (xs: readonly Ticket[]) => xs.reduce((n, x) => n + x.netKg, 0);

describe('AL-LC-002 over a window whose edges cut between polls of the station total', () => {
  const all = tickets();
  const p0 = FROM - 700_000 + 520; // the total's baseline poll
  const lastPoll = POLL0 + Math.floor((TO - 1 - POLL0) / POLL_MS) * POLL_MS;
  const headCut = all.filter((x) => x.ts > p0 && x.ts < FROM);
  const tailCut = all.filter((x) => x.ts > lastPoll && x.ts < TO);

  it('compared by weighing time (the rule before alignBy) it fires on the edges alone', async () => {
    // The reproduction of the demo's false finding: the tickets between the baseline poll and the
    // window's start are in the total, not in the ticket sum (and those after the last poll the reverse).
    expect(headCut.length).toBeGreaterThanOrEqual(2);
    expect(tailCut).toEqual([]);
    const body = await computeEvidence(input(station(all), unalignedPack()));
    const [f, ...more] = lc002(body.findings);
    expect(more).toEqual([]);
    expect(f?.detail.difference).toBe(String(kg(headCut) / 1000));
    expect(f?.detail.alignedBy).toBeUndefined();
    expect(body.findings.filter((x) => x.code === 'MRV_F_TICKETS_MISSING')).toEqual([]);
  });

  it('compared by ticket number it raises nothing, and says which tickets it compared', async () => {
    const body = await computeEvidence(input(station(all)));
    expect(body.findings.map((f) => `${f.rule ?? f.code}: ${f.message.en}`)).toEqual([]);
  });

  it('still fires on a ticket the memory never delivered', async () => {
    // A ticket weighed between two polls with another after it before the next poll: only the ticket
    // memory had it.
    const nextPoll = (ts: number) => POLL0 + Math.ceil((ts - POLL0) / POLL_MS) * POLL_MS;
    const dropped = all.find(
      (x, i) => x.ts > FROM + DAY && (all[i + 1] as Ticket).ts <= nextPoll(x.ts),
    ) as Ticket;
    const body = await computeEvidence(input(station(all, { logged: (x) => x !== dropped })));
    expect(body.findings.map((f) => f.rule ?? f.code).sort()).toEqual(['AL-LC-002', 'MRV_F_TICKETS_MISSING']);
    const f = lc002(body.findings)[0];
    expect(f?.detail.difference).toBe(String(dropped.netKg / 1000));
    expect(f?.detail.alignedBy).toBe('ladle.ticket_no');
    expect(f?.detail.tickets).toMatchObject({ after: String(headCut[0] ? headCut[0].no - 1 : 0) });
  });

  it('still fires on a tampered net', async () => {
    const victim = all.find((x) => x.ts > FROM + DAY) as Ticket;
    const tampered = all.map((x) => (x === victim ? { ...x, netKg: x.netKg + 2500 } : x));
    // The ticket memory shows the tampered net; the station's own total counted the true one.
    const data = station(all);
    const bent = station(tampered);
    const body = await computeEvidence(
      input({ ...data, 'ladle.net': bent['ladle.net'], 'ladle.ticket_no': bent['ladle.ticket_no'] }),
    );
    expect(lc002(body.findings).map((f) => f.detail.difference)).toEqual(['2.5']);
  });

  it('still fires on a total that moves without a ticket', async () => {
    const body = await computeEvidence(input(station(all, { totalExtraKg: { from: FROM + DAY, kg: 3000 } })));
    expect(lc002(body.findings).map((f) => [f.detail.difference, f.detail.alignedBy])).toEqual([
      ['3', 'ladle.ticket_no'],
    ]);
  });

  it('without a ticket number in the poll of the last total reading it falls back and says so', async () => {
    const data = station(all);
    // The poll's ticket-number register read bad (another request, e.g.): nothing to align with.
    data['ladle.ticket_no'] = data['ladle.ticket_no'].map((s) =>
      s.ts === lastPoll
        ? { ts: s.ts, value: null, quality: 'bad' as const, reason: 'MRV_E_MODBUS_TIMEOUT' }
        : s,
    );
    const body = await computeEvidence(input(data));
    const [f] = lc002(body.findings);
    expect(f?.detail.alignedBy).toBeNull();
    expect(String(f?.detail.notAligned)).toMatch(
      /no ladle\.ticket_no reading in the same poll as the total's last reading/,
    );
    expect(f?.detail.difference).toBe(String(kg(headCut) / 1000));
  });

  it('checkpointed (incremental) evidence equals a whole build', async () => {
    const data = station(all, { totalExtraKg: { from: FROM + DAY, kg: 3000 } });
    const checkpoints: EvidenceCheckpoint[] = [];
    const whole = await computeEvidence({
      ...input(data),
      onChunk: (_c, cp) => {
        checkpoints.push(JSON.parse(JSON.stringify(cp())));
      },
    });
    expect(checkpoints).toHaveLength(
      evidenceChunks({ month: '2026-11', window: { from: FROM, to: TO } }).length,
    );
    expect(checkpoints[0]?.alignments?.['AL-LC-002']).toBeDefined();
    for (const cp of checkpoints) {
      const resumed = await computeEvidence({ ...input(data), resume: cp });
      expect(JSON.parse(JSON.stringify(resumed)), `resumed after chunk ${cp.chunk}`).toEqual(
        JSON.parse(JSON.stringify(whole)),
      );
    }
    expect(lc002(whole.findings)).toHaveLength(1);
    // A checkpoint of code without the alignment is refused, not silently resumed.
    const { alignments: _a, ...old } = checkpoints[1] as EvidenceCheckpoint;
    await expect(computeEvidence({ ...input(data), resume: old })).rejects.toThrow(
      /ticket alignment of rule AL-LC-002/,
    );
  });
});

describe('ticket alignment (ticket-alignment.ts)', () => {
  it('takes the ticket read at the same instant as the base and the last total reading', () => {
    const e = new PollTicketEdges({ from: 1000, to: 5000 });
    e.push(
      [good(500, '10'), good(900, '12'), { ts: 950, value: null, quality: 'bad' }],
      [good(500, '7'), good(900, '8'), good(950, '9'), good(920, '9')],
    );
    e.push(
      [good(2000, '15'), good(4000, '18'), good(5000, '21')],
      [good(2000, '9'), good(4000, '10'), good(3000, '11')],
    );
    expect(e.result()).toEqual({ base: { ts: 900, ticket: '8' }, last: { ts: 4000, ticket: '10' } });
    // Restored from its snapshot it goes on the same.
    const r = new PollTicketEdges({ from: 1000, to: 5000 });
    r.restore(JSON.parse(JSON.stringify(e.snapshot())));
    expect(r.result()).toEqual(e.result());
    const parts = [
      {
        point: 'ladle.net',
        ticketPoint: 'ladle.ticket_no',
        tickets: [
          { ticket: '8', value: '3' },
          { ticket: '9', value: '2.5' },
          { ticket: '10', value: '3.5' },
          { ticket: '11', value: '4' },
        ],
      },
    ];
    expect(alignedPartSum('ladle.ticket_no', e.result(), parts)).toEqual({
      ok: true,
      sum: '6',
      after: '8',
      through: '10',
      tickets: 2,
    });
    expect(alignedPartSum('ladle.other', e.result(), parts)).toMatchObject({ ok: false });
    expect(
      alignedPartSum(
        'ladle.ticket_no',
        { base: { ts: 1, ticket: '12' }, last: { ts: 2, ticket: '3' } },
        parts,
      ),
    ).toEqual({ ok: false, reason: 'ladle.ticket_no went back from 12 to 3 (renumbered)' });
  });
});
