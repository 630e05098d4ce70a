/** The `--store` flags and the store they choose, shared by every `mrv` command that opens a store. */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { InfluxStore } from '../collector/influx-store.ts';
import { SqliteStore } from '../collector/sqlite-store.ts';
import type { TimeSeriesStore } from '../collector/store.ts';
import { MrvError } from '../core/errors.ts';

/** The `--store sqlite|influx` flags shared by every command that opens a store. */
export const storeFlags = {
  store: { type: 'string', default: 'sqlite' },
  sqlite: { type: 'string', default: '.data/mrv.sqlite' },
  influx: { type: 'string', default: 'http://127.0.0.1:8086' },
  db: { type: 'string', default: 'mrv' },
} as const;

/**
 * The store chosen by {@link storeFlags}; creates the SQLite file's folder.
 * @throws MrvError MRV_E_CONFIG for an unknown `--store`
 */
export function makeStore(
  v: { store: string; sqlite: string; influx: string; db: string },
  log?: Logger,
): TimeSeriesStore {
  if (v.store === 'influx')
    return new InfluxStore({ url: v.influx, database: v.db, ...(log ? { log } : {}) });
  if (v.store === 'sqlite') {
    if (v.sqlite !== ':memory:') mkdirSync(dirname(resolve(v.sqlite)), { recursive: true });
    return new SqliteStore({ path: v.sqlite, ...(log ? { log } : {}) });
  }
  throw new MrvError('MRV_E_CONFIG', `--store: expected sqlite or influx, got "${v.store}"`);
}
