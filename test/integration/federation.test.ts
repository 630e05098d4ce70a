/**
 * The federated national view (collector/federated-store.ts, server/summary-routes.ts, issue 14 item 2)
 * over real province stores: province 44 in a SQLite file, province 32 in a real InfluxDB, province 33
 * a SQLite file that does not exist yet, and a registered unit of province 11 that no store federates.
 *
 * One federating server answers the overview for every province: the totals are the sum of the
 * provinces, each province's figures are what a server over that province's store alone answers,
 * a province-scoped account sees only its province, and a province store that is missing or stopped
 * shows as unavailable (its units counted as such) in a 200 answer; per-unit routes of that province
 * answer 503 naming it; it is read again once it is back. Writes never go through the federation.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FederatedStore } from '../../collector/federated-store.ts';
import { InfluxStore } from '../../collector/influx-store.ts';
import { LiveHub } from '../../collector/live.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { TimeSeriesStore } from '../../collector/store.ts';
import { UnitRegistry } from '../../core/schema/unit-registry.ts';
import { ManualClock } from '../../core/time.ts';
import { buildServer } from '../../server/app.ts';
import { TokenFile } from '../../server/tokens.ts';
import { until } from '../faults/harness.ts';
import { type InfluxDbServer, startInfluxDb } from '../helpers/influxdb.ts';
import { finding } from './state-contract.ts';

const NOW = Date.parse('2026-11-20T12:00:00+08:00');
const U44A = '91440000FEDERAT01X';
const U44B = '91440000FEDERAT02X';
const U32A = '91320000FEDERAT03X';
const U33A = '91330000FEDERAT04X';
const U11A = '91110000FEDERAT05X';

const registry = new UnitRegistry([
  { id: U44A, name: '粤甲厂', industry: 'aluminium', province: '44', gateways: ['gw-44a'] },
  { id: U44B, name: '粤乙厂', industry: 'cement', province: '44', gateways: ['gw-44b'] },
  { id: U32A, name: '苏甲厂', industry: 'aluminium', province: '32', gateways: ['gw-32a'] },
  { id: U33A, name: '浙甲厂', industry: 'aluminium', province: '33', gateways: ['gw-33a'] },
  { id: U11A, name: '京甲厂', industry: 'power', province: '11', gateways: ['gw-11a'] },
]);

type Figures = {
  units: number;
  byStatus: Record<string, number>;
  byCompleteness: Record<string, number>;
  openFindings: number;
};
type Summary = {
  totals: Figures;
  provinces: (Figures & { province: string; available: boolean; reason: string | null })[];
  units: {
    id: string;
    status: string;
    available: boolean;
    unavailableReason?: string;
    openFindings: number | null;
    completeness: { status: string; ratio: string | null } | null;
  }[];
};

/** An online aluminium unit with a key-parameter point read hourly since the 1st and `open` open findings. */
async function seedOnline(
  store: TimeSeriesStore,
  unitId: string,
  gatewayId: string,
  open: number,
): Promise<number> {
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
  const from = Date.parse('2026-11-01T00:00:00+08:00');
  const readings = [];
  // A gap on the 10th, so the ratio is not a trivial 1.
  for (let ts = from; ts < NOW; ts += 3_600_000)
    if (new Date(ts).getUTCDate() !== 10)
      readings.push({
        unitId,
        gatewayId,
        device: 'd',
        point: 'cells',
        ts,
        rxTs: ts + 10,
        value: '240',
        quality: 'good' as const,
        seq: 0,
      });
  await store.writeReadings(readings);
  const ts = new Date(NOW - 3_600_000).toISOString();
  await store.writeFindings(
    Array.from({ length: open }, (_, i) => finding(`f-${unitId}-${i}`, unitId, { ts, at: ts })),
  );
  return readings.length;
}

/** An offline cement unit with one old reading. */
async function seedOffline(store: TimeSeriesStore, unitId: string, gatewayId: string) {
  await store.writeMeta(unitId, {
    v: 1,
    gatewayId,
    unit: { id: unitId, name: unitId, industry: 'cement', province: 'x' },
    points: [{ id: 'p', device: 'd', unit: 't', aggregation: 'totalizer' }],
    meters: [],
    configHash: 'b'.repeat(64),
  });
  await store.writeStatus(unitId, { v: 1, gatewayId, state: 'offline' }, NOW - 86_400_000);
  await store.writeReadings([
    {
      unitId,
      gatewayId,
      device: 'd',
      point: 'p',
      ts: NOW - 86_400_000,
      rxTs: NOW - 86_400_000,
      value: '1',
      quality: 'good',
      seq: 0,
    },
  ]);
}

let dir: string;
let seeded32 = 0;
let influx: InfluxDbServer;
let federated: FederatedStore;
let app: FastifyInstance;
let tokens: TokenFile;
let admin: string;
let national: string;
let gd: string;
const clock = new ManualClock(NOW);
const file44 = () => join(dir, '44.sqlite');
const file33 = () => join(dir, '33.sqlite');

async function get<T>(server: FastifyInstance, token: string, url: string) {
  const res = await server.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
  return { status: res.statusCode, body: res.json() as T };
}

/** The totals a server over one province's store alone (no federation) answers. */
async function aloneTotals(store: TimeSeriesStore): Promise<Figures> {
  const alone = buildServer({ store, live: new LiveHub(), logger: false, clock, tokens, units: registry });
  try {
    const { status, body } = await get<Summary>(alone, admin, '/api/v1/summary');
    expect(status).toBe(200);
    return body.totals;
  } finally {
    await alone.close();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mrv-federation-'));
  influx = await startInfluxDb();
  // The provinces' own stores, as their collectors write them.
  const s44 = new SqliteStore({ path: file44() });
  await s44.start();
  await seedOnline(s44, U44A, 'gw-44a', 2);
  await seedOffline(s44, U44B, 'gw-44b');
  await s44.stop();
  const s32 = new InfluxStore({ url: influx.url, database: 'mrv32' });
  await s32.start();
  seeded32 = await seedOnline(s32, U32A, 'gw-32a', 3);
  await s32.stop();

  tokens = TokenFile.inDataDir(dir);
  admin = tokens.create({ role: 'admin', scope: { provinces: [], units: [] }, name: 'admin' }).token;
  national = tokens.create({
    role: 'regulator',
    scope: { provinces: ['44', '32', '33', '11'], units: [] },
    name: 'national',
  }).token;
  gd = tokens.create({ role: 'regulator', scope: { provinces: ['44'], units: [] }, name: 'gd' }).token;

  federated = new FederatedStore({
    registry,
    clock,
    retryMs: 0,
    provinces: [
      { province: '44', store: new SqliteStore({ path: file44(), readOnly: true }), label: 'sqlite:44' },
      {
        province: '32',
        store: new InfluxStore({
          url: influx.url,
          database: 'mrv32',
          readOnly: true,
          requestTimeoutMs: 3000,
          queryRetries: 0,
        }),
        label: 'influx:32',
      },
      { province: '33', store: new SqliteStore({ path: file33(), readOnly: true }), label: 'sqlite:33' },
    ],
  });
  await federated.start();
  app = buildServer({
    store: federated,
    federation: federated,
    live: new LiveHub(),
    logger: false,
    clock,
    tokens,
    units: registry,
    domain: {
      keyFile: join(dir, 'evidence-ed25519.pem'),
      dayAggregatesFile: join(dir, 'evidence-days.sqlite'),
    },
  });
  await app.ready();
}, 120_000);

afterAll(async () => {
  await app?.close();
  await federated?.stop();
  await influx?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('federated national view', () => {
  it('a missing province store is not created: it stays unavailable', () => {
    expect(existsSync(file33())).toBe(false);
    const p33 = federated.availability('33');
    expect(p33?.available).toBe(false);
    expect(p33?.reason).toMatch(/33\.sqlite/);
    expect(federated.availability('44')?.available).toBe(true);
    expect(federated.availability('32')?.available).toBe(true);
  });

  it('the overview covers every province; totals are the sum of the provinces', async () => {
    const { status, body } = await get<Summary>(app, admin, '/api/v1/summary');
    expect(status).toBe(200);
    expect(body.provinces.map((p) => p.province)).toEqual(['44', '32', '33', '11']);
    const byId = new Map(body.units.map((u) => [u.id, u]));
    expect(byId.get(U44A)).toMatchObject({ status: 'online', available: true, openFindings: 2 });
    expect(byId.get(U44B)).toMatchObject({ status: 'offline', available: true, openFindings: 0 });
    expect(byId.get(U32A)).toMatchObject({ status: 'online', available: true, openFindings: 3 });
    expect(byId.get(U32A)?.completeness?.status).toBe('measuring');
    expect(byId.get(U33A)).toMatchObject({
      status: 'unavailable',
      available: false,
      completeness: null,
      openFindings: null,
    });
    expect(byId.get(U33A)?.unavailableReason).toMatch(/province 33 store unavailable/);
    expect(byId.get(U11A)?.status).toBe('unavailable');
    expect(byId.get(U11A)?.unavailableReason).toMatch(/province 11 is not federated/);

    expect(body.totals.units).toBe(5);
    expect(body.totals.byStatus).toEqual({ online: 2, offline: 1, no_data: 0, unavailable: 2 });
    expect(body.totals.openFindings).toBe(5);
    const sum = (f: (p: Figures) => number) => body.provinces.reduce((n, p) => n + f(p), 0);
    expect(sum((p) => p.units)).toBe(body.totals.units);
    expect(sum((p) => p.openFindings)).toBe(body.totals.openFindings);
    for (const s of Object.keys(body.totals.byStatus))
      expect(sum((p) => p.byStatus[s] ?? 0)).toBe(body.totals.byStatus[s]);
    for (const s of Object.keys(body.totals.byCompleteness))
      expect(sum((p) => p.byCompleteness[s] ?? 0)).toBe(body.totals.byCompleteness[s]);

    const p = new Map(body.provinces.map((x) => [x.province, x]));
    expect(p.get('33')).toMatchObject({ available: false, units: 1, byStatus: { unavailable: 1 } });
    expect(p.get('11')).toMatchObject({ available: false, units: 1 });
    expect(p.get('11')?.reason).toMatch(/not federated/);
  });

  it("each province's figures are what a server over that province's store alone answers", async () => {
    const { body } = await get<Summary>(app, admin, '/api/v1/summary');
    const p = new Map(body.provinces.map((x) => [x.province, x]));
    const s44 = new SqliteStore({ path: file44(), readOnly: true });
    await s44.start();
    const s32 = new InfluxStore({ url: influx.url, database: 'mrv32', readOnly: true });
    await s32.start();
    try {
      const alone44 = await aloneTotals(s44);
      const alone32 = await aloneTotals(s32);
      // The alone servers list the other provinces' registered units too (without data, as no_data
      // or unknown completeness): compare the figures of the province's own data.
      expect(alone44.byStatus.online).toBe(1);
      expect(alone44.byStatus.offline).toBe(1);
      expect(alone44.openFindings).toBe(2);
      expect(alone32.byStatus.online).toBe(1);
      expect(alone32.openFindings).toBe(3);
      const { province: _a, available: a44, reason: _r, ...f44 } = p.get('44')!;
      const { province: _b, available: a32, reason: _s, ...f32 } = p.get('32')!;
      expect(a44 && a32).toBe(true);
      expect(f44.byStatus).toMatchObject({ online: 1, offline: 1, unavailable: 0 });
      expect(f44.openFindings).toBe(alone44.openFindings);
      expect(f44.byCompleteness.measuring).toBe(alone44.byCompleteness.measuring);
      expect(f32.byStatus).toMatchObject({ online: 1, offline: 0, unavailable: 0 });
      expect(f32.openFindings).toBe(alone32.openFindings);
      expect(f32.byCompleteness.measuring).toBe(alone32.byCompleteness.measuring);
      // and the unit's completeness ratio is the one its province's store gives
      const one = await get<{ ratio: string }>(app, admin, `/api/v1/units/${U32A}/completeness`);
      expect(one.status).toBe(200);
      expect(body.units.find((u) => u.id === U32A)?.completeness?.ratio).toBe(one.body.ratio);
      expect(Number(one.body.ratio)).toBeGreaterThan(0);
      expect(Number(one.body.ratio)).toBeLessThan(1);
    } finally {
      await s44.stop();
      await s32.stop();
    }
  });

  it('a province regulator sees only its province; a national one sees all', async () => {
    const mine = await get<Summary>(app, gd, '/api/v1/summary');
    expect(mine.status).toBe(200);
    expect(mine.body.units.map((u) => u.id).sort()).toEqual([U44A, U44B].sort());
    expect(mine.body.provinces.map((p) => p.province)).toEqual(['44']);
    expect(mine.body.totals.units).toBe(2);
    expect(mine.body.totals.openFindings).toBe(2);
    const listed = await get<{ id: string }[]>(app, gd, '/api/v1/units');
    expect(listed.body.map((u) => u.id).sort()).toEqual([U44A, U44B].sort());
    expect((await get(app, gd, `/api/v1/units/${U32A}/points`)).status).toBe(403);

    const all = await get<Summary>(app, national, '/api/v1/summary');
    expect(all.body.units).toHaveLength(5);
    expect(all.body.provinces.map((p) => p.province)).toEqual(['44', '32', '33', '11']);
  });

  it("per-unit routes read the unit's province store", async () => {
    const points = await get<{ id: string }[]>(app, national, `/api/v1/units/${U32A}/points`);
    expect(points.status).toBe(200);
    expect(points.body.map((p) => p.id)).toEqual(['cells']);
    const findings = await get<{ id: string }[]>(
      app,
      national,
      `/api/v1/units/${U44A}/findings?from=2026-11-20T00:00:00%2B08:00&to=2026-11-20T12:00:00%2B08:00`,
    );
    expect(findings.status).toBe(200);
    expect(findings.body.map((f) => f.id)).toEqual(expect.arrayContaining([`f-${U44A}-0`, `f-${U44A}-1`]));
    const missing = await get<{ error: { code: string; message: string } }>(
      app,
      national,
      `/api/v1/units/${U33A}/points`,
    );
    expect(missing.status).toBe(503);
    expect(missing.body.error.code).toBe('MRV_E_STORE');
    expect(missing.body.error.message).toMatch(/province 33/);
  });

  it("monthly evidence of a unit is built from its province's store", async () => {
    const res = await app.inject({
      method: 'GET',
      url: `/api/v1/units/${U32A}/evidence/2026-11`,
      headers: { authorization: `Bearer ${national}` },
    });
    expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
    const text = res.body;
    expect(text).toContain(U32A);
    expect(text).toContain('苏甲厂');
    expect(text).not.toContain(U44A);
    const pkg = JSON.parse(text) as { unit: { id: string }; content: { received: number } };
    expect(pkg.unit.id).toBe(U32A);
    // Every reading province 32's store holds of the unit, and only those.
    expect(pkg.content.received).toBe(seeded32);
  });

  it('province stores opened read-only write nothing and create nothing', async () => {
    const ro = new SqliteStore({ path: file44(), readOnly: true });
    await ro.start();
    try {
      await expect(
        ro.writeStatus(U44A, { v: 1, gatewayId: 'gw-44a', state: 'offline' }, NOW),
      ).rejects.toMatchObject({ code: 'MRV_E_STORE' });
      await expect(
        ro.writeReadings([
          {
            unitId: U44A,
            gatewayId: 'gw-44a',
            device: 'd',
            point: 'cells',
            ts: NOW,
            rxTs: NOW,
            value: '1',
            quality: 'good',
            seq: 9,
          },
        ]),
      ).rejects.toMatchObject({ code: 'MRV_E_STORE' });
      expect((await ro.listUnits()).find((u) => u.id === U44A)?.online).toBe(true); // the refused status changed nothing
    } finally {
      await ro.stop();
    }
    const missingDb = new InfluxStore({ url: influx.url, database: 'mrv99', readOnly: true });
    await expect(missingDb.start()).rejects.toThrow(/has no database mrv99/);
    const names = await fetch(`${influx.url}/query?q=${encodeURIComponent('SHOW DATABASES')}`).then((r) =>
      r.text(),
    );
    expect(names).toContain('mrv32');
    expect(names).not.toContain('mrv99');
    const ro32 = new InfluxStore({ url: influx.url, database: 'mrv32', readOnly: true });
    await ro32.start();
    await expect(ro32.writeFindings([finding('f-ro', U32A)])).rejects.toThrow(/read-only/);
  });

  it('writes never go through the federation', async () => {
    await expect(federated.writeFindings([finding('f-x', U44A)])).rejects.toMatchObject({
      code: 'MRV_E_STORE',
    });
    await expect(
      federated.writeStatus(U44A, { v: 1, gatewayId: 'gw-44a', state: 'online' }, NOW),
    ).rejects.toMatchObject({ code: 'MRV_E_STORE' });
  });

  it('a hung province store (SIGSTOP) costs the overview a request timeout, not a 503, and is read again after', async () => {
    influx.pause();
    try {
      // The first answer after the freeze may still carry what was in flight; within a few requests
      // the province shows unavailable, every answer a 200 within about one 3 s timeout per request.
      let u32: Summary['units'][number] | undefined;
      for (let i = 0; i < 5 && u32?.status !== 'unavailable'; i++) {
        const started = Date.now();
        const hung = await get<Summary>(app, admin, '/api/v1/summary');
        expect(hung.status).toBe(200);
        expect(Date.now() - started).toBeLessThan(9000);
        expect(hung.body.units.find((u) => u.id === U44A)).toMatchObject({ status: 'online' });
        u32 = hung.body.units.find((u) => u.id === U32A);
      }
      expect(u32).toMatchObject({ status: 'unavailable', available: false, openFindings: null });
      expect(u32?.unavailableReason).toMatch(/province 32 store unavailable.*(timed out|No host)/);
      const points = await get<{ error: { code: string } }>(app, admin, `/api/v1/units/${U32A}/points`);
      expect(points.status).toBe(503);
      expect(points.body.error.code).toBe('MRV_E_STORE');
    } finally {
      influx.resume();
    }
    // Resumed, the store answers again once the InfluxDB client's own backoff lets a request through.
    let back: Summary | undefined;
    await until(
      'province 32 read again',
      async () => {
        const r = await get<Summary>(app, admin, '/api/v1/summary');
        expect(r.status).toBe(200);
        back = r.body;
        return r.body.units.find((u) => u.id === U32A)?.status === 'online';
      },
      60_000,
    );
    expect(back?.units.find((u) => u.id === U32A)).toMatchObject({ status: 'online', openFindings: 3 });
    expect(back?.provinces.find((p) => p.province === '32')?.available).toBe(true);
  });

  it('a stopped province store shows as unavailable in a 200 answer, and a store back is read again', async () => {
    await influx.stop();
    const down = await get<Summary>(app, admin, '/api/v1/summary');
    expect(down.status).toBe(200);
    const u32 = down.body.units.find((u) => u.id === U32A);
    expect(u32).toMatchObject({ status: 'unavailable', available: false, openFindings: null });
    expect(u32?.unavailableReason).toMatch(/province 32/);
    const p32 = down.body.provinces.find((p) => p.province === '32');
    expect(p32).toMatchObject({ available: false, units: 1, byStatus: { unavailable: 1 } });
    expect(down.body.totals.units).toBe(5);
    expect(down.body.totals.byStatus.unavailable).toBe(3);
    // province 44 is untouched
    expect(down.body.units.find((u) => u.id === U44A)).toMatchObject({ status: 'online', openFindings: 2 });
    const listed = await get<{ id: string; available: boolean; unavailableReason?: string }[]>(
      app,
      admin,
      '/api/v1/units',
    );
    expect(listed.status).toBe(200);
    expect(listed.body.find((u) => u.id === U32A)).toMatchObject({ available: false });
    expect(listed.body.find((u) => u.id === U44A)).toMatchObject({ available: true });
    const points = await get<{ error: { code: string } }>(app, admin, `/api/v1/units/${U32A}/points`);
    expect(points.status).toBe(503);
    expect(points.body.error.code).toBe('MRV_E_STORE');

    // Province 33's store appears (its collector started): the next request reads it.
    const s33 = new SqliteStore({ path: file33() });
    await s33.start();
    await seedOffline(s33, U33A, 'gw-33a');
    await s33.stop();
    const back = await get<Summary>(app, admin, '/api/v1/summary');
    expect(back.status).toBe(200);
    expect(back.body.units.find((u) => u.id === U33A)).toMatchObject({ status: 'offline', available: true });
    expect(back.body.provinces.find((p) => p.province === '33')).toMatchObject({ available: true, units: 1 });
  });
});
