/**
 * Footprint: RSS of a gateway process with 10 000 configured points (16 Modbus TCP devices × 625
 * points, polled every second from the fast libmodbus server, signed batches, disk log, Mosquitto),
 * once as Node starts it by default and once with a smaller V8 young generation
 * (`--max-semi-space-size=4`, the setting recommended for the gateway's service, see bench/analysis.md).
 */
import { fork, spawn } from 'node:child_process';
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

/** The V8 flags measured besides the defaults (NODE_OPTIONS of the gateway child), as deploy/systemd/mrv-gateway.service sets them. */
export const GATEWAY_NODE_OPTIONS = '--max-semi-space-size=4 --max-old-space-size=128';

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
  /** Peak RSS of the site loader's child process (gateway/site-loader.ts), MiB; 0 if not reported. */
  loaderPeakRssMiB: number;
  /** Time to load the site (fork, parse, validate, hand over), ms. */
  loadMs: number;
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
    const { points, loaderPeakRssMiB, loadMs } = await ask<{
      points: number;
      loaderPeakRssMiB?: number;
      loadMs?: number;
    }>(child, { cmd: 'start' });
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
      loaderPeakRssMiB: loaderPeakRssMiB ?? 0,
      loadMs: loadMs ?? 0,
    };
  } finally {
    await stopChild(child);
  }
}

/** Memory of a `mrv gateway` process, from /proc, and the readings its metrics counted. */
export interface CommandFootprint {
  rssMiB: number;
  peakRssMiB: number;
  readings: number;
  /** From spawn to the metrics endpoint answering (modules loaded, site loaded, devices started), ms. */
  upMs: number;
}

/**
 * The real command as deploy/systemd/mrv-gateway.service runs it: `node ROOT/bin/mrv.js gateway -c SITE
 * --metrics-port …` on the compiled release (MRV_REQUIRE_DIST=1) with {@link GATEWAY_NODE_OPTIONS};
 * RSS after 15 s of polling. `root`: the checkout to run (another one for an A/B run); `env`: added to
 * this process's environment (NODE_OPTIONS and the like).
 */
export async function measureCommand(
  siteFile: string,
  root = REPO_ROOT,
  env: Record<string, string> = { NODE_OPTIONS: GATEWAY_NODE_OPTIONS },
): Promise<CommandFootprint> {
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [path.join(root, 'bin/mrv.js'), 'gateway', '-c', siteFile, '--metrics-port', '0'],
    {
      env: {
        ...process.env,
        ...env,
        MRV_REQUIRE_DIST: '1',
        MRV_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  try {
    const url = await new Promise<string>((resolveUrl, reject) => {
      let out = '';
      child.stdout?.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /gateway metrics: (\S+)\/metrics/.exec(out);
        if (m) resolveUrl(m[1] as string);
      });
      child.once('exit', (code) => reject(new Error(`mrv gateway exited (${code}) before serving metrics`)));
    });
    const upMs = performance.now() - t0;
    await sleep(15_000);
    const p = procStat(child.pid as number);
    const text = await (await fetch(`${url}/metrics`)).text();
    const readings = Number(/^mrv_gateway_points_read_total\S* (\d+)/m.exec(text)?.[1] ?? Number.NaN);
    return { rssMiB: p.rssMiB, peakRssMiB: p.peakRssMiB, readings, upMs };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
  }
}

/**
 * Writes the footprint benchmarks' site file `<dir>/<sub>.site.yaml`: 16 devices × 625 points (10,000)
 * polled every second from the bench Modbus server at `port`, publishing to `mqttUrl`, its disk log in
 * `<dir>/<sub>/buffer`, signing with `signingKeyFile`. Also used by bench/footprint-ab.ts.
 * @returns the file's path
 */
export function footprintSite(
  dir: string,
  sub: string,
  mqttUrl: string,
  port: number,
  signingKeyFile: string,
): string {
  const file = path.join(dir, `${sub}.site.yaml`);
  writeFileSync(
    file,
    syntheticSite({
      mqttUrl,
      port,
      devices: 16,
      pointsPerDevice: 625,
      pollIntervalMs: 1000,
      bufferDir: path.join(dir, sub, 'buffer'),
      signingKeyFile,
    }),
  );
  return file;
}

export async function benchFootprint(): Promise<BenchResult> {
  const t0 = performance.now();
  const dir = tempDir('footprint');
  const server = await startFastModbusServer();
  const broker = await startMosquitto({ extraConfig: MOSQUITTO_BENCH_CONFIG });
  // Confirms every batch as stored: the gateway releases its log as in production (docs/delivery.md).
  const echo = await startStoreAckEcho(broker.url);
  const key = makeKeyPair(dir, 'gw-bench-1');
  const site = (sub: string) => footprintSite(dir, sub, broker.url, server.port, key.privateKeyFile);
  try {
    const d = await measure(site('default'), '');
    const f = await measure(site('flag'), GATEWAY_NODE_OPTIONS);
    if (!existsSync(path.join(REPO_ROOT, 'dist', 'build-info.json')))
      throw new Error('dist/ missing: npm run build (npm ci builds it)');
    const c = await measure(site('compiled'), GATEWAY_NODE_OPTIONS, true);
    // The real command; with BENCH_FOOTPRINT_BASELINE=CHECKOUT (another checkout, built) also that
    // one's, alternating in the same run: the before/after of a change (bench/analysis.md).
    const baselineRoot = process.env.BENCH_FOOTPRINT_BASELINE;
    const runs = baselineRoot ? 2 : 1;
    const cmd: CommandFootprint[] = [];
    const base: CommandFootprint[] = [];
    for (let i = 0; i < runs; i++) {
      if (baselineRoot) base.push(await measureCommand(site(`baseline-${i}`), baselineRoot));
      cmd.push(await measureCommand(site(`command-${i}`)));
    }
    for (const [name, list] of [
      ['this checkout', cmd],
      [`baseline ${baselineRoot}`, base],
    ] as const)
      for (const m of list)
        console.log(
          `footprint (mrv gateway, ${name}): RSS ${fmt(m.rssMiB)} MiB (peak ${fmt(m.peakRssMiB)}), ${fmt(m.readings)} readings in 15 s, up in ${fmt(m.upMs, 0)} ms`,
        );
    const worst = (l: CommandFootprint[], k: 'rssMiB' | 'peakRssMiB') => Math.max(...l.map((m) => m[k]));
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
          name: 'compiled release: peak RSS of the site loader child (parse and validation, exits after)',
          value: fmt(c.loaderPeakRssMiB),
          unit: 'MiB',
        },
        {
          name: 'compiled release: site load time (fork the loader, parse, validate, hand over)',
          value: fmt(c.loadMs, 0),
          unit: 'ms',
        },
        {
          name: `\`mrv gateway --metrics-port\` (bin/mrv.js, dist/, \`${GATEWAY_NODE_OPTIONS}\`): RSS steady${runs > 1 ? ` (worst of ${runs})` : ''}`,
          value: fmt(worst(cmd, 'rssMiB')),
          unit: 'MiB',
          target: '< 120',
          met: worst(cmd, 'rssMiB') < 120,
        },
        {
          name: '`mrv gateway`: peak RSS (VmHWM)',
          value: fmt(worst(cmd, 'peakRssMiB')),
          unit: 'MiB',
          target: '< 150',
          met: worst(cmd, 'peakRssMiB') < 150,
        },
        {
          name: '`mrv gateway`: from spawn to metrics served (modules, site, devices started)',
          value: fmt(Math.max(...cmd.map((m) => m.upMs)), 0),
          unit: 'ms',
        },
        ...(baselineRoot
          ? [
              {
                name: `baseline \`mrv gateway\` (BENCH_FOOTPRINT_BASELINE, same run): RSS steady / peak, worst of ${runs}`,
                value: `${fmt(worst(base, 'rssMiB'))} / ${fmt(worst(base, 'peakRssMiB'))}`,
                unit: 'MiB',
              },
            ]
          : []),
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
        `16 devices × 625 points (float32 and uint16, 125-register requests), one poll a second, signed batches into the fdatasync'd disk log and Mosquitto; the gateway in its own process, run from the sources by Node with tsx's loader (as in development) and from the compiled release in dist/ (bench/gateway-child-dist.mjs; as \`mrv gateway\` runs), the site loaded with \`loadSiteConfigIsolated\` (parsed and validated in a short-lived child process, gateway/site-loader.ts), RSS from /proc/<pid>/status (VmRSS, VmHWM). Measured twice: with Node's defaults (${fmt(d.readings)} readings published during the 15 s; heap ${fmt(d.heapMiB)} MiB used of ${fmt(d.heapTotalMiB)}, external ${fmt(d.externalMiB)} MiB) and with \`NODE_OPTIONS=${GATEWAY_NODE_OPTIONS}\` (${fmt(f.readings)} readings; heap ${fmt(f.heapMiB)} of ${fmt(f.heapTotalMiB)} MiB, external ${fmt(f.externalMiB)} MiB). Then the real command, \`node bin/mrv.js gateway -c SITE --metrics-port 0\` with \`MRV_REQUIRE_DIST=1 NODE_OPTIONS=${GATEWAY_NODE_OPTIONS}\` as deploy/systemd/mrv-gateway.service runs it (${cmd.map((m) => fmt(m.readings)).join(', ')} readings in 15 s, from its metrics)${baselineRoot ? `, alternating with the same command of the checkout in BENCH_FOOTPRINT_BASELINE (${base.map((m) => `${fmt(m.rssMiB)} / ${fmt(m.peakRssMiB)} MiB, ${fmt(m.readings)} readings, up in ${fmt(m.upMs, 0)} ms`).join('; ')})` : ''}.`,
      ],
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await echo.stop();
    await broker.stop();
    await server.stop();
  }
}
