/**
 * Authentication and scope (docs/architecture.md §8) for every route under `/api/`.
 *
 * A request carries one of two credentials, tried in this order:
 * 1. `Authorization: Bearer mrv_...` (scripts, curl): a token of `tokens.ts`;
 * 2. the `mrv_session` cookie set by `POST /api/v1/session` (the dashboard and its SSE stream;
 *    HttpOnly, SameSite=Strict, `Secure` when the request came over HTTPS): a session id of
 *    `sessions.ts`, never the token itself. The session resolves its token on every request, so a
 *    revoked token ends its sessions; logout ends the session.
 * A credential in the URL (`?token=`, also spelled `?%74oken=`, `?access_token=`) is refused with 400
 * `MRV_E_BAD_REQUEST`: URLs end up in proxy logs, browser history and `Referer` headers.
 *
 * Then, in an `onRequest` hook, before any handler runs:
 * - no credential → 401 `MRV_E_UNAUTHORIZED`; a wrong one → 401 too, counted per client address and
 *   per token id it names (see {@link FailureLimiter}); once either has {@link DEFAULT_MAX_FAILURES}
 *   failures in {@link DEFAULT_FAILURE_WINDOW_MS}, wrong credentials answer 429 `MRV_E_RATE_LIMITED`
 *   with `retry-after`. A **valid** credential is always accepted, whatever failed before it from the
 *   same address: the lockout slows guessing, it never locks users out (a 256-bit token is not
 *   guessed, and behind a proxy without `trustProxy` every user shares the proxy's address);
 * - a route param `unitId` (or `?unit=` on `/api/v1/live`) outside the token's scope → 403
 *   `MRV_E_FORBIDDEN`, whether the unit exists or not (a scoped token learns nothing about other units).
 *   A province scope covers the units the **unit registry** places in that province, nothing a
 *   gateway's catalogue claims (issue 17 item 2, {@link UnitDirectory});
 * - a route's `config.roles` not including the token's role → 403 `MRV_E_FORBIDDEN`; routes other
 *   than GET/HEAD are admin-only unless they say otherwise (regulators and enterprises read only).
 *
 * The client address is `request.ip`: the socket's peer, or with the server's `trustProxy` option the
 * address a trusted proxy put in `X-Forwarded-For` (see `app.ts`).
 *
 * Paths outside `/api/` (the page's files, `/healthz`, `/metrics`) are open, and so are routes with
 * `config: {auth: 'public'}` (login, logout). Routes added later (e.g. `domain-routes.ts`) are
 * covered by the same hook without doing anything.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TimeSeriesStore, UnitSummary } from '../collector/store.ts';
import { MrvError } from '../core/errors.ts';
import { UnitRegistry } from '../core/schema/unit-registry.ts';
import { SessionStore } from './sessions.ts';
import { canSeeUnit, type Principal, type Role, type TokenFile, tokenIdOf } from './tokens.ts';

/** Name of the session cookie holding the session id (never the token). */
export const SESSION_COOKIE = 'mrv_session';
/** Failed credentials allowed per client address (and per token id) and window before 429. */
export const DEFAULT_MAX_FAILURES = 10;
/** Window of the failed-credential count, ms. */
export const DEFAULT_FAILURE_WINDOW_MS = 5 * 60_000;
/** Query parameters that name a credential; refused in any URL under `/api/` (compared lowercased). */
export const URL_CREDENTIAL_PARAMS: readonly string[] = [
  'token',
  'access_token',
  'api_key',
  'apikey',
  SESSION_COOKIE,
  'session',
];

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
 * Counts failures per key in fixed windows (the auth hook keys on `src:<client address>` and
 * `id:<token id>`). In-process: a restart forgets, which is fine for slowing down guessing of 256-bit
 * tokens; it exists to keep logs and CPU quiet. Only wrong credentials are ever refused because of it.
 */
export class FailureLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, { count: number; resetAt: number }>();

  /**
   * @param opts.max failures per key and window before {@link blockedFor} answers > 0 (default 10)
   * @param opts.windowMs the window, ms (default 5 min)
   * @param opts.now source of "now", ms (tests)
   */
  constructor(opts: { max?: number; windowMs?: number; now?: () => number } = {}) {
    this.#max = opts.max ?? DEFAULT_MAX_FAILURES;
    this.#windowMs = opts.windowMs ?? DEFAULT_FAILURE_WINDOW_MS;
    this.#now = opts.now ?? Date.now;
  }

  /** Failures allowed per key and window. */
  get max(): number {
    return this.#max;
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
 * A unit as the server lists it (`GET /api/v1/units`): for a registered unit its name, industry and
 * province are the registry's; for a unit the store knows only from a gateway's catalogue they are that
 * catalogue's claim, marked `registered: false` (shown to admins and to tokens naming the unit only).
 */
export interface ListedUnit extends UnitSummary {
  /** True when the unit is in the unit registry (core/schema/unit-registry.ts). */
  registered: boolean;
  /** English name from the registry, when it has one. */
  nameEn?: string;
}

/**
 * The units the server knows (issue 17 item 2): the unit registry's, completed with the store's online
 * state and newest data time, plus the store's units the registry lacks, flagged unregistered. Scope by province reads the **registry
 * only** ({@link province}): what a gateway publishes never moves a unit into a regulator's view.
 */
export class UnitDirectory {
  readonly #store: TimeSeriesStore;
  readonly #registry: UnitRegistry;

  /** @param registry the unit registry; default an empty one (no unit visible by province) */
  constructor(store: TimeSeriesStore, registry: UnitRegistry = new UnitRegistry()) {
    this.#store = store;
    this.#registry = registry;
  }

  /**
   * Every registered unit (registry order; `online: false`, `lastDataAt: null` until a gateway of it
   * reports), then the store's unregistered units by id. Store failures propagate.
   */
  async units(): Promise<ListedUnit[]> {
    const stored = await this.#store.listUnits();
    const byId = new Map(stored.map((u) => [u.id, u]));
    const out: ListedUnit[] = this.#registry.units.map((r) => {
      const s = byId.get(r.id);
      return {
        id: r.id,
        name: r.name,
        ...(r.nameEn !== undefined ? { nameEn: r.nameEn } : {}),
        industry: r.industry,
        province: r.province,
        online: s?.online ?? false,
        lastDataAt: s?.lastDataAt ?? null,
        registered: true,
      };
    });
    for (const s of stored) if (!this.#registry.get(s.id)) out.push({ ...s, registered: false });
    return out;
  }

  /** The registered province of a unit (the only one scope checks use), or undefined when unregistered. */
  province(unitId: string): string | undefined {
    return this.#registry.province(unitId);
  }
}

/** Parses a `Cookie` header into name → value (first wins; a malformed escape drops that cookie). */
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

/** Token text anywhere (decoded), for {@link redactUrl}. */
const TOKEN_LIKE = /mrv_[0-9a-f]{8}_[A-Za-z0-9_-]+/i;

function decodeLoosely(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

/**
 * The request URL for logs: the value of every query parameter whose name, once percent-decoded and
 * lowercased, is a credential ({@link URL_CREDENTIAL_PARAMS}, so `?%74oken=` too) or ends in `token`,
 * `secret` or `password`, and every path segment or value that holds a token's text, replaced by
 * `[redacted]`.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const safePath = path
    .split('/')
    .map((seg) => (TOKEN_LIKE.test(decodeLoosely(seg)) ? '[redacted]' : seg))
    .join('/');
  if (q < 0) return safePath;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const rawName = eq < 0 ? pair : pair.slice(0, eq);
      const name = decodeLoosely(rawName).trim().toLowerCase();
      const value = eq < 0 ? '' : pair.slice(eq + 1);
      const secretName = URL_CREDENTIAL_PARAMS.includes(name) || /(token|secret|password)$/.test(name);
      if (secretName || TOKEN_LIKE.test(decodeLoosely(value)) || TOKEN_LIKE.test(name))
        return `${TOKEN_LIKE.test(name) ? '[redacted]' : rawName}=[redacted]`;
      return pair;
    })
    .join('&');
  return `${safePath}?${query}`;
}

/** What a request presents: a token in the `Authorization` header, or a session id in the cookie. */
type Credential = { kind: 'bearer'; token: string } | { kind: 'session'; id: string };

function presentedCredential(request: FastifyRequest): Credential | undefined {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    // Another scheme (Basic, a bare token) is a wrong credential, not an absent one.
    return { kind: 'bearer', token: m?.[1] ?? '' };
  }
  const cookie = parseCookies(request.headers.cookie).get(SESSION_COOKIE);
  if (cookie) return { kind: 'session', id: cookie };
  return undefined;
}

/** The credential-bearing query parameter of a request (any spelling fastify decoded), or undefined. */
function urlCredentialParam(request: FastifyRequest): string | undefined {
  const query = request.query as Record<string, unknown> | undefined;
  if (query === undefined || query === null || typeof query !== 'object') return undefined;
  return Object.keys(query).find((k) => URL_CREDENTIAL_PARAMS.includes(k.trim().toLowerCase()));
}

/** What {@link installAuth} needs. */
export interface AuthOptions {
  /** The token file; `undefined` runs the server open (every request is {@link OPEN_PRINCIPAL}). */
  tokens: TokenFile | undefined;
  units: UnitDirectory;
  /** Failed-credential limiter; default {@link DEFAULT_MAX_FAILURES} per {@link DEFAULT_FAILURE_WINDOW_MS}. */
  limiter?: FailureLimiter;
  /** The dashboard's sessions; default a new in-memory store (see `sessions.ts`). */
  sessions?: SessionStore;
}

/** The installed auth: scope helpers and the session operations for route handlers. */
export interface Auth {
  /** True when the server checks tokens (a token file was given). */
  readonly enabled: boolean;
  /** The sessions of the dashboard (login opens one, logout revokes it). */
  readonly sessions: SessionStore;
  /** The units `principal` may see, from `units` (province scope by the registered province only). */
  filterUnits<T extends { id: string }>(principal: Principal | null, units: T[]): T[];
  /** Sync check for one unit (live stream filter), by the registered province. */
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
  const sessions = opts.sessions ?? new SessionStore();
  const tokens = opts.tokens;
  app.decorateRequest('principal', null);

  /** Counts a wrong credential from this address (and against the token id it names); then throws. */
  const refuse = (request: FastifyRequest, reply: FastifyReply, tokenId: string | undefined): never => {
    const keys = [`src:${clientKey(request)}`, ...(tokenId !== undefined ? [`id:${tokenId}`] : [])];
    const wait = Math.max(...keys.map((k) => limiter.blockedFor(k)));
    if (wait > 0) {
      reply.header('retry-after', String(wait));
      throw new MrvError(
        'MRV_E_RATE_LIMITED',
        `too many failed credentials from this address or for this token; retry in ${wait} s`,
      );
    }
    const failures = Math.max(...keys.map((k) => limiter.fail(k)));
    // The token's public id at most: never the secret part, never the whole text, never a session id.
    request.log.warn(
      { ip: clientKey(request), tokenId: tokenId ?? null, failures, path: redactUrl(request.url) },
      failures >= limiter.max
        ? 'auth: rejected credential; further ones are refused with 429'
        : 'auth: rejected credential',
    );
    throw new MrvError('MRV_E_UNAUTHORIZED', 'invalid, expired or revoked token or session');
  };

  const verifyToken = (request: FastifyRequest, reply: FastifyReply, token: string): Principal => {
    const principal = tokens?.verify(token);
    return principal ?? refuse(request, reply, tokenIdOf(token));
  };

  const verifySession = (request: FastifyRequest, reply: FastifyReply, id: string): Principal => {
    const session = sessions.lookup(id);
    if (session === undefined) return refuse(request, reply, undefined);
    const principal = tokens?.principalById(session.tokenId);
    if (principal === undefined) {
      // Its token was revoked: the session dies with it (and every other session of that token).
      sessions.revokeToken(session.tokenId);
      request.log.info({ tokenId: session.tokenId }, 'auth: sessions of a revoked token ended');
      throw new MrvError('MRV_E_UNAUTHORIZED', 'the token of this session was revoked');
    }
    return principal;
  };

  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    if (!path.startsWith('/api/')) return;
    const inUrl = urlCredentialParam(request);
    if (inUrl !== undefined) {
      throw new MrvError(
        'MRV_E_BAD_REQUEST',
        'credentials are not accepted in the URL: send Authorization: Bearer <token>, or log in (POST /api/v1/session) for the session cookie',
      );
    }
    const config = (request.routeOptions.config ?? {}) as AuthRouteConfig;
    if (config.auth === 'public') return;
    let principal: Principal;
    if (tokens === undefined) principal = OPEN_PRINCIPAL;
    else {
      const credential = presentedCredential(request);
      if (credential === undefined) {
        throw new MrvError(
          'MRV_E_UNAUTHORIZED',
          'a token is needed: Authorization: Bearer <token>, or the session cookie of POST /api/v1/session',
        );
      }
      principal =
        credential.kind === 'bearer'
          ? verifyToken(request, reply, credential.token)
          : verifySession(request, reply, credential.id);
    }
    request.principal = principal;

    const readOnly = request.method === 'GET' || request.method === 'HEAD';
    const roles = config.roles ?? (readOnly ? undefined : ['admin']);
    if (roles !== undefined && !roles.includes(principal.role)) {
      throw new MrvError('MRV_E_FORBIDDEN', `role ${principal.role} may not ${request.method} ${path}`);
    }

    const params = request.params as Record<string, unknown> | undefined;
    let unitId = typeof params?.unitId === 'string' ? params.unitId : undefined;
    if (unitId === undefined && path === '/api/v1/live') {
      const q = (request.query as Record<string, unknown> | undefined)?.unit;
      if (Array.isArray(q))
        throw new MrvError('MRV_E_BAD_REQUEST', 'unit: give one unit id, or none for all');
      if (typeof q === 'string') unitId = q;
    }
    if (unitId !== undefined && !canSeeUnit(principal, unitId, opts.units.province(unitId))) {
      throw new MrvError('MRV_E_FORBIDDEN', `unit "${unitId}" is outside this token's scope`, { unitId });
    }
  });

  return {
    enabled: tokens !== undefined,
    sessions,
    filterUnits: (principal, units) =>
      principal === null ? [] : units.filter((u) => canSeeUnit(principal, u.id, opts.units.province(u.id))),
    seesUnitNow: (principal, unitId) =>
      principal !== null && canSeeUnit(principal, unitId, opts.units.province(unitId)),
    login: (request, reply, token) => {
      if (tokens === undefined) return OPEN_PRINCIPAL;
      return verifyToken(request, reply, token);
    },
  };
}
