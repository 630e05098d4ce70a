/**
 * `mrv demo --speed 2880` across a month boundary, as real processes, judged through the server's API
 * the way scripts/demo-month.ts judges a whole month (issue 18, "done when"; the whole month takes
 * ≈ 16 real minutes, too long for `npm test`): three plant days, 28 Nov 12:00 to 1 Dec 12:00 (+08:00),
 * ≈ 90 s of real time at 2880×.
 *
 * Asserted for each unit (aluminium over Modbus TCP with a ticket memory, cement over Modbus TCP and RTU
 * over TCP, steel over OPC UA and Modbus TCP):
 * - its first reading is at the demo's start instant: the plant clock runs only once every device has
 *   answered (before, the steel unit's OPC UA session left ~40 plant minutes without readings);
 * - delivery raises no integrity finding (no seq gap, broken chain or replay);
 * - the November package is signed and verifies, and says what it knows: `incomplete` because of gaps,
 *   the first of them the one before the demo existed ([1 Nov, 28 Nov 12:00), nothing read);
 * - December's package says the month is not over and is judged up to now;
 * - steady operation raises no finding at all (the findings route over every window the judge asks,
 *   the last of them starting between two polls of the ladle station's total: AL-LC-002 compares by
 *   ticket number, core/domain/ticket-alignment.ts);
 * - every point but the ticket points (judged by their numbers) has ≥ 99 % of the elapsed time covered
 *   since the first reading, in November and in December to date, and the completeness route says
 *   ≥ 99 % for both months.
 * The demo's plant clock is paced (core/paced-clock.ts): a stall of the one demo process slows the plant
 * down with it instead of leaving gaps, so these hold on a busy machine (run with two busy loops beside
 * it, see the README), the cement plant's RTU line included: its three substitute feeders take turns
 * on one line in 750 ms of real time per cycle, and the RTU answer guard no longer grows with this
 * loaded process's own stalls (drivers/modbus/rtu-guard.ts; before, one answer read 125 ms late set
 * a 157 ms guard on the line's next 32 requests, and the feeders kept 83–94 % for hours at load 8).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isoCst, monthPeriod } from '../../core/domain/period.ts';
import {
  api,
  type DemoProcess,
  type JudgedPackage,
  judgeUnits,
  startDemo,
  waitForPlant,
} from '../../scripts/demo-month.ts';

const SPEED = 2880;
const START = '2026-11-28T12:00:00+08:00';
const startMs = Date.parse(START);
const nov = monthPeriod('2026-11');
const judgeAt = monthPeriod('2026-12').from + 12 * 3_600_000;
const tmp = mkdtempSync(join(tmpdir(), 'mrv-demo-boundary-'));
let demo: DemoProcess | undefined;
afterAll(async () => {
  await demo?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** Covered share of `[since, until)` per point of a package (gaps listed in full or summed). */
function coveredSince(pkg: JudgedPackage, since: number, until: number, before: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of pkg.completeness) {
    const missing = Object.entries(c.gapSummary)
      .filter(([cause]) => cause !== 'not_elapsed')
      .reduce((n, [, g]) => n + g.ms, 0);
    // The gap before the demo's first reading is not the gateway's doing.
    out.set(c.point, 1 - Math.max(0, missing - before) / (until - since));
  }
  return out;
}

describe('mrv demo --speed 2880 across a month boundary', () => {
  it('starts with every unit read at its first instant, delivers without an integrity finding, and the crossed month says what it lacks', async () => {
    demo = await startDemo({
      speed: SPEED,
      start: START,
      units: ['aluminium', 'cement', 'steel'],
      dataDir: tmp,
    });
    await waitForPlant(demo, judgeAt, { budgetMs: 600_000 });
    const a = api(demo);
    // December first, as it stands now: building November's package and the findings of four days
    // takes the demo's one process seconds (hours of plant time at 2880×) that December would lose.
    const ids = ['91130000DEMO00003X', '91150000DEMO00001X', '91340000DEMO00002X'];
    const december = new Map<string, JudgedPackage>();
    for (const id of ids)
      december.set(id, await a.get<JudgedPackage>(`/api/v1/units/${id}/evidence/2026-12`));
    const units = await judgeUnits(demo, { month: '2026-11', next: '2026-12', findingsFrom: startMs });
    expect(units.map((u) => u.unitId).sort()).toEqual(ids);
    for (const u of units) {
      const where = `${u.unitId} (${u.name})`;
      // The held clock: the first reading at the start instant, none earlier.
      expect(u.month.countedFrom, where).toBe(isoCst(startMs));
      const integrity = new Set([
        'MRV_F_SEQ_GAP',
        'MRV_F_SEQ_CONFLICT',
        'MRV_F_CHAIN_BROKEN',
        'MRV_F_REPLAY',
        'MRV_F_BAD_SIGNATURE',
        'MRV_F_KEY_MISMATCH',
        'MRV_F_UNKNOWN_KEY',
      ]);
      expect(
        u.findings.filter((f) => integrity.has(f.code)).map((f) => `${f.code} ${f.ts}: ${f.message.en}`),
        where,
      ).toEqual([]);
      // Steady operation: no validation, completeness or counter finding either.
      expect(
        u.findings.map((f) => `${f.rule ?? f.code} ${f.point ?? ''} ${f.ts}: ${f.message.en}`),
        where,
      ).toEqual([]);
      expect(u.verified, `${where}: ${u.verifyReason ?? ''}`).toBe(true);
      expect(u.content, where).toBe('incomplete');
      expect(u.reasons, where).toContain('gaps');
      const events = new Set(['ladle.net', 'bof1.ladle_net']); // one reading per weighing: judged by ticket numbers
      // Every point's listed gaps before the start: the one gap from the month's start to the demo's.
      for (const c of u.pkg.completeness.filter((x) => !events.has(x.point))) {
        const early = c.gaps.filter((g) => Date.parse(g.start) < startMs);
        expect(
          early.map((g) => [g.start, g.end]),
          `${where} ${c.point}`,
        ).toEqual([[isoCst(nov.from), isoCst(startMs)]]);
      }
      const novCovered = coveredSince(u.pkg, startMs, nov.to, startMs - nov.from);
      const dec = december.get(u.unitId) as JudgedPackage;
      expect(dec.content?.reasons, where).toContain('month_not_over');
      const decJudgedTo = Date.parse(dec.content?.judgedTo ?? '');
      expect(decJudgedTo, where).toBeGreaterThanOrEqual(judgeAt);
      const decCovered = coveredSince(dec, nov.to, decJudgedTo, 0);
      const low = (m: Map<string, number>) =>
        [...m]
          .filter(([p, share]) => !events.has(p) && share < 0.99)
          .map(([p, share]) => `${p} ${(share * 100).toFixed(2)} %`);
      const lowest = [...u.month.points, ...u.next.points]
        .filter((x) => x.expected > 0)
        .sort((x, y) => x.good / x.expected - y.good / y.expected)
        .slice(0, 3)
        .map((x) => `${x.point} ${x.good}/${x.expected}`);
      console.info(
        `${where}: completeness route ${u.month.ratio} / ${u.next.ratio}; lowest points ${lowest.join(', ')}`,
      );
      expect(low(novCovered), `${where}: November since the first reading`).toEqual([]);
      expect(low(decCovered), `${where}: December to date`).toEqual([]);
      // The completeness route (what the overview shows), over every point.
      expect(Number(u.month.ratio), `${where}: November completeness (route)`).toBeGreaterThanOrEqual(0.99);
      expect(Number(u.next.ratio), `${where}: December completeness to date (route)`).toBeGreaterThanOrEqual(
        0.99,
      );
    }
  }, 600_000);
});
