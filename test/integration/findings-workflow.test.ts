/**
 * The findings workflow and password login over HTTP (server/workflow-routes.ts, session-routes.ts)
 * against a real embedded store and a real SQLite state database: each role, scope escapes, bad
 * transitions (409), bad input (never a 500), sessions ended by logout and by disabling the account.
 */
import { createHash } from 'node:crypto';
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
import { buildServer } from '../../server/app.ts';
import { FailureLimiter } from '../../server/auth.ts';
import { StateStore } from '../../server/state/state-store.ts';
import { TokenFile } from '../../server/tokens.ts';
import { finding } from './state-contract.ts';

// biome-ignore lint/suspicious/noExplicitAny: the answers' JSON is read loosely; the assertions check its shape
type Loose = Record<string, any>;

const NOW = Date.parse('2026-11-03T12:00:00.000Z');
const PASSWORD = 'a long enough password';
const cli = { id: 'cli:test', role: 'cli' as const };

function meta(unitId: string, province: string): GatewayMeta {
  return {
    v: 1,
    gatewayId: `gw-${unitId}`,
    unit: { id: unitId, name: `unit ${unitId}`, industry: 'aluminium', province },
    points: [{ id: 'p1', device: 'd1', unit: 't', aggregation: 'gauge' }],
    meters: [],
    configHash: 'a'.repeat(64),
  };
}

/** The unit registry: the only source of provinces for scope (server/auth.ts). */
const UNITS = new UnitRegistry(
  (
    [
      ['UA', '内蒙古'],
      ['UB', '内蒙古'],
      ['UC', '山东'],
    ] as const
  ).map(([id, province]) => ({
    id,
    name: `unit ${id}`,
    industry: 'aluminium' as const,
    province,
    gateways: [`gw-${id}`],
  })),
);

let dir: string;
let store: SqliteStore;
let state: StateStore;
let tokens: TokenFile;
let app: FastifyInstance;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mrv-workflow-'));
  store = new SqliteStore({ path: ':memory:' });
  await store.start();
  await store.writeMeta('UA', meta('UA', '内蒙古'));
  await store.writeMeta('UB', meta('UB', '内蒙古'));
  await store.writeMeta('UC', meta('UC', '山东'));
  await store.writeFindings([
    finding('fa-1', 'UA', { ts: '2026-11-03T06:00:00.000Z' }),
    finding('fa-2', 'UA', { ts: '2026-11-03T07:00:00.000Z' }),
    finding('fa-resolved', 'UA', {
      ts: '2026-11-03T08:00:00.000Z',
      state: 'resolved',
      resolvedAt: '2026-11-03T09:00:00.000Z',
      resolution: {
        by: 'late-batches',
        seqs: [[3, 4]],
        message: { zh: '补齐', en: 'arrived late' },
        detail: {},
      },
    }),
    finding('fc-1', 'UC', { ts: '2026-11-03T06:00:00.000Z' }),
    // The collector's ids hold slashes, the rules' colons (collector/integrity.ts, core/domain/rules.ts).
    finding('integrity/UA/gw-UA/MRV_F_SEQ_GAP/3-4', 'UA', { ts: '2026-11-03T05:00:00.000Z' }),
  ]);
  state = await StateStore.open(join(dir, 'state.sqlite'));
  for (const [username, role, scope] of [
    ['ent-a', 'enterprise', { provinces: [], units: ['UA'] }],
    ['ent-c', 'enterprise', { provinces: [], units: ['UC'] }],
    ['reg-nm', 'regulator', { provinces: ['内蒙古'], units: [] }],
    ['admin', 'admin', { provinces: [], units: [] }],
  ] as const)
    await state.addAccount(
      {
        username,
        password: PASSWORD,
        role,
        scope: { ...scope, units: [...scope.units], provinces: [...scope.provinces] },
      },
      cli,
    );
  tokens = TokenFile.inDataDir(dir);
  app = buildServer({
    units: UNITS,
    store,
    live: new LiveHub(),
    tokens,
    state,
    clock: new ManualClock(NOW),
    loginLimiter: new FailureLimiter({ max: 3, windowMs: 60_000 }),
    version: '9.9.9-test',
  });
  await app.ready();
});

afterEach(async () => {
  await app.close();
  await state.close();
  await store.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function login(username: string, password = PASSWORD) {
  const res = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { username, password } });
  const cookie = String(res.headers['set-cookie'] ?? '').split(';')[0] ?? '';
  return { status: res.statusCode, cookie, json: () => res.json() };
}

async function call(method: 'GET' | 'POST' | 'DELETE', url: string, cookie: string, payload?: unknown) {
  const res = await app.inject({
    method,
    url,
    headers: { cookie, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(payload !== undefined ? { payload: JSON.stringify(payload) } : {}),
  });
  let json: unknown;
  try {
    json = res.json();
  } catch {
    json = undefined;
  }
  return {
    status: res.statusCode,
    json: json as Loose,
    body: res.rawPayload,
    headers: res.headers,
  };
}

const errCode = (r: { json: Loose }) => r.json?.error?.code as string;
const list = (cookie: string, unit = 'UA', query = '') =>
  call('GET', `/api/v1/units/${unit}/findings${query}`, cookie);

describe('password login', () => {
  it('logs in with username and password, ends the session on logout and when the account is disabled', async () => {
    const a = await login('ent-a');
    expect(a.status).toBe(200);
    expect(a.json()).toMatchObject({ username: 'ent-a', role: 'enterprise', scope: { units: ['UA'] } });
    expect(a.cookie).toMatch(/^mrv_session=/);
    expect((await call('GET', '/api/v1/session', a.cookie)).json.username).toBe('ent-a');
    expect((await call('DELETE', '/api/v1/session', a.cookie)).status).toBe(204);
    expect((await call('GET', '/api/v1/session', a.cookie)).status).toBe(401);

    const b = await login('ent-a');
    expect((await call('GET', '/api/v1/units/UA/points', b.cookie)).status).toBe(200);
    await state.disableAccount('ent-a', cli);
    const after = await call('GET', '/api/v1/units/UA/points', b.cookie);
    expect(after.status).toBe(401);
    expect((await login('ent-a')).status).toBe(401);
    const audit = await state.listAudit({ targetKind: 'account', targetId: 'ent-a' });
    expect(audit.map((e) => e.action)).toContain('session.login');
  });

  it('locks out a guessed username but never its valid password; the session lives in the database', async () => {
    for (let i = 0; i < 3; i++) expect((await login('reg-nm', 'wrong password!!')).status).toBe(401);
    const locked = await login('reg-nm', 'wrong password!!');
    expect(locked.status).toBe(429);
    expect(errCode({ json: locked.json() })).toBe('MRV_E_RATE_LIMITED');
    const ok = await login('reg-nm');
    expect(ok.status).toBe(200);
    // Another server instance on the same database knows the session (several instances, one state).
    const other = buildServer({
      units: UNITS,
      store,
      live: new LiveHub(),
      tokens,
      state,
      version: 'x',
    });
    await other.ready();
    const res = await other.inject({ method: 'GET', url: '/api/v1/session', headers: { cookie: ok.cookie } });
    await other.close();
    expect(res.statusCode).toBe(200);
    expect(res.json().username).toBe('reg-nm');
  });

  it('never logs a password or a session id, whether the login fails or succeeds', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const logged = buildServer({
      units: UNITS,
      store,
      live: new LiveHub(),
      tokens,
      state,
      logger: pino({ level: 'debug' }, sink),
      version: 'x',
    });
    await logged.ready();
    const wrong = await logged.inject({
      method: 'POST',
      url: '/api/v1/session',
      payload: { username: 'ent-a', password: 'WRONG-secret-guess-42' },
    });
    const right = await logged.inject({
      method: 'POST',
      url: '/api/v1/session',
      payload: { username: 'ent-a', password: PASSWORD },
    });
    await logged.close();
    expect([wrong.statusCode, right.statusCode]).toEqual([401, 200]);
    const id = String(right.headers['set-cookie']).split(';')[0]!.split('=')[1]!;
    const text = lines.join('');
    expect(text).toContain('auth: rejected credential');
    expect(text).toContain('auth: login');
    for (const secret of ['WRONG-secret-guess-42', PASSWORD, id]) expect(text).not.toContain(secret);
  });

  it('refuses a body with both or neither credential with 400, and an unknown user with 401', async () => {
    const both = await app.inject({
      method: 'POST',
      url: '/api/v1/session',
      payload: { token: 'x', username: 'a', password: 'b' },
    });
    expect(both.statusCode).toBe(400);
    const neither = await app.inject({ method: 'POST', url: '/api/v1/session', payload: {} });
    expect(neither.statusCode).toBe(400);
    expect((await login('nobody')).status).toBe(401);
  });

  it('API tokens keep working beside accounts', async () => {
    const { token } = tokens.create({
      role: 'enterprise',
      scope: { provinces: [], units: ['UA'] },
      name: 'scada',
    });
    const res = await app.inject({
      method: 'GET',
      url: '/api/v1/units/UA/findings',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.statusCode).toBe(200);
    const f = (res.json() as Array<{ id: string; workflow: { actions: string[] } }>).find(
      (x) => x.id === 'fa-1',
    );
    expect(f?.workflow.actions).toEqual(['acknowledge', 'explain']);
    const ack = await app.inject({
      method: 'POST',
      url: '/api/v1/findings/fa-1/acknowledge',
      headers: { authorization: `Bearer ${token}` },
      payload: {},
    });
    expect(ack.statusCode).toBe(200);
    const history = (await state.listAudit({ targetKind: 'finding', targetId: 'fa-1' })).map((e) => e.actor);
    expect(history).toEqual([expect.stringMatching(/^token:[0-9a-f]{8}$/)]);
  });
});

describe('findings workflow', () => {
  it('enterprise acknowledges and explains with an attachment, the regulator closes, the admin reopens; all in the history', async () => {
    const ent = (await login('ent-a')).cookie;
    const reg = (await login('reg-nm')).cookie;
    const admin = (await login('admin')).cookie;
    const listed = await list(ent);
    expect(listed.status).toBe(200);
    const byId = new Map((listed.json as unknown as Array<Loose>).map((f) => [f.id, f]));
    expect(byId.get('fa-1')?.workflow).toMatchObject({ state: 'open', actions: ['acknowledge', 'explain'] });
    expect(byId.get('fa-resolved')?.workflow).toMatchObject({ state: 'resolved', actions: [] });
    expect((await call('GET', '/api/v1/findings/open-counts', reg)).json).toEqual({ UA: 3, UB: 0 });

    const ack = await call('POST', '/api/v1/findings/fa-1/acknowledge', ent, {});
    expect(ack.status).toBe(200);
    expect(ack.json).toMatchObject({
      state: 'acknowledged',
      updatedBy: 'account:ent-a',
      actions: ['explain'],
    });

    const pdf = Buffer.from('%PDF-1.7\n1 0 obj << >> endobj\n');
    const explained = await call('POST', '/api/v1/findings/fa-1/explain', ent, {
      text: '网关停电两小时，数据已补传 / gateway lost power for two hours',
      attachment: {
        fileName: '停电记录.pdf',
        contentType: 'application/pdf',
        dataBase64: pdf.toString('base64'),
      },
    });
    expect(explained.status).toBe(200);
    const sha = createHash('sha256').update(pdf).digest('hex');
    expect(explained.json.attachment).toEqual({
      sha256: sha,
      fileName: '停电记录.pdf',
      contentType: 'application/pdf',
      size: pdf.length,
    });
    expect(explained.json.actions).toEqual([]);

    // The regulator sees the explanation and its attachment, byte for byte.
    const asReg = (await list(reg, 'UA', '?state=explained')).json as unknown as Array<Loose>;
    expect(asReg.map((f) => f.id)).toEqual(['fa-1']);
    expect(asReg[0]?.workflow.actions).toEqual(['close', 'reopen']);
    const file = await call('GET', `/api/v1/findings/fa-1/attachments/${sha}`, reg);
    expect(file.status).toBe(200);
    expect(file.headers['content-type']).toBe('application/pdf');
    expect(file.headers['x-content-type-options']).toBe('nosniff');
    expect(Buffer.compare(file.body, pdf)).toBe(0);

    const closed = await call('POST', '/api/v1/findings/fa-1/close', reg, { text: '解释合理 / accepted' });
    expect(closed.json).toMatchObject({
      state: 'closed',
      closedBy: 'account:reg-nm',
      comment: '解释合理 / accepted',
    });
    expect((await call('GET', '/api/v1/findings/open-counts', reg)).json).toEqual({ UA: 2, UB: 0 });
    expect((await list(ent, 'UA', '?state=closed')).json.map((f: { id: string }) => f.id)).toEqual(['fa-1']);
    expect((await list(ent, 'UA', '?state=open')).json.map((f: { id: string }) => f.id)).toEqual([
      'integrity/UA/gw-UA/MRV_F_SEQ_GAP/3-4',
      'fa-2',
    ]);

    const reopened = await call('POST', '/api/v1/findings/fa-1/reopen', admin, {
      text: 'certificate is a copy',
    });
    expect(reopened.json).toMatchObject({ state: 'open', reopenCount: 1 });

    const detail = await call('GET', '/api/v1/findings/fa-1', ent);
    expect(detail.status).toBe(200);
    expect(detail.json.history.map((e: Loose) => [e.action, e.actor, e.actorRole])).toEqual([
      ['finding.acknowledge', 'account:ent-a', 'enterprise'],
      ['finding.explain', 'account:ent-a', 'enterprise'],
      ['finding.close', 'account:reg-nm', 'regulator'],
      ['finding.reopen', 'account:admin', 'admin'],
    ]);
    expect(detail.json.history.every((e: { at: string }) => !Number.isNaN(Date.parse(e.at)))).toBe(true);
    // The admin lists the accounts, never their password hashes; others may not.
    const accounts = await call('GET', '/api/v1/admin/accounts', admin);
    expect(accounts.json.map((x: Loose) => x.username)).toEqual(['admin', 'ent-a', 'ent-c', 'reg-nm']);
    expect(JSON.stringify(accounts.json)).not.toContain('argon2');
    expect((await call('GET', '/api/v1/admin/accounts', reg)).status).toBe(403);
    // The admin reads the whole audit log.
    expect((await call('GET', '/api/v1/audit?unit=UA', admin)).json.length).toBe(4);
    expect((await call('GET', '/api/v1/audit', ent)).status).toBe(403);
  });

  it("scope escapes: another unit's findings are 403 by unit and 404 by id, for enterprises and regulators", async () => {
    const entA = (await login('ent-a')).cookie;
    const entC = (await login('ent-c')).cookie;
    const reg = (await login('reg-nm')).cookie;
    await list(entC, 'UC'); // UC's findings are now known to the workflow
    await list(entA, 'UA');
    expect((await list(entA, 'UC')).status).toBe(403);
    for (const [cookie, who] of [
      [entA, 'enterprise of UA'],
      [reg, 'regulator of 内蒙古'],
    ] as const) {
      for (const action of ['acknowledge', 'explain', 'close', 'reopen'])
        expect(
          errCode(await call('POST', `/api/v1/findings/fc-1/${action}`, cookie, { text: 'x' })),
          `${who} ${action}`,
        ).toBe('MRV_E_NOT_FOUND');
      expect((await call('GET', '/api/v1/findings/fc-1', cookie)).status).toBe(404);
      expect((await call('GET', `/api/v1/findings/fc-1/attachments/${'0'.repeat(64)}`, cookie)).status).toBe(
        404,
      );
    }
    // ... and the enterprise of UC cannot act on UA's.
    expect((await call('POST', '/api/v1/findings/fa-1/acknowledge', entC, {})).status).toBe(404);
    expect((await call('GET', '/api/v1/findings/open-counts', entA)).json).toEqual({ UA: 3 });
  });

  it('takes finding ids with slashes and colons, percent-encoded in the path', async () => {
    const ent = (await login('ent-a')).cookie;
    await list(ent);
    const id = encodeURIComponent('integrity/UA/gw-UA/MRV_F_SEQ_GAP/3-4');
    const ack = await call('POST', `/api/v1/findings/${id}/acknowledge`, ent, {});
    expect([ack.status, ack.json.findingId]).toEqual([200, 'integrity/UA/gw-UA/MRV_F_SEQ_GAP/3-4']);
    expect((await call('GET', `/api/v1/findings/${id}`, ent)).json.workflow.state).toBe('acknowledged');
  });

  it('wrong role 403, wrong state 409, bad input 400/413/415, never a 500', async () => {
    const ent = (await login('ent-a')).cookie;
    const reg = (await login('reg-nm')).cookie;
    await list(ent);
    expect(errCode(await call('POST', '/api/v1/findings/fa-1/close', ent, {}))).toBe('MRV_E_FORBIDDEN');
    expect(errCode(await call('POST', '/api/v1/findings/fa-1/acknowledge', reg, {}))).toBe('MRV_E_FORBIDDEN');
    const early = await call('POST', '/api/v1/findings/fa-1/close', reg, {});
    expect(early.status).toBe(409);
    expect(errCode(early)).toBe('MRV_E_FINDING_TRANSITION');
    const resolved = await call('POST', '/api/v1/findings/fa-resolved/acknowledge', ent, {});
    expect([resolved.status, errCode(resolved)]).toEqual([409, 'MRV_E_FINDING_TRANSITION']);
    expect((await call('POST', '/api/v1/findings/fa-1/acknowledge', ent, {})).status).toBe(200);
    expect(errCode(await call('POST', '/api/v1/findings/fa-1/acknowledge', ent, {}))).toBe(
      'MRV_E_FINDING_TRANSITION',
    );

    const bad: Array<[unknown, number, string]> = [
      [{}, 400, 'MRV_E_BAD_REQUEST'],
      [{ text: '   ' }, 400, 'MRV_E_BAD_REQUEST'],
      [{ text: 'x'.repeat(10_001) }, 400, 'MRV_E_BAD_REQUEST'],
      [
        {
          text: 'x',
          attachment: { fileName: 'a.exe', contentType: 'application/x-msdownload', dataBase64: 'TVo=' },
        },
        400,
        'MRV_E_BAD_REQUEST',
      ],
      [
        {
          text: 'x',
          attachment: { fileName: 'a.pdf', contentType: 'application/pdf', dataBase64: '!!notbase64' },
        },
        400,
        'MRV_E_BAD_REQUEST',
      ],
      [
        {
          text: 'x',
          attachment: {
            fileName: 'a.pdf',
            contentType: 'application/pdf',
            dataBase64: Buffer.from('MZ\x90\x00').toString('base64'),
          },
        },
        415,
        'MRV_E_UNSUPPORTED_MEDIA',
      ],
      [
        { text: 'x', attachment: { fileName: 'a.png', contentType: 'image/png', dataBase64: '' } },
        400,
        'MRV_E_BAD_REQUEST',
      ],
      [
        {
          text: 'x',
          attachment: {
            fileName: 'big.txt',
            contentType: 'text/plain',
            dataBase64: Buffer.alloc(2 * 1024 * 1024 + 1, 0x41).toString('base64'),
          },
        },
        413,
        'MRV_E_TOO_LARGE',
      ],
      ['not json at all', 400, 'MRV_E_BAD_REQUEST'],
    ];
    for (const [payload, status, code] of bad) {
      const r = await call('POST', '/api/v1/findings/fa-1/explain', ent, payload);
      expect([r.status, errCode(r)], JSON.stringify(payload).slice(0, 120)).toEqual([status, code]);
    }
    // An unknown action is an unknown route (403 for a non-admin POST, as every unknown POST under /api/).
    expect([403, 404]).toContain((await call('POST', '/api/v1/findings/fa-1/frobnicate', ent, {})).status);
    expect((await call('POST', `/api/v1/findings/${'x'.repeat(129)}/acknowledge`, ent, {})).status).toBe(400);
    expect((await call('POST', '/api/v1/findings/unknown/acknowledge', ent, {})).status).toBe(404);
    expect((await call('GET', '/api/v1/findings/fa-1/attachments/NOTHEX', ent)).status).toBe(400);
    expect((await list(ent, 'UA', '?state=nonsense')).status).toBe(400);
    // Nothing above changed the finding.
    expect((await call('GET', '/api/v1/findings/fa-1', ent)).json.workflow.state).toBe('acknowledged');
  });

  it('without a state database the workflow answers 503 MRV_E_STATE_DB and the list stays read-only', async () => {
    const plain = buildServer({
      units: UNITS,
      store,
      live: new LiveHub(),
      version: 'x',
      clock: new ManualClock(NOW),
    });
    await plain.ready();
    const act = await plain.inject({ method: 'POST', url: '/api/v1/findings/fa-1/acknowledge', payload: {} });
    const listed = await plain.inject({ method: 'GET', url: '/api/v1/units/UA/findings' });
    await plain.close();
    expect([act.statusCode, act.json().error.code]).toEqual([503, 'MRV_E_STATE_DB']);
    expect(listed.statusCode).toBe(200);
    expect(listed.json()[0]).not.toHaveProperty('workflow');
  });
});
