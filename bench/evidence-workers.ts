/**
 * Evidence off the event loop (evidence/evidence-pool.ts): the same heavy month (test/helpers/heavy-month.ts,
 * totalizers read every second, each value changing every second) built on the event loop and in a
 * worker thread, timing each build and the longest event-loop delay of this process meanwhile
 * (perf_hooks.monitorEventLoopDelay, and a plain 10 ms timer, which sees a loop blocked for the whole
 * build where the histogram does not), plus the worker's start. The packages must be equal byte for byte.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { SqliteStore } from '../collector/sqlite-store.ts';
import { monthPeriod } from '../core/domain/period.ts';
import type { EvidenceBuildJob } from '../evidence/evidence-jobs.ts';
import { EvidencePool } from '../evidence/evidence-pool.ts';
import { loadEvidenceKey } from '../evidence/service.ts';
import { HEAVY_MONTH, HEAVY_UNIT, heavySite, seedHeavyMonth } from '../test/helpers/heavy-month.ts';
import { type BenchResult, fmt, tempDir } from './lib.ts';

/** Totalizers and days of 1 s readings (BENCH_WORKER_POINTS, BENCH_WORKER_DAYS): ≈ 1 M readings by default. */
const POINTS = Number(process.env.BENCH_WORKER_POINTS ?? 6);
const DAYS = Number(process.env.BENCH_WORKER_DAYS ?? 1);
/** Builds timed per path (the median is reported). */
const RUNS = 3;

/** Runs `fn`, measuring its wall time and the longest event-loop delay meanwhile. */
async function measured<T>(fn: () => Promise<T>): Promise<{ value: T; s: number; loopMaxMs: number }> {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  let tick = performance.now();
  let tickMax = 0;
  const ticker = setInterval(() => {
    const t = performance.now();
    tickMax = Math.max(tickMax, t - tick);
    tick = t;
  }, 10);
  const t0 = performance.now();
  const value = await fn();
  const s = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 30));
  h.disable();
  clearInterval(ticker);
  return { value, s, loopMaxMs: Math.max(h.max / 1e6, tickMax) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

export async function benchEvidenceWorkers(): Promise<BenchResult> {
  const t0 = performance.now();
  const dir = tempDir('evidence-workers');
  const file = path.join(dir, 'mrv.sqlite');
  const keyFile = path.join(dir, 'key.pem');
  const store = new SqliteStore({ path: file });
  await store.start();
  const g0 = performance.now();
  const written = await seedHeavyMonth(store, { points: POINTS, days: DAYS });
  const genS = (performance.now() - g0) / 1000;
  loadEvidenceKey(keyFile, true);
  const job: EvidenceBuildJob = {
    kind: 'evidence',
    unitId: HEAVY_UNIT,
    month: HEAVY_MONTH,
    now: monthPeriod(HEAVY_MONTH).to + 3_600_000,
    generator: 'carbon-mrv bench',
    keyFile,
    sites: [heavySite(POINTS)],
    dayAggregates: false,
  };
  const local = new EvidencePool({ store, threads: 0 });
  const pool = new EvidencePool({ store, spec: { kind: 'sqlite', path: file }, threads: 1 });
  try {
    const start = await measured(() => pool.warm());
    if (!start.value) throw new Error('the evidence worker did not start');
    const inProcess = [];
    const inWorker = [];
    for (let i = 0; i < RUNS; i++) {
      inProcess.push(await measured(() => local.run(job)));
      inWorker.push(await measured(() => pool.run(job)));
    }
    const bytes = JSON.stringify(inProcess[0]?.value.pkg);
    const equal = [...inProcess, ...inWorker].every((r) => JSON.stringify(r.value.pkg) === bytes);
    const localS = median(inProcess.map((r) => r.s));
    const workerS = median(inWorker.map((r) => r.s));
    const localLoop = Math.max(...inProcess.map((r) => r.loopMaxMs));
    const workerLoop = Math.max(...inWorker.map((r) => r.loopMaxMs));
    console.log(
      `evidence of ${fmt(written)} readings: in-process ${fmt(localS, 2)} s (event loop blocked up to ${fmt(localLoop)} ms), in a worker ${fmt(workerS, 2)} s (event loop delay up to ${fmt(workerLoop)} ms); worker start ${fmt(start.s, 2)} s; equal: ${equal}`,
    );
    return {
      id: 'evidence-workers',
      title: 'Evidence off the event loop (worker thread)',
      figures: [
        {
          name: `readings of the heavy unit (1 s, ${POINTS} totalizers, ${DAYS} day${DAYS > 1 ? 's' : ''} + 1 day lookback)`,
          value: fmt(written),
        },
        { name: 'generation into the SqliteStore (writeReadings)', value: fmt(genS, 1), unit: 's' },
        { name: 'evidence build on the event loop (median of 3)', value: fmt(localS, 2), unit: 's' },
        { name: 'evidence build in a worker thread (median of 3)', value: fmt(workerS, 2), unit: 's' },
        {
          name: 'event loop blocked during a build on the event loop (longest)',
          value: fmt(localLoop),
          unit: 'ms',
        },
        {
          name: 'event-loop delay during a build in a worker thread (longest)',
          value: fmt(workerLoop),
          unit: 'ms',
          target: '< 1500 (no poll gap > 1.5 s)',
          met: workerLoop < 1500,
        },
        { name: 'worker thread start (first package waits for it once)', value: fmt(start.s, 2), unit: 's' },
        {
          name: 'packages from the worker equal those built on the event loop (byte for byte)',
          value: equal ? 'yes' : 'NO',
          target: 'equal',
          met: equal,
        },
      ],
      notes: [
        `The heavy unit of test/helpers/heavy-month.ts: ${POINTS} anode-consumption totalizers read every second, each value changing every second, ${DAYS} day${DAYS > 1 ? 's' : ''} of ${HEAVY_MONTH} plus the lookback day, written with SqliteStore.writeReadings (BENCH_WORKER_POINTS, BENCH_WORKER_DAYS change the size). Each path builds the month ${RUNS} times without day aggregates (every reading read each time), alternating: on the event loop (EvidencePool threads 0, the code of evidence/evidence-jobs.ts runEvidenceJob in this thread) and in one worker thread (threads 1: its own read-only SQLite connection, nice 10 on Linux, the result structured-cloned back).`,
        'Event-loop delay: the longer of perf_hooks.monitorEventLoopDelay (10 ms resolution) and a plain 10 ms setInterval’s longest wait between callbacks; the histogram samples when the loop turns, so a loop blocked for a whole build leaves it one or two samples and no record of the block, which the timer shows. test/integration/evidence-no-stall.test.ts checks the consequence end to end: a gateway polling at 1 s in the same process keeps every gap ≤ 1.5 s while a worker builds, and stalls for the whole build on the event loop.',
        'The two build times move with the machine’s load at the moment (other work on a shared 2-core machine) and with heap state (the worker’s heap holds only the build; the seeding’s garbage stays in the main thread’s); they are not the point of this benchmark, the event-loop delay during the build is.',
      ],
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await pool.close();
    await local.close();
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
