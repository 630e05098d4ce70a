/**
 * The evidence worker thread (evidence/evidence-pool.ts starts it through evidence/worker-pool.ts):
 * opens its own read connection to the store (SQLite: a read-only handle on the same file, which WAL
 * lets it read while the collector writes; InfluxDB: its own client) and its own handle on the day
 * aggregates file, then runs {@link runEvidenceJob} for each job, so that only the job (a few KB) and
 * the result cross the thread boundary, never the month's readings.
 *
 * On Linux the thread lowers its own scheduling priority to nice {@link EVIDENCE_WORKER_NICE}
 * (setpriority on the calling thread: Linux keeps a nice value per thread), so that on a machine with
 * few cores a build yields the CPU to polling, ingest and the HTTP answers of the same process; the
 * completeness thread is started with nice `EVIDENCE_COUNTS_NICE` (0, `workerData.nice`). Elsewhere
 * the call would lower the whole process, so it is not made.
 */

import { setPriority } from 'node:os';
import { workerData } from 'node:worker_threads';
import type { TimeSeriesStore } from '../collector/store.ts';
import { DayAggregates } from './day-aggregates.ts';
import { DayCounts } from './day-counts.ts';
import { type EvidenceJob, type EvidenceJobContext, runEvidenceJob } from './evidence-jobs.ts';
import { EVIDENCE_WORKER_NICE, type EvidenceWorkerData } from './evidence-pool.ts';
import { type EvidenceKey, loadEvidenceKey } from './service.ts';
import { serveJobs } from './worker-pool.ts';

async function openStore(data: EvidenceWorkerData): Promise<TimeSeriesStore> {
  const spec = data.store;
  if (spec.kind === 'sqlite') {
    const { SqliteStore } = await import('../collector/sqlite-store.ts');
    const store = new SqliteStore({ path: spec.path, readOnly: true });
    await store.start();
    return store;
  }
  const { InfluxStore } = await import('../collector/influx-store.ts');
  const store = new InfluxStore({ url: spec.url, database: spec.database });
  await store.start();
  return store;
}

serveJobs<EvidenceJobContext, EvidenceJob, unknown>(
  async () => {
    const data = workerData as EvidenceWorkerData;
    const nice = data.nice ?? EVIDENCE_WORKER_NICE;
    if (process.platform === 'linux' && nice !== 0) {
      try {
        setPriority(nice);
      } catch {
        // Not allowed here (a sandbox): the build runs at the process's priority.
      }
    }
    const store = await openStore(data);
    let days: DayAggregates | undefined;
    let counts: DayCounts | undefined;
    const keys = new Map<string, EvidenceKey>();
    return {
      store,
      dayAggregates: () => {
        if (data.dayAggregatesFile !== undefined) days ??= new DayAggregates(data.dayAggregatesFile);
        return days;
      },
      // The completeness day counts share the day aggregates file (a table of their own).
      dayCounts: () => {
        if (data.dayAggregatesFile !== undefined) counts ??= new DayCounts(data.dayAggregatesFile);
        return counts;
      },
      key: (file) => {
        let k = keys.get(file);
        if (!k) {
          // The server made the key before the first job: never create one here.
          k = loadEvidenceKey(file, false);
          keys.set(file, k);
        }
        return k;
      },
    };
  },
  (ctx, job) => runEvidenceJob(job, ctx),
);
