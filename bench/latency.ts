/**
 * End-to-end latency: from a simulator value change to its arrival on the server's SSE stream.
 * bench/time-sim.ts changes every value to the current time in ms every 100 ms; a real Gateway (own
 * process: signed batches, fsync'd disk log) polls it every 100 ms and publishes to Mosquitto; a
 * Collector writes into InfluxDB and feeds the SSE route of the HTTP server (another process); this
 * process reads `GET /api/v1/live` and, for the first arrival of each (point, value), takes
 * arrival − value. The poll phase (the value waits up to one poll interval to be read) is part of it.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startInfluxDb } from '../test/helpers/influxdb.ts';
import { startMosquitto } from '../test/helpers/mosquitto.ts';
import {
  ask,
  BENCH_DIR,
  type BenchResult,
  type Figure,
  fmt,
  forkTs,
  MOSQUITTO_BENCH_CONFIG,
  makeKeyPair,
  percentile,
  sleep,
  stopChild,
  syntheticSite,
  TSX_EXEC_ARGV,
  tempDir,
} from './lib.ts';

const POLL_MS = 100;
const WARMUP_MS = 4000;
const MEASURE_MS = 12_000;

export async function startTimeSim() {
  const child = spawn(process.execPath, [...TSX_EXEC_ARGV, path.join(BENCH_DIR, 'time-sim.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, CHANGE_MS: String(POLL_MS) },
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`time-sim exited ${code}`)));
  });
  return { port, stop: () => stopChild(child) };
}

/** Reads an SSE stream; calls `onBatch` with each batch event's data. */
export function sse(
  url: string,
  onBatch: (data: { readings: { point: string; value: string | null; rxTs: string }[] }, at: number) => void,
) {
  const req = http.get(url, (res) => {
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      const at = Date.now();
      buf += chunk;
      let i = buf.indexOf('\n\n');
      while (i >= 0) {
        const ev = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (ev.startsWith('event: batch\n')) onBatch(JSON.parse(ev.slice(ev.indexOf('data: ') + 6)), at);
        i = buf.indexOf('\n\n');
      }
    });
  });
  req.on('error', () => {});
  return () => req.destroy();
}

async function run(pointsPerS: number, brokerUrl: string, influxUrl: string, simPort: number, dir: string) {
  const points = (pointsPerS * POLL_MS) / 1000;
  const devices = Math.max(1, Math.round(points / 100));
  const key = makeKeyPair(dir, `gw-lat-${pointsPerS}`);
  const gatewayId = `gw-lat-${pointsPerS}`;
  const siteFile = path.join(dir, `${gatewayId}.site.yaml`);
  writeFileSync(
    siteFile,
    syntheticSite({
      gatewayId,
      mqttUrl: brokerUrl,
      port: simPort,
      devices,
      pointsPerDevice: points / devices,
      pollIntervalMs: POLL_MS,
      layout: 'uint64',
      bufferDir: path.join(dir, gatewayId),
      signingKeyFile: key.privateKeyFile,
    }),
  );
  const stack = forkTs('stack-child.ts');
  const gw = forkTs('gateway-child.ts', [siteFile]);
  try {
    const { url } = await ask<{ url: string }>(stack, {
      cmd: 'start',
      brokerUrl,
      influxUrl,
      clientId: `bench-lat-${pointsPerS}`,
      publicKeyPem: key.publicKeyPem,
      unitId: 'BENCH0000000001',
      gatewayId,
    });
    const seen = new Set<string>();
    const total: number[] = [];
    const pipeline: number[] = [];
    let measuring = false;
    let arrived = 0;
    const stopSse = sse(`${url}/api/v1/live`, (b, at) => {
      for (const r of b.readings) {
        if (r.value === null) continue;
        arrived++;
        const k = `${r.point}@${r.value}`;
        if (seen.has(k)) continue;
        seen.add(k);
        if (!measuring) continue;
        total.push(at - Number(r.value));
        pipeline.push(at - Date.parse(r.rxTs));
      }
    });
    await sleep(300);
    await ask(gw, { cmd: 'start' });
    await sleep(WARMUP_MS);
    measuring = true;
    const a0 = arrived;
    await sleep(MEASURE_MS);
    measuring = false;
    const rate = (arrived - a0) / (MEASURE_MS / 1000);
    stopSse();
    await ask(gw, { cmd: 'stop' }).catch(() => undefined);
    total.sort((x, y) => x - y);
    pipeline.sort((x, y) => x - y);
    return {
      points,
      devices,
      rate,
      samples: total.length,
      p50: percentile(total, 50),
      p99: percentile(total, 99),
      max: total[total.length - 1] ?? Number.NaN,
      pipeP50: percentile(pipeline, 50),
      pipeP99: percentile(pipeline, 99),
    };
  } finally {
    await ask(stack, { cmd: 'stop' }).catch(() => undefined);
    await stopChild(gw);
    await stopChild(stack);
  }
}

export async function benchLatency(): Promise<BenchResult> {
  const t0 = performance.now();
  const dir = tempDir('latency');
  const influx = await startInfluxDb();
  const broker = await startMosquitto({ extraConfig: MOSQUITTO_BENCH_CONFIG });
  const sim = await startTimeSim();
  try {
    const figures: Figure[] = [];
    const notes: string[] = [];
    for (const rate of [1000, 10_000]) {
      const r = await run(rate, broker.url, influx.url, sim.port, dir);
      console.log(
        `latency at ${rate} points/s (${r.points} points, ${r.devices} devices, delivered ${fmt(r.rate)} readings/s on SSE): p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms; read→SSE p50 ${r.pipeP50} p99 ${r.pipeP99} (${r.samples} samples)`,
      );
      const label = `${fmt(rate)} points/s`;
      figures.push(
        { name: `change → SSE p50 at ${label}`, value: r.p50, unit: 'ms' },
        {
          name: `change → SSE p99 at ${label}`,
          value: r.p99,
          unit: 'ms',
          ...(rate === 10_000 ? { target: '< 250', met: r.p99 < 250 } : {}),
        },
        { name: `change → SSE max at ${label}`, value: r.max, unit: 'ms' },
        {
          name: `gateway read → SSE (rxTs → arrival) p50 / p99 at ${label}`,
          value: `${r.pipeP50} / ${r.pipeP99}`,
          unit: 'ms',
        },
      );
      notes.push(
        `${label}: ${r.points} points (${r.devices} device${r.devices > 1 ? 's' : ''} of uint64 points, 125-register requests) polled every ${POLL_MS} ms; ${fmt(r.rate)} readings/s arrived on the SSE stream; ${fmt(r.samples)} value changes measured.`,
      );
    }
    notes.push(
      `Simulator: bench/time-sim.ts, a raw node:net Modbus TCP responder (answers in the same callback, no timer) whose values are the ms time of their last change, changed every ${POLL_MS} ms. Gateway: own process, production path (signature, fdatasync'd disk log, QoS 1). Broker: Mosquitto 2.0. Collector with default flush settings (a write at 16 batches or 10 000 readings, else after at most 25 ms), InfluxDB store, then the live feed and \`GET /api/v1/live\` of buildServer in a second process; the SSE client is this process. A value waits on average half a poll interval (up to ${POLL_MS} ms) before it is read: that is in the change → SSE figures, not in the read → SSE ones.`,
    );
    return {
      id: 'latency',
      title: 'End-to-end latency',
      figures,
      notes,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await sim.stop();
    await broker.stop();
    await influx.stop();
  }
}
