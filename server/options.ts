/**
 * The options of `buildServer` (server/app.ts), in a file of their own so that route modules can take
 * them (and add their own, by declaration merging: see `domain` in domain-routes.ts) without importing
 * the server that registers them.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Federation } from '../collector/federated-store.ts';
import type { LiveFeed } from '../collector/live.ts';
import type { TimeSeriesStore } from '../collector/store.ts';
import type { UnitRegistry } from '../core/schema/unit-registry.ts';
import type { Clock } from '../core/time.ts';
import type { FailureLimiter } from './auth.ts';
import type { SessionBackend } from './sessions.ts';
import type { StateStore } from './state/state-store.ts';
import type { TokenFile } from './tokens.ts';

/** Largest request body of routes without their own limit (login takes `{token}`), bytes. */
export const DEFAULT_BODY_LIMIT = 16 * 1024;

/** Options of {@link buildServer}. */
export interface ServerOptions {
  /** Where units, points and series are read from. The server never starts or stops it. */
  store: TimeSeriesStore;
  /** Feed of stored batches for `/api/v1/live`. */
  live: LiveFeed;
  /** A pino logger (fastify logs requests on it), or `false`/absent for none. */
  logger?: Logger | false;
  /** Version reported by `/healthz`; default: `version` of the project's package.json. */
  version?: string;
  /** Source of "now" for default query windows (docs/architecture.md §6a); default the system clock. */
  clock?: Clock;
  /** Interval of the SSE heartbeat comment, ms; default 15 000. */
  sseHeartbeatMs?: number;
  /**
   * The token file (`<data dir>/tokens.json`, see `tokens.ts`). Absent: the server runs **open**,
   * every request acting as admin — for tests and embedding only; the CLI always passes one.
   */
  tokens?: TokenFile;
  /** Failed-credential limiter; default 10 failures per address (and per token id) per 5 minutes (tests pass a smaller one). */
  loginLimiter?: FailureLimiter;
  /** The dashboard's sessions; default a new in-memory store (see `sessions.ts`; tests pass one with a clock). */
  sessions?: SessionBackend;
  /**
   * The state database (server/state/): accounts and password login, sessions shared by every instance
   * on the same database, the audit log and the findings workflow. Absent: token logins only, sessions
   * in memory, findings read-only.
   */
  state?: StateStore;
  /**
   * Which peers are trusted proxies (fastify's `trustProxy`): their `X-Forwarded-For` gives the client
   * address (failed-login counts, logs) and `X-Forwarded-Proto: https` marks the session cookie
   * `Secure`. An address, CIDR or list (`127.0.0.1`, `10.0.0.0/8,::1`), `loopback`, or
   * `true` (every peer — only when nothing but the proxy can reach the server). Default `false`: the
   * headers are ignored and the socket's peer is the client (`mrv server --trust-proxy`).
   */
  trustProxy?: boolean | string | string[];
  /** Largest request body of routes without their own limit, bytes; default {@link DEFAULT_BODY_LIMIT}. */
  bodyLimit?: number;
  /** Prometheus registry for `/metrics`; default a new one (the demo passes one that also holds its gateway and collector). */
  registry?: Registry;
  /** Extra fields of the admin's `/api/v1/admin/config` view (store kind, data dir); no secrets. */
  configView?: Record<string, unknown>;
  /**
   * The unit registry (core/schema/unit-registry.ts, `units.yaml`): the only source of a unit's name,
   * province and industry, and so of province scope. A unit the store knows from a gateway's catalogue
   * but the registry does not is listed to admins (and tokens naming it) as `registered: false`, to
   * nobody by province. Absent = an empty registry: province-scoped tokens see no unit.
   */
  units?: UnitRegistry;
  /**
   * The province stores behind `store` when it is a federation (collector/federated-store.ts, `mrv server
   * --federate`): the overview and the unit listing then say which units' province store does not
   * answer (server/federation.ts). Absent: one store.
   */
  federation?: Federation;
}
