/**
 * The sub-commands of `mrv`: each parses its flags, composes the parts and runs until SIGINT/SIGTERM.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { Collector } from '../collector/collector.ts';
import { LiveHub } from '../collector/live.ts';
import { LiveRelay } from '../collector/live-relay.ts';
import { SqliteStore } from '../collector/sqlite-store.ts';
import { MrvError } from '../core/errors.ts';
import { PacedClock } from '../core/paced-clock.ts';
import { provinceTopicPrefix } from '../core/schema/province.ts';
import { seedRegistry, type UnitRegistry } from '../core/schema/unit-registry.ts';
import { DEFAULT_TOPIC_PREFIX } from '../core/schema/wire.ts';
import { systemClock } from '../core/time.ts';
import { type LoadedSite, loadSiteConfig } from '../gateway/config.ts';
import { Gateway } from '../gateway/gateway.ts';
import {
  createRegistry,
  exposeCollectorCounters,
  exposeCounters,
  exposeDeviceStatus,
  exposeGatewayCounters,
  instrumentStore,
} from '../ops/metrics.ts';
import { startMetricsServer } from '../ops/metrics-server.ts';
import { PACKAGE_ROOT, packageVersion } from '../ops/package-root.ts';
import { buildServer } from '../server/app.ts';
import { TokenFile } from '../server/tokens.ts';
import { startAluminiumSimulator } from '../simulators/aluminium/server.ts';
import { addBrokerAccount, BrokerRole, demoBrokerAccounts, loadBrokerAccounts } from './broker-accounts.ts';
import {
  DEFAULT_DEMO_UNITS,
  DEMO_FIRST_READING_BUDGET_MS,
  DEMO_REAL_MS_PER_POLL,
  type DemoSimulators,
  demoCollectorTolerances,
  demoMinPollMs,
  loadDemoSite,
  parseDemoUnits,
} from './demo-units.ts';
import { startEmbeddedBroker } from './embedded-broker.ts';
import { evidenceThreadsFlag, evidenceWorkersFrom, storeSpecOfFlags } from './evidence-options.ts';
import { federateFlag, makeFederation } from './federate-options.ts';
import { metricsFlags } from './gateway-command.ts';
import {
  collectorFlags,
  collectorOptions,
  demoIntegrity,
  refusePasswordInUrl,
  requireKeyRegistry,
  serverMqttFlags,
} from './integrity-options.ts';
import { createLogger } from './log.ts';
import { natsSourceFrom, transportFlags } from './nats-options.ts';
import { clockFor, instantFlag, intFlag, runUntilSignal } from './run.ts';
import { openStateFromFlags, stateDbFlags } from './state-options.ts';
import { makeStore, storeFlags } from './store-options.ts';
import { loadUnitRegistry, registryYaml, unitsFileFlag } from './unit-registry.ts';

const repoRoot = PACKAGE_ROOT;

/** The demo's site file: the commented example a plant engineer copies. */
export const DEMO_SITE_FILE = resolve(repoRoot, 'examples/aluminium-smelter.site.yaml');

/** The server's logger: one line per request only at debug level (MRV_LOG_LEVEL=debug). */
function serverLogger(log: Logger): Logger {
  return log.child(
    { module: 'server' },
    { level: log.level === 'debug' || log.level === 'trace' ? log.level : 'warn' },
  );
}

/** Name of the admin token `mrv demo` creates at each start (and revokes at the next). */
export const DEMO_TOKEN_NAME = 'mrv demo admin';

/**
 * Sums the numeric fields of several gateways' counters, read at access time: the demo's one registry
 * shows its gateways as one (`mrv_gateway_*` over every unit).
 */
function summedCounters(parts: readonly object[]): object {
  const out: Record<string, number> = {};
  const keys = new Set(parts.flatMap((p) => Object.keys(p)));
  for (const k of keys)
    Object.defineProperty(out, k, {
      enumerable: true,
      get: () => parts.reduce((n, p) => n + Number((p as Record<string, unknown>)[k] ?? 0), 0),
    });
  return out;
}

/**
 * `mrv demo`: everything in one process on embedded defaults: the simulators of each `--units`
 * industry (default aluminium, cement and steel; power on request) on the ports their example site files name, one
 * gateway per site file, one embedded broker, collector, SQLite store and web server.
 */
export async function demo(args: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      speed: { type: 'string', default: '1' },
      // Where the simulated clock starts (ISO 8601 with zone); default now.
      start: { type: 'string' },
      seed: { type: 'string', default: '42' },
      'data-dir': { type: 'string', default: '.data/demo' },
      units: { type: 'string', default: DEFAULT_DEMO_UNITS.join(',') },
      'sim-port-offset': { type: 'string', default: '0' },
      // The aluminium unit's site file (the one a plant engineer copies first).
      site: { type: 'string', default: DEMO_SITE_FILE },
      ...unitsFileFlag,
      ...evidenceThreadsFlag,
    },
  });
  const log = createLogger('mrv-demo');
  const speed = intFlag('speed', v.speed, 1);
  const start = instantFlag('start', v.start);
  // Held while the simulators, broker and server start, released just before the gateways do. Paced
  // (core/paced-clock.ts): a stall of this one process slows the plant instead of costing it readings;
  // every part below reads this one instance.
  const clock =
    speed === 1 && start === undefined
      ? systemClock
      : new PacedClock(start ?? Date.now(), speed, systemClock, { held: true });
  const minPollMs = demoMinPollMs(speed);
  const seed = intFlag('seed', v.seed, 42);
  const portOffset = intFlag('sim-port-offset', v['sim-port-offset'], 0);
  const units = parseDemoUnits(v.units).map((u) => ({
    ...u,
    site: loadDemoSite(u.name === 'aluminium' ? v.site : u.siteFile, portOffset, minPollMs),
  }));
  const dataDir = resolve(v['data-dir']);
  mkdirSync(dataDir, { recursive: true });
  // The unit registry (issue 17): given, or seeded from the demo's site files at every start.
  let unitsFile = v['units-file'];
  if (unitsFile === undefined) {
    unitsFile = resolve(dataDir, 'units.yaml');
    const seeded = seedRegistry(units.map((u) => ({ file: u.site.file, site: u.site.site })));
    writeFileSync(
      unitsFile,
      registryYaml(
        seeded.registry,
        units.map((u) => u.site.file),
      ),
    );
  }
  const unitRegistry = loadUnitRegistry(unitsFile);

  // Simulators one after the other: the ports are fixed, and a failure stops those already running.
  const sims: DemoSimulators[] = [];
  const stopSims = async () => {
    for (const s of [...sims].reverse()) await s.stop();
  };
  try {
    for (const u of units) sims.push(await u.start({ seed, clock, log, dataDir, portOffset }));
  } catch (err) {
    await stopSims();
    throw err;
  }
  // The embedded broker authenticates like a production one: an account per gateway, one for the
  // collector, passwords made on the first run under <data dir>/mqtt/ (cli/broker-accounts.ts).
  const credentials = await demoBrokerAccounts(
    dataDir,
    units.map((u) => ({ unitId: u.site.site.unit.id, gatewayId: u.site.site.gateway.id })),
  );
  const broker = await startEmbeddedBroker({ port: 0, accounts: credentials.accounts, log });
  const storeFile = resolve(dataDir, 'mrv.sqlite');
  const evidenceWorkers = evidenceWorkersFrom(v['evidence-threads'], { kind: 'sqlite', path: storeFile });
  const store = new SqliteStore({ path: storeFile, log });
  await store.start();
  const live = new LiveHub();
  // Signed batches, a store-and-forward folder per gateway and the key registry, all under the data
  // dir (issue 4). Each call adds its gateway's key; the last registry holds every demo gateway's.
  const integrity = units.map((u) => demoIntegrity(dataDir, u.site.site.unit.id, u.site.site.gateway.id));
  const keys = integrity.at(-1)?.keys;
  // One registry for the whole demo: the server's /metrics shows gateways, collector and store too.
  const registry = createRegistry();
  const collector = new Collector({
    url: broker.url,
    store: instrumentStore(store, registry),
    live,
    log,
    clock,
    clientId: 'mrv-demo-collector',
    username: credentials.collector.username,
    password: credentials.collector.password,
    ...(keys ? { keys } : {}),
    units: unitRegistry,
    ...(speed > 1 ? demoCollectorTolerances(speed) : {}),
  });
  await collector.start();
  exposeCollectorCounters(registry, collector.counters);
  // A fresh admin token per demo run (the previous run's is revoked), printed below.
  const tokens = TokenFile.inDataDir(dataDir);
  tokens.revoke({ name: DEMO_TOKEN_NAME });
  const { token: adminToken } = tokens.create({
    role: 'admin',
    scope: { provinces: [], units: [] },
    name: DEMO_TOKEN_NAME,
  });
  // Accounts and the findings workflow (mrv user add --data-dir <demo data dir>).
  const state = await openStateFromFlags({ 'data-dir': dataDir });
  const app = buildServer({
    store,
    live,
    clock,
    logger: serverLogger(log),
    version: packageVersion(),
    tokens,
    state,
    registry,
    units: unitRegistry,
    configView: { mode: 'demo', store: 'sqlite', dataDir, speed: v.speed, unitsFile },
    // The site files complete the store's catalogue with the meter ledger (meters page, evidence).
    domain: {
      sites: units.map((u) => u.site.site),
      keyFile: resolve(dataDir, 'evidence-ed25519.pem'),
      dayAggregatesFile: resolve(dataDir, 'evidence-days.sqlite'),
      generator: `carbon-mrv ${packageVersion()}`,
      // Off the event loop that polls the demo's meters (evidence/evidence-pool.ts).
      evidenceWorkers,
      // At --speed N one busy process stamps a reading up to ~250 ms of real time late: N × 250 ms of
      // plant time the totalizer checks allow for (core/domain/evidence.ts clockToleranceMs).
      ...(speed > 1 ? { evidenceConfig: { clockToleranceMs: Math.round(speed * 250) } } : {}),
    },
  });
  const port = intFlag('port', v.port, 8080);
  await app.listen({ host: v.host, port });
  // Drivers keep their state under the demo's data dir: the OPC UA PKI is <data dir>/opcua-pki, where
  // the steel unit trusted its simulator's certificate.
  const gateways = units.map(
    (u, i) =>
      new Gateway({
        site: withBrokerAccount(u.site, credentials.gatewayPasswordFiles),
        log,
        clock,
        mqttUrl: broker.url,
        version: packageVersion(),
        bufferDir: integrity[i]?.bufferDir ?? null,
        signingKeyFile: integrity[i]?.signingKeyFile ?? null,
        dataDir,
      }),
  );
  exposeGatewayCounters(registry, summedCounters(gateways.map((g) => g.counters)));
  exposeDeviceStatus(registry, () => Object.assign({}, ...gateways.map((g) => g.deviceStatus())));
  // The gateways start while the plant clock is held: each device reads once at the start instant and
  // waits; the clock runs once every device has answered (an OPC UA session takes about a second of
  // real time, 48 plant minutes at 2880×), so the month has no start-up gap.
  await Promise.all(gateways.map((g) => g.start()));
  let heldMs = 0;
  if (clock instanceof PacedClock) {
    heldMs = await untilFirstReadings(gateways, DEMO_FIRST_READING_BUDGET_MS, log);
    clock.release();
    const paced = clock;
    exposeCounters(
      registry,
      'mrv_demo_clock',
      {
        get stalledSeconds() {
          return paced.stalledMs / 1000;
        },
      },
      {
        stalledSeconds: {
          name: 'mrv_demo_clock_stalled_seconds_total',
          help: `Real seconds the demo process stalled beyond ${paced.maxStepMs} ms at a time, not counted as plant time`,
        },
      },
    );
  }

  const url = `http://${v.host}:${port}`;
  const first = units[0]?.site.site.unit;
  process.stdout.write(
    [
      '',
      `carbon-mrv demo is running: ${url}`,
      `  log in (admin) / 登录（管理员）: ${url}/#/login?token=${adminToken}`,
      `  admin token: ${adminToken}`,
      `  more tokens: npx mrv token create --data-dir ${v['data-dir']} --role regulator --scope 'province:${first?.province ?? ''}'`,
      `  accounts (username + password): npx mrv user add NAME --data-dir ${v['data-dir']} --role enterprise --scope 'unit:${first?.id ?? ''}'`,
      ...units.map(
        (u) => `  unit ${u.site.site.unit.id} (${u.site.site.unit.name}), site file ${u.site.file}`,
      ),
      `  unit registry: ${unitsFile}`,
      `  API:  ${url}/api/v1/units`,
      `  MQTT: ${broker.url} (embedded aedes, accounts in ${resolve(dataDir, 'mqtt')}), store: ${resolve(dataDir, 'mrv.sqlite')}`,
      ...(minPollMs > 1
        ? [
            `  plant time: ${new Date(start ?? clock.now()).toISOString()} at ×${speed}; every poll interval at least ${minPollMs / 1000} s of plant time (${DEMO_REAL_MS_PER_POLL} ms real), OPC UA polled; clock held ${(heldMs / 1000).toFixed(1)} s until every device had answered`,
            ...(clock instanceof PacedClock
              ? [
                  `  paced clock: a stall of this process longer than ${clock.maxStepMs} ms real counts as ${clock.maxStepMs} ms (the plant slows down, no reading is lost; mrv_demo_clock_stalled_seconds_total)`,
                ]
              : []),
            '  device clock check off: the OPC UA simulator stamps ServerTimestamp with the wall clock, readings carry plant time',
          ]
        : []),
      `  simulators${v.speed !== '1' ? ` (speed ×${v.speed})` : ''}:`,
      ...sims.flatMap((s) => s.lines.map((l) => `    ${l}`)),
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  return runUntilSignal(log, async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await collector.stop();
    await app.close();
    await state.close();
    await store.stop();
    await broker.stop();
    await stopSims();
    if (clock instanceof PacedClock) {
      log.info({ stalledMs: Math.round(clock.stalledMs) }, 'demo: real time the plant clock did not count');
      clock.stop();
    }
  });
}

/**
 * Waits until every device of every gateway has had a successful request (driver status
 * `lastSuccessAt`) and every one of its poll groups has run once (`cycles ≥ pollGroups`: devices on
 * one RTU line take turns, so a device's second group may read well after its first), or `budgetMs` of
 * real time; says which devices had not, if any.
 * @returns the real ms waited
 */
async function untilFirstReadings(
  gateways: readonly Gateway[],
  budgetMs: number,
  log: Logger,
): Promise<number> {
  const began = Date.now();
  const silent = () =>
    gateways.flatMap((g) =>
      Object.entries(g.deviceStatus())
        .filter(([, st]) => st.lastSuccessAt === undefined || st.cycles < (st.pollGroups ?? 1))
        .map(([id]) => id),
    );
  for (;;) {
    const left = silent();
    if (left.length === 0) return Date.now() - began;
    if (Date.now() - began > budgetMs) {
      log.warn(
        { devices: left, waitedMs: Date.now() - began },
        'demo: devices without a first reading; the plant clock runs anyway',
      );
      return Date.now() - began;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The site with `gateway.mqtt` set to its demo broker account `{unit}/{gateway}` and password file. */
function withBrokerAccount(site: LoadedSite, passwordFiles: Map<string, string>): LoadedSite {
  const s = site.site;
  const username = `${s.unit.id}/${s.gateway.id}`;
  const passwordFile = passwordFiles.get(username);
  if (passwordFile === undefined) return site;
  const { passwordEnv: _unused, ...mqtt } = s.gateway.mqtt;
  return { ...site, site: { ...s, gateway: { ...s.gateway, mqtt: { ...mqtt, username, passwordFile } } } };
}

/** The fields `keys` of `o` that are set. */
function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/** `mrv collector --mqtt URL` (or `--transport nats --nats-servers URL,...`, cli/nats-options.ts). */
export async function collector(args: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      mqtt: { type: 'string', default: 'mqtt://127.0.0.1:1883' },
      ...storeFlags,
      ...metricsFlags,
      ...collectorFlags,
      ...transportFlags,
      ...unitsFileFlag,
      province: { type: 'string' },
    },
  });
  const log = createLogger('mrv-collector');
  refusePasswordInUrl('mqtt', v.mqtt);
  requireKeyRegistry(v, log, 'mrv collector');
  const extra = collectorOptions(v);
  if (v['units-file']) extra.units = loadUnitRegistry(v['units-file']);
  if (v.province !== undefined) {
    // A province partition (docs/scale-out.md): its own topics (and JetStream streams), its units only.
    if (!extra.units)
      throw new MrvError(
        'MRV_E_CONFIG',
        `--province ${v.province} needs --units-file units.yaml: the registry decides which units are the province's`,
      );
    extra.province = v.province;
    extra.topicPrefix = provinceTopicPrefix(DEFAULT_TOPIC_PREFIX, v.province);
  }
  const source = natsSourceFrom(v, extra, log);
  if (source && v.leave)
    throw new MrvError(
      'MRV_E_CONFIG',
      '--leave is for an MQTT share group: a NATS member leaves by stopping (the consumer is shared; what it held is redelivered)',
    );
  const store = makeStore(v, log);
  await store.start();
  const registry = createRegistry();
  const c = new Collector({
    url: v.mqtt,
    store: instrumentStore(store, registry),
    log,
    ...extra,
    ...(source ? { source } : {}),
  });
  exposeCollectorCounters(registry, c.counters);
  if (v.leave && extra.shareGroup === undefined)
    throw new MrvError(
      'MRV_E_CONFIG',
      '--leave applies only with --share-group and --client-id (the member to remove)',
    );
  await c.start();
  if (v.leave) {
    // Decommissioning a member: store what its session holds, take no new share, exit.
    await c.leave();
    await store.stop();
    process.stdout.write(
      `collector ${extra.clientId} left share group ${extra.shareGroup}: ${c.counters.batches} batches received, ${c.counters.readingsStored} readings stored\n`,
    );
    return 0;
  }
  let ops: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  if (v['metrics-port'] !== undefined) {
    ops = await startMetricsServer({
      registry,
      host: v['metrics-host'],
      port: intFlag('metrics-port', v['metrics-port'], 0),
      health: () => ({ part: 'collector' }),
    });
    process.stdout.write(`collector metrics: ${ops.url}/metrics, health: ${ops.url}/healthz\n`);
  }
  return runUntilSignal(log, async () => {
    await ops?.stop();
    await c.stop();
    await store.stop();
  });
}

/**
 * `--trust-proxy`: `true` (every peer), or comma-separated addresses/CIDRs (`127.0.0.1`, `10.0.0.0/8`,
 * `loopback`) of the proxies whose `X-Forwarded-For`/`-Proto` the server believes; absent: none.
 */
export function trustProxyFlag(value: string | undefined): boolean | string[] | undefined {
  if (value === undefined || value.trim() === '' || value === 'false') return undefined;
  if (value === 'true') return true;
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * The server's unit registry from `--units-file`; without one, says what that means (no unit visible by
 * province) and how to make one.
 * @throws MrvError `MRV_E_CONFIG` for a bad registry file
 */
function serverUnitRegistry(file: string | undefined, log: Logger): UnitRegistry | undefined {
  if (file) {
    const r = loadUnitRegistry(file);
    log.info({ unitsFile: file, units: r.size }, 'unit registry loaded');
    return r;
  }
  log.warn(
    'no unit registry (--units-file units.yaml): province-scoped tokens see no unit, admins see every unit as unregistered; make one with "mrv registry seed SITE.yaml..."',
  );
  return undefined;
}

/** `mrv server`: the HTTP API and dashboard, optionally with a collector feeding the live view. */
export async function server(args: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      mqtt: { type: 'string' },
      'live-mqtt': { type: 'string' },
      'data-dir': { type: 'string', default: '.data' },
      site: { type: 'string', multiple: true, default: [] },
      // The TLS proxy in front (deploy/): its X-Forwarded-For/-Proto are believed (ServerOptions.trustProxy).
      'trust-proxy': { type: 'string' },
      ...stateDbFlags,
      ...storeFlags,
      ...serverMqttFlags,
      ...unitsFileFlag,
      ...federateFlag,
      province: { type: 'string' },
      ...evidenceThreadsFlag,
    },
  });
  const log = createLogger('mrv-server');
  const unitRegistry = serverUnitRegistry(v['units-file'], log);
  const federation = v.federate.length > 0 ? makeFederation(v.federate, unitRegistry, log) : undefined;
  // A worker opens one store of its own (the --store flags); a federating server reads several through
  // the federation, so its evidence is built on the event loop.
  const evidenceWorkers = federation
    ? { threads: 0 }
    : evidenceWorkersFrom(v['evidence-threads'], storeSpecOfFlags(v));
  if (federation && v['evidence-threads'] !== undefined)
    log.warn('--evidence-threads has no effect with --federate: evidence is built on the event loop');
  // A province's own server (docs/scale-out.md): its collectors' topics, for --mqtt and --live-mqtt.
  const provincePrefix =
    v.province !== undefined ? provinceTopicPrefix(DEFAULT_TOPIC_PREFIX, v.province) : undefined;
  if (v.province !== undefined && federation)
    throw new MrvError(
      'MRV_E_CONFIG',
      '--province and --federate exclude each other: a province server reads its own store, the national one federates the provinces',
    );
  if (v.province !== undefined && !unitRegistry)
    throw new MrvError('MRV_E_CONFIG', `--province ${v.province} needs --units-file units.yaml`);
  if (federation && v.mqtt !== undefined)
    throw new MrvError(
      'MRV_E_CONFIG',
      '--federate and --mqtt exclude each other: a federating server reads the province stores and writes none (run each province its own collectors, mrv collector --province P)',
    );
  refusePasswordInUrl('mqtt', v.mqtt);
  refusePasswordInUrl('live-mqtt', v['live-mqtt']);
  if (v.mqtt !== undefined) requireKeyRegistry(v, log, 'mrv server --mqtt');
  const mqttExtra = v.mqtt !== undefined || v['live-mqtt'] !== undefined ? collectorOptions(v) : {};
  if (v.mqtt !== undefined && v['live-mqtt'] !== undefined)
    throw new MrvError(
      'MRV_E_CONFIG',
      '--mqtt and --live-mqtt exclude each other: --mqtt runs a collector in the server, --live-mqtt only shows what separate collectors (mrv collector --live-topic) stored',
    );
  const store = federation ?? makeStore(v, log);
  await store.start();
  if (federation)
    for (const p of federation.provinces())
      log.info(
        { province: p.province, store: p.label, available: p.available, reason: p.reason },
        'federated province',
      );
  const live = new LiveHub();
  const registry = createRegistry();
  const c = v.mqtt
    ? new Collector({
        url: v.mqtt,
        store: instrumentStore(store, registry),
        live,
        log,
        // Its own persistent session: `mrv collector` on the same broker uses mrv-collector.
        clientId: 'mrv-server-collector',
        ...mqttExtra,
        ...(unitRegistry ? { units: unitRegistry } : {}),
        ...(provincePrefix ? { province: v.province, topicPrefix: provincePrefix } : {}),
      })
    : undefined;
  if (c) exposeCollectorCounters(registry, c.counters);
  await c?.start();
  // Collectors elsewhere (a share group): the live page follows their stored-batch announcements.
  const relay = v['live-mqtt']
    ? new LiveRelay({
        url: v['live-mqtt'],
        live,
        log,
        ...(provincePrefix ? { topicPrefix: provincePrefix } : {}),
        ...pick(mqttExtra, ['username', 'password', 'ca', 'cert', 'key']),
      })
    : undefined;
  await relay?.start();
  const tokens = TokenFile.inDataDir(resolve(v['data-dir']));
  if (tokens.list().every((t) => t.revokedAt !== undefined)) {
    log.warn(
      { tokenFile: tokens.path },
      `no active API token yet: create one with "mrv token create --role admin --data-dir ${v['data-dir']}", or an account with "mrv user add NAME --role admin --data-dir ${v['data-dir']}"`,
    );
  }
  const trustProxy = trustProxyFlag(v['trust-proxy']);
  const state = await openStateFromFlags(v);
  log.info({ stateDb: state.location, engine: state.engine }, 'state database open');
  const app = buildServer({
    store,
    live,
    logger: serverLogger(log),
    version: packageVersion(),
    tokens,
    state,
    registry,
    ...(trustProxy !== undefined ? { trustProxy } : {}),
    ...(unitRegistry ? { units: unitRegistry } : {}),
    ...(federation ? { federation } : {}),
    configView: {
      mode: 'server',
      unitsFile: v['units-file'] ?? null,
      trustProxy: trustProxy ?? false,
      store: federation ? 'federated' : v.store,
      ...(federation ? { federated: federation.provinces().map((p) => `${p.province}=${p.label}`) } : {}),
      dataDir: resolve(v['data-dir']),
      stateDb: state.location,
      collector: v.mqtt !== undefined,
    },
    // Site files (--site) complete the store's catalogue with meters, point signs and poll intervals.
    domain: {
      sites: v.site.map((f) => loadSiteConfig(f).site),
      keyFile: resolve(v['data-dir'], 'evidence-ed25519.pem'),
      dayAggregatesFile: resolve(v['data-dir'], 'evidence-days.sqlite'),
      generator: `carbon-mrv ${packageVersion()}`,
      evidenceWorkers,
    },
  });
  await app.listen({ host: v.host, port: intFlag('port', v.port, 8080) });
  process.stdout.write(`carbon-mrv server: http://${v.host}:${v.port}\n`);
  return runUntilSignal(log, async () => {
    await c?.stop();
    await relay?.stop();
    await app.close();
    await state.close();
    await store.stop();
  });
}

/**
 * `mrv broker --accounts FILE`: the embedded MQTT broker with authentication and the topic ACL of
 * cli/broker-accounts.ts; `mrv broker account add FILE USERNAME --role R --password-file F` adds an
 * account (a random password is written to F when F does not exist yet).
 */
export async function broker(args: string[]): Promise<number> {
  if (args[0] === 'account') return brokerAccount(args.slice(1));
  const { values: v } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: '1883' },
      host: { type: 'string', default: '127.0.0.1' },
      accounts: { type: 'string' },
    },
  });
  if (!v.accounts)
    throw new MrvError(
      'MRV_E_CONFIG',
      'missing --accounts FILE: the broker lets in only known accounts (add them with "mrv broker account add FILE USERNAME --role gateway|collector|live --password-file F")',
    );
  const log = createLogger('mrv-broker');
  const accounts = loadBrokerAccounts(v.accounts);
  const b = await startEmbeddedBroker({
    host: v.host,
    port: intFlag('port', v.port, 1883),
    accounts,
    log,
  });
  log.info({ accounts: accounts.accounts.length, prefix: accounts.prefix }, 'broker started');
  process.stdout.write(`embedded MQTT broker: ${b.url} (${accounts.accounts.length} accounts)\n`);
  return runUntilSignal(log, () => b.stop());
}

/** `mrv broker account add FILE USERNAME --role gateway|collector|live --password-file F`. */
async function brokerAccount(args: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { role: { type: 'string' }, 'password-file': { type: 'string' } },
  });
  const [verb, file, username] = positionals;
  const role = BrokerRole.safeParse(v.role);
  if (verb !== 'add' || !file || !username || !role.success || !v['password-file'])
    throw new MrvError(
      'MRV_E_CONFIG',
      'usage: mrv broker account add FILE USERNAME --role gateway|collector|live --password-file F (a gateway account is named UNIT/GATEWAY)',
    );
  const { generated } = await addBrokerAccount(file, {
    username,
    role: role.data,
    passwordFile: v['password-file'],
  });
  process.stdout.write(
    `account ${username} (${role.data}) in ${file}; password ${generated ? 'generated into' : 'read from'} ${v['password-file']}\n`,
  );
  return 0;
}

/** `mrv sim aluminium`: the Modbus TCP aluminium smelter simulator. */
export async function sim(args: string[]): Promise<number> {
  const [kind, ...rest] = args;
  if (kind === 'cement') return (await import('./sim-cement.ts')).simCement(rest);
  if (kind === 'power') return (await import('./sim-power.ts')).simPower(rest);
  if (kind === 'steel') return (await import('./sim-opcua.ts')).simSteel(rest);
  if (kind === 'aluminium' && rest.includes('--opcua'))
    return (await import('./sim-opcua.ts')).simAluminiumOpcua(rest);
  if (kind !== 'aluminium')
    throw new MrvError(
      'MRV_E_CONFIG',
      `unknown simulator "${kind ?? ''}"; available: aluminium, cement, power, steel`,
    );
  const { values: v } = parseArgs({
    args: rest,
    options: {
      seed: { type: 'string', default: '42' },
      speed: { type: 'string', default: '1' },
      'base-port': { type: 'string', default: '15020' },
      host: { type: 'string', default: '127.0.0.1' },
    },
  });
  const log = createLogger('mrv-sim');
  const base = intFlag('base-port', v['base-port'], 15020);
  const s = await startAluminiumSimulator({
    host: v.host,
    seed: intFlag('seed', v.seed, 42),
    clock: clockFor(intFlag('speed', v.speed, 1)),
    ports: { potline: base, energy: base + 1, ladle: base + 2, anode: base + 3 },
  });
  process.stdout.write(`aluminium smelter simulator on ${v.host}, ports ${JSON.stringify(s.ports)}\n`);
  return runUntilSignal(log, () => s.stop());
}
