/**
 * The HTTP server (docs/architecture.md §8, §9): public API v1, live SSE and the dashboard page.
 * {@link buildServer} builds without listening, so tests drive it with `inject()`; the CLI listens
 * (by default on {@link DEFAULT_HOST}:{@link DEFAULT_PORT}).
 *
 * Every error answers `{"error": {"code": "MRV_E_...", "message": "..."}}` (see `errors.ts`).
 */

import { existsSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { MrvError } from '../core/errors.ts';
import { systemClock } from '../core/time.ts';
import { createRegistry, instrumentStore } from '../ops/metrics.ts';
import { packageVersion } from '../ops/package-root.ts';
import { registerApiRoutes } from './api-routes.ts';
import { type Auth, installAuth, redactUrl, UnitDirectory } from './auth.ts';
import { registerConfirmationRoutes } from './confirmation-routes.ts';
import { registerDomainRoutes } from './domain-routes.ts';
import { installErrorHandlers } from './errors.ts';
import { withAvailability } from './federation.ts';
import { registerLedgerRoutes } from './ledger-routes.ts';
import { registerLiveRoute } from './live-stream.ts';
import { installHttpMetrics } from './metrics.ts';
import { installOpenApi } from './openapi.ts';
import { DEFAULT_BODY_LIMIT, type ServerOptions } from './options.ts';

export { DEFAULT_BODY_LIMIT } from './options.ts';

import { registerSessionRoutes } from './session-routes.ts';
import { registerSummaryRoutes } from './summary-routes.ts';
import { registerVerifyRoute } from './verify-route.ts';
import { registerWorkflowRoutes } from './workflow-routes.ts';

export type { ServerOptions } from './options.ts';

/** Address the CLI and the demo listen on unless told otherwise (docs/architecture.md §9). */
export const DEFAULT_HOST = '127.0.0.1';
/** Port the CLI and the demo listen on unless told otherwise (docs/architecture.md §9). */
export const DEFAULT_PORT = 8080;

/** Deepest nesting of a JSON body (objects and arrays) accepted; an evidence package nests 8 deep. */
export const MAX_JSON_DEPTH = 64;

/**
 * Fields a log line never shows as they are, at any of the first levels (`{token}`, `{req: {headers:
 * {authorization}}}`): API tokens, session ids and cookies, passwords, keys. The server logs none of
 * them in the first place (URLs go through `redactUrl`); this is the net under it.
 */
export const SERVER_REDACT_PATHS: string[] = [
  'password',
  'token',
  'key',
  'passphrase',
  'privateKey',
  'authorization',
  'cookie',
  'set-cookie',
  'sessionId',
].flatMap((f) => [`["${f}"]`, `*["${f}"]`, `*.*["${f}"]`]);

/** Files of uPlot (MIT) served under `/vendor/uplot/` so the page needs no internet. */
const UPLOT_FILES = ['uPlot.esm.js', 'uPlot.min.css'] as const;

const WEB_ROOT = fileURLToPath(new URL('./web/', import.meta.url));
/** The Vue dashboard built by scripts/build-dashboard.mjs (dashboard/ → server/web-app/, git-ignored). */
const WEB_APP_ROOT = fileURLToPath(new URL('./web-app/', import.meta.url));

// The page loads only its own scripts, styles and API; uPlot sets element styles from script.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Node's `server.close()` ends idle keep-alive connections but waits for a socket that connected and
 * never sent a request (browsers open such speculative connections, undici opens one after an aborted
 * stream) until its headers timeout (60 s by default). Those carry nothing: destroy them at close.
 */
function destroyUnusedSocketsOnClose(app: FastifyInstance): void {
  const unused = new Set<Socket>();
  let closing = false;
  app.server.on('connection', (socket: Socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    unused.add(socket);
    socket.once('close', () => unused.delete(socket));
  });
  app.server.on('request', (request: IncomingMessage) => unused.delete(request.socket));
  app.addHook('preClose', async () => {
    closing = true;
    for (const socket of unused) socket.destroy();
    unused.clear();
  });
}

/**
 * Depth of the deepest object/array nesting in JSON text (strings skipped), stopping past `limit`.
 * Iterative: a body of 100 000 `[` cannot overflow the stack here, nor later in a recursive walker
 * (canonical JSON of the verify route, schema validation), because it never gets that far.
 */
export function jsonDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

/**
 * Replaces fastify's JSON body parser by the same parser (prototype-poisoning protection included)
 * behind a nesting limit: deeper than {@link MAX_JSON_DEPTH} → 400 `MRV_E_BAD_REQUEST`.
 */
function installJsonDepthLimit(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
      done(
        new MrvError('MRV_E_BAD_REQUEST', `JSON body nests deeper than ${MAX_JSON_DEPTH} levels`),
        undefined,
      );
      return;
    }
    parse(request, text, done);
  });
}

function uplotDistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('uplot/package.json')), 'dist');
}

/**
 * Builds the server with all routes; does not listen.
 *
 * Routes (docs/architecture.md §9):
 * - `GET /healthz` → `200 {status: "ok", version, uptimeS, liveClients}` (`uptimeS`: whole seconds
 *   since the build; `liveClients`: open SSE streams); `GET /metrics` Prometheus text (see `metrics.ts`)
 * - `GET /api/v1/openapi.json` the OpenAPI document of all these routes (see `openapi.ts`)
 * - `POST|GET|DELETE /api/v1/session`, `GET /api/v1/admin/tokens|config` (see `session-routes.ts`)
 * - `POST /api/v1/findings/:findingId/acknowledge|explain|close|reopen`, `GET /api/v1/findings/:findingId`
 *   (history), `.../attachments/:sha256` (see `workflow-routes.ts`; 503 without a state database)
 * - `GET /api/v1/units/:unitId/ledger/meters[/:meterId]`, `POST .../certificates[/:certificateId/correction]`,
 *   `GET .../certificates/:certificateId/scan`: the meter ledger (see `ledger-routes.ts`)
 * - `POST /api/v1/evidence/verify` checks an evidence package's signature (see `verify-route.ts`)
 * - `GET|POST /api/v1/units/:unitId/confirmations[/:month[/versions/:version[/review]]]` the monthly
 *   evidence confirmation (see `confirmation-routes.ts`; 503 without a state database)
 * - `GET /api/v1/units`, `GET /api/v1/units/:unitId/points`,
 *   `GET /api/v1/units/:unitId/points/:pointId/series` (see `api-routes.ts`)
 * - `GET /api/v1/live?unit=` Server-Sent Events (see `live-stream.ts`)
 * - `GET /api/v1/summary?month=` the overview's figures of every unit in scope (see `summary-routes.ts`)
 * - `GET /app/` the Vue dashboard built from `dashboard/` into `server/web-app/` (404 until built);
 *   `GET /` redirects there once it is built (else it is the classic page)
 * - `GET /classic/` the classic dashboard (`server/web/`, its files at `/*`), `GET /vendor/uplot/uPlot.esm.js|uPlot.min.css`
 *
 * Every `/api/` route except login and the OpenAPI document needs a token and enforces its scope
 * (see `auth.ts`); `/healthz`, `/metrics` and the page's files are open.
 *
 * Errors answer `{error: {code, message}}` (see `errors.ts`): {@link MrvError} → its catalogue
 * status and code; schema validation and other client errors → 400 `MRV_E_BAD_REQUEST`; unknown
 * routes and files → 404 `MRV_E_NOT_FOUND`; anything else → 500 `MRV_E_INTERNAL`, logged.
 *
 * `app.close()` ends open SSE streams and connections that never sent a request, lets requests in
 * flight finish, then closes the HTTP server; it does not stop `store`.
 */
export function buildServer(options: ServerOptions): FastifyInstance {
  // Typed as the base logger so the instance is a plain FastifyInstance whatever pino's generics say.
  // Request logs are written below with credentials redacted, not by fastify (which logs the raw URL).
  // The child's redaction replaces the parent's (pino), so SERVER_REDACT_PATHS holds the CLI's fields too.
  const common = {
    trustProxy: options.trustProxy ?? false,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // A URL the router cannot decode (`/%E0%A4%A`): our error body, not fastify's, and no URL echoed.
    frameworkErrors: (_err: Error, _request: unknown, reply: FastifyReply) => {
      reply.code(400).send({
        error: { code: 'MRV_E_BAD_REQUEST', message: 'the URL is not valid percent-encoded UTF-8' },
      });
    },
  };
  const app: FastifyInstance = options.logger
    ? Fastify({
        ...common,
        loggerInstance: options.logger.child(
          {},
          { redact: { paths: SERVER_REDACT_PATHS, censor: '[redacted]' } },
        ) as FastifyBaseLogger,
        disableRequestLogging: true,
      })
    : Fastify({ ...common, logger: false });
  const startedAt = performance.now();
  const version = options.version ?? packageVersion();

  installOpenApi(app, { title: 'carbon-mrv API', version });
  installErrorHandlers(app);
  installJsonDepthLimit(app);
  destroyUnusedSocketsOnClose(app);
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(
      {
        method: request.method,
        url: redactUrl(request.url),
        status: reply.statusCode,
        ms: reply.elapsedTime,
      },
      'request',
    );
  });

  const registry = options.registry ?? createRegistry();
  const store = instrumentStore(options.store, registry);
  const directory = new UnitDirectory(store, options.units);
  const auth: Auth = installAuth(app, {
    tokens: options.tokens,
    units: directory,
    ...(options.loginLimiter ? { limiter: options.loginLimiter } : {}),
    // Sessions live in the state database when there is one (shared by every instance on it).
    ...(options.sessions ? { sessions: options.sessions } : options.state ? { sessions: options.state } : {}),
    ...(options.state ? { accounts: options.state } : {}),
  });

  const clock = options.clock ?? systemClock;
  const federation = options.federation;
  const listUnits = federation
    ? async () => withAvailability(federation, await directory.units())
    : () => directory.units();
  registerApiRoutes(app, { store, clock, auth, listUnits });
  const { evidence } = registerDomainRoutes(app, { ...options, store, clock });
  registerConfirmationRoutes(app, { ...options, store, clock }, { auth, units: directory });
  const streams = registerLiveRoute(app, {
    store,
    live: options.live,
    sees: (request, unitId) => auth.seesUnitNow(request.principal, unitId),
    ...(options.sseHeartbeatMs !== undefined ? { heartbeatMs: options.sseHeartbeatMs } : {}),
  });
  registerSessionRoutes(app, {
    auth,
    tokens: options.tokens,
    state: options.state,
    config: () => ({ version, liveClients: streams.clients(), ...options.configView }),
  });
  registerVerifyRoute(app, options);
  registerWorkflowRoutes(app, { state: options.state, auth, units: directory });
  registerLedgerRoutes(app, { ...options, store, clock });
  registerSummaryRoutes(app, {
    store,
    clock,
    auth,
    units: directory,
    state: options.state,
    sites: options.domain?.sites,
    federation,
    evidence,
  });
  installHttpMetrics(app, { registry, sseClients: () => streams.clients() });

  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Health: 200 while the server is serving',
        tags: ['operations'],
        response: {
          200: {
            type: 'object',
            required: ['status', 'version', 'uptimeS', 'liveClients'],
            properties: {
              status: { type: 'string', enum: ['ok'] },
              version: { type: 'string' },
              uptimeS: { type: 'integer' },
              liveClients: { type: 'integer' },
            },
          },
        },
      },
    },
    async () => ({
      status: 'ok',
      version,
      uptimeS: Math.floor((performance.now() - startedAt) / 1000),
      liveClients: streams.clients(),
    }),
  );

  // `/` opens the Vue dashboard once it is built (npm run build); the classic page stays at /classic/,
  // its files where they were (its links are hash routes, its assets absolute paths).
  const vueBuilt = existsSync(join(WEB_APP_ROOT, 'index.html'));
  app.register(fastifyStatic, {
    root: WEB_ROOT,
    prefix: '/',
    index: vueBuilt ? false : ['index.html'],
    setHeaders: (res, path) => {
      res.setHeader('x-content-type-options', 'nosniff');
      if (path.endsWith('.html')) res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
    },
  });

  if (vueBuilt) app.get('/', (_request, reply) => reply.redirect('/app/', 302));
  app.get('/classic', (_request, reply) => reply.redirect('/classic/', 301));
  app.get('/classic/', (_request, reply) =>
    reply
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .sendFile('index.html', WEB_ROOT),
  );

  // The Vue dashboard (dashboard/, docs/architecture.md §8, the Vue dashboard) at /app/.
  if (vueBuilt)
    app.register(fastifyStatic, {
      root: WEB_APP_ROOT,
      prefix: '/app/',
      decorateReply: false,
      index: ['index.html'],
      setHeaders: (res, path) => {
        res.setHeader('x-content-type-options', 'nosniff');
        if (path.endsWith('.html')) res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
      },
    });
  else
    app.get('/app/', async () => {
      throw new MrvError('MRV_E_NOT_FOUND', 'the dashboard at /app/ is not built: run npm run build');
    });

  const uplotDir = uplotDistDir();
  for (const file of UPLOT_FILES) {
    app.get(`/vendor/uplot/${file}`, (_request, reply) => reply.sendFile(file, uplotDir));
  }

  return app;
}
