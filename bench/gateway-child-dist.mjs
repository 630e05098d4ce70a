// The gateway child of bench/gateway-child.ts, on the compiled release (dist/, built by `npm ci`):
// what `mrv gateway` runs, without tsx's loader, so that bench/footprint.ts measures the memory a plant's
// gateway process really takes. IPC as bench/lib.ts serveIpc: `start`, `stats`, `stop`.
import pino from 'pino';
import { Gateway } from '../dist/gateway/gateway.js';
import { loadSiteConfigIsolated } from '../dist/gateway/site-loader.js';

const siteFile = process.argv[2];
const log = pino({ level: process.env.MRV_LOG_LEVEL ?? 'warn' });
let gateway;

const handlers = {
  start: async () => {
    let stats;
    const site = await loadSiteConfigIsolated(siteFile, {
      onStats: (s) => {
        stats = s;
      },
    });
    gateway = new Gateway({ site, log });
    await gateway.start();
    return {
      points: site.devices.reduce((n, d) => n + d.config.points.length, 0),
      loaderPeakRssMiB: stats?.loaderPeakRssMiB,
      loadMs: stats?.ms,
    };
  },
  stats: () => {
    const mem = process.memoryUsage();
    return {
      ...(gateway?.counters ?? {}),
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
};

process.on('message', async (m) => {
  try {
    const h = handlers[String(m.cmd)];
    if (!h) throw new Error(`unknown command ${String(m.cmd)}`);
    process.send?.({ id: m.id, result: await h(m) });
  } catch (err) {
    process.send?.({ id: m.id, error: err?.stack ?? String(err) });
  }
});
process.on('disconnect', () => process.exit(0));
