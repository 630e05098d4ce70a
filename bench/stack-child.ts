/**
 * Collector (into InfluxDB) + live feed + HTTP server with the SSE route, in one process as `mrv
 * server` and `mrv collector` would share a live feed (bench/latency.ts, bench/replay.ts). IPC:
 * `start {brokerUrl, influxUrl, clientId, publicKeyPem?, unitId?, gatewayId?}` → {url}; `stats`;
 * `replayStats {lastBacklogSeq}` → batches stored with seq ≤ lastBacklogSeq, and the delay (store time −
 * first reading's rxTs) of the batches above it; `stop`.
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
/** Every stored batch as the live feed saw it: seq and store-to-read delay (ms). */
const storedBatches: { seq: number; delayMs: number }[] = [];

serveIpc({
  start: async (m) => {
    const store = new InfluxStore({ url: String(m.influxUrl) });
    await store.start();
    const live = new LiveHub();
    live.subscribe(undefined, (b) =>
      storedBatches.push({ seq: b.seq, delayMs: Date.now() - Date.parse(b.readings[0]?.rxTs ?? '') }),
    );
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
      // A/B runs of the write pipeline (docs/delivery.md "Pipelined writes"); default otherwise.
      ...(process.env.BENCH_WRITES_IN_FLIGHT
        ? { maxWritesInFlight: Number(process.env.BENCH_WRITES_IN_FLIGHT) }
        : {}),
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
  replayStats: (m) => {
    const last = Number(m.lastBacklogSeq);
    const backlog = new Set<number>();
    const delays: number[] = [];
    for (const b of storedBatches) {
      if (b.seq <= last) backlog.add(b.seq);
      else delays.push(b.delayMs);
    }
    delays.sort((a, b) => a - b);
    return {
      backlogStored: backlog.size,
      liveStored: delays.length,
      liveDelayMaxMs: delays.at(-1) ?? null,
      liveDelayP99Ms: delays[Math.max(0, Math.ceil(delays.length * 0.99) - 1)] ?? null,
      liveDelayP50Ms: delays[Math.max(0, Math.ceil(delays.length * 0.5) - 1)] ?? null,
    };
  },
  stop: async () => {
    await close?.();
    setTimeout(() => process.exit(0), 50);
    return true;
  },
});
