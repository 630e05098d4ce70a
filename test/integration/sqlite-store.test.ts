// SqliteStore (the embedded store): the shared store contract on a file and in memory, plus what
// only SQLite has (pragmas, column types, reopening a file).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import { MrvError } from '../../core/errors.ts';
import { describeStoreContract } from './store-contract.ts';

let dir: string;
let files = 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mrv-sqlite-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describeStoreContract('SqliteStore (file)', async () => {
  const file = path.join(dir, `contract-${++files}`, 'store.db');
  return {
    store: new SqliteStore({ path: file }),
    cleanup: () => rm(path.dirname(file), { recursive: true, force: true }),
  };
});

describeStoreContract('SqliteStore (:memory:)', async () => ({
  store: new SqliteStore({ path: ':memory:' }),
  cleanup: async () => {},
}));

describe('SqliteStore specifics', () => {
  const reading = {
    unitId: 'U1',
    gatewayId: 'gw-a',
    device: 'plc',
    point: 'p1',
    ts: Date.UTC(2025, 0, 1),
    rxTs: Date.UTC(2025, 0, 1) + 7,
    value: '4294967295',
    quality: 'good' as const,
    seq: 1,
  };

  // (`synchronous` is per connection, so only the store's own connection could show it.)
  it('opens the file in WAL mode and keeps values as TEXT plus REAL', async () => {
    const file = path.join(dir, 'pragmas', 'store.db');
    const store = new SqliteStore({ path: file });
    await store.start();
    await store.writeReadings([reading]);
    const peek = new Database(file, { readonly: true });
    try {
      expect(peek.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(
        peek.prepare('SELECT typeof(exact) AS t, exact, typeof(value) AS r, value FROM reading').get(),
      ).toEqual({
        t: 'text',
        exact: '4294967295',
        r: 'real',
        value: 4294967295,
      });
    } finally {
      peek.close();
    }
    await store.stop();
  });

  it('keeps its data across stop() and start() on the same file', async () => {
    const file = path.join(dir, 'reopen', 'store.db');
    const first = new SqliteStore({ path: file });
    await first.start();
    await first.writeReadings([reading]);
    await first.stop();
    await first.stop(); // idempotent

    const second = new SqliteStore({ path: file });
    await second.start();
    const rows = await second.series({ unitId: 'U1', pointId: 'p1', from: reading.ts, to: reading.ts + 1 });
    expect(rows.map((r) => r.value)).toEqual(['4294967295']);
    await second.stop();
  });

  it('refuses a file written by a newer schema with MRV_E_STORE', async () => {
    const file = path.join(dir, 'newer', 'store.db');
    const store = new SqliteStore({ path: file });
    await store.start();
    await store.stop();
    const raw = new Database(file);
    raw.pragma('user_version = 99');
    raw.close();
    const err = await store.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MrvError);
    expect((err as MrvError).code).toBe('MRV_E_STORE');
    expect((err as MrvError).message).toMatch(/newer/);
  });
});
