/**
 * Schema of the monthly evidence confirmations (月度存证确认, docs/architecture.md §8a): migration
 * `0003_evidence_confirmations` of the state database (db.ts `migrations()`), and the table's type.
 *
 * One row per confirmed version of a unit's month: the package as built at that moment, frozen as
 * the exact JSON text the server sent (`package_json`), its SHA-256, the server's Ed25519 signature
 * over the confirmation receipt (evidence-confirmations.ts `receiptOf`), the version it supersedes,
 * who confirmed it, and the regulator's review. Rows are inserted once; only the review columns are
 * ever updated, once. Same portability rules as db.ts: instants as ISO-8601 UTC text.
 */
import type { Kysely, Migration } from 'kysely';

/** `confirmations`: confirmed versions of a unit's monthly evidence, 1..n per unit and month. */
export interface ConfirmationsTable {
  unit_id: string;
  /** UTC+8 calendar month `yyyy-mm`. */
  month: string;
  /** 1 for the first confirmation, n+1 for a correction of version n. */
  version: number;
  /** The package exactly as served (`JSON.stringify` of the signed package, UTF-8 text). */
  package_json: string;
  /** SHA-256 (hex) of `package_json`'s UTF-8 bytes. */
  package_sha256: string;
  /** The package's own signature key id (`signature.keyId`). */
  key_id: string;
  /** Base64 Ed25519 signature of the server's evidence key over the receipt's canonical JSON. */
  signature: string;
  /** The version this one corrects (n − 1), null for version 1. */
  supersedes_version: number | null;
  /** SHA-256 of the superseded version's `package_json`, null for version 1. */
  supersedes_sha256: string | null;
  /** Content status of the package (`no_data|incomplete|complete`). */
  content_status: string;
  /** `account:<username>` or `token:<token id>`. */
  confirmed_by: string;
  confirmed_by_name: string;
  confirmed_at: string;
  /** Why an incomplete month is confirmed, or what a correction changes; null when none was given. */
  comment: string | null;
  reviewed_by: string | null;
  reviewed_by_name: string | null;
  reviewed_at: string | null;
  review_comment: string | null;
}

/** The tables this migration adds, for kysely's types (evidence-confirmations.ts). */
export interface ConfirmationSchema {
  confirmations: ConfirmationsTable;
}

/** The migrations of the confirmations, by name (spread into db.ts `migrations()`). */
export const confirmationMigrations: Record<string, Migration> = {
  '0003_evidence_confirmations': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('confirmations')
        .addColumn('unit_id', 'text', (c) => c.notNull())
        .addColumn('month', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('package_json', 'text', (c) => c.notNull())
        .addColumn('package_sha256', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .addColumn('supersedes_version', 'integer')
        .addColumn('supersedes_sha256', 'text')
        .addColumn('content_status', 'text', (c) => c.notNull())
        .addColumn('confirmed_by', 'text', (c) => c.notNull())
        .addColumn('confirmed_by_name', 'text', (c) => c.notNull())
        .addColumn('confirmed_at', 'text', (c) => c.notNull())
        .addColumn('comment', 'text')
        .addColumn('reviewed_by', 'text')
        .addColumn('reviewed_by_name', 'text')
        .addColumn('reviewed_at', 'text')
        .addColumn('review_comment', 'text')
        .addPrimaryKeyConstraint('confirmations_pk', ['unit_id', 'month', 'version'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('confirmations').ifExists().execute();
    },
  },
};
