/**
 * Server-side sessions of the dashboard (issue 17 item 5; docs/architecture.md §8 "revocable server-side
 * sessions"). `POST /api/v1/session` exchanges a token for a session; the `mrv_session` cookie then
 * carries only the session id, never the token.
 *
 * Design:
 * - The id is 32 random bytes in base64url (43 characters). The store keeps only its SHA-256 (as
 *   `tokens.json` keeps tokens), so a heap dump or a log line holding the map lets nobody in, and a
 *   lookup compares hashes, not the secret.
 * - A session names the token it was opened with (`tokenId`), not a copy of its role and scope: every
 *   request resolves the token again through the token file, so revoking the token (`mrv token
 *   revoke`) ends its sessions within the token file's re-check interval (1 s), and a changed role or
 *   scope applies at once.
 * - Expiry is absolute ({@link SESSION_TTL_MS} after login; the cookie's `Max-Age` says the same) and
 *   on idleness ({@link SESSION_IDLE_MS} without a request). Expired sessions are dropped on lookup and
 *   swept when the store grows; at most {@link MAX_SESSIONS} live at once (the oldest go first), so a
 *   flood of logins cannot grow memory without bound.
 * - `DELETE /api/v1/session` revokes the session of the cookie; {@link SessionStore.revokeToken} ends
 *   every session of a token.
 * - In memory, one process: a restart logs every dashboard user out (they log in again with their
 *   token); several server instances behind one load balancer would each know only their own sessions.
 *   Sharing sessions between instances (in the write side's database) is future work.
 */
import { createHash, randomBytes } from 'node:crypto';

/** Absolute session lifetime, ms (12 h: one shift plus margin). */
export const SESSION_TTL_MS = 12 * 3600_000;
/** A session unused for this long ends, ms (2 h). */
export const SESSION_IDLE_MS = 2 * 3600_000;
/** Most sessions kept at once; logging in beyond it ends the oldest session. */
export const MAX_SESSIONS = 10_000;

/** Form of a session id: 32 random bytes, base64url without padding. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

interface SessionEntry {
  tokenId: string;
  createdAt: number;
  expiresAt: number;
  lastSeenAt: number;
}

/** A live session, as {@link SessionStore.lookup} answers it (no secret in it). */
export interface SessionInfo {
  /** Public id of the token the session was opened with. */
  tokenId: string;
  /** When the session was opened, ms epoch. */
  createdAt: number;
  /** When it ends at the latest, ms epoch. */
  expiresAt: number;
}

/** Options of {@link SessionStore}. */
export interface SessionStoreOptions {
  /** Absolute lifetime, ms; default {@link SESSION_TTL_MS}. */
  ttlMs?: number;
  /** Idle timeout, ms; default {@link SESSION_IDLE_MS}. */
  idleMs?: number;
  /** Most sessions kept; default {@link MAX_SESSIONS}. */
  maxSessions?: number;
  /** Source of "now", ms epoch (tests move it to expire sessions); default `Date.now`. */
  now?: () => number;
}

function hashId(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex');
}

/** In-memory store of sessions keyed by the SHA-256 of their id (see the file comment). */
export class SessionStore {
  readonly ttlMs: number;
  readonly idleMs: number;
  readonly #max: number;
  readonly #now: () => number;
  // Insertion order is creation order: the first entries are the oldest.
  readonly #byHash = new Map<string, SessionEntry>();

  constructor(opts: SessionStoreOptions = {}) {
    this.ttlMs = opts.ttlMs ?? SESSION_TTL_MS;
    this.idleMs = opts.idleMs ?? SESSION_IDLE_MS;
    this.#max = opts.maxSessions ?? MAX_SESSIONS;
    this.#now = opts.now ?? Date.now;
  }

  /** Number of sessions held (expired ones not yet swept included). */
  get size(): number {
    return this.#byHash.size;
  }

  /**
   * Opens a session for the token `tokenId`.
   * @returns the session id for the cookie (shown once: the store keeps only its hash)
   */
  create(tokenId: string): { id: string; expiresAt: number } {
    const now = this.#now();
    if (this.#byHash.size >= this.#max) this.#sweep(now);
    while (this.#byHash.size >= this.#max) {
      const oldest = this.#byHash.keys().next().value;
      if (oldest === undefined) break;
      this.#byHash.delete(oldest);
    }
    const id = randomBytes(32).toString('base64url');
    const expiresAt = now + this.ttlMs;
    this.#byHash.set(hashId(id), { tokenId, createdAt: now, expiresAt, lastSeenAt: now });
    return { id, expiresAt };
  }

  /**
   * The live session of `id`, refreshing its idle timer; undefined for a malformed, unknown,
   * revoked or expired id (an expired one is dropped).
   */
  lookup(id: string): SessionInfo | undefined {
    if (!SESSION_ID.test(id)) return undefined;
    const key = hashId(id);
    const e = this.#byHash.get(key);
    if (e === undefined) return undefined;
    const now = this.#now();
    if (this.#expired(e, now)) {
      this.#byHash.delete(key);
      return undefined;
    }
    e.lastSeenAt = now;
    return { tokenId: e.tokenId, createdAt: e.createdAt, expiresAt: e.expiresAt };
  }

  /** Ends the session of `id`; true when one was live. */
  revoke(id: string): boolean {
    if (!SESSION_ID.test(id)) return false;
    return this.#byHash.delete(hashId(id));
  }

  /** Ends every session opened with the token `tokenId`; returns how many. */
  revokeToken(tokenId: string): number {
    let n = 0;
    for (const [k, e] of this.#byHash) {
      if (e.tokenId === tokenId) {
        this.#byHash.delete(k);
        n++;
      }
    }
    return n;
  }

  #expired(e: SessionEntry, now: number): boolean {
    return now >= e.expiresAt || now - e.lastSeenAt >= this.idleMs;
  }

  #sweep(now: number): void {
    for (const [k, e] of this.#byHash) if (this.#expired(e, now)) this.#byHash.delete(k);
  }
}
