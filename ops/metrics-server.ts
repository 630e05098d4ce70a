/**
 * A tiny HTTP server for the parts that have no HTTP server of their own (`mrv gateway`,
 * `mrv collector`): `GET /healthz` and `GET /metrics` (Prometheus text format), nothing else.
 * Plain `node:http`, so a gateway on a plant network carries no web framework. Binds 127.0.0.1 unless
 * told otherwise: expose it through the plant's monitoring network on purpose, not by default.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** Options of {@link startMetricsServer}. */
export interface MetricsServerOptions {
  registry: Registry;
  /** Port; 0 picks a free one. */
  port: number;
  /** Bind address; default 127.0.0.1. */
  host?: string;
  /**
   * Extra fields of the `/healthz` answer (e.g. `{part: 'gateway', unitId}`); `status` is `ok` unless
   * this returns `{status: 'degraded'}` or similar, then the route answers 503 with it.
   */
  health?: () => Record<string, unknown>;
}

/** A running metrics server. */
export interface MetricsServer {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
  /** Closes the listening socket and open connections. */
  stop(): Promise<void>;
}

/**
 * Starts the server. `/healthz` answers `200 {"status": "ok", uptimeS, ...health()}` (503 when
 * `health()` sets a status other than `ok`); `/metrics` the registry; anything else 404
 * `{"error": {"code": "MRV_E_NOT_FOUND", ...}}`; methods other than GET/HEAD 405.
 */
export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const startedAt = performance.now();
  const host = opts.host ?? '127.0.0.1';
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      json(405, { error: { code: 'MRV_E_BAD_REQUEST', message: `${req.method} not allowed` } });
      return;
    }
    if (path === '/healthz') {
      const extra = opts.health?.() ?? {};
      const body = { status: 'ok', uptimeS: Math.floor((performance.now() - startedAt) / 1000), ...extra };
      json(body.status === 'ok' ? 200 : 503, body);
      return;
    }
    if (path === '/metrics') {
      opts.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': opts.registry.contentType });
          res.end(text);
        },
        (err: unknown) => json(500, { error: { code: 'MRV_E_INTERNAL', message: String(err) } }),
      );
      return;
    }
    json(404, { error: { code: 'MRV_E_NOT_FOUND', message: `no route for ${req.method} ${path}` } });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
