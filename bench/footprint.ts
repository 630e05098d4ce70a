/**
 * Footprint: RSS of a gateway process with 10 000 configured points (16 Modbus TCP devices × 625
 * points, polled every second from the fast libmodbus server, signed batches, disk log, Mosquitto).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startMosquitto } from '../test/helpers/mosquitto.ts';
import {
  ask,
  type BenchResult,
  fmt,
  forkTs,
  MOSQUITTO_BENCH_CONFIG,
  makeKeyPair,
  procStat,
  sleep,
  startFastModbusServer,
  stopChild,
  syntheticSite,
  tempDir,
} from './lib.ts';

export async function benchFootprint(): Promise<BenchResult> {
  const t0 = performance.now();
  const dir = tempDir('footprint');
  const server = await startFastModbusServer();
  const broker = await startMosquitto({ extraConfig: MOSQUITTO_BENCH_CONFIG });
  const key = makeKeyPair(dir, 'gw-bench-1');
  const siteFile = path.join(dir, 'site.yaml');
  writeFileSync(
    siteFile,
    syntheticSite({
      mqttUrl: broker.url,
      port: server.port,
      devices: 16,
      pointsPerDevice: 625,
      pollIntervalMs: 1000,
      bufferDir: path.join(dir, 'buffer'),
      signingKeyFile: key.privateKeyFile,
    }),
  );
  const child = forkTs('gateway-child.ts', [siteFile]);
  try {
    const before = procStat(child.pid as number);
    const { points } = await ask<{ points: number }>(child, { cmd: 'start' });
    const started = procStat(child.pid as number);
    await sleep(15_000);
    const st = await ask<{ readings: number; heapMiB: number; rssMiB: number }>(child, { cmd: 'stats' });
    const p = procStat(child.pid as number);
    await ask(child, { cmd: 'stop' }).catch(() => undefined);
    console.log(
      `footprint: ${points} points; RSS ${fmt(p.rssMiB)} MiB (peak ${fmt(p.peakRssMiB)}, after start ${fmt(started.rssMiB)}, bare Node + tsx ${fmt(before.rssMiB)}), heap ${fmt(st.heapMiB)} MiB; ${fmt(st.readings)} readings in 15 s`,
    );
    return {
      id: 'footprint',
      title: 'Gateway footprint',
      figures: [
        {
          name: `gateway RSS with ${fmt(points)} points, steady (15 s at 1 s polling)`,
          value: fmt(p.rssMiB),
          unit: 'MiB',
          target: '< 150',
          met: p.rssMiB < 150,
        },
        {
          name: 'gateway peak RSS (VmHWM, includes loading the site file)',
          value: fmt(p.peakRssMiB),
          unit: 'MiB',
          target: '< 150',
          met: p.peakRssMiB < 150,
        },
        { name: 'JS heap used, steady', value: fmt(st.heapMiB), unit: 'MiB' },
        {
          name: 'RSS of the bare process (Node + tsx loader, before start)',
          value: fmt(before.rssMiB),
          unit: 'MiB',
        },
      ],
      notes: [
        `16 devices × 625 points (float32 and uint16, 125-register requests), one poll a second, signed batches into the fdatasync'd disk log and Mosquitto; the gateway in its own process run by Node with tsx's loader (as \`mrv gateway\` runs), RSS from /proc/<pid>/status (VmRSS, VmHWM). ${fmt(st.readings)} readings were published during the 15 s.`,
      ],
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await stopChild(child);
    await broker.stop();
    await server.stop();
  }
}
