/**
 * The meter ledger over HTTP (server/ledger-routes.ts) against a real embedded store, a real SQLite
 * state database and password accounts: seeding at start, a renewal with its PDF turning an expired
 * meter valid in `/meters` and in the month's evidence, scans checked by their bytes, scope (another
 * unit's account changes nothing), the audit log, corrections that keep the old row, and errors from
 * the catalogue, never a 500.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { evidence } from '../../cli/evidence.ts';
import { LiveHub } from '../../collector/live.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { StoredReading } from '../../collector/store.ts';
import type { EvidencePackage } from '../../core/domain/evidence.ts';
import { SiteConfig } from '../../core/schema/site.ts';
import { UnitRegistry } from '../../core/schema/unit-registry.ts';
import type { GatewayMeta } from '../../core/schema/wire.ts';
import { ManualClock } from '../../core/time.ts';
import { buildServer } from '../../server/app.ts';
import { MAX_SCAN_BYTES, MeterLedger } from '../../server/state/meter-ledger.ts';
import { StateStore } from '../../server/state/state-store.ts';
import { TokenFile } from '../../server/tokens.ts';
import { pdfBytes, pngBytes } from './ledger-contract.ts';

// biome-ignore lint/suspicious/noExplicitAny: the answers' JSON is read loosely; the assertions check its shape
type Loose = Record<string, any>;

const PASSWORD = 'a long enough password';
const cli = { id: 'cli:test', role: 'cli' as const };
const cst = (m: number, d: number, h = 12) => Date.UTC(2026, m - 1, d, h - 8);
const NOW = cst(3, 20);

/** A unit whose ladle scale's certificate L-1 lapsed on 2026-03-10 (UTC+8), with a ticketed ladle point. */
function site(unitId: string): SiteConfig {
  return SiteConfig.parse({
    version: 1,
    unit: { id: unitId, name: `unit ${unitId}`, industry: 'aluminium', province: '内蒙古' },
    gateway: { id: `gw-${unitId}`, mqtt: { url: 'mqtt://127.0.0.1:1883' } },
    meters: [
      {
        id: 'ladle-1',
        name: 'ladle scale',
        kind: 'ladle-scale',
        calibrations: [
          {
            certificate: 'L-1',
            kind: 'verification',
            date: '2025-03-11',
            validUntil: '2026-03-10',
            body: '示范市计量所',
            result: '合格',
          },
        ],
      },
    ],
    devices: [
      {
        id: 'stations',
        driver: 'modbus-tcp',
        host: '127.0.0.1',
        port: 502,
        pollIntervalMs: 86_400_000,
        points: [
          {
            id: 'ladle.net',
            meter: 'ladle-1',
            unit: 't',
            parameter: 'aluminium.liquid_output',
            aggregation: 'events',
            ticketPoint: 'ladle.ticket_no',
            table: 'holding',
            address: 0,
            type: 'uint32',
            scale: '0.001',
          },
          {
            id: 'ladle.ticket_no',
            meter: 'ladle-1',
            unit: 'id',
            table: 'holding',
            address: 2,
            type: 'uint32',
          },
        ],
      },
    ],
  });
}

function meta(s: SiteConfig): GatewayMeta {
  return {
    v: 1,
    gatewayId: s.gateway.id,
    unit: s.unit,
    points: s.devices.flatMap((d) => d.points.map((p) => ({ id: p.id, device: d.id, unit: String(p.unit) }))),
    meters: s.meters,
    configHash: '0'.repeat(64),
  };
}

/** A ladle of 3 t every day of March until the 19th (UTC+8) at unit UL, tickets 1, 2, 3, ... */
function ladleReadings(): StoredReading[] {
  const rs: StoredReading[] = [];
  for (let d = 1; d <= 19; d++)
    for (const [point, value] of [
      ['ladle.ticket_no', String(d)],
      ['ladle.net', '3'],
    ] as const)
      rs.push({
        unitId: 'UL',
        gatewayId: 'gw-UL',
        device: 'stations',
        point,
        meter: 'ladle-1',
        ts: cst(3, d),
        rxTs: cst(3, d),
        value,
        quality: 'good',
        seq: d,
      });
  return rs;
}

const UNITS = new UnitRegistry(
  (
    [
      ['UL', '内蒙古'],
      ['UC', '山东'],
      ['US', '内蒙古'],
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
let app: FastifyInstance;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mrv-ledger-api-'));
  store = new SqliteStore({ path: ':memory:' });
  await store.start();
  const sites = [site('UL'), site('UC')];
  for (const s of sites) await store.writeMeta(s.unit.id, meta(s));
  // US: known from its gateway's catalogue alone (no site file on the server); its points name weighbridge ws-9.
  await store.writeMeta('US', {
    v: 1,
    gatewayId: 'gw-US',
    unit: { id: 'US', name: 'unit US', industry: 'aluminium', province: '内蒙古' },
    points: [{ id: 'ws.net', device: 'ws', unit: 't', meter: 'ws-9' }],
    meters: [],
    configHash: '1'.repeat(64),
  });
  await store.writeReadings(ladleReadings());
  state = await StateStore.open(join(dir, 'state.sqlite'));
  for (const [username, role, scope] of [
    ['ent-l', 'enterprise', { provinces: [], units: ['UL'] }],
    ['ent-c', 'enterprise', { provinces: [], units: ['UC'] }],
    ['reg-nm', 'regulator', { provinces: ['内蒙古'], units: [] }],
    ['metro-l', 'metrologist', { provinces: [], units: ['UL'] }],
    ['admin', 'admin', { provinces: [], units: [] }],
  ] as const)
    await state.addAccount(
      {
        username,
        password: PASSWORD,
        role,
        scope: { provinces: [...scope.provinces], units: [...scope.units] },
      },
      cli,
    );
  app = buildServer({
    units: UNITS,
    store,
    live: new LiveHub(),
    tokens: TokenFile.inDataDir(dir),
    state,
    clock: new ManualClock(NOW),
    domain: { sites, keyFile: join(dir, 'key.pem'), generator: 'carbon-mrv test' },
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

const cookies = new Map<string, string>();
async function as(username: string): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/session',
    payload: { username, password: PASSWORD },
  });
  expect(res.statusCode).toBe(200);
  const cookie = String(res.headers['set-cookie'] ?? '').split(';')[0] ?? '';
  cookies.set(username, cookie);
  return cookie;
}

async function call(method: 'GET' | 'POST', url: string, cookie: string, payload?: unknown) {
  const res = await app.inject({
    method,
    url,
    headers: { cookie, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(payload !== undefined ? { payload: JSON.stringify(payload) } : {}),
  });
  let json: Loose | undefined;
  try {
    json = res.json();
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, json: json as Loose, body: res.rawPayload, headers: res.headers };
}

const errCode = (r: { json: Loose }) => r.json?.error?.code as string;
const LEDGER = '/api/v1/units/UL/ledger/meters';

function renewalBody(extra: Loose = {}, data = pdfBytes('L-2'), contentType = 'application/pdf') {
  return {
    kind: 'verification',
    certificate: 'L-2',
    body: '示范市计量所',
    regulation: 'JJG 539-2016',
    date: '2026-03-11',
    validUntil: '2027-03-10',
    result: '合格',
    scan: { fileName: 'L-2.pdf', contentType, dataBase64: data.toString('base64') },
    ...extra,
  };
}

describe('meter ledger API', () => {
  it('seeds the ledger from the site files at start: the lapsed certificate shows expired', async () => {
    const ent = await as('ent-l');
    const list = await call('GET', LEDGER, ent);
    expect(list.status).toBe(200);
    expect(list.json.map((m: Loose) => [m.id, m.calibration.status, m.calibration.certificate])).toEqual([
      ['ladle-1', 'expired', 'L-1'],
    ]);
    expect(list.json[0].certificates[0]).toMatchObject({
      source: 'site',
      state: 'current',
      certificate: 'L-1',
    });
    const meters = await call('GET', '/api/v1/units/UL/meters', ent);
    expect(meters.json[0].calibration).toMatchObject({ status: 'expired', certificate: 'L-1' });
  });

  it('an enterprise account renews the expired certificate with a PDF: valid in /meters and in the month evidence', async () => {
    const ent = await as('ent-l');
    const before = (await call('GET', '/api/v1/units/UL/evidence/2026-03', ent)).json as EvidencePackage;
    const ladleBefore = before.meters.find((m) => m.id === 'ladle-1')!;
    expect(ladleBefore.atMonthEnd.status).toBe('expired');
    const outsideBefore = before.parameters.flatMap((p) => p.points).find((p) => p.id === 'ladle.net');
    expect(outsideBefore?.readingsOutsideCalibration).toBeGreaterThan(0);

    const res = await call('POST', `${LEDGER}/ladle-1/certificates`, ent, renewalBody());
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      certificate: 'L-2',
      state: 'current',
      source: 'ledger',
      createdBy: 'account:ent-l',
      scan: {
        sha256: createHash('sha256').update(pdfBytes('L-2')).digest('hex'),
        contentType: 'application/pdf',
      },
    });

    const list = await call('GET', LEDGER, ent);
    expect(list.json[0].calibration).toMatchObject({
      status: 'valid',
      certificate: 'L-2',
      validUntil: '2027-03-10',
    });
    const meters = await call('GET', '/api/v1/units/UL/meters', ent);
    expect(meters.json[0].calibration).toMatchObject({ status: 'valid', certificate: 'L-2' });
    expect(meters.json[0].certificates.map((c: Loose) => c.certificate)).toEqual(['L-1', 'L-2']);

    const after = (await call('GET', '/api/v1/units/UL/evidence/2026-03', ent)).json as EvidencePackage;
    const ladle = after.meters.find((m) => m.id === 'ladle-1')!;
    expect(ladle.atMonthEnd).toMatchObject({ status: 'valid', certificate: 'L-2' });
    expect(ladle.segments.map((s) => [s.status, s.certificate])).toEqual([
      ['valid', 'L-1'],
      ['valid', 'L-2'],
    ]);
    expect(
      after.parameters.flatMap((p) => p.points).find((p) => p.id === 'ladle.net')?.readingsOutsideCalibration,
    ).toBe(0);

    // The scan comes back as stored, with its hash, never sniffed by the browser.
    const scan = await app.inject({
      url: `${LEDGER}/ladle-1/certificates/${res.json.id}/scan`,
      headers: { cookie: ent },
    });
    expect(scan.statusCode).toBe(200);
    expect(scan.headers['content-type']).toBe('application/pdf');
    expect(scan.headers['x-content-type-options']).toBe('nosniff');
    expect(scan.headers['x-sha256']).toBe(res.json.scan.sha256);
    expect(scan.rawPayload.equals(pdfBytes('L-2'))).toBe(true);

    // A regulator of the province reads it too.
    const reg = await as('reg-nm');
    expect((await call('GET', `${LEDGER}/ladle-1`, reg)).json.meter.calibration.status).toBe('valid');
  });

  it('a metrologist (计量管理员) renews and corrects its unit’s certificates, not another unit’s, and neither explains findings nor confirms evidence', async () => {
    const metro = await as('metro-l');
    const session = await call('GET', '/api/v1/session', metro);
    expect(session.json).toMatchObject({ role: 'metrologist', scope: { units: ['UL'] } });
    const res = await call('POST', `${LEDGER}/ladle-1/certificates`, metro, renewalBody());
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ certificate: 'L-2', createdBy: 'account:metro-l' });
    const meters = await call('GET', '/api/v1/units/UL/meters', metro);
    expect(meters.json[0].calibration).toMatchObject({ status: 'valid', certificate: 'L-2' });
    const fix = await call('POST', `${LEDGER}/ladle-1/certificates/${res.json.id}/correction`, metro, {
      reason: '有效期录入错误 / valid-until mistyped',
      certificate: { ...renewalBody(), validUntil: '2027-03-09' },
    });
    expect(fix.status).toBe(201);
    const history = (await call('GET', `${LEDGER}/ladle-1`, metro)).json.history as Loose[];
    expect(history.map((h) => [h.action, h.actor, h.actorRole]).slice(-2)).toEqual([
      ['certificate.renew', 'account:metro-l', 'metrologist'],
      ['certificate.correct', 'account:metro-l', 'metrologist'],
    ]);
    // Another unit: the auth hook refuses it, reading or writing.
    const other = await call(
      'POST',
      '/api/v1/units/UC/ledger/meters/ladle-1/certificates',
      metro,
      renewalBody(),
    );
    expect([other.status, errCode(other)]).toEqual([403, 'MRV_E_FORBIDDEN']);
    expect((await call('GET', '/api/v1/units/UC/ledger/meters', metro)).status).toBe(403);
    // Reads what an enterprise reads: the unit's findings and confirmations.
    expect((await call('GET', '/api/v1/units/UL/findings', metro)).status).toBe(200);
    expect((await call('GET', '/api/v1/units/UL/confirmations', metro)).status).toBe(200);
    // But takes no findings action and confirms no month.
    for (const action of ['acknowledge', 'explain', 'close', 'reopen']) {
      const r = await call('POST', `/api/v1/findings/any-finding/${action}`, metro, { text: 'x' });
      expect([action, r.status, errCode(r)]).toEqual([action, 403, 'MRV_E_FORBIDDEN']);
    }
    const confirm = await call('POST', '/api/v1/units/UL/confirmations/2026-02', metro, {});
    expect([confirm.status, errCode(confirm)]).toEqual([403, 'MRV_E_FORBIDDEN']);
  });

  it('refuses a content-type lie, an .exe, bad base64 and an oversize scan, storing nothing', async () => {
    const ent = await as('ent-l');
    const url = `${LEDGER}/ladle-1/certificates`;
    const lie = await call('POST', url, ent, renewalBody({}, pngBytes(), 'application/pdf'));
    expect([lie.status, errCode(lie)]).toEqual([415, 'MRV_E_UNSUPPORTED_MEDIA']);
    const exe = await call('POST', url, ent, {
      ...renewalBody(),
      scan: {
        fileName: 'cert.exe',
        contentType: 'application/x-msdownload',
        dataBase64: Buffer.from('MZ\x90\x00').toString('base64'),
      },
    });
    expect([exe.status, errCode(exe)]).toEqual([415, 'MRV_E_UNSUPPORTED_MEDIA']);
    const exeNamed = await call('POST', url, ent, {
      ...renewalBody(),
      scan: { ...renewalBody().scan, fileName: 'cert.exe' },
    });
    expect([exeNamed.status, errCode(exeNamed)]).toEqual([415, 'MRV_E_UNSUPPORTED_MEDIA']);
    const notB64 = await call('POST', url, ent, {
      ...renewalBody(),
      scan: { ...renewalBody().scan, dataBase64: '%%%%' },
    });
    expect([notB64.status, errCode(notB64)]).toEqual([400, 'MRV_E_BAD_REQUEST']);
    const big = Buffer.concat([pdfBytes(), Buffer.alloc(MAX_SCAN_BYTES)]);
    const over = await call('POST', url, ent, renewalBody({}, big));
    expect([over.status, errCode(over)]).toEqual([413, 'MRV_E_TOO_LARGE']);
    const huge = await call('POST', url, ent, renewalBody({}, Buffer.concat([big, big])));
    expect([huge.status, errCode(huge)]).toEqual([413, 'MRV_E_TOO_LARGE']);
    const noScan = await call('POST', url, ent, { ...renewalBody(), scan: undefined });
    expect([noScan.status, errCode(noScan)]).toEqual([400, 'MRV_E_BAD_REQUEST']);
    const m = await call('GET', `${LEDGER}/ladle-1`, ent);
    expect(m.json.certificates.map((c: Loose) => c.certificate)).toEqual(['L-1']);
    expect(m.json.meter.calibration.status).toBe('expired');
  });

  it('bad dates, unknown meters and units answer catalogue errors, never a 500', async () => {
    const ent = await as('ent-l');
    const url = `${LEDGER}/ladle-1/certificates`;
    for (const [extra, status] of [
      [{ date: '2026-02-30' }, 400],
      [{ date: 'yesterday' }, 400],
      [{ validUntil: '2026-03-01' }, 400],
      [{ date: '2026-04-01', validUntil: '2027-03-31' }, 400], // after the server's today
      [{ kind: 'guess' }, 400],
      [{ validUntil: undefined }, 400],
    ] as const) {
      const r = await call('POST', url, ent, renewalBody(extra));
      expect([extra, r.status, errCode(r)]).toEqual([extra, status, 'MRV_E_BAD_REQUEST']);
    }
    const nope = await call('POST', `${LEDGER}/nope/certificates`, ent, renewalBody());
    expect([nope.status, errCode(nope)]).toEqual([404, 'MRV_E_NOT_FOUND']);
    expect((await call('GET', `${LEDGER}/nope`, ent)).status).toBe(404);
    expect((await call('GET', `${LEDGER}/ladle-1/certificates/abc/scan`, ent)).status).toBe(404);
    const admin = await as('admin');
    const unknown = await call('GET', '/api/v1/units/NOPE/ledger/meters', admin);
    expect([unknown.status, errCode(unknown)]).toEqual([404, 'MRV_E_NOT_FOUND']);
    const badAt = await call('GET', `${LEDGER}?at=never`, ent);
    expect(badAt.status).toBe(400);
    const neither = await call('POST', `${LEDGER}/ladle-1/certificates/abc/correction`, ent, { reason: 'x' });
    expect([neither.status, errCode(neither)]).toEqual([400, 'MRV_E_BAD_REQUEST']);
  });

  it("another unit's account and a regulator change nothing: 403 or 404", async () => {
    const ent = await as('ent-l');
    const added = await call('POST', `${LEDGER}/ladle-1/certificates`, ent, renewalBody());
    expect(added.status).toBe(201);
    const historyBefore = (await call('GET', `${LEDGER}/ladle-1`, ent)).json;

    const other = await as('ent-c');
    expect((await call('GET', LEDGER, other)).status).toBe(403);
    expect((await call('GET', `${LEDGER}/ladle-1/certificates/${added.json.id}/scan`, other)).status).toBe(
      403,
    );
    const post = await call(
      'POST',
      `${LEDGER}/ladle-1/certificates`,
      other,
      renewalBody({ certificate: 'X-1' }),
    );
    expect([post.status, errCode(post)]).toEqual([403, 'MRV_E_FORBIDDEN']);
    const fix = await call('POST', `${LEDGER}/ladle-1/certificates/${added.json.id}/correction`, other, {
      reason: 'not mine',
      withdraw: true,
    });
    expect(fix.status).toBe(403);
    // Through its own unit's path, a certificate id of another unit is unknown.
    const sideways = await call(
      'POST',
      `/api/v1/units/UC/ledger/meters/ladle-1/certificates/${added.json.id}/correction`,
      other,
      {
        reason: 'sideways',
        withdraw: true,
      },
    );
    expect([sideways.status, errCode(sideways)]).toEqual([404, 'MRV_E_NOT_FOUND']);
    expect(
      (await call('GET', `/api/v1/units/UC/ledger/meters/ladle-1/certificates/${added.json.id}/scan`, other))
        .status,
    ).toBe(404);

    const reg = await as('reg-nm');
    const regPost = await call(
      'POST',
      `${LEDGER}/ladle-1/certificates`,
      reg,
      renewalBody({ certificate: 'R-1' }),
    );
    expect([regPost.status, errCode(regPost)]).toEqual([403, 'MRV_E_FORBIDDEN']);

    expect((await call('GET', `${LEDGER}/ladle-1`, ent)).json).toEqual(historyBefore);
    expect(
      (await call('GET', '/api/v1/units/UC/ledger/meters/ladle-1', other)).json.certificates,
    ).toHaveLength(1);
  });

  it('the audit log has the renewal and the correction; a correction keeps the old row in the history', async () => {
    const ent = await as('ent-l');
    const wrong = await call(
      'POST',
      `${LEDGER}/ladle-1/certificates`,
      ent,
      renewalBody({ validUntil: '2026-04-10' }),
    );
    expect(wrong.status).toBe(201);
    const { scan: _scan, ...fields } = renewalBody();
    const fixed = await call('POST', `${LEDGER}/ladle-1/certificates/${wrong.json.id}/correction`, ent, {
      reason: '有效期录错 validUntil mistyped',
      certificate: fields,
    });
    expect(fixed.status).toBe(201);
    expect(fixed.json).toMatchObject({
      supersedes: wrong.json.id,
      validUntil: '2027-03-10',
      scan: wrong.json.scan,
    });
    const again = await call('POST', `${LEDGER}/ladle-1/certificates/${wrong.json.id}/correction`, ent, {
      reason: 'twice',
      withdraw: true,
    });
    expect([again.status, errCode(again)]).toEqual([409, 'MRV_E_LEDGER_CONFLICT']);

    const m = (await call('GET', `${LEDGER}/ladle-1`, ent)).json;
    expect(m.certificates.map((c: Loose) => [c.certificate, c.validUntil, c.state])).toEqual([
      ['L-1', '2026-03-10', 'current'],
      ['L-2', '2026-04-10', 'superseded'],
      ['L-2', '2027-03-10', 'current'],
    ]);
    expect(m.meter.calibration).toMatchObject({ status: 'valid', validUntil: '2027-03-10' });
    expect(m.history.map((h: Loose) => [h.action, h.actor])).toEqual([
      ['meter.seed', 'server:site-file'],
      ['certificate.renew', 'account:ent-l'],
      ['certificate.correct', 'account:ent-l'],
    ]);
    // The old scan is still served for the superseded row.
    expect((await call('GET', `${LEDGER}/ladle-1/certificates/${wrong.json.id}/scan`, ent)).status).toBe(200);

    const admin = await as('admin');
    const audit = (await call('GET', '/api/v1/audit?unit=UL', admin)).json as Loose[];
    const mine = audit.filter((a) => a.targetKind === 'meter');
    expect(mine.map((a) => [a.action, a.actor, a.actorRole, a.targetId])).toEqual([
      ['meter.seed', 'server:site-file', 'server', 'UL/ladle-1'],
      ['certificate.renew', 'account:ent-l', 'enterprise', 'UL/ladle-1'],
      ['certificate.correct', 'account:ent-l', 'enterprise', 'UL/ladle-1'],
    ]);
    expect(mine[2]?.detail).toMatchObject({
      supersedes: wrong.json.id,
      reason: '有效期录错 validUntil mistyped',
    });
    expect(mine.every((a) => typeof a.at === 'string')).toBe(true);
  });

  it('registers a meter of a unit known from its gateway alone, whose certificate then shows in /meters', async () => {
    const admin = await as('admin');
    expect((await call('GET', '/api/v1/units/US/ledger/meters', admin)).json).toEqual([]);
    expect((await call('GET', '/api/v1/units/US/meters', admin)).json).toEqual([]);
    const ent = await as('ent-l');
    const forbidden = await call('POST', '/api/v1/units/US/ledger/meters', ent, {
      id: 'x',
      name: 'x',
      kind: 'x',
    });
    expect(forbidden.status).toBe(403);
    const add = await call('POST', '/api/v1/units/US/ledger/meters', admin, {
      id: 'ws-9',
      name: '汽车衡 weighbridge',
      kind: 'weighbridge',
      accuracyClass: 'III',
    });
    expect(add.status).toBe(201);
    expect(add.json).toMatchObject({ id: 'ws-9', calibration: { status: 'missing' }, certificates: [] });
    const dup = await call('POST', '/api/v1/units/US/ledger/meters', admin, {
      id: 'ws-9',
      name: 'x',
      kind: 'x',
    });
    expect([dup.status, errCode(dup)]).toEqual([409, 'MRV_E_LEDGER_CONFLICT']);
    const unknown = await call('POST', '/api/v1/units/NOPE/ledger/meters', admin, {
      id: 'a',
      name: 'a',
      kind: 'a',
    });
    expect([unknown.status, errCode(unknown)]).toEqual([404, 'MRV_E_NOT_FOUND']);
    const cert = await call(
      'POST',
      '/api/v1/units/US/ledger/meters/ws-9/certificates',
      admin,
      renewalBody({ certificate: 'W-1' }),
    );
    expect(cert.status).toBe(201);
    const meters = (await call('GET', '/api/v1/units/US/meters', admin)).json;
    expect(
      meters.map((m: Loose) => [m.id, m.points, m.calibration.status, m.calibration.certificate]),
    ).toEqual([['ws-9', ['ws.net'], 'valid', 'W-1']]);
  });

  it('lists the ledger routes in the OpenAPI document', async () => {
    const doc = (await app.inject('/api/v1/openapi.json')).json() as { paths: Record<string, Loose> };
    expect(
      Object.keys(doc.paths)
        .filter((p) => p.includes('/ledger/'))
        .sort(),
    ).toEqual([
      '/api/v1/units/{unitId}/ledger/meters',
      '/api/v1/units/{unitId}/ledger/meters/{meterId}',
      '/api/v1/units/{unitId}/ledger/meters/{meterId}/certificates',
      '/api/v1/units/{unitId}/ledger/meters/{meterId}/certificates/{certificateId}/correction',
      '/api/v1/units/{unitId}/ledger/meters/{meterId}/certificates/{certificateId}/scan',
    ]);
  });
});

describe('meter ledger without a state database', () => {
  it('answers 503 MRV_E_STATE_DB, and /meters keeps the site file', async () => {
    const bare = buildServer({
      store,
      live: new LiveHub(),
      clock: new ManualClock(NOW),
      domain: { sites: [site('UL')], keyFile: join(dir, 'key2.pem') },
    });
    try {
      const r = await bare.inject('/api/v1/units/UL/ledger/meters');
      expect([r.statusCode, r.json().error.code]).toEqual([503, 'MRV_E_STATE_DB']);
      expect((await bare.inject('/api/v1/units/UL/meters')).json()[0].calibration.status).toBe('expired');
    } finally {
      await bare.close();
    }
  });
});

describe('mrv evidence --state-db', () => {
  it("takes the meters' certificates from the ledger, as the server's evidence route does", async () => {
    const d = mkdtempSync(join(tmpdir(), 'mrv-ledger-cli-'));
    try {
      const sqlite = join(d, 'mrv.sqlite');
      const fileStore = new SqliteStore({ path: sqlite });
      await fileStore.start();
      await fileStore.writeMeta('UL', meta(site('UL')));
      await fileStore.writeReadings(ladleReadings());
      await fileStore.stop();
      const siteFile = join(d, 'site.yaml');
      writeFileSync(siteFile, JSON.stringify(site('UL'))); // JSON is YAML
      const stateFile = join(d, 'state.sqlite');
      const st = await StateStore.open(stateFile);
      const ledger = new MeterLedger(st.database);
      await ledger.seedFromSites([site('UL')]);
      await ledger.addCertificate(
        'UL',
        'ladle-1',
        {
          kind: 'verification',
          certificate: 'L-2',
          body: '示范市计量所',
          date: '2026-03-11',
          validUntil: '2027-03-10',
          result: '合格',
          scan: { fileName: 'L-2.pdf', contentType: 'application/pdf', data: pdfBytes() },
        },
        cli,
      );
      await st.close();
      const base = ['--unit', 'UL', '--month', '2026-03', '--site', siteFile, '--sqlite', sqlite];
      const run = async (extra: string[], out: string) => {
        const stderr = process.stderr.write;
        process.stderr.write = (() => true) as typeof process.stderr.write;
        try {
          expect(await evidence([...base, '--key', join(d, 'key.pem'), '--out', out, ...extra])).toBe(0);
        } finally {
          process.stderr.write = stderr;
        }
        const pkg = JSON.parse(readFileSync(out, 'utf8')) as EvidencePackage;
        return pkg.meters.find((m) => m.id === 'ladle-1')!;
      };
      const fromSite = await run([], join(d, 'site.json'));
      expect(fromSite.atMonthEnd.status).toBe('expired');
      const fromLedger = await run(['--state-db', stateFile], join(d, 'ledger.json'));
      expect(fromLedger.atMonthEnd).toMatchObject({ status: 'valid', certificate: 'L-2' });
      expect(fromLedger.certificates.map((c) => c.certificate)).toEqual(['L-1', 'L-2']);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
