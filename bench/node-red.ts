/**
 * Side by side with the do-it-yourself choice (issue 19 item 4): Node-RED 4 with
 * node-red-contrib-modbus and node-red-contrib-influxdb (installed from the npm registry by
 * bench/setup.sh into bench/.build/node-red from the pinned bench/node-red/package-lock.json), running
 * the committed flow bench/node-red/flows.json, against carbon-mrv's gateway → collector, in the same run,
 * reading the same Modbus server and writing the same InfluxDB through the same Mosquitto.
 *
 * Both read 10 devices × 31 uint64 values (124 holding registers, one request per device) every 100 ms
 * from bench/time-sim.ts, whose values are the ms time of their last change (changed every 100 ms), so
 * `query time − last stored value` is the end-to-end latency, poll wait included. Both publish QoS 1 to
 * Debian's Mosquitto at its default settings (no persistence) and store into InfluxDB 1.6.7 (databases
 * `nodered` and `mrv`). Each side runs alone in turn: warm-up, a steady window (stored readings/s, CPU
 * of its processes, RSS, latency sampled every 250 ms), then a broker outage (kill -9, 15 s down,
 * restarted without state) and the readings of the outage window that never reached InfluxDB.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startInfluxDb } from '../test/helpers/influxdb.ts';
import { startMosquitto } from '../test/helpers/mosquitto.ts';
import { startTimeSim } from './latency.ts';
import {
  ask,
  BENCH_DIR,
  type BenchResult,
  BUILD_DIR,
  type Figure,
  fmt,
  forkTs,
  makeKeyPair,
  percentile,
  procStat,
  sleep,
  stopChild,
  syntheticSite,
  tempDir,
} from './lib.ts';

const NODE_RED_DIR = path.join(BUILD_DIR, 'node-red');
const NODE_RED_MAIN = path.join(NODE_RED_DIR, 'node_modules', 'node-red', 'red.js');
const FLOWS = path.join(BENCH_DIR, 'node-red', 'flows.json');
const DEVICES = 10;
const POINTS_PER_DEVICE = 31;
const POLL_MS = 100;
const WARMUP_MS = 6000;
const STEADY_MS = 20_000;
const OUTAGE_MS = 15_000;
const RECOVER_MS = 25_000;
/** Points whose stored times are checked for missing polls (first, middle, last device). */
const PROBES = ['d000.p0000', 'd005.p0015', 'd009.p0030'];

interface Influx {
  url: string;
}

async function influxQuery(influx: Influx, db: string, q: string): Promise<unknown[][]> {
  const res = await fetch(`${influx.url}/query?db=${db}&epoch=ms&q=${encodeURIComponent(q)}`);
  const body = (await res.json()) as { results?: { series?: { values: unknown[][] }[] }[] };
  return body.results?.[0]?.series?.[0]?.values ?? [];
}

async function countReadings(influx: Influx, db: string, from: number, to: number): Promise<number> {
  const rows = await influxQuery(
    influx,
    db,
    `SELECT count(value) FROM reading WHERE time >= ${from}ms AND time < ${to}ms`,
  );
  return Number(rows[0]?.[1] ?? 0);
}

/** Missing polls of one point in `[from, to)`: Σ over silences longer than 2.5 polls of (silence / poll − 1). */
async function missingPolls(influx: Influx, db: string, point: string, from: number, to: number) {
  const rows = await influxQuery(
    influx,
    db,
    `SELECT value FROM reading WHERE point = '${point}' AND time >= ${from}ms AND time < ${to}ms`,
  );
  const times = rows.map((r) => Number(r[0]));
  let missing = 0;
  let prev = from;
  for (const t of [...times, to]) {
    const gap = t - prev;
    if (gap > 2.5 * POLL_MS) missing += Math.round(gap / POLL_MS) - 1;
    prev = t;
  }
  return { stored: times.length, missing };
}

/** What one side measured. */
interface SideResult {
  rate: number;
  cpuShare: number;
  perCpuS: number;
  peakRssMiB: number;
  latencyP50: number;
  latencyP99: number;
  outageSlots: number;
  lostReadings: number;
  lostShare: number;
}

/**
 * Runs one side: `start()` brings it up and returns its pids; the steady window and the outage are the
 * same for both. `db` is where it stores.
 */
async function measure(
  name: string,
  influx: Influx,
  broker: { kill9(): void; restart(): Promise<void> },
  db: string,
  pids: () => number[],
): Promise<SideResult> {
  await sleep(WARMUP_MS);
  const cpu0 = pids().reduce((s, p) => s + procStat(p).cpuS, 0);
  const t0 = Date.now();
  const latencies: number[] = [];
  while (Date.now() - t0 < STEADY_MS) {
    const rows = await influxQuery(
      influx,
      db,
      `SELECT last(value) FROM reading WHERE point = '${PROBES[0]}'`,
    );
    const v = Number(rows[0]?.[1]);
    if (Number.isFinite(v)) latencies.push(Date.now() - v);
    await sleep(250);
  }
  const t1 = Date.now();
  const cpuS = pids().reduce((s, p) => s + procStat(p).cpuS, 0) - cpu0;
  // Readings stamped in the window that were stored, read once the pipeline had 3 s to settle.
  await sleep(3000);
  const stored = await countReadings(influx, db, t0, t1);
  const rate = stored / ((t1 - t0) / 1000);
  const peakRssMiB = pids().reduce((s, p) => s + procStat(p).peakRssMiB, 0);
  console.log(
    `${name}: steady ${fmt(rate)} readings/s stored, CPU ${fmt(cpuS, 1)} s in ${fmt((t1 - t0) / 1000)} s`,
  );

  const outageFrom = Date.now();
  broker.kill9();
  await sleep(OUTAGE_MS);
  await broker.restart();
  const outageTo = Date.now();
  await sleep(RECOVER_MS);
  // The outage window plus a poll on each side.
  const from = outageFrom - 1000;
  const to = outageTo + 1000;
  let missing = 0;
  for (const p of PROBES) missing += (await missingPolls(influx, db, p, from, to)).missing;
  const slots = Math.round((to - from) / POLL_MS);
  const points = DEVICES * POINTS_PER_DEVICE;
  const lostReadings = Math.round((missing / PROBES.length) * points);
  latencies.sort((a, b) => a - b);
  return {
    rate,
    cpuShare: cpuS / ((t1 - t0) / 1000),
    perCpuS: stored / Math.max(cpuS, 1e-9),
    peakRssMiB,
    latencyP50: percentile(latencies, 50),
    latencyP99: percentile(latencies, 99),
    outageSlots: slots * points,
    lostReadings,
    lostShare: lostReadings / (slots * points),
  };
}

function startNodeRed(dir: string, ports: { modbus: number; mqtt: number; influx: number }): ChildProcess {
  if (!existsSync(NODE_RED_MAIN)) throw new Error(`${NODE_RED_MAIN} missing: run bash bench/setup.sh`);
  const userDir = path.join(dir, 'node-red');
  mkdirSync(userDir, { recursive: true });
  if (!existsSync(path.join(userDir, 'node_modules')))
    symlinkSync(path.join(NODE_RED_DIR, 'node_modules'), path.join(userDir, 'node_modules'));
  const flows = readFileSync(FLOWS, 'utf8')
    .replaceAll('"__MODBUS_PORT__"', String(ports.modbus))
    .replaceAll('"__MQTT_PORT__"', String(ports.mqtt))
    .replaceAll('"__INFLUX_PORT__"', String(ports.influx))
    .replaceAll('"__POLL_MS__"', String(POLL_MS));
  writeFileSync(path.join(userDir, 'flows.json'), flows);
  writeFileSync(
    path.join(userDir, 'settings.js'),
    `module.exports = {
  flowFile: 'flows.json',
  uiHost: '127.0.0.1',
  uiPort: 0,
  httpAdminRoot: false,
  httpNodeRoot: false,
  credentialSecret: false,
  logging: { console: { level: 'warn', metrics: false, audit: false } },
  editorTheme: { projects: { enabled: false } },
};
`,
  );
  return spawn(
    process.execPath,
    [NODE_RED_MAIN, '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')],
    { stdio: ['ignore', 'inherit', 'inherit'], cwd: userDir },
  );
}

export async function benchNodeRed(): Promise<BenchResult> {
  const started = performance.now();
  const dir = tempDir('node-red');
  const influx = await startInfluxDb();
  const broker = await startMosquitto({ defaults: true });
  const sim = await startTimeSim();
  const influxPort = Number(new URL(influx.url).port);
  const notes: string[] = [];
  const figures: Figure[] = [];
  try {
    await influxQuery(influx, 'nodered', 'CREATE DATABASE nodered');
    // Node-RED alone.
    const nr = startNodeRed(dir, { modbus: sim.port, mqtt: broker.port, influx: influxPort });
    let red: SideResult;
    try {
      red = await measure('Node-RED', influx, broker, 'nodered', () => [nr.pid as number]);
    } finally {
      await stopChild(nr);
    }
    // carbon-mrv alone: gateway (own process) → Mosquitto → collector (own process) → InfluxDB.
    const key = makeKeyPair(dir, 'gw-vs-nodered');
    const gatewayId = 'gw-vs-nodered';
    const siteFile = path.join(dir, `${gatewayId}.site.yaml`);
    writeFileSync(
      siteFile,
      syntheticSite({
        gatewayId,
        mqttUrl: broker.url,
        port: sim.port,
        devices: DEVICES,
        pointsPerDevice: POINTS_PER_DEVICE,
        pollIntervalMs: POLL_MS,
        layout: 'uint64',
        bufferDir: path.join(dir, gatewayId),
        signingKeyFile: key.privateKeyFile,
      }),
    );
    const stack = forkTs('stack-child.ts');
    const gw = forkTs('gateway-child.ts', [siteFile]);
    let mrv: SideResult;
    try {
      await ask(stack, {
        cmd: 'start',
        brokerUrl: broker.url,
        influxUrl: influx.url,
        clientId: 'bench-vs-nodered',
        publicKeyPem: key.publicKeyPem,
        unitId: 'BENCH0000000001',
        gatewayId,
      });
      await ask(gw, { cmd: 'start' });
      mrv = await measure('carbon-mrv', influx, broker, 'mrv', () => [gw.pid as number, stack.pid as number]);
    } finally {
      await ask(gw, { cmd: 'stop' }).catch(() => undefined);
      await ask(stack, { cmd: 'stop' }).catch(() => undefined);
      await stopChild(gw);
      await stopChild(stack);
    }
    const offered = (DEVICES * POINTS_PER_DEVICE * 1000) / POLL_MS;
    for (const [label, r] of [
      ['Node-RED', red],
      ['carbon-mrv', mrv],
    ] as const) {
      figures.push(
        { name: `${label}: readings/s stored (offered ${fmt(offered)})`, value: fmt(r.rate) },
        { name: `${label}: CPU`, value: `${fmt(r.cpuShare * 100)} % of one core` },
        { name: `${label}: readings stored per CPU-second`, value: fmt(r.perCpuS) },
        { name: `${label}: peak RSS`, value: fmt(r.peakRssMiB), unit: 'MiB' },
        {
          name: `${label}: change → InfluxDB p50 / p99`,
          value: `${fmt(r.latencyP50)} / ${fmt(r.latencyP99)}`,
          unit: 'ms',
        },
        {
          name: `${label}: readings lost in a 15 s broker outage (restart without state)`,
          value: `${fmt(r.lostReadings)} of ${fmt(r.outageSlots)} (${fmt(r.lostShare * 100, 1)} %)`,
          ...(label === 'carbon-mrv' ? { target: '0', met: r.lostReadings === 0 } : {}),
        },
      );
    }
    figures.push(
      { name: 'carbon-mrv / Node-RED readings per CPU-second', value: fmt(mrv.perCpuS / red.perCpuS, 2) },
      { name: 'carbon-mrv / Node-RED peak RSS', value: fmt(mrv.peakRssMiB / red.peakRssMiB, 2) },
    );
    notes.push(
      `Same run, same peers: bench/time-sim.ts (a raw node:net Modbus TCP responder whose values are the ms time of their last change, changed every ${POLL_MS} ms), ${DEVICES} devices × ${POINTS_PER_DEVICE} uint64 values (one 124-register read per device) every ${POLL_MS} ms, Debian's Mosquitto at its default settings (no persistence), InfluxDB 1.6.7. Each side runs alone in turn: ${WARMUP_MS / 1000} s warm-up, ${STEADY_MS / 1000} s steady window, then Mosquitto is killed (kill -9), left down ${OUTAGE_MS / 1000} s and restarted without state; losses are the polls missing from InfluxDB in the outage window ± 1 s (silences over 2.5 polls on ${PROBES.length} probe points, scaled to all ${DEVICES * POINTS_PER_DEVICE} points).`,
      'Node-RED 4.1.8 with node-red-contrib-modbus 5.23.3 (modbus-read, one modbus-client per device) and node-red-contrib-influxdb 0.7.0 (influxdb batch, ms precision), flow bench/node-red/flows.json: modbus-read → function (registers → points, stamped at receipt) → mqtt out QoS 1 → mqtt in QoS 1 (same process, standing for the central side) → influxdb batch. One process; its CPU and RSS are that process. carbon-mrv: `Gateway` in its own process (signed batches, fdatasync’d disk log, QoS 1, store acknowledgement) and `Collector` + InfluxDB store + HTTP server in another (bench/gateway-child.ts, bench/stack-child.ts); CPU and RSS are the sum of both.',
      'Latency: every 250 ms the last stored value of d000.p0000 is read back from InfluxDB; the value is the instant it changed in the simulator, so now − value includes the wait for the next poll (up to 100 ms) and the query itself.',
    );
    return {
      id: 'node-red',
      title: 'Side by side with Node-RED',
      figures,
      notes,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await sim.stop();
    await broker.stop();
    await influx.stop();
  }
}
