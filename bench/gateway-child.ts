/**
 * A gateway in its own process, so that its CPU and memory are measured alone (bench/lib.ts procStat).
 * Argument: the site file. IPC commands: `start`, `stats` (counters and driver cycles), `stop`.
 * The site is loaded as a long-running gateway should load it: {@link loadSiteConfigIsolated}, the
 * parse and validation in a short-lived child process (gateway/site-loader.ts).
 */
import pino from 'pino';
import { Gateway } from '../gateway/gateway.ts';
import { loadSiteConfigIsolated, type SiteLoadStats } from '../gateway/site-loader.ts';
import { serveIpc } from './lib.ts';

const siteFile = process.argv[2] as string;
const log = pino({ level: process.env.MRV_LOG_LEVEL ?? 'warn' });
let gateway: Gateway | undefined;

serveIpc({
  start: async () => {
    let stats: SiteLoadStats | undefined;
    const site = await loadSiteConfigIsolated(siteFile, {
      onStats: (s) => {
        stats = s;
      },
    });
    gateway = new Gateway({ site, log, maxInFlight: Number(process.env.BENCH_MAX_IN_FLIGHT ?? 64) });
    await gateway.start();
    return {
      points: site.devices.reduce((n, d) => n + d.config.points.length, 0),
      loaderPeakRssMiB: stats?.loaderPeakRssMiB,
      loadMs: stats?.ms,
    };
  },
  stats: () => {
    const g = gateway;
    if (!g) return undefined;
    let cycles = 0;
    let failed = 0;
    for (const s of Object.values(g.deviceStatus())) {
      cycles += s.cycles;
      failed += s.failedRequests;
    }
    const mem = process.memoryUsage();
    return {
      ...g.counters,
      cycles,
      failedRequests: failed,
      heapMiB: mem.heapUsed / 2 ** 20,
      heapTotalMiB: mem.heapTotal / 2 ** 20,
      externalMiB: mem.external / 2 ** 20,
      rssMiB: mem.rss / 2 ** 20,
      at: Date.now(),
    };
  },
  stop: async () => {
    await gateway?.stop();
    gateway = undefined;
    setTimeout(() => process.exit(0), 50);
    return true;
  },
});
