/**
 * Shared pieces of the benchmarks (`npm run bench`, bench/run.ts): the machine description, timing and
 * percentiles, synthetic site files, child processes whose CPU and memory are measured on their own,
 * and the fast Modbus TCP server of bench/modbus-server.c. Benchmarks are not tests: they print figures
 * and hand them to run.ts, which writes BENCHMARKS.md.
 */
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import mqtt from 'mqtt';
import type { CollectorCounters } from '../collector/collector.ts';
import { ackTopic, type StoreAck, seqRanges } from '../core/schema/delivery.ts';
import { isoMs } from '../core/time.ts';
import type { ProfileSection } from './profile.ts';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(BENCH_DIR, '..');
/** Where bench/setup.sh puts what it builds (gitignored). */
export const BUILD_DIR = path.join(BENCH_DIR, '.build');
export const MODBUS_SERVER = path.join(BUILD_DIR, 'modbus-server');

/** One figure of a benchmark: what, value, unit, and the target it is held against (if any). */
export interface Figure {
  name: string;
  value: number | string;
  unit?: string;
  /** e.g. "≥ 100 000"; empty when informational. */
  target?: string;
  /** true met, false missed, undefined informational. */
  met?: boolean;
}

/** What one benchmark returns to run.ts. */
export interface BenchResult {
  id: string;
  title: string;
  figures: Figure[];
  /** Markdown paragraphs: setup, method, what the figures mean. */
  notes: string[];
  seconds: number;
  /**
   * Where the time (or memory) goes for the missed figures: made by the benchmark itself
   * (bench/profile.ts), or by run.ts re-running it under {@link ProfileSection profiling} when it has none.
   */
  profiles?: ProfileSection[];
}

export function loadAvg(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
}

/** Cores, memory, CPU model, Node, OS. */
export function machine(): Record<string, string> {
  const cpus = os.cpus();
  return {
    cores: String(cpus.length),
    cpu: cpus[0]?.model ?? 'unknown',
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    os: `${os.type()} ${os.release()}`,
  };
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** Nearest-rank percentile of sorted numbers. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export function median(xs: readonly number[]): number {
  return percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function tempDir(name: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `mrv-bench-${name}-`));
}

/** Writes a fresh Ed25519 key pair; returns the private key file and the public key PEM. */
export function makeKeyPair(dir: string, name: string): { privateKeyFile: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const privateKeyFile = path.join(dir, `${name}.key.pem`);
  writeFileSync(privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return { privateKeyFile, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** Options of {@link syntheticSite}. */
export interface SyntheticSiteOptions {
  unitId?: string;
  gatewayId?: string;
  mqttUrl: string;
  port: number;
  devices: number;
  pointsPerDevice: number;
  pollIntervalMs: number;
  /** `float32` blocks of 62 float32 + 1 uint16 (125 registers, 63 points); `uint64`: 31 per 124 registers. */
  layout?: 'float32' | 'uint64';
  bufferDir?: string;
  bufferMaxBytes?: number;
  signingKeyFile?: string;
  timeoutMs?: number;
}

/**
 * A site file (YAML text) of `devices` Modbus TCP devices on one server, each with `pointsPerDevice`
 * points laid out contiguously so that the planner coalesces them into 125-register requests.
 */
export function syntheticSite(o: SyntheticSiteOptions): string {
  const lines: string[] = [
    'version: 1',
    'unit:',
    `  id: ${o.unitId ?? 'BENCH0000000001'}`,
    '  name: benchmark unit',
    '  industry: power',
    '  province: bench',
    'gateway:',
    `  id: ${o.gatewayId ?? 'gw-bench-1'}`,
    '  mqtt:',
    `    url: ${o.mqttUrl}`,
    ...(o.bufferDir ? [`  bufferDir: ${o.bufferDir}`] : []),
    ...(o.bufferMaxBytes ? [`  bufferMaxBytes: ${o.bufferMaxBytes}`] : []),
    ...(o.signingKeyFile ? [`  signingKeyFile: ${o.signingKeyFile}`] : []),
    'devices:',
  ];
  for (let d = 0; d < o.devices; d++) {
    const dev = `d${String(d).padStart(3, '0')}`;
    lines.push(
      `  - id: ${dev}`,
      '    driver: modbus-tcp',
      '    host: 127.0.0.1',
      `    port: ${o.port}`,
      `    unitId: ${(d % 247) + 1}`,
      `    pollIntervalMs: ${o.pollIntervalMs}`,
      `    timeoutMs: ${o.timeoutMs ?? 2000}`,
      '    points:',
    );
    for (let i = 0; i < o.pointsPerDevice; i++) {
      const id = `${dev}.p${String(i).padStart(4, '0')}`;
      if ((o.layout ?? 'float32') === 'uint64') {
        // 31 uint64 per 124 registers, then the next request.
        const addr = Math.floor(i / 31) * 125 + (i % 31) * 4;
        lines.push(`      - { id: ${id}, unit: ms, table: holding, address: ${addr}, type: uint64 }`);
        continue;
      }
      const block = Math.floor(i / 63);
      const k = i % 63;
      const addr = block * 125 + k * 2;
      lines.push(
        k < 62
          ? `      - { id: ${id}, unit: kW, table: input, address: ${addr}, type: float32 }`
          : `      - { id: ${id}, unit: count, table: input, address: ${addr}, type: uint16 }`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The fast libmodbus server (bench/modbus-server.c), built by bench/setup.sh. */
export interface FastModbusServer {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export async function startFastModbusServer(): Promise<FastModbusServer> {
  if (!existsSync(MODBUS_SERVER))
    execFileSync('bash', [path.join(BENCH_DIR, 'setup.sh')], { stdio: 'inherit' });
  const child = spawn(MODBUS_SERVER, ['0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`modbus-server exited (${code})`)));
  });
  return {
    port,
    pid: child.pid as number,
    stop: () => stopChild(child),
  };
}

export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** CPU seconds (user + system) and peak RSS of a child, from /proc (Linux). */
export function procStat(pid: number): { cpuS: number; rssMiB: number; peakRssMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { cpuS: ticks / 100, rssMiB: kb('VmRSS') / 1024, peakRssMiB: kb('VmHWM') / 1024 };
}

/**
 * Node's flags that load tsx for a TypeScript child, tsx named by its absolute URL: a bare
 * `--import tsx` resolves from the child's working directory and fails outside the repository.
 */
export const TSX_EXEC_ARGV: readonly string[] = [
  '--import',
  pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
];

/** A TypeScript child process run by Node with tsx's loader and an IPC channel. */
export function forkTs(file: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return fork(path.join(BENCH_DIR, file), args, {
    execArgv: [...TSX_EXEC_ARGV],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** Sends a request over IPC and waits for the reply of the same `id`. */
let nextId = 1;
export function ask<T>(child: ChildProcess, msg: Record<string, unknown>, timeoutMs = 60_000): Promise<T> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', on);
      reject(new Error(`child did not answer ${JSON.stringify(msg)} in ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (m: unknown) => {
      const r = m as { id?: number; error?: string; result?: T };
      if (r.id !== id) return;
      clearTimeout(timer);
      child.off('message', on);
      if (r.error) reject(new Error(r.error));
      else resolve(r.result as T);
    };
    child.on('message', on);
    child.send({ ...msg, id });
  });
}

/** Serves IPC requests in a child: `handlers[msg.cmd](msg)`; the answer carries the request's id. */
export function serveIpc(handlers: Record<string, (msg: Record<string, unknown>) => unknown>): void {
  process.on('message', async (m: Record<string, unknown>) => {
    const h = handlers[String(m.cmd)];
    try {
      if (!h) throw new Error(`unknown command ${String(m.cmd)}`);
      const result = await h(m);
      process.send?.({ id: m.id, result });
    } catch (err) {
      process.send?.({ id: m.id, error: (err as Error).stack ?? String(err) });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

/** A Mosquitto config addition for benchmarks: no save after every change (the test helper's default). */
export const MOSQUITTO_BENCH_CONFIG =
  'autosave_on_changes false\nautosave_interval 1800\nmax_inflight_messages 20';

/**
 * Stands in for an infinitely fast collector in the benchmarks that measure the gateway alone
 * (gateway-read, footprint): subscribes to every gateway's `data` and `backlog` and confirms each batch
 * as stored at once (a store acknowledgement every 10 ms, core/schema/delivery.ts), so that the gateway
 * runs its production path (release on store acknowledgement) without a real store on the same cores.
 * Reads only the seq of each payload (the canonical JSON has it in its first 200 bytes).
 */
export async function startStoreAckEcho(
  url: string,
): Promise<{ confirmed: () => number; stop(): Promise<void> }> {
  const client = await mqtt.connectAsync(url, { clientId: `bench-ack-echo-${process.pid}` });
  const waiting = new Map<string, number[]>();
  let confirmed = 0;
  client.on('message', (topic, payload) => {
    const m = /"seq":(\d+)/.exec(payload.subarray(0, 300).toString('latin1'));
    if (!m) return;
    const parts = topic.split('/');
    const key = `${parts[2]}/${parts[3]}`;
    const list = waiting.get(key) ?? [];
    list.push(Number(m[1]));
    waiting.set(key, list);
  });
  await client.subscribeAsync({ 'mrv/v1/+/+/data': { qos: 1 }, 'mrv/v1/+/+/backlog': { qos: 1 } });
  const timer = setInterval(() => {
    for (const [key, seqs] of waiting) {
      const [unitId, gatewayId] = key.split('/') as [string, string];
      const ack: StoreAck = {
        v: 1,
        gatewayId,
        stored: seqRanges(seqs),
        at: isoMs(Date.now()),
      };
      client.publish(ackTopic('mrv/v1', unitId, gatewayId), JSON.stringify(ack), { qos: 1 });
      confirmed += seqs.length;
    }
    waiting.clear();
  }, 10);
  return {
    confirmed: () => confirmed,
    stop: async () => {
      clearInterval(timer);
      await client.endAsync(true);
    },
  };
}

/**
 * One counter or gauge of a process's Prometheus `/metrics` on 127.0.0.1:`port` (0 when the process
 * does not expose it yet); undefined while the process is not up.
 */
export async function metric(port: number, name: string): Promise<number | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? 0 : Number(line.split(' ')[1]);
  } catch {
    return undefined; // not up yet
  }
}

/** What a timed collector drain measured (bench/collector-ingest.ts, bench/collector-child.ts). */
export interface DrainRun {
  pointsPerS: number;
  /** CPU seconds of the collector's process per second of the drain. */
  cpuShare: number;
  counters: CollectorCounters;
  seconds: number;
}

/**
 * Starts `collector` and times it from connect to `total` readings stored (this process's CPU over
 * that time), then stops it.
 * @throws Error when fewer than `total` are stored within 120 s
 */
export async function timeDrain(
  collector: { start(): Promise<void>; stop(): Promise<void>; readonly counters: CollectorCounters },
  total: number,
): Promise<DrainRun> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await collector.start();
  while (collector.counters.readingsStored < total) {
    await sleep(20);
    if (performance.now() - t0 > 120_000)
      throw new Error(`collector stored only ${collector.counters.readingsStored} of ${total}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const counters = { ...collector.counters };
  await collector.stop();
  return {
    pointsPerS: total / seconds,
    cpuShare: (cpu.user + cpu.system) / 1e6 / seconds,
    counters,
    seconds,
  };
}
