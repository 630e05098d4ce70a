/**
 * How much room an InfluxDB 1.x database takes per reading (issue 19 item 3: "bytes per reading in
 * SQLite and InfluxDB"): the bytes of its TSM files (`data/<db>`) and of its write-ahead log
 * (`wal/<db>`) under the server's folder, after the in-memory cache was snapshotted to TSM (the WAL
 * segments then go), divided by the readings written. Level-1 TSM files as the snapshot writes them,
 * before InfluxDB's later full compaction, which only makes them smaller. For bench/collector-ingest.ts.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** Bytes of every file under `dir` (0 when it does not exist). */
export function dirBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}

/** The on-disk room of one database of a server folder (test/helpers/influxdb.ts `dir`), bytes. */
export interface InfluxFootprint {
  /** TSM files and their indexes under `data/<db>`. */
  tsmBytes: number;
  /** WAL segments still under `wal/<db>`. */
  walBytes: number;
}

/** Measures the database `db` of the server folder `serverDir` (see {@link InfluxFootprint}). */
export function influxFootprint(serverDir: string, db: string): InfluxFootprint {
  return {
    tsmBytes: dirBytes(path.join(serverDir, 'data', db)),
    walBytes: dirBytes(path.join(serverDir, 'wal', db)),
  };
}

/**
 * Waits until the database's WAL holds no more than `maxWalBytes` (the cache was snapshotted to TSM:
 * with `cache-snapshot-write-cold-duration` short, seconds after the last write), at most `timeoutMs`.
 * @returns the footprint when it settled, or the last one measured at the timeout
 */
export async function settledInfluxFootprint(
  serverDir: string,
  db: string,
  { maxWalBytes = 64 * 1024, timeoutMs = 60_000 } = {},
): Promise<InfluxFootprint & { settled: boolean }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const f = influxFootprint(serverDir, db);
    if (f.walBytes <= maxWalBytes) return { ...f, settled: true };
    if (Date.now() > deadline) return { ...f, settled: false };
    await new Promise((r) => setTimeout(r, 500));
  }
}
