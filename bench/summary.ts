/**
 * Issue 19's overview target: "the overview summary for 300 units in < 1 s". The overview page
 * (dashboard/src/pages/OverviewPage.vue) opens with one `GET /api/v1/summary` (server/summary-routes.ts:
 * every unit's status, month-to-date completeness and open findings). This benchmark registers
 * `UNITS` units (units.yaml), gives each a catalogue of three aluminium key-parameter points, an online
 * status and readings every `INTERVAL_S` seconds since the month's start, then runs the real
 * `mrv server` process (bin/mrv.js, the compiled release in dist/, built first when missing or older than the sources) over that SQLite store and
 * times the request over HTTP. First: the very first request on a data directory that never had kept
 * day counts (evidence/day-counts.ts: the completeness worker counts every day of the month and keeps
 * the ended ones in evidence-days.sqlite). Cold: the first request after each of `STARTS` later server
 * starts over the same data directory (nothing cached in the server; the ended days' counts kept by the
 * runs before, as a user's server finds them after a restart; today counted in the store). Warm: within
 * the minute the server caches each unit's completeness. A missed target runs the server once more with
 * every thread profiled.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SqliteStore } from '../collector/sqlite-store.ts';
import type { StoredReading } from '../collector/store.ts';
import { cstDayStart } from '../collector/store.ts';
import { cstMonth, monthPeriod } from '../core/domain/index.ts';
import { DayCounts } from '../evidence/day-counts.ts';
import { TokenFile } from '../server/tokens.ts';
import { getFreePort } from '../test/helpers/free-port.ts';
import { type BenchResult, fmt, percentile, REPO_ROOT, stopChild, tempDir } from './lib.ts';
import { type ProfileSection, profiledEnv } from './profile.ts';

const UNITS = Number(process.env.BENCH_SUMMARY_UNITS ?? 300);
/** Seconds between readings of each point (BENCH_SUMMARY_INTERVAL_S). */
const INTERVAL_S = Number(process.env.BENCH_SUMMARY_INTERVAL_S ?? 300);
const STARTS = 3;
const WARM = 10;
const TARGET_MS = 1000;
const PROVINCES = ['内蒙古', '山东', '河南', '新疆', '广西', '云南'];
const POINTS = [
  {
    id: 'potline.cell_count',
    unit: 'count',
    aggregation: 'gauge',
    parameter: 'aluminium.cells_in_operation',
  },
  { id: 'anode.net_total', unit: 't', aggregation: 'totalizer', parameter: 'aluminium.anode_consumption' },
  {
    id: 'potline.ae_seconds',
    unit: 's',
    aggregation: 'totalizer',
    parameter: 'aluminium.anode_effect_duration',
  },
] as const;

const unitId = (i: number) => `91150000BENCH${String(i).padStart(5, '0')}`;

/** Writes the units' catalogues, statuses and readings; returns the readings written. */
async function seed(store: SqliteStore, now: number): Promise<number> {
  const { from } = monthPeriod(cstMonth(now));
  let written = 0;
  let rows: StoredReading[] = [];
  for (let u = 0; u < UNITS; u++) {
    const id = unitId(u);
    const gatewayId = `gw-${u}`;
    await store.writeMeta(id, {
      v: 1,
      gatewayId,
      unit: {
        id,
        name: `基准铝厂 ${u}`,
        industry: 'aluminium',
        province: PROVINCES[u % PROVINCES.length] as string,
      },
      points: POINTS.map((p) => ({ ...p, device: 'potline' })),
      meters: [],
      configHash: String(u % 10).repeat(64),
    });
    await store.writeStatus(id, { v: 1, gatewayId, state: 'online' }, now - 1000);
    let seq = 1;
    for (let ts = from; ts < now; ts += INTERVAL_S * 1000, seq++)
      for (const [k, p] of POINTS.entries())
        rows.push({
          unitId: id,
          gatewayId,
          device: 'potline',
          point: p.id,
          ts,
          rxTs: ts + 20,
          value: String(k === 0 ? 240 : Math.floor((ts - from) / 1000)),
          quality: 'good',
          seq,
        });
    if (rows.length >= 50_000) {
      written += await store.writeReadings(rows);
      rows = [];
    }
  }
  written += await store.writeReadings(rows);
  return written;
}

/** Builds the compiled release (dist/) unless it is there and as new as the sources (bin/mrv.js decides). */
function ensureDist(): void {
  const mrv = path.join(REPO_ROOT, 'bin/mrv.js');
  const env = { ...process.env, MRV_REQUIRE_DIST: '1' };
  if (spawnSync(process.execPath, [mrv, '--version'], { env, stdio: 'ignore' }).status === 0) return;
  const b = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts/build.mjs')], { stdio: 'inherit' });
  if (b.status !== 0)
    throw new Error('npm run build failed: the summary benchmark runs the compiled release');
}

/** Starts `mrv server` (the compiled release) and resolves once it listens. */
async function startServer(dir: string, port: number, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      path.join(REPO_ROOT, 'bin/mrv.js'),
      'server',
      '--port',
      String(port),
      '--data-dir',
      dir,
      '--sqlite',
      path.join(dir, 'mrv.sqlite'),
      '--units-file',
      path.join(dir, 'units.yaml'),
    ],
    { env: { ...env, MRV_LOG_LEVEL: 'warn', MRV_REQUIRE_DIST: '1' }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('mrv server did not start in 120 s')), 120_000);
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('carbon-mrv server: http://')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mrv server exited (${code})`));
    });
  });
  return child;
}

interface Round {
  /** Date.now() when the cold request was sent. */
  coldAt: number;
  coldMs: number;
  warmMs: number[];
  units: number;
  withCompleteness: number;
}

/** One server start: the cold request, then `WARM` warm ones. */
async function round(dir: string, token: string, env: NodeJS.ProcessEnv): Promise<Round> {
  const port = await getFreePort();
  const child = await startServer(dir, port, env);
  try {
    const get = async () => {
      const t = performance.now();
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/summary`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const body = (await res.json()) as { units?: { completeness: { good: number } | null }[] };
      const ms = performance.now() - t;
      if (res.status !== 200) throw new Error(`GET /api/v1/summary: ${res.status} ${JSON.stringify(body)}`);
      return { ms, body };
    };
    const coldAt = Date.now();
    const cold = await get();
    const warmMs: number[] = [];
    for (let i = 0; i < WARM; i++) warmMs.push((await get()).ms);
    const units = cold.body.units ?? [];
    return {
      coldAt,
      coldMs: cold.ms,
      warmMs,
      units: units.length,
      withCompleteness: units.filter((u) => (u.completeness?.good ?? 0) > 0).length,
    };
  } finally {
    await stopChild(child);
  }
}

export async function benchSummary(): Promise<BenchResult> {
  const t0 = performance.now();
  const dir = tempDir('summary');
  try {
    ensureDist();
    const now = Date.now();
    const store = new SqliteStore({ path: path.join(dir, 'mrv.sqlite') });
    await store.start();
    const g0 = performance.now();
    const written = await seed(store, now);
    await store.stop();
    const genS = (performance.now() - g0) / 1000;
    writeFileSync(
      path.join(dir, 'units.yaml'),
      `version: 1\nunits:\n${Array.from(
        { length: UNITS },
        (_, u) =>
          `  - { id: ${unitId(u)}, name: 基准铝厂 ${u}, industry: aluminium, province: ${PROVINCES[u % PROVINCES.length]}, gateways: [gw-${u}] }`,
      ).join('\n')}\n`,
    );
    const token = TokenFile.inDataDir(dir).create({
      role: 'admin',
      scope: { provinces: [], units: [] },
      name: 'bench',
    }).token;
    console.log(`summary: ${UNITS} units, ${fmt(written)} readings written in ${fmt(genS, 1)} s`);
    // The first start on this data directory: no kept day counts yet.
    const never = await round(dir, token, process.env);
    const keptFile = path.join(dir, 'evidence-days.sqlite');
    const kept = new DayCounts(keptFile);
    const keptRows = Array.from({ length: UNITS }, (_, u) => kept.rows(unitId(u))).reduce((a, b) => a + b, 0);
    kept.close();
    const endedDays = Math.round((cstDayStart(now) - monthPeriod(cstMonth(now)).from) / 86_400_000);
    console.log(
      `summary: first request on a data directory without kept counts ${fmt(never.coldMs)} ms; ${fmt(keptRows)} day counts kept (${UNITS} units × ${POINTS.length} points × ${endedDays} ended days = ${fmt(UNITS * POINTS.length * endedDays)})`,
    );
    const rounds: Round[] = [];
    for (let i = 0; i < STARTS; i++) rounds.push(await round(dir, token, process.env));
    const cold = rounds.map((r) => r.coldMs).sort((a, b) => a - b);
    const warm = rounds.flatMap((r) => r.warmMs).sort((a, b) => a - b);
    const coldP50 = percentile(cold, 50);
    const coldMax = cold.at(-1) as number;
    const warmP50 = percentile(warm, 50);
    const warmMax = warm.at(-1) as number;
    const complete = [never, ...rounds].every((r) => r.units === UNITS && r.withCompleteness === UNITS);
    console.log(
      `summary: cold p50 ${fmt(coldP50)} ms, max ${fmt(coldMax)} ms; warm p50 ${fmt(warmP50)} ms, max ${fmt(warmMax)} ms; every unit counted: ${complete}`,
    );
    const coldName = `GET /api/v1/summary, cold (first request after the server started, ended days' counts kept in the data directory by an earlier run), max of ${STARTS} starts`;
    const warmName = `GET /api/v1/summary, warm (counts cached), max of ${STARTS * WARM}`;
    const profiles: ProfileSection[] = [];
    const missed = [...(coldMax >= TARGET_MS ? [coldName] : []), ...(warmMax >= TARGET_MS ? [warmName] : [])];
    if (missed.length > 0 && process.env.BENCH_PROFILE !== '0') {
      const p = profiledEnv();
      const again = await round(dir, token, p.env);
      profiles.push({
        figures: missed,
        how: `\`mrv server\` started once more over the same store with every thread profiled (bench/profile-preload.cjs, 1 ms sampling), one cold request (${fmt(again.coldMs)} ms profiled) and ${WARM} warm ones, then stopped; the tables count from the cold request on (the start-up before it left out)`,
        threads: p.read(10, again.coldAt),
      });
      rmSync(p.dir, { recursive: true, force: true });
    }
    return {
      id: 'summary',
      title: `Overview summary of ${UNITS} units`,
      figures: [
        {
          name: `readings (${UNITS} units × ${POINTS.length} key-parameter points every ${INTERVAL_S} s since the month's start)`,
          value: fmt(written),
        },
        { name: 'generation into the SqliteStore', value: fmt(genS, 1), unit: 's' },
        {
          name: 'GET /api/v1/summary, the very first request on a data directory that never had kept day counts (every day of the month counted in the store)',
          value: fmt(never.coldMs),
          unit: 'ms',
        },
        {
          name: `day counts kept after it (evidence-days.sqlite: ${UNITS} units × ${POINTS.length} points × ${endedDays} ended days of the month)`,
          value: fmt(keptRows),
          target: fmt(UNITS * POINTS.length * endedDays),
          met: keptRows === UNITS * POINTS.length * endedDays,
        },
        {
          name: `GET /api/v1/summary, cold, p50 of ${STARTS} starts`,
          value: fmt(coldP50),
          unit: 'ms',
        },
        {
          name: coldName,
          value: fmt(coldMax),
          unit: 'ms',
          target: `< ${TARGET_MS}`,
          met: coldMax < TARGET_MS,
        },
        { name: `GET /api/v1/summary, warm, p50 of ${STARTS * WARM}`, value: fmt(warmP50), unit: 'ms' },
        {
          name: warmName,
          value: fmt(warmMax),
          unit: 'ms',
          target: `< ${TARGET_MS}`,
          met: warmMax < TARGET_MS,
        },
        {
          name: `every one of the ${UNITS} units in the answer with its month-to-date completeness counted`,
          value: complete ? 'yes' : 'NO',
          target: 'all',
          met: complete,
        },
      ],
      notes: [
        `${UNITS} aluminium units registered in a units.yaml over ${PROVINCES.length} provinces, each with a gateway catalogue of ${POINTS.length} key-parameter points (${POINTS.map((p) => p.parameter).join(', ')}), an online status and a reading of each point every ${INTERVAL_S} s from the start of the current month (${cstMonth(now)}) to the benchmark's start, all in one SQLite store (BENCH_SUMMARY_UNITS, BENCH_SUMMARY_INTERVAL_S). The server is the real \`mrv server\` process (bin/mrv.js with MRV_REQUIRE_DIST=1: the compiled release, built first when dist/ is missing or older than the sources; default flags: the evidence worker thread counts completeness, the state database in the data directory), asked over HTTP with an admin token as the overview page asks; the time is from the request to the parsed JSON. First: the first request of the first start on the data directory (per unit its catalogue, one first-reading query per point, the store's write marks of the month's days, collector/store.ts readingDayMarks, and one count query of good readings and hours for its points per day of the month, collector/store.ts goodReadingCounts; the ${endedDays} ended days' counts kept in evidence-days.sqlite, evidence/day-counts.ts; ${SUMMARY_NOTE}). Cold: the first request after each of ${STARTS} later starts over the same data directory, as a user's server starts again over its data directory: nothing cached in the server, the ended days' counts taken from evidence-days.sqlite where the day's write mark is unchanged, today (${fmt((now - cstDayStart(now)) / 3_600_000, 1)} h of readings) counted in the store. Warm: ${WARM} requests right after, within the minute the server caches each unit's completeness.`,
      ],
      seconds: (performance.now() - t0) / 1000,
      ...(profiles.length > 0 ? { profiles } : {}),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const SUMMARY_NOTE = 'at most 8 units at a time (server/summary-routes.ts SUMMARY_CONCURRENCY)';
