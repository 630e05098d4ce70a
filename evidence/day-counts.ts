/**
 * Kept day counts of the month-to-date completeness (docs/architecture.md §7 "Day aggregates"): per
 * unit, key-parameter point and ended UTC+8 day, the good readings and the clock hours holding one
 * (collector/store.ts `GoodCount`), so that a cold overview (`GET /api/v1/summary`, evidence/service.ts
 * `completenessToDate`) asks the store only for today and for the days a late batch touched, instead of
 * reading every reading of the month again.
 *
 * The counts live in a table of their own (`day_good_count`) in the day aggregates file
 * (evidence/day-aggregates.ts; `evidence-days.sqlite` in the data directory), opened by whoever counts
 * (the server's completeness worker thread, evidence/evidence-worker.ts, or the in-process path).
 * A day's row is used only when the store's write mark of that unit and day (collector/store.ts
 * `readingDayMarks`, written with the readings by whichever process stores them) is the one it was
 * counted under: a late batch (a backlog after an outage, a gap filled) changes the mark and the day is
 * counted again. The marks are read before the day is counted, so a write that lands during the count
 * leaves a row whose mark is already stale (counted again next time), never a row that misses it.
 * A day still open (it ends after `to` or after `now`) is never kept. Rows carry a key of what the
 * counts depend on besides the readings (the bucket step, the day, what "good" means: {@link DAY_COUNT_FORMAT});
 * a row under another key is counted again and replaced. The counts a poll interval turns into
 * "expected" are not kept: the interval is applied to the counts afresh each time.
 *
 * Per day the figures add up to the month's exactly: a UTC+8 day starts on a UTC hour, so no hour
 * bucket spans two days (test/integration/day-counts.test.ts compares with and without kept counts).
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { cstDayStart, type GoodCount, type TimeSeriesStore } from '../collector/store.ts';
import { MrvError } from '../core/errors.ts';
import { canonicalJson } from '../core/schema/canonical.ts';

/**
 * Version of what a kept day count means: bump it whenever the store's good-reading count or the hour
 * buckets change what they count, so rows made by older code are never used.
 */
export const DAY_COUNT_FORMAT = 1;

const DAY_MS = 86_400_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS day_good_count (
  unit TEXT NOT NULL,
  day INTEGER NOT NULL,
  point TEXT NOT NULL,
  key TEXT NOT NULL,
  mark TEXT NOT NULL,
  good INTEGER NOT NULL,
  buckets INTEGER NOT NULL,
  made_at INTEGER NOT NULL,
  PRIMARY KEY (unit, day, point)
) STRICT, WITHOUT ROWID;
`;

/**
 * The key of kept day counts: SHA-256 over the canonical JSON of what the counts depend on besides the
 * readings (bucket step ms, day length, {@link DAY_COUNT_FORMAT}).
 */
export function dayCountsKey(stepMs: number): string {
  return createHash('sha256')
    .update(canonicalJson({ format: DAY_COUNT_FORMAT, stepMs, dayMs: DAY_MS, days: 'UTC+8' }))
    .digest('hex');
}

/** What {@link DayCounts} did since it was opened (tests, benchmarks). */
export interface DayCountStats {
  /** Unit-days answered from kept rows. */
  reused: number;
  /** Ended unit-days counted in the store (and kept). */
  counted: number;
  /** Stretches counted in the store and not kept (days still open, parts of days). */
  open: number;
  /** Reads or writes of the file that failed (the figures were counted in the store instead). */
  failures: number;
  /** The last such failure's message. */
  lastError?: string;
}

/** See the file comment. WAL, so the build worker's handle on the same file never blocks it. */
export class DayCounts {
  readonly #db: Database.Database;
  readonly #file: string;
  readonly #select: Database.Statement<
    [string, number, number, string],
    { day: number; point: string; mark: string; good: number; buckets: number }
  >;
  readonly #insert: Database.Statement<[string, number, string, string, string, number, number, number]>;
  /** Counters since the file was opened. */
  readonly stats: DayCountStats = { reused: 0, counted: 0, open: 0, failures: 0 };

  /** @throws MrvError `MRV_E_STORE` when the file cannot be opened or created */
  constructor(file: string) {
    this.#file = file;
    try {
      if (file !== ':memory:') mkdirSync(dirname(resolve(file)), { recursive: true });
      this.#db = new Database(file);
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = NORMAL');
      this.#db.exec(SCHEMA);
      this.#select = this.#db.prepare(
        'SELECT day, point, mark, good, buckets FROM day_good_count WHERE unit = ? AND day >= ? AND day < ? AND key = ?',
      );
      this.#insert = this.#db.prepare(
        `INSERT OR REPLACE INTO day_good_count (unit, day, point, key, mark, good, buckets, made_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      );
    } catch (err) {
      throw new MrvError(
        'MRV_E_STORE',
        `cannot open the completeness day counts in ${file}: ${(err as Error).message}`,
        { file },
        { cause: err },
      );
    }
  }

  /** Closes the file. */
  close(): void {
    this.#db.close();
  }

  /** The file's path. */
  get file(): string {
    return this.#file;
  }

  /** Kept rows of a unit (all keys and days): for tests and checks. */
  rows(unitId: string): number {
    const r = this.#db
      .prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM day_good_count WHERE unit = ?')
      .get(unitId);
    return r?.n ?? 0;
  }

  /**
   * Per point of `pointIds`, its good readings in `[from, to)` and the `stepMs` buckets holding them,
   * as `count` gives them for the whole range (see the file comment): ended UTC+8 days inside the range
   * from kept rows whose mark is the store's current one, every other ended day counted by `count` and
   * kept, the rest (the open day, parts of days at the ends) counted by `count` and not kept. Without
   * `store.readingDayMarks` everything is counted by `count`, nothing kept. A kept-counts file that
   * cannot be read or written only costs time (every such day counted in the store,
   * {@link DayCountStats.failures}).
   * @param o.count the store's count of `[from, to)` (evidence/service.ts: `goodReadingCounts` or the stepped series)
   * @param o.now the clock: a day ending after it is open
   * @throws MrvError `MRV_E_STORE` when the store fails
   */
  async goodCounts(o: {
    store: TimeSeriesStore;
    unitId: string;
    pointIds: readonly string[];
    from: number;
    to: number;
    now: number;
    stepMs: number;
    count: (from: number, to: number) => Promise<Map<string, GoodCount>>;
  }): Promise<Map<string, GoodCount>> {
    const total = new Map<string, GoodCount>(o.pointIds.map((p) => [p, { good: 0, buckets: 0 }]));
    const add = (counts: Map<string, GoodCount>) => {
      for (const [p, c] of counts) {
        const t = total.get(p);
        if (t) {
          t.good += c.good;
          t.buckets += c.buckets;
        }
      }
    };
    const open = async (from: number, to: number) => {
      if (to <= from) return;
      this.stats.open++;
      add(await o.count(from, to));
    };
    if (o.to <= o.from || o.pointIds.length === 0) return total;
    // Whole UTC+8 days inside [from, min(to, now)): the ones that may be kept. A day starts on a
    // multiple of the step only for whole-hour steps; otherwise a bucket could span two days.
    const end = Math.min(o.to, o.now);
    let first = cstDayStart(o.from);
    if (first < o.from) first += DAY_MS;
    const endDay = cstDayStart(end);
    const marksOf = o.store.readingDayMarks?.bind(o.store);
    if (!marksOf || endDay <= first || DAY_MS % o.stepMs !== 0 || first % o.stepMs !== 0) {
      await open(o.from, o.to);
      return total;
    }
    await open(o.from, first);
    const key = dayCountsKey(o.stepMs);
    // Marks first, then the kept rows and counts (see the file comment).
    const marks = await marksOf(o.unitId, first, endDay);
    const kept = new Map<number, Map<string, { mark: string; good: number; buckets: number }>>();
    try {
      for (const r of this.#select.all(o.unitId, first, endDay, key)) {
        let day = kept.get(r.day);
        if (!day) {
          day = new Map();
          kept.set(r.day, day);
        }
        day.set(r.point, r);
      }
    } catch (err) {
      // A file that cannot be read costs time, never the answer: every day is counted.
      this.#failed(err);
      kept.clear();
    }
    for (let d = first; d < endDay; d += DAY_MS) {
      const mark = marks.get(d) ?? '';
      const rows = kept.get(d);
      const fresh = rows !== undefined && o.pointIds.every((p) => rows.get(p)?.mark === mark);
      if (fresh) {
        this.stats.reused++;
        for (const p of o.pointIds) {
          const r = rows.get(p) as { good: number; buckets: number };
          const t = total.get(p) as GoodCount;
          t.good += r.good;
          t.buckets += r.buckets;
        }
        continue;
      }
      const counts = await o.count(d, d + DAY_MS);
      this.stats.counted++;
      add(counts);
      try {
        const madeAt = Date.now();
        this.#db.transaction(() => {
          for (const p of o.pointIds) {
            const c = counts.get(p) ?? { good: 0, buckets: 0 };
            this.#insert.run(o.unitId, d, p, key, mark, c.good, c.buckets, madeAt);
          }
        })();
      } catch (err) {
        // Not kept (a busy or read-only file): counted again next time.
        this.#failed(err);
      }
    }
    await open(endDay, o.to);
    return total;
  }

  #failed(err: unknown): void {
    this.stats.failures++;
    this.stats.lastError = `completeness day counts ${this.#file}: ${(err as Error).message}`;
  }
}
