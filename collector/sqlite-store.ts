/**
 * {@link TimeSeriesStore} embedded in the process with SQLite (better-sqlite3), for the one-command
 * demo and for single-machine installs (docs/architecture.md §6). Same answers as the InfluxDB store; the contract
 * suite in `test/integration/store-contract.ts` runs both.
 *
 * Tables (STRICT, so SQLite never converts a value behind our back), schema 5:
 * - `name`: every unit, point, gateway, device and meter id a reading names, once (`id`, `text`);
 *   `reading` holds the ids (interned by the thread that writes, collector/sqlite-writer.ts), every read
 *   resolves them through {@link ID} or a join. Names are never deleted, so an id never changes meaning.
 * - `reading`: primary key `(unit, point, ts, gateway)`, clustered (WITHOUT ROWID), so one point's
 *   series is one range scan and a redelivered reading replaces the stored one, as InfluxDB's point
 *   identity (which has the gateway tag) does, while another gateway's reading at the same time never
 *   does; `seq` is the batch it last arrived in. Only readings of batches that passed verification (or
 *   were not checked) are here. `exact` TEXT holds the decimal string exactly, `value` REAL the float for
 *   charts (NULL for bad readings and for values a float cannot hold). Index `(unit, ts)` answers "newest
 *   data of a unit". `quality` is a code (0 good, 1 uncertain, 2 bad), `rx_delay` = receive time − `ts`
 *   (ms). Schema 4 stored the names and quality as TEXT and `rx_ts` whole: `start()` rebuilds it
 *   ({@link migrateTo5}). Schema 3 and older keyed it by `(unit, point, ts)`: `start()` rebuilds the table
 *   with the new key, moving the rows an unverified batch had written (reason `MRV_F_BAD_SIGNATURE: …`
 *   or `MRV_F_UNKNOWN_KEY: …`) to `quarantine`.
 * - `quarantine`: readings of batches that failed verification ({@link StoredReading.quarantine}),
 *   primary key `(unit, ts, gateway, point)` (a unit's quarantine by time is one range scan), `cause`
 *   the finding code, the other columns as in `reading` without the float.
 * - `gateway_meta`: newest catalogue per `(unit, gateway)` with the store clock's time `at`.
 * - `gateway_status`: newest status per `(unit, gateway)` by the collector's `received_at`.
 * - `finding`: one row per finding id, `t` = the finding's `ts` in ms, `state` its lifecycle state
 *   (`open|resolved`), the whole finding as `json`; index `(unit, t)` answers `listFindings`, the partial
 *   index `(unit, code) WHERE state = 'open'` answers `listOpenFindings`. Schema 2 had no `state`:
 *   `start()` adds the column, every old row `open` (their JSON has no `state`, which reads as open).
 * - `batch`: the batch archive, one row per `(unit, gateway, seq)` with the canonical bytes' UTF-8
 *   raw-deflated (BLOB; schema 4 kept TEXT, deflated at `start()`), inflated back to the identical text.
 *
 * better-sqlite3 is synchronous: each call blocks the event loop for the duration of the statement.
 * That is fine for the demo's volumes (a 10k-reading write takes milliseconds) and is why writes run
 * as one transaction with prepared statements.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { MrvError } from '../core/errors.ts';
import { type Finding, findingState } from '../core/schema/finding.ts';
import type { GatewayMeta, GatewayStatus, Quality } from '../core/schema/wire.ts';
import { type Clock, systemClock } from '../core/time.ts';
import { RUN_SOURCE, SqliteWriter, type WriteStep } from './sqlite-writer.ts';
import type {
  ArchivedBatch,
  BatchHead,
  BatchLink,
  BatchQuery,
  FindingFilter,
  GoodCount,
  GoodCountQuery,
  PointSummary,
  QuarantinedReading,
  QuarantineQuery,
  RawReading,
  RawReadingQuery,
  SeriesPoint,
  SeriesQuery,
  StoredReading,
  TimeSeriesStore,
  UnitSummary,
} from './store.ts';
import { cstDayStart } from './store.ts';
import {
  checkArchived,
  checkFinding,
  checkIds,
  checkQuery,
  checkRange,
  checkReading,
  compare,
  floatText,
  matchesFilter,
  newestMetaPerUnit,
  parseJson,
  pointsOf,
  quarantinedLink,
} from './store-checks.ts';

/** Options of {@link SqliteStore}. */
export interface SqliteStoreOptions {
  /** Database file (its folder is created if missing), or `:memory:` for a store that lives with the process. */
  path: string;
  log?: Logger;
  /** Time source for `writeMeta` (docs/architecture.md §6a). Default: the system clock. */
  clock?: Clock;
  /**
   * Opens an existing file read-only (a province store federated by the national server,
   * collector/federated-store.ts, or an evidence worker thread's own connection beside the writer's,
   * evidence/evidence-worker.ts; WAL lets it read while the writer commits): no folder or file is
   * created, no table made or migrated, no write thread started, every write fails. `start()` then throws `MRV_E_STORE` for a missing file or one of another schema version.
   */
  readOnly?: boolean;
  /**
   * Run the writes of readings, findings and the batch archive in a worker thread with its own
   * connection (collector/sqlite-writer.ts), so they do not stop the event loop. Default true for a
   * file; a `:memory:` store always writes in the calling thread.
   */
  writeThread?: boolean;
}

/** The statements the writes run ({@link SqliteStore} `#exec`), by name, in the store's thread or the write thread. */
const WRITE_STATEMENTS = [
  'upsertReading',
  'upsertQuarantine',
  'bumpDayMark',
  'bumpHourMark',
  'upsertFinding',
  'upsertBatch',
] as const;

/** Raw series rows carry the reading's `reason` too (not yet declared on {@link SeriesPoint}). */
type RawSeriesPoint = SeriesPoint & { reason?: string };

const SCHEMA_VERSION = 6;
/**
 * WAL pages between automatic checkpoints (16 384 pages of 4 KiB = 64 MiB; SQLite's default is 1 000).
 * Measured on the collector's write pattern (600 000 readings in writes of 9 600, bench/): 45 000 →
 * 64 000 readings/s, the writes having spent about half their time in the checkpoints' fsyncs. The WAL
 * file keeps its largest size (up to about this much) between checkpoints.
 */
const WAL_CHECKPOINT_PAGES = 16_384;
const DEFAULT_LIMIT = 10_000;
/** One clock hour, ms (the unit of `reading_hour_mark`). */
const HOUR_MS = 3_600_000;
/**
 * Page cache of a connection, KiB (SQLite's default is 2 000). A write of 16 batches of one device's
 * 600 points touches the `reading` leaf page of every point (rows are clustered by point), ~2.4 MB, so
 * the default cache re-read pages on every write: 12.5–14 → 8.0–8.7 µs of CPU per reading written
 * (bench/, 720 000 readings in writes of 9 600). Filled only as pages are used.
 */
const CACHE_KIB = 65_536;
/** The pragmas of every connection (the store's and its write thread's); see {@link SqliteStore.start}. */
const PRAGMAS = [
  'journal_mode = WAL',
  'synchronous = NORMAL',
  `wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`,
  `cache_size = -${CACHE_KIB}`,
];

/** The `reading` table's columns and key of schema 4, for the migration from 3 (then on to 5). */
const READING_COLUMNS_V4 = `(
  unit TEXT NOT NULL,
  point TEXT NOT NULL,
  ts INTEGER NOT NULL,
  gateway TEXT NOT NULL,
  device TEXT NOT NULL,
  meter TEXT,
  rx_ts INTEGER NOT NULL,
  exact TEXT,
  value REAL,
  quality TEXT NOT NULL CHECK (quality IN ('good', 'uncertain', 'bad')),
  reason TEXT,
  seq INTEGER NOT NULL,
  PRIMARY KEY (unit, point, ts, gateway)
) STRICT, WITHOUT ROWID;`;

/**
 * The `reading` table's columns and key (schema 5): unit, point, gateway, device and meter are ids of
 * the `name` table, `rx_delay` = rx_ts − ts (ms, a small integer where rx_ts is a full timestamp),
 * `quality` 0 good, 1 uncertain, 2 bad ({@link QUALITY_CODE}).
 */
const READING_COLUMNS = `(
  unit INTEGER NOT NULL,
  point INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  gateway INTEGER NOT NULL,
  device INTEGER NOT NULL,
  meter INTEGER,
  rx_delay INTEGER NOT NULL,
  exact TEXT,
  value REAL,
  quality INTEGER NOT NULL CHECK (quality IN (0, 1, 2)),
  reason TEXT,
  seq INTEGER NOT NULL,
  PRIMARY KEY (unit, point, ts, gateway)
) STRICT, WITHOUT ROWID;`;

/** `reading.quality` (schema 5) of each quality, and back. */
const QUALITY_CODE: Record<Quality, number> = { good: 0, uncertain: 1, bad: 2 };
const QUALITY_OF: readonly Quality[] = ['good', 'uncertain', 'bad'];

/**
 * The `batch` table's columns (schema 5): `canonical` the canonical bytes raw-deflated (zlib, as the
 * InfluxDB store's archive), inflated back to the identical text when read.
 */
const BATCH_COLUMNS = `(
  unit TEXT NOT NULL,
  gateway TEXT NOT NULL,
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  canonical BLOB NOT NULL,
  sig TEXT,
  received_at INTEGER NOT NULL,
  verdict TEXT NOT NULL CHECK (verdict IN ('verified', 'failed', 'unchecked')),
  findings TEXT NOT NULL,
  PRIMARY KEY (unit, gateway, seq)
) STRICT, WITHOUT ROWID;`;

/** Name resolution inside a reading query: the id of a name, NULL (no rows) for one never stored. */
const ID = (param: string) => `(SELECT id FROM name WHERE text = ${param})`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS name (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE) STRICT;
CREATE TABLE IF NOT EXISTS reading ${READING_COLUMNS}
CREATE INDEX IF NOT EXISTS reading_unit_ts ON reading (unit, ts);
CREATE TABLE IF NOT EXISTS quarantine (
  unit TEXT NOT NULL,
  ts INTEGER NOT NULL,
  gateway TEXT NOT NULL,
  point TEXT NOT NULL,
  device TEXT NOT NULL,
  meter TEXT,
  rx_ts INTEGER NOT NULL,
  exact TEXT,
  quality TEXT NOT NULL CHECK (quality IN ('good', 'uncertain', 'bad')),
  reason TEXT,
  seq INTEGER NOT NULL,
  cause TEXT NOT NULL,
  PRIMARY KEY (unit, ts, gateway, point)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gateway_meta (
  unit TEXT NOT NULL,
  gateway TEXT NOT NULL,
  at INTEGER NOT NULL,
  json TEXT NOT NULL,
  PRIMARY KEY (unit, gateway)
) STRICT;
CREATE TABLE IF NOT EXISTS gateway_status (
  unit TEXT NOT NULL,
  gateway TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('online', 'offline')),
  json TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (unit, gateway)
) STRICT;
CREATE TABLE IF NOT EXISTS finding (
  id TEXT NOT NULL PRIMARY KEY,
  unit TEXT NOT NULL,
  gateway TEXT,
  source TEXT NOT NULL,
  code TEXT NOT NULL,
  t INTEGER NOT NULL,
  json TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved'))
) STRICT;
CREATE INDEX IF NOT EXISTS finding_unit_t ON finding (unit, t);
CREATE TABLE IF NOT EXISTS batch ${BATCH_COLUMNS}
CREATE TABLE IF NOT EXISTS reading_day_mark (
  unit TEXT NOT NULL,
  day INTEGER NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (unit, day)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reading_hour_mark (
  unit TEXT NOT NULL,
  hour INTEGER NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (unit, hour)
) STRICT, WITHOUT ROWID;
`;

/** A `batch` row as read (`canonical` raw-deflated). */
interface BatchRow {
  unit: string;
  gateway: string;
  seq: number;
  hash: string;
  prev_hash: string;
  canonical: Buffer;
  sig: string | null;
  received_at: number;
  verdict: string;
  findings: string;
}

/**
 * The values of `upsertReading`, by position (binding by position skips better-sqlite3's per-row lookup
 * of twelve named parameters): unit, point, ts, gateway, device, meter, rx_delay, exact, value, quality
 * code, reason, seq. The names (positions {@link READING_NAMES}) are interned by the thread that writes.
 */
type ReadingArgs = [
  string,
  string,
  number,
  string,
  string,
  string | null,
  number,
  string | null,
  number | null,
  number,
  string | null,
  number,
];
/** Positions of the names in {@link ReadingArgs}: unit, point, gateway, device, meter. */
const READING_NAMES = [0, 1, 3, 4, 5];

/**
 * The values of `upsertBatch`, by position: unit, gateway, seq, hash, prev_hash, canonical (text,
 * deflated by the thread that writes: position {@link BATCH_DEFLATE}), sig, received_at, verdict, findings.
 */
type BatchArgs = [string, string, number, string, string, string, string | null, number, string, string];
const BATCH_DEFLATE = [5];

/**
 * The values of `upsertQuarantine`, by position: unit, ts, gateway, point, device, meter, rx_ts, exact,
 * quality, reason, seq, cause.
 */
type QuarantineArgs = [
  string,
  number,
  string,
  string,
  string,
  string | null,
  number,
  string | null,
  string,
  string | null,
  number,
  string,
];

interface QuarantineRow {
  unit: string;
  ts: number;
  gateway: string;
  point: string;
  device: string;
  meter: string | null;
  rx_ts: number;
  exact: string | null;
  quality: string;
  reason: string | null;
  seq: number;
  cause: string;
}

/** A raw reading row as an array: ts, exact, quality code, reason, gateway id (`name`), seq. */
type RawRow = [number, string | null, number, string | null, number, number];
/** A {@link RawRow} with its gateway's name. */
type NamedRawRow = [number, string | null, number, string | null, string, number];

/** The columns `reading` and `quarantine` share, in the order the migration copies them. */
const SHARED_COLUMNS = 'unit, point, ts, gateway, device, meter, rx_ts, exact, quality, reason, seq';
/** A schema-3 row written by an unverified batch: its reason starts with the finding code (integrity.ts). */
const LEGACY_UNVERIFIED = "(reason GLOB 'MRV_F_BAD_SIGNATURE:*' OR reason GLOB 'MRV_F_UNKNOWN_KEY:*')";

/**
 * Brings a database of an older schema up to {@link SCHEMA_VERSION} (after `SCHEMA` created what was
 * missing): schema 2 → 3 adds `finding.state` (every old row `open`); 3 → 4 rebuilds `reading` keyed
 * by `(unit, point, ts, gateway)` in one transaction, its rows from unverified batches moved to
 * `quarantine` (cause = the code their reason starts with; their quality stays the `uncertain` they were
 * stored with); 4 → 5 ({@link migrateTo5}) interns the reading's names and deflates the archive; 5 → 6
 * adds `reading_hour_mark` (made by `SCHEMA`; hours written before have no mark, and the evidence
 * day aggregates of older code are dropped anyway). Then the indexes that need it.
 * @returns whether tables were rebuilt (the caller then compacts the file)
 */
function migrate(db: Database.Database): boolean {
  const readingKey = db
    .prepare<[], { name: string; pk: number }>('PRAGMA table_info(reading)')
    .all()
    .filter((c) => c.pk > 0);
  if (!readingKey.some((c) => c.name === 'gateway'))
    db.transaction(() => {
      db.exec(`
        ALTER TABLE reading RENAME TO reading_v3;
        DROP INDEX IF EXISTS reading_unit_ts;
        CREATE TABLE reading ${READING_COLUMNS_V4}
        INSERT OR REPLACE INTO quarantine (${SHARED_COLUMNS}, cause)
          SELECT ${SHARED_COLUMNS}, substr(reason, 1, instr(reason, ':') - 1) FROM reading_v3
          WHERE ${LEGACY_UNVERIFIED};
        INSERT INTO reading (${SHARED_COLUMNS}, value)
          SELECT ${SHARED_COLUMNS}, value FROM reading_v3 WHERE reason IS NULL OR NOT ${LEGACY_UNVERIFIED};
        DROP TABLE reading_v3;
      `);
    })();
  const rebuilt = migrateTo5(db);
  const columns = db.prepare<[], { name: string }>('PRAGMA table_info(finding)').all();
  if (!columns.some((c) => c.name === 'state'))
    db.exec(
      "ALTER TABLE finding ADD COLUMN state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved'))",
    );
  db.exec('CREATE INDEX IF NOT EXISTS reading_unit_ts ON reading (unit, ts)');
  db.exec("CREATE INDEX IF NOT EXISTS finding_open ON finding (unit, code) WHERE state = 'open'");
  return rebuilt;
}

/** The type SQLite declares for a column of a table, or undefined. */
function columnType(db: Database.Database, table: string, column: string): string | undefined {
  return db
    .prepare<[], { name: string; type: string }>(`PRAGMA table_info(${table})`)
    .all()
    .find((c) => c.name === column)?.type;
}

/**
 * Schema 4 → 5, each table in one transaction: `reading` rebuilt with its unit, point, gateway, device
 * and meter as ids of `name`, `rx_ts` as `rx_delay`, quality as its code; `batch` rebuilt with the
 * canonical bytes raw-deflated (1 000 batches at a time, by key). Every value is kept exactly.
 * @returns whether anything was rebuilt
 */
function migrateTo5(db: Database.Database): boolean {
  let rebuilt = false;
  if (columnType(db, 'reading', 'unit') === 'TEXT') {
    db.transaction(() => {
      db.exec(`
        INSERT OR IGNORE INTO name (text)
          SELECT unit FROM reading UNION SELECT point FROM reading UNION SELECT gateway FROM reading
          UNION SELECT device FROM reading UNION SELECT meter FROM reading WHERE meter IS NOT NULL;
        ALTER TABLE reading RENAME TO reading_v4;
        DROP INDEX IF EXISTS reading_unit_ts;
        CREATE TABLE reading ${READING_COLUMNS}
        INSERT INTO reading (unit, point, ts, gateway, device, meter, rx_delay, exact, value, quality, reason, seq)
          SELECT u.id, p.id, r.ts, g.id, d.id, m.id, r.rx_ts - r.ts, r.exact, r.value,
                 CASE r.quality WHEN 'good' THEN 0 WHEN 'uncertain' THEN 1 ELSE 2 END, r.reason, r.seq
          FROM reading_v4 r
          JOIN name u ON u.text = r.unit
          JOIN name p ON p.text = r.point
          JOIN name g ON g.text = r.gateway
          JOIN name d ON d.text = r.device
          LEFT JOIN name m ON m.text = r.meter;
        DROP TABLE reading_v4;
      `);
    })();
    rebuilt = true;
  }
  if (columnType(db, 'batch', 'canonical') === 'TEXT') {
    db.transaction(() => {
      db.exec(`ALTER TABLE batch RENAME TO batch_v4; CREATE TABLE batch ${BATCH_COLUMNS}`);
      const page = db.prepare<[string, string, number], BatchRow & { canonical: string }>(
        `SELECT * FROM batch_v4 WHERE (unit, gateway, seq) > (?, ?, ?) ORDER BY unit, gateway, seq LIMIT 1000`,
      );
      const put = db.prepare<unknown[]>(
        `INSERT INTO batch (unit, gateway, seq, hash, prev_hash, canonical, sig, received_at, verdict, findings)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      let key: [string, string, number] = ['', '', Number.MIN_SAFE_INTEGER];
      for (;;) {
        const rows = page.all(...key);
        for (const r of rows)
          put.run(
            r.unit,
            r.gateway,
            r.seq,
            r.hash,
            r.prev_hash,
            deflateRawSync(Buffer.from(r.canonical, 'utf8'), { level: 1 }),
            r.sig,
            r.received_at,
            r.verdict,
            r.findings,
          );
        const last = rows[rows.length - 1];
        if (last === undefined) break;
        key = [last.unit, last.gateway, last.seq];
      }
      db.exec('DROP TABLE batch_v4');
    })();
    rebuilt = true;
  }
  return rebuilt;
}

/** The prepared statements, made once per `start()`. */
function prepare(db: Database.Database) {
  return {
    bumpDayMark: db.prepare<[string, number]>(
      `INSERT INTO reading_day_mark (unit, day, version) VALUES (?, ?, 1)
       ON CONFLICT (unit, day) DO UPDATE SET version = version + 1`,
    ),
    dayMarks: db.prepare<[string, number, number], { day: number; version: number }>(
      'SELECT day, version FROM reading_day_mark WHERE unit = ? AND day >= ? AND day < ? ORDER BY day',
    ),
    bumpHourMark: db.prepare<[string, number]>(
      `INSERT INTO reading_hour_mark (unit, hour, version) VALUES (?, ?, 1)
       ON CONFLICT (unit, hour) DO UPDATE SET version = version + 1`,
    ),
    hourMarks: db.prepare<[string, number, number], { hour: number; version: number }>(
      'SELECT hour, version FROM reading_hour_mark WHERE unit = ? AND hour >= ? AND hour < ? ORDER BY hour',
    ),
    upsertReading: db.prepare<ReadingArgs>(
      `INSERT INTO reading (unit, point, ts, gateway, device, meter, rx_delay, exact, value, quality, reason, seq)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (unit, point, ts, gateway) DO UPDATE SET device = excluded.device,
         meter = excluded.meter, rx_delay = excluded.rx_delay, exact = excluded.exact, value = excluded.value,
         quality = excluded.quality, reason = excluded.reason, seq = excluded.seq`,
    ),
    upsertQuarantine: db.prepare<QuarantineArgs>(
      `INSERT INTO quarantine (unit, ts, gateway, point, device, meter, rx_ts, exact, quality, reason, seq, cause)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (unit, ts, gateway, point) DO UPDATE SET device = excluded.device, meter = excluded.meter,
         rx_ts = excluded.rx_ts, exact = excluded.exact, quality = excluded.quality, reason = excluded.reason,
         seq = excluded.seq, cause = excluded.cause`,
    ),
    quarantine: db.prepare<[string, number, number, number], QuarantineRow>(
      `SELECT * FROM quarantine WHERE unit = ? AND ts >= ? AND ts < ? ORDER BY ts, gateway, point LIMIT ?`,
    ),
    quarantineOfGateway: db.prepare<[string, number, number, string, number], QuarantineRow>(
      `SELECT * FROM quarantine WHERE unit = ? AND ts >= ? AND ts < ? AND gateway = ?
       ORDER BY ts, gateway, point LIMIT ?`,
    ),
    // `>=`: of two catalogues with the same time the later write wins, as in InfluxDB.
    upsertMeta: db.prepare<[string, string, number, string]>(
      `INSERT INTO gateway_meta (unit, gateway, at, json) VALUES (?, ?, ?, ?)
       ON CONFLICT (unit, gateway) DO UPDATE SET at = excluded.at, json = excluded.json
       WHERE excluded.at >= gateway_meta.at`,
    ),
    upsertStatus: db.prepare<[string, string, string, string, number]>(
      `INSERT INTO gateway_status (unit, gateway, state, json, received_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (unit, gateway) DO UPDATE SET state = excluded.state, json = excluded.json,
         received_at = excluded.received_at
       WHERE excluded.received_at >= gateway_status.received_at`,
    ),
    allMetas: db.prepare<[], { unit: string; gateway: string; at: number; json: string }>(
      'SELECT unit, gateway, at, json FROM gateway_meta',
    ),
    unitMetas: db.prepare<[string], { gateway: string; json: string }>(
      'SELECT gateway, json FROM gateway_meta WHERE unit = ?',
    ),
    onlineUnits: db.prepare<[], { unit: string }>(
      "SELECT DISTINCT unit FROM gateway_status WHERE state = 'online'",
    ),
    lastDataAt: db.prepare<[string], { ts: number | null }>(
      `SELECT MAX(ts) AS ts FROM reading WHERE unit = ${ID('?')}`,
    ),
    lastReading: db.prepare<[string, string], { ts: number; exact: string | null; quality: number }>(
      `SELECT ts, exact, quality FROM reading WHERE unit = ${ID('?')} AND point = ${ID('?')}
       ORDER BY ts DESC LIMIT 1`,
    ),
    // A point's readings as arrays (better-sqlite3 `.raw()`) in key order: by time, then gateway id
    // ({@link SqliteStore} `#rawRows` names the gateways and orders equal times by name).
    rawRows: db
      .prepare<[string, string, number, number, number], RawRow>(
        `SELECT ts, exact, quality, reason, gateway, seq FROM reading
         WHERE unit = ${ID('?')} AND point = ${ID('?')} AND ts >= ? AND ts < ? ORDER BY ts, gateway LIMIT ?`,
      )
      .raw(true),
    // Every gateway's reading of a point at one time.
    rawRowsAt: db
      .prepare<[string, string, number], RawRow>(
        `SELECT ts, exact, quality, reason, gateway, seq FROM reading
         WHERE unit = ${ID('?')} AND point = ${ID('?')} AND ts = ? ORDER BY gateway`,
      )
      .raw(true),
    nameOf: db.prepare<[number], string>('SELECT text FROM name WHERE id = ?').pluck(),
    upsertFinding: db.prepare<[string, string, string | null, string, string, number, string, string]>(
      `INSERT INTO finding (id, unit, gateway, source, code, t, json, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET unit = excluded.unit, gateway = excluded.gateway, source = excluded.source,
         code = excluded.code, t = excluded.t, json = excluded.json, state = excluded.state`,
    ),
    findings: db.prepare<[string, number, number], { json: string }>(
      'SELECT json FROM finding WHERE unit = ? AND t >= ? AND t < ? ORDER BY t, id',
    ),
    openFindings: db.prepare<[string, string], { json: string }>(
      "SELECT json FROM finding WHERE unit = ? AND code = ? AND state = 'open' ORDER BY t, id",
    ),
    upsertBatch: db.prepare<BatchArgs>(
      `INSERT INTO batch (unit, gateway, seq, hash, prev_hash, canonical, sig, received_at, verdict, findings)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (unit, gateway, seq) DO UPDATE SET hash = excluded.hash, prev_hash = excluded.prev_hash,
         canonical = excluded.canonical, sig = excluded.sig, received_at = excluded.received_at,
         verdict = excluded.verdict, findings = excluded.findings`,
    ),
    batches: db.prepare<[string, string, number, number, number], BatchRow>(
      `SELECT * FROM batch WHERE unit = ? AND gateway = ? AND seq >= ? AND seq <= ? ORDER BY seq LIMIT ?`,
    ),
    batchLinks: db.prepare<
      [string, string, number, number, number],
      Pick<BatchRow, 'seq' | 'hash' | 'prev_hash' | 'received_at' | 'verdict' | 'findings'>
    >(
      `SELECT seq, hash, prev_hash, received_at, verdict, findings FROM batch
       WHERE unit = ? AND gateway = ? AND seq >= ? AND seq <= ? ORDER BY seq LIMIT ?`,
    ),
    // The newest batch of a gateway whose signature did not fail: a backward scan of its key from the top.
    trustedHead: db.prepare<[string, string], { seq: number; hash: string }>(
      `SELECT seq, hash FROM batch WHERE unit = ? AND gateway = ?
         AND findings NOT LIKE '%"MRV_F_BAD_SIGNATURE"%' AND findings NOT LIKE '%"MRV_F_UNKNOWN_KEY"%'
       ORDER BY seq DESC LIMIT 1`,
    ),
    batchHeads: db.prepare<
      [],
      { unit: string; gateway: string; seq: number; hash: string; findings: string }
    >(
      `SELECT b.unit, b.gateway, b.seq, b.hash, b.findings FROM batch b
       JOIN (SELECT unit, gateway, MAX(seq) AS seq FROM batch GROUP BY unit, gateway) m
         ON b.unit = m.unit AND b.gateway = m.gateway AND b.seq = m.seq
       ORDER BY b.unit, b.gateway`,
    ),
    // Buckets aligned to the Unix epoch like InfluxDB's GROUP BY time(); the double modulo keeps
    // times before 1970 in the right bucket.
    stepped: db.prepare<
      { unit: string; point: string; from: number; to: number; step: number },
      { bucket: number; mean: number | null; min: number | null; max: number | null; count: number }
    >(
      `SELECT ts - (((ts % @step) + @step) % @step) AS bucket,
              AVG(value) AS mean, MIN(value) AS min, MAX(value) AS max, COUNT(value) AS count
       FROM reading
       WHERE unit = ${ID('@unit')} AND point = ${ID('@point')} AND ts >= @from AND ts < @to
         AND quality = 0 AND value IS NOT NULL
       GROUP BY bucket ORDER BY bucket`,
    ),
  };
}

/**
 * SQLite implementation of {@link TimeSeriesStore}. The constructor does no I/O; `start()` opens the
 * file, sets WAL and `synchronous=NORMAL` and creates the tables. Every SQLite failure rejects with
 * `MrvError('MRV_E_STORE')` carrying the original error as `cause`; a malformed query rejects with
 * `MRV_E_BAD_REQUEST`.
 *
 * Bucket statistics of stepped series are computed on the REAL column, so they carry float rounding
 * as in the InfluxDB store (SQLite's AVG sums with error compensation, InfluxDB's mean does not, so
 * the two can differ in the last digit for values that are not exact in binary).
 */
export class SqliteStore implements TimeSeriesStore {
  readonly #path: string;
  readonly #log: Logger | undefined;
  readonly #clock: Clock;
  readonly #readOnly: boolean;
  #db: Database.Database | undefined;
  #stmts: ReturnType<typeof prepare> | undefined;
  /** Runs write steps as one transaction on the store's own connection. */
  #runInThread: ((steps: WriteStep[]) => void) | undefined;
  readonly #writeThread: boolean;
  /** The write thread, when {@link SqliteStoreOptions.writeThread}. */
  #writer: SqliteWriter | undefined;
  /** Texts of `name` ids read so far ({@link #nameOf}). */
  readonly #names = new Map<number, string>();

  constructor(options: SqliteStoreOptions) {
    this.#path = options.path;
    this.#log = options.log?.child({ module: 'collector:sqlite-store' });
    this.#clock = options.clock ?? systemClock;
    this.#readOnly = options.readOnly ?? false;
    this.#writeThread =
      !this.#readOnly && options.writeThread !== false && this.#path !== ':memory:' && this.#path !== '';
  }

  /**
   * Opens (creating if needed) the database and its tables. Idempotent.
   *
   * `journal_mode=WAL`: readers (the server's queries) never block the collector's writes and a commit
   * is one append to the WAL. `synchronous=NORMAL`: with WAL it never corrupts the database, and an
   * application crash loses nothing committed; it skips the fsync per commit, so a power cut or OS
   * crash can roll back the last commits since the previous checkpoint. That trade is right for the
   * embedded store (demo, single machine, thousands of commits a second); deployments where every
   * acknowledged batch must survive a power cut use InfluxDB. `wal_autocheckpoint` of
   * {@link WAL_CHECKPOINT_PAGES}: a checkpoint (two fsyncs, the only ones in this mode) every ~64 MiB of
   * WAL instead of SQLite's default ~4 MiB, which a 10 000-reading write nearly filled on its own.
   * @throws MrvError `MRV_E_STORE` when the file cannot be opened or was written by a newer schema
   *   (read-only: when it does not exist or is not of this code's schema version).
   */
  async start(): Promise<void> {
    if (this.#db !== undefined) return;
    this.#names.clear(); // the file may have been replaced while stopped
    if (this.#readOnly) return this.#startReadOnly();
    try {
      if (this.#path !== ':memory:' && this.#path !== '') {
        mkdirSync(path.dirname(path.resolve(this.#path)), { recursive: true });
      }
      const db = new Database(this.#path);
      try {
        for (const p of PRAGMAS) db.pragma(p);
        const version = db.pragma('user_version', { simple: true }) as number;
        if (version > SCHEMA_VERSION) {
          throw new Error(`schema version ${version} is newer than this code's ${SCHEMA_VERSION}`);
        }
        if (version > 0 && version < SCHEMA_VERSION)
          this.#log?.info(
            { path: this.#path, from: version, to: SCHEMA_VERSION },
            'migrating the SQLite store (tables are rebuilt and the file compacted: minutes for a large file)',
          );
        db.exec(SCHEMA);
        const rebuilt = migrate(db);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
        // The old tables' pages are free after a rebuild: give them back to the file system once. The
        // migration is committed by then; a VACUUM that fails (it needs room for a copy of the file)
        // leaves the free pages for SQLite to reuse, and the store starts anyway.
        if (rebuilt)
          try {
            db.exec('VACUUM');
          } catch (err) {
            this.#log?.warn(
              { path: this.#path, err: err instanceof Error ? err.message : String(err) },
              'SQLite store migrated, but not compacted (VACUUM failed); its free pages are reused',
            );
          }
        const stmts = prepare(db);
        // The same transaction code as the write thread's (collector/sqlite-writer.ts RUN_SOURCE).
        const makeRun = new Function(
          'db',
          'stmts',
          'zlib',
          `${RUN_SOURCE}\nreturn makeRun(db, stmts, zlib);`,
        );
        this.#runInThread = makeRun(db, stmts, { deflateRawSync }) as (steps: WriteStep[]) => void;
        if (this.#writeThread) {
          const writer = new SqliteWriter({
            path: this.#path,
            pragmas: PRAGMAS,
            sql: Object.fromEntries(WRITE_STATEMENTS.map((n) => [n, stmts[n].source])),
          });
          this.#writer = writer; // its thread starts with the first write (a reading server never starts one)
        }
        this.#stmts = stmts;
        this.#db = db;
      } catch (err) {
        db.close();
        throw err;
      }
    } catch (err) {
      throw this.#storeError('start', err);
    }
    this.#log?.info({ path: this.#path }, 'SQLite store ready');
  }

  /** {@link start} of a {@link SqliteStoreOptions.readOnly} store: opens the existing file as it is. */
  #startReadOnly(): void {
    try {
      if (!existsSync(this.#path))
        throw new Error(
          'no such file (a read-only store opens an existing file; the province’s collector makes it)',
        );
      const db = new Database(this.#path, { readonly: true, fileMustExist: true });
      try {
        const version = db.pragma('user_version', { simple: true }) as number;
        if (version !== SCHEMA_VERSION)
          throw new Error(
            `schema version ${version}, this code reads ${SCHEMA_VERSION}: start the province's collector of this version once (it migrates), or upgrade`,
          );
        this.#stmts = prepare(db);
        this.#runInThread = () => {
          throw new Error('the store is open read-only');
        };
        this.#db = db;
      } catch (err) {
        db.close();
        throw err;
      }
    } catch (err) {
      throw this.#storeError('start', err);
    }
    this.#log?.info({ path: this.#path }, 'SQLite store open read-only');
  }

  /** Closes the database (SQLite checkpoints the WAL on close). Idempotent. */
  async stop(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    this.#stmts = undefined;
    this.#runInThread = undefined;
    const writer = this.#writer;
    this.#writer = undefined;
    if (db === undefined) return;
    try {
      await writer?.close(); // after the writes sent to it
      db.close();
    } catch (err) {
      throw this.#storeError('stop', err);
    }
  }

  /**
   * Writes readings in one transaction: all or none. A reading with the same (unit, gateway, point, ts)
   * as a stored one replaces it; a quarantined one goes to `quarantine` (same identity there).
   * @returns the number of readings written
   * @throws MrvError `MRV_E_STORE` for a reading with a non-Identifier id, a non-decimal value, an
   *   unknown quality or non-integer times/seq (nothing is written then), or when SQLite fails.
   */
  async writeReadings(readings: StoredReading[]): Promise<number> {
    this.#open('writeReadings');
    if (readings.length === 0) return 0;
    // Every reading is checked before the transaction starts, so a bad one writes nothing.
    const checked = new Set<string>();
    for (let i = 0; i < readings.length; i++) checkReading(readings[i] as StoredReading, i, checked);
    const rows: ReadingArgs[] = [];
    const quarantined: QuarantineArgs[] = [];
    // The UTC+8 days and clock hours written, marked in the same transaction (readingDayMarks,
    // readingHourMarks).
    const days = new Map<string, Set<number>>();
    const hours = new Map<string, Set<number>>();
    let lastUnit = '';
    let lastDay = Number.NaN;
    let lastHour = Number.NaN;
    for (const r of readings) {
      if (r.quarantine !== undefined) {
        quarantined.push([
          r.unitId,
          r.ts,
          r.gatewayId,
          r.point,
          r.device,
          r.meter ?? null,
          r.rxTs,
          r.value,
          r.quality,
          r.reason ?? null,
          r.seq,
          r.quarantine,
        ]);
        continue;
      }
      const hour = r.ts - (((r.ts % HOUR_MS) + HOUR_MS) % HOUR_MS);
      if (hour !== lastHour || r.unitId !== lastUnit) {
        const day = cstDayStart(r.ts);
        if (day !== lastDay || r.unitId !== lastUnit) {
          const set = days.get(r.unitId) ?? new Set<number>();
          set.add(day);
          days.set(r.unitId, set);
          lastDay = day;
        }
        const set = hours.get(r.unitId) ?? new Set<number>();
        set.add(hour);
        hours.set(r.unitId, set);
        lastUnit = r.unitId;
        lastHour = hour;
      }
      const f = r.value === null ? null : Number(r.value);
      rows.push([
        r.unitId,
        r.point,
        r.ts,
        r.gatewayId,
        r.device,
        r.meter ?? null,
        r.rxTs - r.ts,
        r.value,
        f !== null && Number.isFinite(f) ? f : null,
        QUALITY_CODE[r.quality],
        r.reason ?? null,
        r.seq,
      ]);
    }
    const marks: [string, number][] = [];
    for (const [unit, set] of days) for (const day of set) marks.push([unit, day]);
    const hourMarks: [string, number][] = [];
    for (const [unit, set] of hours) for (const hour of set) hourMarks.push([unit, hour]);
    await this.#exec('writeReadings', [
      { stmt: 'upsertQuarantine', rows: quarantined },
      { stmt: 'upsertReading', rows, names: READING_NAMES },
      { stmt: 'bumpDayMark', rows: marks },
      { stmt: 'bumpHourMark', rows: hourMarks },
    ]);
    this.#log?.debug({ count: readings.length }, 'readings written');
    return readings.length;
  }

  /**
   * Keeps a gateway's catalogue with the store clock's time; an older time never replaces a newer one.
   * @throws MrvError `MRV_E_STORE` for non-Identifier ids or when SQLite fails.
   */
  async writeMeta(unitId: string, meta: GatewayMeta): Promise<void> {
    const { stmts } = this.#open('writeMeta');
    checkIds({ unitId, gatewayId: meta.gatewayId });
    try {
      stmts.upsertMeta.run(unitId, meta.gatewayId, Math.trunc(this.#clock.now()), JSON.stringify(meta));
    } catch (err) {
      throw this.#storeError('writeMeta', err);
    }
  }

  /**
   * Keeps a gateway's status received at `receivedAt` (ms epoch); an older one never replaces a newer one.
   * @throws MrvError `MRV_E_STORE` for non-Identifier ids, a non-integer `receivedAt`, or when SQLite fails.
   */
  async writeStatus(unitId: string, status: GatewayStatus, receivedAt: number): Promise<void> {
    const { stmts } = this.#open('writeStatus');
    checkIds({ unitId, gatewayId: status.gatewayId });
    if (!Number.isSafeInteger(receivedAt)) {
      throw new MrvError('MRV_E_STORE', `receivedAt must be integer ms, got ${receivedAt}`);
    }
    try {
      stmts.upsertStatus.run(unitId, status.gatewayId, status.state, JSON.stringify(status), receivedAt);
    } catch (err) {
      throw this.#storeError('writeStatus', err);
    }
  }

  /**
   * Every unit that has a catalogue, sorted by id: name, industry and province from the newest
   * catalogue of any of its gateways; `online` when the newest status of at least one of its gateways
   * is `online`; `lastDataAt` = time of its newest reading.
   * @throws MrvError `MRV_E_STORE` when SQLite fails.
   */
  async listUnits(): Promise<UnitSummary[]> {
    const { stmts } = this.#open('listUnits');
    try {
      const newest = newestMetaPerUnit(stmts.allMetas.all());
      const online = new Set(stmts.onlineUnits.all().map((r) => r.unit));
      return [...newest.entries()]
        .sort(([a], [b]) => compare(a, b))
        .map(([unitId, meta]) => {
          const last = stmts.lastDataAt.get(unitId)?.ts ?? null;
          return {
            ...meta.unit,
            id: unitId,
            online: online.has(unitId),
            lastDataAt: last === null ? null : new Date(last).toISOString(),
          };
        });
    } catch (err) {
      throw this.#storeError('listUnits', err);
    }
  }

  /**
   * Points of the newest catalogue of each gateway of `unitId` (gateways by id, points in catalogue
   * order; a point id already listed by an earlier gateway is skipped), each with its newest reading.
   * @returns `undefined` when no gateway of that unit has sent a catalogue
   * @throws MrvError `MRV_E_STORE` when SQLite fails.
   */
  async listPoints(unitId: string): Promise<PointSummary[] | undefined> {
    const { stmts } = this.#open('listPoints');
    try {
      const metas = stmts.unitMetas.all(unitId);
      if (metas.length === 0) return undefined;
      return pointsOf(
        metas.map((m) => ({ gateway: m.gateway, meta: parseJson<GatewayMeta>(m.json) })),
        (pointId) => {
          const r = stmts.lastReading.get(unitId, pointId);
          return r === undefined
            ? null
            : {
                ts: new Date(r.ts).toISOString(),
                value: r.exact,
                quality: QUALITY_OF[r.quality] as Quality,
              };
        },
      );
    } catch (err) {
      throw this.#storeError('listPoints', err);
    }
  }

  /**
   * One point's series in `[from, to)`. Raw (no `stepMs`): the readings oldest first, at most
   * `limit` (default 10 000), each with its exact value (min = max = value, count 1), quality and
   * reason. Stepped: buckets of `stepMs` aligned to the Unix epoch (a bucket's `ts` is its start, which
   * may lie before `from`), with mean/min/max/count of the good readings only, computed on the REAL
   * column; buckets without good readings are omitted.
   * @throws MrvError `MRV_E_BAD_REQUEST` for non-integer times, `stepMs` < 1 or `limit` < 1;
   *   `MRV_E_STORE` when SQLite fails.
   */
  async series(q: SeriesQuery): Promise<SeriesPoint[]> {
    const { stmts } = this.#open('series');
    const limit = checkQuery(q);
    if (q.to <= q.from) return [];
    try {
      if (q.stepMs === undefined) {
        return this.#rawRows(stmts, q.unitId, q.pointId, q.from, q.to, limit).map(
          ([ts, exact, code, reason]) => {
            const p: RawSeriesPoint = {
              ts: new Date(ts).toISOString(),
              value: exact,
              min: exact,
              max: exact,
              count: 1,
              quality: QUALITY_OF[code] as Quality,
            };
            if (reason !== null) p.reason = reason;
            return p;
          },
        );
      }
      return stmts.stepped
        .all({ unit: q.unitId, point: q.pointId, from: q.from, to: q.to, step: q.stepMs })
        .map((r) => ({
          ts: new Date(r.bucket).toISOString(),
          value: floatText(r.mean),
          min: floatText(r.min),
          max: floatText(r.max),
          count: r.count,
        }));
    } catch (err) {
      throw this.#storeError('series', err);
    }
  }

  /**
   * One point's raw readings in `[from, to)` with the gateway and batch seq each arrived in, oldest
   * first, at most `limit` (default 10 000).
   * @throws MrvError `MRV_E_BAD_REQUEST` for non-integer times or `limit` < 1; `MRV_E_STORE` when SQLite fails.
   */
  async rawReadings(q: RawReadingQuery): Promise<RawReading[]> {
    const { stmts } = this.#open('rawReadings');
    const limit = checkQuery(q);
    if (q.to <= q.from) return [];
    try {
      const rows = this.#rawRows(stmts, q.unitId, q.pointId, q.from, q.to, limit);
      const out = new Array<RawReading>(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const [ts, value, code, reason, gatewayId, seq] = rows[i] as NamedRawRow;
        const quality = QUALITY_OF[code] as Quality;
        const r: RawReading =
          reason === null
            ? { ts, value, quality, gatewayId, seq }
            : { ts, value, quality, reason, gatewayId, seq };
        out[i] = r;
      }
      return out;
    } catch (err) {
      throw this.#storeError('rawReadings', err);
    }
  }

  /**
   * A unit's quarantined readings with `ts` in `[from, to)`, oldest first (ties by gateway, point).
   * @throws MrvError `MRV_E_BAD_REQUEST` for non-integer times or `limit` < 1; `MRV_E_STORE` when SQLite fails.
   */
  async listQuarantine(q: QuarantineQuery): Promise<QuarantinedReading[]> {
    const { stmts } = this.#open('listQuarantine');
    const limit = checkRange(q.from, q.to, q.limit);
    if (q.to <= q.from) return [];
    try {
      const rows =
        q.gatewayId === undefined
          ? stmts.quarantine.all(q.unitId, q.from, q.to, limit)
          : stmts.quarantineOfGateway.all(q.unitId, q.from, q.to, q.gatewayId, limit);
      return rows.map((r) => {
        const out: QuarantinedReading = {
          unitId: r.unit,
          gatewayId: r.gateway,
          device: r.device,
          point: r.point,
          ts: r.ts,
          rxTs: r.rx_ts,
          value: r.exact,
          quality: r.quality as Quality,
          seq: r.seq,
          cause: r.cause,
        };
        if (r.meter !== null) out.meter = r.meter;
        if (r.reason !== null) out.reason = r.reason;
        return out;
      });
    } catch (err) {
      throw this.#storeError('listQuarantine', err);
    }
  }

  /**
   * Keeps findings in one transaction (all or none); a finding with a stored id replaces it.
   * @throws MrvError `MRV_E_STORE` for a finding that does not match the schema, or when SQLite fails.
   */
  async writeFindings(findings: Finding[]): Promise<number> {
    this.#open('writeFindings');
    const rows = findings.map(checkFinding);
    if (rows.length === 0) return 0;
    await this.#exec('writeFindings', [
      {
        stmt: 'upsertFinding',
        rows: rows.map((f) => [
          f.id,
          f.unitId,
          f.gatewayId ?? null,
          f.source,
          f.code,
          Date.parse(f.ts),
          JSON.stringify(f),
          findingState(f),
        ]),
      },
    ]);
    return rows.length;
  }

  /**
   * Findings of `unitId` with `ts` in `[from, to)`, oldest first (ties by id), narrowed by `filter`.
   * @throws MrvError `MRV_E_BAD_REQUEST` for non-integer times; `MRV_E_STORE` when SQLite fails.
   */
  async listFindings(
    unitId: string,
    from: number,
    to: number,
    filter: FindingFilter = {},
  ): Promise<Finding[]> {
    const { stmts } = this.#open('listFindings');
    const limit = checkRange(from, to, filter.limit);
    try {
      return stmts.findings
        .all(unitId, from, to)
        .map((r) => parseJson<Finding>(r.json))
        .filter((f) => matchesFilter(f, filter))
        .slice(0, limit);
    } catch (err) {
      throw this.#storeError('listFindings', err);
    }
  }

  /**
   * Open findings of `code` of `unitId`, any `ts`, oldest first (ties by id), narrowed by `filter`
   * (the partial index on open findings answers it).
   * @throws MrvError `MRV_E_STORE` when SQLite fails.
   */
  async listOpenFindings(
    unitId: string,
    code: string,
    filter: Omit<FindingFilter, 'code' | 'state'> = {},
  ): Promise<Finding[]> {
    const { stmts } = this.#open('listOpenFindings');
    const limit = checkRange(0, 0, filter.limit);
    try {
      return stmts.openFindings
        .all(unitId, code)
        .map((r) => parseJson<Finding>(r.json))
        .filter((f) => matchesFilter(f, { ...filter, state: 'open' }))
        .slice(0, limit);
    } catch (err) {
      throw this.#storeError('listOpenFindings', err);
    }
  }

  /**
   * Archives batches in one transaction; the same (unit, gateway, seq) replaces the stored one.
   * @throws MrvError `MRV_E_STORE` for a malformed record or when SQLite fails.
   */
  async archiveBatches(batches: ArchivedBatch[]): Promise<number> {
    this.#open('archiveBatches');
    if (batches.length === 0) return 0;
    const rows = batches.map((b): BatchArgs => {
      checkArchived(b);
      return [
        b.unitId,
        b.gatewayId,
        b.seq,
        b.hash,
        b.prevHash,
        b.canonical,
        b.sig,
        b.receivedAt,
        b.verdict,
        JSON.stringify(b.findings),
      ];
    });
    await this.#exec('archiveBatches', [{ stmt: 'upsertBatch', rows, deflate: BATCH_DEFLATE }]);
    return rows.length;
  }

  /** Archived batches of one gateway with seq in `[fromSeq, toSeq]`, lowest first. @throws MrvError `MRV_E_STORE` */
  async listBatches(q: BatchQuery): Promise<ArchivedBatch[]> {
    const { stmts } = this.#open('listBatches');
    try {
      return stmts.batches
        .all(
          q.unitId,
          q.gatewayId,
          q.fromSeq ?? 0,
          q.toSeq ?? Number.MAX_SAFE_INTEGER,
          q.limit ?? DEFAULT_LIMIT,
        )
        .map((r) => ({
          unitId: r.unit,
          gatewayId: r.gateway,
          seq: r.seq,
          hash: r.hash,
          prevHash: r.prev_hash,
          canonical: inflateRawSync(r.canonical).toString('utf8'),
          sig: r.sig,
          receivedAt: r.received_at,
          verdict: r.verdict as ArchivedBatch['verdict'],
          findings: parseJson<string[]>(r.findings),
        }));
    } catch (err) {
      throw this.#storeError('listBatches', err);
    }
  }

  /** {@link listBatches} without the bytes. @throws MrvError `MRV_E_STORE` */
  async listBatchLinks(q: BatchQuery): Promise<BatchLink[]> {
    const { stmts } = this.#open('listBatchLinks');
    try {
      return stmts.batchLinks
        .all(
          q.unitId,
          q.gatewayId,
          q.fromSeq ?? 0,
          q.toSeq ?? Number.MAX_SAFE_INTEGER,
          q.limit ?? DEFAULT_LIMIT,
        )
        .map((r) => ({
          seq: r.seq,
          hash: r.hash,
          prevHash: r.prev_hash,
          receivedAt: r.received_at,
          verdict: r.verdict as BatchLink['verdict'],
          findings: parseJson<string[]>(r.findings),
        }));
    } catch (err) {
      throw this.#storeError('listBatchLinks', err);
    }
  }

  /**
   * The newest archived batch of every gateway whose signature did not fail, by unit then gateway.
   * @throws MrvError `MRV_E_STORE`
   */
  async batchHeads(): Promise<BatchHead[]> {
    const { stmts } = this.#open('batchHeads');
    try {
      // The newest batch of each gateway, and only where that one is quarantined, the newest one that is not.
      const out: BatchHead[] = [];
      for (const r of stmts.batchHeads.all()) {
        const head = quarantinedLink({ findings: parseJson<string[]>(r.findings) })
          ? stmts.trustedHead.get(r.unit, r.gateway)
          : r;
        if (head !== undefined)
          out.push({ unitId: r.unit, gatewayId: r.gateway, seq: head.seq, hash: head.hash });
      }
      return out;
    } catch (err) {
      throw this.#storeError('batchHeads', err);
    }
  }

  /** See {@link TimeSeriesStore.readingHourMarks}: the mark is a counter bumped in each write's transaction. */
  async readingHourMarks(unitId: string, from: number, to: number): Promise<Map<number, string>> {
    const { stmts } = this.#open('readingHourMarks');
    try {
      const out = new Map<number, string>();
      for (const r of stmts.hourMarks.all(unitId, from, to)) out.set(r.hour, String(r.version));
      return out;
    } catch (err) {
      throw this.#storeError('readingHourMarks', err);
    }
  }

  /** See {@link TimeSeriesStore.readingDayMarks}: the mark is a counter bumped in each write's transaction. */
  async readingDayMarks(unitId: string, from: number, to: number): Promise<Map<number, string>> {
    const { stmts } = this.#open('readingDayMarks');
    try {
      const out = new Map<number, string>();
      for (const r of stmts.dayMarks.all(unitId, from, to)) out.set(r.day, String(r.version));
      return out;
    } catch (err) {
      throw this.#storeError('readingDayMarks', err);
    }
  }

  /**
   * A point's readings in `[from, to)`, at most `limit`, ordered by time then gateway name (as schema 4's
   * key ordered them), each with its gateway's name. The rows come in key order (time, gateway id);
   * equal times of several gateways are put in name order here, and when the limit cuts through the
   * last time, that time's readings of every gateway are read so the cut falls where the names say.
   */
  #rawRows(
    stmts: ReturnType<typeof prepare>,
    unit: string,
    point: string,
    from: number,
    to: number,
    limit: number,
  ): NamedRawRow[] {
    let rows = stmts.rawRows.all(unit, point, from, to, limit) as unknown as RawRow[];
    const last = rows[rows.length - 1];
    if (rows.length === limit && last !== undefined) {
      let i = rows.length - 1;
      while (i > 0 && (rows[i - 1] as RawRow)[0] === last[0]) i--;
      const at = stmts.rawRowsAt.all(unit, point, last[0]) as unknown as RawRow[];
      if (at.length > rows.length - i) rows = rows.slice(0, i).concat(at);
    }
    const named = rows as unknown as NamedRawRow[];
    let runStart = 0;
    for (let i = 0; i < rows.length; i++) {
      const r = named[i] as NamedRawRow;
      r[4] = this.#nameOf(stmts, (rows[i] as RawRow)[4]);
      const next = rows[i + 1];
      if (next === undefined || next[0] !== r[0]) {
        if (i > runStart) {
          const run = named.slice(runStart, i + 1).sort((x, y) => compare(x[4], y[4]));
          for (let k = 0; k < run.length; k++) named[runStart + k] = run[k] as NamedRawRow;
        }
        runStart = i + 1;
      }
    }
    return named.length > limit ? named.slice(0, limit) : named;
  }

  /** The text of a `name` id (names are never deleted or changed, so they are cached for good). */
  #nameOf(stmts: ReturnType<typeof prepare>, id: number): string {
    let text = this.#names.get(id);
    if (text === undefined) {
      text = stmts.nameOf.get(id);
      if (text === undefined) throw new Error(`reading names gateway id ${id}, which the name table lacks`);
      this.#names.set(id, text);
    }
    return text;
  }

  /**
   * See {@link TimeSeriesStore.goodReadingCounts}: one statement over the unit's points (the asked
   * points as a JSON array, so one prepared text serves any number of them; each is one range scan of
   * the `reading` key), buckets as the stepped series makes them, the same rows counted.
   * @throws MrvError `MRV_E_BAD_REQUEST` for non-integer times or `stepMs` < 1; `MRV_E_STORE` when SQLite fails.
   */
  async goodReadingCounts(q: GoodCountQuery): Promise<Map<string, GoodCount>> {
    this.#open('goodReadingCounts');
    checkQuery({ unitId: q.unitId, pointId: '', from: q.from, to: q.to, stepMs: q.stepMs });
    const out = new Map<string, GoodCount>(q.pointIds.map((p) => [p, { good: 0, buckets: 0 }]));
    if (q.to <= q.from || q.pointIds.length === 0) return out;
    try {
      const rows = (this.#db as Database.Database)
        .prepare<
          { unit: string; points: string; from: number; to: number; step: number },
          { point: string; good: number; buckets: number }
        >(
          `SELECT p.text AS point, COUNT(*) AS good,
                  COUNT(DISTINCT r.ts - (((r.ts % @step) + @step) % @step)) AS buckets
           FROM reading r JOIN name p ON p.id = r.point
           WHERE r.unit = ${ID('@unit')}
             AND r.point IN (SELECT id FROM name WHERE text IN (SELECT value FROM json_each(@points)))
             AND r.ts >= @from AND r.ts < @to AND r.quality = 0 AND r.value IS NOT NULL
           GROUP BY r.point`,
        )
        .all({ unit: q.unitId, points: JSON.stringify(q.pointIds), from: q.from, to: q.to, step: q.stepMs });
      for (const r of rows) out.set(r.point, { good: r.good, buckets: r.buckets });
      return out;
    } catch (err) {
      throw this.#storeError('goodReadingCounts', err);
    }
  }

  #open(op: string): { stmts: ReturnType<typeof prepare> } {
    if (this.#stmts === undefined) {
      throw new MrvError('MRV_E_STORE', `SqliteStore.${op}: store is not started`);
    }
    return { stmts: this.#stmts };
  }

  /**
   * Runs write steps as one transaction: in the write thread when there is one, else on the store's
   * connection. Resolves once committed.
   * @throws MrvError `MRV_E_STORE` when SQLite fails (the transaction is rolled back)
   */
  async #exec(op: string, steps: WriteStep[]): Promise<void> {
    const todo = steps.filter((s) => s.rows.length > 0);
    if (todo.length === 0) return;
    try {
      if (this.#writer) await this.#writer.exec(todo);
      else (this.#runInThread as (steps: WriteStep[]) => void)(todo);
    } catch (err) {
      throw this.#storeError(op, err);
    }
  }

  #storeError(op: string, err: unknown): MrvError {
    const message = err instanceof Error ? err.message : String(err);
    this.#log?.warn({ op, err: message }, 'SQLite operation failed');
    return new MrvError(
      'MRV_E_STORE',
      `SQLite ${op} failed (${this.#path}): ${message}`,
      { op, path: this.#path },
      {
        cause: err,
      },
    );
  }
}

/** Bucket statistic as a decimal string (shortest round-trip form of the float), or null. */
