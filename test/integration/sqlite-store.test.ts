// SqliteStore (the embedded store): the shared store contract on a file and in memory, plus what
// only SQLite has (pragmas, column types, reopening a file).
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import { MrvError } from '../../core/errors.ts';
import type { Finding } from '../../core/schema/finding.ts';
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

  it('migrates a schema-3 file: readings keyed with the gateway, those of unverified batches quarantined', async () => {
    const file = path.join(dir, 'schema3', 'store.db');
    await mkdir(path.dirname(file), { recursive: true });
    const t = Date.UTC(2025, 0, 15);
    // The reading table as schema 3 made it: one genuine reading, one an unsigned batch overwrote, one
    // from an unknown gateway, one bad reading without reason.
    const v3 = new Database(file);
    v3.exec(`CREATE TABLE reading (unit TEXT NOT NULL, point TEXT NOT NULL, ts INTEGER NOT NULL,
      gateway TEXT NOT NULL, device TEXT NOT NULL, meter TEXT, rx_ts INTEGER NOT NULL, exact TEXT, value REAL,
      quality TEXT NOT NULL CHECK (quality IN ('good', 'uncertain', 'bad')), reason TEXT, seq INTEGER NOT NULL,
      PRIMARY KEY (unit, point, ts)) STRICT, WITHOUT ROWID;
      CREATE INDEX reading_unit_ts ON reading (unit, ts);`);
    const put = v3.prepare('INSERT INTO reading VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    put.run('U1', 'p1', t, 'gw1', 'd1', 'M1', t + 1, '102', 102, 'good', null, 1);
    put.run(
      'U1',
      'p1',
      t + 1000,
      'gw1',
      'd1',
      null,
      t + 1001,
      '777777',
      777777,
      'uncertain',
      'MRV_F_BAD_SIGNATURE: batch 9 not verified',
      9,
    );
    put.run(
      'U1',
      'p1',
      t + 2000,
      'rogue',
      'd1',
      null,
      t + 2001,
      '555555',
      555555,
      'uncertain',
      'MRV_F_UNKNOWN_KEY: batch 1 not verified',
      1,
    );
    put.run('U1', 'p1', t + 3000, 'gw1', 'd1', null, t + 3001, null, null, 'bad', null, 2);
    v3.pragma('user_version = 3');
    v3.close();

    const store = new SqliteStore({ path: file });
    await store.start();
    try {
      expect(await store.rawReadings({ unitId: 'U1', pointId: 'p1', from: t, to: t + 10_000 })).toEqual([
        { ts: t, value: '102', quality: 'good', gatewayId: 'gw1', seq: 1 },
        { ts: t + 3000, value: null, quality: 'bad', gatewayId: 'gw1', seq: 2 },
      ]);
      expect(
        (await store.listQuarantine({ unitId: 'U1', from: t, to: t + 10_000 })).map((r) => [
          r.gatewayId,
          r.value,
          r.cause,
          r.reason,
        ]),
      ).toEqual([
        ['gw1', '777777', 'MRV_F_BAD_SIGNATURE', 'MRV_F_BAD_SIGNATURE: batch 9 not verified'],
        ['rogue', '555555', 'MRV_F_UNKNOWN_KEY', 'MRV_F_UNKNOWN_KEY: batch 1 not verified'],
      ]);
      // The new key: another gateway's reading at the same time stands beside the first.
      await store.writeReadings([
        {
          unitId: 'U1',
          gatewayId: 'gw2',
          device: 'd1',
          point: 'p1',
          ts: t,
          rxTs: t,
          value: '5',
          quality: 'good',
          seq: 1,
        },
      ]);
      expect(
        (await store.rawReadings({ unitId: 'U1', pointId: 'p1', from: t, to: t + 1 })).map((r) => r.value),
      ).toEqual(['102', '5']);
    } finally {
      await store.stop();
    }
    const peek = new Database(file, { readonly: true });
    try {
      expect(peek.pragma('user_version', { simple: true })).toBe(5);
      expect(
        peek.prepare("SELECT name FROM sqlite_master WHERE tbl_name = 'reading' ORDER BY name").all(),
      ).toEqual([{ name: 'reading' }, { name: 'reading_unit_ts' }]);
      expect(
        peek
          .prepare(
            'SELECT typeof(value) AS r, value FROM reading WHERE seq = 1 AND gateway = (SELECT id FROM name WHERE text = ?)',
          )
          .get('gw1'),
      ).toEqual({
        r: 'real',
        value: 102,
      });
    } finally {
      peek.close();
    }
  });

  it('migrates a schema-2 file: findings gain state, the old ones read as open and can be resolved', async () => {
    const file = path.join(dir, 'schema2', 'store.db');
    await mkdir(path.dirname(file), { recursive: true });
    const old: Finding = {
      id: 'integrity/U1/gw/MRV_F_SEQ_GAP/3-4',
      unitId: 'U1',
      gatewayId: 'gw',
      source: 'integrity',
      code: 'MRV_F_SEQ_GAP',
      class: 'delivery',
      severity: 'error',
      message: { zh: '批次 3–4 缺失', en: 'batches 3..4 are missing' },
      detail: { from: 3, to: 4 },
      ts: '2025-01-15T00:00:00.000Z',
      at: '2025-01-15T00:05:00.000Z',
    };
    // The finding table as schema 2 made it, with one row.
    const v2 = new Database(file);
    v2.exec(`CREATE TABLE finding (id TEXT NOT NULL PRIMARY KEY, unit TEXT NOT NULL, gateway TEXT,
      source TEXT NOT NULL, code TEXT NOT NULL, t INTEGER NOT NULL, json TEXT NOT NULL) STRICT;
      CREATE INDEX finding_unit_t ON finding (unit, t);`);
    v2.prepare('INSERT INTO finding VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      old.id,
      'U1',
      'gw',
      'integrity',
      'MRV_F_SEQ_GAP',
      Date.parse(old.ts),
      JSON.stringify(old),
    );
    v2.pragma('user_version = 2');
    v2.close();

    const store = new SqliteStore({ path: file });
    await store.start();
    try {
      expect(await store.listFindings('U1', 0, Date.parse('2026-01-01'))).toEqual([old]);
      expect(await store.listOpenFindings('U1', 'MRV_F_SEQ_GAP')).toEqual([old]);
      const resolved: Finding = {
        ...old,
        state: 'resolved',
        resolvedAt: '2025-01-15T01:00:00.000Z',
        resolution: {
          by: 'late-batches',
          seqs: [[3, 4]],
          message: old.message,
          detail: {},
        },
      };
      await store.writeFindings([resolved]);
      expect(await store.listOpenFindings('U1', 'MRV_F_SEQ_GAP')).toEqual([]);
      expect(await store.listFindings('U1', 0, Date.parse('2026-01-01'), { state: 'resolved' })).toEqual([
        resolved,
      ]);
    } finally {
      await store.stop();
    }
    const peek = new Database(file, { readonly: true });
    try {
      expect(peek.pragma('user_version', { simple: true })).toBe(5);
      expect(peek.prepare('SELECT state FROM finding').all()).toEqual([{ state: 'resolved' }]);
    } finally {
      peek.close();
    }
  });
});
