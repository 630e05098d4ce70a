/**
 * The server's state database (docs/architecture.md §8a): accounts, sessions, the audit log and the
 * findings workflow. One schema, written once with kysely and migrated by kysely's `Migrator`, on
 * two engines:
 * - **SQLite** (better-sqlite3), the embedded default: a file in the server's data dir
 *   (`<data dir>/state.sqlite`), separate from the readings store;
 * - **PostgreSQL** (`pg`), for several server instances sharing accounts, sessions and the workflow
 *   (`mrv server --state-db postgres://...`; the password from the URL, which the CLI fills in from
 *   `--state-db-password-file`, or `PGPASSWORD`).
 *
 * Portability rules the schema follows so that both engines answer the same: every instant is text,
 * ISO-8601 UTC with milliseconds (`2026-12-06T01:02:03.004Z`, fixed width, so text order is time
 * order); lists and JSON are text holding JSON; booleans are instants or null (`disabled_at`);
 * attachments are `blob`/`bytea`; the only generated key is the audit log's `seq`.
 */
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import {
  type Generated,
  Kysely,
  type Migration,
  type MigrationProvider,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  sql,
} from 'kysely';
import pg from 'pg';
import { MrvError } from '../../core/errors.ts';
import { confirmationMigrations } from './confirmation-schema.ts';
import { type LedgerSchema, meterLedgerMigration } from './ledger-schema.ts';

/** `accounts`: people who log in with a username and password. */
export interface AccountsTable {
  /** Random id (16 bytes hex), never reused. */
  id: string;
  /** Login name, unique, compared as given (the CLI lowercases nothing). */
  username: string;
  /** PHC string of the argon2id hash (`$argon2id$v=19$m=...`). */
  password_hash: string;
  role: string;
  /** JSON array of province names (regulator scope). */
  scope_provinces: string;
  /** JSON array of unit ids. */
  scope_units: string;
  /** Free text: the person's name. */
  display_name: string;
  created_at: string;
  updated_at: string;
  /** Set when the account is disabled: it can no longer log in and its sessions end. */
  disabled_at: string | null;
}

/** `sessions`: the dashboard's server-side sessions; the id itself is never stored, only its SHA-256. */
export interface SessionsTable {
  id_sha256: string;
  /** `account:<account id>` or `token:<token id>`: who the session acts as, resolved on every request. */
  subject: string;
  created_at: string;
  expires_at: string;
  last_seen_at: string;
  revoked_at: string | null;
}

/** `audit_log`: one row per state change, who and when; rows are only ever inserted. */
export interface AuditLogTable {
  seq: Generated<number>;
  at: string;
  /** `account:<username>`, `token:<token id>`, `cli:<os user>` or `open`. */
  actor: string;
  actor_role: string;
  /** What happened: `finding.acknowledge`, `account.disable`, `session.login`, ... */
  action: string;
  /** Kind and id of what it happened to: `finding`/`<finding id>`, `account`/`<username>`. */
  target_kind: string;
  target_id: string;
  /** Unit concerned, when one is (scope filters on it). */
  unit_id: string | null;
  /** JSON object: the transition, the explanation's digest, ... */
  detail: string;
}

/**
 * `finding_workflow`: the human side of a finding (问题清单 → 整改). The finding itself stays in the
 * time-series store; this row holds its workflow state and a copy of what scope and the state
 * machine need (unit, producer state), taken whenever the finding is listed.
 */
export interface FindingWorkflowTable {
  finding_id: string;
  unit_id: string;
  /** `open|acknowledged|explained|closed` (see finding-workflow.ts). */
  state: string;
  /** Producer state at the last listing: `open|resolved`. */
  producer_state: string;
  /** Data time of the finding (ISO), for listing by window. */
  ts: string;
  code: string;
  severity: string;
  first_seen_at: string;
  updated_at: string;
  updated_by: string | null;
  explanation: string | null;
  explained_by: string | null;
  explained_at: string | null;
  /** The last regulator comment (close or reopen). */
  comment: string | null;
  closed_by: string | null;
  closed_at: string | null;
  reopen_count: number;
  attachment_sha256: string | null;
}

/** `attachments`: files attached to an explanation, kept with their SHA-256. */
export interface AttachmentsTable {
  sha256: string;
  finding_id: string;
  file_name: string;
  content_type: string;
  size: number;
  data: Buffer;
  created_at: string;
  created_by: string;
}

/** The whole schema, for kysely's types (the meter ledger's tables in ledger-schema.ts). */
export interface StateSchema extends LedgerSchema {
  accounts: AccountsTable;
  sessions: SessionsTable;
  audit_log: AuditLogTable;
  finding_workflow: FindingWorkflowTable;
  attachments: AttachmentsTable;
}

/** Which engine a {@link StateDb} runs on. */
export type StateEngine = 'sqlite' | 'postgres';

/** An open state database. */
export interface StateDb {
  readonly engine: StateEngine;
  readonly db: Kysely<StateSchema>;
  /** Where it is, for logs and the admin view: the SQLite file, or the PostgreSQL URL without password. */
  readonly location: string;
}

/** The migrations, in order; names sort in the order they apply. Never edit one that shipped: add one. */
function migrations(engine: StateEngine): Record<string, Migration> {
  const blob = engine === 'postgres' ? 'bytea' : 'blob';
  return {
    '0001_state': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('accounts')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('username', 'text', (c) => c.notNull().unique())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('scope_provinces', 'text', (c) => c.notNull())
          .addColumn('scope_units', 'text', (c) => c.notNull())
          .addColumn('display_name', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('disabled_at', 'text')
          .execute();
        await db.schema
          .createTable('sessions')
          .addColumn('id_sha256', 'text', (c) => c.primaryKey())
          .addColumn('subject', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .addColumn('last_seen_at', 'text', (c) => c.notNull())
          .addColumn('revoked_at', 'text')
          .execute();
        await db.schema.createIndex('sessions_subject').on('sessions').column('subject').execute();
        await db.schema
          .createTable('audit_log')
          .addColumn('seq', engine === 'postgres' ? 'bigserial' : 'integer', (c) =>
            engine === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('actor_role', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('target_kind', 'text', (c) => c.notNull())
          .addColumn('target_id', 'text', (c) => c.notNull())
          .addColumn('unit_id', 'text')
          .addColumn('detail', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('audit_log_target')
          .on('audit_log')
          .columns(['target_kind', 'target_id'])
          .execute();
        await db.schema
          .createTable('finding_workflow')
          .addColumn('finding_id', 'text', (c) => c.primaryKey())
          .addColumn('unit_id', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('producer_state', 'text', (c) => c.notNull())
          .addColumn('ts', 'text', (c) => c.notNull())
          .addColumn('code', 'text', (c) => c.notNull())
          .addColumn('severity', 'text', (c) => c.notNull())
          .addColumn('first_seen_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('updated_by', 'text')
          .addColumn('explanation', 'text')
          .addColumn('explained_by', 'text')
          .addColumn('explained_at', 'text')
          .addColumn('comment', 'text')
          .addColumn('closed_by', 'text')
          .addColumn('closed_at', 'text')
          .addColumn('reopen_count', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('attachment_sha256', 'text')
          .execute();
        await db.schema
          .createIndex('finding_workflow_unit')
          .on('finding_workflow')
          .columns(['unit_id', 'state'])
          .execute();
        await db.schema
          .createTable('attachments')
          .addColumn('sha256', 'text', (c) => c.notNull())
          .addColumn('finding_id', 'text', (c) => c.notNull())
          .addColumn('file_name', 'text', (c) => c.notNull())
          .addColumn('content_type', 'text', (c) => c.notNull())
          .addColumn('size', 'integer', (c) => c.notNull())
          .addColumn('data', blob, (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('attachments_pk', ['finding_id', 'sha256'])
          .execute();
      },
      async down(db: Kysely<unknown>) {
        for (const t of ['attachments', 'finding_workflow', 'audit_log', 'sessions', 'accounts'])
          await db.schema.dropTable(t).ifExists().execute();
      },
    },
    '0002_meter_ledger': meterLedgerMigration(engine),
    ...confirmationMigrations,
  };
}

/** The URL without its password, for logs. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

/**
 * Opens (and creates, for SQLite) the state database and applies every pending migration.
 * @param target a file path (SQLite; the folder must exist) or a `postgres://` / `postgresql://` URL
 * @throws MrvError `MRV_E_STATE_DB` when the database cannot be opened or a migration fails (the
 *   migrator's error is the cause)
 */
export async function openStateDb(target: string): Promise<StateDb> {
  const engine: StateEngine = /^postgres(ql)?:\/\//i.test(target) ? 'postgres' : 'sqlite';
  let db: Kysely<StateSchema>;
  try {
    if (engine === 'postgres') {
      // int8 (bigserial, count(*)) as a JS number: our counts and audit seqs stay far below 2^53.
      // Connection fields given one by one (a connectionString would override the password with its
      // own, absent, one). Without a password pg throws inside its SCRAM handler and leaves the socket
      // open, keeping the process alive after the error: one nobody has makes the server refuse cleanly.
      const u = new URL(target);
      const password =
        decodeURIComponent(u.password) || process.env.PGPASSWORD || `none-${randomBytes(16).toString('hex')}`;
      const ssl = u.searchParams.get('sslmode');
      const pool = new pg.Pool({
        host: decodeURIComponent(u.hostname).replace(/^\[|\]$/g, '') || 'localhost',
        port: u.port === '' ? 5432 : Number(u.port),
        database: decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres',
        user: decodeURIComponent(u.username) || process.env.PGUSER || 'postgres',
        password,
        ...(ssl !== null && ssl !== 'disable'
          ? { ssl: ssl === 'no-verify' ? { rejectUnauthorized: false } : true }
          : {}),
        max: 10,
        connectionTimeoutMillis: 15_000,
      });
      pool.on('error', () => {
        // an idle client lost its server; the next query reconnects and fails loudly if it must
      });
      db = new Kysely<StateSchema>({ dialect: new PostgresDialect({ pool }) });
    } else {
      const database = new Database(target);
      database.pragma('journal_mode = WAL');
      database.pragma('busy_timeout = 5000');
      database.pragma('foreign_keys = ON');
      db = new Kysely<StateSchema>({ dialect: new SqliteDialect({ database }) });
    }
  } catch (err) {
    throw new MrvError('MRV_E_STATE_DB', `cannot open the state database ${target}`, undefined, {
      cause: err,
    });
  }
  const provider: MigrationProvider = { getMigrations: async () => migrations(engine) };
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error !== undefined) {
    await db.destroy().catch(() => {});
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new MrvError(
      'MRV_E_STATE_DB',
      `state database ${engine === 'postgres' ? safeUrl(target) : target}: migration ${failed ?? '(none)'} failed: ${(error as Error).message ?? String(error)}`,
      undefined,
      { cause: error },
    );
  }
  return { engine, db, location: engine === 'postgres' ? safeUrl(target) : target };
}

/** Parses a count from either engine (pg answers int8 as a string). */
export function countOf(v: unknown): number {
  return typeof v === 'number' ? v : Number(v ?? 0);
}

export { sql };
