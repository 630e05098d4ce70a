/**
 * The server's Prometheus metrics, served at `GET /metrics` (open, like `/healthz`: counts and
 * latencies only, no unit data): `mrv_http_requests_total{method, route, status}`,
 * `mrv_http_request_duration_seconds{method, route}`, `mrv_sse_clients` and the store query latency
 * `mrv_store_operation_duration_seconds` (see `ops/metrics.ts`), plus whatever else the registry
 * holds (the demo adds its gateway's and collector's counters to the same registry).
 */
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What {@link installHttpMetrics} needs. */
export interface HttpMetricsOptions {
  registry: Registry;
  /** Open SSE streams now. */
  sseClients: () => number;
}

/**
 * Counts and times every request by route template (`/api/v1/units/:unitId/points`, never the raw
 * URL, so label cardinality stays bounded; unmatched requests count as `route="unmatched"`) and
 * registers `GET /metrics`.
 */
export function installHttpMetrics(app: FastifyInstance, opts: HttpMetricsOptions): void {
  const { registry } = opts;
  const requests = new Counter({
    name: 'mrv_http_requests_total',
    help: 'HTTP requests answered, by method, route template and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'mrv_http_request_duration_seconds',
    help: 'HTTP request duration until the answer (SSE: until the stream started), seconds',
    labelNames: ['method', 'route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'mrv_sse_clients',
    help: 'Open Server-Sent Events streams (/api/v1/live)',
    registers: [registry],
    collect() {
      this.set(opts.sseClients());
    },
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const labels = { method: request.method, route };
    requests.inc({ ...labels, status: String(reply.statusCode) });
    duration.observe(labels, reply.elapsedTime / 1000);
  });

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (text format)',
        tags: ['operations'],
        response: { 200: { type: 'string' } },
      },
    },
    async (_request, reply) => {
      reply.header('content-type', registry.contentType);
      return registry.metrics();
    },
  );
}
