/**
 * The overview's figures for every unit the caller may see, in one request (issue 13 item 5):
 * `GET /api/v1/summary?month=yyyy-mm` → `{month, generatedAt, totals, units: [...]}`, per unit its
 * registry facts, online state and newest data time, its derived `status` (`online` = a gateway
 * online, `offline`, `no_data` = offline and never a reading), the month-to-date completeness of its key-parameter points (the
 * cheap hourly counts of `evidence/service.ts` `completenessToDate`, ended days' counts kept in the data
 * directory by evidence/day-counts.ts, never an evidence build) and its
 * open findings (open, acknowledged, explained: from the state database's workflow when there is one,
 * else the store's findings of the month whose lifecycle state is open).
 *
 * Completeness is cached per unit and month ({@link SUMMARY_CACHE_MS} for a month still running,
 * {@link SUMMARY_PAST_CACHE_MS} for one that ended) and computed at most {@link SUMMARY_CONCURRENCY}
 * units at a time (in the evidence pool's completeness thread when the server has one,
 * evidence/evidence-pool.ts, so a province's counts never hold up polling or SSE), so a province of 300 units costs one round of store queries a minute however
 * many browsers watch it. A unit without a catalogue yet (registered, no gateway has reported)
 * has `completeness: null`. Errors: 400 `MRV_E_BAD_REQUEST` (month), 503 `MRV_E_STORE`.
 *
 * `provinces` breaks the totals down by the units' registered province. On a federating server
 * (`mrv server --federate`, collector/federated-store.ts) it lists every federated province the caller
 * may see, with its store's availability; a unit whose province store does not answer is counted as
 * `status: unavailable` (`completeness: null`, `openFindings: null`) with its reason, never left out of the totals, and the answer is still 200.
 * A province whose unit listing failed in this very request (`Federation.watchListing`) is unavailable in
 * its answer even if the federation finds the store back meanwhile: a cached completeness never stands
 * in for a store that did not answer now.
 */
import type { FastifyInstance } from 'fastify';
import type { Federation } from '../collector/federated-store.ts';
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
import { type UnitAvailability, unitAvailability } from './federation.ts';
import type { StateStore } from './state/state-store.ts';
import type { Principal } from './tokens.ts';

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
  /** The province stores behind `store` on a federating server (collector/federated-store.ts). */
  federation?: Federation | undefined;
  /** Where completeness is computed (a worker thread, evidence/evidence-pool.ts); absent: on the event loop. */
  evidence?: EvidencePool | undefined;
}

/**
 * The derived state of a unit on the overview; `unavailable` only on a federating server, for a unit
 * whose province store does not answer.
 */
export type UnitStatus = 'online' | 'offline' | 'no_data' | 'unavailable';

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

const UNIT_STATUSES = ['online', 'offline', 'no_data', 'unavailable'] as const;
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

const figuresProperties = {
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
  openFindings: {
    type: 'integer',
    description:
      'open findings of the units whose count is known (units with openFindings null are not in it)',
  },
} as const;

const summarySchema = {
  type: 'object',
  required: ['month', 'generatedAt', 'totals', 'provinces', 'units'],
  properties: {
    month: { type: 'string' },
    generatedAt: { type: 'string', description: 'ISO-8601 with +08:00' },
    totals: {
      type: 'object',
      required: ['units', 'byStatus', 'byCompleteness', 'openFindings'],
      properties: figuresProperties,
    },
    provinces: {
      type: 'array',
      description:
        "The totals per registered province of the units in scope. On a federating server (mrv server --federate) every federated province the caller may see, in the server's order, with its store's availability; then provinces of units in scope that no federated store holds (available false).",
      items: {
        type: 'object',
        required: ['province', 'available', 'reason', 'units', 'byStatus', 'byCompleteness', 'openFindings'],
        properties: {
          province: { type: 'string' },
          available: {
            type: 'boolean',
            description: "false while the province's store does not answer: its units are status unavailable",
          },
          reason: { type: ['string', 'null'], description: 'why it is unavailable; null when available' },
          ...figuresProperties,
        },
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
          'available',
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
          status: {
            type: 'string',
            enum: [...UNIT_STATUSES],
            description:
              'unavailable (federating server only): the province store does not answer; online, lastDataAt and completeness are then unknown',
          },
          available: { type: 'boolean', description: 'false: the unit’s province store does not answer' },
          unavailableReason: {
            type: 'string',
            description: 'why the unit is unavailable (present only then)',
          },
          completeness: completenessSchema,
          openFindings: {
            type: ['integer', 'null'],
            description:
              'null: unknown (the province store does not answer and no state database counts them)',
          },
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

/**
 * The federated provinces a caller may see on the overview: all for an admin, else those its scope
 * names (a token scoped to units only sees the provinces of those units, added as they are counted).
 */
function visibleProvinces(fed: Federation, principal: Principal | null): string[] {
  if (!principal) return [];
  const all = fed.provinces().map((p) => p.province);
  return principal.role === 'admin' ? all : all.filter((p) => principal.scope.provinces.includes(p));
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

  const completenessOf = (u: ListedUnit, month: string, now: number): Promise<UnitCompleteness | null> => {
    const unitId = u.id;
    const key = `${unitId}|${month}`;
    const hit = cache.get(key);
    if (hit && hit.until > now) return hit.value;
    const ended = monthPeriod(month).to <= now;
    const unitSites = sites.filter((s) => s.unit.id === unitId);
    // The registry's facts (a store-only unit: the store's, as listed), so the count needs no unit list.
    const unit = { id: u.id, name: u.name, industry: u.industry, province: u.province };
    const value = (
      opts.evidence
        ? opts.evidence.run({ kind: 'completeness', unitId, month, now, sites: unitSites, unit })
        : completenessToDate({ store: opts.store, unitId, month, now, sites: unitSites, unit })
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

  /**
   * Open findings per unit: the state database's workflow counts, or the store's open findings of the
   * month; a unit whose store is unavailable (or fails, `failed` deciding) has none in the map.
   */
  const openCounts = async (
    units: { id: string; available: boolean }[],
    month: string,
    now: number,
    failed: (unitId: string, err: unknown) => void,
  ): Promise<Map<string, number>> => {
    if (opts.state) {
      const counts = await opts.state.openCounts(units.map((u) => u.id));
      // The workflow counts a unit without open findings as none: it is known, 0.
      for (const u of units) if (!counts.has(u.id)) counts.set(u.id, 0);
      return counts;
    }
    const { from } = monthPeriod(month);
    const to = Math.min(monthPeriod(month).to, now + 1);
    const out = new Map<string, number>();
    await mapLimited(units, SUMMARY_CONCURRENCY, async ({ id, available }) => {
      if (!available) return;
      try {
        const list = await opts.store.listFindings(id, from, Math.max(from + 1, to), { state: 'open' });
        out.set(id, list.filter((f) => findingState(f) === 'open').length);
      } catch (err) {
        failed(id, err);
      }
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
      const fed = opts.federation;
      const list = () => fromStore('list units', () => opts.units.units());
      // On a federating server, the provinces whose listing failed in this request: unavailable now,
      // whatever the federation's state says after it and whatever completeness is cached.
      const listed = fed
        ? await fed.watchListing(list)
        : { value: await list(), failed: new Map<string, string>() };
      const units = opts.auth.filterUnits(request.principal ?? null, listed.value);
      const provinceOf = (u: ListedUnit) => fed?.provinceOf(u.id) ?? u.province;
      // Availability as the federation knows it after listing (a failed query below can only add to it).
      const avail: UnitAvailability[] = units.map((u) => {
        const failed = listed.failed.get(provinceOf(u));
        return failed !== undefined ? { available: false, reason: failed } : unitAvailability(fed, u);
      });
      const indexOf = new Map(units.map((u, i) => [u.id, i]));
      const unavailable = (i: number) => (err: unknown) => {
        // On a federating server a province store failing mid-request makes its unit unavailable, not the answer a 503.
        if (!fed || !(err instanceof MrvError) || err.code !== 'MRV_E_STORE') throw err;
        avail[i] = { available: false, reason: err.message };
        return null;
      };
      const [completeness, open] = await Promise.all([
        fromStore('count readings', () =>
          mapLimited(
            units.map((u, i) => ({ u, i })),
            SUMMARY_CONCURRENCY,
            ({ u, i }) =>
              avail[i]?.available === false
                ? Promise.resolve(null)
                : completenessOf(u, month, now).catch(unavailable(i)),
          ),
        ),
        fromStore('count findings', () =>
          openCounts(
            units.map((u, i) => ({ id: u.id, available: avail[i]?.available !== false })),
            month,
            now,
            (id, err) => unavailable(indexOf.get(id) ?? -1)(err),
          ),
        ),
      ]);
      const figures = () => ({
        units: 0,
        byStatus: { online: 0, offline: 0, no_data: 0, unavailable: 0 },
        byCompleteness: {
          not_started: 0,
          not_monitored: 0,
          no_data: 0,
          measuring: 0,
          ended: 0,
          unknown: 0,
        },
        openFindings: 0,
      });
      type Figures = ReturnType<typeof figures>;
      const totals = figures();
      const byProvince = new Map<string, Figures>();
      for (const p of fed ? visibleProvinces(fed, request.principal ?? null) : [])
        byProvince.set(p, figures());
      const rows = units.map((u, i) => {
        const a = avail[i] ?? { available: true, reason: null };
        const status: UnitStatus = a.available ? unitStatus(u) : 'unavailable';
        const c = a.available ? (completeness[i] ?? null) : null;
        // Unknown while the unit's store does not answer, whatever the state database holds of it.
        const n = a.available ? open.get(u.id) : undefined;
        const province = provinceOf(u);
        let pf = byProvince.get(province);
        if (!pf) {
          pf = figures();
          byProvince.set(province, pf);
        }
        for (const f of [totals, pf]) {
          f.units++;
          f.byStatus[status]++;
          f.byCompleteness[c === null ? 'unknown' : c.status]++;
          f.openFindings += n ?? 0;
        }
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
          available: a.available,
          ...(a.reason !== null ? { unavailableReason: a.reason } : {}),
          completeness: c,
          openFindings: n ?? null,
        };
      });
      const federated = new Set(fed?.provinces().map((p) => p.province) ?? []);
      const provinces = [...byProvince].map(([province, f], k) => {
        // Federated provinces first in the server's order (Map insertion order), then the others by name.
        const state = fed?.availability(province);
        const failed = listed.failed.get(province);
        const available = fed ? state?.available === true && failed === undefined : true;
        const reason = !fed
          ? null
          : !state
            ? `province ${province} is not federated by this server (--federate)`
            : failed !== undefined
              ? failed
              : state.available
                ? null
                : (state.reason ?? 'unknown');
        return { province, available, reason, ...f, k };
      });
      provinces.sort((a, b) => {
        const fa = federated.has(a.province);
        const fb = federated.has(b.province);
        if (fa !== fb) return fa ? -1 : 1;
        if (fa) return a.k - b.k;
        return a.province < b.province ? -1 : a.province > b.province ? 1 : 0;
      });
      return {
        month,
        generatedAt: isoCst(now),
        totals,
        provinces: provinces.map(({ k: _k, ...p }) => p),
        units: rows,
      };
    },
  );
}
