/**
 * The SQLite store's write thread (collector/sqlite-store.ts): a worker thread with its own connection
 * to the same database file that runs the collector's writes (readings with their day marks, findings,
 * the batch archive), each as one transaction of prepared statements, while the event loop goes on
 * parsing, verifying and planning the next write groups (docs/delivery.md "Pipelined writes").
 * better-sqlite3 is synchronous: in the collector's thread every statement stopped everything else
 * (bench/: ~8 µs of CPU per reading written, as much as all the collector's own work per reading).
 *
 * A write resolves only once its transaction committed in the worker, with the same pragmas as the
 * store's own connection (WAL, `synchronous=NORMAL`): what an acknowledgement means is unchanged. The
 * store's connection still does the reads (WAL: readers see every committed write) and the rare other
 * writes (catalogues, status), which wait for the worker's transaction through SQLite's busy timeout.
 *
 * The worker is plain JavaScript (only better-sqlite3, resolved here), so it needs no TypeScript loader
 * in development, tests or the compiled release (as gateway/config.ts's site loader).
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * One step of a write: a named statement run once per row (a positional array). Before a row runs, the
 * values at the positions in `names` (strings or null) become their ids in the store's `name` table
 * (interned: looked up, inserted when new; see {@link internName}), and those at the positions in
 * `deflate` (strings) their UTF-8 bytes raw-deflated (zlib level 1) — in the thread that runs the write.
 */
export interface WriteStep {
  stmt: string;
  rows: unknown[];
  names?: number[];
  deflate?: number[];
}

/**
 * The part of the write both threads run (the store's own connection for `:memory:`, the worker
 * otherwise), as plain JavaScript source: `makeRun(db, stmts, zlib)` returns the function that runs an
 * array of {@link WriteStep} as one transaction. Interned ids are cached per connection; a failed
 * transaction clears the cache (its new names were rolled back). Names are never deleted, so a cached id
 * stays right while other connections add names.
 */
export const RUN_SOURCE = `
function makeRun(db, stmts, zlib) {
  const ids = new Map();
  const getId = db.prepare('SELECT id FROM name WHERE text = ?').pluck();
  const putName = db.prepare('INSERT INTO name (text) VALUES (?)');
  const idOf = (t) => {
    if (t === null) return null;
    let id = ids.get(t);
    if (id === undefined) {
      id = getId.get(t);
      if (id === undefined) id = Number(putName.run(t).lastInsertRowid);
      ids.set(t, id);
    }
    return id;
  };
  const tx = db.transaction((steps) => {
    for (const s of steps) {
      const st = stmts[s.stmt];
      const names = s.names || [];
      const deflate = s.deflate || [];
      if (names.length === 0 && deflate.length === 0) {
        for (const r of s.rows) st.run(r);
        continue;
      }
      for (const row of s.rows) {
        // A copy: the caller's rows keep their strings (the store's own thread passes them as they are).
        const r = row.slice();
        for (const i of names) r[i] = idOf(r[i]);
        for (const i of deflate) r[i] = zlib.deflateRawSync(Buffer.from(r[i], 'utf8'), { level: 1 });
        st.run(r);
      }
    }
  });
  return (steps) => {
    try {
      tx(steps);
    } catch (e) {
      ids.clear();
      throw e;
    }
  };
}`;

/** What the worker runs: open the file, set the pragmas, prepare the statements, then one transaction per message. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const zlib = require('node:zlib');
const Database = require(workerData.driver);
${RUN_SOURCE}
let db;
let run;
try {
  db = new Database(workerData.path, { timeout: workerData.busyTimeoutMs });
  for (const p of workerData.pragmas) db.pragma(p);
  const stmts = {};
  for (const [name, sql] of Object.entries(workerData.sql)) stmts[name] = db.prepare(sql);
  run = makeRun(db, stmts, zlib);
  parentPort.postMessage({ id: 0, ok: true });
} catch (e) {
  parentPort.postMessage({ id: 0, ok: false, message: String((e && e.message) || e) });
}
parentPort.on('message', (m) => {
  if (m.close) {
    try { db && db.close(); } catch {}
    parentPort.postMessage({ id: m.id, ok: true });
    parentPort.close();
    return;
  }
  try {
    run(m.steps);
    parentPort.postMessage({ id: m.id, ok: true });
  } catch (e) {
    parentPort.postMessage({ id: m.id, ok: false, message: String((e && e.message) || e), code: e && e.code });
  }
});`;

/** Options of {@link SqliteWriter}. */
export interface SqliteWriterOptions {
  /** The database file (not `:memory:`: a memory database is one connection's). */
  path: string;
  /** Pragmas run on the worker's connection, e.g. `synchronous = NORMAL`. */
  pragmas: string[];
  /** Statements by name (their SQL). */
  sql: Record<string, string>;
  /** SQLite busy timeout of the worker's connection, ms. Default 5 000 (better-sqlite3's). */
  busyTimeoutMs?: number;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Runs writes in a worker thread (see the file comment). Writes run in the order {@link exec} was
 * called. A worker that fails to start or dies fails every write waiting on it; the next {@link exec}
 * starts a new one.
 */
export class SqliteWriter {
  #worker: Worker | undefined;
  #ready: Promise<void> | undefined;
  #next = 1;
  readonly #waiting = new Map<number, Waiter>();

  constructor(private readonly opts: SqliteWriterOptions) {}

  /** Starts the worker (opens its connection); resolves once its statements are prepared. @throws Error */
  start(): Promise<void> {
    if (this.#ready) return this.#ready;
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        driver: createRequire(import.meta.url).resolve('better-sqlite3'),
        path: this.opts.path,
        pragmas: this.opts.pragmas,
        sql: this.opts.sql,
        busyTimeoutMs: this.opts.busyTimeoutMs ?? 5000,
      },
    });
    this.#worker = worker;
    const ready = new Promise<void>((resolve, reject) => this.#waiting.set(0, { resolve, reject }));
    worker.on('message', (m: { id: number; ok: boolean; message?: string; code?: string }) => {
      const w = this.#waiting.get(m.id);
      if (!w) return;
      this.#waiting.delete(m.id);
      if (this.#waiting.size === 0) worker.unref(); // an idle write thread keeps no process alive
      if (m.ok) w.resolve();
      else w.reject(Object.assign(new Error(m.message ?? 'SQLite write failed'), { code: m.code }));
    });
    const fail = (err: Error) => {
      if (this.#worker === worker) {
        this.#worker = undefined;
        this.#ready = undefined;
      }
      for (const w of this.#waiting.values()) w.reject(err);
      this.#waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`SQLite write thread exited (${code})`)));
    this.#ready = ready.catch((err: unknown) => {
      void worker.terminate();
      throw err;
    });
    return this.#ready;
  }

  /**
   * Runs `steps` as one transaction in the worker; resolves once committed.
   * @throws Error (SQLite's message, `code` e.g. `SQLITE_READONLY`) when it failed and was rolled back
   */
  async exec(steps: WriteStep[]): Promise<void> {
    await this.start();
    const worker = this.#worker as Worker;
    const id = this.#next++;
    const done = new Promise<void>((resolve, reject) => this.#waiting.set(id, { resolve, reject }));
    worker.ref(); // a write waiting keeps the process alive until it is committed
    worker.postMessage({ id, steps });
    return done;
  }

  /** Waits for the writes sent, closes the worker's connection (checkpointing the WAL) and ends it. */
  async close(): Promise<void> {
    const worker = this.#worker;
    if (!worker) return;
    await this.#ready?.catch(() => {});
    const id = this.#next++;
    const done = new Promise<void>((resolve, reject) => this.#waiting.set(id, { resolve, reject }));
    worker.ref();
    worker.postMessage({ id, close: true });
    await done.catch(() => {});
    this.#worker = undefined;
    this.#ready = undefined;
    await worker.terminate();
  }
}
