/**
 * How much room a SQLite store file takes per reading: the file's size (after the store closed it, so
 * the WAL is checkpointed into it) divided by the readings it holds, and each table's share (its
 * b-tree pages and those of its indexes, from SQLite's `dbstat` virtual table). For the storage
 * figures of bench/collector-ingest.ts and bench/sqlite-store-ab.ts (issue 19, bench/analysis.md
 * "Storage per reading"). Works on any schema version of collector/sqlite-store.ts.
 */
import { existsSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';

/** The room a store file takes: bytes, readings, archived batches, bytes per table (indexes included). */
export interface SqliteFootprint {
  /** The database file plus its `-wal` file when one is left, bytes. */
  fileBytes: number;
  /** Rows of `reading` (the quarantine's not counted). */
  readings: number;
  /** Rows of `batch` (the batch archive). */
  batches: number;
  /** Page bytes of each table with its indexes (dbstat `pgsize`), largest first. */
  tables: { table: string; bytes: number }[];
  /** `fileBytes / readings` (NaN without readings). */
  bytesPerReading: number;
}

/**
 * Measures a closed (or idle) store file read-only.
 * @throws Error when the file does not exist or is not a SQLite database with `reading` and `batch`
 */
export function sqliteFootprint(file: string): SqliteFootprint {
  const wal = `${file}-wal`;
  const fileBytes = statSync(file).size + (existsSync(wal) ? statSync(wal).size : 0);
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const count = (table: string) =>
      (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    const readings = count('reading');
    const batches = count('batch');
    const rows = db
      .prepare<[], { table: string; bytes: number }>(
        `SELECT COALESCE(m.tbl_name, s.name) AS "table", SUM(s.pgsize) AS bytes
         FROM dbstat s LEFT JOIN sqlite_master m ON m.name = s.name
         GROUP BY 1 ORDER BY bytes DESC`,
      )
      .all();
    return { fileBytes, readings, batches, tables: rows, bytesPerReading: fileBytes / readings };
  } finally {
    db.close();
  }
}
