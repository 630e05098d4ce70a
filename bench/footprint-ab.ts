/**
 * A/B of V8 memory flags for `mrv gateway` (issue 19 item 1, bench/analysis.md "Gateway footprint,
 * compiled release"): the real command on the compiled release (`node bin/mrv.js gateway -c SITE
 * --metrics-port 0`, MRV_REQUIRE_DIST=1) with 10 000 points (the site of bench/footprint.ts), once per
 * NODE_OPTIONS variant per round, the variants interleaved so that each round sees the same machine.
 * RSS (VmRSS) is sampled every second after a warm-up, so that the figure is the steady range and not
 * one sample of the saw-tooth between major GCs; VmHWM is the peak including start-up; readings/s from
 * the gateway's metrics say what the read path keeps.
 *
 * `node_modules/.bin/tsx bench/footprint-ab.ts [ROUNDS] [SECONDS]` (defaults 2 and 40; needs dist/:
 * `npm run build`). Variants: BENCH_AB_VARIANTS, `;`-separated NODE_OPTIONS (an empty one = Node's
 * defaults), else the list below. BENCH_AB_BASELINE=CHECKOUT (another checkout, built) runs every
 * variant on that checkout too, alternating with this one in each round: a before/after of the code.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startMosquitto } from '../test/helpers/mosquitto.ts';
import { footprintSite } from './footprint.ts';
import {
  fmt,
  loadAvg,
  MOSQUITTO_BENCH_CONFIG,
  makeKeyPair,
  procStat,
  REPO_ROOT,
  sleep,
  startFastModbusServer,
  startStoreAckEcho,
  tempDir,
} from './lib.ts';

const VARIANTS = process.env.BENCH_AB_VARIANTS?.split(';') ?? [
  '--max-semi-space-size=4',
  // deploy/systemd/mrv-gateway.service
  '--max-semi-space-size=4 --max-old-space-size=128',
  '--max-semi-space-size=4 --max-old-space-size=96',
];
const WARM_UP_S = 10;

/** One run of one variant: the steady RSS range, the peak, readings/s. */
interface Sampled {
  options: string;
  /** The checkout run (this one, or BENCH_AB_BASELINE). */
  root: string;
  rssMedianMiB: number;
  rssMaxMiB: number;
  peakRssMiB: number;
  readingsPerS: number;
  cpuS: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

async function readings(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^mrv_gateway_points_read_total\S* (\d+)/m.exec(text)?.[1] ?? Number.NaN);
}

/**
 * `mrv gateway` of the checkout `root` with `options` as NODE_OPTIONS for `seconds`, sampled after
 * {@link WARM_UP_S}.
 */
async function run(siteFile: string, options: string, seconds: number, root = REPO_ROOT): Promise<Sampled> {
  const child = spawn(
    process.execPath,
    [path.join(root, 'bin/mrv.js'), 'gateway', '-c', siteFile, '--metrics-port', '0'],
    {
      env: { ...process.env, NODE_OPTIONS: options, MRV_REQUIRE_DIST: '1', MRV_LOG_LEVEL: 'warn' },
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
    await sleep(WARM_UP_S * 1000);
    const pid = child.pid as number;
    const r0 = await readings(url);
    const c0 = procStat(pid).cpuS;
    const t0 = performance.now();
    const rss: number[] = [];
    while (performance.now() - t0 < (seconds - WARM_UP_S) * 1000) {
      rss.push(procStat(pid).rssMiB);
      await sleep(1000);
    }
    const p = procStat(pid);
    const r1 = await readings(url);
    return {
      options,
      root,
      rssMedianMiB: median(rss),
      rssMaxMiB: Math.max(...rss),
      peakRssMiB: p.peakRssMiB,
      readingsPerS: (r1 - r0) / ((performance.now() - t0) / 1000),
      cpuS: p.cpuS - c0,
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
  }
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 2);
  const seconds = Number(process.argv[3] ?? 40);
  const dir = tempDir('footprint-ab');
  const server = await startFastModbusServer();
  const broker = await startMosquitto({ extraConfig: MOSQUITTO_BENCH_CONFIG });
  const echo = await startStoreAckEcho(broker.url);
  const key = makeKeyPair(dir, 'gw-bench-1');
  let n = 0;
  const site = () => footprintSite(dir, `run-${n++}`, broker.url, server.port, key.privateKeyFile);
  console.log(`load average at start: ${loadAvg()}`);
  try {
    const all: Sampled[] = [];
    const roots = [REPO_ROOT, ...(process.env.BENCH_AB_BASELINE ? [process.env.BENCH_AB_BASELINE] : [])];
    for (let i = 0; i < rounds; i++)
      for (const options of VARIANTS)
        for (const root of i % 2 === 0 ? roots : [...roots].reverse()) {
          const s = await run(site(), options, seconds, root);
          all.push(s);
          console.log(
            `round ${i + 1} ${root === REPO_ROOT ? 'this checkout' : root} (load ${loadAvg()}) \`${options || '(defaults)'}\`: RSS median ${fmt(s.rssMedianMiB)} MiB, max ${fmt(s.rssMaxMiB)}, peak ${fmt(s.peakRssMiB)}; ${fmt(s.readingsPerS)} readings/s; ${fmt(s.cpuS, 2)} CPU-s, ${fmt((s.readingsPerS * (seconds - WARM_UP_S)) / s.cpuS)} readings per CPU-second`,
          );
        }
    console.log(`load average at end: ${loadAvg()}`);
  } finally {
    await echo.stop();
    await broker.stop();
    await server.stop();
  }
}

await main();
