/**
 * The collector of bench/collector-ingest.ts in a process of its own, as `mrv collector` runs: the
 * benchmark's own process holds the prebuilt batches, their readings and the direct limit's line
 * protocol (~1.2 M objects and strings), which every major GC of a collector sharing that heap would
 * walk. IPC (bench/lib.ts `serveIpc`):
 * - `session {brokerUrl, store, unitId, gatewayId, publicKeyPem, clientId}`: makes the collector's persistent session exist
 *   (connect, subscribe, stop) so that the broker queues the batches published next for it;
 * - `drain {total}` → `{pointsPerS, cpuShare, counters, seconds}`: connects again and times the drain
 *   from connect to `total` readings stored (this process's CPU share over that time), then stops.
 * `store` is `{kind: 'influx', url, database}` or `{kind: 'sqlite', path}`.
 */
import pino from 'pino';
import { Collector } from '../collector/collector.ts';
import { InfluxStore } from '../collector/influx-store.ts';
import { keyRegistry } from '../collector/keys.ts';
import { SqliteStore } from '../collector/sqlite-store.ts';
import type { TimeSeriesStore } from '../collector/store.ts';
import { serveIpc, timeDrain } from './lib.ts';

/** Where the child's collector stores. */
export type ChildStore = { kind: 'influx'; url: string; database: string } | { kind: 'sqlite'; path: string };

const log = pino({ level: 'warn' });
let options: { url: string; clientId: string; keys: ReturnType<typeof keyRegistry> } | undefined;
let store: TimeSeriesStore | undefined;

serveIpc({
  session: async (m) => {
    const s = m.store as ChildStore;
    store =
      s.kind === 'influx'
        ? new InfluxStore({ url: s.url, database: s.database })
        : new SqliteStore({ path: s.path });
    await store.start();
    options = {
      url: String(m.brokerUrl),
      clientId: String(m.clientId),
      keys: keyRegistry([
        { gatewayId: String(m.gatewayId), unitId: String(m.unitId), publicKey: String(m.publicKeyPem) },
      ]),
    };
    const first = new Collector({ ...options, store, log });
    await first.start();
    await first.stop();
    return true;
  },
  drain: async (m) => {
    if (!options || !store) throw new Error('drain before session');
    const total = Number(m.total);
    // A/B runs of the write grouping (docs/delivery.md "Pipelined writes"); defaults otherwise.
    const env = (k: string) => (process.env[k] ? Number(process.env[k]) : undefined);
    const tuning = {
      ...(env('BENCH_WRITES_IN_FLIGHT') ? { maxWritesInFlight: env('BENCH_WRITES_IN_FLIGHT') } : {}),
      ...(env('BENCH_MAX_PENDING_BATCHES') ? { maxPendingBatches: env('BENCH_MAX_PENDING_BATCHES') } : {}),
    };
    const collector = new Collector({ ...options, store, log, ...tuning });
    const run = await timeDrain(collector, total);
    await store.stop();
    return run;
  },
});
