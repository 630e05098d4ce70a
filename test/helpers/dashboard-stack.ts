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
  stop(): Promise<void>;
}

/** Starts the stack with its data in `dir`; the server listens on a free 127.0.0.1 port. */
export async function startDashboardStack(dir: string): Promise<DashboardStack> {
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
    ]),
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
    stop: async () => {
      await gateway.stop();
      await collector.stop();
      await app.close();
      await store.stop();
      await broker.stop();
      await sim.stop();
    },
  };
}
