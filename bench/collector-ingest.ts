/**
 * Collector ingest: signed batches queued on Mosquitto for the collector's persistent session, then
 * drained by our Collector (validation, signature and chain checks, exactly-once, store write, PUBACK)
 * into InfluxDB, against POSTing the same points as line protocol straight into InfluxDB (4 requests
 * in flight, 10 000 lines each: the limit); and into the embedded SQLite store.
 */
import path from 'node:path';
import pino from 'pino';
import { Collector } from '../collector/collector.ts';
import { InfluxStore } from '../collector/influx-store.ts';
import { keyRegistry } from '../collector/keys.ts';
import type { TimeSeriesStore } from '../collector/store.ts';
import { buildBatches, dataTopic, publishAll } from '../simulators/gateway-traffic.ts';
import { startInfluxDb } from '../test/helpers/influxdb.ts';
import { startMosquitto } from '../test/helpers/mosquitto.ts';
import type { ChildStore } from './collector-child.ts';
import { settledInfluxFootprint } from './influx-size.ts';
import {
  ask,
  type BenchResult,
  type DrainRun,
  fmt,
  forkTs,
  MOSQUITTO_BENCH_CONFIG,
  makeKeyPair,
  tempDir,
  timeDrain,
} from './lib.ts';
import { sqliteFootprint } from './sqlite-size.ts';

export const BATCHES = 2000;
export const READINGS = 600; // one device cycle of ~10 requests
export const UNIT = 'BENCH0000000001';
export const GW = 'gw-bench-1';

function lineOf(
  unit: string,
  gw: string,
  r: { point: string; ts: string; rxTs: string; value: string },
  seq: number,
): string {
  const f = Number(r.value);
  return `reading,device=d000,gateway=${gw},point=${r.point},quality=good,unit=${unit} value=${f},exact="${r.value}",seq=${seq}i,rx_ts=${Date.parse(r.rxTs)}i ${Date.parse(r.ts)}`;
}

async function direct(url: string, db: string, lines: string[]): Promise<number> {
  await fetch(`${url}/query?q=${encodeURIComponent(`CREATE DATABASE "${db}"`)}`, { method: 'POST' });
  const bodies: string[] = [];
  for (let i = 0; i < lines.length; i += 10_000) bodies.push(lines.slice(i, i + 10_000).join('\n'));
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const body = bodies[next++] as string;
      const res = await fetch(`${url}/write?db=${db}&precision=ms`, { method: 'POST', body });
      if (res.status !== 204) throw new Error(`direct write: ${res.status} ${await res.text()}`);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return lines.length / ((performance.now() - t0) / 1000);
}

/**
 * Queues the batches for a fresh persistent session, then times the collector draining them into
 * `store` (also used by bench/sqlite-store-ab.ts). The payloads are of unit {@link UNIT}, gateway {@link GW}.
 * @returns points/s, the process's CPU share, the collector's counters, seconds
 * @throws Error when the collector has not stored every reading within 120 s
 */
export async function viaCollector(
  brokerUrl: string,
  store: TimeSeriesStore,
  payloads: Buffer[],
  publicKeyPem: string,
  clientId: string,
): Promise<DrainRun> {
  const log = pino({ level: 'warn' });
  const keys = keyRegistry([{ gatewayId: GW, unitId: UNIT, publicKey: publicKeyPem }]);
  // Make the persistent session exist (subscribed), then go away so the broker queues for it.
  const first = new Collector({ url: brokerUrl, store, log, clientId, keys });
  await first.start();
  await first.stop();
  await publishAll(brokerUrl, dataTopic(UNIT, GW), payloads);
  const collector = new Collector({
    url: brokerUrl,
    store,
    log,
    clientId,
    keys,
    // A/B runs of the write pipeline (docs/delivery.md "Pipelined writes"); default otherwise.
    ...(process.env.BENCH_WRITES_IN_FLIGHT
      ? { maxWritesInFlight: Number(process.env.BENCH_WRITES_IN_FLIGHT) }
      : {}),
  });
  return timeDrain(collector, BATCHES * READINGS);
}

/**
 * {@link viaCollector} with the collector in a process of its own (bench/collector-child.ts), as
 * `mrv collector` runs: this process keeps the batches, which a collector sharing its heap would have
 * every major GC walk.
 * @throws Error when the collector has not stored every reading within 120 s
 */
export async function viaCollectorProcess(
  brokerUrl: string,
  store: ChildStore,
  payloads: Buffer[],
  publicKeyPem: string,
  clientId: string,
): Promise<DrainRun> {
  const child = forkTs('collector-child.ts');
  try {
    await ask(child, {
      cmd: 'session',
      brokerUrl,
      store,
      unitId: UNIT,
      gatewayId: GW,
      publicKeyPem,
      clientId,
    });
    await publishAll(brokerUrl, dataTopic(UNIT, GW), payloads);
    return await ask<DrainRun>(child, { cmd: 'drain', total: BATCHES * READINGS }, 180_000);
  } finally {
    child.kill();
  }
}

/**
 * The ingest benchmarks' batches: {@link BATCHES} × {@link READINGS} readings of gateway {@link GW}
 * from 2026-10-01, signed with a key pair made in `dir` and hash-chained like a gateway's (also
 * bench/sqlite-store-ab.ts).
 */
export function ingestBatches(dir: string) {
  const key = makeKeyPair(dir, GW);
  const built = buildBatches({
    unitId: UNIT,
    gatewayId: GW,
    batches: BATCHES,
    readingsPerBatch: READINGS,
    startMs: Date.UTC(2026, 9, 1),
    privateKeyFile: key.privateKeyFile,
  });
  return { key, ...built };
}

export async function benchCollectorIngest(): Promise<BenchResult> {
  const t0 = performance.now();
  const dir = tempDir('ingest');
  const { key, payloads, readings } = ingestBatches(dir);
  const lines: string[] = [];
  readings.forEach((rs, b) => {
    for (const r of rs) lines.push(lineOf(UNIT, GW, r as never, b + 1));
  });
  // The cache is snapshotted to TSM 2 s after the last write (default 10 min), so that the database's
  // room on disk can be measured after the run (bench/influx-size.ts); writes during the runs are not cold.
  const influx = await startInfluxDb({ dataConfig: ['cache-snapshot-write-cold-duration = "2s"'] });
  const broker = await startMosquitto({ extraConfig: MOSQUITTO_BENCH_CONFIG });
  try {
    const limit = await direct(influx.url, 'direct', lines);
    // The collector as `mrv collector` runs it, in a process of its own (the headline figures) ...
    const inf = await viaCollectorProcess(
      broker.url,
      { kind: 'influx', url: influx.url, database: 'mrv' },
      payloads,
      key.publicKeyPem,
      'bench-collector-influx',
    );
    // ... and in this process beside the prebuilt batches, as earlier runs measured it (for comparison).
    const influxStore = new InfluxStore({ url: influx.url, database: 'mrv_inprocess' });
    await influxStore.start();
    const inProcess = await viaCollector(
      broker.url,
      influxStore,
      payloads,
      key.publicKeyPem,
      'bench-collector-influx-inprocess',
    );
    await influxStore.stop();
    const limit2 = await direct(influx.url, 'direct2', lines);
    const influxSize = await settledInfluxFootprint(influx.dir, 'mrv');
    const influxPerReading = (influxSize.tsmBytes + influxSize.walBytes) / (BATCHES * READINGS);
    const lim = (limit + limit2) / 2;
    const sqliteFile = path.join(dir, 'mrv.sqlite');
    const sq = await viaCollectorProcess(
      broker.url,
      { kind: 'sqlite', path: sqliteFile },
      payloads,
      key.publicKeyPem,
      'bench-collector-sqlite',
    );
    const size = sqliteFootprint(sqliteFile);
    const ratio = inf.pointsPerS / lim;
    console.log(
      `direct ${fmt(limit)} / ${fmt(limit2)} points/s; collector→InfluxDB ${fmt(inf.pointsPerS)} points/s (CPU ${fmt(inf.cpuShare * 100)} %), ratio ${fmt(ratio, 2)} (in the benchmark's process ${fmt(inProcess.pointsPerS)} points/s, ratio ${fmt(inProcess.pointsPerS / lim, 2)}); collector→SQLite ${fmt(sq.pointsPerS)} points/s`,
    );
    return {
      id: 'collector-ingest',
      title: 'Collector ingest',
      figures: [
        {
          name: 'direct line-protocol POST into InfluxDB (the limit; mean of before and after)',
          value: fmt(lim),
          unit: 'points/s',
        },
        {
          name: 'MQTT → collector → InfluxDB',
          value: fmt(inf.pointsPerS),
          unit: 'points/s',
          target: '≥ 100 000',
          met: inf.pointsPerS >= 100_000,
        },
        { name: 'collector / direct', value: fmt(ratio, 2), target: '≥ 0.80', met: ratio >= 0.8 },
        {
          name: "collector / direct with the collector in the benchmark's process (beside the prebuilt batches; earlier runs' method)",
          value: fmt(inProcess.pointsPerS / lim, 2),
        },
        {
          name: 'collector CPU while draining into InfluxDB',
          value: fmt(inf.cpuShare * 100),
          unit: '% of one core',
        },
        { name: 'MQTT → collector → SQLite (embedded store)', value: fmt(sq.pointsPerS), unit: 'points/s' },
        {
          name: `InfluxDB database per reading, with the batch archive (TSM${influxSize.settled ? '' : ' + WAL not yet snapshotted'})`,
          value: fmt(influxPerReading, 1),
          unit: 'bytes',
        },
        {
          name: 'SQLite file per reading, with the batch archive',
          value: fmt(size.bytesPerReading, 1),
          unit: 'bytes',
        },
      ],
      notes: [
        `${fmt(BATCHES)} batches × ${READINGS} readings (${fmt(BATCHES * READINGS)} points), signed and hash-chained like a gateway's, queued on Mosquitto 2.0 (max_queued_messages 0, max_inflight_messages 20) for the collector's persistent session, then drained by one Collector (default flush settings: a write every 16 batches or 10 000 readings, else after at most 25 ms) with signature verification (key registry) into InfluxDB 1.6.7 (fresh temp instance); timed from connect to the last reading stored. The direct limit POSTs the same points as prebuilt line protocol (10 000 lines per request, 4 in flight) into another database of the same InfluxDB, once before and once after the collector run (${fmt(limit)} and ${fmt(limit2)} points/s). Collector stats (InfluxDB run): ${inf.counters.storeWrites} store writes, ${inf.counters.duplicates} duplicates, ${inf.counters.verificationFailures} verification failures. The collector runs in a process of its own (bench/collector-child.ts, tsx), as \`mrv collector\` does, so that its heap holds no prebuilt batches; the same drain with the collector in the benchmark's process, beside the ~1.2 M prebuilt readings and lines whose heap every major GC walks (how runs before 2026-12-07 measured it), gave ${fmt(inProcess.pointsPerS)} points/s (CPU ${fmt(inProcess.cpuShare * 100)} %), into a third database of the same InfluxDB between the two direct runs. InfluxDB and Mosquitto are separate processes on the same 2 cores.`,
        `InfluxDB database \`mrv\` after the run: ${fmt(influxSize.tsmBytes / 2 ** 20, 1)} MiB of TSM files and ${fmt(influxSize.walBytes / 2 ** 10, 1)} KiB of WAL (level-1 TSM files as the cache snapshot writes them, ${influxSize.settled ? 'the WAL snapshotted' : 'the WAL NOT yet snapshotted after 60 s'}; InfluxDB's later full compaction only shrinks them) for the same readings (bench/influx-size.ts).`,
        `SQLite file after the run: ${fmt(size.fileBytes / 2 ** 20, 1)} MiB for ${fmt(size.readings)} readings and ${fmt(size.batches)} archived batches (${size.tables
          .slice(0, 3)
          .map((t) => `${t.table} ${fmt(t.bytes / 2 ** 20, 1)} MiB`)
          .join(
            ', ',
          )}; dbstat). These readings are one device's 600 points with fresh values every batch; the demo's mix and a month's extrapolation are in bench/analysis.md "Storage per reading".`,
      ],
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await broker.stop();
    await influx.stop();
  }
}
