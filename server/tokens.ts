/**
 * API tokens (docs/architecture.md §8: "tokens carry the role and scope"). A token is shown once, when it is
 * created (`mrv token create`); the token file keeps only its SHA-256, so a copy of the file lets
 * nobody in. The server reads the same file and notices changes (new or revoked tokens) within a
 * second, without a restart.
 *
 * Token text: `mrv_<id>_<secret>`, `id` 8 hex digits (public: shown in lists and logs), `secret`
 * 32 random bytes in base64url. The file is JSON, mode 0600:
 * `{"version": 1, "tokens": [{id, name, role, scope: {provinces, units}, sha256, createdAt, revokedAt?}]}`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MrvError } from '../core/errors.ts';

/** File name of the token file inside a data dir (`mrv demo --data-dir`, `mrv server --data-dir`). */
export const TOKEN_FILE_NAME = 'tokens.json';

/**
 * Who may do what:
 * - `admin`: every unit, plus the configuration views (`/api/v1/admin/...`);
 * - `regulator`: read-only, the units of its provinces and/or its listed units;
 * - `enterprise`: its own unit (exactly one): acknowledges and explains its findings, confirms its
 *   monthly evidence, writes its meter ledger;
 * - `metrologist` (计量管理员): the plant's metrology staff, scoped to units like an enterprise (one or
 *   more `unit:ID`, no province): reads what an enterprise reads and writes the meter ledger of its
 *   units (certificates, renewals, corrections), but neither explains findings nor confirms evidence.
 */
export type Role = 'admin' | 'regulator' | 'enterprise' | 'metrologist';

/** The roles, for validation and messages. */
export const ROLES: readonly Role[] = ['admin', 'regulator', 'enterprise', 'metrologist'];

/** What a token may see. Both lists empty for `admin` (everything). A unit is visible when its id or its province is listed. */
export interface Scope {
  provinces: string[];
  units: string[];
}

/** One token as kept in the file: never the token itself, only its SHA-256. */
export interface TokenRecord {
  /** Public id, the `<id>` part of the token text. */
  id: string;
  /** Who it was given to, free text (`--name`). */
  name: string;
  role: Role;
  scope: Scope;
  /** SHA-256 of the whole token text, lowercase hex. */
  sha256: string;
  /** ISO-8601. */
  createdAt: string;
  /** ISO-8601; a revoked token is refused. */
  revokedAt?: string;
}

/**
 * The identity behind a request: a token's record without its hash, or an account's (server/state/):
 * then `tokenId` is `account:<account id>` and `username` is set.
 */
export interface Principal {
  tokenId: string;
  name: string;
  role: Role;
  scope: Scope;
  /** The account's username when the principal is a person logged in with a password. */
  username?: string;
}

interface TokenFileBody {
  version: 1;
  tokens: TokenRecord[];
}

const TOKEN_TEXT = /^mrv_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$/;

/** SHA-256 of a token text, lowercase hex. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The public id of a well-formed token text (safe to log), or undefined. */
export function tokenIdOf(token: string): string | undefined {
  return TOKEN_TEXT.exec(token)?.[1];
}

/**
 * Parses `--scope` values into a {@link Scope}: `province:内蒙古` (several separated by `,`),
 * `unit:ID` or `units:ID1,ID2`; several values add up. `all` (or none) means no restriction and is
 * only valid for `admin`.
 * @throws MrvError `MRV_E_CONFIG` for an unknown form or a scope that does not fit the role
 *   (regulator: at least one province or unit; enterprise: exactly one unit; metrologist: one or
 *   more units, no province; admin: none)
 */
export function parseScope(role: Role, values: string[]): Scope {
  const scope: Scope = { provinces: [], units: [] };
  for (const value of values) {
    if (value === 'all') continue;
    const m = /^(province|provinces|unit|units):(.+)$/.exec(value.trim());
    if (m === null) {
      throw new MrvError(
        'MRV_E_CONFIG',
        `--scope: expected province:NAME, unit:ID or units:ID1,ID2 (or all for admin), got "${value}"`,
      );
    }
    const items = m[2]!
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    (m[1]!.startsWith('province') ? scope.provinces : scope.units).push(...items);
  }
  scope.provinces = [...new Set(scope.provinces)];
  scope.units = [...new Set(scope.units)];
  const n = scope.provinces.length + scope.units.length;
  if (role === 'admin' && n > 0)
    throw new MrvError('MRV_E_CONFIG', '--scope: an admin token sees every unit; omit --scope or use all');
  if (role === 'regulator' && n === 0)
    throw new MrvError('MRV_E_CONFIG', '--scope: a regulator token needs province:NAME and/or unit:ID');
  if (role === 'enterprise' && (scope.units.length !== 1 || scope.provinces.length > 0))
    throw new MrvError('MRV_E_CONFIG', '--scope: an enterprise token needs exactly one unit:ID');
  if (role === 'metrologist' && (scope.units.length === 0 || scope.provinces.length > 0))
    throw new MrvError(
      'MRV_E_CONFIG',
      '--scope: a metrologist token needs unit:ID (or units:ID1,ID2) and no province',
    );
  return scope;
}

/** Scope as one line for people: `province:内蒙古 unit:X` or `all`. */
export function formatScope(scope: Scope): string {
  const parts = [...scope.provinces.map((p) => `province:${p}`), ...scope.units.map((u) => `unit:${u}`)];
  return parts.length === 0 ? 'all' : parts.join(' ');
}

/** True when `principal` may see the unit `unitId` of `province` (province undefined: unknown unit). */
export function canSeeUnit(principal: Principal, unitId: string, province: string | undefined): boolean {
  if (principal.role === 'admin') return true;
  if (principal.scope.units.includes(unitId)) return true;
  return province !== undefined && principal.scope.provinces.includes(province);
}

/**
 * The token file of a data dir. Reads lazily and re-reads when the file's modification time or size
 * changed, checked at most once per `recheckMs` (so tokens created or revoked by `mrv token` take
 * effect on a running server).
 */
export class TokenFile {
  readonly path: string;
  readonly #recheckMs: number;
  #records: TokenRecord[] = [];
  #byHash = new Map<string, TokenRecord>();
  #stamp = '';
  #checkedAt = -Infinity;

  /**
   * @param path the token file (`<data dir>/tokens.json`); it may not exist yet (then no token is valid)
   * @param recheckMs how often `verify` looks for changes, ms (default 1000)
   */
  constructor(path: string, recheckMs = 1000) {
    this.path = path;
    this.#recheckMs = recheckMs;
  }

  /** The token file inside `dataDir`. */
  static inDataDir(dataDir: string): TokenFile {
    return new TokenFile(join(dataDir, TOKEN_FILE_NAME));
  }

  #refresh(force = false): void {
    const now = performance.now();
    if (!force && now - this.#checkedAt < this.#recheckMs) return;
    this.#checkedAt = now;
    let stamp = 'missing';
    try {
      const st = statSync(this.path);
      stamp = `${st.mtimeMs}:${st.size}`;
    } catch {
      // no file: no tokens
    }
    if (stamp === this.#stamp) return;
    this.#records = stamp === 'missing' ? [] : this.#read();
    this.#byHash = new Map(this.#records.map((r) => [r.sha256, r]));
    this.#stamp = stamp;
  }

  #read(): TokenRecord[] {
    let body: TokenFileBody;
    try {
      body = JSON.parse(readFileSync(this.path, 'utf8')) as TokenFileBody;
    } catch (err) {
      throw new MrvError('MRV_E_CONFIG', `${this.path}: not a readable token file`, undefined, {
        cause: err,
      });
    }
    if (body?.version !== 1 || !Array.isArray(body.tokens)) {
      throw new MrvError('MRV_E_CONFIG', `${this.path}: expected {"version": 1, "tokens": [...]}`);
    }
    return body.tokens;
  }

  #write(records: TokenRecord[]): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(
      tmp,
      `${JSON.stringify({ version: 1, tokens: records } satisfies TokenFileBody, null, 2)}\n`,
      {
        mode: 0o600,
      },
    );
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.path);
    this.#refresh(true);
  }

  /** Every record, revoked ones included (no secrets in them). */
  list(): TokenRecord[] {
    this.#refresh(true);
    return this.#records.map((r) => ({
      ...r,
      scope: { provinces: [...r.scope.provinces], units: [...r.scope.units] },
    }));
  }

  /**
   * Creates a token and stores its hash.
   * @returns the token text (shown once: it cannot be recovered from the file) and its record
   */
  create(opts: { role: Role; scope: Scope; name: string; now?: Date }): {
    token: string;
    record: TokenRecord;
  } {
    const records = this.list();
    let id: string;
    do id = randomBytes(4).toString('hex');
    while (records.some((r) => r.id === id));
    const token = `mrv_${id}_${randomBytes(32).toString('base64url')}`;
    const record: TokenRecord = {
      id,
      name: opts.name,
      role: opts.role,
      scope: opts.scope,
      sha256: hashToken(token),
      createdAt: (opts.now ?? new Date()).toISOString(),
    };
    this.#write([...records, record]);
    return { token, record };
  }

  /**
   * Revokes tokens by id, or every token with the given name (used by the demo to replace its own).
   * @returns how many tokens were revoked now
   */
  revoke(match: { id?: string; name?: string }, now = new Date()): number {
    const records = this.list();
    let n = 0;
    for (const r of records) {
      if (r.revokedAt !== undefined) continue;
      if (
        (match.id !== undefined && r.id === match.id) ||
        (match.name !== undefined && r.name === match.name)
      ) {
        r.revokedAt = now.toISOString();
        n++;
      }
    }
    if (n > 0) this.#write(records);
    return n;
  }

  /**
   * The principal of the unrevoked token with public id `id`, or undefined (revoked, unknown). Sessions
   * resolve their token through it on every request, so a revocation ends them (see `sessions.ts`).
   */
  principalById(id: string): Principal | undefined {
    this.#refresh();
    const record = this.#records.find((r) => r.id === id && r.revokedAt === undefined);
    if (record === undefined) return undefined;
    return { tokenId: record.id, name: record.name, role: record.role, scope: record.scope };
  }

  /** The principal of a valid, unrevoked token, or undefined. Compares hashes in constant time. */
  verify(token: string): Principal | undefined {
    if (!TOKEN_TEXT.test(token)) return undefined;
    this.#refresh();
    const hash = hashToken(token);
    const record = this.#byHash.get(hash);
    if (record === undefined || record.revokedAt !== undefined) return undefined;
    if (!timingSafeEqual(Buffer.from(record.sha256, 'hex'), Buffer.from(hash, 'hex'))) return undefined;
    return { tokenId: record.id, name: record.name, role: record.role, scope: record.scope };
  }
}
