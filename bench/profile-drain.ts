/**
 * CPU profile of the collector draining a queued backlog into InfluxDB (issue 19 item 2, the
 * `collector-ingest` path without the benchmark's own work): builds and queues the signed batches
 * first, then profiles only the drain with node:inspector (the collector runs in this process) and
 * prints the top functions by self time, with their share of the busy (non-idle) time (bench/profile.ts).
 * Run: `node_modules/.bin/tsx bench/profile-drain.ts [BATCHES]`; BENCH_WRITES_IN_FLIGHT sets the depth.
 * Writes the .cpuprofile to bench/.build/drain.cpuprofile (open it in Chrome DevTools).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import pino from 'pino';
import { Collector } from '../collector/collector.ts';
import { InfluxStore } from '../collector/influx-store.ts';
import { keyRegistry } from '../collector/keys.ts';
import { buildBatches, dataTopic, publishAll } from '../simulators/gateway-traffic.ts';
import { startInfluxDb } from '../test/helpers/influxdb.ts';
import { startMosquitto } from '../test/helpers/mosquitto.ts';
import { BUILD_DIR, fmt, MOSQUITTO_BENCH_CONFIG, makeKeyPair, sleep, tempDir } from './lib.ts';
import { type CpuProfile, summariseCpuProfiles } from './profile.ts';

const BATCHES = Number(process.argv[2] ?? 1000);
const READINGS = 600;
const UNIT = 'BENCH0000000001';
const GW = 'gw-bench-1';

async function main(): Promise<void> {
  const dir = tempDir('profile-drain');
  const key = makeKeyPair(dir, GW);
  const { payloads } = buildBatches({
    unitId: UNIT,
    gatewayId: GW,
    batches: BATCHES,
    readingsPerBatch: READINGS,
    startMs: Date.UTC(2026, 9, 1),
    privateKeyFile: key.privateKeyFile,
  });
  const influx = await startInfluxDb();
  const broker = await startMosquitto({ extraConfig: MOSQUITTO_BENCH_CONFIG });
  try {
    const store = new InfluxStore({ url: influx.url, database: 'mrv' });
    await store.start();
    const log = pino({ level: 'warn' });
    const keys = keyRegistry([{ gatewayId: GW, unitId: UNIT, publicKey: key.publicKeyPem }]);
    const clientId = 'profile-drain';
    const first = new Collector({ url: broker.url, store, log, clientId, keys });
    await first.start();
    await first.stop();
    await publishAll(broker.url, dataTopic(UNIT, GW), payloads);
    const collector = new Collector({
      url: broker.url,
      store,
      log,
      clientId,
      keys,
      ...(process.env.BENCH_WRITES_IN_FLIGHT
        ? { maxWritesInFlight: Number(process.env.BENCH_WRITES_IN_FLIGHT) }
        : {}),
    });
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 500 });
    await session.post('Profiler.start');
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await collector.start();
    const total = BATCHES * READINGS;
    while (collector.counters.readingsStored < total) await sleep(20);
    const s = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const { profile } = (await session.post('Profiler.stop')) as { profile: CpuProfile };
    await collector.stop();
    mkdirSync(BUILD_DIR, { recursive: true });
    writeFileSync(path.join(BUILD_DIR, 'drain.cpuprofile'), JSON.stringify(profile));
    console.log(
      `drained ${fmt(total)} readings in ${fmt(s, 1)} s = ${fmt(total / s)} points/s, collector CPU ${fmt(((cpu.user + cpu.system) / 1e6 / s) * 100)} % of a core`,
    );
    console.log('top 12 functions by self time (share of the profile):');
    const summary = summariseCpuProfiles([profile], 12);
    for (const r of summary.top)
      console.log(`  ${fmt(r.selfPct, 1).padStart(5)} %  ${r.functionName} ${r.location}`.trimEnd());
  } finally {
    await broker.stop();
    await influx.stop();
  }
}

await main();
process.exit(0);
