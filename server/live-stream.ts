/**
 * Server-Sent Events for `GET /api/v1/live?unit=` (docs/architecture.md §9). One `event: batch` per stored
 * batch, `data` = `{unitId, gatewayId, seq, readings}` (readings exactly as on the wire: decimal
 * strings, ISO times). A comment line every heartbeat keeps proxies from timing the stream out.
 *
 * The streams are written on fastify's hijacked raw reply, so fastify no longer knows about them:
 * this module tracks them and ends them all in a `preClose` hook, otherwise `app.close()` would wait
 * forever for the HTTP server to drain (fastify runs `onClose` hooks only after the server closed).
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LiveBatch, LiveFeed } from '../collector/live.ts';
import type { TimeSeriesStore } from '../collector/store.ts';
import { MrvError } from '../core/errors.ts';
import { fromStore } from './errors.ts';

/** Default interval of the `: heartbeat` comment, ms. */
export const DEFAULT_HEARTBEAT_MS = 15_000;
/** Reconnect delay the browser's EventSource is told to use (`retry:` field), ms. */
export const SSE_RETRY_MS = 3_000;
/**
 * A client whose unsent backlog grows past this many bytes is dropped rather than buffered without
 * bound; its EventSource reconnects and the page reloads its history.
 */
export const MAX_BACKLOG_BYTES = 1024 * 1024;

/** What {@link registerLiveRoute} needs. */
export interface LiveRouteOptions {
  store: TimeSeriesStore;
  live: LiveFeed;
  /** Heartbeat comment interval, ms (default {@link DEFAULT_HEARTBEAT_MS}). */
  heartbeatMs?: number;
  /**
   * Whether the request's token may see a unit's batches; the all-units stream (no `?unit=`) sends
   * only those. Default: every unit. (`?unit=` outside the scope is refused earlier, by the auth hook.)
   */
  sees?: (request: FastifyRequest, unitId: string) => boolean;
}

/** Handle on the open streams, for `/healthz`. */
export interface LiveStreams {
  /** Number of SSE clients connected now. */
  clients(): number;
}

/** Formats one SSE `batch` event. Only the contract's fields are sent, whatever else the object carries. */
function batchEvent(b: LiveBatch): string {
  const data = JSON.stringify({ unitId: b.unitId, gatewayId: b.gatewayId, seq: b.seq, readings: b.readings });
  return `event: batch\ndata: ${data}\n\n`;
}

/**
 * Registers `GET /api/v1/live` on `app`.
 * - `?unit=ID` streams that unit's batches; without it, every unit's in the token's scope (regulator view).
 * - An unknown unit answers `404 MRV_E_NOT_FOUND` before the stream starts; a store failure while
 *   checking it answers `503 MRV_E_STORE`.
 * - The subscription is taken before the first byte (`retry:` and a `: connected` comment) is sent,
 *   so a client that has read that byte will see every batch published afterwards.
 * - Client disconnect, a write error, an oversized backlog or `app.close()` end the stream and
 *   unsubscribe from the feed.
 * @returns a handle counting the open streams
 */
export function registerLiveRoute(app: FastifyInstance, opts: LiveRouteOptions): LiveStreams {
  const heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const open = new Map<ServerResponse, () => void>();

  app.addHook('preClose', async () => {
    for (const close of [...open.values()]) close();
  });

  app.get<{ Querystring: { unit?: string } }>(
    '/api/v1/live',
    {
      exposeHeadRoute: false,
      schema: {
        summary:
          'Server-Sent Events: one `batch` event per stored batch ({unitId, gatewayId, seq, readings})',
        description:
          'EventSource cannot send headers: the dashboard uses the session cookie (POST /api/v1/session); other clients send Authorization: Bearer. Tokens in the URL are refused.',
        tags: ['data'],
        response: { 200: { type: 'string', description: 'text/event-stream' } },
        querystring: {
          type: 'object',
          properties: {
            unit: {
              type: 'string',
              minLength: 1,
              maxLength: 64,
              description: 'one unit; all units in scope when absent',
            },
            token: {
              type: 'string',
              maxLength: 200,
              description: 'token, for clients that cannot send headers',
            },
          },
        },
      },
    },
    async (request, reply) => {
      const unitId = request.query.unit;
      if (unitId !== undefined) {
        const points = await fromStore('look up the unit', () => opts.store.listPoints(unitId));
        if (points === undefined) {
          throw new MrvError('MRV_E_NOT_FOUND', `unknown unit "${unitId}"`, { unitId });
        }
      }

      reply.hijack();
      const res = reply.raw;
      if (res.destroyed || request.raw.destroyed) return;
      const log = request.log;

      let unsubscribe: (() => void) | undefined;
      let timer: NodeJS.Timeout | undefined;
      const close = () => {
        if (!open.has(res)) return;
        open.delete(res);
        unsubscribe?.();
        clearInterval(timer);
        if (!res.writableEnded) res.end();
        log.debug({ unitId, clients: open.size }, 'live stream closed');
      };
      const send = (chunk: string) => {
        if (res.writableEnded || res.destroyed) return;
        if (res.writableLength > MAX_BACKLOG_BYTES) {
          log.warn({ unitId, backlog: res.writableLength }, 'live client too slow, dropping its stream');
          close();
          res.destroy();
          return;
        }
        res.write(chunk);
      };

      open.set(res, close);
      res.on('close', close);
      res.on('error', (err) => {
        log.debug({ err, unitId }, 'live stream write failed');
        close();
      });

      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
      });
      const sees = opts.sees;
      unsubscribe = opts.live.subscribe(unitId, (batch) => {
        // Runs inside the collector's publish: never let one client's socket throw into it.
        try {
          if (unitId === undefined && sees !== undefined && !sees(request, batch.unitId)) return;
          send(batchEvent(batch));
        } catch (err) {
          log.warn({ err, unitId }, 'live stream send failed');
          close();
        }
      });
      timer = setInterval(() => send(': heartbeat\n\n'), heartbeatMs);
      timer.unref();
      res.write(`retry: ${SSE_RETRY_MS}\n: connected\n\n`);
      log.debug({ unitId, clients: open.size }, 'live stream opened');
    },
  );

  return { clients: () => open.size };
}
