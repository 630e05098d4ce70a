/**
 * `GET /api/v1/summary` (server/summary-routes.ts) against a real SQLite store: every unit in scope in
 * one answer with its status, month-to-date completeness and open findings; province scope; the
 * completeness cache (no store query again within a minute, one after); a bad month is a 400.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveHub } from '../../collector/live.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { GoodCountQuery, SeriesQuery, TimeSeriesStore } from '../../collector/store.ts';
import { UnitRegistry } from '../../core/schema/unit-registry.ts';
import { ManualClock } from '../../core/time.ts';
import { buildServer } from '../../server/app.ts';
import { TokenFile } from '../../server/tokens.ts';
import { finding } from './state-contract.ts';

const NOW = Date.parse('2026-11-20T12:00:00+08:00');
const UA = '91150000SUMMARY01X';
const UB = '91150000SUMMARY02X';
const UC = '91440000SUMMARY03X';

let dir: string;
let store: SqliteStore;
let app: FastifyInstance;
let clock: ManualClock;
let admin: string;
let regulator: string;
let seriesCalls = 0;

type Summary = {
  month: string;
  totals: { units: number; byStatus: Record<string, number>; openFindings: number };
  units: {
    id: string;
    status: string;
    openFindings: number;
    completeness: { status: string; ratio: string | null; good: number } | null;
  }[];
};

async function summary(token: string, query = ''): Promise<{ status: number; body: Summary }> {
  const res = await app.inject({
    method: 'GET',
    url: `/api/v1/summary${query}`,
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: res.statusCode, body: res.json() as Summary };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mrv-summary-'));
  store = new SqliteStore({ path: join(dir, 'mrv.sqlite') });
  await store.start();
  // UA: online, a key-parameter point (pot-line cells in operation) read hourly since the 1st; UB
  // offline with one old reading; UC registered elsewhere, never reported.
  await store.writeMeta(UA, {
    v: 1,
    gatewayId: 'gw-a',
    unit: { id: UA, name: '甲厂', industry: 'aluminium', province: '内蒙古' },
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
  await store.writeStatus(UA, { v: 1, gatewayId: 'gw-a', state: 'online' }, NOW - 1000);
  const from = Date.parse('2026-11-01T00:00:00+08:00');
  const readings = [];
  for (let ts = from; ts < NOW; ts += 3_600_000)
    readings.push({
      unitId: UA,
      gatewayId: 'gw-a',
      device: 'd',
      point: 'cells',
      ts,
      rxTs: ts + 10,
      value: '240',
      quality: 'good' as const,
      seq: 0,
    });
  await store.writeReadings(readings);
  await store.writeMeta(UB, {
    v: 1,
    gatewayId: 'gw-b',
    unit: { id: UB, name: '乙厂', industry: 'cement', province: '内蒙古' },
    points: [{ id: 'p', device: 'd', unit: 't', aggregation: 'totalizer' }],
    meters: [],
    configHash: 'b'.repeat(64),
  });
  await store.writeStatus(UB, { v: 1, gatewayId: 'gw-b', state: 'offline' }, NOW - 86_400_000);
  await store.writeReadings([
    {
      unitId: UB,
      gatewayId: 'gw-b',
      device: 'd',
      point: 'p',
      ts: NOW - 86_400_000,
      rxTs: NOW - 86_400_000,
      value: '1',
      quality: 'good',
      seq: 0,
    },
  ]);
  const ts = new Date(NOW - 3_600_000).toISOString();
  await store.writeFindings([
    finding('f-open', UA, { ts, at: ts }),
    finding('f-open-2', UA, { ts, at: ts }),
    finding('f-resolved', UA, {
      ts,
      at: ts,
      state: 'resolved',
      resolvedAt: ts,
      resolution: {
        by: 'collector',
        seqs: [],
        message: { zh: '补传到达', en: 'late batches arrived' },
        detail: {},
      },
    }),
  ]);

  // Counts the store queries the completeness makes (its count query, or stepped series per point).
  const counted = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'series')
        return (q: SeriesQuery) => {
          seriesCalls++;
          return target.series(q);
        };
      // The count query the completeness uses instead of stepped series (collector/store.ts).
      if (prop === 'goodReadingCounts')
        return (q: GoodCountQuery) => {
          seriesCalls++;
          return target.goodReadingCounts(q);
        };
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as TimeSeriesStore;

  clock = new ManualClock(NOW);
  const tokens = TokenFile.inDataDir(dir);
  admin = tokens.create({ role: 'admin', scope: { provinces: [], units: [] }, name: 'admin' }).token;
  regulator = tokens.create({
    role: 'regulator',
    scope: { provinces: ['广东'], units: [] },
    name: 'gd',
  }).token;
  app = buildServer({
    store: counted,
    live: new LiveHub(),
    logger: false,
    clock,
    tokens,
    units: new UnitRegistry([
      { id: UA, name: '甲厂', industry: 'aluminium', province: '内蒙古', gateways: ['gw-a'] },
      { id: UB, name: '乙厂', industry: 'cement', province: '内蒙古', gateways: ['gw-b'] },
      { id: UC, name: '丙厂', industry: 'power', province: '广东', gateways: ['gw-c'] },
    ]),
  });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await store?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('GET /api/v1/summary', () => {
  it('answers every unit with status, completeness and open findings, and totals', async () => {
    const { status, body } = await summary(admin);
    expect(status).toBe(200);
    expect(body.month).toBe('2026-11');
    const byId = new Map(body.units.map((u) => [u.id, u]));
    expect(byId.get(UA)?.status).toBe('online');
    expect(byId.get(UB)?.status).toBe('offline');
    expect(byId.get(UC)?.status).toBe('no_data');
    // the same figure as the unit's own completeness route, in the one answer
    expect(byId.get(UA)?.completeness?.status).toBe('measuring');
    const own = await app.inject({
      method: 'GET',
      url: `/api/v1/units/${UA}/completeness`,
      headers: { authorization: `Bearer ${admin}` },
    });
    const c = own.json() as { ratio: string; good: number };
    expect(Number(c.ratio)).toBeGreaterThan(0);
    expect(byId.get(UA)?.completeness?.ratio).toBe(c.ratio);
    expect(byId.get(UA)?.completeness?.good).toBe(c.good);
    expect(byId.get(UA)?.openFindings).toBe(2);
    expect(byId.get(UC)?.completeness).toBeNull(); // no catalogue yet
    expect(body.totals).toMatchObject({
      units: 3,
      byStatus: { online: 1, offline: 1, no_data: 1 },
      openFindings: 2,
    });
  });

  it("lists only the units of the caller's scope", async () => {
    const { body } = await summary(regulator);
    expect(body.units.map((u) => u.id)).toEqual([UC]);
    expect(body.totals.units).toBe(1);
  });

  it("reuses a unit's completeness for a minute, then counts again", async () => {
    await summary(admin);
    const before = seriesCalls;
    await summary(admin);
    expect(seriesCalls).toBe(before);
    clock.advance(61_000);
    await summary(admin);
    expect(seriesCalls).toBeGreaterThan(before);
  });

  it('takes a month and refuses a bad one', async () => {
    const october = await summary(admin, '?month=2026-10');
    expect(october.status).toBe(200);
    expect(october.body.units.find((u) => u.id === UA)?.completeness?.status).toBe('not_monitored');
    const bad = await app.inject({
      method: 'GET',
      url: '/api/v1/summary?month=2026-13',
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('MRV_E_BAD_REQUEST');
    const anonymous = await app.inject({ method: 'GET', url: '/api/v1/summary' });
    expect(anonymous.statusCode).toBe(401);
  });
});
