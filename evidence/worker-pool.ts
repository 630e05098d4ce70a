/**
 * A minimal pool of worker threads (node:worker_threads) running one job at a time each, for work that
 * must stay off the server's event loop (evidence/evidence-pool.ts). The main side ({@link WorkerPool})
 * starts its workers on first use, queues jobs first in first out while every worker is busy, and
 * replaces a worker that dies; the worker side ({@link serveJobs}) opens what it needs once, says
 * `ready`, then answers jobs. Results and errors cross the thread boundary by structured clone; an
 * {@link MrvError} keeps its code, message and detail.
 *
 * Development and tests run TypeScript through tsx, and a worker thread does not inherit the loader
 * hooks of its parent: {@link workerEntry} picks a small `.mjs` launcher that registers tsx first when
 * the calling module is a `.ts` file, and the compiled `.js` worker in the release (dist/).
 */
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { type ErrorCode, ErrorCodes, MrvError } from '../core/errors.ts';

/** An error as it crosses the thread boundary. */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  detail?: Record<string, unknown>;
}

type ToWorker = { id: number; job: unknown };
type FromWorker =
  | { type: 'ready' }
  | { type: 'failed'; error: WireError }
  | { type: 'done'; id: number; ok: true; result: unknown }
  | { type: 'done'; id: number; ok: false; error: WireError };

/** An error in a form structured clone keeps (detail only when it clones). */
export function toWire(err: unknown): WireError {
  const e = err instanceof Error ? err : new Error(String(err));
  const out: WireError = { name: e.name, message: e.message };
  if (e instanceof MrvError) {
    out.code = e.code;
    if (e.detail !== undefined) {
      try {
        out.detail = structuredClone(e.detail);
      } catch {
        // Detail that does not clone (a function, a socket) stays behind; code and message cross.
      }
    }
  }
  return out;
}

/** The error a {@link WireError} stands for: an {@link MrvError} with its code when it had one. */
export function fromWire(w: WireError): Error {
  if (w.code !== undefined && w.code in ErrorCodes)
    return new MrvError(w.code as ErrorCode, w.message, w.detail);
  const e = new Error(w.message);
  e.name = w.name;
  return e;
}

/** Thrown by {@link WorkerPool.run} when the pool's workers cannot start at all (see {@link WorkerPool.unavailable}). */
export class WorkerUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerUnavailableError';
  }
}

/**
 * The module a worker thread runs: `<base>.mjs` beside the calling module when that module is
 * TypeScript (the launcher registers tsx, then imports `<base>.ts`), else the compiled `<base>.js`.
 * @param moduleUrl the caller's `import.meta.url`
 * @param base the worker's file name without extension, in the caller's folder
 */
export function workerEntry(moduleUrl: string, base: string): URL {
  return new URL(`./${base}.${moduleUrl.endsWith('.ts') ? 'mjs' : 'js'}`, moduleUrl);
}

/** Options of {@link WorkerPool}. */
export interface WorkerPoolOptions {
  /** The worker's module ({@link workerEntry}). */
  entry: URL;
  /** What every worker gets as `workerData` (structured-cloned). */
  workerData: unknown;
  /** Workers at most (≥ 1). */
  threads: number;
  /** Name of the threads (thread name in diagnostics, log lines). */
  name: string;
  log?: Logger | undefined;
  /** How long a worker may take to say `ready`, ms. Default 60 000 (tsx compiles on a busy machine). */
  startTimeoutMs?: number;
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  busy: boolean;
  /** The job it runs. */
  current?: { id: number; resolve: (v: unknown) => void; reject: (e: Error) => void };
}

interface Queued {
  id: number;
  job: unknown;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/**
 * Worker threads running jobs one at a time each. `run` resolves with the worker's result or rejects
 * with its error ({@link fromWire}); a worker that exits during a job rejects that job with
 * `MRV_E_INTERNAL` and is replaced for the next. When no worker can start (the first one fails before
 * `ready`), the pool is {@link unavailable}: every queued and later `run` rejects with
 * {@link WorkerUnavailableError}, so the caller can do the work itself.
 */
export class WorkerPool<Job, Result> {
  readonly #o: WorkerPoolOptions;
  readonly #slots: Slot[] = [];
  readonly #queue: Queued[] = [];
  #nextId = 1;
  #unavailable: string | undefined;
  #closed = false;
  #everReady = false;
  /** Starts that failed in a row (a worker that was ready before may fail to restart too). */
  #startFailures = 0;

  constructor(options: WorkerPoolOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1)
      throw new MrvError(
        'MRV_E_CONFIG',
        `${options.name}: threads must be an integer ≥ 1, got ${options.threads}`,
      );
    this.#o = options;
  }

  /** Why the workers cannot start, once a start failed before any worker was ever ready; else undefined. */
  get unavailable(): string | undefined {
    return this.#unavailable;
  }

  /** Workers running now. */
  get threads(): number {
    return this.#slots.length;
  }

  /** Jobs waiting for a worker. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Starts one worker now (when none runs) and resolves true once it is ready, false when it could not start. */
  async warm(): Promise<boolean> {
    if (this.#unavailable !== undefined || this.#closed) return false;
    const slot = this.#slots[0] ?? this.#spawn();
    return slot.ready.then(
      () => true,
      () => false,
    );
  }

  /**
   * Runs a job on the first free worker (starting one when fewer than `threads` run), queued while all are busy.
   * @throws WorkerUnavailableError when no worker can start; the worker's error; `MRV_E_INTERNAL` when it exits
   */
  run(job: Job): Promise<Result> {
    if (this.#closed) return Promise.reject(new MrvError('MRV_E_INTERNAL', `${this.#o.name}: pool closed`));
    if (this.#unavailable !== undefined) return Promise.reject(new WorkerUnavailableError(this.#unavailable));
    return new Promise<Result>((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, job, resolve: resolve as (v: unknown) => void, reject });
      this.#pump();
    });
  }

  /** Stops every worker; queued and running jobs reject. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const q of this.#queue.splice(0))
      q.reject(new MrvError('MRV_E_INTERNAL', `${this.#o.name}: pool closed`));
    const slots = this.#slots.splice(0);
    for (const s of slots) {
      s.current?.reject(new MrvError('MRV_E_INTERNAL', `${this.#o.name}: pool closed during the job`));
      s.current = undefined;
    }
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  #spawn(): Slot {
    const worker = new Worker(this.#o.entry, {
      workerData: this.#o.workerData,
      name: this.#o.name,
      // The parent's flags, less those a worker started from a file refuses (a parent run with
      // `node --input-type=module -e ...`).
      execArgv: process.execArgv.filter((a) => !a.startsWith('--input-type')),
      // The worker's own log lines (pino to fd 1/2) pass through the parent's streams.
      stdout: false,
      stderr: false,
    });
    let settle: { resolve: () => void; reject: (e: Error) => void } | undefined;
    const ready = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    // A ready promise nobody awaits must not be an unhandled rejection.
    ready.catch(() => {});
    const slot: Slot = { worker, ready, busy: true };
    const timer = setTimeout(() => {
      fail(new Error(`no ready message within ${this.#o.startTimeoutMs ?? 60_000} ms`));
      void worker.terminate();
    }, this.#o.startTimeoutMs ?? 60_000);
    timer.unref();
    let started = false;
    const fail = (err: Error) => {
      clearTimeout(timer);
      const i = this.#slots.indexOf(slot);
      if (i >= 0) this.#slots.splice(i, 1);
      const cur = slot.current;
      slot.current = undefined;
      if (!started) {
        settle?.reject(err);
        this.#startFailures++;
        if ((!this.#everReady || this.#startFailures >= 3) && !this.#closed) {
          this.#unavailable = `${this.#o.name}: the worker thread did not start: ${err.message}`;
          for (const q of this.#queue.splice(0)) q.reject(new WorkerUnavailableError(this.#unavailable));
        }
      } else if (cur && !this.#closed) {
        cur.reject(
          new MrvError(
            'MRV_E_INTERNAL',
            `${this.#o.name}: the worker thread stopped during the job: ${err.message}`,
          ),
        );
      }
      if (!this.#closed) this.#pump();
    };
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'ready') {
        started = true;
        this.#everReady = true;
        this.#startFailures = 0;
        clearTimeout(timer);
        slot.busy = false;
        worker.unref();
        settle?.resolve();
        this.#pump();
      } else if (m.type === 'failed') {
        fail(fromWire(m.error));
        void worker.terminate();
      } else if (m.type === 'done') {
        const cur = slot.current;
        slot.current = undefined;
        slot.busy = false;
        worker.unref();
        if (cur && cur.id === m.id) {
          if (m.ok) cur.resolve(m.result);
          else cur.reject(fromWire(m.error));
        }
        this.#pump();
      }
    });
    worker.on('error', (err) => {
      this.#o.log?.error({ err, pool: this.#o.name }, 'worker thread failed');
      fail(err);
    });
    worker.on('exit', (code) => {
      if (this.#slots.includes(slot)) fail(new Error(`exited with code ${code}`));
    });
    this.#slots.push(slot);
    return slot;
  }

  #pump(): void {
    while (this.#queue.length > 0 && !this.#closed && this.#unavailable === undefined) {
      const free = this.#slots.find((s) => !s.busy);
      if (!free) {
        if (this.#slots.length < this.#o.threads) {
          // Started busy; it takes the queue's head once it says ready.
          this.#spawn();
        }
        return;
      }
      const q = this.#queue.shift() as Queued;
      free.busy = true;
      free.current = { id: q.id, resolve: q.resolve, reject: q.reject };
      free.worker.ref();
      free.worker.postMessage({ id: q.id, job: q.job } satisfies ToWorker);
    }
  }
}

/**
 * The worker side: runs `init` once (opens what the jobs need), says `ready` (or `failed` with the
 * error), then answers each job with `handle`'s result or error. Does nothing on the main thread.
 */
export function serveJobs<Ctx, Job, Result>(
  init: () => Promise<Ctx>,
  handle: (ctx: Ctx, job: Job) => Promise<Result>,
): void {
  const port = parentPort;
  if (isMainThread || port === null) return;
  init().then(
    (ctx) => {
      port.on('message', (m: ToWorker) => {
        const fail = (err: unknown) =>
          port.postMessage({ type: 'done', id: m.id, ok: false, error: toWire(err) } satisfies FromWorker);
        handle(ctx, m.job as Job).then((result) => {
          try {
            port.postMessage({ type: 'done', id: m.id, ok: true, result } satisfies FromWorker);
          } catch (err) {
            fail(err); // a result that does not clone
          }
        }, fail);
      });
      port.postMessage({ type: 'ready' } satisfies FromWorker);
    },
    (err: unknown) => port.postMessage({ type: 'failed', error: toWire(err) } satisfies FromWorker),
  );
}
