/**
 * The confirmations of monthly evidence (月度存证确认, docs/architecture.md §8a) over the state database:
 * the enterprise confirms a month → the package as built at that moment is frozen as version 1; a
 * later confirmation of the same month (a correction) is version n+1 and cites version n's digest;
 * the regulator reviews the latest version. Every change writes its audit row (`evidence.confirm`,
 * `evidence.review`) in the same transaction. The same code runs on SQLite and PostgreSQL
 * (`test/integration/confirmation-contract.ts`).
 *
 * Each version carries a **receipt** (evidence/confirmation-receipt.ts): what was confirmed (unit, month,
 * version, the frozen bytes' SHA-256, the version it supersedes and its digest), by whom and when,
 * signed with the server's evidence key over its canonical JSON. The frozen package keeps its own
 * signature untouched, so `mrv verify` checks it exactly as any package.
 *
 * This store checks what the rows alone decide (version order, only the latest reviewed, once; text
 * lengths). Whether a month may be confirmed at all (ended, has data, a comment when incomplete) and
 * who may act is decided by the caller (server/confirmation-routes.ts) before it builds the package.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { MrvError } from '../../core/errors.ts';
import { type ConfirmationReceipt, receiptBytes } from '../../evidence/confirmation-receipt.ts';
import type { ConfirmationSchema, ConfirmationsTable } from './confirmation-schema.ts';
import { countOf, type StateDb, type StateSchema } from './db.ts';
import type { Actor } from './state-store.ts';

/** Longest comment of a confirmation or a review, characters. */
export const MAX_CONFIRMATION_COMMENT = 10_000;

/** One confirmed version as the store answers it (without the package bytes: {@link ConfirmationStore.frozenPackage}). */
export interface ConfirmationVersion {
  unitId: string;
  month: string;
  version: number;
  packageSha256: string;
  supersedes: { version: number; sha256: string } | null;
  contentStatus: string;
  confirmedBy: string;
  confirmedByName: string;
  /** ISO-8601 UTC. */
  confirmedAt: string;
  comment?: string;
  /** The regulator's review, once given. */
  review?: { by: string; name: string; at: string; comment?: string };
  /** True when no later version exists (only this one can be reviewed). */
  latest: boolean;
  receipt: ConfirmationReceipt;
  /** Base64 Ed25519 signature of the server's evidence key over `receiptBytes(receipt)`. */
  signature: string;
}

/** The latest state of one unit's month, for status listings. */
export interface MonthConfirmation {
  month: string;
  latestVersion: number;
  versions: number;
  firstConfirmedAt: string;
  latest: ConfirmationVersion;
}

/** What {@link ConfirmationStore.confirm} needs. */
export interface ConfirmInput {
  unitId: string;
  month: string;
  /** The package exactly as it is frozen and served (UTF-8 JSON text). */
  packageJson: string;
  /** The package's own signature key id. */
  packageKeyId: string;
  /** The package's content status (`incomplete`, `complete`). */
  contentStatus: string;
  actor: Actor;
  /** The person's (or token's) display name. */
  actorName: string;
  comment?: string;
  /** Signs the receipt's canonical JSON with the server's evidence key; answers base64. */
  sign: (bytes: Buffer) => string;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function checkComment(text: string | undefined, what: string): string | undefined {
  const t = text?.trim();
  if (t !== undefined && t.length > MAX_CONFIRMATION_COMMENT)
    throw new MrvError('MRV_E_BAD_REQUEST', `${what}: at most ${MAX_CONFIRMATION_COMMENT} characters`);
  return t === '' ? undefined : t;
}

type Row = Omit<ConfirmationsTable, 'package_json'>;

/** The receipt of a row (rebuilt from its columns, so the signature is checkable against them). */
function receiptOf(r: Row): ConfirmationReceipt {
  const v = countOf(r.version);
  const sv = r.supersedes_version === null ? null : countOf(r.supersedes_version);
  return {
    kind: 'evidence-confirmation',
    unitId: r.unit_id,
    month: r.month,
    version: v,
    packageSha256: r.package_sha256,
    packageKeyId: r.key_id,
    supersedes:
      sv === null || r.supersedes_sha256 === null ? null : { version: sv, sha256: r.supersedes_sha256 },
    contentStatus: r.content_status,
    confirmedBy: r.confirmed_by,
    confirmedByName: r.confirmed_by_name,
    confirmedAt: r.confirmed_at,
    commentSha256: r.comment === null ? null : sha256Hex(r.comment),
  };
}

function versionOf(r: Row, latest: number): ConfirmationVersion {
  const receipt = receiptOf(r);
  return {
    unitId: r.unit_id,
    month: r.month,
    version: receipt.version,
    packageSha256: r.package_sha256,
    supersedes: receipt.supersedes,
    contentStatus: r.content_status,
    confirmedBy: r.confirmed_by,
    confirmedByName: r.confirmed_by_name,
    confirmedAt: r.confirmed_at,
    ...(r.comment !== null ? { comment: r.comment } : {}),
    ...(r.reviewed_at !== null
      ? {
          review: {
            by: r.reviewed_by ?? '',
            name: r.reviewed_by_name ?? '',
            at: r.reviewed_at,
            ...(r.review_comment !== null ? { comment: r.review_comment } : {}),
          },
        }
      : {}),
    latest: receipt.version === latest,
    receipt,
    signature: r.signature,
  };
}

const SUMMARY_COLUMNS = [
  'unit_id',
  'month',
  'version',
  'package_sha256',
  'key_id',
  'signature',
  'supersedes_version',
  'supersedes_sha256',
  'content_status',
  'confirmed_by',
  'confirmed_by_name',
  'confirmed_at',
  'comment',
  'reviewed_by',
  'reviewed_by_name',
  'reviewed_at',
  'review_comment',
] as const;

/** The confirmations store (see the file comment). The constructor does no I/O. */
export class ConfirmationStore {
  readonly #db: Kysely<StateSchema & ConfirmationSchema>;
  readonly #now: () => number;

  /**
   * @param state the open state database (migration `0003_evidence_confirmations` applied by `openStateDb`)
   * @param opts.now source of "now", ms epoch; default `Date.now`
   */
  constructor(state: StateDb, opts: { now?: () => number } = {}) {
    // The same connection seen with the table of migration 0003 (db.ts StateSchema lists 0001's only;
    // kysely's withTables wants index signatures our table interfaces do not have).
    this.#db = state.db as unknown as Kysely<StateSchema & ConfirmationSchema>;
    this.#now = opts.now ?? Date.now;
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

  #audit(actor: Actor, action: string, unitId: string, targetId: string, detail: Record<string, unknown>) {
    return {
      at: new Date(this.#now()).toISOString(),
      actor: actor.id,
      actor_role: actor.role,
      action,
      target_kind: 'evidence',
      target_id: targetId,
      unit_id: unitId,
      detail: JSON.stringify(detail),
    };
  }

  /**
   * Stores a new version of a unit's month: 1 when none exists, else the latest + 1, citing the
   * latest's digest; writes the receipt's signature and the audit row `evidence.confirm` in one
   * transaction.
   * @throws MrvError `MRV_E_BAD_REQUEST` (comment too long), `MRV_E_CONFIRMATION` (409: another
   *   confirmation of the month was stored meanwhile; reload and confirm again), `MRV_E_STATE_DB`
   */
  async confirm(input: ConfirmInput): Promise<ConfirmationVersion> {
    const comment = checkComment(input.comment, 'comment');
    const sha = sha256Hex(input.packageJson);
    const row = await this.#run('store a confirmation', () =>
      this.#db.transaction().execute(async (tx) => {
        const prev = await tx
          .selectFrom('confirmations')
          .select(['version', 'package_sha256'])
          .where('unit_id', '=', input.unitId)
          .where('month', '=', input.month)
          .orderBy('version', 'desc')
          .limit(1)
          .executeTakeFirst();
        const version = prev === undefined ? 1 : countOf(prev.version) + 1;
        const base: Row = {
          unit_id: input.unitId,
          month: input.month,
          version,
          package_sha256: sha,
          key_id: input.packageKeyId,
          signature: '',
          supersedes_version: prev === undefined ? null : countOf(prev.version),
          supersedes_sha256: prev?.package_sha256 ?? null,
          content_status: input.contentStatus,
          confirmed_by: input.actor.id,
          confirmed_by_name: input.actorName,
          confirmed_at: new Date(this.#now()).toISOString(),
          comment: comment ?? null,
          reviewed_by: null,
          reviewed_by_name: null,
          reviewed_at: null,
          review_comment: null,
        };
        const full: Row = { ...base, signature: input.sign(receiptBytes(receiptOf(base))) };
        // Two confirmations at once read the same latest version: the primary key lets one insert.
        const ins = await tx
          .insertInto('confirmations')
          .values({ ...full, package_json: input.packageJson })
          .onConflict((oc) => oc.columns(['unit_id', 'month', 'version']).doNothing())
          .executeTakeFirst();
        if (countOf(ins.numInsertedOrUpdatedRows) !== 1)
          throw new MrvError(
            'MRV_E_CONFIRMATION',
            `${input.unitId} ${input.month} was confirmed meanwhile (version ${version}); reload and confirm again`,
            { unitId: input.unitId, month: input.month },
          );
        await tx
          .insertInto('audit_log')
          .values(
            this.#audit(
              input.actor,
              'evidence.confirm',
              input.unitId,
              `${input.unitId}/${input.month}/v${version}`,
              {
                month: input.month,
                version,
                packageSha256: sha,
                supersedesVersion: full.supersedes_version,
                supersedesSha256: full.supersedes_sha256,
                contentStatus: input.contentStatus,
                ...(comment !== undefined
                  ? { commentSha256: sha256Hex(comment), commentLength: comment.length }
                  : {}),
              },
            ),
          )
          .execute();
        return full;
      }),
    );
    return versionOf(row, countOf(row.version));
  }

  /**
   * Marks the latest version of a unit's month reviewed by a regulator, with an optional comment, and
   * writes the audit row `evidence.review`, in one transaction.
   * @throws MrvError `MRV_E_NOT_FOUND` (no such version), `MRV_E_CONFIRMATION` (409: a later version
   *   exists, or it is reviewed already), `MRV_E_BAD_REQUEST` (comment too long), `MRV_E_STATE_DB`
   */
  async review(input: {
    unitId: string;
    month: string;
    version: number;
    actor: Actor;
    actorName: string;
    comment?: string;
  }): Promise<ConfirmationVersion> {
    const comment = checkComment(input.comment, 'comment');
    const { unitId, month, version } = input;
    await this.#run('review a confirmation', () =>
      this.#db.transaction().execute(async (tx) => {
        const latest = await tx
          .selectFrom('confirmations')
          .select(['version'])
          .where('unit_id', '=', unitId)
          .where('month', '=', month)
          .orderBy('version', 'desc')
          .limit(1)
          .executeTakeFirst();
        const latestVersion = latest === undefined ? 0 : countOf(latest.version);
        if (version < 1 || version > latestVersion)
          throw new MrvError('MRV_E_NOT_FOUND', `${unitId} ${month} has no confirmed version ${version}`, {
            unitId,
            month,
            version,
          });
        if (version !== latestVersion)
          throw new MrvError(
            'MRV_E_CONFIRMATION',
            `version ${version} of ${unitId} ${month} is superseded by version ${latestVersion}: only the latest version can be reviewed`,
            { unitId, month, version, latestVersion },
          );
        const at = new Date(this.#now()).toISOString();
        // Compare-and-set: of two reviews at once exactly one marks the version.
        const u = await tx
          .updateTable('confirmations')
          .set({
            reviewed_by: input.actor.id,
            reviewed_by_name: input.actorName,
            reviewed_at: at,
            review_comment: comment ?? null,
          })
          .where('unit_id', '=', unitId)
          .where('month', '=', month)
          .where('version', '=', version)
          .where('reviewed_at', 'is', null)
          .executeTakeFirst();
        if (countOf(u.numUpdatedRows) !== 1)
          throw new MrvError(
            'MRV_E_CONFIRMATION',
            `version ${version} of ${unitId} ${month} is reviewed already`,
            {
              unitId,
              month,
              version,
            },
          );
        await tx
          .insertInto('audit_log')
          .values(
            this.#audit(input.actor, 'evidence.review', unitId, `${unitId}/${month}/v${version}`, {
              month,
              version,
              ...(comment !== undefined
                ? { commentSha256: sha256Hex(comment), commentLength: comment.length }
                : {}),
            }),
          )
          .execute();
      }),
    );
    const after = await this.version(unitId, month, version);
    if (after === undefined) throw new MrvError('MRV_E_STATE_DB', 'the confirmation vanished');
    return after;
  }

  /** Every version of a unit's month, oldest first (empty when the month was never confirmed). */
  async versions(unitId: string, month: string): Promise<ConfirmationVersion[]> {
    return this.#run('read confirmations', async () => {
      const rows = await this.#db
        .selectFrom('confirmations')
        .select(SUMMARY_COLUMNS)
        .where('unit_id', '=', unitId)
        .where('month', '=', month)
        .orderBy('version', 'asc')
        .execute();
      const latest = rows.reduce((n, r) => Math.max(n, countOf(r.version)), 0);
      return rows.map((r) => versionOf(r, latest));
    });
  }

  /** One version, or undefined. */
  async version(unitId: string, month: string, version: number): Promise<ConfirmationVersion | undefined> {
    return (await this.versions(unitId, month)).find((v) => v.version === version);
  }

  /** The frozen package text of a version (the exact bytes confirmed), or undefined. */
  async frozenPackage(unitId: string, month: string, version: number): Promise<string | undefined> {
    return this.#run('read a frozen package', async () => {
      const r = await this.#db
        .selectFrom('confirmations')
        .select(['package_json'])
        .where('unit_id', '=', unitId)
        .where('month', '=', month)
        .where('version', '=', version)
        .executeTakeFirst();
      return r?.package_json;
    });
  }

  /**
   * Per confirmed month of a unit within `[fromMonth, toMonth]` (inclusive, `yyyy-mm`): its latest
   * version, the number of versions and when version 1 was confirmed (the deadline is judged on it).
   */
  async months(unitId: string, fromMonth: string, toMonth: string): Promise<Map<string, MonthConfirmation>> {
    return this.#run('read confirmations', async () => {
      const rows = await this.#db
        .selectFrom('confirmations')
        .select(SUMMARY_COLUMNS)
        .where('unit_id', '=', unitId)
        .where('month', '>=', fromMonth)
        .where('month', '<=', toMonth)
        .orderBy('month', 'asc')
        .orderBy('version', 'asc')
        .execute();
      const byMonth = new Map<string, Row[]>();
      for (const r of rows) byMonth.set(r.month, [...(byMonth.get(r.month) ?? []), r]);
      const out = new Map<string, MonthConfirmation>();
      for (const [month, rs] of byMonth) {
        const last = rs[rs.length - 1] as Row;
        const first = rs[0] as Row;
        const n = countOf(last.version);
        out.set(month, {
          month,
          latestVersion: n,
          versions: rs.length,
          firstConfirmedAt: first.confirmed_at,
          latest: versionOf(last, n),
        });
      }
      return out;
    });
  }
}
