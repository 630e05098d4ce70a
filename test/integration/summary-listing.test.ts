/**
 * The overview on a federating server (server/summary-routes.ts over collector/federated-store.ts, two
 * real SQLite province stores) when a province store fails to list its units in the current request:
 * its units are `unavailable` in that answer, with the reason, though their completeness is cached from
 * the request before and though the federation itself may still think the store available (an error
 * that is not `MRV_E_STORE`); the other province is untouched, and the province is read again after.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FederatedStore } from '../../collector/federated-store.ts';
import { LiveHub } from '../../collector/live.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { StoredReading, TimeSeriesStore } from '../../collector/store.ts';
import { MrvError } from '../../core/errors.ts';
import { UnitRegistry } from '../../core/schema/unit-registry.ts';
import { ManualClock } from '../../core/time.ts';
import { buildServer } from '../../server/app.ts';
import { TokenFile } from '../../server/tokens.ts';

const NOW = Date.parse('2026-11-20T12:00:00+08:00');
const U44 = '91440000LISTING01X';
const U15 = '91150000LISTING02X';

const registry = new UnitRegistry([
  { id: U44, name: '粤厂', industry: 'aluminium', province: '44', gateways: ['gw-44'] },
  { id: U15, name: '蒙厂', industry: 'aluminium', province: '15', gateways: ['gw-15'] },
]);

type Summary = {
  provinces: {
    province: string;
    available: boolean;
    reason: string | null;
    byStatus: Record<string, number>;
  }[];
  units: {
    id: string;
    status: string;
    available: boolean;
    unavailableReason?: string;
    openFindings: number | null;
    completeness: { status: string; good: number } | null;
  }[];
};

/** An online aluminium unit with a key-parameter point read hourly since the month's start. */
async function seed(file: string, unitId: string, gatewayId: string): Promise<void> {
  const store = new SqliteStore({ path: file });
  await store.start();
  await store.writeMeta(unitId, {
    v: 1,
    gatewayId,
    unit: { id: unitId, name: unitId, industry: 'aluminium', province: 'x' },
    points: [
      {
        id: 'cells',
        device: 'd',
        unit: 'count',
        aggregation: 'gauge',
        parameter: 'aluminium.cells_in_operation',
      },
    ],
    meters: [],
    configHash: 'a'.repeat(64),
  });
  await store.writeStatus(unitId, { v: 1, gatewayId, state: 'online' }, NOW - 1000);
  const readings: StoredReading[] = [];
  for (let ts = Date.parse('2026-11-01T00:00:00+08:00'); ts < NOW; ts += 3_600_000)
    readings.push({
      unitId,
      gatewayId,
      device: 'd',
      point: 'cells',
      ts,
      rxTs: ts + 10,
      value: '240',
      quality: 'good',
      seq: 0,
    });
  await store.writeReadings(readings);
  await store.stop();
}

let dir: string;
let app: FastifyInstance;
let fed: FederatedStore;
let admin: string;
/** What province 15's store's `listUnits` fails with, when set. */
let listingFails: Error | null = null;

/** Province 15's store: the real read-only store, whose unit listing the test can make fail. */
function failingListing(store: TimeSeriesStore): TimeSeriesStore {
  return new Proxy(store, {
    get(target, key) {
      if (key === 'listUnits')
        return async () => {
          if (listingFails) throw listingFails;
          return target.listUnits();
        };
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

async function summary(): Promise<Summary> {
  const res = await app.inject({
    method: 'GET',
    url: '/api/v1/summary',
    headers: { authorization: `Bearer ${admin}` },
  });
  expect(res.statusCode).toBe(200);
  return res.json() as Summary;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mrv-summary-listing-'));
  await seed(join(dir, '44.sqlite'), U44, 'gw-44');
  await seed(join(dir, '15.sqlite'), U15, 'gw-15');
  const clock = new ManualClock(NOW);
  fed = new FederatedStore({
    registry,
    clock,
    retryMs: 0,
    provinces: [
      {
        province: '44',
        store: new SqliteStore({ path: join(dir, '44.sqlite'), readOnly: true }),
        label: 'sqlite:44',
      },
      {
        province: '15',
        store: failingListing(new SqliteStore({ path: join(dir, '15.sqlite'), readOnly: true })),
        label: 'sqlite:15',
      },
    ],
  });
  await fed.start();
  const tokens = TokenFile.inDataDir(dir);
  admin = tokens.create({ role: 'admin', scope: { provinces: [], units: [] }, name: 'admin' }).token;
  app = buildServer({
    store: fed,
    federation: fed,
    live: new LiveHub(),
    logger: false,
    clock,
    tokens,
    units: registry,
  });
  await app.ready();
}, 60_000);

afterAll(async () => {
  await app?.close();
  await fed?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a province whose unit listing fails in the current request', () => {
  it('is unavailable in that answer whatever completeness is cached, and read again after', async () => {
    const first = await summary();
    for (const id of [U44, U15])
      expect(first.units.find((u) => u.id === id)).toMatchObject({
        status: 'online',
        available: true,
        completeness: { status: 'measuring' },
      });

    // A failure the federation does not take for an unavailable store (not MRV_E_STORE): it still says
    // available, and the completeness of the unit is cached from the first answer.
    listingFails = new Error('SQLITE_IOERR: disk I/O error');
    const failed = await summary();
    expect(fed.availability('15')?.available).toBe(true);
    const u15 = failed.units.find((u) => u.id === U15);
    expect(u15).toMatchObject({
      status: 'unavailable',
      available: false,
      completeness: null,
      openFindings: null,
    });
    expect(u15?.unavailableReason).toMatch(/province 15 store unavailable \(sqlite:15\): SQLITE_IOERR/);
    expect(failed.provinces.find((p) => p.province === '15')).toMatchObject({
      available: false,
      byStatus: { unavailable: 1 },
    });
    expect(failed.provinces.find((p) => p.province === '15')?.reason).toMatch(/SQLITE_IOERR/);
    expect(failed.units.find((u) => u.id === U44)).toMatchObject({
      status: 'online',
      completeness: { status: 'measuring' },
    });
    expect(failed.provinces.find((p) => p.province === '44')).toMatchObject({
      available: true,
      reason: null,
    });

    // The store's own failure (MRV_E_STORE): unavailable too, in the federation's state as well.
    listingFails = new MrvError('MRV_E_STORE', 'SQLite listUnits failed: database is locked');
    const locked = await summary();
    expect(locked.units.find((u) => u.id === U15)).toMatchObject({
      status: 'unavailable',
      completeness: null,
    });
    expect(locked.units.find((u) => u.id === U15)?.unavailableReason).toMatch(
      /province 15.*database is locked/,
    );

    listingFails = null;
    const back = await summary();
    expect(back.units.find((u) => u.id === U15)).toMatchObject({
      status: 'online',
      available: true,
      completeness: { status: 'measuring' },
    });
    expect(back.provinces.find((p) => p.province === '15')).toMatchObject({ available: true, reason: null });
  });
});
