/**
 * Collector (into InfluxDB) + live feed + HTTP server with the SSE route, in one process as `mrv
 * server` and `mrv collector` would share a live feed (bench/latency.ts, bench/replay.ts). IPC:
 * `start {brokerUrl, influxUrl, clientId, publicKeyPem?, unitId?, gatewayId?}` → {url}; `stats`; `stop`.
 */
import pino from 'pino';
import { Collector } from '../collector/collector.ts';
import { InfluxStore } from '../collector/influx-store.ts';
import { keyRegistry } from '../collector/keys.ts';
import { LiveHub } from '../collector/live.ts';
import { buildServer } from '../server/app.ts';
import { serveIpc } from './lib.ts';

const log = pino({ level: process.env.MRV_LOG_LEVEL ?? 'warn' });
let collector: Collector | undefined;
let close: (() => Promise<void>) | undefined;

serveIpc({
  start: async (m) => {
    const store = new InfluxStore({ url: String(m.influxUrl) });
    await store.start();
    const live = new LiveHub();
    const keys =
      typeof m.publicKeyPem === 'string'
        ? keyRegistry([
            { gatewayId: String(m.gatewayId), unitId: String(m.unitId), publicKey: m.publicKeyPem },
          ])
        : undefined;
    collector = new Collector({
      url: String(m.brokerUrl),
      store,
      live,
      log,
      clientId: String(m.clientId),
      ...(keys ? { keys } : {}),
    });
    await collector.start();
    const app = buildServer({ store, live, logger: false });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    close = async () => {
      await collector?.stop();
      await app.close();
      await store.stop();
    };
    return { url };
  },
  stats: () => {
    const mem = process.memoryUsage();
    return {
      ...collector?.counters,
      pendingReadings: collector?.pendingReadings,
      rssMiB: mem.rss / 2 ** 20,
      at: Date.now(),
    };
  },
  stop: async () => {
    await close?.();
    setTimeout(() => process.exit(0), 50);
    return true;
  },
});
