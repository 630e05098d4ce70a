/**
 * The public HTTP API v1 (docs/architecture.md §9) against a real embedded store and a real LiveHub:
 * JSON routes through `inject()`, SSE over a real socket on 127.0.0.1 (inject cannot stream).
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type LiveBatch, LiveHub } from '../../collector/live.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { StoredReading } from '../../collector/store.ts';
import type { GatewayMeta, GatewayStatus } from '../../core/schema/wire.ts';
import { ManualClock } from '../../core/time.ts';
import { buildServer } from '../../server/app.ts';

const UNIT = 'U-AL-1';
const OTHER_UNIT = 'U-CE-2';
const GW = 'gw1';
/** 2025-03-01T08:00:00+08:00 */
const T0 = Date.UTC(2025, 2, 1, 0, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

const meta: GatewayMeta = {
  v: 1,
  gatewayId: GW,
  unit: { id: UNIT, name: '示例电解铝厂', industry: 'aluminium', province: '内蒙古' },
  points: [
    {
      id: 'line_current',
      device: 'potline-plc',
      unit: 'kA',
      description: '系列电流',
      aggregation: 'gauge',
    },
    {
      id: 'cell_voltage_101',
      device: 'potline-plc',
      unit: 'V',
      description: '101 槽电压',
      aggregation: 'gauge',
    },
    {
      id: 'ladle_net',
      device: 'ladle-scale',
      meter: 'ladle-scale-1',
      unit: 't',
      parameter: 'aluminium_output',
      aggregation: 'events',
    },
  ],
  meters: [{ id: 'ladle-scale-1', name: '抬包秤 1', kind: 'ladle-scale', calibrations: [] }],
  configHash: 'a'.repeat(64),
};

const otherMeta: GatewayMeta = {
  v: 1,
  gatewayId: 'gw9',
  unit: { id: OTHER_UNIT, name: '示例水泥厂', industry: 'cement', province: '安徽' },
  points: [{ id: 'clinker_belt', device: 'belt', unit: 't', aggregation: 'totalizer' }],
  meters: [],
  configHash: 'b'.repeat(64),
};

const online: GatewayStatus = {
  v: 1,
  gatewayId: GW,
  state: 'online',
  at: iso(T0 - 60_000),
  version: '0.1.0',
};

/** Line current every 10 s for 2 minutes from T0; the trailing zeros must survive the store. */
const CURRENT = [
  '410.0',
  '411.0',
  '412.0',
  '413.0',
  '414.0',
  '415.0',
  '420.50',
  '421.50',
  '422.50',
  '423.50',
  '424.50',
  '425.50',
];

function reading(
  point: string,
  ts: number,
  value: string | null,
  seq: number,
  extra: Partial<StoredReading> = {},
) {
  return {
    unitId: UNIT,
    gatewayId: GW,
    device: 'potline-plc',
    point,
    ts,
    rxTs: ts + 40,
    value,
    quality: value === null ? 'bad' : 'good',
    seq,
    ...extra,
  } satisfies StoredReading;
}

const readings: StoredReading[] = [
  ...CURRENT.map((v, i) => reading('line_current', T0 + i * 10_000, v, i + 1)),
  reading('cell_voltage_101', T0, '4.125', 1),
  reading('cell_voltage_101', T0 + 10_000, null, 2, {
    reason: 'MRV_E_MODBUS_TIMEOUT: no answer after 3 tries',
  }),
  reading('ladle_net', T0 + 5_000, '3.0125', 1, { device: 'ladle-scale', meter: 'ladle-scale-1' }),
];
const LAST_TS = T0 + 110_000;

let store: SqliteStore;
let hub: LiveHub;
let app: FastifyInstance;
let clock: ManualClock;

async function get(url: string) {
  const res = await app.inject({ method: 'GET', url });
  return {
    status: res.statusCode,
    headers: res.headers,
    type: String(res.headers['content-type']),
    body: res.body,
    json: () => res.json(),
  };
}

/** Asserts the error body shape of docs/architecture.md §9 and returns the message. */
function expectError(res: { status: number; json: () => unknown }, status: number, code: string): string {
  expect(res.status).toBe(status);
  const body = res.json() as { error: { code: string; message: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error).toEqual({ code, message: expect.any(String) });
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error.message;
}

beforeEach(async () => {
  store = new SqliteStore({ path: ':memory:' });
  await store.start();
  await store.writeMeta(UNIT, meta);
  await store.writeStatus(UNIT, online, T0 - 59_000);
  await store.writeMeta(OTHER_UNIT, otherMeta);
  await store.writeStatus(OTHER_UNIT, { v: 1, gatewayId: 'gw9', state: 'offline' }, T0 - 30_000);
  await store.writeReadings(readings);
  hub = new LiveHub();
  clock = new ManualClock(T0 + 30 * 60_000);
  app = buildServer({ store, live: hub, logger: false, version: '9.9.9-test', clock, sseHeartbeatMs: 50 });
  await app.ready();
});

afterEach(async () => {
  await app.close();
  await store.stop();
});

describe('GET /healthz', () => {
  it('answers ok with version, uptime and live client count', async () => {
    const res = await get('/healthz');
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({
      status: 'ok',
      version: '9.9.9-test',
      uptimeS: expect.any(Number),
      liveClients: 0,
    });
  });
});

describe('GET /api/v1/units', () => {
  it('lists units from the gateways catalogues with status and newest data time', async () => {
    const res = await get('/api/v1/units');
    expect(res.status).toBe(200);
    const units = res.json() as Array<Record<string, unknown>>;
    const byId = new Map(units.map((u) => [u.id, u]));
    expect(byId.size).toBe(2);
    const al = byId.get(UNIT)!;
    expect(Object.keys(al).sort()).toEqual([
      'id',
      'industry',
      'lastDataAt',
      'name',
      'online',
      'province',
      'registered',
    ]);
    // No registry given to this server: both units are known from catalogues only, and say so.
    expect(units.map((u) => u.registered)).toEqual([false, false]);
    expect(al).toMatchObject({
      name: '示例电解铝厂',
      industry: 'aluminium',
      province: '内蒙古',
      online: true,
    });
    expect(Date.parse(al.lastDataAt as string)).toBe(LAST_TS);
    expect(byId.get(OTHER_UNIT)).toMatchObject({ industry: 'cement', online: false, lastDataAt: null });
  });
});

describe('GET /api/v1/units/:unitId/points', () => {
  it('lists the points with their newest reading, exact values and quality', async () => {
    const res = await get(`/api/v1/units/${UNIT}/points`);
    expect(res.status).toBe(200);
    const points = res.json() as Array<{
      id: string;
      last: { ts: string; value: string | null; quality: string };
    }>;
    const byId = new Map(points.map((p) => [p.id, p]));
    expect([...byId.keys()].sort()).toEqual(['cell_voltage_101', 'ladle_net', 'line_current']);

    const current = byId.get('line_current')!;
    expect(current).toMatchObject({
      device: 'potline-plc',
      unit: 'kA',
      description: '系列电流',
      aggregation: 'gauge',
    });
    expect(current.last).toEqual({ ts: expect.any(String), value: '425.50', quality: 'good' });
    expect(Date.parse(current.last.ts)).toBe(LAST_TS);

    expect(byId.get('cell_voltage_101')!.last).toMatchObject({ value: null, quality: 'bad' });
    expect(byId.get('ladle_net')).toMatchObject({
      meter: 'ladle-scale-1',
      unit: 't',
      parameter: 'aluminium_output',
      last: { value: '3.0125', quality: 'good' },
    });
  });

  it('answers 404 MRV_E_NOT_FOUND for an unknown unit', async () => {
    const message = expectError(await get('/api/v1/units/NO-SUCH-UNIT/points'), 404, 'MRV_E_NOT_FOUND');
    expect(message).toContain('NO-SUCH-UNIT');
  });
});

describe('GET /api/v1/units/:unitId/points/:pointId/series', () => {
  const base = `/api/v1/units/${UNIT}/points/line_current/series`;
  const window = `from=${encodeURIComponent('2025-03-01T08:00:00+08:00')}&to=${encodeURIComponent('2025-03-01T08:02:00+08:00')}`;

  it('returns raw readings as exact decimal strings, oldest first, with the engineering unit', async () => {
    const res = await get(`${base}?${window}`);
    expect(res.status).toBe(200);
    const body = res.json() as { unit: string; points: Array<Record<string, unknown>> };
    expect(body.unit).toBe('kA');
    expect(body.points.map((p) => p.value)).toEqual(CURRENT);
    expect(body.points.map((p) => Date.parse(p.ts as string))).toEqual(
      CURRENT.map((_, i) => T0 + i * 10_000),
    );
    for (const p of body.points) expect(p).toMatchObject({ min: p.value, max: p.value, count: 1 });
  });

  it('keeps quality and reason of raw readings, bad ones without a value', async () => {
    const res = await get(`/api/v1/units/${UNIT}/points/cell_voltage_101/series?${window}`);
    expect(res.json()).toEqual({
      unit: 'V',
      points: [
        { ts: iso(T0), value: '4.125', min: '4.125', max: '4.125', count: 1, quality: 'good' },
        {
          ts: iso(T0 + 10_000),
          value: null,
          min: null,
          max: null,
          count: 1,
          quality: 'bad',
          reason: 'MRV_E_MODBUS_TIMEOUT: no answer after 3 tries',
        },
      ],
    });
  });

  it('treats to as exclusive, honours limit and accepts ms epoch times', async () => {
    const res = await get(`${base}?from=${T0 + 10_000}&to=${T0 + 60_000}`);
    expect((res.json() as { points: { value: string }[] }).points.map((p) => p.value)).toEqual(
      CURRENT.slice(1, 6),
    );
    const limited = await get(`${base}?${window}&limit=3`);
    expect((limited.json() as { points: { value: string }[] }).points.map((p) => p.value)).toEqual(
      CURRENT.slice(0, 3),
    );
  });

  it('accepts an unencoded + offset (decoded as a space by query strings)', async () => {
    const res = await get(`${base}?from=2025-03-01T08:00:00+08:00&to=2025-03-01T08:00:30+08:00`);
    expect(res.status).toBe(200);
    expect((res.json() as { points: unknown[] }).points).toHaveLength(3);
  });

  it('defaults to the last hour before the clock', async () => {
    const res = await get(base);
    expect((res.json() as { points: unknown[] }).points).toHaveLength(CURRENT.length);
    clock.advance(2 * 60 * 60_000);
    expect(((await get(base)).json() as { points: unknown[] }).points).toHaveLength(0);
  });

  it('aggregates into buckets with step', async () => {
    const res = await get(`${base}?${window}&step=1m`);
    expect(res.status).toBe(200);
    const body = res.json() as {
      unit: string;
      points: Array<{ ts: string; value: string; min: string; max: string; count: number }>;
    };
    expect(body.unit).toBe('kA');
    const filled = body.points.filter((p) => p.count > 0);
    expect(filled.map((p) => Date.parse(p.ts))).toEqual([T0, T0 + 60_000]);
    expect(filled.map((p) => p.count)).toEqual([6, 6]);
    expect(filled.map((p) => Number(p.value))).toEqual([412.5, 423]);
    expect(filled.map((p) => [Number(p.min), Number(p.max)])).toEqual([
      [410, 415],
      [420.5, 425.5],
    ]);
    for (const p of body.points) {
      for (const v of [p.value, p.min, p.max]) if (v !== null) expect(typeof v).toBe('string');
    }
  });

  it.each([
    ['from after to', `from=${T0 + 60_000}&to=${T0}`, 'from must be before to'],
    ['from equal to to', `from=${T0}&to=${T0}`, 'from must be before to'],
    ['from not a time', 'from=yesterday', 'from:'],
    ['to without an offset', `to=${encodeURIComponent('2025-03-01T08:00:00')}`, 'to:'],
    ['an impossible date', `from=${encodeURIComponent('2025-02-30T00:00:00Z')}`, 'not a valid date'],
    [
      'a window over the cap',
      `from=${encodeURIComponent('2023-01-01T00:00:00Z')}&to=${encodeURIComponent('2025-01-01T00:00:00Z')}`,
      'days',
    ],
    ['a step under one second', `${window}&step=500ms`, 'at least 1s'],
    ['a malformed step', `${window}&step=1.5m`, 'step:'],
    ['too many buckets', `from=${T0}&to=${T0 + 86_400_000}&step=1s`, 'buckets'],
    ['limit 0', `${window}&limit=0`, 'limit'],
    ['limit not a number', `${window}&limit=many`, 'limit'],
  ])('answers 400 MRV_E_BAD_REQUEST for %s', async (_name, query, hint) => {
    const message = expectError(await get(`${base}?${query}`), 400, 'MRV_E_BAD_REQUEST');
    expect(message).toContain(hint);
  });

  it('answers 404 MRV_E_NOT_FOUND for an unknown unit or point', async () => {
    expectError(await get('/api/v1/units/NO-SUCH-UNIT/points/line_current/series'), 404, 'MRV_E_NOT_FOUND');
    const message = expectError(
      await get(`/api/v1/units/${UNIT}/points/no_such_point/series`),
      404,
      'MRV_E_NOT_FOUND',
    );
    expect(message).toContain('no_such_point');
  });
});

describe('GET /api/v1/units/{unitId}/quarantine', () => {
  it('lists readings of unverified batches as not verified, and serves none of them as data', async () => {
    await store.writeReadings([
      reading('line_current', T0, '777777', 99, {
        quality: 'uncertain',
        reason: 'MRV_F_BAD_SIGNATURE: batch 99 not verified',
        quarantine: 'MRV_F_BAD_SIGNATURE',
      }),
      reading('line_current', T0 + 10_000, '555555', 1, {
        gatewayId: 'gw-rogue',
        quality: 'uncertain',
        reason: 'MRV_F_UNKNOWN_KEY: batch 1 not verified',
        quarantine: 'MRV_F_UNKNOWN_KEY',
      }),
    ]);
    const res = await get(`/api/v1/units/${UNIT}/quarantine?from=${T0}&to=${T0 + 60_000}`);
    expect(res.status).toBe(200);
    expect(res.json()).toEqual([
      {
        gatewayId: GW,
        device: 'potline-plc',
        point: 'line_current',
        ts: iso(T0),
        rxTs: iso(T0 + 40),
        value: '777777',
        quality: 'uncertain',
        reason: 'MRV_F_BAD_SIGNATURE: batch 99 not verified',
        seq: 99,
        cause: 'MRV_F_BAD_SIGNATURE',
        verified: false,
      },
      expect.objectContaining({ gatewayId: 'gw-rogue', value: '555555', cause: 'MRV_F_UNKNOWN_KEY' }),
    ]);
    expect(
      (await get(`/api/v1/units/${UNIT}/quarantine?from=${T0}&to=${T0 + 60_000}&gateway=gw-rogue`)).json(),
    ).toHaveLength(1);
    // The series is the genuine one.
    const series = (
      await get(`/api/v1/units/${UNIT}/points/line_current/series?from=${T0}&to=${T0 + 20_000}`)
    ).json() as {
      points: { value: string }[];
    };
    expect(series.points.map((p) => p.value)).toEqual(['410.0', '411.0']);
    // Default window: the 24 h before the clock.
    expect((await get(`/api/v1/units/${UNIT}/quarantine`)).json()).toHaveLength(2);
    expectError(await get(`/api/v1/units/${UNIT}/quarantine?from=${T0}&to=${T0}`), 400, 'MRV_E_BAD_REQUEST');
    expectError(
      await get(`/api/v1/units/${UNIT}/quarantine?from=${T0}&to=${T0 + 40 * 86_400_000}`),
      400,
      'MRV_E_BAD_REQUEST',
    );
  });
});

describe('errors and static files', () => {
  it('answers 503 MRV_E_STORE when the store fails', async () => {
    await store.stop();
    expectError(await get('/api/v1/units'), 503, 'MRV_E_STORE');
    expectError(await get(`/api/v1/units/${UNIT}/points`), 503, 'MRV_E_STORE');
    expectError(await get(`/api/v1/units/${UNIT}/points/line_current/series`), 503, 'MRV_E_STORE');
    expectError(await get(`/api/v1/live?unit=${UNIT}`), 503, 'MRV_E_STORE');
  });

  it('answers unknown routes with 404 MRV_E_NOT_FOUND in the error body', async () => {
    expectError(await get('/api/v1/nothing-here'), 404, 'MRV_E_NOT_FOUND');
    expectError(await get('/no-such-file.js'), 404, 'MRV_E_NOT_FOUND');
  });

  it('serves the dashboard page and its assets with no external URL', async () => {
    // `/` opens the Vue dashboard once it is built; the classic page is at /classic/.
    const root = await get('/');
    if (existsSync(new URL('../../server/web-app/index.html', import.meta.url))) {
      expect(root.status).toBe(302);
      expect(root.headers.location).toBe('/app/');
    } else expect(root.status).toBe(200);
    const page = await get('/classic/');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/^text\/html/);
    expect(page.body).toContain('carbon-mrv');
    expect(page.body).toContain('碳排放数据在线监测');
    expect(page.body).toContain('id="view"');
    expect(page.body).toContain('/vendor/uplot/uPlot.min.css');
    const js = await get('/app.js');
    expect(js.status).toBe(200);
    expect(js.type).toMatch(/javascript/);
    const unitPage = await get('/pages/unit.js');
    expect(unitPage.type).toMatch(/javascript/);
    expect(unitPage.body).toContain("from '/vendor/uplot/uPlot.esm.js'");
    const css = await get('/style.css');
    expect(css.type).toMatch(/^text\/css/);
    const assets = [page, js, unitPage, css];
    for (const file of [
      'i18n.js',
      'lib.js',
      'pages/common.js',
      'pages/overview.js',
      'pages/meters.js',
      'pages/evidence.js',
      'pages/findings.js',
      'pages/login.js',
      'pages/admin.js',
    ]) {
      const res = await get(`/${file}`);
      expect(res.status, file).toBe(200);
      assets.push(res);
    }
    for (const asset of assets) expect(asset.body).not.toMatch(/https?:\/\//);
  });

  it('serves uPlot from node_modules under /vendor/uplot/', async () => {
    const esm = await get('/vendor/uplot/uPlot.esm.js');
    expect(esm.status).toBe(200);
    expect(esm.type).toMatch(/javascript/);
    expect(esm.body).toContain('export');
    const css = await get('/vendor/uplot/uPlot.min.css');
    expect(css.status).toBe(200);
    expect(css.type).toMatch(/^text\/css/);
    expectError(await get('/vendor/uplot/uPlot.cjs.js'), 404, 'MRV_E_NOT_FOUND');
  });
});

/** Reads Server-Sent Events frames from a fetch response. */
class SseClient {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buf = '';
  constructor(res: Response) {
    this.#reader = res.body!.getReader();
  }
  /** The next frame's lines, or undefined when the stream ended. */
  async frame(): Promise<string[] | undefined> {
    for (;;) {
      const end = this.#buf.indexOf('\n\n');
      if (end >= 0) {
        const frame = this.#buf.slice(0, end);
        this.#buf = this.#buf.slice(end + 2);
        return frame.split('\n');
      }
      const { done, value } = await this.#reader.read();
      if (done) return undefined;
      this.#buf += this.#decoder.decode(value, { stream: true });
    }
  }
  /** The next frame that carries an event (skipping comments and `retry:`). */
  async event(): Promise<{ event: string; data: unknown }> {
    for (;;) {
      const lines = await this.frame();
      if (lines === undefined) throw new Error('stream ended before an event');
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
      const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
      if (event !== undefined && data !== undefined) return { event, data: JSON.parse(data) };
    }
  }
  /** Resolves when the stream ends, ignoring whatever comes before. */
  async ended(): Promise<void> {
    while ((await this.frame()) !== undefined) {
      // drain
    }
  }
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('GET /api/v1/live (SSE over a real socket)', () => {
  let base: string;
  const aborts: AbortController[] = [];

  beforeEach(async () => {
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });

  afterEach(() => {
    for (const a of aborts.splice(0)) a.abort();
  });

  async function openStream(
    query: string,
  ): Promise<{ res: Response; sse: SseClient; abort: AbortController }> {
    const abort = new AbortController();
    aborts.push(abort);
    const res = await fetch(`${base}/api/v1/live${query}`, { signal: abort.signal });
    const sse = new SseClient(res);
    return { res, sse, abort };
  }

  const batch: LiveBatch = {
    unitId: UNIT,
    gatewayId: GW,
    seq: 13,
    readings: [
      {
        point: 'line_current',
        ts: iso(T0 + 120_000),
        rxTs: iso(T0 + 120_040),
        value: '426.125',
        quality: 'good',
      },
      {
        point: 'cell_voltage_101',
        ts: iso(T0 + 120_000),
        rxTs: iso(T0 + 120_040),
        value: null,
        quality: 'bad',
        reason: 'MRV_E_MODBUS_TIMEOUT: no answer',
      },
      {
        point: 'ladle_net',
        meter: 'ladle-scale-1',
        ts: iso(T0 + 118_000),
        rxTs: iso(T0 + 120_040),
        value: '2.9875',
        quality: 'uncertain',
        reason: 'tare older than 24 h',
      },
    ],
  };

  it('streams the unit batches exactly, then unsubscribes when the client goes away', async () => {
    const { res, sse, abort } = await openStream(`?unit=${UNIT}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    // The first frame (`retry:` + `: connected`) is written after the subscription is taken.
    expect(await sse.frame()).toEqual(['retry: 3000', ': connected']);
    expect(hub.subscribers()).toBe(1);
    expect((await app.inject('/healthz')).json()).toMatchObject({ liveClients: 1 });

    hub.publish({ unitId: OTHER_UNIT, gatewayId: 'gw9', seq: 1, readings: [] });
    hub.publish({ ...batch, extra: 'not part of the contract' } as LiveBatch);
    const ev = await within(sse.event(), 5_000, 'batch event');
    expect(ev.event).toBe('batch');
    expect(ev.data).toEqual(batch);

    abort.abort();
    await vi.waitFor(() => expect(hub.subscribers()).toBe(0), { timeout: 5_000, interval: 20 });
    expect((await app.inject('/healthz')).json()).toMatchObject({ liveClients: 0 });
  });

  it('streams every unit without ?unit= and sends heartbeat comments', async () => {
    const { sse } = await openStream('');
    await sse.frame();
    hub.publish({ unitId: OTHER_UNIT, gatewayId: 'gw9', seq: 7, readings: [] });
    hub.publish(batch);
    expect((await within(sse.event(), 5_000, 'first event')).data).toMatchObject({
      unitId: OTHER_UNIT,
      seq: 7,
    });
    expect((await within(sse.event(), 5_000, 'second event')).data).toEqual(batch);
    // heartbeat every 50 ms in this suite
    expect(await within(sse.frame(), 5_000, 'heartbeat')).toEqual([': heartbeat']);
  });

  it('answers 404 MRV_E_NOT_FOUND as JSON for an unknown unit, without subscribing', async () => {
    const res = await fetch(`${base}/api/v1/live?unit=NO-SUCH-UNIT`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'MRV_E_NOT_FOUND', message: expect.any(String) } });
    expect(hub.subscribers()).toBe(0);
  });

  it('app.close() is not held up by a connection that never sent a request', async () => {
    const { port } = new URL(base);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    const closed = once(socket, 'close');
    await within(app.close(), 5_000, 'app.close()');
    await within(closed, 5_000, 'the idle socket closing');
  });

  it('app.close() ends open streams and completes', async () => {
    const { sse } = await openStream(`?unit=${UNIT}`);
    await sse.frame();
    const { sse: sse2 } = await openStream('');
    await sse2.frame();
    expect(hub.subscribers()).toBe(2);
    await within(app.close(), 5_000, 'app.close()');
    await within(Promise.all([sse.ended(), sse2.ended()]), 5_000, 'end of the streams');
    expect(hub.subscribers()).toBe(0);
  });
});
