/**
 * Tokens, roles and scope on every API route, the login route with its rate limit and secret-free
 * logs, the OpenAPI document against the routes fastify registered, and /metrics — through
 * `inject()` against a real embedded store, SSE over a real socket.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LiveHub } from '../../collector/live.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import { UnitRegistry } from '../../core/schema/unit-registry.ts';
import type { GatewayMeta } from '../../core/schema/wire.ts';
import { ManualClock } from '../../core/time.ts';
import { buildServer } from '../../server/app.ts';
import { FailureLimiter } from '../../server/auth.ts';
import { toOpenApiPath } from '../../server/openapi.ts';
import { type Role, type Scope, TokenFile } from '../../server/tokens.ts';

const T0 = Date.UTC(2025, 2, 1, 0, 0, 0);
const AL = 'U-AL-1';
const CE = 'U-CE-2';
const PW = 'U-PW-3';

/** The server's unit registry: the only source of the units' provinces (issue 17 item 2). */
const UNITS = new UnitRegistry([
  { id: AL, name: `unit ${AL}`, industry: 'aluminium', province: '内蒙古', gateways: [`gw-${AL}`] },
  { id: CE, name: `unit ${CE}`, industry: 'cement', province: '安徽', gateways: [`gw-${CE}`] },
  { id: PW, name: `unit ${PW}`, industry: 'power', province: '广东', gateways: [`gw-${PW}`] },
]);

function meta(unitId: string, province: string, industry: GatewayMeta['unit']['industry']): GatewayMeta {
  return {
    v: 1,
    gatewayId: `gw-${unitId}`,
    unit: { id: unitId, name: `unit ${unitId}`, industry, province },
    points: [{ id: 'p1', device: 'd1', unit: 't', aggregation: 'gauge' }],
    meters: [],
    configHash: 'a'.repeat(64),
  };
}

let dir: string;
let store: SqliteStore;
let hub: LiveHub;
let tokens: TokenFile;
let app: FastifyInstance;
let logLines: string[];

function make(role: Role, scope: Scope = { provinces: [], units: [] }) {
  return tokens.create({ role, scope, name: `${role} test` }).token;
}

async function get(url: string, token?: string, headers: Record<string, string> = {}) {
  const res = await app.inject({
    method: 'GET',
    url,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
  });
  return { status: res.statusCode, json: () => res.json(), headers: res.headers, body: res.body };
}

function code(res: { json: () => unknown }): string {
  return (res.json() as { error: { code: string } }).error.code;
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mrv-auth-'));
  store = new SqliteStore({ path: ':memory:' });
  await store.start();
  await store.writeMeta(AL, meta(AL, '内蒙古', 'aluminium'));
  await store.writeMeta(CE, meta(CE, '安徽', 'cement'));
  await store.writeMeta(PW, meta(PW, '广东', 'power'));
  await store.writeReadings([
    {
      unitId: AL,
      gatewayId: `gw-${AL}`,
      device: 'd1',
      point: 'p1',
      ts: T0,
      rxTs: T0,
      value: '1.5',
      quality: 'good',
      seq: 1,
    },
  ]);
  hub = new LiveHub();
  tokens = TokenFile.inDataDir(dir);
  logLines = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  });
  app = buildServer({
    store,
    live: hub,
    tokens,
    clock: new ManualClock(T0 + 60_000),
    logger: pino({ level: 'debug' }, sink),
    loginLimiter: new FailureLimiter({ max: 3, windowMs: 60_000 }),
    version: '9.9.9-test',
    units: UNITS,
  });
  await app.ready();
});

afterEach(async () => {
  await app.close();
  await store.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('token file', () => {
  it('keeps only hashes, mode 0600, and sees tokens created by another process', async () => {
    const admin = make('admin');
    const text = readFileSync(tokens.path, 'utf8');
    expect(text).not.toContain(admin);
    expect(text).not.toContain(admin.slice(13));
    expect(statSync(tokens.path).mode & 0o777).toBe(0o600);
    // Another TokenFile on the same path (as `mrv token create` in another process) adds a token.
    const other = TokenFile.inDataDir(dir).create({
      role: 'regulator',
      scope: { provinces: ['安徽'], units: [] },
      name: 'x',
    });
    await new Promise((r) => setTimeout(r, 1100));
    expect((await get('/api/v1/units', other.token)).status).toBe(200);
  });

  it('refuses a revoked token', async () => {
    const t = tokens.create({ role: 'admin', scope: { provinces: [], units: [] }, name: 'r' });
    expect((await get('/api/v1/units', t.token)).status).toBe(200);
    tokens.revoke({ id: t.record.id });
    const res = await get('/api/v1/units', t.token);
    expect(res.status).toBe(401);
    expect(code(res)).toBe('MRV_E_UNAUTHORIZED');
  });
});

describe('authentication', () => {
  it('answers 401 MRV_E_UNAUTHORIZED without or with a wrong token; /healthz, /metrics, the page and openapi stay open', async () => {
    for (const url of [
      '/api/v1/units',
      `/api/v1/units/${AL}/points`,
      `/api/v1/units/${AL}/points/p1/series`,
      '/api/v1/live',
      '/api/v1/admin/tokens',
      '/api/v1/session',
    ]) {
      const res = await get(url);
      expect(res.status, url).toBe(401);
      expect(res.json()).toEqual({ error: { code: 'MRV_E_UNAUTHORIZED', message: expect.any(String) } });
    }
    expect(
      (await get('/api/v1/units', 'mrv_00000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).status,
    ).toBe(401);
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/metrics')).status).toBe(200);
    expect((await get('/classic/')).status).toBe(200);
    expect([200, 302]).toContain((await get('/')).status);
    expect((await get('/app.js')).status).toBe(200);
    expect((await get('/api/v1/openapi.json')).status).toBe(200);
  });

  it('accepts the token as bearer and a session cookie from login; never ?token=', async () => {
    const admin = make('admin');
    expect((await get('/api/v1/units', admin)).status).toBe(200);
    const login = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { token: admin } });
    const pair = String(login.headers['set-cookie']).split(';')[0]!;
    expect((await get('/api/v1/units', undefined, { cookie: `other=1; ${pair}` })).status).toBe(200);
    const q = await get(`/api/v1/units?token=${admin}`);
    expect(q.status).toBe(400);
    expect(code(q)).toBe('MRV_E_BAD_REQUEST');
  });

  it('logs in: sets an HttpOnly SameSite=Strict session cookie, tells the role; logout revokes it', async () => {
    const reg = make('regulator', { provinces: ['内蒙古'], units: [] });
    const res = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { token: reg } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      role: 'regulator',
      scope: { provinces: ['内蒙古'], units: [] },
      authEnabled: true,
    });
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/^mrv_session=[A-Za-z0-9_-]{43};/);
    expect(cookie).not.toContain(reg);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    const pair = cookie.split(';')[0]!;
    const me = await get('/api/v1/session', undefined, { cookie: pair });
    expect(me.json()).toMatchObject({ role: 'regulator' });
    const out = await app.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie: pair } });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
    expect(code(await get('/api/v1/session', undefined, { cookie: pair }))).toBe('MRV_E_UNAUTHORIZED');
  });

  it('rate-limits wrong tokens per address with 429 MRV_E_RATE_LIMITED, never a valid one, and logs no secret', async () => {
    const good = make('admin');
    const wrong = `mrv_deadbeef_${'x'.repeat(43)}`;
    for (let i = 0; i < 3; i++) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { token: wrong } });
      expect(res.statusCode).toBe(401);
      expect(code({ json: () => res.json() })).toBe('MRV_E_UNAUTHORIZED');
    }
    const limited = await app.inject({
      method: 'POST',
      url: '/api/v1/session',
      payload: { token: `mrv_cafebabe_${'y'.repeat(43)}` },
    });
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('MRV_E_RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Wrong bearer attempts from the same address are blocked too; a valid token is not.
    expect((await get('/api/v1/units', `mrv_cafebabe_${'z'.repeat(43)}`)).status).toBe(429);
    expect((await get('/api/v1/units', good)).status).toBe(200);
    const ok = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { token: good } });
    expect(ok.statusCode).toBe(200);
    // Another address is not blocked either.
    const other = await app.inject({
      method: 'GET',
      url: '/api/v1/units',
      headers: { authorization: `Bearer mrv_cafebabe_${'w'.repeat(43)}` },
      remoteAddress: '10.0.0.9',
    });
    expect(other.statusCode).toBe(401);
    // A request with ?token= is refused and logged with the token redacted.
    expect((await get(`/api/v1/units?token=${good}`, undefined, {})).status).toBe(400);
    const logs = logLines.join('');
    expect(logs).toContain('auth: rejected credential');
    expect(logs).toContain('deadbeef');
    expect(logs).toContain('token=[redacted]');
    expect(logs).not.toContain('x'.repeat(43));
    expect(logs).not.toContain(good);
    expect(logs).not.toContain(good.slice(13));
    expect(logs).not.toContain(String(ok.headers['set-cookie']).split(';')[0]!.split('=')[1]);
  });
});

describe('scope and roles', () => {
  it('filters the unit list: admin all, regulator its provinces and units, enterprise its unit', async () => {
    const ids = async (token: string) =>
      ((await get('/api/v1/units', token)).json() as { id: string }[]).map((u) => u.id).sort();
    expect(await ids(make('admin'))).toEqual([AL, CE, PW]);
    expect(await ids(make('regulator', { provinces: ['内蒙古'], units: [] }))).toEqual([AL]);
    expect(await ids(make('regulator', { provinces: ['广东'], units: [CE] }))).toEqual([CE, PW]);
    expect(await ids(make('enterprise', { provinces: [], units: [CE] }))).toEqual([CE]);
  });

  it('answers 403 MRV_E_FORBIDDEN for a unit outside the scope, existing or not, on every unit route', async () => {
    const reg = make('regulator', { provinces: ['广东'], units: [] });
    for (const url of [
      `/api/v1/units/${AL}/points`,
      `/api/v1/units/${AL}/points/p1/series`,
      `/api/v1/units/${AL}/meters`,
      `/api/v1/units/${AL}/evidence/2025-02`,
      `/api/v1/units/${AL}/findings`,
      '/api/v1/units/NO-SUCH-UNIT/points',
      `/api/v1/live?unit=${AL}`,
    ]) {
      const res = await get(url, reg);
      expect(res.status, url).toBe(403);
      expect(code(res)).toBe('MRV_E_FORBIDDEN');
    }
    expect((await get(`/api/v1/units/${PW}/points`, reg)).status).toBe(200);
    const ent = make('enterprise', { provinces: [], units: [AL] });
    expect(
      (await get(`/api/v1/units/${AL}/points/p1/series?from=${T0}&to=${T0 + 1000}`, ent)).json(),
    ).toMatchObject({
      points: [{ value: '1.5' }],
    });
    expect(code(await get(`/api/v1/units/${CE}/points`, ent))).toBe('MRV_E_FORBIDDEN');
  });

  it('keeps the configuration views for admins and refuses writes to read-only roles', async () => {
    const reg = make('regulator', { provinces: ['广东'], units: [] });
    const ent = make('enterprise', { provinces: [], units: [AL] });
    for (const t of [reg, ent]) {
      expect(code(await get('/api/v1/admin/tokens', t))).toBe('MRV_E_FORBIDDEN');
      expect(code(await get('/api/v1/admin/config', t))).toBe('MRV_E_FORBIDDEN');
    }
    const admin = make('admin');
    const list = (await get('/api/v1/admin/tokens', admin)).json() as Record<string, unknown>[];
    expect(list.length).toBe(3);
    for (const r of list) {
      expect(r).not.toHaveProperty('sha256');
      expect(JSON.stringify(r)).not.toContain('mrv_');
    }
    expect((await get('/api/v1/admin/config', admin)).json()).toMatchObject({
      authEnabled: true,
      version: '9.9.9-test',
    });
    // No write route exists for others; any non-GET under /api/ defaults to admin-only.
    const post = await app.inject({
      method: 'POST',
      url: '/api/v1/units',
      headers: { authorization: `Bearer ${reg}` },
    });
    expect(post.statusCode).toBe(403);
  });

  it('streams only batches of units in scope on the all-units SSE stream, with the session cookie', async () => {
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const reg = make('regulator', { provinces: ['内蒙古'], units: [] });
    const login = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { token: reg } });
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    const abort = new AbortController();
    const res = await fetch(`${base}/api/v1/live`, { signal: abort.signal, headers: { cookie } });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    const read = async (until: string) => {
      const deadline = Date.now() + 5_000;
      while (!text.includes(until) && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    };
    await read(': connected');
    // The scope of the all-units stream is decided from the unit directory: let it load.
    await get('/api/v1/units', reg);
    hub.publish({ unitId: PW, gatewayId: 'g', seq: 1, readings: [] });
    hub.publish({ unitId: AL, gatewayId: 'g', seq: 2, readings: [] });
    await read('"seq":2');
    abort.abort();
    expect(text).toContain(`"unitId":"${AL}"`);
    expect(text).not.toContain(PW);
  });
});

describe('OpenAPI and metrics', () => {
  it('documents exactly the registered routes (except the page files), each with its methods', async () => {
    const doc = (await get('/api/v1/openapi.json')).json() as {
      openapi: string;
      paths: Record<string, Record<string, { responses: Record<string, unknown>; security: unknown[] }>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    // Every route fastify knows, from printRoutes (method list per full path).
    // printRoutes draws a tree: each level indents by 4 characters and holds the path below its parent.
    const printed = app.printRoutes({ commonPrefix: false });
    const registered = new Set<string>();
    const stack: string[] = [];
    for (const line of printed.split('\n')) {
      const m = /^((?:[│ ] {3})*)[├└]── (\S+) \(([A-Z, ]+)\)$/.exec(line);
      if (!m) continue;
      const depth = m[1]!.length / 4;
      stack.length = depth;
      stack.push(m[2]!);
      const path = stack.join('');
      if (
        path === '*' ||
        path === '/' ||
        path === '/*' ||
        path.startsWith('/vendor/') ||
        path.startsWith('/classic')
      )
        continue;
      for (const method of m[3]!.split(', ')) {
        if (method !== 'HEAD') registered.add(`${method.toLowerCase()} ${toOpenApiPath(path)}`);
      }
    }
    expect(registered.size).toBeGreaterThan(10);
    const documented = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths))
      for (const m of Object.keys(ops)) documented.add(`${m} ${path}`);
    expect([...documented].sort()).toEqual([...registered].sort());
    expect(documented).toContain('get /api/v1/units/{unitId}/points/{pointId}/series');
    expect(documented).toContain('post /api/v1/session');
    expect(documented).toContain('get /metrics');
    // Protected routes say so; login and health do not.
    expect(doc.paths['/api/v1/units']!.get!.security.length).toBeGreaterThan(0);
    expect(doc.paths['/api/v1/session']!.post!.security).toEqual([]);
    expect(doc.paths['/healthz']!.get!.security).toEqual([]);
    expect(doc.paths['/api/v1/units']!.get!.responses).toHaveProperty('default');
  });

  it('counts requests by route template and exposes SSE clients and store latency', async () => {
    const admin = make('admin');
    await get(`/api/v1/units/${AL}/points`, admin);
    await get('/api/v1/units', admin);
    const text = (await get('/metrics')).body;
    expect(text).toContain(
      'mrv_http_requests_total{method="GET",route="/api/v1/units/:unitId/points",status="200"} 1',
    );
    expect(text).toMatch(/mrv_sse_clients 0/);
    expect(text).toMatch(
      /mrv_store_operation_duration_seconds_count\{operation="listPoints",outcome="ok"\} \d+/,
    );
    expect(text).toContain('process_cpu_user_seconds_total');
  });
});
