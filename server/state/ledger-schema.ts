/**
 * Tables of the meter ledger (计量器具台账, docs/architecture.md §8a) in the state database, and their
 * migration `0002_meter_ledger` (registered in db.ts `migrations()`). The store over them is
 * `meter-ledger.ts`.
 *
 * - `meters`: a unit's key measuring instruments, seeded from the site files the server loads (never
 *   overwritten by a later seed);
 * - `meter_certificates`: verification (检定) and calibration (校准) certificates. Rows are only ever
 *   inserted: a correction is a new row whose `supersedes` names the row it replaces (a unique index:
 *   a certificate is corrected at most once, so of two people correcting it at once one wins), a
 *   withdrawal is such a row with `revoked_at` set. The current certificates of a meter are the rows
 *   no other row supersedes and that are not withdrawals;
 * - `certificate_scans`: the scanned certificates (PDF, PNG, JPEG) by SHA-256, each stored once.
 *
 * Portability as in db.ts: instants are ISO-8601 UTC text, dates `yyyy-mm-dd` text (UTC+8 calendar
 * dates, as in the site file), booleans instants or null, bytes `blob`/`bytea`.
 */
import type { Kysely, Migration } from 'kysely';

/** `meters`: one row per (unit, meter). */
export interface MetersTable {
  unit_id: string;
  meter_id: string;
  name: string;
  /** weighbridge, belt-scale, ladle-scale, flowmeter, electricity-meter, ... (as the site file's `kind`). */
  kind: string;
  model: string | null;
  serial: string | null;
  accuracy_class: string | null;
  /** Measuring range, free text (`0–150 t, d = 20 kg`). */
  measuring_range: string | null;
  location: string | null;
  /** When a site file seeded the meter; null for a meter entered otherwise. */
  site_seeded_at: string | null;
  created_at: string;
  updated_at: string;
}

/** `meter_certificates`: one row per certificate entry (see the file comment: rows are never updated). */
export interface MeterCertificatesTable {
  /** Random id (16 bytes hex), or `site-<sha256 prefix>` for a certificate seeded from a site file. */
  id: string;
  unit_id: string;
  meter_id: string;
  /** `verification` (检定) or `calibration` (校准). */
  kind: string;
  /** Certificate number (证书编号). */
  certificate_no: string;
  /** The verification/calibration body (检定机构). */
  body: string;
  /** JJG/JJF regulation applied, e.g. `JJG 539-2016`. */
  regulation: string | null;
  /** Date of verification/calibration, `yyyy-mm-dd` (UTC+8). */
  date: string;
  /** Last valid day, `yyyy-mm-dd` (UTC+8), inclusive. */
  valid_until: string;
  /** `合格 pass`, `不合格 fail`, or calibration values with their uncertainty. */
  result: string;
  /** `site` (seeded from a site file) or `ledger` (entered through the API). */
  source: string;
  scan_sha256: string | null;
  scan_content_type: string | null;
  scan_size: number | null;
  scan_file_name: string | null;
  /** The id of the row this one corrects (replaces or withdraws). */
  supersedes: string | null;
  /** Set on a withdrawal: the superseded certificate is withdrawn without replacement. */
  revoked_at: string | null;
  /** Why a correction or withdrawal was made (required for both). */
  reason: string | null;
  /** `account:<username>`, `token:<id>`, `site-file` for seeded rows. */
  created_by: string;
  created_at: string;
}

/** `certificate_scans`: a scanned certificate's bytes by SHA-256. */
export interface CertificateScansTable {
  sha256: string;
  content_type: string;
  size: number;
  data: Buffer;
  created_at: string;
}

/** The ledger's tables, for kysely's types (db.ts `StateSchema` extends it). */
export interface LedgerSchema {
  meters: MetersTable;
  meter_certificates: MeterCertificatesTable;
  certificate_scans: CertificateScansTable;
}

/** The migration `0002_meter_ledger` (never edited once shipped: add a migration). */
export function meterLedgerMigration(engine: 'sqlite' | 'postgres'): Migration {
  const blob = engine === 'postgres' ? 'bytea' : 'blob';
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('meters')
        .addColumn('unit_id', 'text', (c) => c.notNull())
        .addColumn('meter_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('model', 'text')
        .addColumn('serial', 'text')
        .addColumn('accuracy_class', 'text')
        .addColumn('measuring_range', 'text')
        .addColumn('location', 'text')
        .addColumn('site_seeded_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('meters_pk', ['unit_id', 'meter_id'])
        .execute();
      await db.schema
        .createTable('certificate_scans')
        .addColumn('sha256', 'text', (c) => c.primaryKey())
        .addColumn('content_type', 'text', (c) => c.notNull())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('data', blob, (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('meter_certificates')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('unit_id', 'text', (c) => c.notNull())
        .addColumn('meter_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('certificate_no', 'text', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('regulation', 'text')
        .addColumn('date', 'text', (c) => c.notNull())
        .addColumn('valid_until', 'text', (c) => c.notNull())
        .addColumn('result', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('scan_sha256', 'text', (c) => c.references('certificate_scans.sha256'))
        .addColumn('scan_content_type', 'text')
        .addColumn('scan_size', 'integer')
        .addColumn('scan_file_name', 'text')
        .addColumn('supersedes', 'text', (c) => c.references('meter_certificates.id'))
        .addColumn('revoked_at', 'text')
        .addColumn('reason', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addForeignKeyConstraint('meter_certificates_meter', ['unit_id', 'meter_id'], 'meters', [
          'unit_id',
          'meter_id',
        ])
        .execute();
      await db.schema
        .createIndex('meter_certificates_meter')
        .on('meter_certificates')
        .columns(['unit_id', 'meter_id'])
        .execute();
      // A certificate is corrected at most once: a second correction must correct the correction.
      await db.schema
        .createIndex('meter_certificates_supersedes')
        .on('meter_certificates')
        .column('supersedes')
        .unique()
        .execute();
    },
    async down(db: Kysely<unknown>) {
      for (const t of ['meter_certificates', 'certificate_scans', 'meters'])
        await db.schema.dropTable(t).ifExists().execute();
    },
  };
}
