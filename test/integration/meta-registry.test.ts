// Issue 17 item 2, measured as the issue's attacker would: unit facts come from the server's unit
// registry, a gateway's `meta` is signed and only informs. Real parts over loopback: Mosquitto 2.0 with
// the shipped deploy/mosquitto/mosquitto.conf and mrv.acl over TLS, a real gateway polling a Modbus
// device, the collector (key registry + unit registry) and the HTTP server listening on a port, asked
// with the tokens of regulators scoped to provinces.
//
// Units: A (the gateway of test/faults/harness.ts, whose site file claims 北京) registered in 内蒙古;
// B registered in 安徽, attacked by someone holding B's broker password but not its signing key; C has a
// registered key but no unit registration.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateGatewayKey } from '../../cli/keygen.ts';
import { Collector } from '../../collector/collector.ts';
import { loadKeyRegistry } from '../../collector/keys.ts';
import { LiveHub } from '../../collector/live.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { Finding } from '../../core/schema/finding.ts';
import { UnitRegistry } from '../../core/schema/unit-registry.ts';
import type { GatewayMeta } from '../../core/schema/wire.ts';
import { parsePrivateKey, signMeta } from '../../core/signing.ts';
import { loadSiteConfig } from '../../gateway/config.ts';
import { Gateway } from '../../gateway/gateway.ts';
import { buildServer } from '../../server/app.ts';
import { TokenFile } from '../../server/tokens.ts';
import {
  type FaultWorkspace,
  GATEWAY,
  POINT,
  root,
  startCounterDevice,
  UNIT,
  until,
  workspace,
  writeSite,
} from '../faults/harness.ts';
import { type MosquittoServer, startMosquitto } from '../helpers/mosquitto.ts';

const shippedConf = readFileSync(path.join(root, 'deploy/mosquitto/mosquitto.conf'), 'utf8');
const shippedAcl = path.join(root, 'deploy/mosquitto/mrv.acl');
const quiet = pino({ level: process.env.TEST_LOG ?? 'silent' });

const B = 'U-B';
const GW_B = 'gw-b';
const C = 'U-C';
const GW_C = 'gw-c';
const passwords: Record<string, string> = {
  [`${UNIT}/${GATEWAY}`]: 'gw-a-password-0001',
  [`${B}/${GW_B}`]: 'gw-b-password-0002',
  [`${C}/${GW_C}`]: 'gw-c-password-0003',
  'mrv-collector': 'col-pass-0004',
};

const registry = new UnitRegistry([
  { id: UNIT, name: 'Fault test unit', province: '内蒙古', industry: 'cement', gateways: [GATEWAY] },
  { id: B, name: '乙水泥厂', province: '安徽', industry: 'cement', gateways: [GW_B] },
]);

let m: MosquittoServer;
let ws: FaultWorkspace;
let store: SqliteStore;
let collector: Collector;
let base: string;
let tokens: { admin: string; beijing: string; anhui: string; neimenggu: string };
const cleanups: (() => Promise<void> | void)[] = [];

const ca = () => readFileSync(m.tls?.ca.certFile as string);

async function as(username: string, clientId: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(m.url, {
    username,
    password: passwords[username],
    clientId,
    ca: ca(),
    reconnectPeriod: 0,
  });
  cleanups.push(() => client.endAsync(true));
  return client;
}

async function api(url: string, token: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${base}${url}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

const unitIds = async (token: string) =>
  ((await api('/api/v1/units', token)).body as { id: string }[]).map((u) => u.id);

function metaOf(unitId: string, gatewayId: string, province: string): GatewayMeta {
  return {
    v: 1,
    gatewayId,
    unit: { id: unitId, name: 'claimed name', industry: 'power', province },
    points: [{ id: 'forged_point', device: 'd1', unit: 't' }],
    meters: [],
    configHash: 'f'.repeat(64),
  };
}

const privateKeyOf = (gatewayId: string) =>
  parsePrivateKey(readFileSync(path.join(ws.keysDir, `${gatewayId}.key.pem`), 'utf8'));

/** Publishes a retained meta as `username` and waits until the collector has handled it. */
async function publishMeta(username: string, unitId: string, gatewayId: string, payload: GatewayMeta) {
  const before = collector.counters.metaMessages;
  const c = await as(username, `attacker-${gatewayId}-${before}`);
  await c.publishAsync(`mrv/v1/${unitId}/${gatewayId}/meta`, JSON.stringify(payload), {
    qos: 1,
    retain: true,
  });
  await until('the collector handled the meta', () => collector.counters.metaMessages > before, 20_000);
  await c.endAsync(true);
}

async function findings(unitId: string, code: string): Promise<Finding[]> {
  return store.listFindings(unitId, 0, Date.now() + 86_400_000, { code });
}

beforeAll(async () => {
  m = await startMosquitto({
    tls: true,
    users: passwords,
    config: ({ dir, port, passwordFile, tls }) =>
      shippedConf
        .replace('/etc/mosquitto/mrv.passwd', passwordFile as string)
        .replace('/etc/mosquitto/mrv.acl', shippedAcl)
        .replace('/var/lib/mosquitto/', `${dir}/data/`)
        .replace('/etc/mosquitto/certs/ca.crt', tls?.ca.certFile as string)
        .replace('/etc/mosquitto/certs/broker.crt', tls?.server.certFile as string)
        .replace('/etc/mosquitto/certs/broker.key', tls?.server.keyFile as string)
        .replace(/^listener 8883$/m, `listener ${port} 127.0.0.1`)
        .replace(/^listener 1883 127\.0\.0\.1$/m, ''),
  });
  ws = workspace(); // generates A's key (UNIT/GATEWAY) in ws.keysDir
  generateGatewayKey({ unitId: B, gatewayId: GW_B, outDir: ws.keysDir });
  generateGatewayKey({ unitId: C, gatewayId: GW_C, outDir: ws.keysDir });
  store = new SqliteStore({ path: path.join(ws.dir, 'store.sqlite') });
  await store.start();
  collector = new Collector({
    url: m.url,
    store,
    log: quiet,
    clientId: 'meta-registry-collector',
    keys: loadKeyRegistry(ws.keysDir),
    units: registry,
    username: 'mrv-collector',
    password: passwords['mrv-collector'],
    ca: ca(),
    flushIntervalMs: 50,
  });
  await collector.start();
  const tokenFile = TokenFile.inDataDir(ws.dir);
  const make = (role: 'admin' | 'regulator', provinces: string[]) =>
    tokenFile.create({ role, scope: { provinces, units: [] }, name: `${role} ${provinces.join(',')}` }).token;
  tokens = {
    admin: make('admin', []),
    beijing: make('regulator', ['北京']),
    anhui: make('regulator', ['安徽']),
    neimenggu: make('regulator', ['内蒙古']),
  };
  const app = buildServer({
    store,
    live: new LiveHub(),
    tokens: tokenFile,
    units: registry,
    domain: { keyFile: path.join(ws.dir, 'evidence.pem') },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address() as { port: number };
  base = `http://127.0.0.1:${addr.port}`;
  cleanups.push(() => app.close());

  // Unit A: a real gateway, signed with its key, its site file claiming 北京.
  const device = await startCounterDevice();
  cleanups.push(() => device.close());
  writeFileSync(path.join(ws.dir, 'gw.password'), `${passwords[`${UNIT}/${GATEWAY}`]}\n`);
  const gateway = new Gateway({
    site: loadSiteConfig(
      writeSite(ws, device.port, {
        url: m.url,
        username: `${UNIT}/${GATEWAY}`,
        passwordFile: 'gw.password',
        caFile: m.tls?.ca.certFile as string,
      }),
    ),
    log: quiet,
    reconnectPeriodMs: 200,
  });
  await gateway.start();
  cleanups.push(() => gateway.stop(0));
  await until('unit A readings stored', () => collector.counters.readingsStored >= 3, 30_000);
}, 90_000);

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await collector?.stop();
  await store?.stop();
  await m?.stop();
  ws?.cleanup();
});

describe('attacks on unit scope through MQTT meta (issue 17 item 2)', () => {
  it('attack: an anonymous client cannot even connect to the shipped broker', async () => {
    const err = await mqtt.connectAsync(m.url, { ca: ca(), reconnectPeriod: 0 }).then(
      (c) => c.endAsync(true).then(() => 'connected'),
      (e: Error) => e.message,
    );
    expect(err).toMatch(/Not authorized|Bad username/i);
  });

  it('attack: an unsigned retained meta for unit B claiming 北京 changes no scope; dead-lettered, counted, a finding', async () => {
    const rejected = collector.counters.rejectedMetas;
    await publishMeta(`${B}/${GW_B}`, B, GW_B, metaOf(B, GW_B, '北京'));
    expect(collector.counters.rejectedMetas).toBe(rejected + 1);
    await until(
      'the rejection finding is stored',
      async () => (await findings(B, 'MRV_F_META_REJECTED')).length > 0,
    );
    const [f] = await findings(B, 'MRV_F_META_REJECTED');
    expect(f).toMatchObject({ gatewayId: GW_B, severity: 'critical', detail: { verdict: 'unsigned' } });
    // Well after the issue's 7 s, the 北京 regulator still sees nothing of B.
    expect(await unitIds(tokens.beijing)).not.toContain(B);
    expect((await api(`/api/v1/units/${B}/points`, tokens.beijing)).status).toBe(403);
    expect((await api(`/api/v1/units/${B}/findings`, tokens.beijing)).status).toBe(403);
    // Stored nowhere: not even the admin gets the forged points; B's registered facts stand.
    expect((await api(`/api/v1/units/${B}/points`, tokens.admin)).status).toBe(404);
    const listed = (await api('/api/v1/units', tokens.anhui)).body as Record<string, unknown>[];
    expect(listed.find((u) => u.id === B)).toMatchObject({
      name: '乙水泥厂',
      province: '安徽',
      industry: 'cement',
      registered: true,
    });
  });

  it("attack: a meta for unit B signed with gateway A's key is rejected as another unit's key", async () => {
    const rejected = collector.counters.rejectedMetas;
    const forged = signMeta(metaOf(B, GW_B, '北京'), privateKeyOf(GATEWAY), Date.now());
    await publishMeta(`${B}/${GW_B}`, B, GW_B, forged);
    expect(collector.counters.rejectedMetas).toBe(rejected + 1);
    await until('the key-mismatch rejection is stored', async () =>
      (await findings(B, 'MRV_F_META_REJECTED')).some((f) => f.detail.verdict === 'mismatch'),
    );
    const f = (await findings(B, 'MRV_F_META_REJECTED')).find((x) => x.detail.verdict === 'mismatch');
    expect(f?.detail).toMatchObject({ keyUnitId: UNIT, keyGatewayId: GATEWAY });
    expect(await unitIds(tokens.beijing)).not.toContain(B);
    expect((await api(`/api/v1/units/${B}/points`, tokens.beijing)).status).toBe(403);
    expect((await api(`/api/v1/units/${B}/points`, tokens.admin)).status).toBe(404);
  });

  it('a genuine signed meta whose province differs from the registry is a finding, never a change of scope', async () => {
    // Unit A's real gateway signed its catalogue; its site file says 北京, the registry 内蒙古.
    await until(
      'the mismatch finding of unit A is stored',
      async () => (await findings(UNIT, 'MRV_F_META_MISMATCH')).length > 0,
    );
    const [f] = await findings(UNIT, 'MRV_F_META_MISMATCH');
    expect(f?.detail).toMatchObject({
      verified: true,
      mismatches: [{ field: 'province', claimed: '北京', registered: '内蒙古' }],
    });
    expect(await unitIds(tokens.beijing)).toEqual([]);
    expect((await api(`/api/v1/units/${UNIT}/points`, tokens.beijing)).status).toBe(403);
    // The registered province's regulator sees it, with the registry's facts and the catalogue's points.
    const listed = (await api('/api/v1/units', tokens.neimenggu)).body as Record<string, unknown>[];
    expect(listed).toEqual([expect.objectContaining({ id: UNIT, province: '内蒙古', registered: true })]);
    const points = await api(`/api/v1/units/${UNIT}/points`, tokens.neimenggu);
    expect(points.status).toBe(200);
    expect((points.body as { id: string }[]).map((p) => p.id)).toEqual([POINT]);
  });

  it("the unit's evidence names the registered facts, and a corrected catalogue resolves the mismatch", async () => {
    const month = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 7);
    const pkg = await api(`/api/v1/units/${UNIT}/evidence/${month}`, tokens.neimenggu);
    expect(pkg.status).toBe(200);
    expect((pkg.body as { unit: unknown }).unit).toEqual({
      id: UNIT,
      name: 'Fault test unit',
      industry: 'cement',
      province: '内蒙古',
    });
    // The plant fixes its site file: the gateway's next catalogue agrees with the registry.
    const [open] = await findings(UNIT, 'MRV_F_META_MISMATCH');
    const fixed: GatewayMeta = {
      ...metaOf(UNIT, GATEWAY, '内蒙古'),
      unit: { id: UNIT, name: 'Fault test unit', industry: 'cement', province: '内蒙古' },
    };
    await publishMeta(
      `${UNIT}/${GATEWAY}`,
      UNIT,
      GATEWAY,
      signMeta(fixed, privateKeyOf(GATEWAY), Date.now()),
    );
    await until('the mismatch is resolved', async () =>
      (await findings(UNIT, 'MRV_F_META_MISMATCH')).every((f) => f.state === 'resolved'),
    );
    const [resolved] = await findings(UNIT, 'MRV_F_META_MISMATCH');
    expect(resolved).toMatchObject({ id: open?.id, ts: open?.ts, resolution: { by: 'meta-agrees' } });
    expect(await unitIds(tokens.beijing)).toEqual([]);
  });

  it('a genuine meta of an unregistered unit informs the admin, flagged, and no province sees it', async () => {
    const rejected = collector.counters.rejectedMetas;
    await publishMeta(
      `${C}/${GW_C}`,
      C,
      GW_C,
      signMeta(metaOf(C, GW_C, '北京'), privateKeyOf(GW_C), Date.now()),
    );
    expect(collector.counters.rejectedMetas).toBe(rejected);
    await until(
      'the unregistered-unit finding is stored',
      async () => (await findings(C, 'MRV_F_META_MISMATCH')).length > 0,
    );
    const [f] = await findings(C, 'MRV_F_META_MISMATCH');
    expect(f?.detail.mismatches).toEqual([{ field: 'unit', claimed: C, registered: null }]);
    const admin = (await api('/api/v1/units', tokens.admin)).body as Record<string, unknown>[];
    expect(admin.find((u) => u.id === C)).toMatchObject({ registered: false, province: '北京' });
    expect(admin.filter((u) => u.registered).map((u) => u.id)).toEqual([UNIT, B]);
    expect(await unitIds(tokens.beijing)).toEqual([]);
    expect((await api(`/api/v1/units/${C}/points`, tokens.beijing)).status).toBe(403);
    expect((await api(`/api/v1/units/${C}/points`, tokens.admin)).status).toBe(200);
    // Nothing signed names an unregistered unit's claimed facts.
    const month = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 7);
    const ev = await api(`/api/v1/units/${C}/evidence/${month}`, tokens.admin);
    expect(ev.status).toBe(404);
    expect(ev.body).toMatchObject({
      error: { code: 'MRV_E_NOT_FOUND', message: expect.stringMatching(/not in the unit registry/) },
    });
  });
});
