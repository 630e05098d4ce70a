/**
 * A/B of two versions of the SQLite store in one run (issue 19: storage per reading reduced, write
 * speed kept): the same signed batches of bench/collector-ingest.ts drained by the same Collector
 * (this checkout's) into collector/sqlite-store.ts of another checkout (A) and of this one (B),
 * alternating A B, B A, … so that the machine's load falls on both alike; then the points/s of each run
 * and of reading every point back (rawReadings, as evidence reads), and the file's bytes per reading
 * with the batch archive (bench/sqlite-size.ts).
 *
 *   mkdir /tmp/mrv-a && git archive COMMIT collector core | tar -x -C /tmp/mrv-a
 *   ln -s "$PWD/node_modules" /tmp/mrv-a/node_modules
 *   npx tsx bench/sqlite-store-ab.ts /tmp/mrv-a [rounds=3]
 *
 * Not part of `npm run bench` (it needs the other checkout); its figures are quoted in bench/analysis.md.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { SqliteStore } from '../collector/sqlite-store.ts';
import type { TimeSeriesStore } from '../collector/store.ts';
import { startMosquitto } from '../test/helpers/mosquitto.ts';
import { BATCHES, ingestBatches, READINGS, UNIT, viaCollector } from './collector-ingest.ts';
import { fmt, loadAvg, MOSQUITTO_BENCH_CONFIG, tempDir } from './lib.ts';
import { sqliteFootprint } from './sqlite-size.ts';

type StoreClass = new (o: { path: string }) => TimeSeriesStore;

const checkout = process.argv[2];
if (checkout === undefined) {
  process.stderr.write('usage: sqlite-store-ab.ts OTHER-CHECKOUT [rounds]\n');
  process.exit(2);
}
const rounds = Number(process.argv[3] ?? 3);
const other = (await import(pathToFileURL(path.resolve(checkout, 'collector/sqlite-store.ts')).href)) as {
  SqliteStore: StoreClass;
};
const variants: [string, StoreClass][] = [
  ['A', other.SqliteStore],
  ['B', SqliteStore],
];

const dir = tempDir('sqlite-ab');
const { key, payloads, readings } = ingestBatches(dir);
const points = [...new Set((readings[0] ?? []).map((r) => r.point))];
console.log(`A = ${checkout}, B = this checkout; ${rounds} rounds; load ${loadAvg()}`);
const broker = await startMosquitto({ extraConfig: MOSQUITTO_BENCH_CONFIG });
const results: Record<string, { pointsPerS: number[]; readsPerS: number[]; bytesPerReading: number[] }> = {
  A: { pointsPerS: [], readsPerS: [], bytesPerReading: [] },
  B: { pointsPerS: [], readsPerS: [], bytesPerReading: [] },
};

/** Reads every point's raw readings back as evidence does (rawReadings), readings/s. */
async function readBack(store: TimeSeriesStore): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  for (const pointId of points)
    n += (
      await store.rawReadings({ unitId: UNIT, pointId, from: 0, to: Date.UTC(2100, 0, 1), limit: 100_000 })
    ).length;
  if (n !== BATCHES * READINGS) throw new Error(`read back ${n} of ${BATCHES * READINGS} readings`);
  return n / ((performance.now() - t0) / 1000);
}
try {
  for (let round = 0; round < rounds; round++) {
    for (const [label, Store] of round % 2 === 0 ? variants : [...variants].reverse()) {
      const file = path.join(dir, `${label}-${round}.sqlite`);
      const store = new Store({ path: file });
      await store.start();
      const run = await viaCollector(broker.url, store, payloads, key.publicKeyPem, `ab-${label}-${round}`);
      const readsPerS = await readBack(store);
      await store.stop();
      const size = sqliteFootprint(file);
      results[label]?.pointsPerS.push(run.pointsPerS);
      results[label]?.readsPerS.push(readsPerS);
      results[label]?.bytesPerReading.push(size.bytesPerReading);
      console.log(
        `round ${round} ${label}: ${fmt(run.pointsPerS)} points/s (CPU ${fmt(run.cpuShare * 100)} %), read back ${fmt(readsPerS)} readings/s, ${fmt(size.fileBytes / 2 ** 20, 1)} MiB, ${fmt(size.bytesPerReading, 1)} bytes/reading (${size.tables
          .slice(0, 4)
          .map((t) => `${t.table} ${fmt(t.bytes / size.readings, 1)}`)
          .join(', ')} bytes/reading); load ${loadAvg()}`,
      );
    }
  }
} finally {
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
for (const [label, r] of Object.entries(results))
  console.log(
    `${label}: median ${fmt(median(r.pointsPerS))} points/s written (${r.pointsPerS.map((x) => fmt(x)).join(', ')}), ${fmt(median(r.readsPerS))} readings/s read back (${r.readsPerS.map((x) => fmt(x)).join(', ')}), ${fmt(median(r.bytesPerReading), 1)} bytes/reading`,
  );
