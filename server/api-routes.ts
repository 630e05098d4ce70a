/**
 * The read-only data routes of the public HTTP API v1 (docs/architecture.md §9): units, points with their
 * newest reading, and one point's series. Response schemas pin the public shape: fields the store
 * may add are not leaked, and a renamed field fails the integration tests instead of scripts in
 * the field.
 */
import type { FastifyInstance } from 'fastify';
import type { TimeSeriesStore } from '../collector/store.ts';
import { MrvError } from '../core/errors.ts';
import type { Clock } from '../core/time.ts';
import type { Auth, ListedUnit } from './auth.ts';
import { fromStore } from './errors.ts';
import { MAX_RAW_LIMIT, parseInstant, resolveSeriesWindow, type SeriesQueryText } from './query.ts';

/** What {@link registerApiRoutes} needs. */
export interface ApiRoutesOptions {
  store: TimeSeriesStore;
  /** Source of "now" for the series route's default window. */
  clock: Clock;
  /** Filters the unit list to the token's scope (the auth hook already guards `:unitId` routes). */
  auth: Pick<Auth, 'filterUnits'>;
  /** The units: the registry's, then the store's unregistered ones (auth.ts `UnitDirectory`). */
  listUnits: () => Promise<ListedUnit[]>;
}

const nullableString = { type: ['string', 'null'] } as const;
const quality = { type: 'string', enum: ['good', 'uncertain', 'bad'] } as const;
const idParam = { type: 'string', minLength: 1, maxLength: 64 } as const;

const unitSchema = {
  type: 'object',
  required: ['id', 'name', 'industry', 'province', 'online', 'lastDataAt', 'registered'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    nameEn: { type: 'string' },
    industry: { type: 'string' },
    province: { type: 'string' },
    online: { type: 'boolean' },
    lastDataAt: nullableString,
    registered: {
      type: 'boolean',
      description:
        "true: name, industry and province are the unit registry's; false: the unit is not registered, they are only what its gateway claims (admins and tokens naming the unit see it)",
    },
    available: {
      type: 'boolean',
      description:
        'federating server only (mrv server --federate): false while the unit’s province store does not answer (online and lastDataAt are then unknown)',
    },
    unavailableReason: { type: 'string', description: 'why the unit is unavailable (present only then)' },
  },
} as const;

const pointSchema = {
  type: 'object',
  required: ['id', 'device', 'unit', 'last'],
  properties: {
    id: { type: 'string' },
    device: { type: 'string' },
    meter: { type: 'string' },
    unit: { type: 'string' },
    parameter: { type: 'string' },
    aggregation: { type: 'string' },
    description: { type: 'string' },
    last: {
      anyOf: [
        {
          type: 'object',
          required: ['ts', 'value', 'quality'],
          properties: { ts: { type: 'string' }, value: nullableString, quality },
        },
        { type: 'null' },
      ],
    },
  },
} as const;

const seriesSchema = {
  type: 'object',
  required: ['unit', 'points'],
  properties: {
    unit: { type: 'string' },
    points: {
      type: 'array',
      items: {
        type: 'object',
        required: ['ts', 'value', 'min', 'max', 'count'],
        properties: {
          ts: { type: 'string' },
          value: nullableString,
          min: nullableString,
          max: nullableString,
          count: { type: 'integer' },
          quality,
          reason: { type: 'string' },
        },
      },
    },
  },
} as const;

/** Widest quarantine window (as the findings'). */
export const MAX_QUARANTINE_WINDOW_MS = 31 * 86_400_000;

const quarantineSchema = {
  type: 'array',
  items: {
    type: 'object',
    required: ['gatewayId', 'device', 'point', 'ts', 'rxTs', 'value', 'quality', 'seq', 'cause', 'verified'],
    properties: {
      gatewayId: { type: 'string' },
      device: { type: 'string' },
      point: { type: 'string' },
      meter: { type: 'string' },
      ts: { type: 'string' },
      rxTs: { type: 'string' },
      value: nullableString,
      quality,
      reason: { type: 'string' },
      seq: { type: 'integer' },
      cause: { type: 'string' },
      verified: { type: 'boolean', enum: [false] },
    },
  },
} as const;

/**
 * Registers on `app`:
 * - `GET /api/v1/units` → `[{id, name, nameEn?, industry, province, online, lastDataAt, registered}]`:
 *   the unit registry's units (their facts from it), then units known only from a gateway's catalogue
 *   (`registered: false`), filtered to the token's scope (province scope by the registry only)
 * - `GET /api/v1/units/:unitId/points` → `[{id, device, meter?, unit, parameter?, aggregation?,
 *   description?, last: {ts, value, quality} | null}]`; 404 `MRV_E_NOT_FOUND` for an unknown unit
 * - `GET /api/v1/units/:unitId/points/:pointId/series?from=&to=&step=&limit=` →
 *   `{unit, points: [{ts, value, min, max, count, quality?, reason?}]}` (`unit` = engineering unit; raw
 *   readings, oldest first, at most `limit`, when `step` is absent; see `query.ts` for the rules);
 *   400 `MRV_E_BAD_REQUEST` for a bad window, 404 `MRV_E_NOT_FOUND` for an unknown unit or point.
 * - `GET /api/v1/units/:unitId/quarantine?from=&to=&gateway=&limit=` → `[{gatewayId, device, point,
 *   meter?, ts, rxTs, value, quality, reason?, seq, cause, verified: false}]`: readings of batches that
 *   failed verification (collector/integrity.ts), oldest first, default window the last 24 h, at most 31
 *   days; never part of the points, series or evidence. 400 `MRV_E_BAD_REQUEST` for a bad window.
 * Store failures answer 503 `MRV_E_STORE`.
 */
export function registerApiRoutes(app: FastifyInstance, opts: ApiRoutesOptions): void {
  const { store, clock, auth, listUnits } = opts;

  app.get(
    '/api/v1/units',
    {
      schema: {
        summary: "Units in the token's scope, with online state and newest data time",
        tags: ['data'],
        response: { 200: { type: 'array', items: unitSchema } },
      },
    },
    async (request) => auth.filterUnits(request.principal, await fromStore('list units', listUnits)),
  );

  app.get<{ Params: { unitId: string } }>(
    '/api/v1/units/:unitId/points',
    {
      schema: {
        summary: "A unit's points with their newest reading",
        tags: ['data'],
        params: { type: 'object', required: ['unitId'], properties: { unitId: idParam } },
        response: { 200: { type: 'array', items: pointSchema } },
      },
    },
    async (request) => {
      const { unitId } = request.params;
      const points = await fromStore('list points', () => store.listPoints(unitId));
      if (points === undefined) throw new MrvError('MRV_E_NOT_FOUND', `unknown unit "${unitId}"`, { unitId });
      return points;
    },
  );

  app.get<{ Params: { unitId: string; pointId: string }; Querystring: SeriesQueryText }>(
    '/api/v1/units/:unitId/points/:pointId/series',
    {
      schema: {
        summary:
          "One point's readings (raw) or server-side rollups (with step: mean, min, max, count per bucket)",
        tags: ['data'],
        params: {
          type: 'object',
          required: ['unitId', 'pointId'],
          properties: { unitId: idParam, pointId: idParam },
        },
        querystring: {
          type: 'object',
          properties: {
            from: {
              type: 'string',
              maxLength: 64,
              description: 'inclusive start: ISO-8601 with offset or ms epoch',
            },
            to: { type: 'string', maxLength: 64, description: 'exclusive end; default now' },
            step: {
              type: 'string',
              maxLength: 32,
              description: 'bucket width (10s, 1m, 1h, 1d); raw when absent',
            },
            limit: { type: 'integer', minimum: 1, maximum: MAX_RAW_LIMIT, description: 'most raw readings' },
          },
        },
        response: { 200: seriesSchema },
      },
    },
    async (request) => {
      const { unitId, pointId } = request.params;
      // Validate the window first: a malformed query is the caller's fault whatever the ids.
      const window = resolveSeriesWindow(request.query, clock.now());
      const points = await fromStore('list points', () => store.listPoints(unitId));
      if (points === undefined) throw new MrvError('MRV_E_NOT_FOUND', `unknown unit "${unitId}"`, { unitId });
      const point = points.find((p) => p.id === pointId);
      if (point === undefined) {
        throw new MrvError('MRV_E_NOT_FOUND', `unknown point "${pointId}" of unit "${unitId}"`, {
          unitId,
          pointId,
        });
      }
      const series = await fromStore('query the series', () => store.series({ unitId, pointId, ...window }));
      return { unit: point.unit, points: series };
    },
  );

  app.get<{
    Params: { unitId: string };
    Querystring: { from?: string; to?: string; gateway?: string; limit?: number };
  }>(
    '/api/v1/units/:unitId/quarantine',
    {
      schema: {
        summary: 'Readings of batches that failed verification: kept and listed, never served as data',
        tags: ['data'],
        params: { type: 'object', required: ['unitId'], properties: { unitId: idParam } },
        querystring: {
          type: 'object',
          properties: {
            from: { type: 'string', maxLength: 64, description: 'inclusive start; default to − 24 h' },
            to: { type: 'string', maxLength: 64, description: 'exclusive end; default now' },
            gateway: { ...idParam, description: 'only readings claiming this gateway' },
            limit: { type: 'integer', minimum: 1, maximum: MAX_RAW_LIMIT, description: 'most readings' },
          },
        },
        response: { 200: quarantineSchema },
      },
    },
    async (request) => {
      const q = request.query;
      const to = q.to !== undefined ? parseInstant(q.to, 'to') : clock.now();
      const from = q.from !== undefined ? parseInstant(q.from, 'from') : to - 86_400_000;
      if (from >= to)
        throw new MrvError('MRV_E_BAD_REQUEST', 'from must be before to (to is exclusive)', { from, to });
      if (to - from > MAX_QUARANTINE_WINDOW_MS)
        throw new MrvError('MRV_E_BAD_REQUEST', 'from..to spans more than 31 days; query a shorter window', {
          from,
          to,
        });
      const { unitId } = request.params;
      const rows = await fromStore('list the quarantine', () =>
        store.listQuarantine({
          unitId,
          from,
          to,
          ...(q.gateway !== undefined ? { gatewayId: q.gateway } : {}),
          ...(q.limit !== undefined ? { limit: q.limit } : {}),
        }),
      );
      return rows.map(({ unitId: _u, ts, rxTs, ...r }) => ({
        ...r,
        ts: new Date(ts).toISOString(),
        rxTs: new Date(rxTs).toISOString(),
        verified: false,
      }));
    },
  );
}
