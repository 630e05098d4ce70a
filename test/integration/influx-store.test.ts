// InfluxStore against a real InfluxDB 1.x (Debian's influxdb, started on a free port): the shared
// store contract with a fresh database per test, plus what only InfluxDB has (its layout, its failures).
import { randomBytes } from 'node:crypto';
import { InfluxDB } from 'influx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InfluxStore } from '../../collector/influx-store.ts';
import type { ArchivedBatch, StoredReading } from '../../collector/store.ts';
import { MrvError } from '../../core/errors.ts';
import type { Finding } from '../../core/schema/finding.ts';
import { getFreePort } from '../helpers/free-port.ts';
import { type InfluxDbServer, startInfluxDb } from '../helpers/influxdb.ts';
import { describeStoreContract } from './store-contract.ts';

let server: InfluxDbServer;
let admin: InfluxDB;
let databases = 0;

beforeAll(async () => {
  server = await startInfluxDb();
  admin = new InfluxDB({ host: '127.0.0.1', port: server.port });
});
afterAll(async () => {
  await server?.stop();
});

describeStoreContract('InfluxStore (InfluxDB 1.x)', async () => {
  const database = `contract_${++databases}`;
  return {
    store: new InfluxStore({ url: server.url, database }),
    cleanup: () => admin.dropDatabase(database),
  };
});

describe('InfluxStore specifics', () => {
  it('writes the layout of docs/architecture.md §6: measurement reading, its tags and typed fields', async () => {
    const store = new InfluxStore({ url: server.url, database: 'layout' });
    await store.start();
    await store.writeReadings([
      {
        unitId: 'U1',
        gatewayId: 'gw-a',
        device: 'plc',
        point: 'p1',
        meter: 'M1',
        ts: Date.UTC(2025, 0, 1),
        rxTs: Date.UTC(2025, 0, 1) + 7,
        value: '12.50',
        quality: 'uncertain',
        reason: 'MRV_E_DECODE: stale',
        seq: 42,
      },
    ]);
    const db = { database: 'layout' };
    const fields = await admin.query<{ fieldKey: string; fieldType: string }>(
      'SHOW FIELD KEYS FROM "reading"',
      db,
    );
    expect(Object.fromEntries(fields.map((f) => [f.fieldKey, f.fieldType]))).toEqual({
      exact: 'string',
      reason: 'string',
      rx_ts: 'integer',
      seq: 'integer',
      value: 'float',
    });
    const tags = await admin.query<{ tagKey: string }>('SHOW TAG KEYS FROM "reading"', db);
    expect(tags.map((t) => t.tagKey)).toEqual(['device', 'gateway', 'meter', 'point', 'quality', 'unit']);
    const rows = await admin.query<Record<string, unknown>>('SELECT * FROM "reading"', db);
    expect(rows.map(({ time, ...rest }) => ({ time: time.getTime(), ...rest }))).toEqual([
      {
        time: Date.UTC(2025, 0, 1),
        device: 'plc',
        exact: '12.50',
        gateway: 'gw-a',
        meter: 'M1',
        point: 'p1',
        quality: 'uncertain',
        reason: 'MRV_E_DECODE: stale',
        rx_ts: Date.UTC(2025, 0, 1) + 7,
        seq: 42,
        unit: 'U1',
        value: 12.5,
      },
    ]);
    await store.stop();
    await admin.dropDatabase('layout');
  });

  it('creates a missing database on start and accepts an existing one', async () => {
    const store = new InfluxStore({ url: server.url, database: 'created_by_start' });
    await store.start();
    await store.start();
    expect(await admin.getDatabaseNames()).toContain('created_by_start');
    await new InfluxStore({ url: server.url, database: 'created_by_start' }).start();
    await admin.dropDatabase('created_by_start');
  });

  it('turns an unreachable InfluxDB into MRV_E_STORE with the cause', async () => {
    const port = await getFreePort(); // nothing listens there
    const store = new InfluxStore({ url: `http://127.0.0.1:${port}`, database: 'nowhere' });
    const err = await store.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MrvError);
    expect((err as MrvError).code).toBe('MRV_E_STORE');
    expect((err as MrvError).cause).toBeDefined();
    expect((err as MrvError).message).toContain(`127.0.0.1:${port}`);
  });

  it('turns a write InfluxDB refuses into MRV_E_STORE with its answer', async () => {
    const store = new InfluxStore({ url: server.url, database: 'refused' });
    await store.start();
    await admin.dropDatabase('refused'); // writes now get 404 "database not found"
    const err = await store
      .writeReadings([
        {
          unitId: 'U1',
          gatewayId: 'g',
          device: 'd',
          point: 'p',
          ts: 1,
          rxTs: 1,
          value: '1',
          quality: 'good',
          seq: 1,
        },
      ])
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(MrvError);
    expect((err as MrvError).code).toBe('MRV_E_STORE');
    expect((err as MrvError).message).toMatch(/database not found/);
  });

  it('rejects a bad url or database name at construction with MRV_E_CONFIG', () => {
    expect(() => new InfluxStore({ url: 'not a url' })).toThrow(MrvError);
    expect(() => new InfluxStore({ url: 'ftp://127.0.0.1' })).toThrow(/http or https/);
    expect(() => new InfluxStore({ url: server.url, database: 'a"b' })).toThrow(/not an identifier/);
  });

  it('writes a readings write of more than one request, every line intact', async () => {
    const store = new InfluxStore({ url: server.url, database: 'parallel' });
    await store.start();
    const T0 = Date.UTC(2026, 9, 1);
    // 12 000 lines: more than one request's 10 000; ids, escapes and fields written without escape.tag.
    const readings: StoredReading[] = [];
    for (let i = 0; i < 4000; i++)
      for (const point of ['a', 'b', 'c'])
        readings.push({
          unitId: 'U1',
          gatewayId: 'gw',
          device: 'd',
          point,
          ...(point === 'b' ? { meter: 'M.1' } : {}),
          ts: T0 + i,
          rxTs: T0 + i + 3,
          value: point === 'c' && i % 2 === 1 ? null : `${i}.5`,
          quality: point === 'c' && i % 2 === 1 ? 'bad' : 'good',
          ...(point === 'c' ? { reason: `say "${i}" \\ back\\slash, comma = x` } : {}),
          seq: i + 1,
        });
    expect(await store.writeReadings(readings)).toBe(12_000);
    for (const point of ['a', 'b', 'c']) {
      const rows = await store.series({
        unitId: 'U1',
        pointId: point,
        from: T0,
        to: T0 + 4000,
        limit: 10_000,
      });
      expect(rows).toHaveLength(4000);
      const want = readings.filter((r) => r.point === point);
      rows.forEach((row, i) => {
        const r = want[i] as StoredReading;
        expect(row.ts).toBe(new Date(r.ts).toISOString());
        expect(row.value).toBe(r.value);
        expect(row.quality).toBe(r.quality);
        expect((row as { reason?: string }).reason).toBe(r.reason);
      });
    }
    // A refused write rejects with InfluxDB's answer.
    await admin.dropDatabase('parallel');
    const err = await store.writeReadings(readings).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MrvError);
    expect((err as MrvError).code).toBe('MRV_E_STORE');
    expect((err as MrvError).message).toMatch(/database not found/);
  });

  it('archives batches with quotes and backslashes in their canonical bytes exactly', async () => {
    const store = new InfluxStore({ url: server.url, database: 'archive_parallel' });
    await store.start();
    // Quotes and backslashes, and (random values deflate little) more than one 16 000-character chunk
    // of deflated, base64-encoded bytes per batch.
    const canonical = (seq: number) =>
      JSON.stringify({
        seq,
        readings: Array.from({ length: 2400 }, (_, i) => ({
          p: `q"${i}\\`,
          v: randomBytes(8).toString('hex'),
        })),
      });
    const batches: ArchivedBatch[] = Array.from({ length: 9 }, (_, i) => ({
      unitId: 'U1',
      gatewayId: 'gw',
      seq: i + 1,
      hash: String(i).repeat(64).slice(0, 64),
      prevHash: '0'.repeat(64),
      canonical: canonical(i + 1),
      sig: i % 2 ? null : 'c2ln',
      receivedAt: 1000 + i,
      verdict: 'verified',
      findings: i === 3 ? ['MRV_F_CLOCK_SKEW'] : [],
    }));
    expect(canonical(1).length).toBeGreaterThan(16_000);
    expect(await store.archiveBatches(batches)).toBe(9);
    expect(await store.listBatches({ unitId: 'U1', gatewayId: 'gw' })).toEqual(batches);
    const [n] = await admin.query<{ n: number }>('SELECT "n" FROM "batch" WHERE "seq" = 1', {
      database: 'archive_parallel',
    });
    expect(Number(n?.n)).toBeGreaterThan(1);
  });

  it('reads archive records written before compression (canonical text in the chunks, no enc)', async () => {
    const store = new InfluxStore({ url: server.url, database: 'archive_plain' });
    await store.start();
    const canonical = '{"readings":[{"p":"a\\"b"}],"seq":7}';
    const field = canonical.replaceAll('\\', '\\\\').replaceAll('"', '\\"');
    const line = `batch,gateway=gw,unit=U1 seq=7i,hash="${'a'.repeat(64)}",prev_hash="${'0'.repeat(64)}",sig="",received_at=5i,verdict="unchecked",findings="[]",n=1i,c0="${field}" 7`;
    const res = await fetch(`${server.url}/write?db=archive_plain&precision=ms`, {
      method: 'POST',
      body: line,
    });
    expect(res.status).toBe(204);
    expect((await store.listBatches({ unitId: 'U1', gatewayId: 'gw' }))[0]?.canonical).toBe(canonical);
  });

  it('moves readings earlier versions wrote for unverified batches from reading to the quarantine at start', async () => {
    const database = 'legacy_quarantine';
    const t = Date.UTC(2025, 0, 15);
    await admin.createDatabase(database);
    // As the previous version wrote them: a genuine reading, one of an unsigned batch (meter tag), one of
    // an unknown gateway (no meter), one uncertain reading of a verified batch.
    await admin.writePoints(
      [
        {
          measurement: 'reading',
          tags: { unit: 'U1', gateway: 'gw1', device: 'd1', point: 'p1', meter: 'M1', quality: 'good' },
          fields: { value: 102, exact: '102', seq: 1, rx_ts: t },
          timestamp: t,
        },
        {
          measurement: 'reading',
          tags: { unit: 'U1', gateway: 'gw1', device: 'd1', point: 'p1', meter: 'M1', quality: 'uncertain' },
          fields: {
            value: 777777,
            exact: '777777',
            seq: 9,
            rx_ts: t + 1000,
            reason: 'MRV_F_BAD_SIGNATURE: batch 9 not verified',
          },
          timestamp: t + 1000,
        },
        {
          measurement: 'reading',
          tags: { unit: 'U1', gateway: 'rogue', device: 'd1', point: 'p1', quality: 'uncertain' },
          fields: {
            value: 555555,
            exact: '555555',
            seq: 1,
            rx_ts: t + 2000,
            reason: 'MRV_F_UNKNOWN_KEY: batch 1 not verified',
          },
          timestamp: t + 2000,
        },
        {
          measurement: 'reading',
          tags: { unit: 'U1', gateway: 'gw1', device: 'd1', point: 'p1', meter: 'M1', quality: 'uncertain' },
          fields: { value: 5, exact: '5', seq: 2, rx_ts: t + 3000, reason: 'MRV_E_DECODE: stale' },
          timestamp: t + 3000,
        },
      ],
      { database, precision: 'ms' },
    );
    const store = new InfluxStore({ url: server.url, database });
    try {
      await store.start();
      expect(
        (await store.rawReadings({ unitId: 'U1', pointId: 'p1', from: t, to: t + 10_000 })).map((r) => [
          r.value,
          r.gatewayId,
        ]),
      ).toEqual([
        ['102', 'gw1'],
        ['5', 'gw1'],
      ]);
      expect(
        (await store.listQuarantine({ unitId: 'U1', from: t, to: t + 10_000 })).map((r) => [
          r.gatewayId,
          r.meter,
          r.value,
          r.seq,
          r.cause,
        ]),
      ).toEqual([
        ['gw1', 'M1', '777777', 9, 'MRV_F_BAD_SIGNATURE'],
        ['rogue', undefined, '555555', 1, 'MRV_F_UNKNOWN_KEY'],
      ]);
      // Idempotent: a second start finds nothing more to move.
      await store.start();
      expect(await store.listQuarantine({ unitId: 'U1', from: t, to: t + 10_000 })).toHaveLength(2);
    } finally {
      await store.stop();
      await admin.dropDatabase(database);
    }
  });

  it('reads findings written before the lifecycle (no state field, no state in the json) as open', async () => {
    const store = new InfluxStore({ url: server.url, database: 'findings_old' });
    await store.start();
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
    const json = JSON.stringify(old).replaceAll('\\', '\\\\').replaceAll('"', '\\"');
    const line = `finding,id=${old.id},unit=U1 json="${json}",source="integrity",code="MRV_F_SEQ_GAP" ${Date.parse(old.ts)}`;
    const res = await fetch(`${server.url}/write?db=findings_old&precision=ms`, {
      method: 'POST',
      body: line,
    });
    expect(res.status).toBe(204);
    expect(await store.listOpenFindings('U1', 'MRV_F_SEQ_GAP')).toEqual([old]);
    expect(await store.listFindings('U1', 0, Date.parse('2026-01-01'), { state: 'open' })).toEqual([old]);
    // Resolving it rewrites the same point, now with its state field.
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
    const rows = await admin.query<{ state: string }>('SELECT "state" FROM "finding"', {
      database: 'findings_old',
    });
    expect(rows.map((r) => r.state)).toEqual(['resolved']);
  });
});
