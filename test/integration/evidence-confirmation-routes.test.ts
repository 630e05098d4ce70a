/**
 * Monthly evidence confirmation over HTTP (server/confirmation-routes.ts) with `inject()` against the
 * real embedded store (SqliteStore ':memory:') holding a month of an aluminium smelter's readings, a
 * real SQLite state database with accounts, and the real evidence key: the enterprise confirms a past
 * month (version 1, frozen and verifiable: digest, signature, `mrv verify`), corrects it (version 2
 * cites version 1), the regulator reviews version 2; wrong roles, other units and months that may not
 * be confirmed are refused; the XLSX export's cells equal the package's key parameters.
 */
import { createHash, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path, { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ExcelJS from 'exceljs';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveHub } from '../../collector/live.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { StoredReading } from '../../collector/store.ts';
import { D } from '../../core/domain/decimal.ts';
import type { EvidencePackage } from '../../core/domain/evidence.ts';
import { SiteConfig } from '../../core/schema/site.ts';
import { UnitRegistry } from '../../core/schema/unit-registry.ts';
import type { GatewayMeta } from '../../core/schema/wire.ts';
import { ManualClock } from '../../core/time.ts';
import { receiptBytes } from '../../evidence/confirmation-receipt.ts';
import { loadEvidenceKey, trustedOf, verifyEvidenceSignature } from '../../evidence/service.ts';
import { METHOD_LABELS, PARAMETER_COLUMNS, PARAMETER_SHEET } from '../../evidence/xlsx-export.ts';
import { buildServer } from '../../server/app.ts';
import { MAX_CONFIRMATION_COMMENT } from '../../server/state/evidence-confirmations.ts';
import { StateStore } from '../../server/state/state-store.ts';
import { TokenFile } from '../../server/tokens.ts';
import { spawnTied } from '../helpers/tied-process.ts';

// biome-ignore lint/suspicious/noExplicitAny: the answers' JSON is read loosely; the assertions check its shape
type Loose = Record<string, any>;

const root = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
const mrv = path.join(root, 'bin/mrv.js');
const UNIT = 'U-AL-9';
const OTHER = 'U-CE-2';
const DAY = 86_400_000;
const PASSWORD = 'a long enough password';
const cli = { id: 'cli:test', role: 'cli' as const };
/** An instant in UTC+8: month, day, hour (2026). */
const cst = (m: number, d: number, h = 12) => Date.UTC(2026, m - 1, d, h - 8);
const sha = (t: string | Buffer) => createHash('sha256').update(t).digest('hex');

const site = SiteConfig.parse({
  version: 1,
  unit: { id: UNIT, name: '测试铝厂 Test smelter', industry: 'aluminium', province: '内蒙古' },
  gateway: { id: 'gw1', mqtt: { url: 'mqtt://127.0.0.1:1883' } },
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
          validUntil: '2027-03-10',
          body: 'Demo',
          result: '合格',
        },
      ],
    },
    {
      id: 'anode-1',
      name: 'anode scale',
      kind: 'crane-scale',
      calibrations: [
        {
          certificate: 'A-1',
          kind: 'verification',
          date: '2025-02-15',
          validUntil: '2027-02-14',
          body: 'Demo',
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
      pollIntervalMs: DAY,
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
        { id: 'ladle.ticket_no', meter: 'ladle-1', unit: 'id', table: 'holding', address: 2, type: 'uint32' },
        {
          id: 'anode.net_total',
          meter: 'anode-1',
          unit: 't',
          parameter: 'aluminium.anode_consumption',
          aggregation: 'totalizer',
          maxRate: '1',
          table: 'holding',
          address: 4,
          type: 'uint32',
          scale: '0.001',
        },
      ],
    },
  ],
});
const meta: GatewayMeta = {
  v: 1,
  gatewayId: 'gw1',
  unit: site.unit,
  points: site.devices.flatMap((d) =>
    d.points.map((p) => ({ id: p.id, device: d.id, unit: String(p.unit) })),
  ),
  meters: site.meters,
  configHash: '0'.repeat(64),
};
const reading = (point: string, ts: number, value: string): StoredReading => ({
  unitId: UNIT,
  gatewayId: 'gw1',
  device: 'stations',
  point,
  meter: point.startsWith('anode') ? 'anode-1' : 'ladle-1',
  ts,
  rxTs: ts,
  value,
  quality: 'good',
  seq: 1,
});

const UNITS = new UnitRegistry([
  { id: UNIT, name: '测试铝厂', industry: 'aluminium', province: '内蒙古', gateways: ['gw1'] },
  { id: OTHER, name: '测试水泥厂', industry: 'cement', province: '山东', gateways: ['gw2'] },
]);

async function run(...args: string[]): Promise<{ code: number | null; out: string }> {
  const p = await spawnTied(process.execPath, [mrv, ...args], { cwd: root });
  const { code } = await p.exited;
  return { code, out: p.tail() };
}

describe('monthly evidence confirmation over HTTP', () => {
  let dir: string;
  let store: SqliteStore;
  let state: StateStore;
  let app: FastifyInstance;
  const clock = new ManualClock(cst(3, 2, 9));
  const cookies = new Map<string, string>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mrv-confirm-routes-'));
    store = new SqliteStore({ path: ':memory:' });
    await store.start();
    await store.writeMeta(UNIT, meta);
    // February 2026, one 3 t ladle a day, ticket numbers 101..128 without gaps; the unit's first
    // reading is on 2026-01-30 (so December 2025 is not monitored, January has two days of data).
    // The anode totalizer (blocks set − butts returned) counts 1.5 t a day.
    const rs: StoredReading[] = [
      reading('ladle.ticket_no', cst(1, 30), '99'),
      reading('ladle.net', cst(1, 30), '3'),
      reading('anode.net_total', cst(1, 30), '498.5'),
      reading('ladle.ticket_no', cst(1, 31), '100'),
      reading('ladle.net', cst(1, 31), '3'),
      reading('anode.net_total', cst(1, 31), '500'),
    ];
    for (let d = 1; d <= 28; d++)
      rs.push(
        reading('ladle.ticket_no', cst(2, d), String(100 + d)),
        reading('ladle.net', cst(2, d), '3'),
        reading('anode.net_total', cst(2, d), (500 + 1.5 * d).toFixed(1)),
      );
    await store.writeReadings(rs);
    state = await StateStore.open(join(dir, 'state.sqlite'));
    for (const [username, role, provinces, units] of [
      ['ent-a', 'enterprise', [], [UNIT]],
      ['ent-b', 'enterprise', [], [OTHER]],
      ['reg-nm', 'regulator', ['内蒙古'], []],
      ['reg-sd', 'regulator', ['山东'], []],
      ['admin', 'admin', [], []],
    ] as const)
      await state.addAccount(
        {
          username,
          password: PASSWORD,
          role,
          scope: { provinces: [...provinces], units: [...units] },
          displayName: `${username} 张三`,
        },
        cli,
      );
    app = buildServer({
      store,
      live: new LiveHub(),
      clock,
      units: UNITS,
      tokens: TokenFile.inDataDir(dir),
      state,
      domain: { sites: [site], keyFile: join(dir, 'evidence.pem'), generator: 'carbon-mrv test' },
    });
    await app.ready();
    for (const u of ['ent-a', 'ent-b', 'reg-nm', 'reg-sd', 'admin']) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/session',
        payload: { username: u, password: PASSWORD },
      });
      expect(res.statusCode).toBe(200);
      cookies.set(u, String(res.headers['set-cookie'] ?? '').split(';')[0] ?? '');
    }
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await state?.close();
    await store?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (who: string, method: 'GET' | 'POST', url: string, payload?: unknown) => {
    const res = await app.inject({
      method,
      url,
      headers: {
        cookie: cookies.get(who) ?? '',
        ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(payload !== undefined ? { payload: JSON.stringify(payload) } : {}),
    });
    return res;
  };
  const base = `/api/v1/units/${UNIT}/confirmations`;

  let v1: Loose;
  let v1Bytes: string;

  it('the enterprise confirms February: version 1, its bytes frozen, digest and signatures verify', async () => {
    const before = (await call('ent-a', 'GET', `${base}/2026-02`)).json() as Loose;
    expect(before.status).toMatchObject({
      state: 'awaiting_confirmation',
      confirmation: null,
      actions: ['confirm'],
    });

    const res = await call('ent-a', 'POST', `${base}/2026-02`, {});
    expect(res.statusCode).toBe(201);
    v1 = res.json();
    expect(v1).toMatchObject({
      unitId: UNIT,
      month: '2026-02',
      version: 1,
      supersedes: null,
      contentStatus: 'complete',
      confirmedBy: 'account:ent-a',
      confirmedByName: 'ent-a 张三',
      latest: true,
    });

    const got = await call('ent-a', 'GET', `${base}/2026-02/versions/1`);
    expect(got.statusCode).toBe(200);
    v1Bytes = got.body;
    expect(sha(v1Bytes)).toBe(v1.packageSha256);
    expect(got.headers['x-sha256']).toBe(v1.packageSha256);
    const pkg = JSON.parse(v1Bytes) as EvidencePackage;
    expect(pkg.month).toBe('2026-02');
    expect(pkg.content?.status).toBe('complete');
    expect(pkg.parameters.find((p) => p.id === 'aluminium.liquid_output')?.value).toBe('84');
    // The package's own signature, with the server's key (the trust file written beside it).
    const key = loadEvidenceKey(join(dir, 'evidence.pem'), false);
    expect(verifyEvidenceSignature(pkg, [trustedOf(key, 'server')])).toMatchObject({ ok: true });
    // The receipt: canonical JSON of what was confirmed, signed with the same key.
    expect(v1.receipt.packageSha256).toBe(v1.packageSha256);
    expect(verify(null, receiptBytes(v1.receipt), key.publicKey, Buffer.from(v1.signature, 'base64'))).toBe(
      true,
    );

    // A month confirmed later than the package was built is still the same bytes.
    clock.advance(3_600_000);
    expect((await call('reg-nm', 'GET', `${base}/2026-02/versions/1`)).body).toBe(v1Bytes);
  });

  it('mrv verify accepts the frozen bytes as they are and rejects them altered', async () => {
    const file = join(dir, 'v1.json');
    writeFileSync(file, v1Bytes);
    const trust = join(dir, 'evidence.pub.json');
    const ok = await run('verify', file, '--trusted-keys', trust);
    expect(ok.out).toContain('signature: OK');
    expect(ok.out).toContain('ACCEPTED');
    expect(ok.code).toBe(0);
    const altered = join(dir, 'v1-altered.json');
    writeFileSync(altered, v1Bytes.replace('"value":"84"', '"value":"48"'));
    expect(v1Bytes.includes('"value":"84"')).toBe(true);
    const bad = await run('verify', altered, '--trusted-keys', trust);
    expect(bad.out).toContain('REJECTED');
    expect(bad.code).toBe(1);
  }, 120_000);

  it('a correction is version 2 citing version 1; version 1 stays as it was', async () => {
    // A ladle weighed on Feb 28 arrives late (ticket 129): the month's output changes.
    await store.writeReadings([
      reading('ladle.ticket_no', cst(2, 28, 20), '129'),
      reading('ladle.net', cst(2, 28, 20), '2.5'),
    ]);
    clock.advance(86_400_000);
    const res = await call('ent-a', 'POST', `${base}/2026-02`, {
      comment: '补录 2 月 28 日 129 号称量单 late ticket 129',
    });
    expect(res.statusCode).toBe(201);
    const v2 = res.json() as Loose;
    expect(v2.version).toBe(2);
    expect(v2.supersedes).toEqual({ version: 1, sha256: v1.packageSha256 });
    expect(v2.receipt.supersedes).toEqual({ version: 1, sha256: v1.packageSha256 });
    expect(v2.comment).toBe('补录 2 月 28 日 129 号称量单 late ticket 129');
    const p2 = JSON.parse((await call('ent-a', 'GET', `${base}/2026-02/versions/2`)).body) as EvidencePackage;
    expect(p2.parameters.find((p) => p.id === 'aluminium.liquid_output')?.value).toBe('86.5');
    expect((await call('ent-a', 'GET', `${base}/2026-02/versions/1`)).body).toBe(v1Bytes);
    const listed = (await call('reg-nm', 'GET', `${base}/2026-02`)).json() as Loose;
    expect(listed.versions.map((v: Loose) => [v.version, v.latest])).toEqual([
      [1, false],
      [2, true],
    ]);
    expect(listed.status).toMatchObject({ state: 'confirmed', actions: ['review'] });
    expect(listed.status.confirmation).toMatchObject({ latestVersion: 2, versions: 2, reviewed: false });
  });

  it('mrv verify checks a receipt: its signature, and that --package is the bytes it names', async () => {
    const trust = join(dir, 'evidence.pub.json');
    const res = await call('reg-nm', 'GET', `${base}/2026-02/versions/1/receipt`);
    expect(res.statusCode).toBe(200);
    const receipt = res.json() as Loose;
    expect(receipt).toMatchObject({
      kind: 'evidence-confirmation',
      version: 1,
      packageSha256: v1.packageSha256,
    });
    const file = join(dir, 'receipt-v1.json');
    writeFileSync(file, res.body);
    const pkgFile = join(dir, 'v1-for-receipt.json');
    writeFileSync(pkgFile, v1Bytes);
    const ok = await run('verify', file, '--trusted-keys', trust, '--package', pkgFile);
    expect(ok.out).toContain('confirmation: U-AL-9 2026-02 version 1');
    expect(ok.out).toContain('ACCEPTED');
    expect(ok.code).toBe(0);
    // Version 2's bytes are not what version 1's receipt names.
    const v2File = join(dir, 'v2-for-receipt.json');
    writeFileSync(v2File, (await call('ent-a', 'GET', `${base}/2026-02/versions/2`)).body);
    const wrong = await run('verify', file, '--trusted-keys', trust, '--package', v2File);
    expect(wrong.out).toContain('REJECTED: package');
    expect(wrong.code).toBe(1);
    // A receipt claiming another confirmer does not verify.
    const forged = join(dir, 'receipt-forged.json');
    writeFileSync(forged, JSON.stringify({ ...receipt, confirmedByName: '别人 someone else' }));
    const bad = await run('verify', forged, '--trusted-keys', trust, '--package', pkgFile);
    expect(bad.out).toContain('REJECTED: signature: MRV_E_VERIFY');
    expect(bad.code).toBe(1);
    expect((await call('reg-nm', 'GET', `${base}/2026-02/versions/7/receipt`)).statusCode).toBe(404);
  }, 120_000);

  it('roles: a regulator cannot confirm, an enterprise cannot review, an admin does neither', async () => {
    const r1 = await call('reg-nm', 'POST', `${base}/2026-02`, {});
    expect(r1.statusCode).toBe(403);
    expect(r1.json().error.code).toBe('MRV_E_FORBIDDEN');
    const r2 = await call('ent-a', 'POST', `${base}/2026-02/versions/2/review`, {});
    expect(r2.statusCode).toBe(403);
    expect(r2.json().error.code).toBe('MRV_E_FORBIDDEN');
    expect((await call('admin', 'POST', `${base}/2026-02`, {})).statusCode).toBe(403);
    expect((await call('admin', 'POST', `${base}/2026-02/versions/2/review`, {})).statusCode).toBe(403);
    // Nothing changed.
    const listed = (await call('ent-a', 'GET', `${base}/2026-02`)).json() as Loose;
    expect(listed.versions).toHaveLength(2);
    expect(listed.versions[1].review).toBeUndefined();
  });

  it('scope: another unit’s enterprise and another province’s regulator get 403, and learn nothing', async () => {
    for (const [who, method, url] of [
      ['ent-b', 'GET', `${base}`],
      ['ent-b', 'GET', `${base}/2026-02/versions/1`],
      ['ent-b', 'POST', `${base}/2026-02`],
      ['reg-sd', 'GET', `${base}/2026-02`],
      ['reg-sd', 'POST', `${base}/2026-02/versions/2/review`],
    ] as const) {
      const res = await call(who, method, url, method === 'POST' ? {} : undefined);
      expect(res.statusCode, `${who} ${method} ${url}`).toBe(403);
      expect(res.body).not.toContain(v1.packageSha256);
    }
  });

  it('the regulator reviews version 2 (only the latest, once); the audit log has every step', async () => {
    const old = await call('reg-nm', 'POST', `${base}/2026-02/versions/1/review`, { comment: 'x' });
    expect(old.statusCode).toBe(409);
    expect(old.json().error.code).toBe('MRV_E_CONFIRMATION');
    const res = await call('reg-nm', 'POST', `${base}/2026-02/versions/2/review`, {
      comment: '数据已核 checked',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      version: 2,
      review: { by: 'account:reg-nm', name: 'reg-nm 张三', comment: '数据已核 checked' },
    });
    expect((await call('reg-nm', 'POST', `${base}/2026-02/versions/2/review`, {})).statusCode).toBe(409);
    expect((await call('reg-nm', 'POST', `${base}/2026-02/versions/3/review`, {})).statusCode).toBe(404);
    const status = (await call('ent-a', 'GET', `${base}/2026-02`)).json() as Loose;
    expect(status.status).toMatchObject({ state: 'reviewed', confirmation: { reviewed: true } });

    const audit = (await call('admin', 'GET', `/api/v1/audit?unit=${UNIT}`)).json() as Loose[];
    expect(
      audit.filter((a) => a.targetKind === 'evidence').map((a) => [a.action, a.actor, a.targetId]),
    ).toEqual([
      ['evidence.confirm', 'account:ent-a', `${UNIT}/2026-02/v1`],
      ['evidence.confirm', 'account:ent-a', `${UNIT}/2026-02/v2`],
      ['evidence.review', 'account:reg-nm', `${UNIT}/2026-02/v2`],
    ]);
  });

  it('the overview lists one month for every unit in scope, and no other', async () => {
    const reg = (await call('reg-nm', 'GET', '/api/v1/confirmations?month=2026-02')).json() as Loose[];
    expect(reg.map((u) => [u.unitId, u.unitName, u.province, u.state, u.deadline])).toEqual([
      [UNIT, '测试铝厂', '内蒙古', 'reviewed', '2026-04-09'],
    ]);
    expect(reg[0]?.confirmation).toMatchObject({ latestVersion: 2, reviewed: true });
    // The cement plant: registered, nothing ever reported: not monitored, nothing overdue.
    const other = (await call('ent-b', 'GET', '/api/v1/confirmations?month=2026-02')).json() as Loose[];
    expect(other.map((u) => [u.unitId, u.state, u.monitoring, u.overdue])).toEqual([
      [OTHER, 'not_monitored', 'not_monitored', false],
    ]);
    expect(JSON.stringify(other)).not.toContain(UNIT);
    const all = (await call('admin', 'GET', '/api/v1/confirmations')).json() as Loose[];
    // Default: the previous month (now is in March 2026).
    expect(all.map((u) => [u.unitId, u.month])).toEqual([
      [UNIT, '2026-02'],
      [OTHER, '2026-02'],
    ]);
    expect((await call('admin', 'GET', '/api/v1/confirmations?month=2026-00')).statusCode).toBe(400);
  });

  it('refuses the current month, a month without data, and an incomplete month without a comment', async () => {
    const now = await call('ent-a', 'POST', `${base}/2026-03`, {});
    expect(now.statusCode).toBe(409);
    expect(now.json().error).toMatchObject({ code: 'MRV_E_CONFIRMATION' });
    expect(now.json().error.message).toContain('has not ended');
    // December 2025: before the unit's first reading, the package says no_data.
    const none = await call('ent-a', 'POST', `${base}/2025-12`, { comment: 'try' });
    expect(none.statusCode).toBe(409);
    expect(none.json().error.message).toContain('no_data');
    // January 2026: data on its last day only (gaps): incomplete, confirmed only with a reason.
    const bare = await call('ent-a', 'POST', `${base}/2026-01`, {});
    expect(bare.statusCode).toBe(400);
    expect(bare.json().error.code).toBe('MRV_E_BAD_REQUEST');
    expect(bare.json().error.message).toContain('incomplete');
    expect((await call('ent-a', 'POST', `${base}/2026-01`, { comment: '   ' })).statusCode).toBe(400);
    for (const m of ['2026-03', '2025-12', '2026-01'])
      expect((await call('ent-a', 'GET', `${base}/${m}`)).json().versions).toEqual([]);
    const ok = await call('ent-a', 'POST', `${base}/2026-01`, {
      comment: '1 月 31 日投运 commissioned on Jan 31',
    });
    expect(ok.statusCode).toBe(201);
    expect(ok.json()).toMatchObject({ version: 1, contentStatus: 'incomplete' });
    // Bad input: a 400, never a 500.
    expect((await call('ent-a', 'POST', `${base}/2026-13`, {})).statusCode).toBe(400);
    expect(
      (await call('ent-a', 'POST', `${base}/2026-02`, { comment: 'x'.repeat(MAX_CONFIRMATION_COMMENT + 1) }))
        .statusCode,
    ).toBe(400);
    const notJson = await app.inject({
      method: 'POST',
      url: `${base}/2026-02`,
      headers: { cookie: cookies.get('ent-a') ?? '', 'content-type': 'application/json' },
      payload: '{"comment": ',
    });
    expect(notJson.statusCode).toBe(400);
    expect((await call('ent-a', 'GET', `${base}/2026-02`)).json().versions).toHaveLength(2);
    expect((await call('ent-a', 'GET', `${base}/2026-02/versions/0`)).statusCode).toBe(400);
    expect((await call('ent-a', 'GET', `${base}/2026-02/versions/9`)).statusCode).toBe(404);
  });

  it('month statuses: deadline month end + 40 days (UTC+8), days left, overdue, not monitored', async () => {
    // Now 2026-03-03 10:00 (UTC+8). February's deadline: day 1 = Mar 1, day 40 = Apr 9, 37 days on.
    const res = await call('ent-a', 'GET', `${base}?from=2025-12&to=2026-04`);
    expect(res.statusCode).toBe(200);
    const months = res.json() as Loose[];
    expect(months.map((m) => [m.month, m.state, m.deadline, m.monitoring])).toEqual([
      ['2025-12', 'not_monitored', '2026-02-09', 'not_monitored'],
      ['2026-01', 'confirmed', '2026-03-12', 'ended'],
      ['2026-02', 'reviewed', '2026-04-09', 'ended'],
      ['2026-03', 'in_progress', '2026-05-10', 'no_data'],
      ['2026-04', 'not_started', '2026-06-09', 'not_started'],
    ]);
    const feb = months[2] as Loose;
    expect(feb).toMatchObject({
      daysLeft: 37,
      overdue: false,
      confirmedOnTime: true,
      ended: true,
      // A reviewed month can still be corrected by the plant (a new version, reviewed anew).
      actions: ['confirm'],
    });
    expect(months[3]).toMatchObject({ ended: false, confirmation: null, actions: [] });

    // Two months later: March is unconfirmed past its deadline.
    clock.advance(70 * DAY);
    const later = (await call('reg-nm', 'GET', `${base}?from=2026-03&to=2026-03`)).json() as Loose[];
    expect(later).toHaveLength(1);
    expect(later[0]).toMatchObject({
      month: '2026-03',
      state: 'overdue',
      overdue: true,
      confirmedOnTime: null,
    });
    // 2026-05-12 (UTC+8) is 2 days after 2026-05-10.
    expect(later[0]?.daysLeft).toBe(-2);
    expect((await call('ent-a', 'GET', `${base}?from=2026-05&to=2026-03`)).statusCode).toBe(400);
    expect((await call('ent-a', 'GET', `${base}?from=2020-01&to=2026-03`)).statusCode).toBe(400);
  });

  it('the XLSX export opens with exceljs and its cells equal the package’s key parameters', async () => {
    const res = await call('reg-nm', 'GET', `${base}/2026-02/versions/2?format=xlsx`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('spreadsheetml');
    const digest = String(res.headers['x-sha256']);
    const pkg = JSON.parse(
      (await call('reg-nm', 'GET', `${base}/2026-02/versions/2`)).body,
    ) as EvidencePackage;
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(res.rawPayload as unknown as Parameters<typeof wb.xlsx.load>[0]);
    const ws = wb.getWorksheet(PARAMETER_SHEET);
    if (ws === undefined) throw new Error(`no sheet ${PARAMETER_SHEET}`);
    const headers = (ws.getRow(1).values as unknown[]).slice(1);
    expect(headers).toEqual(PARAMETER_COLUMNS.map((c) => c[1]));
    const col = (field: string) => PARAMETER_COLUMNS.findIndex((c) => c[0] === field) + 1;
    expect(ws.rowCount).toBe(pkg.parameters.length + 1);
    expect(pkg.parameters.length).toBeGreaterThan(1);
    pkg.parameters.forEach((p, i) => {
      const row = ws.getRow(i + 2);
      const cell = (f: string) => row?.getCell(col(f)).value;
      expect(cell('parameterId')).toBe(p.id);
      expect(cell('nameZh')).toBe(p.nameZh);
      expect(cell('nameEn')).toBe(p.nameEn);
      expect(cell('unit')).toBe(p.unit);
      expect(cell('method')).toBe(METHOD_LABELS[p.method]);
      const v = cell('value');
      if (p.value === null) expect(v ?? null).toBeNull();
      else expect(new D(String(v)).eq(new D(p.value))).toBe(true);
      expect(cell('month')).toBe('2026-02');
      expect(cell('unitId')).toBe(UNIT);
      expect(cell('unitName')).toBe(pkg.unit.name);
      expect(cell('version')).toBe(2);
      expect(cell('sha256')).toBe(digest);
    });
    const output = pkg.parameters.findIndex((p) => p.id === 'aluminium.liquid_output');
    expect(ws.getRow(output + 2).getCell(col('value')).value).toBe(86.5);
    expect(String(ws.getRow(output + 2).getCell(col('dataSource')).value)).toContain('ladle.net');
    const info = wb.getWorksheet('存证信息 Package');
    const facts = new Map<string, unknown>();
    info?.eachRow((r, n) => {
      if (n > 1) facts.set(String(r.getCell(1).value), r.getCell(2).value);
    });
    expect(facts.get('存证摘要 SHA-256 of the JSON')).toBe(digest);
    expect(facts.get('审核人 Reviewed by')).toBe('reg-nm 张三');

    // The package built on request exports too, marked not confirmed, with its own bytes' digest.
    const live = await call('ent-a', 'GET', `/api/v1/units/${UNIT}/evidence/2026-02?format=xlsx`);
    expect(live.statusCode).toBe(200);
    const wb2 = new ExcelJS.Workbook();
    await wb2.xlsx.load(live.rawPayload as unknown as Parameters<typeof wb2.xlsx.load>[0]);
    expect(wb2.getWorksheet(PARAMETER_SHEET)?.getRow(2).getCell(col('version')).value).toBe(
      '未确认 not confirmed',
    );
  });

  it('without a state database every confirmation route answers 503', async () => {
    const bare = buildServer({
      store,
      live: new LiveHub(),
      clock,
      units: UNITS,
      domain: { sites: [site], keyFile: join(dir, 'evidence.pem') },
    });
    try {
      for (const [method, url] of [
        ['GET', base],
        ['POST', `${base}/2026-02`],
        ['GET', `${base}/2026-02/versions/1`],
      ] as const) {
        const res = await bare.inject({ method, url, ...(method === 'POST' ? { payload: {} } : {}) });
        expect(res.statusCode, `${method} ${url}`).toBe(503);
        expect(res.json().error.code).toBe('MRV_E_STATE_DB');
      }
    } finally {
      await bare.close();
    }
  });
});

describe('mrv evidence --format xlsx', () => {
  it('writes the key parameters of the package it builds, traced to that JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mrv-xlsx-cli-'));
    try {
      const sqlite = join(dir, 'store.sqlite');
      const store = new SqliteStore({ path: sqlite });
      await store.start();
      await store.writeMeta(UNIT, meta);
      const rs: StoredReading[] = [];
      for (let d = 1; d <= 28; d++)
        rs.push(
          reading('ladle.ticket_no', cst(2, d), String(200 + d)),
          reading('ladle.net', cst(2, d), '2.25'),
          reading('anode.net_total', cst(2, d), (700 + 1.25 * d).toFixed(2)),
        );
      await store.writeReadings(rs);
      await store.stop();
      // JSON is YAML: the site file as parsed above.
      const siteFile = join(dir, 'site.yaml');
      writeFileSync(siteFile, JSON.stringify(site));
      const common = ['--unit', UNIT, '--month', '2026-02', '--sqlite', sqlite, '--site', siteFile];
      const key = ['--key', join(dir, 'evidence.pem')];
      const noOut = await run('evidence', ...common, ...key, '--format', 'xlsx');
      expect(noOut.code).toBe(1);
      expect(noOut.out).toContain('--out FILE.xlsx');
      const xlsx = join(dir, 'feb.xlsx');
      const made = await run('evidence', ...common, ...key, '--format', 'xlsx', '--out', xlsx);
      expect(made.code, made.out).toBe(0);
      const json = join(dir, 'feb.json');
      expect((await run('evidence', ...common, ...key, '--out', json)).code).toBe(0);
      const pkg = JSON.parse(readFileSync(json, 'utf8')) as EvidencePackage;
      const wb = new ExcelJS.Workbook();
      await wb.xlsx.readFile(xlsx);
      const ws = wb.getWorksheet(PARAMETER_SHEET);
      if (ws === undefined) throw new Error(`no sheet ${PARAMETER_SHEET}`);
      const col = (field: string) => PARAMETER_COLUMNS.findIndex((c) => c[0] === field) + 1;
      expect(ws.rowCount).toBe(pkg.parameters.length + 1);
      pkg.parameters.forEach((p, i) => {
        const row = ws.getRow(i + 2);
        expect(row.getCell(col('parameterId')).value).toBe(p.id);
        const v = row.getCell(col('value')).value;
        if (p.value === null) expect(v ?? null).toBeNull();
        else expect(new D(String(v)).eq(new D(p.value))).toBe(true);
        expect(row.getCell(col('version')).value).toBe('未确认 not confirmed');
      });
      // 28 ladles of 2.25 t, exactly.
      const output = pkg.parameters.findIndex((p) => p.id === 'aluminium.liquid_output');
      expect(pkg.parameters[output]?.value).toBe('63');
      expect(ws.getRow(output + 2).getCell(col('value')).value).toBe(63);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
