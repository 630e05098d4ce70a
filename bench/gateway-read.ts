/**
 * Gateway read path: a real Gateway (Modbus TCP drivers with request coalescing, decode, batch, Ed25519
 * signature, fsync'd disk log, MQTT QoS 1 to Mosquitto) in its own process, reading many devices of the
 * fast libmodbus server (bench/modbus-server.c) flat out (poll interval 10 ms, the schema's minimum),
 * against mbpoll (libmodbus, C) reading 125-register requests from the same server in the same run.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startMosquitto } from '../test/helpers/mosquitto.ts';
import { GATEWAY_NODE_OPTIONS } from './footprint.ts';
import {
  ask,
  type BenchResult,
  fmt,
  forkTs,
  MOSQUITTO_BENCH_CONFIG,
  makeKeyPair,
  median,
  procStat,
  sleep,
  startFastModbusServer,
  startStoreAckEcho,
  stopChild,
  syntheticSite,
  tempDir,
} from './lib.ts';

const DEVICES = 16;
const POINTS_PER_DEVICE = 630; // 10 requests of 125 registers (62 float32 + 1 uint16) each
const REQUESTS_PER_CYCLE = 10;
const WARMUP_MS = 3000;
const MEASURE_MS = 10_000;

/** mbpoll reading `repeats × 247` requests of 125 input registers in one process; requests/s. */
async function mbpollRate(port: number, repeats: number): Promise<number> {
  const list = Array.from({ length: repeats }, () => '1:247').join(',');
  const args = [
    '-m',
    'tcp',
    '-p',
    String(port),
    '-a',
    list,
    '-r',
    '1',
    '-c',
    '125',
    '-t',
    '3',
    '-0',
    '-1',
    '127.0.0.1',
  ];
  const t0 = performance.now();
  let polled = 0;
  await new Promise<void>((resolve, reject) => {
    const child = spawn('mbpoll', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let tail = '';
    child.stdout.on('data', (c: Buffer) => {
      const s = tail + c.toString('latin1');
      const m = s.match(/-- Polling slave/g);
      polled += m?.length ?? 0;
      tail = s.slice(-15); // shorter than the marker: no match is counted twice
    });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`mbpoll exited ${code}`))));
  });
  const s = (performance.now() - t0) / 1000;
  if (polled !== repeats * 247) throw new Error(`mbpoll polled ${polled}, expected ${repeats * 247}`);
  return polled / s;
}

interface Stats {
  readings: number;
  cycles: number;
  batchesPublished: number;
  batchesAcked: number;
  failedRequests: number;
  inFlight: number;
  at: number;
}

/** Runs the gateway child on a site; returns rates over the measuring window and its CPU/RSS. */
async function runGateway(siteFile: string, measureMs: number, env: NodeJS.ProcessEnv = {}) {
  const child = forkTs('gateway-child.ts', [siteFile], env);
  try {
    await ask(child, { cmd: 'start' });
    await sleep(WARMUP_MS);
    const pid = child.pid as number;
    const a = await ask<Stats>(child, { cmd: 'stats' });
    const pa = procStat(pid);
    await sleep(measureMs);
    const b = await ask<Stats>(child, { cmd: 'stats' });
    const pb = procStat(pid);
    const s = (b.at - a.at) / 1000;
    const result = {
      pointsPerS: (b.readings - a.readings) / s,
      requestsPerS: ((b.cycles - a.cycles) * REQUESTS_PER_CYCLE) / s,
      batchesPerS: (b.batchesPublished - a.batchesPublished) / s,
      ackedPerS: (b.batchesAcked - a.batchesAcked) / s,
      cpuShare: (pb.cpuS - pa.cpuS) / s,
      peakRssMiB: pb.peakRssMiB,
      rssMiB: pb.rssMiB,
      failedRequests: b.failedRequests,
      backlog: b.inFlight,
    };
    await ask(child, { cmd: 'stop' }).catch(() => undefined);
    return result;
  } finally {
    await stopChild(child);
  }
}

export async function benchGatewayRead(): Promise<BenchResult> {
  const t0 = performance.now();
  const dir = tempDir('gateway');
  const server = await startFastModbusServer();
  const broker = await startMosquitto({ extraConfig: MOSQUITTO_BENCH_CONFIG });
  // Confirms every batch as stored: the gateway releases its log as in production (docs/delivery.md).
  const echo = await startStoreAckEcho(broker.url);
  try {
    const key = makeKeyPair(dir, 'gw-bench-1');
    const site = (pollIntervalMs: number, sub: string) => {
      const file = path.join(dir, `${sub}.site.yaml`);
      writeFileSync(
        file,
        syntheticSite({
          mqttUrl: broker.url,
          port: server.port,
          devices: DEVICES,
          pointsPerDevice: POINTS_PER_DEVICE,
          pollIntervalMs,
          bufferDir: path.join(dir, sub, 'buffer'),
          signingKeyFile: key.privateKeyFile,
        }),
      );
      return file;
    };
    const mb1 = await mbpollRate(server.port, 40);
    const flat = await runGateway(site(10, 'flat'), MEASURE_MS);
    // The same flat-out read with the V8 flags the systemd unit gives the gateway (its memory figure).
    const flatUnit = await runGateway(site(10, 'flat-unit'), MEASURE_MS, {
      NODE_OPTIONS: GATEWAY_NODE_OPTIONS,
    });
    const mb2 = await mbpollRate(server.port, 40);
    const mb3 = await mbpollRate(server.port, 40);
    const mb = median([mb1, mb2, mb3]);
    // The target rate: 10 080 points every 100 ms = 100 800 points/s offered.
    const paced = await runGateway(site(100, 'paced'), MEASURE_MS);
    const ratio = flat.requestsPerS / mb;
    const perCore = flat.pointsPerS / Math.max(flat.cpuShare, 0.01);
    console.log(
      `gateway flat out: ${fmt(flat.pointsPerS)} points/s, ${fmt(flat.requestsPerS)} req/s, CPU ${fmt(flat.cpuShare * 100)} %, peak RSS ${fmt(flat.peakRssMiB)} MiB; mbpoll ${fmt(mb)} req/s (${[mb1, mb2, mb3].map((x) => fmt(x)).join(', ')}); ratio ${fmt(ratio, 2)}`,
    );
    console.log(
      `gateway paced (100 ms): ${fmt(paced.pointsPerS)} points/s, CPU ${fmt(paced.cpuShare * 100)} %, peak RSS ${fmt(paced.peakRssMiB)} MiB`,
    );
    return {
      id: 'gateway-read',
      title: 'Gateway read path',
      figures: [
        {
          name: 'gateway points/s, flat out (16 devices, 10 080 points, poll 10 ms)',
          value: fmt(flat.pointsPerS),
        },
        { name: 'gateway requests/s (125 registers), flat out', value: fmt(flat.requestsPerS) },
        { name: 'gateway CPU, flat out', value: fmt(flat.cpuShare * 100), unit: '% of one core' },
        {
          name: 'gateway points per CPU-second (one core)',
          value: fmt(perCore),
          target: '≥ 100 000',
          met: perCore >= 100_000,
        },
        {
          name: "gateway peak RSS, flat out, Node's default V8 flags",
          value: fmt(flat.peakRssMiB),
          unit: 'MiB',
        },
        {
          name: `gateway peak RSS, flat out, with the unit's \`${GATEWAY_NODE_OPTIONS}\``,
          value: fmt(flatUnit.peakRssMiB),
          unit: 'MiB',
          target: '< 150',
          met: flatUnit.peakRssMiB < 150,
        },
        {
          name: "gateway points/s flat out with the unit's flags (points per CPU-second)",
          value: `${fmt(flatUnit.pointsPerS)} (${fmt(flatUnit.pointsPerS / Math.max(flatUnit.cpuShare, 0.01))})`,
        },
        { name: 'mbpoll requests/s (one connection, 125 registers, median of 3)', value: fmt(mb) },
        { name: 'gateway / mbpoll request rate', value: fmt(ratio, 2), target: '≥ 0.5', met: ratio >= 0.5 },
        {
          name: 'gateway at 100 800 points/s offered (poll 100 ms): points/s delivered',
          value: fmt(paced.pointsPerS),
          target: '≥ 100 000',
          met: paced.pointsPerS >= 100_000,
        },
        {
          name: 'gateway CPU at 100 800 points/s offered',
          value: fmt(paced.cpuShare * 100),
          unit: '% of one core',
        },
        { name: 'gateway peak RSS at 100 800 points/s offered', value: fmt(paced.peakRssMiB), unit: 'MiB' },
      ],
      notes: [
        `Server: bench/modbus-server.c (libmodbus ${'3.1'}, one thread, select() over all connections, answers at once, no timer); ${DEVICES} gateway devices, each its own TCP connection to that one server (unit ids 1–${DEVICES}), ${POINTS_PER_DEVICE} points each laid out so the planner makes ${REQUESTS_PER_CYCLE} requests of 125 input registers (62 float32 + 1 uint16 = 63 points). The gateway runs in its own process with the production path: decode and exact scaling, one batch per device cycle, Ed25519 signature, fdatasync'd disk log (ext4), MQTT QoS 1 to Mosquitto 2.0 (no subscriber). Flat-out failed requests: ${flat.failedRequests}; batches published/s ${fmt(flat.batchesPerS)}, acknowledged/s ${fmt(flat.ackedPerS)}, unacknowledged at the end ${flat.backlog}.`,
        'mbpoll 1.4.11 (libmodbus) reads 40 × 247 unit ids once each (`-a 1:247,1:247,… -1`, one connection, strictly one request at a time, output to a pipe): its polling mode (`-l`) sleeps at least 10 ms between requests, so the slave list is the only way to make it go flat out. The gateway reads its 16 connections concurrently, mbpoll one; "points per CPU-second" is points/s divided by the gateway process\'s CPU share (user + system from /proc), i.e. what one core would carry.',
      ],
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await echo.stop();
    await broker.stop();
    await server.stop();
  }
}
