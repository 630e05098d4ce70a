/** The `--evidence-threads` flag of `mrv server` and `mrv demo` (evidence/evidence-pool.ts). */
import { MrvError } from '../core/errors.ts';
import { defaultEvidenceThreads, type StoreSpec } from '../evidence/evidence-pool.ts';

/** `--evidence-threads N`: worker threads for evidence builds; 0 builds on the event loop. */
export const evidenceThreadsFlag = { 'evidence-threads': { type: 'string' } } as const;

/**
 * The server's `domain.evidenceWorkers` from the flag (default {@link defaultEvidenceThreads}: 1 on a
 * 2-core machine) and the store the command opened. An in-memory SQLite store has no file a worker
 * could open: its evidence stays on the event loop.
 * @throws MrvError `MRV_E_CONFIG` for a flag that is not an integer from 0 to 64
 */
export function evidenceWorkersFrom(
  flag: string | undefined,
  store: StoreSpec,
): { threads: number; store?: StoreSpec } {
  let threads = defaultEvidenceThreads();
  if (flag !== undefined) {
    threads = Number(flag);
    if (!/^\d+$/.test(flag) || threads > 64)
      throw new MrvError(
        'MRV_E_CONFIG',
        `--evidence-threads: expected an integer from 0 (build on the event loop) to 64, got "${flag}"`,
      );
  }
  const inMemory = store.kind === 'sqlite' && (store.path === ':memory:' || store.path === '');
  return { threads, ...(inMemory ? {} : { store }) };
}

/** The store spec of the `--store` flags (cli/store-options.ts `storeFlags`). */
export function storeSpecOfFlags(v: {
  store: string;
  sqlite: string;
  influx: string;
  db: string;
}): StoreSpec {
  return v.store === 'influx'
    ? { kind: 'influx', url: v.influx, database: v.db }
    : { kind: 'sqlite', path: v.sqlite };
}
