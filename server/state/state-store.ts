/**
 * The server's state store over {@link StateDb} (docs/architecture.md §8a): accounts with argon2id
 * passwords, the dashboard's sessions, the audit log and the findings workflow. The same code runs on
 * SQLite and PostgreSQL; `test/integration/state-contract.ts` holds both to one contract.
 *
 * Every change that matters (an account added, disabled, its password changed; a finding acknowledged,
 * explained, closed, reopened; a login) writes an audit row in the same transaction as the change.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { MrvError } from '../../core/errors.ts';
import type { Finding } from '../../core/schema/finding.ts';
import { SESSION_IDLE_MS, SESSION_TTL_MS, type SessionInfo } from '../sessions.ts';
import { canSeeUnit, type Principal, ROLES, type Role, type Scope } from '../tokens.ts';
import { type AccountsTable, countOf, type FindingWorkflowTable, openStateDb, type StateDb } from './db.ts';
import {
  nextState,
  OPEN_STATES,
  type ShownState,
  shownState,
  type WorkflowAction,
  type WorkflowState,
} from './finding-workflow.ts';

/** Prefix of a session subject that is an account (`account:<account id>`); token sessions hold the token id. */
export const ACCOUNT_SUBJECT = 'account:';
/** Shortest password accepted, characters. */
export const MIN_PASSWORD_LENGTH = 12;
/** Longest password accepted, characters (argon2 takes any length; this bounds the work per login). */
export const MAX_PASSWORD_LENGTH = 1024;
/** Username form: letters, digits, `._@-`, 1 to 64 characters. */
export const USERNAME = /^[A-Za-z0-9._@-]{1,64}$/;
/** Largest attachment of an explanation, bytes (2 MiB). */
export const MAX_ATTACHMENT_BYTES = 2 * 1024 * 1024;
/** Content types an attachment may have; anything else is refused with 415. */
export const ATTACHMENT_TYPES: readonly string[] = [
  'application/pdf',
  'image/png',
  'image/jpeg',
  'text/plain',
  'text/csv',
];
/** Longest explanation or comment, characters. */
export const MAX_TEXT_LENGTH = 10_000;

/** Session id form: 32 random bytes, base64url without padding (as sessions.ts). */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/** Who acts, for the audit log: a principal, or the CLI. */
export interface Actor {
  /** `account:<username>`, `token:<token id>`, `cli:<os user>`. */
  id: string;
  role: Role | 'cli';
}

/** The actor of a request's principal. */
export function actorOf(p: Principal): Actor {
  return { id: p.username !== undefined ? `account:${p.username}` : `token:${p.tokenId}`, role: p.role };
}

/** An account as the store answers it (never the hash). */
export interface Account {
  id: string;
  username: string;
  displayName: string;
  role: Role;
  scope: Scope;
  createdAt: string;
  updatedAt: string;
  disabledAt?: string;
}

/** One audit row. */
export interface AuditEntry {
  seq: number;
  at: string;
  actor: string;
  actorRole: string;
  action: string;
  targetKind: string;
  targetId: string;
  unitId?: string;
  detail: Record<string, unknown>;
}

/** An attachment to an explanation, as uploaded. */
export interface AttachmentInput {
  fileName: string;
  contentType: string;
  data: Buffer;
}

/** An attachment's description (the bytes come from {@link StateStore.attachment}). */
export interface AttachmentInfo {
  sha256: string;
  fileName: string;
  contentType: string;
  size: number;
}

/** The workflow side of one finding. */
export interface FindingWorkflow {
  findingId: string;
  unitId: string;
  /** What a reader sees (see finding-workflow.ts). */
  state: ShownState;
  /** The workflow state kept (without the producer's `resolved`). */
  workflowState: WorkflowState;
  producerState: string;
  updatedAt: string;
  updatedBy?: string;
  explanation?: string;
  explainedBy?: string;
  explainedAt?: string;
  comment?: string;
  closedBy?: string;
  closedAt?: string;
  reopenCount: number;
  attachment?: AttachmentInfo;
}

/** Options of {@link StateStore}. */
export interface StateStoreOptions {
  /** Source of "now", ms epoch; default `Date.now` (tests move it to expire sessions). */
  now?: () => number;
  /** Absolute session lifetime, ms; default 12 h (sessions.ts). */
  sessionTtlMs?: number;
  /** Idle timeout of a session, ms; default 2 h. */
  sessionIdleMs?: number;
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function accountOf(r: AccountsTable): Account {
  return {
    id: r.id,
    username: r.username,
    displayName: r.display_name,
    role: r.role as Role,
    scope: { provinces: JSON.parse(r.scope_provinces), units: JSON.parse(r.scope_units) },
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    ...(r.disabled_at !== null ? { disabledAt: r.disabled_at } : {}),
  };
}

/** Throws unless `password` is an acceptable new password. */
export function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH)
    throw new MrvError(
      'MRV_E_BAD_REQUEST',
      `a password has ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`,
    );
}

/** A hash to verify against for unknown usernames, so that they take as long as known ones. */
let dummyHash: Promise<string> | undefined;

/** The state store (see the file comment). Constructors do no I/O: {@link StateStore.open}. */
export class StateStore {
  readonly #s: StateDb;
  readonly #now: () => number;
  /** Absolute session lifetime, ms. */
  readonly ttlMs: number;
  readonly #idleMs: number;

  constructor(db: StateDb, opts: StateStoreOptions = {}) {
    this.#s = db;
    this.#now = opts.now ?? Date.now;
    this.ttlMs = opts.sessionTtlMs ?? SESSION_TTL_MS;
    this.#idleMs = opts.sessionIdleMs ?? SESSION_IDLE_MS;
  }

  /**
   * Opens the database at `target` (a SQLite file or a `postgres://` URL), migrating it.
   * @throws MrvError `MRV_E_STATE_DB`
   */
  static async open(target: string, opts: StateStoreOptions = {}): Promise<StateStore> {
    return new StateStore(await openStateDb(target), opts);
  }

  /** `sqlite` or `postgres`. */
  get engine(): StateDb['engine'] {
    return this.#s.engine;
  }

  /** The open database, for the stores of other concerns on the same schema (evidence-confirmations.ts). */
  get stateDb(): StateDb {
    return this.#s;
  }

  /** The database's location, password removed. */
  get location(): string {
    return this.#s.location;
  }

  /** The open database, for the stores beside this one on it (meter-ledger.ts). */
  get database(): StateDb {
    return this.#s;
  }

  /** Closes the connection(s). */
  async close(): Promise<void> {
    await this.#s.db.destroy();
  }

  #iso(ms = this.#now()): string {
    return new Date(ms).toISOString();
  }

  /** Runs a query, turning a driver failure into `MRV_E_STATE_DB` (503). */
  async #run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof MrvError) throw err;
      throw new MrvError('MRV_E_STATE_DB', `state database failed to ${what}`, undefined, { cause: err });
    }
  }

  // ---- accounts -------------------------------------------------------------------------------

  /**
   * Adds an account; the password is hashed with argon2id (OWASP parameters: m = 19 MiB, t = 2, p = 1).
   * @throws MrvError `MRV_E_BAD_REQUEST` (username form, role, password length), `MRV_E_ACCOUNT_EXISTS`
   */
  async addAccount(
    input: { username: string; password: string; role: Role; scope: Scope; displayName?: string },
    actor: Actor,
  ): Promise<Account> {
    if (!USERNAME.test(input.username))
      throw new MrvError('MRV_E_BAD_REQUEST', 'a username has 1 to 64 letters, digits or ._@-');
    if (!ROLES.includes(input.role))
      throw new MrvError('MRV_E_BAD_REQUEST', `role: expected one of ${ROLES.join(', ')}`);
    checkPassword(input.password);
    const passwordHash = await hash(input.password);
    const now = this.#iso();
    const row: AccountsTable = {
      id: randomBytes(16).toString('hex'),
      username: input.username,
      password_hash: passwordHash,
      role: input.role,
      scope_provinces: JSON.stringify(input.scope.provinces),
      scope_units: JSON.stringify(input.scope.units),
      display_name: input.displayName ?? input.username,
      created_at: now,
      updated_at: now,
      disabled_at: null,
    };
    return this.#run('add an account', async () => {
      const existing = await this.#s.db
        .selectFrom('accounts')
        .select('id')
        .where('username', '=', input.username)
        .executeTakeFirst();
      if (existing !== undefined)
        throw new MrvError('MRV_E_ACCOUNT_EXISTS', `an account "${input.username}" exists already`);
      await this.#s.db.transaction().execute(async (tx) => {
        await tx.insertInto('accounts').values(row).execute();
        await tx
          .insertInto('audit_log')
          .values(
            this.#auditRow(actor, 'account.add', 'account', input.username, null, {
              role: input.role,
              scope: input.scope,
            }),
          )
          .execute();
      });
      return accountOf(row);
    });
  }

  /** Every account, by username. */
  async listAccounts(): Promise<Account[]> {
    return this.#run('list accounts', async () =>
      (await this.#s.db.selectFrom('accounts').selectAll().orderBy('username').execute()).map(accountOf),
    );
  }

  /** The account of `username`, or undefined. */
  async account(username: string): Promise<Account | undefined> {
    return this.#run('read an account', async () => {
      const r = await this.#s.db
        .selectFrom('accounts')
        .selectAll()
        .where('username', '=', username)
        .executeTakeFirst();
      return r === undefined ? undefined : accountOf(r);
    });
  }

  /** The account with id `id` if it is enabled, or undefined. */
  async enabledAccountById(id: string): Promise<Account | undefined> {
    return this.#run('read an account', async () => {
      const r = await this.#s.db
        .selectFrom('accounts')
        .selectAll()
        .where('id', '=', id)
        .where('disabled_at', 'is', null)
        .executeTakeFirst();
      return r === undefined ? undefined : accountOf(r);
    });
  }

  /**
   * The enabled account whose password is `password`, or undefined (unknown, disabled, wrong).
   * An unknown username costs one argon2 verification too.
   */
  async checkCredentials(username: string, password: string): Promise<Account | undefined> {
    if (password.length > MAX_PASSWORD_LENGTH || !USERNAME.test(username)) return undefined;
    const r = await this.#run('read an account', () =>
      this.#s.db.selectFrom('accounts').selectAll().where('username', '=', username).executeTakeFirst(),
    );
    if (r === undefined) {
      dummyHash ??= hash(randomBytes(16).toString('hex'));
      await verify(await dummyHash, password).catch(() => false);
      return undefined;
    }
    const ok = await verify(r.password_hash, password).catch(() => false);
    return ok && r.disabled_at === null ? accountOf(r) : undefined;
  }

  /**
   * Disables an account and ends its sessions.
   * @throws MrvError `MRV_E_NOT_FOUND`
   */
  async disableAccount(username: string, actor: Actor): Promise<void> {
    await this.#run('disable an account', async () => {
      await this.#s.db.transaction().execute(async (tx) => {
        const r = await tx
          .selectFrom('accounts')
          .select(['id', 'disabled_at'])
          .where('username', '=', username)
          .executeTakeFirst();
        if (r === undefined) throw new MrvError('MRV_E_NOT_FOUND', `no account "${username}"`);
        const now = this.#iso();
        await tx
          .updateTable('accounts')
          .set({ disabled_at: r.disabled_at ?? now, updated_at: now })
          .where('id', '=', r.id)
          .execute();
        await tx
          .updateTable('sessions')
          .set({ revoked_at: now })
          .where('subject', '=', `${ACCOUNT_SUBJECT}${r.id}`)
          .where('revoked_at', 'is', null)
          .execute();
        await tx
          .insertInto('audit_log')
          .values(this.#auditRow(actor, 'account.disable', 'account', username, null, {}))
          .execute();
      });
    });
  }

  /**
   * Sets a new password (and enables nothing: a disabled account stays disabled); ends the account's
   * sessions, so a stolen session dies with the old password.
   * @throws MrvError `MRV_E_NOT_FOUND`, `MRV_E_BAD_REQUEST` (length)
   */
  async setPassword(username: string, password: string, actor: Actor): Promise<void> {
    checkPassword(password);
    const passwordHash = await hash(password);
    await this.#run('change a password', async () => {
      await this.#s.db.transaction().execute(async (tx) => {
        const r = await tx
          .selectFrom('accounts')
          .select('id')
          .where('username', '=', username)
          .executeTakeFirst();
        if (r === undefined) throw new MrvError('MRV_E_NOT_FOUND', `no account "${username}"`);
        const now = this.#iso();
        await tx
          .updateTable('accounts')
          .set({ password_hash: passwordHash, updated_at: now })
          .where('id', '=', r.id)
          .execute();
        await tx
          .updateTable('sessions')
          .set({ revoked_at: now })
          .where('subject', '=', `${ACCOUNT_SUBJECT}${r.id}`)
          .where('revoked_at', 'is', null)
          .execute();
        await tx
          .insertInto('audit_log')
          .values(this.#auditRow(actor, 'account.password', 'account', username, null, {}))
          .execute();
      });
    });
  }

  // ---- sessions (the SessionBackend of auth.ts) ------------------------------------------------

  /**
   * Opens a session for `subject` (a token id, or `account:<id>`).
   * @returns the session id for the cookie (shown once: only its SHA-256 is stored)
   */
  async create(subject: string): Promise<{ id: string; expiresAt: number }> {
    const id = randomBytes(32).toString('base64url');
    const now = this.#now();
    const expiresAt = now + this.ttlMs;
    await this.#run('open a session', async () => {
      // Expired and revoked rows of the past day are of no use: swept on login, so the table stays small.
      await this.#s.db
        .deleteFrom('sessions')
        .where('expires_at', '<', this.#iso(now - 86_400_000))
        .execute();
      await this.#s.db
        .insertInto('sessions')
        .values({
          id_sha256: sha256Hex(id),
          subject,
          created_at: this.#iso(now),
          expires_at: this.#iso(expiresAt),
          last_seen_at: this.#iso(now),
          revoked_at: null,
        })
        .execute();
    });
    return { id, expiresAt };
  }

  /** The live session of `id` (refreshing its idle timer), or undefined (malformed, unknown, revoked, expired). */
  async lookup(id: string): Promise<SessionInfo | undefined> {
    if (!SESSION_ID.test(id)) return undefined;
    const key = sha256Hex(id);
    return this.#run('read a session', async () => {
      const r = await this.#s.db
        .selectFrom('sessions')
        .selectAll()
        .where('id_sha256', '=', key)
        .executeTakeFirst();
      if (r === undefined || r.revoked_at !== null) return undefined;
      const now = this.#now();
      if (now >= Date.parse(r.expires_at) || now - Date.parse(r.last_seen_at) >= this.#idleMs)
        return undefined;
      await this.#s.db
        .updateTable('sessions')
        .set({ last_seen_at: this.#iso(now) })
        .where('id_sha256', '=', key)
        .execute();
      return { tokenId: r.subject, createdAt: Date.parse(r.created_at), expiresAt: Date.parse(r.expires_at) };
    });
  }

  /** Ends the session of `id`; true when one was live. */
  async revoke(id: string): Promise<boolean> {
    if (!SESSION_ID.test(id)) return false;
    return this.#run('end a session', async () => {
      const r = await this.#s.db
        .updateTable('sessions')
        .set({ revoked_at: this.#iso() })
        .where('id_sha256', '=', sha256Hex(id))
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return countOf(r.numUpdatedRows) > 0;
    });
  }

  /** Ends every session of `subject` (a token id or `account:<id>`); returns how many. */
  async revokeToken(subject: string): Promise<number> {
    return this.#run('end sessions', async () => {
      const r = await this.#s.db
        .updateTable('sessions')
        .set({ revoked_at: this.#iso() })
        .where('subject', '=', subject)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return countOf(r.numUpdatedRows);
    });
  }

  // ---- audit log ------------------------------------------------------------------------------

  #auditRow(
    actor: Actor,
    action: string,
    targetKind: string,
    targetId: string,
    unitId: string | null,
    detail: Record<string, unknown>,
  ) {
    return {
      at: this.#iso(),
      actor: actor.id,
      actor_role: actor.role,
      action,
      target_kind: targetKind,
      target_id: targetId,
      unit_id: unitId,
      detail: JSON.stringify(detail),
    };
  }

  /** Records an event that changes nothing in the store (a login, a logout). */
  async audit(
    actor: Actor,
    action: string,
    target: { kind: string; id: string; unitId?: string },
    detail: Record<string, unknown> = {},
  ): Promise<void> {
    await this.#run('write the audit log', () =>
      this.#s.db
        .insertInto('audit_log')
        .values(this.#auditRow(actor, action, target.kind, target.id, target.unitId ?? null, detail))
        .execute(),
    );
  }

  /** Audit rows, oldest first, narrowed to one target and/or units; at most `limit` (default 500), the newest. */
  async listAudit(
    q: { targetKind?: string; targetId?: string; unitIds?: string[]; limit?: number } = {},
  ): Promise<AuditEntry[]> {
    return this.#run('read the audit log', async () => {
      let query = this.#s.db.selectFrom('audit_log').selectAll();
      if (q.targetKind !== undefined) query = query.where('target_kind', '=', q.targetKind);
      if (q.targetId !== undefined) query = query.where('target_id', '=', q.targetId);
      if (q.unitIds !== undefined) {
        if (q.unitIds.length === 0) return [];
        query = query.where('unit_id', 'in', q.unitIds);
      }
      const rows = await query
        .orderBy('seq', 'desc')
        .limit(q.limit ?? 500)
        .execute();
      return rows.reverse().map((r) => ({
        seq: countOf(r.seq),
        at: r.at,
        actor: r.actor,
        actorRole: r.actor_role,
        action: r.action,
        targetKind: r.target_kind,
        targetId: r.target_id,
        ...(r.unit_id !== null ? { unitId: r.unit_id } : {}),
        detail: JSON.parse(r.detail) as Record<string, unknown>,
      }));
    });
  }

  // ---- findings workflow ----------------------------------------------------------------------

  async #attachmentInfo(findingId: string, sha: string | null): Promise<AttachmentInfo | undefined> {
    if (sha === null) return undefined;
    const a = await this.#s.db
      .selectFrom('attachments')
      .select(['sha256', 'file_name', 'content_type', 'size'])
      .where('finding_id', '=', findingId)
      .where('sha256', '=', sha)
      .executeTakeFirst();
    return a === undefined
      ? undefined
      : { sha256: a.sha256, fileName: a.file_name, contentType: a.content_type, size: countOf(a.size) };
  }

  #workflowOf(r: FindingWorkflowTable, attachment: AttachmentInfo | undefined): FindingWorkflow {
    const opt = <K extends string>(k: K, v: string | null) =>
      v === null ? {} : ({ [k]: v } as Record<K, string>);
    return {
      findingId: r.finding_id,
      unitId: r.unit_id,
      state: shownState(r.state as WorkflowState, r.producer_state),
      workflowState: r.state as WorkflowState,
      producerState: r.producer_state,
      updatedAt: r.updated_at,
      ...opt('updatedBy', r.updated_by),
      ...opt('explanation', r.explanation),
      ...opt('explainedBy', r.explained_by),
      ...opt('explainedAt', r.explained_at),
      ...opt('comment', r.comment),
      ...opt('closedBy', r.closed_by),
      ...opt('closedAt', r.closed_at),
      reopenCount: countOf(r.reopen_count),
      ...(attachment !== undefined ? { attachment } : {}),
    };
  }

  /**
   * Records the findings a listing showed (unit, data time, code, the producer's state) and answers
   * their workflow, by finding id. A finding seen for the first time starts `open`; a producer's
   * `resolved` is taken over (it never un-resolves one).
   */
  async trackFindings(findings: Finding[]): Promise<Map<string, FindingWorkflow>> {
    const out = new Map<string, FindingWorkflow>();
    if (findings.length === 0) return out;
    return this.#run('track findings', async () => {
      const now = this.#iso();
      const ids = findings.map((f) => f.id);
      const known = new Map<string, FindingWorkflowTable>();
      for (let i = 0; i < ids.length; i += 500) {
        const rows = await this.#s.db
          .selectFrom('finding_workflow')
          .selectAll()
          .where('finding_id', 'in', ids.slice(i, i + 500))
          .execute();
        for (const r of rows) known.set(r.finding_id, r);
      }
      for (const f of findings) {
        const producer = f.state ?? 'open';
        let r = known.get(f.id);
        if (r === undefined) {
          r = {
            finding_id: f.id,
            unit_id: f.unitId,
            state: 'open',
            producer_state: producer,
            ts: f.ts,
            code: f.code,
            severity: f.severity,
            first_seen_at: now,
            updated_at: now,
            updated_by: null,
            explanation: null,
            explained_by: null,
            explained_at: null,
            comment: null,
            closed_by: null,
            closed_at: null,
            reopen_count: 0,
            attachment_sha256: null,
          };
          await this.#s.db
            .insertInto('finding_workflow')
            .values(r)
            .onConflict((oc) => oc.column('finding_id').doNothing())
            .execute();
          known.set(f.id, r);
        } else if (producer === 'resolved' && r.producer_state !== 'resolved') {
          await this.#s.db
            .updateTable('finding_workflow')
            .set({ producer_state: 'resolved', updated_at: now })
            .where('finding_id', '=', f.id)
            .execute();
          r = { ...r, producer_state: 'resolved', updated_at: now };
        }
        out.set(f.id, this.#workflowOf(r, await this.#attachmentInfo(r.finding_id, r.attachment_sha256)));
      }
      return out;
    });
  }

  /** The workflow of one finding, or undefined when no listing has shown it yet. */
  async findingWorkflow(findingId: string): Promise<FindingWorkflow | undefined> {
    return this.#run('read a finding', async () => {
      const r = await this.#s.db
        .selectFrom('finding_workflow')
        .selectAll()
        .where('finding_id', '=', findingId)
        .executeTakeFirst();
      return r === undefined
        ? undefined
        : this.#workflowOf(r, await this.#attachmentInfo(findingId, r.attachment_sha256));
    });
  }

  /**
   * Takes a workflow action on a finding for `principal`, in one transaction with its audit row.
   * @param input.text the explanation (`explain`, required) or the comment (`close`, `reopen`, optional)
   * @throws MrvError `MRV_E_NOT_FOUND` (unknown finding, or outside the principal's scope: nobody learns
   *   of another unit's findings), `MRV_E_FORBIDDEN` (role), `MRV_E_FINDING_TRANSITION` (409, state),
   *   `MRV_E_BAD_REQUEST` (text missing or too long), `MRV_E_TOO_LARGE`, `MRV_E_UNSUPPORTED_MEDIA`
   *   (attachment), `MRV_E_STATE_DB`
   */
  async act(
    findingId: string,
    action: WorkflowAction,
    principal: Principal,
    province: (unitId: string) => Promise<string | undefined>,
    input: { text?: string; attachment?: AttachmentInput } = {},
  ): Promise<FindingWorkflow> {
    const text = input.text?.trim();
    if (text !== undefined && text.length > MAX_TEXT_LENGTH)
      throw new MrvError('MRV_E_BAD_REQUEST', `text: at most ${MAX_TEXT_LENGTH} characters`);
    if (action === 'explain' && (text === undefined || text === ''))
      throw new MrvError('MRV_E_BAD_REQUEST', 'an explanation needs its text');
    if (input.attachment !== undefined && action !== 'explain')
      throw new MrvError('MRV_E_BAD_REQUEST', 'only an explanation takes an attachment');
    const a = input.attachment;
    if (a !== undefined) {
      if (a.data.length > MAX_ATTACHMENT_BYTES)
        throw new MrvError('MRV_E_TOO_LARGE', `an attachment has at most ${MAX_ATTACHMENT_BYTES} bytes`);
      if (a.data.length === 0) throw new MrvError('MRV_E_BAD_REQUEST', 'the attachment is empty');
      if (!ATTACHMENT_TYPES.includes(a.contentType))
        throw new MrvError(
          'MRV_E_UNSUPPORTED_MEDIA',
          `attachment type ${a.contentType} is not one of ${ATTACHMENT_TYPES.join(', ')}`,
        );
      if (!sniffMatches(a.contentType, a.data))
        throw new MrvError('MRV_E_UNSUPPORTED_MEDIA', `the attachment's bytes are not ${a.contentType}`);
    }
    const current = await this.findingWorkflow(findingId);
    if (current === undefined || !canSeeUnit(principal, current.unitId, await province(current.unitId)))
      throw new MrvError('MRV_E_NOT_FOUND', `no finding "${findingId}" in this account's scope`);
    const actor = actorOf(principal);
    await this.#run('update a finding', () =>
      this.#s.db.transaction().execute(async (tx) => {
        // Re-read inside the transaction: two reviewers acting at once see each other's change.
        const r = await tx
          .selectFrom('finding_workflow')
          .selectAll()
          .where('finding_id', '=', findingId)
          .executeTakeFirstOrThrow();
        const from = shownState(r.state as WorkflowState, r.producer_state);
        const to = nextState(from, action, principal.role);
        const now = this.#iso();
        let sha: string | null = null;
        if (a !== undefined) {
          sha = sha256Hex(a.data);
          await tx
            .insertInto('attachments')
            .values({
              sha256: sha,
              finding_id: findingId,
              file_name: a.fileName.slice(0, 200),
              content_type: a.contentType,
              size: a.data.length,
              data: a.data,
              created_at: now,
              created_by: actor.id,
            })
            .onConflict((oc) => oc.columns(['finding_id', 'sha256']).doNothing())
            .execute();
        }
        const set: Partial<FindingWorkflowTable> = { state: to, updated_at: now, updated_by: actor.id };
        if (action === 'explain')
          Object.assign(set, {
            explanation: text,
            explained_by: actor.id,
            explained_at: now,
            attachment_sha256: sha,
          });
        if (action === 'close')
          Object.assign(set, { closed_by: actor.id, closed_at: now, comment: text ?? null });
        if (action === 'reopen')
          Object.assign(set, {
            closed_by: null,
            closed_at: null,
            comment: text ?? null,
            reopen_count: countOf(r.reopen_count) + 1,
          });
        // Compare-and-set on the state read: a concurrent change makes this update touch no row.
        const u = await tx
          .updateTable('finding_workflow')
          .set(set)
          .where('finding_id', '=', findingId)
          .where('state', '=', r.state)
          .executeTakeFirst();
        if (countOf(u.numUpdatedRows) !== 1)
          throw new MrvError('MRV_E_FINDING_TRANSITION', 'the finding changed meanwhile; reload it', {
            action,
          });
        await tx
          .insertInto('audit_log')
          .values(
            this.#auditRow(actor, `finding.${action}`, 'finding', findingId, r.unit_id, {
              from,
              to,
              ...(text !== undefined && text !== ''
                ? { textSha256: sha256Hex(text), textLength: text.length }
                : {}),
              ...(sha !== null ? { attachmentSha256: sha, attachmentSize: a?.data.length } : {}),
            }),
          )
          .execute();
      }),
    );
    const after = await this.findingWorkflow(findingId);
    if (after === undefined) throw new MrvError('MRV_E_STATE_DB', 'the finding vanished');
    return after;
  }

  /** The bytes and description of an attachment, or undefined. */
  async attachment(
    findingId: string,
    sha256: string,
  ): Promise<(AttachmentInfo & { data: Buffer }) | undefined> {
    return this.#run('read an attachment', async () => {
      const a = await this.#s.db
        .selectFrom('attachments')
        .selectAll()
        .where('finding_id', '=', findingId)
        .where('sha256', '=', sha256)
        .executeTakeFirst();
      return a === undefined
        ? undefined
        : {
            sha256: a.sha256,
            fileName: a.file_name,
            contentType: a.content_type,
            size: countOf(a.size),
            data: Buffer.from(a.data),
          };
    });
  }

  /** Open findings (states {@link OPEN_STATES}, producer not resolved) per unit, for the overview. */
  async openCounts(unitIds: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (unitIds.length === 0) return out;
    return this.#run('count findings', async () => {
      const rows = await this.#s.db
        .selectFrom('finding_workflow')
        .select(['unit_id', (eb) => eb.fn.countAll().as('n')])
        .where('unit_id', 'in', unitIds)
        .where('state', 'in', OPEN_STATES.filter((s) => s !== 'resolved') as string[])
        .where('producer_state', '<>', 'resolved')
        .groupBy('unit_id')
        .execute();
      for (const r of rows) out.set(r.unit_id, countOf(r.n));
      return out;
    });
  }
}

/** True when the first bytes of `data` fit `contentType` (magic numbers; text must be UTF-8 without NUL). */
export function sniffMatches(contentType: string, data: Buffer): boolean {
  const starts = (hex: string) => data.subarray(0, hex.length / 2).toString('hex') === hex;
  switch (contentType) {
    case 'application/pdf':
      return starts('255044462d'); // %PDF-
    case 'image/png':
      return starts('89504e470d0a1a0a');
    case 'image/jpeg':
      return starts('ffd8ff');
    case 'text/plain':
    case 'text/csv': {
      if (data.includes(0)) return false;
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(data);
        return true;
      } catch {
        return false;
      }
    }
    default:
      return false;
  }
}
