/**
 * Login for the dashboard and the admin's configuration views.
 *
 * - `POST /api/v1/session` `{token}` or `{username, password}` (an account of the state database,
 *   server/state/) → `200 {tokenId, name, role, scope, username?}` and the HttpOnly
 *   `mrv_session` cookie holding a new server-side session's id (never the token; see `sessions.ts`),
 *   `Secure` when the request came over HTTPS (directly, or through a proxy trusted by `trustProxy`);
 *   a wrong token → 401 `MRV_E_UNAUTHORIZED`, too many → 429 `MRV_E_RATE_LIMITED`.
 * - `GET /api/v1/session` → who the request's token is (`authEnabled: false` when the server runs open).
 * - `DELETE /api/v1/session` → revokes the cookie's session (it no longer lets anyone in, even if the
 *   cookie was copied) and clears the cookie (204).
 * - `GET /api/v1/admin/tokens` (admin) → the token file's records without hashes.
 * - `GET /api/v1/admin/accounts` (admin) → the state database's accounts (`[]` without one).
 * - `GET /api/v1/admin/config` (admin) → how this server runs (version, store, token file, SSE clients).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MrvError } from '../core/errors.ts';
import { type Auth, parseCookies, SESSION_COOKIE } from './auth.ts';
import { actorOf, type StateStore } from './state/state-store.ts';
import { type Principal, ROLES, type TokenFile } from './tokens.ts';

/** What {@link registerSessionRoutes} needs. */
export interface SessionRoutesOptions {
  auth: Auth;
  tokens: TokenFile | undefined;
  /** The state database, for the audit row of a password login. */
  state?: StateStore | undefined;
  /** Fields shown by `/api/v1/admin/config` (no secrets). */
  config: () => Record<string, unknown>;
}

const scopeSchema = {
  type: 'object',
  required: ['provinces', 'units'],
  properties: {
    provinces: { type: 'array', items: { type: 'string' } },
    units: { type: 'array', items: { type: 'string' } },
  },
} as const;

const principalSchema = {
  type: 'object',
  required: ['tokenId', 'name', 'role', 'scope', 'authEnabled'],
  properties: {
    tokenId: { type: 'string' },
    name: { type: 'string' },
    username: { type: 'string' },
    role: { type: 'string', enum: [...ROLES] },
    scope: scopeSchema,
    authEnabled: { type: 'boolean' },
  },
} as const;

function cookie(request: FastifyRequest, value: string, maxAgeS: number): string {
  const secure = request.protocol === 'https' ? '; Secure' : '';
  return `${SESSION_COOKIE}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure}`;
}

/** Registers the session and admin routes (see the file comment). */
export function registerSessionRoutes(app: FastifyInstance, opts: SessionRoutesOptions): void {
  const { auth } = opts;
  const who = (p: Principal) => ({ ...p, authEnabled: auth.enabled });

  app.post<{ Body: { token?: string; username?: string; password?: string } }>(
    '/api/v1/session',
    {
      config: { auth: 'public' },
      schema: {
        summary:
          'Log in with a token or a username and password: sets the HttpOnly session cookie used by the dashboard and SSE',
        tags: ['auth'],
        body: {
          type: 'object',
          description: 'either token, or username and password',
          properties: {
            token: { type: 'string', minLength: 1, maxLength: 200 },
            username: { type: 'string', minLength: 1, maxLength: 64 },
            password: { type: 'string', minLength: 1, maxLength: 1024 },
          },
        },
        response: { 200: principalSchema },
      },
    },
    async (request, reply) => {
      const { token, username, password } = request.body ?? {};
      if ((token === undefined) === (username === undefined || password === undefined))
        throw new MrvError('MRV_E_BAD_REQUEST', 'log in with either {token} or {username, password}');
      const principal =
        token !== undefined
          ? auth.login(request, reply, token.trim())
          : await auth.loginPassword(request, reply, username ?? '', password ?? '');
      if (auth.enabled) {
        // A login replaces the session the browser had (no fixation: the id is always new).
        const old = parseCookies(request.headers.cookie).get(SESSION_COOKIE);
        if (old !== undefined) await auth.sessions.revoke(old);
        const session = await auth.sessions.create(principal.tokenId);
        reply.header('set-cookie', cookie(request, session.id, Math.floor(auth.sessions.ttlMs / 1000)));
      }
      request.log.info(
        { tokenId: principal.tokenId, username: principal.username ?? null, role: principal.role },
        'auth: login',
      );
      if (principal.username !== undefined)
        await opts.state?.audit(
          actorOf(principal),
          'session.login',
          { kind: 'account', id: principal.username },
          { ip: request.ip },
        );
      return who(principal);
    },
  );

  app.get(
    '/api/v1/session',
    {
      schema: {
        summary: 'Who the presented token is: role and scope',
        tags: ['auth'],
        response: { 200: principalSchema },
      },
    },
    async (request) => who(request.principal!),
  );

  app.delete(
    '/api/v1/session',
    {
      config: { auth: 'public' },
      schema: {
        summary: 'Log out: revokes the session of the cookie and clears the cookie',
        tags: ['auth'],
        response: { 204: { type: 'null' } },
      },
    },
    async (request: FastifyRequest, reply: FastifyReply) => {
      const id = parseCookies(request.headers.cookie).get(SESSION_COOKIE);
      if (id !== undefined && (await auth.sessions.revoke(id))) request.log.info('auth: logout');
      reply.header('set-cookie', cookie(request, '', 0));
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/v1/admin/tokens',
    {
      config: { roles: ['admin'] },
      schema: {
        summary: 'Tokens in the token file (ids, names, roles, scopes; never the tokens or their hashes)',
        tags: ['admin'],
        response: {
          200: {
            type: 'array',
            items: {
              type: 'object',
              required: ['id', 'name', 'role', 'scope', 'createdAt'],
              properties: {
                id: { type: 'string' },
                name: { type: 'string' },
                role: { type: 'string' },
                scope: scopeSchema,
                createdAt: { type: 'string' },
                revokedAt: { type: 'string' },
              },
            },
          },
        },
      },
    },
    async () => (opts.tokens?.list() ?? []).map(({ sha256: _hash, ...rest }) => rest),
  );

  app.get(
    '/api/v1/admin/accounts',
    {
      config: { roles: ['admin'] },
      schema: {
        summary:
          'Accounts of the state database (usernames, roles, scopes, disabled; never the password hashes)',
        tags: ['admin'],
        response: {
          200: {
            type: 'array',
            items: {
              type: 'object',
              required: ['username', 'displayName', 'role', 'scope', 'createdAt'],
              properties: {
                username: { type: 'string' },
                displayName: { type: 'string' },
                role: { type: 'string' },
                scope: scopeSchema,
                createdAt: { type: 'string' },
                disabledAt: { type: 'string' },
              },
            },
          },
        },
      },
    },
    async () => (await opts.state?.listAccounts()) ?? [],
  );

  app.get(
    '/api/v1/admin/config',
    {
      config: { roles: ['admin'] },
      schema: {
        summary: 'How this server runs: version, store, token file, open streams',
        tags: ['admin'],
        response: { 200: { type: 'object', additionalProperties: true } },
      },
    },
    async () => ({ authEnabled: auth.enabled, tokenFile: opts.tokens?.path ?? null, ...opts.config() }),
  );
}
