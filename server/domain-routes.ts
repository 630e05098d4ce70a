/**
 * Routes of the carbon-accounting core (docs/architecture.md §9):
 * - `GET /api/v1/units/:unitId/meters?at=&dueSoonDays=` → `[{id, name, kind, model?, serial?,
 *   accuracyClass?, range?, location?, points, calibration: {status: valid|due_soon|expired|missing,
 *   validUntil, certificate, daysLeft}, certificates}]` (status at `at`, default now; with a state
 *   database the certificates are the meter ledger's current ones, server/ledger-routes.ts);
 * - `GET /api/v1/units/:unitId/findings?from=&to=&state=` → validation findings computed over the window
 *   (every point a rule watches plus the key-parameter points; default the last 24 h, at most 31 days),
 *   written to the store (idempotent ids) and merged with the store's other findings of the window, each
 *   with its lifecycle `state` (`open|resolved`; `resolvedAt` and `resolution` when resolved, e.g. a seq
 *   gap whose batches arrived late); with a state database each also carries its `workflow` (state,
 *   actions the caller may take, explanation; server/workflow-routes.ts) and `state` narrows on the
 *   workflow's state, else on the lifecycle state;
 * - `GET /api/v1/units/:unitId/evidence/:month?format=json|csv|html|xlsx` → the signed monthly evidence
 *   package (月度存证) of a UTC+8 month `yyyy-mm`, its unit facts from the unit registry; with a
 *   registry, 404 `MRV_E_NOT_FOUND` for a unit not in it (nothing unregistered is signed);
 * - `GET /api/v1/units/:unitId/completeness?month=yyyy-mm` → month-to-date completeness of the
 *   key-parameter points from hourly good-reading counts (no evidence build; default the current month):
 *   `{status: not_started|not_monitored|no_data|measuring|ended, judgedTo, firstDataAt, expected, good,
 *   ratio, points: [...]}` (evidence/service.ts `completenessToDate`).
 * Packages, findings windows and completeness are computed off the event loop, in the worker threads of
 * evidence/evidence-pool.ts (`DomainOptions.evidenceWorkers`); the findings are written and merged here.
 * The auth hook of `auth.ts` already guards `:unitId` routes. Errors: 400 `MRV_E_BAD_REQUEST`,
 * 404 `MRV_E_NOT_FOUND` (unknown unit), 503 `MRV_E_STORE`.
 *
 * Options come from `ServerOptions.domain` (declared here by module augmentation so `app.ts` registers
 * the routes with one line).
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { TimeSeriesStore } from '../collector/store.ts';
import {
  calibrationStatus,
  cstMonth,
  DEFAULT_DUE_SOON_DAYS,
  type EvidenceConfig,
  type EvidencePackage,
  evidenceCsv,
  evidenceHtml,
} from '../core/domain/index.ts';
import { MrvError } from '../core/errors.ts';
import { type Finding, findingState } from '../core/schema/finding.ts';
import type { SiteConfig } from '../core/schema/site.ts';
import { type Clock, systemClock } from '../core/time.ts';
import type { UnitInputs } from '../evidence/evidence-jobs.ts';
import { EvidencePool, type StoreSpec } from '../evidence/evidence-pool.ts';
import { DEFAULT_EVIDENCE_KEY_FILE, loadEvidenceKey, unitCatalogue } from '../evidence/service.ts';
import { evidenceXlsx } from '../evidence/xlsx-export.ts';
import { fromStore } from './errors.ts';
import type { ServerOptions } from './options.ts';
import { parseInstant } from './query.ts';
import { SHOWN_STATES, type ShownState } from './state/finding-workflow.ts';
import { ledgerOf } from './state/meter-ledger.ts';
import type { FindingWorkflow } from './state/state-store.ts';
import { withActions } from './workflow-routes.ts';

/** Options of the domain routes (`ServerOptions.domain`). */
export interface DomainOptions {
  /** Site files whose meters, point signs and poll intervals complete the store's catalogue. */
  sites?: SiteConfig[];
  /** Ed25519 evidence signing key file (PKCS#8 PEM), created on first use when missing. Default `.data/evidence-ed25519.pem`. */
  keyFile?: string;
  /**
   * Further trusted evidence keys for `POST /api/v1/evidence/verify` (a trust file or folder, see
   * `loadTrustedKeys`); the server's own key (`keyFile`) is always trusted.
   */
  trustedKeys?: string;
  /** Calibration warning window, days. Default 30. */
  dueSoonDays?: number;
  /** Version string written into packages (`carbon-mrv x.y.z`). */
  generator?: string;
  /** Evidence tunables for the findings route and the packages (e.g. the demo's `clockToleranceMs`). */
  evidenceConfig?: Partial<EvidenceConfig>;
  /**
   * File of the evidence day aggregates (evidence/day-aggregates.ts), opened on the first package:
   * ended days kept there are not read again. Absent: every package reads its whole month.
   */
  dayAggregatesFile?: string;
  /**
   * Worker threads for the evidence computations (evidence/evidence-pool.ts): packages, findings
   * windows and completeness. `threads` 0, no `store` spec, or this option absent: they run on the
   * event loop (what a test with an in-memory store gets). The CLI passes its store and
   * `--evidence-threads` (default `defaultEvidenceThreads()`).
   */
  evidenceWorkers?: { threads: number; store?: StoreSpec | undefined };
}

declare module './options.ts' {
  interface ServerOptions {
    /** The carbon-accounting routes' options (server/domain-routes.ts). */
    domain?: DomainOptions;
  }
}

/** How long after the server is ready its evidence worker is started, ms. */
export const EVIDENCE_WARM_DELAY_MS = 5000;

/** Widest findings window. */
export const MAX_FINDINGS_WINDOW_MS = 31 * 86_400_000;

const idParam = { type: 'string', minLength: 1, maxLength: 64 } as const;

/**
 * Registers the meters, findings, completeness and evidence routes. Returns the evidence pool they
 * use (closed with the server), for the other routes that compute evidence figures (the summary).
 */
export function registerDomainRoutes(
  app: FastifyInstance,
  options: ServerOptions,
): { evidence: EvidencePool } {
  const store: TimeSeriesStore = options.store;
  const clock: Clock = options.clock ?? systemClock;
  const d = options.domain ?? {};
  const sites = d.sites ?? [];
  const dueSoonDefault = d.dueSoonDays ?? DEFAULT_DUE_SOON_DAYS;
  const generator = d.generator ?? 'carbon-mrv';
  const keyFile = d.keyFile ?? DEFAULT_EVIDENCE_KEY_FILE;
  let keyMade = false;
  // Made here on first use (a worker only reads it).
  const signingKeyFile = () => {
    if (!keyMade) loadEvidenceKey(keyFile, true);
    keyMade = true;
    return keyFile;
  };
  // With a state database the meters' certificates come from the meter ledger (server/state/meter-ledger.ts).
  const ledger = options.state ? ledgerOf(options.state) : undefined;
  const ledgerMeters = ledger ? (unitId: string) => ledger.meterMetas(unitId) : undefined;
  const inFlight = new Map<string, Promise<EvidencePackage>>();
  const evidence = new EvidencePool({
    store,
    spec: d.evidenceWorkers?.store,
    threads: d.evidenceWorkers?.threads ?? 0,
    dayAggregatesFile: d.dayAggregatesFile,
    // Fastify's logger is the server's pino logger (server/app.ts), typed by fastify as its base logger.
    log: app.log as unknown as Logger,
  });
  // The worker starts soon after the server, not with the first package (it takes a second or so),
  // and not during the start itself, whose CPU the first readings need on a small machine.
  let warming: NodeJS.Timeout | undefined;
  app.addHook('onReady', async () => {
    warming = setTimeout(() => void evidence.warm(), EVIDENCE_WARM_DELAY_MS);
    warming.unref();
  });
  app.addHook('onClose', async () => {
    clearTimeout(warming);
    await evidence.close();
  });
  /** What a job knows of the unit besides its readings (its registration, ledger meters, tunables). */
  const unitInputs = async (unitId: string): Promise<UnitInputs> => {
    const registration = options.units?.get(unitId);
    const meters = ledgerMeters ? await ledgerMeters(unitId) : undefined;
    return {
      unitId,
      sites: sites.filter((s) => s.unit.id === unitId),
      ...(registration ? { registration } : {}),
      ...(meters ? { ledgerMeters: [...meters] } : {}),
      ...(d.evidenceConfig ? { config: d.evidenceConfig } : {}),
      generator,
      now: clock.now(),
    };
  };
  const catalogue = async (unitId: string) => {
    const c = await fromStore('read the catalogue', () =>
      unitCatalogue(store, unitId, sites, options.units, ledgerMeters),
    );
    if (!c) throw new MrvError('MRV_E_NOT_FOUND', `unknown unit "${unitId}"`, { unitId });
    return c;
  };

  app.get<{ Params: { unitId: string }; Querystring: { at?: string; dueSoonDays?: number } }>(
    '/api/v1/units/:unitId/meters',
    {
      schema: {
        summary: "A unit's meters with their calibration status (valid, due_soon, expired, missing)",
        tags: ['domain'],
        params: { type: 'object', required: ['unitId'], properties: { unitId: idParam } },
        querystring: {
          type: 'object',
          properties: {
            at: { type: 'string', maxLength: 64, description: 'instant of the status; default now' },
            dueSoonDays: {
              type: 'integer',
              minimum: 0,
              maximum: 3650,
              description: 'warning window, days (default 30)',
            },
          },
        },
      },
    },
    async (request) => {
      const at = request.query.at !== undefined ? parseInstant(request.query.at, 'at') : clock.now();
      const c = await catalogue(request.params.unitId);
      return c.meters.map(({ calibrations, ...m }) => ({
        ...m,
        points: c.points.filter((p) => p.meter === m.id).map((p) => p.id),
        calibration: calibrationStatus(
          { ...m, calibrations },
          at,
          request.query.dueSoonDays ?? dueSoonDefault,
        ),
        certificates: calibrations,
      }));
    },
  );

  app.get<{
    Params: { unitId: string };
    Querystring: { from?: string; to?: string; state?: ShownState };
  }>(
    '/api/v1/units/:unitId/findings',
    {
      schema: {
        summary: 'Validation findings (理论极值, 阈值, 标准值, 逻辑校验) over a window, with stored findings',
        tags: ['domain'],
        params: { type: 'object', required: ['unitId'], properties: { unitId: idParam } },
        querystring: {
          type: 'object',
          properties: {
            from: { type: 'string', maxLength: 64, description: 'inclusive start; default to − 24 h' },
            to: { type: 'string', maxLength: 64, description: 'exclusive end; default now' },
            state: {
              type: 'string',
              enum: [...SHOWN_STATES],
              description:
                'only findings in this state: the producer lifecycle (open, resolved), or with a state database the workflow (open, acknowledged, explained, closed, resolved); default all',
            },
          },
        },
      },
    },
    async (request) => {
      const to = request.query.to !== undefined ? parseInstant(request.query.to, 'to') : clock.now();
      const from =
        request.query.from !== undefined ? parseInstant(request.query.from, 'from') : to - 86_400_000;
      if (from >= to)
        throw new MrvError('MRV_E_BAD_REQUEST', 'from must be before to (to is exclusive)', { from, to });
      if (to - from > MAX_FINDINGS_WINDOW_MS)
        throw new MrvError('MRV_E_BAD_REQUEST', 'from..to spans more than 31 days; query a shorter window', {
          from,
          to,
        });
      const { unitId } = request.params;
      await catalogue(unitId);
      // Computed off the event loop (evidence/evidence-pool.ts); written and merged here.
      const inputs = await unitInputs(unitId);
      const computed = await fromStore('read readings', () =>
        evidence.run({ kind: 'findings', ...inputs, from, to }),
      );
      try {
        if (computed.length > 0) await store.writeFindings(computed);
      } catch (err) {
        request.log.warn({ err }, 'could not store validation findings');
      }
      let stored: Finding[] = [];
      try {
        stored = await store.listFindings(unitId, from, to);
      } catch (err) {
        request.log.warn({ err }, 'could not list stored findings');
      }
      const byId = new Map<string, Finding>();
      for (const f of [...stored, ...computed]) byId.set(f.id, { ...f, state: findingState(f) });
      const wanted = request.query.state;
      // With a state database each finding carries its workflow (state/finding-workflow.ts), and the
      // state filter means the workflow's state.
      const workflows = options.state
        ? await options.state.trackFindings([...byId.values()])
        : new Map<string, FindingWorkflow>();
      const listed = [...byId.values()].map((f) => {
        const w = workflows.get(f.id);
        return w === undefined ? f : { ...f, workflow: withActions(w, request.principal!) };
      });
      const stateOf = (f: (typeof listed)[number]) => ('workflow' in f ? f.workflow.state : f.state);
      return listed
        .filter((f) => wanted === undefined || stateOf(f) === wanted)
        .sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.id < b.id ? -1 : 1));
    },
  );

  app.get<{ Params: { unitId: string }; Querystring: { month?: string } }>(
    '/api/v1/units/:unitId/completeness',
    {
      schema: {
        summary: 'Month-to-date completeness of the key-parameter points (good readings / expected)',
        description:
          "Expected readings come from each point's effective poll interval (point over device) and are counted only up to now. Months that ended before the unit's first reading are not_monitored. Cheap: hourly counts from the store, no evidence package is built; the package holds the exact gaps and causes.",
        tags: ['domain'],
        params: { type: 'object', required: ['unitId'], properties: { unitId: idParam } },
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
      },
    },
    async (request) => {
      const now = clock.now();
      const month = request.query.month ?? cstMonth(now);
      const { unitId } = request.params;
      return fromStore('count readings', () =>
        evidence.run({
          kind: 'completeness',
          unitId,
          month,
          now,
          sites: sites.filter((s) => s.unit.id === unitId),
        }),
      );
    },
  );

  app.get<{
    Params: { unitId: string; month: string };
    Querystring: { format?: 'json' | 'csv' | 'html' | 'xlsx' };
  }>(
    '/api/v1/units/:unitId/evidence/:month',
    {
      schema: {
        summary:
          'Signed monthly evidence package (月度存证) of a UTC+8 month; JSON, CSV, printable HTML or XLSX (key parameters)',
        tags: ['domain'],
        params: {
          type: 'object',
          required: ['unitId', 'month'],
          properties: { unitId: idParam, month: { type: 'string', pattern: '^\\d{4}-(0[1-9]|1[0-2])$' } },
        },
        querystring: {
          type: 'object',
          properties: { format: { type: 'string', enum: ['json', 'csv', 'html', 'xlsx'] } },
        },
      },
    },
    async (request, reply) => {
      const { unitId, month } = request.params;
      await catalogue(unitId);
      // A signed package names the unit: only a registered unit's facts may stand in it (issue 17).
      if (options.units && !options.units.get(unitId))
        throw new MrvError(
          'MRV_E_NOT_FOUND',
          `unit "${unitId}" is not in the unit registry: its name and province are only what its gateway claims; register it (units.yaml) before issuing evidence`,
          { unitId },
        );
      // Requests for the same unit and month while one is being built share it (one read of the month).
      const shareKey = `${unitId}\u0000${month}`;
      let building = inFlight.get(shareKey);
      if (!building) {
        // Built off the event loop (evidence/evidence-pool.ts), from the same inputs as in-process.
        const file = signingKeyFile();
        building = unitInputs(unitId)
          .then((inputs) =>
            evidence.run({
              kind: 'evidence',
              ...inputs,
              month,
              keyFile: file,
              dayAggregates: d.dayAggregatesFile !== undefined,
            }),
          )
          .then((r) => r.pkg)
          .finally(() => inFlight.delete(shareKey));
        inFlight.set(shareKey, building);
      }
      const pkg = await building;
      const name = `evidence-${unitId}-${month}`;
      switch (request.query.format ?? 'json') {
        case 'csv':
          return reply
            .type('text/csv; charset=utf-8')
            .header('content-disposition', `attachment; filename="${name}.csv"`)
            .send(`\uFEFF${evidenceCsv(pkg)}`);
        case 'html':
          return reply
            .type('text/html; charset=utf-8')
            .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
            .send(evidenceHtml(pkg));
        case 'xlsx':
          // Not confirmed: the digest is that of the JSON this request would have answered.
          return reply
            .type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
            .header('content-disposition', `attachment; filename="${name}.xlsx"`)
            .send(
              await evidenceXlsx(pkg, {
                sha256: createHash('sha256').update(JSON.stringify(pkg), 'utf8').digest('hex'),
              }),
            );
        default:
          return reply
            .type('application/json; charset=utf-8')
            .header('content-disposition', `inline; filename="${name}.json"`)
            .send(JSON.stringify(pkg));
      }
    },
  );
  return { evidence };
}
