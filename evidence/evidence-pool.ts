/**
 * Where the server's evidence computations run (docs/architecture.md §7 "Off the event loop"): monthly
 * packages, findings windows and the month-to-date completeness go to worker threads
 * (evidence/evidence-worker.ts through evidence/worker-pool.ts), each thread with its own read
 * connection to the store and its own day aggregates handle, so that polling, ingest and SSE in the
 * same process never wait on a month's readings. Builds and findings windows share `threads` workers
 * (default {@link defaultEvidenceThreads}); completeness, which the overview asks for per unit, has a
 * thread of its own so that it never queues behind a month's build (at nice {@link EVIDENCE_COUNTS_NICE},
 * builds at {@link EVIDENCE_WORKER_NICE}). A worker that cannot start (no
 * store spec, a store file another process cannot open) leaves the work in-process, with one warning
 * in the log; `threads: 0` keeps everything in-process on purpose.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { TimeSeriesStore } from '../collector/store.ts';
import { DayAggregates } from './day-aggregates.ts';
import { DayCounts } from './day-counts.ts';
import {
  type EvidenceJob,
  type EvidenceJobContext,
  type EvidenceJobResults,
  runEvidenceJob,
} from './evidence-jobs.ts';
import { type EvidenceKey, loadEvidenceKey } from './service.ts';
import { WorkerPool, WorkerUnavailableError, workerEntry } from './worker-pool.ts';

/** How a worker thread opens its own connection to the server's store. */
export type StoreSpec =
  | { kind: 'sqlite' /** The store file (absolute or relative to the working directory). */; path: string }
  | { kind: 'influx' /** InfluxDB base URL (may carry `user:password@`). */; url: string; database: string };

/** The `workerData` of an evidence worker. */
export interface EvidenceWorkerData {
  store: StoreSpec;
  dayAggregatesFile?: string;
  /** The thread's nice value on Linux; default {@link EVIDENCE_WORKER_NICE}. */
  nice?: number;
}

/** Nice value of an evidence worker thread on Linux (0 normal, 19 lowest; evidence/evidence-worker.ts). */
export const EVIDENCE_WORKER_NICE = 10;

/**
 * Nice value of the completeness thread: normal. Its work is bounded by one day of readings per unit
 * (the ended days' counts are kept, evidence/day-counts.ts), a fraction of a second for a province,
 * which at nice 10 a busy machine's other processes could starve for seconds while the overview waits.
 */
export const EVIDENCE_COUNTS_NICE = 0;

/** Default worker threads for builds: half the cores, at least 1, at most 4 (1 on a 2-core machine). */
export function defaultEvidenceThreads(cores = availableParallelism()): number {
  return Math.max(1, Math.min(4, Math.floor(cores / 2)));
}

/** Options of {@link EvidencePool}. */
export interface EvidencePoolOptions {
  /** The server's own store: what the in-process path reads. */
  store: TimeSeriesStore;
  /** How a worker opens the same store; absent (e.g. an in-memory SQLite store), everything runs in-process. */
  spec?: StoreSpec | undefined;
  /** Worker threads for builds and findings windows; 0 runs them on the event loop. */
  threads: number;
  /** The day aggregates file (evidence/day-aggregates.ts), opened by whoever builds. */
  dayAggregatesFile?: string | undefined;
  log?: Logger | undefined;
}

/** How many jobs ran where, answered or failed (tests, benchmarks, `/metrics`-style checks). */
export interface EvidencePoolCounters {
  inWorker: number;
  inProcess: number;
}

/** See the file comment. */
export class EvidencePool {
  readonly #o: EvidencePoolOptions;
  readonly #builds: WorkerPool<EvidenceJob, unknown> | undefined;
  readonly #counts: WorkerPool<EvidenceJob, unknown> | undefined;
  #local: EvidenceJobContext | undefined;
  #localDays: DayAggregates | undefined;
  #localCounts: DayCounts | undefined;
  #warned = false;
  readonly counters: EvidencePoolCounters = { inWorker: 0, inProcess: 0 };

  constructor(options: EvidencePoolOptions) {
    this.#o = options;
    if (options.threads > 0 && options.spec) {
      const spec: StoreSpec =
        options.spec.kind === 'sqlite' ? { kind: 'sqlite', path: resolve(options.spec.path) } : options.spec;
      const workerData: EvidenceWorkerData = {
        store: spec,
        ...(options.dayAggregatesFile !== undefined
          ? { dayAggregatesFile: resolve(options.dayAggregatesFile) }
          : {}),
      };
      const entry = workerEntry(import.meta.url, 'evidence-worker');
      this.#builds = new WorkerPool({
        entry,
        workerData,
        threads: options.threads,
        name: 'mrv-evidence',
        log: options.log,
      });
      this.#counts = new WorkerPool({
        entry,
        workerData: { ...workerData, nice: EVIDENCE_COUNTS_NICE } satisfies EvidenceWorkerData,
        threads: 1,
        name: 'mrv-evidence-counts',
        log: options.log,
      });
    }
  }

  /** Whether jobs go to worker threads (until a worker fails to start). */
  get usesWorkers(): boolean {
    return this.#builds !== undefined && this.#builds.unavailable === undefined;
  }

  /** Why the build workers could not start (then jobs run in-process), else undefined. */
  get unavailable(): string | undefined {
    return this.#builds?.unavailable;
  }

  /**
   * Starts the build worker and the completeness worker now, so neither the first package nor the first
   * overview waits for one; resolves whether the build worker started.
   */
  warm(): Promise<boolean> {
    void this.#counts?.warm();
    return this.#builds?.warm() ?? Promise.resolve(false);
  }

  /**
   * Runs a job in a worker thread, or in-process when there is none (see the file comment).
   * @throws what {@link runEvidenceJob} throws, with its MrvError code; `MRV_E_INTERNAL` when a worker dies during the job
   */
  async run<J extends EvidenceJob>(job: J): Promise<EvidenceJobResults[J['kind']]> {
    const pool = job.kind === 'completeness' ? this.#counts : this.#builds;
    if (pool && pool.unavailable === undefined) {
      try {
        const r = (await pool.run(job)) as EvidenceJobResults[J['kind']];
        this.counters.inWorker++;
        return r;
      } catch (err) {
        if (!(err instanceof WorkerUnavailableError)) {
          this.counters.inWorker++;
          throw err;
        }
        if (!this.#warned) {
          this.#warned = true;
          this.#o.log?.warn(
            { err: err.message },
            'evidence worker thread could not start: evidence is built on the event loop (polling and live views may stall during a build)',
          );
        }
      }
    }
    this.counters.inProcess++;
    return runEvidenceJob(job, this.#localContext());
  }

  /** Stops the workers and closes the in-process day aggregates and day counts. */
  async close(): Promise<void> {
    await Promise.all([this.#builds?.close(), this.#counts?.close()]);
    this.#localDays?.close();
    this.#localDays = undefined;
    this.#localCounts?.close();
    this.#localCounts = undefined;
  }

  #localContext(): EvidenceJobContext {
    if (this.#local) return this.#local;
    const keys = new Map<string, EvidenceKey>();
    this.#local = {
      store: this.#o.store,
      dayAggregates: () => {
        if (this.#o.dayAggregatesFile !== undefined)
          this.#localDays ??= new DayAggregates(this.#o.dayAggregatesFile);
        return this.#localDays;
      },
      dayCounts: () => {
        if (this.#o.dayAggregatesFile !== undefined)
          this.#localCounts ??= new DayCounts(this.#o.dayAggregatesFile);
        return this.#localCounts;
      },
      key: (file) => {
        let k = keys.get(file);
        if (!k) {
          k = loadEvidenceKey(file, true);
          keys.set(file, k);
        }
        return k;
      },
    };
    return this.#local;
  }
}
