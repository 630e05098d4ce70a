/**
 * Footprint: RSS of a gateway process with 10 000 configured points (16 Modbus TCP devices × 625
 * points, polled every second from the fast libmodbus server, signed batches, disk log, Mosquitto),
 * once as Node starts it by default and once with a smaller V8 young generation
 * (`--max-semi-space-size=4`, the setting recommended for the gateway's service, see bench/analysis.md).
 */
import { fork } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startMosquitto } from '../test/helpers/mosquitto.ts';
import {
  ask,
  BENCH_DIR,
  type BenchResult,
  fmt,
  forkTs,
  MOSQUITTO_BENCH_CONFIG,
  makeKeyPair,
  procStat,
  REPO_ROOT,
  sleep,
  startFastModbusServer,
  startStoreAckEcho,
  stopChild,
  syntheticSite,
  tempDir,
} from './lib.ts';

/** The V8 flag measured besides the default (NODE_OPTIONS of the gateway child). */
export const GATEWAY_NODE_OPTIONS = '--max-semi-space-size=4';

interface Footprint {
  points: number;
  readings: number;
  bareMiB: number;
  startedMiB: number;
  rssMiB: number;
  peakRssMiB: number;
  heapMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
}

/**
 * One gateway child on `siteFile` for 15 s of 1 s polling; its memory at the end. `compiled`: the
 * release in dist/ (bench/gateway-child-dist.mjs, as `mrv gateway` runs), else the sources through tsx.
 */
async function measure(siteFile: string, nodeOptions: string, compiled = false): Promise<Footprint> {
  const env = nodeOptions ? { NODE_OPTIONS: nodeOptions } : {};
  const child = compiled
    ? fork(path.join(BENCH_DIR, 'gateway-child-dist.mjs'), [siteFile], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      })
    : forkTs('gateway-child.ts', [siteFile], env);
  try {
    // The child answers once its modules are loaded (Node, tsx's loader, the gateway's code).
    await ask(child, { cmd: 'stats' });
    const before = procStat(child.pid as number);
    const { points } = await ask<{ points: number }>(child, { cmd: 'start' });
    const started = procStat(child.pid as number);
    await sleep(15_000);
    const st = await ask<{ readings: number; heapMiB: number; heapTotalMiB: number; externalMiB: number }>(
      child,
      { cmd: 'stats' },
    );
    const p = procStat(child.pid as number);
    await ask(child, { cmd: 'stop' }).catch(() => undefined);
    return {
      points,
      readings: st.readings,
      bareMiB: before.rssMiB,
      startedMiB: started.rssMiB,
      rssMiB: p.rssMiB,
      peakRssMiB: p.peakRssMiB,
      heapMiB: st.heapMiB,
      heapTotalMiB: st.heapTotalMiB,
      externalMiB: st.externalMiB,
    };
  } finally {
    await stopChild(child);
  }
}

export async function benchFootprint(): Promise<BenchResult> {
  const t0 = performance.now();
  const dir = tempDir('footprint');
  const server = await startFastModbusServer();
  const broker = await startMosquitto({ extraConfig: MOSQUITTO_BENCH_CONFIG });
  // Confirms every batch as stored: the gateway releases its log as in production (docs/delivery.md).
  const echo = await startStoreAckEcho(broker.url);
  const key = makeKeyPair(dir, 'gw-bench-1');
  const site = (sub: string) => {
    const file = path.join(dir, `${sub}.site.yaml`);
    writeFileSync(
      file,
      syntheticSite({
        mqttUrl: broker.url,
        port: server.port,
        devices: 16,
        pointsPerDevice: 625,
        pollIntervalMs: 1000,
        bufferDir: path.join(dir, sub, 'buffer'),
        signingKeyFile: key.privateKeyFile,
      }),
    );
    return file;
  };
  try {
    const d = await measure(site('default'), '');
    const f = await measure(site('flag'), GATEWAY_NODE_OPTIONS);
    if (!existsSync(path.join(REPO_ROOT, 'dist', 'build-info.json')))
      throw new Error('dist/ missing: npm run build (npm ci builds it)');
    const c = await measure(site('compiled'), GATEWAY_NODE_OPTIONS, true);
    for (const [name, m] of [
      ['default', d],
      [GATEWAY_NODE_OPTIONS, f],
      [`compiled release, ${GATEWAY_NODE_OPTIONS}`, c],
    ] as const)
      console.log(
        `footprint (${name}): ${m.points} points; RSS ${fmt(m.rssMiB)} MiB (peak ${fmt(m.peakRssMiB)}, after start ${fmt(m.startedMiB)}, before start ${fmt(m.bareMiB)}), heap ${fmt(m.heapMiB)} of ${fmt(m.heapTotalMiB)} MiB, external ${fmt(m.externalMiB)} MiB; ${fmt(m.readings)} readings in 15 s`,
      );
    return {
      id: 'footprint',
      title: 'Gateway footprint',
      figures: [
        {
          name: `gateway RSS with ${fmt(d.points)} points, steady (15 s at 1 s polling)`,
          value: fmt(d.rssMiB),
          unit: 'MiB',
          target: '< 150',
          met: d.rssMiB < 150,
        },
        {
          name: 'gateway peak RSS (VmHWM, includes loading the site file)',
          value: fmt(d.peakRssMiB),
          unit: 'MiB',
          target: '< 150',
          met: d.peakRssMiB < 150,
        },
        {
          name: 'JS heap used / allocated, steady',
          value: `${fmt(d.heapMiB)} / ${fmt(d.heapTotalMiB)}`,
          unit: 'MiB',
        },
        {
          name: `gateway RSS, steady, with \`${GATEWAY_NODE_OPTIONS}\``,
          value: fmt(f.rssMiB),
          unit: 'MiB',
          target: '< 150',
          met: f.rssMiB < 150,
        },
        {
          name: `gateway peak RSS with \`${GATEWAY_NODE_OPTIONS}\``,
          value: fmt(f.peakRssMiB),
          unit: 'MiB',
          target: '< 150',
          met: f.peakRssMiB < 150,
        },
        {
          name: `compiled release (dist/, as \`mrv gateway\` runs), \`${GATEWAY_NODE_OPTIONS}\`: RSS steady`,
          value: fmt(c.rssMiB),
          unit: 'MiB',
          target: '< 120',
          met: c.rssMiB < 120,
        },
        {
          name: 'compiled release: peak RSS',
          value: fmt(c.peakRssMiB),
          unit: 'MiB',
          target: '< 150',
          met: c.peakRssMiB < 150,
        },
        {
          name: 'compiled release: RSS before start (Node and the compiled gateway modules, no site yet)',
          value: fmt(c.bareMiB),
          unit: 'MiB',
        },
        {
          name: 'RSS before start (Node, tsx loader and the gateway modules loaded, no site yet)',
          value: fmt(d.bareMiB),
          unit: 'MiB',
        },
      ],
      notes: [
        `16 devices × 625 points (float32 and uint16, 125-register requests), one poll a second, signed batches into the fdatasync'd disk log and Mosquitto; the gateway in its own process, run from the sources by Node with tsx's loader (as in development) and from the compiled release in dist/ (bench/gateway-child-dist.mjs; as \`mrv gateway\` runs), the site loaded with \`loadSiteConfigIsolated\` (parsed in a worker thread), RSS from /proc/<pid>/status (VmRSS, VmHWM). Measured twice: with Node's defaults (${fmt(d.readings)} readings published during the 15 s; heap ${fmt(d.heapMiB)} MiB used of ${fmt(d.heapTotalMiB)}, external ${fmt(d.externalMiB)} MiB) and with \`NODE_OPTIONS=${GATEWAY_NODE_OPTIONS}\` (${fmt(f.readings)} readings; heap ${fmt(f.heapMiB)} of ${fmt(f.heapTotalMiB)} MiB, external ${fmt(f.externalMiB)} MiB).`,
      ],
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await echo.stop();
    await broker.stop();
    await server.stop();
  }
}
