/**
 * A/B of the evidence day aggregates in one run (issue 19 item 3: a month of 1 s data for 50 points
 * builds in < 5 s at its worst moment): buildEvidence and DayAggregates of another checkout (A: day
 * chunks, today always read raw) and of this one (B: hour chunks, the ended hours of today kept), over
 * the same readings — the heavy unit of test/helpers/heavy-month.ts, 50 totalizers at 1 s on the
 * month's last day — in a SqliteStore file of each (A's written by A's store, copied for B: B's store
 * migrates its copy). Each side first keeps what it keeps at its worst moment (A: every day before the
 * last, built at its start; B: every hour before the last, built at 23:00), then the month's worst
 * moment, its last second, is built alternately A B B A A B …; then the first build after the month
 * ended (A reads the last day and keeps it, B its last hour), and B from nothing at the same moment
 * (every hour read and kept: the cost of the hour chunks where A reads a day). The packages of A and B
 * at each moment must be equal byte for byte (same key: Ed25519 signatures are deterministic).
 *
 *   mkdir /tmp/mrv-a && git archive COMMIT | tar -x -C /tmp/mrv-a
 *   ln -s "$PWD/node_modules" /tmp/mrv-a/node_modules
 *   npx tsx bench/evidence-month-ab.ts /tmp/mrv-a [rounds=3]
 *
 * Not part of `npm run bench` (it needs the other checkout); its figures are quoted in bench/analysis.md.
 */
import { copyFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { SqliteStore } from '../collector/sqlite-store.ts';
import type { TimeSeriesStore } from '../collector/store.ts';
import { monthPeriod } from '../core/domain/period.ts';
import { DayAggregates } from '../evidence/day-aggregates.ts';
import { buildEvidence, type EvidenceKey, loadEvidenceKey } from '../evidence/service.ts';
import { HEAVY_MONTH, heavySite, seedHeavyMonth } from '../test/helpers/heavy-month.ts';
import { timedHeavyBuild } from './evidence-month.ts';
import { fmt, loadAvg, tempDir } from './lib.ts';

const checkout = process.argv[2];
if (checkout === undefined) {
  process.stderr.write('usage: evidence-month-ab.ts OTHER-CHECKOUT [rounds]\n');
  process.exit(2);
}
const rounds = Number(process.argv[3] ?? 3);
const POINTS = 50;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const imp = async <T>(file: string) => (await import(pathToFileURL(path.resolve(checkout, file)).href)) as T;
const A = {
  store: (
    await imp<{ SqliteStore: new (o: { path: string }) => TimeSeriesStore }>('collector/sqlite-store.ts')
  ).SqliteStore,
  aggregates: (await imp<{ DayAggregates: typeof DayAggregates }>('evidence/day-aggregates.ts'))
    .DayAggregates,
  build: (await imp<{ buildEvidence: typeof buildEvidence }>('evidence/service.ts')).buildEvidence,
};

const dir = tempDir('evidence-ab');
const { from, to } = monthPeriod(HEAVY_MONTH);
const lastDay = to - DAY;
console.log(`A = ${checkout}, B = this checkout; ${rounds} rounds; load ${loadAvg()}`);
const storeA = new A.store({ path: path.join(dir, 'a.sqlite') });
await storeA.start();
const g0 = performance.now();
const monthDays = Math.round((to - from) / DAY);
const written = await seedHeavyMonth(storeA, { points: POINTS, days: monthDays, firstDay: monthDays - 1 });
console.log(
  `generated ${fmt(written)} readings (day ${monthDays}) in ${fmt((performance.now() - g0) / 1000, 1)} s`,
);
await storeA.stop();
copyFileSync(path.join(dir, 'a.sqlite'), path.join(dir, 'b.sqlite'));
await storeA.start();
const storeB = new SqliteStore({ path: path.join(dir, 'b.sqlite') });
await storeB.start();
const key: EvidenceKey = loadEvidenceKey(path.join(dir, 'evidence.pem'));
const aggA = new A.aggregates(path.join(dir, 'a-days.sqlite'));
const aggB = new DayAggregates(path.join(dir, 'b-days.sqlite'));
const sites = [heavySite(POINTS)];

type Side = 'A' | 'B';
async function build(side: Side, now: number, aggregates?: DayAggregates) {
  const { s, pkg, stats } = await timedHeavyBuild(side === 'A' ? A.build : buildEvidence, {
    store: side === 'A' ? storeA : storeB,
    now,
    key,
    sites,
    dayAggregates: aggregates ?? (side === 'A' ? aggA : aggB),
  });
  console.log(
    `${side} ${new Date(now).toISOString()} ${fmt(s, 2)} s (resumed ${stats.resumed}, kept ${stats.kept} of ${stats.chunks}; load ${loadAvg()})`,
  );
  return { s, pkg: JSON.stringify(pkg) };
}

try {
  await build('A', lastDay);
  await build('B', lastDay + 23 * HOUR);
  const worst: Record<Side, number[]> = { A: [], B: [] };
  const pkgs: Record<Side, string[]> = { A: [], B: [] };
  for (let r = 0; r < rounds; r++)
    for (const side of (r % 2 === 0 ? ['A', 'B'] : ['B', 'A']) as Side[]) {
      const b = await build(side, to - 1000);
      worst[side].push(b.s);
      pkgs[side].push(b.pkg);
    }
  const endedA = await build('A', to);
  const endedB = await build('B', to);
  const fresh = new DayAggregates(path.join(dir, 'b-fresh.sqlite'));
  const coldB = await build('B', to, fresh);
  fresh.close();
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const same = new Set([...pkgs.A, ...pkgs.B]).size === 1;
  console.log(
    [
      `worst moment (23:59:59 of day ${monthDays}): A median ${fmt(med(worst.A), 2)} s [${worst.A.map((x) => fmt(x, 2)).join(', ')}], B median ${fmt(med(worst.B), 2)} s [${worst.B.map((x) => fmt(x, 2)).join(', ')}]`,
      `packages at the worst moment equal A = B (byte for byte): ${same ? 'yes' : 'NO'}`,
      `first build after the month ended: A ${fmt(endedA.s, 2)} s (a day read, kept), B ${fmt(endedB.s, 2)} s (an hour read, kept); equal: ${endedA.pkg === endedB.pkg ? 'yes' : 'NO'}`,
      `B from nothing at the month's end (every hour read and kept): ${fmt(coldB.s, 2)} s; equal to A's: ${coldB.pkg === endedA.pkg ? 'yes' : 'NO'}`,
      `load ${loadAvg()}`,
    ].join('\n'),
  );
} finally {
  aggA.close();
  aggB.close();
  await storeA.stop();
  await storeB.stop();
  rmSync(dir, { recursive: true, force: true });
}
