/**
 * The overview's figures for every unit the caller may see, in one request (issue 13 item 5):
 * `GET /api/v1/summary?month=yyyy-mm` → `{month, generatedAt, totals, units: [...]}`, per unit its
 * registry facts, online state and newest data time, its derived `status` (`online` = a gateway
 * online, `offline`, `no_data` = offline and never a reading), the month-to-date completeness of its key-parameter points (the
 * cheap hourly counts of `evidence/service.ts` `completenessToDate`, never an evidence build) and its
 * open findings (open, acknowledged, explained: from the state database's workflow when there is one,
 * else the store's findings of the month whose lifecycle state is open).
 *
 * Completeness is cached per unit and month ({@link SUMMARY_CACHE_MS} for a month still running,
 * {@link SUMMARY_PAST_CACHE_MS} for one that ended) and computed at most {@link SUMMARY_CONCURRENCY}
 * units at a time (in the evidence pool's completeness thread when the server has one,
 * evidence/evidence-pool.ts, so a province's counts never hold up polling or SSE), so a province of 300 units costs one round of store queries a minute however
 * many browsers watch it. A unit without a catalogue yet (registered, no gateway has reported)
 * has `completeness: null`. Errors: 400 `MRV_E_BAD_REQUEST` (month), 503 `MRV_E_STORE`.
 */
import type { FastifyInstance } from 'fastify';
import type { TimeSeriesStore } from '../collector/store.ts';
import { cstMonth, isoCst, monthPeriod } from '../core/domain/index.ts';
import { MrvError } from '../core/errors.ts';
import { findingState } from '../core/schema/finding.ts';
import type { SiteConfig } from '../core/schema/site.ts';
import type { Clock } from '../core/time.ts';
import type { EvidencePool } from '../evidence/evidence-pool.ts';
import { completenessToDate } from '../evidence/service.ts';
import type { Auth, ListedUnit, UnitDirectory } from './auth.ts';
import { fromStore } from './errors.ts';
import type { StateStore } from './state/state-store.ts';

/** How long a running month's completeness of a unit is reused, ms. */
export const SUMMARY_CACHE_MS = 60_000;
/** How long an ended month's completeness of a unit is reused, ms (late batches may still land). */
export const SUMMARY_PAST_CACHE_MS = 15 * 60_000;
/** Units whose completeness is computed at once. */
export const SUMMARY_CONCURRENCY = 8;

/** What {@link registerSummaryRoutes} needs. */
export interface SummaryRoutesOptions {
  store: TimeSeriesStore;
  clock: Clock;
  auth: Pick<Auth, 'filterUnits'>;
  units: Pick<UnitDirectory, 'units'>;
  state?: StateStore | undefined;
  /** Site files completing the store's catalogue (poll intervals), as for the completeness route. */
  sites?: readonly SiteConfig[] | undefined;
  /** Where completeness is computed (a worker thread, evidence/evidence-pool.ts); absent: on the event loop. */
  evidence?: EvidencePool | undefined;
}

/** The derived state of a unit on the overview. */
export type UnitStatus = 'online' | 'offline' | 'no_data';

/** One unit's month-to-date completeness as the summary shows it. */
export interface UnitCompleteness {
  status: 'not_started' | 'not_monitored' | 'no_data' | 'measuring' | 'ended';
  /** Overall share of expected good readings, 4 decimals (`"0.9875"`); null when nothing was expected. */
  ratio: string | null;
  expected: number;
  good: number;
  countedFrom: string;
  judgedTo: string;
  firstDataAt: string | null;
}

const UNIT_STATUSES = ['online', 'offline', 'no_data'] as const;
const COMPLETENESS_STATUSES = ['not_started', 'not_monitored', 'no_data', 'measuring', 'ended'] as const;

const completenessSchema = {
  anyOf: [
    {
      type: 'object',
      required: ['status', 'ratio', 'expected', 'good', 'countedFrom', 'judgedTo', 'firstDataAt'],
      properties: {
        status: { type: 'string', enum: [...COMPLETENESS_STATUSES] },
        ratio: { type: ['string', 'null'] },
        expected: { type: 'integer' },
        good: { type: 'integer' },
        countedFrom: { type: 'string' },
        judgedTo: { type: 'string' },
        firstDataAt: { type: ['string', 'null'] },
      },
    },
    { type: 'null' },
  ],
} as const;

const summarySchema = {
  type: 'object',
  required: ['month', 'generatedAt', 'totals', 'units'],
  properties: {
    month: { type: 'string' },
    generatedAt: { type: 'string', description: 'ISO-8601 with +08:00' },
    totals: {
      type: 'object',
      required: ['units', 'byStatus', 'byCompleteness', 'openFindings'],
      properties: {
        units: { type: 'integer' },
        byStatus: {
          type: 'object',
          required: [...UNIT_STATUSES],
          properties: Object.fromEntries(UNIT_STATUSES.map((s) => [s, { type: 'integer' }])),
        },
        byCompleteness: {
          type: 'object',
          required: [...COMPLETENESS_STATUSES, 'unknown'],
          properties: Object.fromEntries(
            [...COMPLETENESS_STATUSES, 'unknown'].map((s) => [s, { type: 'integer' }]),
          ),
        },
        openFindings: { type: 'integer' },
      },
    },
    units: {
      type: 'array',
      items: {
        type: 'object',
        required: [
          'id',
          'name',
          'industry',
          'province',
          'registered',
          'online',
          'lastDataAt',
          'status',
          'completeness',
          'openFindings',
        ],
        properties: {
          id: { type: 'string' },
          name: { type: 'string' },
          nameEn: { type: 'string' },
          industry: { type: 'string' },
          province: { type: 'string' },
          registered: { type: 'boolean' },
          online: { type: 'boolean' },
          lastDataAt: { type: ['string', 'null'] },
          status: { type: 'string', enum: [...UNIT_STATUSES] },
          completeness: completenessSchema,
          openFindings: { type: 'integer' },
        },
      },
    },
  },
} as const;

/** The derived status of a listed unit: its gateway online → `online`; else never a reading → `no_data`, else `offline`. */
export function unitStatus(u: Pick<ListedUnit, 'online' | 'lastDataAt'>): UnitStatus {
  if (u.online) return 'online';
  return u.lastDataAt === null ? 'no_data' : 'offline';
}

/** Runs `fn` over `items` at most `limit` at a time; results in input order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Registers `GET /api/v1/summary` (see the file comment). */
export function registerSummaryRoutes(app: FastifyInstance, opts: SummaryRoutesOptions): void {
  const cache = new Map<string, { until: number; value: Promise<UnitCompleteness | null> }>();
  const sites = opts.sites ?? [];

  const completenessOf = (unitId: string, month: string, now: number): Promise<UnitCompleteness | null> => {
    const key = `${unitId}|${month}`;
    const hit = cache.get(key);
    if (hit && hit.until > now) return hit.value;
    const ended = monthPeriod(month).to <= now;
    const unitSites = sites.filter((s) => s.unit.id === unitId);
    const value = (
      opts.evidence
        ? opts.evidence.run({ kind: 'completeness', unitId, month, now, sites: unitSites })
        : completenessToDate({ store: opts.store, unitId, month, now, sites: unitSites })
    ).then(
      (c): UnitCompleteness => ({
        status: c.status,
        ratio: c.ratio,
        expected: c.expected,
        good: c.good,
        countedFrom: c.countedFrom,
        judgedTo: c.judgedTo,
        firstDataAt: c.firstDataAt,
      }),
      (err: unknown) => {
        // A registered unit no gateway has described yet has no catalogue: nothing to count.
        if (err instanceof MrvError && err.code === 'MRV_E_NOT_FOUND') return null;
        throw err;
      },
    );
    cache.set(key, { until: now + (ended ? SUMMARY_PAST_CACHE_MS : SUMMARY_CACHE_MS), value });
    value.catch(() => cache.delete(key));
    return value;
  };

  const prune = (now: number) => {
    for (const [key, entry] of cache) if (entry.until <= now) cache.delete(key);
  };

  const openCounts = async (unitIds: string[], month: string, now: number): Promise<Map<string, number>> => {
    if (opts.state) return opts.state.openCounts(unitIds);
    const { from } = monthPeriod(month);
    const to = Math.min(monthPeriod(month).to, now + 1);
    const out = new Map<string, number>();
    await mapLimited(unitIds, SUMMARY_CONCURRENCY, async (id) => {
      const list = await opts.store.listFindings(id, from, Math.max(from + 1, to), { state: 'open' });
      out.set(id, list.filter((f) => findingState(f) === 'open').length);
    });
    return out;
  };

  app.get<{ Querystring: { month?: string } }>(
    '/api/v1/summary',
    {
      schema: {
        summary:
          'Overview figures of every unit in scope in one request: status, month-to-date completeness, open findings',
        description:
          'Completeness is the cheap hourly count of GET /api/v1/units/{unitId}/completeness, cached per unit and month for a minute (15 minutes for an ended month); no evidence package is built. openFindings counts open, acknowledged and explained findings (the state database), or without one the open findings of the month.',
        tags: ['domain'],
        querystring: {
          type: 'object',
          properties: {
            month: {
              type: 'string',
              pattern: '^\\d{4}-(0[1-9]|1[0-2])$',
              description: 'UTC+8 calendar month yyyy-mm; default the current one',
            },
          },
        },
        response: { 200: summarySchema },
      },
    },
    async (request) => {
      const now = opts.clock.now();
      const month = request.query.month ?? cstMonth(now);
      prune(now);
      const units = opts.auth.filterUnits(
        request.principal ?? null,
        await fromStore('list units', () => opts.units.units()),
      );
      const ids = units.map((u) => u.id);
      const [completeness, open] = await Promise.all([
        fromStore('count readings', () =>
          mapLimited(ids, SUMMARY_CONCURRENCY, (id) => completenessOf(id, month, now)),
        ),
        fromStore('count findings', () => openCounts(ids, month, now)),
      ]);
      const byStatus = { online: 0, offline: 0, no_data: 0 };
      const byCompleteness = {
        not_started: 0,
        not_monitored: 0,
        no_data: 0,
        measuring: 0,
        ended: 0,
        unknown: 0,
      };
      let openFindings = 0;
      const rows = units.map((u, i) => {
        const status = unitStatus(u);
        const c = completeness[i] ?? null;
        const n = open.get(u.id) ?? 0;
        byStatus[status]++;
        byCompleteness[c === null ? 'unknown' : c.status]++;
        openFindings += n;
        return {
          id: u.id,
          name: u.name,
          ...(u.nameEn !== undefined ? { nameEn: u.nameEn } : {}),
          industry: u.industry,
          province: u.province,
          registered: u.registered,
          online: u.online,
          lastDataAt: u.lastDataAt,
          status,
          completeness: c,
          openFindings: n,
        };
      });
      return {
        month,
        generatedAt: isoCst(now),
        totals: { units: rows.length, byStatus, byCompleteness, openFindings },
        units: rows,
      };
    },
  );
}
