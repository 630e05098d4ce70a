/**
 * The units `mrv demo` can run: for each industry, its example site file and the simulators that file
 * points at, started on the ports and endpoints the file names. One gateway per site file runs in the
 * demo process beside them (cli/commands.ts `demo`).
 *
 * OPC UA trust is explicit: the demo pre-trusts its own steel simulator's certificate in the demo's
 * gateway PKI (`<data dir>/opcua-pki/trusted/certs`, what `mrv pki trust FILE` does) and says so on
 * stdout and in the log. The driver itself never accepts an unknown certificate.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { isMap, isSeq, parseDocument } from 'yaml';
import { MrvError } from '../core/errors.ts';
import type { Clock } from '../core/time.ts';
import { trustCertificate } from '../drivers/opcua/pki.ts';
import { type LoadedSite, loadSiteConfig, parseSiteConfig } from '../gateway/config.ts';
import { PACKAGE_ROOT } from '../ops/package-root.ts';
import { ALUMINIUM_DEMO_PORTS } from '../simulators/aluminium/register-map.ts';
import { CEMENT_DEMO_PORTS } from '../simulators/cement/server.ts';
import { POWER_DEMO_PORTS } from '../simulators/power/register-map.ts';

const repoRoot = PACKAGE_ROOT;

/** The industries the demo can run, in the order they start. */
export const DEMO_UNIT_NAMES = ['aluminium', 'cement', 'steel', 'power'] as const;
/** One of {@link DEMO_UNIT_NAMES}. */
export type DemoUnitName = (typeof DEMO_UNIT_NAMES)[number];
/** The units `mrv demo` runs without `--units` (power is optional: `--units aluminium,cement,steel,power`). */
export const DEFAULT_DEMO_UNITS: readonly DemoUnitName[] = ['aluminium', 'cement', 'steel'];

/** What a demo unit's simulators get. */
export interface DemoSimContext {
  seed: number;
  clock: Clock;
  log: Logger;
  /** The demo's data folder (absolute): simulator PKIs live under `sim-pki/`, the gateway's under `opcua-pki/`. */
  dataDir: string;
  /** Added to every simulator port (`mrv demo --sim-port-offset N`); the site files are shifted alike. */
  portOffset: number;
}

/** Running simulators of one unit. */
export interface DemoSimulators {
  /** Lines for the demo's start-up message (ports, endpoints, trusted certificates). */
  lines: string[];
  stop(): Promise<void>;
}

/** One demo unit: its site file and how to start its simulators. */
export interface DemoUnit {
  name: DemoUnitName;
  /** Absolute path of the example site file the unit's gateway runs. */
  siteFile: string;
  start(ctx: DemoSimContext): Promise<DemoSimulators>;
}

/** The demo units by name. */
export const DEMO_UNITS: Readonly<Record<DemoUnitName, DemoUnit>> = {
  aluminium: {
    name: 'aluminium',
    siteFile: resolve(repoRoot, 'examples/aluminium-smelter.site.yaml'),
    async start({ seed, clock, portOffset }) {
      const { startAluminiumSimulator } = await import('../simulators/aluminium/server.ts');
      const sim = await startAluminiumSimulator({
        seed,
        clock,
        ports: shiftPorts(ALUMINIUM_DEMO_PORTS, portOffset),
      });
      return {
        lines: [`aluminium smelter: Modbus TCP ports ${Object.values(sim.ports).join(', ')}`],
        stop: () => sim.stop(),
      };
    },
  },
  cement: {
    name: 'cement',
    siteFile: resolve(repoRoot, 'examples/cement-plant.site.yaml'),
    async start({ seed, clock, portOffset }) {
      const { startCementSimulator } = await import('../simulators/cement/server.ts');
      const sim = await startCementSimulator({
        seed,
        clock,
        tcpPort: CEMENT_DEMO_PORTS.tcp + portOffset,
        rtuOverTcpPort: CEMENT_DEMO_PORTS.rtuOverTcp + portOffset,
      });
      return {
        lines: [
          `cement plant: Modbus TCP port ${sim.ports.tcp}, RTU over TCP port ${sim.ports.rtuOverTcp} (unit ids 1-6)`,
        ],
        stop: () => sim.stop(),
      };
    },
  },
  steel: {
    name: 'steel',
    siteFile: resolve(repoRoot, 'examples/steel-plant.site.yaml'),
    async start({ seed, clock, log, dataDir, portOffset }) {
      const { quietImport } = await import('../drivers/opcua/load.ts');
      const { startSteelSimulator } = await quietImport(() => import('../simulators/steel/opcua-server.ts'));
      const { STEEL_DEMO_PORT } = await import('../simulators/steel/opcua-map.ts');
      const { startSteelModbusSimulator, STEEL_MODBUS_DEMO_PORT } = await import(
        '../simulators/steel/modbus-server.ts'
      );
      const ua = await startSteelSimulator({
        seed,
        clock,
        port: STEEL_DEMO_PORT + portOffset,
        pkiDir: resolve(dataDir, 'sim-pki', 'steel'),
      });
      const stopUa = () => ua.stop();
      const scale = await startSteelModbusSimulator({
        model: ua.model,
        clock,
        port: STEEL_MODBUS_DEMO_PORT + portOffset,
      }).catch(async (err: unknown) => {
        await stopUa();
        throw err;
      });
      const trusted = trustDemoServer(ua.pkiDir, resolve(dataDir, 'opcua-pki'), log);
      return {
        lines: [
          `steel plant: OPC UA ${ua.endpointUrl}, ladle scale Modbus TCP port ${scale.port}`,
          `  OPC UA: the demo trusts its own steel simulator's certificate ${trusted.thumbprint} (${trusted.file})`,
        ],
        stop: async () => {
          await scale.stop();
          await stopUa();
        },
      };
    },
  },
  power: {
    name: 'power',
    siteFile: resolve(repoRoot, 'examples/power-plant.site.yaml'),
    async start({ seed, clock, portOffset }) {
      const { startPowerSimulator } = await import('../simulators/power/server.ts');
      const sim = await startPowerSimulator({ seed, clock, ports: shiftPorts(POWER_DEMO_PORTS, portOffset) });
      const p = sim.ports;
      return {
        lines: [
          `coal-fired power unit: Modbus TCP ports ${p.feeders} (coal feeders), ${p.bunker} (bunker belt scale), ${p.generator} (generator meter), ${p.grid} (tariff and heat meters)`,
        ],
        stop: () => sim.stop(),
      };
    },
  },
};

/** Every port of a simulator's port table moved by `offset`. */
function shiftPorts<T extends Record<string, number>>(ports: T, offset: number): T {
  return Object.fromEntries(Object.entries(ports).map(([k, p]) => [k, p + offset])) as T;
}

/** Largest `--sim-port-offset`: the highest demo port (15053) must stay a valid TCP port. */
export const MAX_SIM_PORT_OFFSET = 65_535 - 15_053;

/** Real time the demo allows per poll at `--speed N > 1`: each poll interval is at least N × this, ms. */
export const DEMO_REAL_MS_PER_POLL = 250;

/**
 * Real time, ms, a batch may take from the gateway to the collector in the busy demo process (one
 * Node process runs simulators, gateways, broker, collector and server): at `--speed N` a copy of a
 * batch received again within N × 5 × this of plant time (at least the default 10 min) is a
 * redelivery, not a replay (MRV_F_REPLAY).
 */
export const DEMO_REAL_LATENCY_MS = 2000;

/**
 * The collector's `maxClockSkewMs` and `replayWindowMs` at `--speed N > 1`. The device clock check
 * (MRV_F_CLOCK_SKEW) is off: the steel simulator's OPC UA server is node-opcua, which stamps every
 * Read's ServerTimestamp with the host's wall clock (its own clock, not injectable: a Read with maxAge 0
 * overwrites the timestamp the variable gives), while readings are stamped with the plant clock, so
 * every OPC UA batch differed by the weeks between the two. The demo says so when it starts.
 */
export function demoCollectorTolerances(speed: number): { maxClockSkewMs: number; replayWindowMs: number } {
  return {
    maxClockSkewMs: Number.POSITIVE_INFINITY,
    replayWindowMs: Math.max(10 * 60_000, speed * DEMO_REAL_LATENCY_MS * 5),
  };
}

/** Longest real wait, ms, for every device's first good reading before the demo's held clock runs anyway. */
export const DEMO_FIRST_READING_BUDGET_MS = 120_000;

/**
 * How many times a device's share of the demo's real time per poll ({@link DEMO_REAL_MS_PER_POLL}) a
 * device on a shared RTU line gets, beside the number of devices on the line. An RTU answer counts
 * only once the device's answer window since the request has passed (drivers/modbus/rtu-guard.ts:
 * 1.25 × the 90th percentile of the line's answer times), so each request holds the line for about
 * two answer times, where a Modbus TCP request holds its own connection for one. Measured in the
 * three-unit demo at load ~9 (two busy loops beside it): answer times as the busy process sees them
 * 5 ms median, 80 ms 90th percentile; a request 115 ms median from write to accepted answer; the
 * line managed ~7.5 requests/s where the cement feeders' six requests per 750 ms need 8, and kept
 * 84–85 % of its readings; at twice the interval it needs 4.
 */
export const DEMO_RTU_REQUEST_SHARE = 2;

/**
 * The shortest poll interval, ms of plant time, the demo declares at `--speed N`: 1 at speed 1 (the
 * site files as written), else N × {@link DEMO_REAL_MS_PER_POLL} rounded up to a whole second (720 s at
 * 2880×). A gateway cannot read a meter every plant second when a plant second is 0.35 ms of real time;
 * declaring what it really does keeps completeness honest (it counts against the declared interval).
 * Devices sharing one RTU line get this times their number times {@link DEMO_RTU_REQUEST_SHARE}
 * ({@link loadDemoSite}).
 */
export function demoMinPollMs(speed: number): number {
  return speed > 1 ? Math.ceil((speed * DEMO_REAL_MS_PER_POLL) / 1000) * 1000 : 1;
}

/**
 * A demo site file as the demo runs it; the file on disk is not changed. With `offset`, every device on
 * this machine is moved by `offset` ports (Modbus `port`, OPC UA `endpointUrl`), as the simulators are
 * with `mrv demo --sim-port-offset N`. With `minPollMs` > 1 (`mrv demo --speed N`, see
 * {@link demoMinPollMs}), every device's, point's and event log's `pollIntervalMs` is at least that
 * (times the number of devices on the device's RTU line and {@link DEMO_RTU_REQUEST_SHARE}, when it
 * shares one: they take turns on the wire, each answer counted only after the device's answer window,
 * so three feeders behind one converter read at 250 ms each overran their cycles and kept ~70 % of
 * their readings, and at 750 ms for the three kept 84–85 % on a loaded machine), and
 * OPC UA devices are read in `polling` mode (a subscription's intervals are the server's real time, not
 * plant time). Offset 0 at speed 1 is {@link loadSiteConfig} itself.
 * @throws MrvError MRV_E_CONFIG as {@link loadSiteConfig} does, or for an offset out of range
 */
export function loadDemoSite(file: string, offset: number, minPollMs = 1): LoadedSite {
  if (offset === 0 && minPollMs <= 1) return loadSiteConfig(file);
  if (!Number.isInteger(offset) || offset < 0 || offset > MAX_SIM_PORT_OFFSET)
    throw new MrvError(
      'MRV_E_CONFIG',
      `--sim-port-offset: expected a whole number from 0 to ${MAX_SIM_PORT_OFFSET}, got ${offset}`,
    );
  const doc = parseDocument(readFileSync(file, 'utf8'));
  const devices = doc.get('devices');
  // Devices on one RTU line (a serial path, or one serial-to-Ethernet converter) take turns: one
  // request on the wire at a time, each answer followed by its silence guard (drivers/modbus/link.ts).
  const perLine = new Map<string, number>();
  if (isSeq(devices))
    for (const d of devices.items) {
      const line = isMap(d)
        ? rtuLine(d.get('driver'), d.get('path'), d.get('host'), d.get('port'))
        : undefined;
      if (line !== undefined) perLine.set(line, (perLine.get(line) ?? 0) + 1);
    }
  /** Raises a node's `pollIntervalMs` to `min` (absent: the default 1000 ms, raised likewise). */
  const floor = (node: unknown, always: boolean, min: number) => {
    if (!isMap(node)) return;
    const v = node.get('pollIntervalMs');
    if (typeof v === 'number' ? v < min : always) node.set('pollIntervalMs', min);
  };
  if (isSeq(devices))
    for (const d of devices.items) {
      if (!isMap(d)) continue;
      const line = rtuLine(d.get('driver'), d.get('path'), d.get('host'), d.get('port'));
      const min = minPollMs * (line === undefined ? 1 : (perLine.get(line) ?? 1) * DEMO_RTU_REQUEST_SHARE);
      const host = String(d.get('host') ?? '');
      const port = d.get('port');
      if (typeof port === 'number' && (host === '127.0.0.1' || host === 'localhost'))
        d.set('port', port + offset);
      const url = d.get('endpointUrl');
      if (typeof url === 'string') {
        const u = new URL(url);
        if (u.hostname === '127.0.0.1' || u.hostname === 'localhost') {
          u.port = String(Number(u.port || 4840) + offset);
          d.set('endpointUrl', u.toString().replace(/\/$/, ''));
        }
      }
      if (minPollMs > 1) {
        if (d.get('driver') === 'opcua') d.set('mode', 'polling');
        floor(d, true, min);
        for (const key of ['points', 'eventLogs']) {
          const list = d.get(key);
          if (isSeq(list)) for (const item of list.items) floor(item, false, min);
        }
      }
    }
  return parseSiteConfig(doc.toString(), file);
}

/** The RTU line a device entry is on (`rtu:PATH` or `rtu-over-tcp:HOST:PORT`), undefined for others. */
function rtuLine(driver: unknown, path: unknown, host: unknown, port: unknown): string | undefined {
  if (driver === 'modbus-rtu') return `rtu:${String(path)}`;
  if (driver === 'modbus-rtu-over-tcp') return `rtu-over-tcp:${String(host)}:${String(port)}`;
  return undefined;
}

/**
 * Copies the demo simulator's own certificate into the gateway PKI's trusted folder, as an operator
 * does with `mrv pki trust FILE` after checking the thumbprint. Only the demo does this, and only for
 * the certificate of the server it started itself.
 * @param serverPki the simulator's PKI folder (its certificate in `server/own/certs/`)
 * @param gatewayPki the gateway's PKI folder (DriverContext `dataDir` + `/opcua-pki`)
 */
function trustDemoServer(
  serverPki: string,
  gatewayPki: string,
  log: Logger,
): { thumbprint: string; file: string } {
  const cert = join(serverPki, 'server', 'own', 'certs', 'certificate.pem');
  const entry = trustCertificate(gatewayPki, cert);
  log.info(
    { thumbprint: entry.thumbprint, subject: entry.subject, trusted: entry.file, pki: gatewayPki },
    "demo: trusting its own steel simulator's OPC UA certificate (as mrv pki trust would)",
  );
  return { thumbprint: entry.thumbprint, file: entry.file };
}

/**
 * Parses `--units a,b,c`.
 * @throws MrvError MRV_E_CONFIG naming the unknown unit and the valid ones
 */
export function parseDemoUnits(list: string): DemoUnit[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0)
    throw new MrvError('MRV_E_CONFIG', `--units: expected a list such as ${DEMO_UNIT_NAMES.join(',')}`);
  const out: DemoUnit[] = [];
  for (const n of names) {
    if (!(DEMO_UNIT_NAMES as readonly string[]).includes(n))
      throw new MrvError(
        'MRV_E_CONFIG',
        `--units: unknown unit "${n}"; available: ${DEMO_UNIT_NAMES.join(', ')}`,
      );
    const unit = DEMO_UNITS[n as DemoUnitName];
    if (!out.includes(unit)) out.push(unit);
  }
  return out;
}
