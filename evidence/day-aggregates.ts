/**
 * Day aggregates of the monthly evidence (docs/architecture.md §7 "Day aggregates"): what a month's
 * computation has made of each ended chunk it read (the lookback, then each clock hour of each UTC+8
 * day: core/domain/evidence.ts `hourChunks`), kept in a SQLite file of their own beside the store, so
 * that the next build of the same unit and month reads only the hours that changed or had not ended.
 *
 * Per chunk one row holds the computation's checkpoint after it (core/domain/evidence.ts
 * `EvidenceCheckpoint`: every used point's accumulator, completeness and calibration counts, the
 * per-reading rules' state) and what the chunk added to the readings digest (evidence/service.ts
 * `DigestPart`: its v2 segment lines, readings, batches). The accumulators carry state across midnight
 * (a totalizer's high-water mark after a correction, a debounced rule run, a rate-of-change window), so
 * a chunk's row is a link of a chain: it is used only when it and every chunk before it are unchanged.
 * "Unchanged" is the store's write marks (collector/store.ts `readingHourMarks`, else
 * `readingDayMarks`, written by whichever process stores the readings): each row keeps a digest of the
 * marks of its hours (days) and of all before them, and a late batch for any of them (a backlog after
 * an outage, a gap filled) changes that digest, so the build resumes from the last row before it it
 * can take up again and re-reads from there; a live write into the current hour leaves the ended
 * hours' rows valid. A row inside a day can be taken up again only while its day's digest segments
 * were hashed resumably (the day holding the build's `now`, evidence/sha256-state.ts): once the day's
 * last hour is kept, its earlier hour rows lose their checkpoints and stay as links of the chain.
 * A chunk is kept only once it has ended (`to` ≤ the build's `now`); rows are keyed by everything
 * the computation depends on besides the readings (catalogue, rule pack, tunables, format, code
 * version), so changing any of them starts afresh.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { cstDayStart, type TimeSeriesStore } from '../collector/store.ts';
import type { BatchSet, EvidenceCheckpoint, EvidenceChunk } from '../core/domain/index.ts';
import { MrvError } from '../core/errors.ts';
import { canonicalJson } from '../core/schema/canonical.ts';
import type { Sha256Saved } from './sha256-state.ts';

/**
 * What a stretch of reads (one chunk of a month: the lookback or a UTC+8 day) added to a v2 readings
 * digest (evidence/service.ts `digestingSource`, `mark()`): its segment lines in the order read, readings, the batches
 * they arrived in and the bounds of its segments (ms). Kept by evidence/day-aggregates.ts, handed back as
 * `prefix` so a later build hashes the same lines without reading those readings again.
 */
export interface DigestPart {
  lines: string[];
  count: number;
  batches: BatchSet;
  min: number | null;
  max: number | null;
  /**
   * The segments still open when the part was marked inside a day (hour chunks, evidence/service.ts
   * `DigestMerge`): per point its segment, readings so far and resumable SHA-256 state. `null` when
   * a segment was open but hashed natively (a day already over when it was read): a build cannot
   * resume from such a part. Absent when no segment was open (the end of a day or of the lookback).
   */
  open?: { point: string; from: number; to: number; count: number; sha256: Sha256Saved }[] | null;
}

/**
 * Version of the kept state's meaning: bump it whenever an accumulator, the completeness, the rules'
 * per-reading state, the digest parts or the chunks change what they keep, so rows made by older code
 * are never resumed from. 3: hour chunks (rows of the earlier day chunks are dropped).
 */
export const DAY_AGGREGATE_FORMAT = 3;

/** Default file of the day aggregates, beside the data directory's store. */
export const DEFAULT_DAY_AGGREGATES_FILE = '.data/evidence-days.sqlite';

const SCHEMA = `
DROP TABLE IF EXISTS day_aggregate;
CREATE TABLE IF NOT EXISTS chunk_aggregate (
  unit TEXT NOT NULL,
  month TEXT NOT NULL,
  key TEXT NOT NULL,
  chunk INTEGER NOT NULL,
  chunk_from INTEGER NOT NULL,
  chunk_to INTEGER NOT NULL,
  marks TEXT NOT NULL,
  resumable INTEGER NOT NULL,
  checkpoint BLOB NOT NULL,
  part BLOB NOT NULL,
  made_at INTEGER NOT NULL,
  PRIMARY KEY (unit, month, key, chunk)
) STRICT, WITHOUT ROWID;
`;

const HOUR_MS = 3_600_000;
const EMPTY = Buffer.alloc(0);

const pack = (v: unknown): Buffer => deflateRawSync(Buffer.from(JSON.stringify(v), 'utf8'), { level: 1 });
const unpack = <T>(b: Buffer): T => JSON.parse(inflateRawSync(b).toString('utf8')) as T;

/** What a build may resume from ({@link DayAggregates.plan}). */
export interface KeptRun {
  /** The checkpoint after the last kept chunk, when any chunk is kept. */
  resume?: EvidenceCheckpoint;
  /** The kept chunks' digest parts, in order (for `digestingSource`'s `prefix`). */
  prefix: DigestPart[];
  /** Keeps a chunk the build has just read, when it has ended and its marks are known. */
  keep(chunk: EvidenceChunk, checkpoint: () => EvidenceCheckpoint, part: DigestPart): void;
  /** Chunks resumed from (not read) and chunks kept by this build. */
  stats: { resumed: number; kept: number };
}

/**
 * The day aggregates file. Opened by the process that builds evidence (the server's evidence worker,
 * or `mrv evidence`); WAL, so a second reader never blocks it.
 */
export class DayAggregates {
  readonly #db: Database.Database;
  readonly #file: string;

  /** @throws MrvError `MRV_E_STORE` when the file cannot be opened or created */
  constructor(file: string) {
    this.#file = file;
    try {
      if (file !== ':memory:') mkdirSync(dirname(resolve(file)), { recursive: true });
      this.#db = new Database(file);
      // Several evidence workers open the file at once; the first after an upgrade drops the old table.
      this.#db.pragma('busy_timeout = 5000');
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = NORMAL');
      this.#db.exec(SCHEMA);
    } catch (err) {
      throw new MrvError(
        'MRV_E_STORE',
        `cannot open the evidence day aggregates ${file}: ${(err as Error).message}`,
        { file },
        { cause: err },
      );
    }
  }

  /** Closes the file. */
  close(): void {
    this.#db.close();
  }

  /**
   * Plans a build: reads the store's write marks of the chunks' hours (or days, for a store without
   * hour marks), finds the longest run of kept chunks from the first whose marks are unchanged (and
   * that ended before `now`), and returns where to resume — its last chunk a build can take up again
   * (the end of a day, or an hour of a day that was not over when it was kept) — and how to keep what
   * the build reads next. Rows after that chunk are dropped, as are rows of the unit and month under
   * another key.
   * @param key what the computation depends on besides the readings (see {@link evidenceKey})
   * @throws MrvError `MRV_E_STORE` when the store or the file fails
   */
  async plan(o: {
    store: TimeSeriesStore;
    unitId: string;
    month: string;
    key: string;
    chunks: readonly EvidenceChunk[];
    now: number;
  }): Promise<KeptRun | undefined> {
    const first = o.chunks[0];
    const last = o.chunks.at(-1);
    if (!first || !last) return undefined;
    // A write of a reading changes the mark of its hour (its day, for a store without hour marks);
    // a chunk's row keeps a digest of the marks of every hour (day) it and the chunks before it touch.
    let step: number;
    let marks: Map<number, string>;
    let start: (ts: number) => number;
    if (o.store.readingHourMarks) {
      step = HOUR_MS;
      start = (ts) => ts - (((ts % HOUR_MS) + HOUR_MS) % HOUR_MS);
      marks = await o.store.readingHourMarks(o.unitId, start(first.from), last.to);
    } else if (o.store.readingDayMarks) {
      step = 86_400_000;
      start = cstDayStart;
      marks = await o.store.readingDayMarks(o.unitId, cstDayStart(first.from), last.to);
    } else return undefined;
    const chain: string[] = [];
    let prev = '';
    for (const c of o.chunks) {
      const units: string[] = [];
      for (let t = start(c.from); t < c.to; t += step) units.push(`${t}=${marks.get(t) ?? ''}`);
      prev = createHash('sha256')
        .update(`${prev}|${c.from}-${c.to}:${units.join(',')}`)
        .digest('hex');
      chain.push(prev);
    }
    const db = this.#db;
    const rows = db
      .prepare<
        [string, string, string],
        { chunk: number; chunk_from: number; chunk_to: number; marks: string; resumable: number }
      >(
        'SELECT chunk, chunk_from, chunk_to, marks, resumable FROM chunk_aggregate WHERE unit = ? AND month = ? AND key = ? ORDER BY chunk',
      )
      .all(o.unitId, o.month, o.key);
    let valid = -1;
    let kept = -1;
    for (const r of rows) {
      const c = o.chunks[r.chunk];
      if (r.chunk !== valid + 1 || !c || c.from !== r.chunk_from || c.to !== r.chunk_to) break;
      if (c.to > o.now || r.marks !== chain[r.chunk]) break;
      valid = r.chunk;
      if (r.resumable === 1) kept = r.chunk;
    }
    db.prepare('DELETE FROM chunk_aggregate WHERE unit = ? AND month = ? AND (key <> ? OR chunk > ?)').run(
      o.unitId,
      o.month,
      o.key,
      kept,
    );
    const prefix: DigestPart[] = [];
    let resume: EvidenceCheckpoint | undefined;
    if (kept >= 0) {
      const parts = db
        .prepare<[string, string, string, number], { part: Buffer }>(
          'SELECT part FROM chunk_aggregate WHERE unit = ? AND month = ? AND key = ? AND chunk <= ? ORDER BY chunk',
        )
        .all(o.unitId, o.month, o.key, kept);
      for (const p of parts) prefix.push(unpack<DigestPart>(p.part));
      const cp = db
        .prepare<[string, string, string, number], { checkpoint: Buffer }>(
          'SELECT checkpoint FROM chunk_aggregate WHERE unit = ? AND month = ? AND key = ? AND chunk = ?',
        )
        .get(o.unitId, o.month, o.key, kept);
      if (cp) resume = unpack<EvidenceCheckpoint>(cp.checkpoint);
    }
    const insert = db.prepare<
      [string, string, string, number, number, number, string, number, Buffer, Buffer, number]
    >(
      `INSERT OR REPLACE INTO chunk_aggregate (unit, month, key, chunk, chunk_from, chunk_to, marks, resumable, checkpoint, part, made_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // Once a day's last hour is kept, its earlier hours are links of the chain only: a write into
    // the day resumes from the day before (hours of an ended day are not taken up again).
    const inner = db.prepare<[string, string, string, number, number], { chunk: number; part: Buffer }>(
      'SELECT chunk, part FROM chunk_aggregate WHERE unit = ? AND month = ? AND key = ? AND chunk_from >= ? AND chunk < ? AND resumable = 1',
    );
    const strip = db.prepare<[Buffer, string, string, string, number]>(
      "UPDATE chunk_aggregate SET resumable = 0, checkpoint = x'', part = ? WHERE unit = ? AND month = ? AND key = ? AND chunk = ?",
    );
    const stats = { resumed: kept + 1, kept: 0 };
    // Chunks are kept in order only: a chain with a hole is never resumed past it.
    let next = kept + 1;
    return {
      ...(resume ? { resume } : {}),
      prefix,
      stats,
      keep: (chunk, checkpoint, part) => {
        if (chunk.index !== next || chunk.to > o.now) return;
        const marksDigest = chain[chunk.index];
        if (marksDigest === undefined) return;
        // A part ending inside a natively hashed segment is never resumed from: no checkpoint taken.
        const resumable = part.open !== null;
        db.transaction(() => {
          insert.run(
            o.unitId,
            o.month,
            o.key,
            chunk.index,
            chunk.from,
            chunk.to,
            marksDigest,
            resumable ? 1 : 0,
            resumable ? pack(checkpoint()) : EMPTY,
            pack(part),
            Date.now(),
          );
          if (chunk.closes && chunk.segment.from < chunk.from)
            for (const r of inner.all(o.unitId, o.month, o.key, chunk.segment.from, chunk.index)) {
              const { open: _open, ...rest } = unpack<DigestPart>(r.part);
              strip.run(pack({ ...rest, open: null }), o.unitId, o.month, o.key, r.chunk);
            }
        })();
        next++;
        stats.kept++;
      },
    };
  }

  /** Number of kept chunks of a unit and month (all keys): for tests and `/metrics`-style checks. */
  count(unitId: string, month: string): number {
    const r = this.#db
      .prepare<[string, string], { n: number }>(
        'SELECT COUNT(*) AS n FROM chunk_aggregate WHERE unit = ? AND month = ?',
      )
      .get(unitId, month);
    return r?.n ?? 0;
  }

  /** The file's path. */
  get file(): string {
    return this.#file;
  }
}

/**
 * The key of a month's day aggregates: SHA-256 over the canonical JSON of everything the computation
 * depends on besides the readings, `generatedAt`, the stored findings and the factor pack (which only
 * the end of the computation uses): catalogue, rule pack, tunables, format version, month, and the
 * code that made them (`generator`, {@link DAY_AGGREGATE_FORMAT}).
 */
export function evidenceKey(o: {
  catalogue: unknown;
  rulePack: unknown;
  config: unknown;
  formatVersion: number;
  month: string;
  generator: string;
}): string {
  return createHash('sha256')
    .update(canonicalJson({ format: DAY_AGGREGATE_FORMAT, ...o }))
    .digest('hex');
}
