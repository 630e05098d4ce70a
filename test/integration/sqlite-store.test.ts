// SqliteStore (the embedded store): the shared store contract on a file and in memory, plus what
// only SQLite has (pragmas, column types, reopening a file).
import { copyFile, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { RawReading } from '../../collector/store.ts';
import { MrvError } from '../../core/errors.ts';
import type { Finding } from '../../core/schema/finding.ts';
import { SCHEMA4_BATCHES, SCHEMA4_READINGS, T0 } from './fixtures/sqlite-schema4-data.ts';
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

  it('marks each clock hour written, and changes only the marks of the hours a later write touches', async () => {
    const store = new SqliteStore({ path: path.join(dir, 'hour-marks', 'store.db') });
    await store.start();
    const hour = 3_600_000;
    const h0 = reading.ts;
    await store.writeReadings([
      reading,
      { ...reading, ts: h0 + hour + 1000, seq: 2 },
      { ...reading, ts: h0 + 2 * hour + 1000, seq: 3, quarantine: 'MRV_F_BAD_SIGNATURE' },
    ]);
    const first = await store.readingHourMarks(reading.unitId, h0, h0 + 3 * hour);
    expect([...first.keys()]).toEqual([h0, h0 + hour]);
    // A late reading of the first hour only (a backlog): that hour's mark changes, the next one's does not.
    await store.writeReadings([{ ...reading, ts: h0 + 5000, seq: 4 }]);
    const second = await store.readingHourMarks(reading.unitId, h0, h0 + 3 * hour);
    expect(second.get(h0)).not.toBe(first.get(h0));
    expect(second.get(h0 + hour)).toBe(first.get(h0 + hour));
    expect((await store.readingHourMarks('U2', h0, h0 + 3 * hour)).size).toBe(0);
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
      expect(peek.pragma('user_version', { simple: true })).toBe(6);
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

  it('orders readings of one time by gateway name, also where the limit cuts through them', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.start();
    try {
      const t = reading.ts;
      const at = (gatewayId: string, ts: number, value: string) => ({ ...reading, gatewayId, ts, value });
      // gw-c is named (interned) first, so its id is the lowest: key order is not name order.
      await store.writeReadings([at('gw-c', t, '3')]);
      await store.writeReadings([at('gw-a', t, '1'), at('gw-b', t, '2'), at('gw-c', t + 1000, '4')]);
      const q = { unitId: 'U1', pointId: 'p1', from: t, to: t + 2000 };
      const gateways = async (limit?: number) =>
        (await store.rawReadings({ ...q, ...(limit ? { limit } : {}) })).map((r) => [r.gatewayId, r.value]);
      expect(await gateways()).toEqual([
        ['gw-a', '1'],
        ['gw-b', '2'],
        ['gw-c', '3'],
        ['gw-c', '4'],
      ]);
      expect(await gateways(1)).toEqual([['gw-a', '1']]);
      expect(await gateways(2)).toEqual([
        ['gw-a', '1'],
        ['gw-b', '2'],
      ]);
      expect(await gateways(3)).toEqual([
        ['gw-a', '1'],
        ['gw-b', '2'],
        ['gw-c', '3'],
      ]);
      expect((await store.series({ ...q, limit: 2 })).map((p) => p.value)).toEqual(['1', '2']);
    } finally {
      await store.stop();
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
      expect(peek.pragma('user_version', { simple: true })).toBe(6);
      expect(peek.prepare('SELECT state FROM finding').all()).toEqual([{ state: 'resolved' }]);
    } finally {
      peek.close();
    }
  });
});

describe('SqliteStore migration 4 → 5 (test/integration/fixtures/sqlite-schema4.db)', () => {
  const fixture = fileURLToPath(new URL('./fixtures/sqlite-schema4.db', import.meta.url));
  /** A copy of the fixture (opening a file migrates it; the fixture itself stays schema 4). */
  const copy = async (name: string): Promise<string> => {
    const file = path.join(dir, name, 'store.db');
    await mkdir(path.dirname(file), { recursive: true });
    await copyFile(fixture, file);
    return file;
  };
  const stored = SCHEMA4_READINGS.filter((r) => r.quarantine === undefined);
  /** What rawReadings must answer for a point: the fixture's readings, by time then gateway. */
  const expectedRaw = (point: string): RawReading[] =>
    stored
      .filter((r) => r.point === point)
      .sort((a, b) => a.ts - b.ts || (a.gatewayId < b.gatewayId ? -1 : 1))
      .map((r) => ({
        ts: r.ts,
        value: r.value,
        quality: r.quality,
        ...(r.reason === undefined ? {} : { reason: r.reason }),
        gatewayId: r.gatewayId,
        seq: r.seq,
      }));

  it('the fixture is a schema-4 file with the fixture data', () => {
    const db = new Database(fixture, { readonly: true, fileMustExist: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(4);
      expect(db.prepare('SELECT COUNT(*) AS n FROM reading').get()).toEqual({ n: stored.length });
      expect(db.prepare('SELECT typeof(canonical) AS t FROM batch LIMIT 1').get()).toEqual({ t: 'text' });
    } finally {
      db.close();
    }
  });

  it('opens, migrates, and reads back every reading, quarantined reading and batch as schema 4 stored them', async () => {
    const file = await copy('schema4');
    const before = (await stat(file)).size;
    const store = new SqliteStore({ path: file });
    await store.start();
    try {
      for (const point of ['coal.total', 'gas.rate']) {
        const q = { unitId: 'U1', pointId: point, from: T0, to: T0 + 60_000 };
        expect(await store.rawReadings(q)).toEqual(expectedRaw(point));
        // series (raw) carries the same exact strings and qualities
        expect((await store.series(q)).map((p) => [p.value, p.quality])).toEqual(
          expectedRaw(point).map((r) => [r.value, r.quality]),
        );
      }
      // The same gateway at the same time is both gateways' identity (coal.total at T0 from gw-a and gw-b).
      expect(
        (await store.rawReadings({ unitId: 'U1', pointId: 'coal.total', from: T0, to: T0 + 1 })).map((r) => [
          r.gatewayId,
          r.value,
          r.seq,
        ]),
      ).toEqual([
        ['gw-a', '120.50', 1],
        ['gw-b', '999', 7],
      ]);
      const q = SCHEMA4_READINGS.find((r) => r.quarantine !== undefined);
      expect(await store.listQuarantine({ unitId: 'U1', from: T0, to: T0 + 60_000 })).toEqual([
        {
          unitId: q?.unitId,
          gatewayId: q?.gatewayId,
          device: q?.device,
          meter: q?.meter,
          point: q?.point,
          ts: q?.ts,
          rxTs: q?.rxTs,
          value: q?.value,
          quality: q?.quality,
          reason: q?.reason,
          seq: q?.seq,
          cause: q?.quarantine,
        },
      ]);
      const batches = await store.listBatches({ unitId: 'U1', gatewayId: 'gw-a' });
      expect(batches).toEqual(SCHEMA4_BATCHES);
      // byte for byte, as `mrv verify` hashes them
      expect(batches.map((b) => Buffer.from(b.canonical, 'utf8'))).toEqual(
        SCHEMA4_BATCHES.map((b) => Buffer.from(b.canonical, 'utf8')),
      );
      expect((await store.batchHeads()).map((h) => [h.gatewayId, h.seq])).toEqual([['gw-a', 1]]);
      // The counts of the overview: good readings with a value, per point, and the hours holding them.
      const good = (point: string) => stored.filter((r) => r.point === point && r.quality === 'good').length;
      expect(
        await store.goodReadingCounts({
          unitId: 'U1',
          pointIds: ['coal.total', 'gas.rate', 'never.stored'],
          from: T0,
          to: T0 + 3_600_000,
          stepMs: 3_600_000,
        }),
      ).toEqual(
        new Map([
          ['coal.total', { good: good('coal.total'), buckets: 1 }],
          ['gas.rate', { good: good('gas.rate'), buckets: 1 }],
          ['never.stored', { good: 0, buckets: 0 }],
        ]),
      );

      // After the migration the names already stored are reused: a redelivery replaces its reading.
      const first = stored[0];
      if (first === undefined) throw new Error('fixture without readings');
      await store.writeReadings([{ ...first, value: '120.75', seq: 11 }]);
      expect(
        (await store.rawReadings({ unitId: 'U1', pointId: 'coal.total', from: T0, to: T0 + 1 })).map((r) => [
          r.gatewayId,
          r.value,
          r.seq,
        ]),
      ).toEqual([
        ['gw-a', '120.75', 11],
        ['gw-b', '999', 7],
      ]);
    } finally {
      await store.stop();
    }

    const peek = new Database(file, { readonly: true });
    try {
      expect(peek.pragma('user_version', { simple: true })).toBe(6);
      // Every stored reading's device, meter and receive time survived the rebuild.
      const rows = peek
        .prepare<
          [],
          { point: string; ts: number; gateway: string; device: string; meter: string | null; rx: number }
        >(
          `SELECT p.text AS point, r.ts, g.text AS gateway, d.text AS device, m.text AS meter,
                  r.ts + r.rx_delay AS rx
           FROM reading r JOIN name p ON p.id = r.point JOIN name g ON g.id = r.gateway
           JOIN name d ON d.id = r.device LEFT JOIN name m ON m.id = r.meter`,
        )
        .all();
      expect(rows).toHaveLength(stored.length);
      for (const r of stored)
        expect(rows).toContainEqual({
          point: r.point,
          ts: r.ts,
          gateway: r.gatewayId,
          device: r.device,
          meter: r.meter ?? null,
          rx: r.rxTs,
        });
      expect(peek.prepare('SELECT typeof(canonical) AS t FROM batch LIMIT 1').get()).toEqual({ t: 'blob' });
      // The rebuilt tables' old pages were given back (VACUUM), and none of the old tables is left.
      expect(
        peek.prepare("SELECT name FROM sqlite_master WHERE name GLOB '*_v4' OR name GLOB '*_v3'").all(),
      ).toEqual([]);
    } finally {
      peek.close();
    }
    // (Schema 6 adds one table, reading_hour_mark: one page of 4 KiB.)
    expect((await stat(file)).size).toBeLessThanOrEqual(before + 4096);
  });

  it('a migrated file opens read-only and answers the same', async () => {
    const file = await copy('schema4-ro');
    const writer = new SqliteStore({ path: file });
    await writer.start();
    await writer.stop();
    const reader = new SqliteStore({ path: file, readOnly: true });
    await reader.start();
    try {
      expect(
        await reader.rawReadings({ unitId: 'U1', pointId: 'gas.rate', from: T0, to: T0 + 60_000 }),
      ).toEqual(expectedRaw('gas.rate'));
      expect(await reader.listBatches({ unitId: 'U1', gatewayId: 'gw-a' })).toEqual(SCHEMA4_BATCHES);
    } finally {
      await reader.stop();
    }
  });

  it('a schema-4 file is refused read-only with MRV_E_STORE until a writer migrates it', async () => {
    const file = await copy('schema4-ro-old');
    const reader = new SqliteStore({ path: file, readOnly: true });
    const err = await reader.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MrvError);
    expect((err as MrvError).code).toBe('MRV_E_STORE');
    expect((err as MrvError).message).toMatch(/schema version 4/);
  });
});
