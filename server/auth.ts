/**
 * Authentication and scope (DESIGN.md §8) for every route under `/api/`.
 *
 * A request carries a token (see `tokens.ts`) in one of three ways, tried in this order:
 * 1. `Authorization: Bearer mrv_...` (scripts, curl);
 * 2. the `mrv_session` cookie set by `POST /api/v1/session` (the dashboard; HttpOnly, SameSite=Strict);
 * 3. `?token=mrv_...` on GET requests, for clients that cannot send headers or cookies (an
 *    `EventSource` on another origin, a download link in a script). Request logs never show it.
 *
 * Then, in an `onRequest` hook, before any handler runs:
 * - no token → 401 `MRV_E_UNAUTHORIZED`; a wrong token → 401 too, counted per client address;
 *   after {@link DEFAULT_MAX_FAILURES} failures in {@link DEFAULT_FAILURE_WINDOW_MS} → 429
 *   `MRV_E_RATE_LIMITED` with `retry-after` (logged at warn, the token's public id at most);
 * - a route param `unitId` (or `?unit=` on `/api/v1/live`) outside the token's scope → 403
 *   `MRV_E_FORBIDDEN`, whether the unit exists or not (a scoped token learns nothing about other units);
 * - a route's `config.roles` not including the token's role → 403 `MRV_E_FORBIDDEN`; routes other
 *   than GET/HEAD are admin-only unless they say otherwise (regulators and enterprises read only).
 *
 * Paths outside `/api/` (the page's files, `/healthz`, `/metrics`) are open, and so are routes with
 * `config: {auth: 'public'}` (the login route). Routes added later (e.g. `domain-routes.ts`) are
 * covered by the same hook without doing anything.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TimeSeriesStore, UnitSummary } from '../collector/store.ts';
import { MrvError } from '../core/errors.ts';
import { canSeeUnit, type Principal, type Role, type TokenFile, tokenIdOf } from './tokens.ts';

/** Name of the session cookie holding the token. */
export const SESSION_COOKIE = 'mrv_session';
/** Failed logins allowed per client address and window before 429. */
export const DEFAULT_MAX_FAILURES = 10;
/** Window of the failed-login count, ms. */
export const DEFAULT_FAILURE_WINDOW_MS = 5 * 60_000;
/** Session cookie lifetime, s (the token itself does not expire; revoke it with `mrv token revoke`). */
export const SESSION_MAX_AGE_S = 12 * 3600;
/** How long the unit → province directory used for scope checks is reused, ms. */
export const UNIT_DIRECTORY_TTL_MS = 5_000;

/** Principal of a server built without a token file (tests, embedding): everything allowed. */
export const OPEN_PRINCIPAL: Principal = Object.freeze({
  tokenId: 'open',
  name: 'open access (no token file)',
  role: 'admin',
  scope: { provinces: [], units: [] },
}) as Principal;

/** Route options read by the auth hook (`config` of a fastify route). */
export interface AuthRouteConfig {
  /** `public`: no token needed. Default: a token is needed for paths under `/api/`. */
  auth?: 'public';
  /** Roles allowed; default all roles for GET/HEAD, `['admin']` otherwise. */
  roles?: Role[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who sent the request; set by the auth hook for `/api/` routes. */
    principal: Principal | null;
  }
}

/**
 * Counts failures per key (client address) in fixed windows. In-process: a restart forgets, which is
 * fine for slowing down guessing of 256-bit tokens; it exists to keep logs and CPU quiet.
 */
export class FailureLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, { count: number; resetAt: number }>();

  constructor(opts: { max?: number; windowMs?: number; now?: () => number } = {}) {
    this.#max = opts.max ?? DEFAULT_MAX_FAILURES;
    this.#windowMs = opts.windowMs ?? DEFAULT_FAILURE_WINDOW_MS;
    this.#now = opts.now ?? Date.now;
  }

  #entry(key: string): { count: number; resetAt: number } | undefined {
    const e = this.#entries.get(key);
    if (e !== undefined && e.resetAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return e;
  }

  /** Seconds until `key` may try again, or 0 when it is not blocked. */
  blockedFor(key: string): number {
    const e = this.#entry(key);
    return e !== undefined && e.count >= this.#max
      ? Math.max(1, Math.ceil((e.resetAt - this.#now()) / 1000))
      : 0;
  }

  /** Records a failure of `key`; returns the failures in the current window. */
  fail(key: string): number {
    if (this.#entries.size > 10_000) for (const k of [...this.#entries.keys()]) this.#entry(k);
    const e = this.#entry(key) ?? { count: 0, resetAt: this.#now() + this.#windowMs };
    e.count++;
    this.#entries.set(key, e);
    return e.count;
  }
}

/**
 * Unit id → province, from the store's unit list, reused for {@link UNIT_DIRECTORY_TTL_MS}. Scope
 * checks by province and the filtering of the all-units live stream use it.
 */
export class UnitDirectory {
  readonly #store: TimeSeriesStore;
  #units: UnitSummary[] = [];
  #at = -Infinity;
  #loading: Promise<UnitSummary[]> | undefined;

  constructor(store: TimeSeriesStore) {
    this.#store = store;
  }

  /** The units, fresh within the TTL. Store failures propagate. */
  async units(): Promise<UnitSummary[]> {
    if (performance.now() - this.#at < UNIT_DIRECTORY_TTL_MS) return this.#units;
    this.#loading ??= this.#store
      .listUnits()
      .then((units) => {
        this.#units = units;
        this.#at = performance.now();
        return units;
      })
      .finally(() => {
        this.#loading = undefined;
      });
    return this.#loading;
  }

  /** Province of a unit from the last list (sync; starts a refresh when stale), or undefined. */
  provinceNow(unitId: string): string | undefined {
    if (performance.now() - this.#at >= UNIT_DIRECTORY_TTL_MS) this.units().catch(() => {});
    return this.#units.find((u) => u.id === unitId)?.province;
  }
}

/** Parses a `Cookie` header into name → value (first wins). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!out.has(name)) {
      try {
        out.set(name, decodeURIComponent(part.slice(eq + 1).trim()));
      } catch {
        // malformed escape: ignore this cookie
      }
    }
  }
  return out;
}

/** The request URL with any `token=` query parameter replaced, for logs. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/g, '$1[redacted]');
}

/** Where the token of a request came from, and the token. */
function presentedToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m?.[1] ?? header;
  }
  const cookie = parseCookies(request.headers.cookie).get(SESSION_COOKIE);
  if (cookie) return cookie;
  if (request.method === 'GET') {
    const q = (request.query as Record<string, unknown> | undefined)?.token;
    if (typeof q === 'string' && q !== '') return q;
  }
  return undefined;
}

/** What {@link installAuth} needs. */
export interface AuthOptions {
  /** The token file; `undefined` runs the server open (every request is {@link OPEN_PRINCIPAL}). */
  tokens: TokenFile | undefined;
  units: UnitDirectory;
  limiter?: FailureLimiter;
}

/** The installed auth: scope helpers for route handlers. */
export interface Auth {
  /** True when the server checks tokens (a token file was given). */
  readonly enabled: boolean;
  /** The units `principal` may see, from `units`. */
  filterUnits<T extends { id: string; province: string }>(principal: Principal | null, units: T[]): T[];
  /** Sync check for one unit (live stream filter); uses the cached directory. */
  seesUnitNow(principal: Principal | null, unitId: string): boolean;
  /**
   * Verifies a token presented to the login route, counting a failure.
   * @throws MrvError `MRV_E_RATE_LIMITED` or `MRV_E_UNAUTHORIZED`
   */
  login(request: FastifyRequest, reply: FastifyReply, token: string): Principal;
}

function clientKey(request: FastifyRequest): string {
  return request.ip ?? 'unknown';
}

/**
 * Installs the auth hook on `app` (see the file comment) and returns helpers for the routes.
 * Register it before the routes it protects (hooks apply to routes registered after them in
 * child plugins, and to every route of the root instance).
 */
export function installAuth(app: FastifyInstance, opts: AuthOptions): Auth {
  const limiter = opts.limiter ?? new FailureLimiter();
  const tokens = opts.tokens;
  app.decorateRequest('principal', null);

  const rejectIfBlocked = (request: FastifyRequest, reply: FastifyReply) => {
    const wait = limiter.blockedFor(clientKey(request));
    if (wait > 0) {
      reply.header('retry-after', String(wait));
      throw new MrvError(
        'MRV_E_RATE_LIMITED',
        `too many failed logins from this address; retry in ${wait} s`,
      );
    }
  };

  const verify = (request: FastifyRequest, reply: FastifyReply, token: string): Principal => {
    rejectIfBlocked(request, reply);
    const principal = tokens?.verify(token);
    if (principal === undefined) {
      const failures = limiter.fail(clientKey(request));
      // The token's public id at most: never the secret part, never the whole text.
      request.log.warn(
        { ip: clientKey(request), tokenId: tokenIdOf(token) ?? null, failures, path: redactUrl(request.url) },
        'auth: rejected token',
      );
      throw new MrvError('MRV_E_UNAUTHORIZED', 'invalid or revoked token');
    }
    return principal;
  };

  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    if (!path.startsWith('/api/')) return;
    const config = (request.routeOptions.config ?? {}) as AuthRouteConfig;
    if (config.auth === 'public') return;
    let principal: Principal;
    if (tokens === undefined) principal = OPEN_PRINCIPAL;
    else {
      const token = presentedToken(request);
      if (token === undefined) {
        throw new MrvError(
          'MRV_E_UNAUTHORIZED',
          'a token is needed: Authorization: Bearer <token>, the session cookie (POST /api/v1/session) or ?token=',
        );
      }
      principal = verify(request, reply, token);
    }
    request.principal = principal;

    const readOnly = request.method === 'GET' || request.method === 'HEAD';
    const roles = config.roles ?? (readOnly ? undefined : ['admin']);
    if (roles !== undefined && !roles.includes(principal.role)) {
      throw new MrvError('MRV_E_FORBIDDEN', `role ${principal.role} may not ${request.method} ${path}`);
    }

    // The all-units live stream filters batches by province from the unit directory: have it loaded.
    if (path === '/api/v1/live' && principal.role !== 'admin') await opts.units.units().catch(() => {});

    const params = request.params as Record<string, unknown> | undefined;
    let unitId = typeof params?.unitId === 'string' ? params.unitId : undefined;
    if (unitId === undefined && path === '/api/v1/live') {
      const q = (request.query as Record<string, unknown> | undefined)?.unit;
      if (typeof q === 'string') unitId = q;
    }
    if (unitId !== undefined && principal.role !== 'admin' && !principal.scope.units.includes(unitId)) {
      const units = await opts.units.units().catch((err) => {
        throw new MrvError('MRV_E_STORE', 'store failed to look up the unit', undefined, { cause: err });
      });
      const province = units.find((u) => u.id === unitId)?.province;
      if (!canSeeUnit(principal, unitId, province)) {
        throw new MrvError('MRV_E_FORBIDDEN', `unit "${unitId}" is outside this token's scope`, { unitId });
      }
    }
  });

  return {
    enabled: tokens !== undefined,
    filterUnits: (principal, units) =>
      principal === null ? [] : units.filter((u) => canSeeUnit(principal, u.id, u.province)),
    seesUnitNow: (principal, unitId) =>
      principal !== null && canSeeUnit(principal, unitId, opts.units.provinceNow(unitId)),
    login: (request, reply, token) => {
      if (tokens === undefined) return OPEN_PRINCIPAL;
      return verify(request, reply, token);
    },
  };
}
