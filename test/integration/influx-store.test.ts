// InfluxStore against a real InfluxDB 1.x (Debian's influxdb, started on a free port): the shared
// store contract with a fresh database per test, plus what only InfluxDB has (its layout, its failures).
import { InfluxDB } from 'influx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InfluxStore } from '../../collector/influx-store.ts';
import { MrvError } from '../../core/errors.ts';
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
  it('writes the layout of DESIGN.md §6: measurement reading, its tags and typed fields', async () => {
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
});
