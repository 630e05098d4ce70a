/**
 * Attacks on the HTTP server (issue 17 item 5), each named, each asserting the status and the
 * `MRV_E_*` code: sessions (tampered, revoked, logged out, expired), credentials in the URL, the
 * failed-credential lockout with and without a trusted proxy, `Secure` cookies, body limits, nested
 * JSON, roles of the verify route, path traversal, scope escapes on every unit route and the SSE
 * stream (also through a gateway catalogue claiming a province: scope follows the unit registry only;
 * the same attacks over a real broker are in meta-registry.test.ts), malformed ids, dates and months. Every test's log output is captured, and no token or
 * session id created in it may appear there.
 */
import { mkdtempSync, rmSync } from 'node:fs';
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
import { loadEvidenceKey } from '../../evidence/service.ts';
import { buildServer, type ServerOptions } from '../../server/app.ts';
import { FailureLimiter } from '../../server/auth.ts';
import { SessionStore } from '../../server/sessions.ts';
import { type Role, type Scope, TokenFile } from '../../server/tokens.ts';

const T0 = Date.UTC(2025, 2, 1, 0, 0, 0);
const AL = 'U-AL-1';
const CE = 'U-CE-2';

/** The server's unit registry: the only source of the units' provinces (issue 17 item 2). */
const UNITS = new UnitRegistry([
  { id: AL, name: `unit ${AL}`, industry: 'aluminium', province: '内蒙古', gateways: [`gw-${AL}`] },
  { id: CE, name: `unit ${CE}`, industry: 'cement', province: '安徽', gateways: [`gw-${CE}`] },
]);

function meta(unitId: string, province: string, industry: GatewayMeta['unit']['industry']): GatewayMeta {
  return {
    v: 1,
    gatewayId: `gw-${unitId}`,
    unit: { id: unitId, name: `unit ${unitId}`, industry, province },
    // No `parameter` on the point: the evidence reads nothing (once a 500, RangeError: Invalid time value).
    points: [{ id: 'p1', device: 'd1', unit: 't', aggregation: 'gauge' }],
    meters: [],
    configHash: 'a'.repeat(64),
  };
}

let dir: string;
let store: SqliteStore;
let tokens: TokenFile;
let logLines: string[];
let secrets: string[];
let nowMs: number;
const apps: FastifyInstance[] = [];
let app: FastifyInstance;

function build(extra: Partial<ServerOptions> = {}): FastifyInstance {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  });
  const a = buildServer({
    store,
    live: new LiveHub(),
    tokens,
    clock: new ManualClock(T0 + 60_000),
    logger: pino({ level: 'debug' }, sink),
    loginLimiter: new FailureLimiter({ max: 3, windowMs: 60_000 }),
    sessions: new SessionStore({ now: () => nowMs }),
    domain: { keyFile: join(dir, 'evidence.pem') },
    units: UNITS,
    ...extra,
  });
  apps.push(a);
  return a;
}

function make(role: Role, scope: Scope = { provinces: [], units: [] }): string {
  const t = tokens.create({ role, scope, name: `${role} security test` }).token;
  secrets.push(t, t.slice(13));
  return t;
}

interface Res {
  status: number;
  code: string | undefined;
  headers: Record<string, unknown>;
  body: string;
}

async function call(
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  o: {
    token?: string;
    cookie?: string;
    headers?: Record<string, string>;
    payload?: unknown;
    remoteAddress?: string;
    on?: FastifyInstance;
  } = {},
): Promise<Res> {
  const res = await (o.on ?? app).inject({
    method,
    url,
    headers: {
      ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
      ...(o.cookie ? { cookie: o.cookie } : {}),
      ...o.headers,
    },
    ...(o.payload !== undefined ? { payload: o.payload as string } : {}),
    ...(o.remoteAddress ? { remoteAddress: o.remoteAddress } : {}),
  });
  let code: string | undefined;
  try {
    code = (res.json() as { error?: { code?: string } }).error?.code;
  } catch {
    code = undefined;
  }
  return { status: res.statusCode, code, headers: res.headers, body: res.body };
}

/** Logs in with `token`; returns the `name=value` of the session cookie and the whole header. */
async function login(
  token: string,
  o: { headers?: Record<string, string>; on?: FastifyInstance; cookie?: string } = {},
) {
  const res = await call('POST', '/api/v1/session', { payload: { token }, ...o });
  expect(res.status).toBe(200);
  const header = String(res.headers['set-cookie']);
  const pair = header.split(';')[0]!;
  secrets.push(pair.slice(pair.indexOf('=') + 1));
  return { pair, header };
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mrv-sec-'));
  // The server's evidence key exists, as on a server that has made a package: the verify route trusts it.
  loadEvidenceKey(join(dir, 'evidence.pem'), true);
  store = new SqliteStore({ path: ':memory:' });
  await store.start();
  await store.writeMeta(AL, meta(AL, '内蒙古', 'aluminium'));
  await store.writeMeta(CE, meta(CE, '安徽', 'cement'));
  tokens = TokenFile.inDataDir(dir);
  logLines = [];
  secrets = [];
  nowMs = T0;
  app = build();
  await app.ready();
});

afterEach(async () => {
  const logs = logLines.join('');
  for (const s of secrets) expect(logs, 'a credential appeared in the log').not.toContain(s);
  for (const a of apps.splice(0)) await a.close();
  await store.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('sessions', () => {
  it('attack: the cookie carries a session id, not the token', async () => {
    const admin = make('admin');
    const { pair } = await login(admin);
    expect(pair).toMatch(/^mrv_session=[A-Za-z0-9_-]{43}$/);
    expect(pair).not.toContain(admin);
    expect((await call('GET', '/api/v1/units', { cookie: pair })).status).toBe(200);
  });

  it('attack: a tampered session cookie is refused', async () => {
    const { pair } = await login(make('admin'));
    const id = pair.split('=')[1]!;
    const flipped = `${id[0] === 'A' ? 'B' : 'A'}${id.slice(1)}`;
    for (const cookie of [
      `mrv_session=${flipped}`,
      `mrv_session=${id}x`,
      'mrv_session=%E0%A4%A',
      `mrv_session=${'A'.repeat(43)}`,
    ]) {
      const res = await call('GET', '/api/v1/units', { cookie });
      expect(res.status, cookie).toBe(401);
      expect(res.code).toBe('MRV_E_UNAUTHORIZED');
    }
  });

  it('attack: the raw token put in the cookie (the old format) is refused', async () => {
    const res = await call('GET', '/api/v1/units', { cookie: `mrv_session=${make('admin')}` });
    expect(res.status).toBe(401);
    expect(res.code).toBe('MRV_E_UNAUTHORIZED');
  });

  it('attack: a copied cookie after logout is refused (logout revokes the session)', async () => {
    const { pair } = await login(make('admin'));
    const out = await call('DELETE', '/api/v1/session', { cookie: pair });
    expect(out.status).toBe(204);
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
    const res = await call('GET', '/api/v1/units', { cookie: pair });
    expect(res.status).toBe(401);
    expect(res.code).toBe('MRV_E_UNAUTHORIZED');
  });

  it('attack: a revoked token keeps no session alive', async () => {
    const t = tokens.create({ role: 'admin', scope: { provinces: [], units: [] }, name: 'to revoke' });
    secrets.push(t.token);
    const a = await login(t.token);
    const b = await login(t.token);
    expect((await call('GET', '/api/v1/units', { cookie: a.pair })).status).toBe(200);
    tokens.revoke({ id: t.record.id });
    for (const pair of [a.pair, b.pair]) {
      const res = await call('GET', '/api/v1/units', { cookie: pair });
      expect(res.status).toBe(401);
      expect(res.code).toBe('MRV_E_UNAUTHORIZED');
    }
    expect((await call('GET', '/api/v1/units', { token: t.token })).code).toBe('MRV_E_UNAUTHORIZED');
  });

  it('attack: an expired session (absolute lifetime, and idle) is refused', async () => {
    const admin = make('admin');
    const { pair, header } = await login(admin);
    expect(header).toContain(`Max-Age=${12 * 3600}`);
    // Used every hour: alive until the 12 h lifetime ends.
    for (let h = 1; h < 12; h++) {
      nowMs = T0 + h * 3600_000;
      expect((await call('GET', '/api/v1/units', { cookie: pair })).status, `hour ${h}`).toBe(200);
    }
    nowMs = T0 + 12 * 3600_000;
    const res = await call('GET', '/api/v1/units', { cookie: pair });
    expect(res.status).toBe(401);
    expect(res.code).toBe('MRV_E_UNAUTHORIZED');
    // Idle: a fresh session unused for 2 h ends.
    const fresh = await login(admin);
    nowMs += 2 * 3600_000;
    expect((await call('GET', '/api/v1/units', { cookie: fresh.pair })).code).toBe('MRV_E_UNAUTHORIZED');
  });

  it('attack: session fixation — logging in replaces the session the browser brought', async () => {
    const admin = make('admin');
    const first = await login(admin);
    const second = await login(admin, { cookie: first.pair });
    expect(second.pair).not.toBe(first.pair);
    expect((await call('GET', '/api/v1/units', { cookie: first.pair })).code).toBe('MRV_E_UNAUTHORIZED');
    expect((await call('GET', '/api/v1/units', { cookie: second.pair })).status).toBe(200);
  });

  it('attack: another authorization scheme or a garbage bearer is refused', async () => {
    const admin = make('admin');
    for (const authorization of [
      `Basic ${Buffer.from(`a:${admin}`).toString('base64')}`,
      'Bearer',
      'Bearer mrv_x',
      admin,
    ]) {
      // One address each: the limiter (3 per address) would answer the 4th with 429.
      const res = await call('GET', '/api/v1/units', {
        headers: { authorization },
        remoteAddress: `10.9.0.${authorization.length}`,
      });
      expect(res.status, authorization.slice(0, 8)).toBe(401);
      expect(res.code).toBe('MRV_E_UNAUTHORIZED');
    }
  });
});

describe('credentials in the URL', () => {
  it('attack: ?token= is refused even with a valid token, on every API route including SSE', async () => {
    const admin = make('admin');
    for (const url of [
      '/api/v1/units',
      `/api/v1/units/${AL}/points`,
      '/api/v1/live',
      `/api/v1/live?unit=${AL}`,
    ]) {
      const sep = url.includes('?') ? '&' : '?';
      const res = await call('GET', `${url}${sep}token=${admin}`);
      expect(res.status, url).toBe(400);
      expect(res.code).toBe('MRV_E_BAD_REQUEST');
    }
  });

  it('attack: ?%74oken= (and TOKEN, access_token) is refused and never logged', async () => {
    const admin = make('admin');
    for (const q of [
      `%74oken=${admin}`,
      `%54OKEN=${admin}`,
      `access_token=${admin}`,
      `%74oken=${encodeURIComponent(admin)}`,
    ]) {
      const res = await call('GET', `/api/v1/units?${q}`, { token: admin });
      expect(res.status, q).toBe(400);
      expect(res.code).toBe('MRV_E_BAD_REQUEST');
    }
    // The request log line exists (with the URL redacted), and the secret is not in it (afterEach).
    expect(logLines.join('')).toContain('%74oken=[redacted]');
  });

  it('attack: a token in a path segment is redacted from the request log', async () => {
    const admin = make('admin');
    const res = await call('GET', `/api/v1/units/${admin}/points`, { token: admin });
    expect(res.status).toBe(404);
    expect(res.code).toBe('MRV_E_NOT_FOUND');
    expect(logLines.join('')).toContain('/api/v1/units/[redacted]/points');
  });
});

describe('log redaction', () => {
  it('attack: a log line that carries headers, a cookie or a token field shows none of them', async () => {
    const admin = make('admin');
    const { pair } = await login(admin);
    // What a plugin or a future handler might log: the server's logger redacts these fields.
    app.log.warn(
      {
        token: admin,
        req: { headers: { authorization: `Bearer ${admin}`, cookie: pair } },
        res: { headers: { 'set-cookie': pair } },
      },
      'something logged the request',
    );
    const logs = logLines.join('');
    expect(logs).toContain('something logged the request');
    expect(logs).toContain('[redacted]');
    expect(logs).not.toContain(pair); // also asserted for every secret in afterEach
  });
});

describe('failed-credential lockout', () => {
  const wrong = `mrv_deadbeef_${'x'.repeat(43)}`;

  it('attack: failures from an address do not lock out a valid token from that address', async () => {
    const good = make('admin');
    for (let i = 0; i < 3; i++)
      expect((await call('GET', '/api/v1/units', { token: wrong })).code).toBe('MRV_E_UNAUTHORIZED');
    const blocked = await call('GET', '/api/v1/units', { token: `mrv_00000001_${'y'.repeat(43)}` });
    expect(blocked.status).toBe(429);
    expect(blocked.code).toBe('MRV_E_RATE_LIMITED');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect((await call('GET', '/api/v1/units', { token: good })).status).toBe(200);
    expect((await call('POST', '/api/v1/session', { payload: { token: good } })).status).toBe(200);
  });

  it('attack: guessing the secret of one token id from many addresses is locked per id', async () => {
    const t = tokens.create({ role: 'admin', scope: { provinces: [], units: [] }, name: 'target' });
    secrets.push(t.token);
    const guess = (n: number) => `mrv_${t.record.id}_${String(n).padStart(43, 'z')}`;
    for (let i = 0; i < 3; i++)
      expect(
        (await call('GET', '/api/v1/units', { token: guess(i), remoteAddress: `10.1.0.${i + 1}` })).status,
      ).toBe(401);
    const res = await call('GET', '/api/v1/units', { token: guess(9), remoteAddress: '10.1.0.99' });
    expect(res.status).toBe(429);
    expect(res.code).toBe('MRV_E_RATE_LIMITED');
    expect((await call('GET', '/api/v1/units', { token: t.token, remoteAddress: '10.1.0.99' })).status).toBe(
      200,
    );
  });

  it('attack: X-Forwarded-For is ignored without trustProxy (no evading the count by forging it)', async () => {
    for (let i = 0; i < 3; i++)
      await call('GET', '/api/v1/units', { token: wrong, headers: { 'x-forwarded-for': `203.0.113.${i}` } });
    const res = await call('GET', '/api/v1/units', {
      token: `mrv_00000002_${'y'.repeat(43)}`,
      headers: { 'x-forwarded-for': '203.0.113.77' },
    });
    expect(res.status).toBe(429);
    expect(res.code).toBe('MRV_E_RATE_LIMITED');
  });

  it('attack: behind a trusted proxy the lockout is keyed on X-Forwarded-For, not on the proxy', async () => {
    const proxied = build({ trustProxy: ['127.0.0.1'] });
    await proxied.ready();
    for (let i = 0; i < 3; i++)
      await call('GET', '/api/v1/units', {
        on: proxied,
        token: wrong,
        headers: { 'x-forwarded-for': '198.51.100.1' },
      });
    const attacker = await call('GET', '/api/v1/units', {
      on: proxied,
      token: `mrv_00000003_${'y'.repeat(43)}`,
      headers: { 'x-forwarded-for': '198.51.100.1' },
    });
    expect(attacker.status).toBe(429);
    expect(attacker.code).toBe('MRV_E_RATE_LIMITED');
    // Another user behind the same proxy, with a wrong token, is not blocked by the attacker.
    const other = await call('GET', '/api/v1/units', {
      on: proxied,
      token: `mrv_00000004_${'y'.repeat(43)}`,
      headers: { 'x-forwarded-for': '198.51.100.2' },
    });
    expect(other.status).toBe(401);
    expect(other.code).toBe('MRV_E_UNAUTHORIZED');
    expect(logLines.join('')).toContain('198.51.100.1');
  });
});

describe('cookies behind a TLS proxy', () => {
  it('attack: the session cookie is Secure behind a trusted proxy, and X-Forwarded-Proto of others is ignored', async () => {
    const admin = make('admin');
    const proxied = build({ trustProxy: ['127.0.0.1'] });
    await proxied.ready();
    const https = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.5' };
    const behind = await login(admin, { on: proxied, headers: https });
    expect(behind.header).toMatch(/; Secure/);
    expect(behind.header).toContain('HttpOnly');
    expect(behind.header).toContain('SameSite=Strict');
    // The same header from an untrusted peer (no trustProxy) is not believed: no Secure claimed.
    const direct = await login(admin, { headers: https });
    expect(direct.header).not.toMatch(/Secure/);
    // A client that is not the trusted proxy cannot claim https either.
    const res = await proxied.inject({
      method: 'POST',
      url: '/api/v1/session',
      payload: { token: admin },
      headers: https,
      remoteAddress: '192.0.2.9',
    });
    expect(res.statusCode).toBe(200);
    const header = String(res.headers['set-cookie']);
    secrets.push(header.split(';')[0]!.split('=')[1]!);
    expect(header).not.toMatch(/Secure/);
  });
});

describe('bodies', () => {
  it('attack: an oversized login body answers 413 MRV_E_TOO_LARGE', async () => {
    const res = await call('POST', '/api/v1/session', { payload: { token: 'x'.repeat(64 * 1024) } });
    expect(res.status).toBe(413);
    expect(res.code).toBe('MRV_E_TOO_LARGE');
  });

  it('attack: a verify body over 4 MiB answers 413 MRV_E_TOO_LARGE, even for an admin', async () => {
    const res = await call('POST', '/api/v1/evidence/verify', {
      token: make('admin'),
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ signature: {}, pad: 'x'.repeat(5 * 1024 * 1024) }),
    });
    expect(res.status).toBe(413);
    expect(res.code).toBe('MRV_E_TOO_LARGE');
  });

  it('attack: deeply nested JSON answers 400 MRV_E_BAD_REQUEST, not 500', async () => {
    const admin = make('admin');
    const deep = `{"signature":{},"x":${'['.repeat(50_000)}${']'.repeat(50_000)}}`;
    for (const url of ['/api/v1/evidence/verify', '/api/v1/session']) {
      const res = await call('POST', url, {
        token: admin,
        headers: { 'content-type': 'application/json' },
        payload: deep.slice(0, 16_000 - 2) + '}}',
      });
      expect(res.status, url).toBeGreaterThanOrEqual(400);
      expect(res.status, url).toBeLessThan(500);
      expect(res.code).toMatch(/^MRV_E_(BAD_REQUEST|TOO_LARGE)$/);
    }
    const res = await call('POST', '/api/v1/evidence/verify', {
      token: admin,
      headers: { 'content-type': 'application/json' },
      payload: deep,
    });
    expect(res.status).toBe(400);
    expect(res.code).toBe('MRV_E_BAD_REQUEST');
  });

  it('attack: malformed JSON, prototype poisoning and a wrong content type answer 4xx with a code', async () => {
    const admin = make('admin');
    const cases: [string, Record<string, string>][] = [
      ['{"token": ', { 'content-type': 'application/json' }],
      ['{"token":"a","__proto__":{"role":"admin"}}', { 'content-type': 'application/json' }],
      ['token=abc', { 'content-type': 'application/x-www-form-urlencoded' }],
      ['', { 'content-type': 'application/json' }],
    ];
    for (const [payload, headers] of cases) {
      const res = await call('POST', '/api/v1/session', { payload, headers, token: admin });
      expect(res.status, payload).toBe(400);
      expect(res.code).toBe('MRV_E_BAD_REQUEST');
    }
  });
});

describe('roles and scope', () => {
  it('attack: an enterprise token may not use the verify route', async () => {
    const ent = make('enterprise', { provinces: [], units: [AL] });
    const res = await call('POST', '/api/v1/evidence/verify', { token: ent, payload: { signature: {} } });
    expect(res.status).toBe(403);
    expect(res.code).toBe('MRV_E_FORBIDDEN');
    const reg = make('regulator', { provinces: ['内蒙古'], units: [] });
    const ok = await call('POST', '/api/v1/evidence/verify', { token: reg, payload: { signature: {} } });
    // Let in: the answer is about the package (no keyId), not about the role.
    expect(ok.status).toBe(400);
    expect(ok.code).toBe('MRV_E_BAD_PACKAGE');
  });

  const unitRoutes = (u: string) => [
    `/api/v1/units/${u}/points`,
    `/api/v1/units/${u}/points/p1/series`,
    `/api/v1/units/${u}/meters`,
    `/api/v1/units/${u}/findings`,
    `/api/v1/units/${u}/evidence/2025-02`,
    `/api/v1/units/${u}/evidence/2025-02?format=csv`,
    `/api/v1/live?unit=${u}`,
    `/api/v1/live?unit=${encodeURIComponent(u)}&unit=${AL}`,
  ];

  it('attack: a plant token scoped to unit A reads unit B on every route, by header and by session', async () => {
    const ent = make('enterprise', { provinces: [], units: [AL] });
    const { pair } = await login(ent);
    for (const url of unitRoutes(CE)) {
      for (const how of [{ token: ent }, { cookie: pair }]) {
        const res = await call('GET', url, how);
        expect(res.status, url).toBeGreaterThanOrEqual(400);
        expect(res.status, url).toBeLessThan(500);
        expect(res.code, url).toMatch(/^MRV_E_(FORBIDDEN|BAD_REQUEST)$/);
        expect(res.body).not.toContain(`unit ${CE}`);
      }
    }
    expect((await call('GET', `/api/v1/live?unit=${CE}`, { token: ent })).code).toBe('MRV_E_FORBIDDEN');
    expect((await call('GET', `/api/v1/units/${AL}/points`, { token: ent })).status).toBe(200);
  });

  it('attack: a regulator of province X reads a unit of province Y on every route', async () => {
    const reg = make('regulator', { provinces: ['安徽'], units: [] });
    for (const url of unitRoutes(AL)) {
      const res = await call('GET', url, { token: reg });
      expect(res.status, url).toBeGreaterThanOrEqual(400);
      expect(res.status, url).toBeLessThan(500);
      expect(res.code, url).toMatch(/^MRV_E_(FORBIDDEN|BAD_REQUEST)$/);
    }
    expect((await call('GET', `/api/v1/live?unit=${AL}`, { token: reg })).code).toBe('MRV_E_FORBIDDEN');
    const units = JSON.parse((await call('GET', '/api/v1/units', { token: reg })).body) as { id: string }[];
    expect(units.map((u) => u.id)).toEqual([CE]);
  });

  it("attack: a catalogue claiming the regulator's province moves no unit into its scope (issue 17)", async () => {
    // What reached the store from MQTT: AL's gateway now claims 安徽, and an unregistered unit claims it too.
    await store.writeMeta(AL, meta(AL, '安徽', 'aluminium'));
    await store.writeMeta('U-XX-9', meta('U-XX-9', '安徽', 'cement'));
    const reg = make('regulator', { provinces: ['安徽'], units: [] });
    const units = JSON.parse((await call('GET', '/api/v1/units', { token: reg })).body) as { id: string }[];
    expect(units.map((u) => u.id)).toEqual([CE]);
    for (const id of [AL, 'U-XX-9']) {
      for (const url of unitRoutes(id)) {
        const res = await call('GET', url, { token: reg });
        expect(res.code, url).toMatch(/^MRV_E_(FORBIDDEN|BAD_REQUEST)$/);
      }
      expect((await call('GET', `/api/v1/live?unit=${id}`, { token: reg })).code).toBe('MRV_E_FORBIDDEN');
    }
    // The admin sees the unregistered unit, marked as such; AL keeps its registered province.
    const all = JSON.parse((await call('GET', '/api/v1/units', { token: make('admin') })).body) as {
      id: string;
      province: string;
      registered: boolean;
    }[];
    expect(all.map((u) => [u.id, u.province, u.registered])).toEqual([
      [AL, '内蒙古', true],
      [CE, '安徽', true],
      ['U-XX-9', '安徽', false],
    ]);
  });

  it('attack: read-only roles may not log others out of admin routes or write', async () => {
    const reg = make('regulator', { provinces: ['安徽'], units: [] });
    for (const [method, url] of [
      ['GET', '/api/v1/admin/tokens'],
      ['GET', '/api/v1/admin/config'],
      ['POST', '/api/v1/units'],
      ['DELETE', `/api/v1/units/${CE}`],
    ] as const) {
      const res = await call(method, url, { token: reg });
      expect(res.status, url).toBeGreaterThanOrEqual(403);
      expect(res.status, url).toBeLessThan(405);
      expect(res.code).toMatch(/^MRV_E_(FORBIDDEN|NOT_FOUND)$/);
    }
  });
});

describe('path traversal', () => {
  it('attack: traversal on the static files answers 404 MRV_E_NOT_FOUND and serves nothing outside web/', async () => {
    for (const url of [
      '/../package.json',
      '/%2e%2e/package.json',
      '/..%2fpackage.json',
      '/vendor/uplot/..%2f..%2f..%2fpackage.json',
      '/pages/..%2f..%2f..%2fpackage.json',
      '/%2e%2e%2f%2e%2e%2fserver%2ftokens.ts',
      '/....//....//etc/passwd',
    ]) {
      const res = await call('GET', url);
      // 404, or 400 where the static server sees the traversal (`send` answers it 403 Forbidden).
      expect([400, 404], url).toContain(res.status);
      expect(res.code, url).toMatch(/^MRV_E_(NOT_FOUND|BAD_REQUEST)$/);
      expect(res.body).not.toContain('"dependencies"');
      expect(res.body).not.toContain('root:');
    }
  });

  it('attack: traversal in API ids stays inside the scope check', async () => {
    const ent = make('enterprise', { provinces: [], units: [AL] });
    for (const url of [
      `/api/v1/units/..%2F${CE}/points`,
      `/api/v1/units/${AL}%2F..%2F${CE}/points`,
      '/api/v1/units/..%2F..%2Fadmin%2Ftokens/points',
      `/api/v1/units/${AL}/../${CE}/points`,
    ]) {
      const res = await call('GET', url, { token: ent });
      expect(res.status, url).toBeGreaterThanOrEqual(400);
      expect(res.status, url).toBeLessThan(500);
      expect(res.code, url).toMatch(/^MRV_E_(FORBIDDEN|NOT_FOUND|BAD_REQUEST)$/);
      expect(res.body).not.toContain(`unit ${CE}`);
    }
  });
});

describe('malformed input', () => {
  it('attack: malformed ids, dates, months and options answer 4xx with an MRV_E_ code on every route', async () => {
    const admin = make('admin');
    const long = 'U'.repeat(65);
    const cases: [string, number, string][] = [
      [`/api/v1/units/${long}/points`, 400, 'MRV_E_BAD_REQUEST'],
      [`/api/v1/units/${AL}/points/${long}/series`, 400, 'MRV_E_BAD_REQUEST'],
      [`/api/v1/units/${AL}/points/p1/series?from=yesterday`, 400, 'MRV_E_BAD_REQUEST'],
      [`/api/v1/units/${AL}/points/p1/series?from=2025-02-30T00:00:00Z`, 400, 'MRV_E_BAD_REQUEST'],
      [`/api/v1/units/${AL}/points/p1/series?to=9999999999999999999`, 400, 'MRV_E_BAD_REQUEST'],
      [`/api/v1/units/${AL}/points/p1/series?step=fortnight`, 400, 'MRV_E_BAD_REQUEST'],
      [`/api/v1/units/${AL}/points/p1/series?limit=abc`, 400, 'MRV_E_BAD_REQUEST'],
      [`/api/v1/units/${AL}/points/p1/series?limit=-1`, 400, 'MRV_E_BAD_REQUEST'],
      [`/api/v1/units/${AL}/points/nope/series`, 404, 'MRV_E_NOT_FOUND'],
      [`/api/v1/units/${AL}/meters?at=noon`, 400, 'MRV_E_BAD_REQUEST'],
      [`/api/v1/units/${AL}/meters?dueSoonDays=-1`, 400, 'MRV_E_BAD_REQUEST'],
      [`/api/v1/units/${AL}/findings?from=x`, 400, 'MRV_E_BAD_REQUEST'],
      [
        `/api/v1/units/${AL}/findings?from=2025-03-01T00:00:00Z&to=2025-01-01T00:00:00Z`,
        400,
        'MRV_E_BAD_REQUEST',
      ],
      [`/api/v1/units/${AL}/findings?state=closed`, 400, 'MRV_E_BAD_REQUEST'],
      [`/api/v1/units/${AL}/evidence/2025-13`, 400, 'MRV_E_BAD_REQUEST'],
      [`/api/v1/units/${AL}/evidence/2025-1`, 400, 'MRV_E_BAD_REQUEST'],
      [`/api/v1/units/${AL}/evidence/abcd-ef`, 400, 'MRV_E_BAD_REQUEST'],
      [`/api/v1/units/${AL}/evidence/2025-02?format=xml`, 400, 'MRV_E_BAD_REQUEST'],
      ['/api/v1/units/NO-SUCH/evidence/2025-02', 404, 'MRV_E_NOT_FOUND'],
      ['/api/v1/live?unit=NO-SUCH', 404, 'MRV_E_NOT_FOUND'],
      [`/api/v1/live?unit=${AL}&unit=${CE}`, 400, 'MRV_E_BAD_REQUEST'],
      ['/api/v1/units/%E0%A4%A/points', 400, 'MRV_E_BAD_REQUEST'],
    ];
    for (const [url, status, code] of cases) {
      const res = await call('GET', url, { token: admin });
      expect(res.status, url).toBe(status);
      expect(res.code, url).toBe(code);
    }
    const bad = await call('POST', '/api/v1/evidence/verify?trustedKey=not-base64!!', {
      token: admin,
      payload: { signature: { keyId: 1 } },
    });
    expect(bad.status).toBeLessThan(500);
  });

  it('attack: the evidence of a unit whose points carry no parameter is a package, not a 500', async () => {
    const admin = make('admin');
    const res = await call('GET', `/api/v1/units/${AL}/evidence/2025-02`, { token: admin });
    expect(res.status).toBe(200);
    const pkg = JSON.parse(res.body) as {
      rawData: { readings: number; window: { from: string; to: string } };
    };
    expect(pkg.rawData.readings).toBe(0);
    expect(pkg.rawData.window.from).toBe(pkg.rawData.window.to);
    for (const format of ['csv', 'html']) {
      expect(
        (await call('GET', `/api/v1/units/${AL}/evidence/2025-02?format=${format}`, { token: admin })).status,
      ).toBe(200);
    }
    // The verify route takes it back.
    const check = await call('POST', '/api/v1/evidence/verify', {
      token: admin,
      payload: res.body,
      headers: { 'content-type': 'application/json' },
    });
    expect(JSON.parse(check.body)).toMatchObject({ ok: true });
  });
});
