/**
 * The demo's composition (aluminium simulator → gateway → embedded broker → collector → SQLite →
 * server with a token file), in process and on free ports only, for the browser tests: `mrv demo`
 * itself binds the fixed simulator ports 15020–15023, which a parallel test or a running demo holds.
 *
 * On top of the live pipeline it seeds what a month-old plant has: a week of pot-line current
 * history (one reading a minute, so the long trend ranges draw rollups), and a second unit in another
 * province (广东) so that scope can be seen at work.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { parseDocument } from 'yaml';
import { startEmbeddedBroker } from '../../cli/embedded-broker.ts';
import { Collector } from '../../collector/collector.ts';
import { LiveHub } from '../../collector/live.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { StoredReading } from '../../collector/store.ts';
import { UnitRegistry } from '../../core/schema/unit-registry.ts';
import { parseSiteConfig } from '../../gateway/config.ts';
import { Gateway } from '../../gateway/gateway.ts';
import { buildServer } from '../../server/app.ts';
import { FailureLimiter } from '../../server/auth.ts';
import { StateStore } from '../../server/state/state-store.ts';
import { TokenFile } from '../../server/tokens.ts';
import { startAluminiumSimulator } from '../../simulators/aluminium/server.ts';

const root = new URL('../..', import.meta.url).pathname;

/** The second unit, in another province than the demo unit. */
export const OTHER_UNIT = {
  id: '91440000OTHER0002Y',
  name: '示例水泥熟料厂',
  industry: 'cement',
  province: '广东',
} as const;

/** Password of the accounts {@link startDashboardStack} adds with `accounts: true`. */
export const STACK_PASSWORD = 'a long enough password';

/** Options of {@link startDashboardStack}. */
export interface DashboardStackOptions {
  /**
   * Further registered units (a province-scale registry for the overview): unit `i` is
   * `91000000BULK{i:0>4}X` in one of six provinces; a third report online, a third offline, a third never.
   */
  extraUnits?: number;
  /**
   * Open a state database with accounts `admin` (admin) and `regulator` (regulator of the demo unit's
   * province), both with {@link STACK_PASSWORD}, for username-and-password logins and the findings workflow.
   */
  accounts?: boolean;
}

/** Province of bulk unit `i` (see {@link DashboardStackOptions.extraUnits}). */
export const BULK_PROVINCES = ['河北', '山东', '江苏', '广东', '内蒙古', '河南'] as const;
const BULK_INDUSTRIES = ['steel', 'cement', 'power', 'aluminium'] as const;

/** Id, name, province and industry of bulk unit `i`. */
export function bulkUnit(i: number) {
  return {
    id: `91000000BULK${String(i).padStart(4, '0')}X`,
    name: `测试排放单位${String(i).padStart(3, '0')}号`,
    nameEn: `Test unit ${String(i).padStart(3, '0')}`,
    industry: BULK_INDUSTRIES[i % BULK_INDUSTRIES.length] as (typeof BULK_INDUSTRIES)[number],
    province: BULK_PROVINCES[i % BULK_PROVINCES.length] as string,
  };
}

/** A running stack. */
export interface DashboardStack {
  url: string;
  /** Token of an admin. */
  adminToken: string;
  tokens: TokenFile;
  unitId: string;
  unitProvince: string;
  gateway: Gateway;
  collector: Collector;
  store: SqliteStore;
  live: LiveHub;
  /** The state database, with `accounts: true`. */
  state?: StateStore;
  stop(): Promise<void>;
}

/** Starts the stack with its data in `dir`; the server listens on a free 127.0.0.1 port. */
export async function startDashboardStack(
  dir: string,
  opts: DashboardStackOptions = {},
): Promise<DashboardStack> {
  mkdirSync(dir, { recursive: true });
  const log = pino({ level: process.env.MRV_LOG_LEVEL ?? 'silent' });
  const sim = await startAluminiumSimulator({ seed: 42 });
  const siteFile = join(root, 'examples/aluminium-smelter.site.yaml');
  const doc = parseDocument(readFileSync(siteFile, 'utf8'));
  const devices = doc.toJS().devices as { id: string }[];
  devices.forEach((d, i) => {
    const station = Object.values(sim.registerMap).find((s) => s.deviceId === d.id);
    doc.setIn(['devices', i, 'port'], station ? sim.ports[station.id] : 1);
  });
  const localSite = join(dir, 'site.yaml');
  writeFileSync(localSite, String(doc));
  const site = parseSiteConfig(String(doc), localSite);
  const unit = site.site.unit;

  const broker = await startEmbeddedBroker({ port: 0, accounts: 'anonymous' });
  const store = new SqliteStore({ path: join(dir, 'mrv.sqlite'), log });
  await store.start();

  // A week of history for the long ranges: pot-line current once a minute, with one bad reading an hour.
  const now = Date.now();
  const history: StoredReading[] = [];
  for (let i = 7 * 24 * 60; i >= 5; i--) {
    const ts = now - i * 60_000;
    const bad = i % 60 === 0;
    history.push({
      unitId: unit.id,
      gatewayId: site.site.gateway.id,
      device: 'potline',
      point: 'potline.current',
      ts,
      rxTs: ts + 20,
      value: bad ? null : (400 + 5 * Math.sin(i / 180)).toFixed(2),
      quality: bad ? 'bad' : 'good',
      ...(bad ? { reason: 'MRV_E_MODBUS_TIMEOUT: seeded gap' } : {}),
      seq: 0,
    });
  }
  await store.writeReadings(history);
  await store.writeMeta(OTHER_UNIT.id, {
    v: 1,
    gatewayId: 'gw-other-1',
    unit: OTHER_UNIT,
    points: [{ id: 'kiln.clinker', device: 'belt', unit: 't', aggregation: 'totalizer' }],
    meters: [],
    configHash: 'c'.repeat(64),
  });
  await store.writeStatus(
    OTHER_UNIT.id,
    { v: 1, gatewayId: 'gw-other-1', state: 'offline' },
    now - 3_600_000,
  );

  const bulk = Array.from({ length: opts.extraUnits ?? 0 }, (_, i) => bulkUnit(i));
  const bulkReadings: StoredReading[] = [];
  for (const [i, u] of bulk.entries()) {
    if (i % 3 === 2) continue; // never reported
    const gatewayId = `gw-bulk-${i}`;
    await store.writeMeta(u.id, {
      v: 1,
      gatewayId,
      unit: { id: u.id, name: u.name, industry: u.industry, province: u.province },
      points: [{ id: 'p.mass', device: 'scale', unit: 't', aggregation: 'totalizer' }],
      meters: [],
      configHash: 'b'.repeat(64),
    });
    await store.writeStatus(
      u.id,
      { v: 1, gatewayId, state: i % 3 === 0 ? 'online' : 'offline' },
      now - i * 1000,
    );
    const ts = now - 60_000 - i * 1000;
    bulkReadings.push({
      unitId: u.id,
      gatewayId,
      device: 'scale',
      point: 'p.mass',
      ts,
      rxTs: ts + 20,
      value: String(100 + i),
      quality: 'good',
      seq: 0,
    });
  }
  if (bulkReadings.length > 0) await store.writeReadings(bulkReadings);

  let state: StateStore | undefined;
  if (opts.accounts) {
    state = await StateStore.open(join(dir, 'state.sqlite'));
    const cli = { id: 'cli:test', role: 'cli' as const };
    await state.addAccount(
      {
        username: 'admin',
        password: STACK_PASSWORD,
        role: 'admin',
        scope: { provinces: [], units: [] },
        displayName: '系统管理员',
      },
      cli,
    );
    await state.addAccount(
      {
        username: 'regulator',
        password: STACK_PASSWORD,
        role: 'regulator',
        scope: { provinces: [unit.province], units: [] },
        displayName: '省级监管员',
      },
      cli,
    );
  }

  const live = new LiveHub();
  const collector = new Collector({
    url: broker.url,
    store,
    live,
    log,
    clientId: 'dashboard-test-collector',
  });
  await collector.start();
  const tokens = TokenFile.inDataDir(dir);
  const { token: adminToken } = tokens.create({
    role: 'admin',
    scope: { provinces: [], units: [] },
    name: 'test admin',
  });
  const app = buildServer({
    store,
    live,
    logger: false,
    tokens,
    // Generous: the tests log in many times from one address on purpose.
    loginLimiter: new FailureLimiter({ max: 50 }),
    configView: { mode: 'test', dataDir: dir },
    // Scope follows the unit registry only (issue 17 item 2): both units registered.
    units: new UnitRegistry([
      { ...unit, gateways: [site.site.gateway.id] },
      { ...OTHER_UNIT, gateways: ['gw-other-1'] },
      ...bulk.map((u, i) => ({ ...u, gateways: [`gw-bulk-${i}`] })),
    ]),
    ...(state ? { state } : {}),
    domain: { sites: [site.site], keyFile: join(dir, 'evidence-ed25519.pem'), generator: 'carbon-mrv test' },
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const gateway = new Gateway({ site, log, mqttUrl: broker.url, version: '0.0.0-test' });
  await gateway.start();

  return {
    url,
    adminToken,
    tokens,
    unitId: unit.id,
    unitProvince: unit.province,
    gateway,
    collector,
    store,
    live,
    ...(state ? { state } : {}),
    stop: async () => {
      await gateway.stop();
      await collector.stop();
      await app.close();
      await state?.close();
      await store.stop();
      await broker.stop();
      await sim.stop();
    },
  };
}
