/**
 * Shared pieces of the fault-injection suite (issue 4, docs/architecture.md §5 "shown by fault-injection tests
 * that count every seq"):
 *
 * - a **counter device**: a real Modbus TCP server whose holding registers 0–1 (uint32) answer 1, 2, 3,
 *   ... one more per read, and which remembers every value it served, so the test knows exactly which
 *   readings left the device; it can go silent (requests time out) on command;
 * - a site file for one gateway polling it every 50 ms, signed with a fresh `mrv keygen` key and with a
 *   store-and-forward folder;
 * - {@link audit}: reads the store back and compares it with what the device served: every archived
 *   seq once, 1..N without a gap, every reading of every batch stored, values in order.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { generateGatewayKey } from '../../cli/keygen.ts';
import type { TimeSeriesStore } from '../../collector/store.ts';
import type { Batch } from '../../core/schema/wire.ts';
import { listenModbusTcp } from '../../simulators/shared/modbus-server.ts';
import { spawnTied, type TiedProcess } from '../helpers/tied-process.ts';

export const UNIT = '91110000FAULT0001X';
export const GATEWAY = 'gw-fault';
export const POINT = 'counter';
export const root = new URL('../..', import.meta.url).pathname;
export const MRV = path.join(root, 'bin/mrv.js');

/** A Modbus TCP device serving an incrementing uint32 counter. */
export interface CounterDevice {
  port: number;
  /** Every value served, in order. */
  served: number[];
  /** While true, requests get no answer (the gateway times out). */
  silent: boolean;
  /** Requests left unanswered while silent (each one a timed-out read for the gateway). */
  unanswered: number;
  close(): Promise<void>;
}

/** Starts a {@link CounterDevice} on a free loopback port. */
export async function startCounterDevice(): Promise<CounterDevice> {
  let n = 0;
  const device = {
    port: 0,
    served: [] as number[],
    silent: false,
    unanswered: 0,
    close: async () => {},
  };
  const vector = {
    getMultipleHoldingRegisters: (
      _addr: number,
      len: number,
      _unit: number,
      cb: (err: Error | null, v?: number[]) => void,
    ) => {
      if (device.silent) {
        device.unanswered++;
        return; // never answered: a dead device
      }
      n++;
      device.served.push(n);
      const words = [Math.floor(n / 65536), n % 65536];
      cb(null, words.concat(new Array(Math.max(0, len - 2)).fill(0)).slice(0, len));
    },
  };
  const listener = await listenModbusTcp(vector, '127.0.0.1', 0);
  device.port = listener.port;
  device.close = () => listener.close();
  return device;
}

/**
 * The gateway's Modbus answer timeout. The counter device answers at once, but an answer that reaches
 * a busy gateway process after the timeout (its event loop held up by a loaded machine, or by the
 * store writing in the same process) is a timed-out read of a value the device did serve, which the
 * audit counts as lost: 150 ms did that with 16 CPU hogs beside the tests. Only a silent device
 * should time out.
 */
export const DEVICE_TIMEOUT_MS = 2000;

/** A temp folder with a signing key and registry, removed by `cleanup()`. */
export interface FaultWorkspace {
  dir: string;
  keysDir: string;
  keyFile: string;
  bufferDir: string;
  cleanup(): void;
}

/** Makes the temp folder, the gateway's key (`mrv keygen` code) and its registry entry. */
export function workspace(): FaultWorkspace {
  const dir = mkdtempSync(path.join(tmpdir(), 'mrv-fault-'));
  const keysDir = path.join(dir, 'keys');
  const { privateKeyFile } = generateGatewayKey({ gatewayId: GATEWAY, unitId: UNIT, outDir: keysDir });
  return {
    dir,
    keysDir,
    keyFile: privateKeyFile,
    bufferDir: path.join(dir, 'buffer'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Writes the site file (one device, one point, 50 ms polls, 2 s timeouts, signed, disk log) and
 * returns its path. `mqtt` is the broker URL, or the whole `gateway.mqtt` object (TLS, credentials).
 */
export function writeSite(
  ws: FaultWorkspace,
  devicePort: number,
  mqtt: string | Record<string, string | number | string[]>,
  more: { pollIntervalMs?: number; timeoutMs?: number; delivery?: Record<string, string | number> } = {},
): string {
  const mqttFields = typeof mqtt === 'string' ? { url: mqtt } : mqtt;
  const file = path.join(ws.dir, 'site.yaml');
  writeFileSync(
    file,
    `version: 1
unit: { id: ${UNIT}, name: Fault test unit, industry: cement, province: 北京 }
gateway:
  id: ${GATEWAY}
  mqtt: ${JSON.stringify({ keepaliveS: 2, ...mqttFields })}
  bufferDir: buffer
  bufferSegmentBytes: 16384${more.delivery ? `\n  delivery: ${JSON.stringify(more.delivery)}` : ''}
  signingKeyFile: keys/${GATEWAY}.key.pem
meters:
  - { id: m1, name: counter meter, kind: flowmeter }
devices:
  - id: counter-dev
    driver: modbus-tcp
    host: 127.0.0.1
    port: ${devicePort}
    pollIntervalMs: ${more.pollIntervalMs ?? 50}
    timeoutMs: ${more.timeoutMs ?? DEVICE_TIMEOUT_MS}
    retries: 0
    reconnectDelayMs: 100
    points:
      - { id: ${POINT}, table: holding, address: 0, type: uint32, unit: m3, meter: m1 }
`,
  );
  return file;
}

/** Polls `check` every 100 ms until it returns true or `timeoutMs` passes (then fails with `what`). */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What {@link audit} found. */
export interface AuditResult {
  batches: number;
  lastSeq: number;
  /** Stored good counter values, in time order. */
  values: number[];
  /** Stored readings that are bad (device silent), with their reasons. */
  bad: string[];
  findings: { code: string; detail: Record<string, unknown> }[];
}

/**
 * Reads back the archive, readings and findings of the fault gateway and checks the delivery
 * guarantees: archived seqs are exactly 1..N (none twice, none missing), every batch verified, every
 * reading of every archived batch is in the readings table with its value and quality, nothing else is.
 */
export async function audit(store: TimeSeriesStore): Promise<AuditResult> {
  const archive = await store.listBatches({ unitId: UNIT, gatewayId: GATEWAY, limit: 1_000_000 });
  const seqs = archive.map((b) => b.seq);
  expect(seqs.length, 'archived batches').toBeGreaterThan(0);
  expect(seqs, 'archived seqs are 1..N with no gap and no repeat').toEqual(seqs.map((_, i) => i + 1));
  expect(
    archive
      .filter((b) => b.verdict !== 'verified')
      .map((b) => ({ seq: b.seq, verdict: b.verdict, findings: b.findings })),
    'every batch verified',
  ).toEqual([]);
  const expected = new Map<number, { value: string | null; quality: string }>();
  for (const b of archive) {
    const batch = JSON.parse(b.canonical) as Batch;
    for (const r of batch.readings) {
      const ts = Date.parse(r.ts);
      expect(expected.has(ts), `reading time ${r.ts} appears in two batches`).toBe(false);
      expected.set(ts, { value: r.value, quality: r.quality });
    }
  }
  const rows = await store.series({
    unitId: UNIT,
    pointId: POINT,
    from: 0,
    to: Date.now() + 3_600_000,
    limit: 1_000_000,
  });
  expect(rows.length, 'stored readings = readings of the archived batches').toBe(expected.size);
  for (const r of rows)
    expect({ value: r.value, quality: r.quality }).toEqual(expected.get(Date.parse(r.ts)));
  const values = rows.filter((r) => r.quality === 'good').map((r) => Number(r.value));
  for (let i = 1; i < values.length; i++)
    expect(values[i] as number, 'counter values increase').toBeGreaterThan(values[i - 1] as number);
  const findings = (await store.listFindings(UNIT, 0, Date.now() + 3_600_000)).map((f) => ({
    code: f.code,
    detail: f.detail,
  }));
  return {
    batches: archive.length,
    lastSeq: seqs.at(-1) ?? 0,
    values,
    bad: rows.filter((r) => r.quality === 'bad').map((r) => (r as { reason?: string }).reason ?? ''),
    findings,
  };
}

/**
 * The readings lost between device and store: values the device served that are not stored. At most
 * `allowedAtEnds` values may be missing where a gateway was stopped or killed between a read and its
 * append (never logged, so never part of any batch; `seq` stays gapless).
 */
export function lostValues(served: readonly number[], stored: readonly number[]): number[] {
  const have = new Set(stored);
  return served.filter((v) => !have.has(v));
}

/**
 * Starts `mrv collector` as a child process storing into the SQLite file `sqlite`, verifying against
 * the workspace's key registry, with a fixed client id (a persistent session) and MQTT keepalive (s).
 */
export function spawnCollector(
  ws: FaultWorkspace,
  o: { mqtt: string; sqlite: string; clientId: string; keepaliveS: number },
): Promise<TiedProcess> {
  return spawnTied(
    process.execPath,
    [
      MRV,
      'collector',
      '--mqtt',
      o.mqtt,
      '--store',
      'sqlite',
      '--sqlite',
      o.sqlite,
      '--keys',
      ws.keysDir,
      '--client-id',
      o.clientId,
      '--keepalive',
      String(o.keepaliveS),
    ],
    { cwd: root, env: { ...process.env, MRV_LOG_LEVEL: 'info' } },
  );
}
