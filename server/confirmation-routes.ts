/**
 * Monthly evidence confirmation (月度存证确认) over HTTP (docs/architecture.md §8a, §9; store in
 * `state/evidence-confirmations.ts`):
 * - `GET /api/v1/units/:unitId/confirmations?from=yyyy-mm&to=yyyy-mm` → one status per month (default
 *   the 12 months up to the current one): deadline (month end + 40 days, UTC+8), days left or overdue,
 *   monitoring status (not monitored before the unit's first data), confirmed / reviewed state, and the
 *   actions the caller may take;
 * - `GET /api/v1/units/:unitId/confirmations/:month` → `{status, versions}`;
 * - `GET /api/v1/confirmations?month=yyyy-mm` → that month's status for every unit in the caller's scope
 *   (default the previous month, whose deadline is running), with the unit's name and province;
 * - `POST /api/v1/units/:unitId/confirmations/:month` `{comment?}` (enterprise) → 201 the new version:
 *   the package is built now, signed with the server's evidence key as `GET .../evidence/:month`
 *   signs it, frozen (its exact JSON bytes) and stored as version 1, or n+1 citing version n's digest;
 * - `GET /api/v1/units/:unitId/confirmations/:month/versions/:version?format=json|xlsx|csv|html` → the
 *   frozen package bytes (JSON, `x-sha256` their digest; `mrv verify` checks them as any package), or a
 *   rendering of them;
 * - `GET /api/v1/units/:unitId/confirmations/:month/versions/:version/receipt` → the version's signed
 *   receipt as a file (evidence/confirmation-receipt.ts; `mrv verify RECEIPT --package FILE` checks it);
 * - `POST /api/v1/units/:unitId/confirmations/:month/versions/:version/review` `{comment?}` (regulator)
 *   → the version, reviewed; only the latest version, once.
 *
 * Refusals: a month not over yet, or whose package says content status `no_data`, 409
 * `MRV_E_CONFIRMATION`; an `incomplete` month without a comment saying why, 400 `MRV_E_BAD_REQUEST`;
 * a superseded or already reviewed version, 409; a regulator confirming or an enterprise reviewing,
 * 403 `MRV_E_FORBIDDEN` (an admin does neither: confirming is the plant's declaration, reviewing the
 * regulator's); another unit, 403 from the auth hook (auth.ts). Without a state database 503
 * `MRV_E_STATE_DB`. Every confirmation and review is in the audit log.
 */
import { createHash, sign } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { EvidencePackage } from '../core/domain/evidence.ts';
import { type MonthDeadlineStatus, monthDeadlineStatus } from '../core/domain/evidence-deadline.ts';
import { cstMonth, evidenceCsv, evidenceHtml } from '../core/domain/index.ts';
import { monthPeriod } from '../core/domain/period.ts';
import { MrvError } from '../core/errors.ts';
import { type Clock, systemClock } from '../core/time.ts';
import { signedReceipt } from '../evidence/confirmation-receipt.ts';
import {
  buildEvidence,
  completenessToDate,
  DEFAULT_EVIDENCE_KEY_FILE,
  type EvidenceKey,
  loadEvidenceKey,
} from '../evidence/service.ts';
import { evidenceXlsx } from '../evidence/xlsx-export.ts';
import type { Auth, UnitDirectory } from './auth.ts';
import { fromStore } from './errors.ts';
import type { ServerOptions } from './options.ts';
import {
  ConfirmationStore,
  MAX_CONFIRMATION_COMMENT,
  type MonthConfirmation,
} from './state/evidence-confirmations.ts';
import { actorOf } from './state/state-store.ts';
import type { Principal } from './tokens.ts';

/** Longest range of months one status listing covers. */
export const MAX_STATUS_MONTHS = 60;

const MONTH_PATTERN = '^\\d{4}-(0[1-9]|1[0-2])$';
const idParam = { type: 'string', minLength: 1, maxLength: 64 } as const;
const monthParam = { type: 'string', pattern: MONTH_PATTERN } as const;

/** Actions a caller may take on a month: `confirm` (enterprise), `review` (regulator, latest version). */
export type ConfirmationAction = 'confirm' | 'review';

const reviewSchema = {
  type: 'object',
  required: ['by', 'name', 'at'],
  properties: {
    by: { type: 'string' },
    name: { type: 'string' },
    at: { type: 'string' },
    comment: { type: 'string' },
  },
} as const;

const supersedesSchema = {
  type: ['object', 'null'],
  required: ['version', 'sha256'],
  properties: { version: { type: 'integer' }, sha256: { type: 'string' } },
} as const;

/** JSON schema of a confirmed version (without its bytes). */
export const confirmationVersionSchema = {
  type: 'object',
  required: [
    'unitId',
    'month',
    'version',
    'packageSha256',
    'supersedes',
    'contentStatus',
    'confirmedBy',
    'confirmedByName',
    'confirmedAt',
    'latest',
    'receipt',
    'signature',
  ],
  properties: {
    unitId: { type: 'string' },
    month: { type: 'string' },
    version: { type: 'integer', minimum: 1 },
    packageSha256: { type: 'string', description: 'SHA-256 (hex) of the frozen package bytes' },
    supersedes: supersedesSchema,
    contentStatus: { type: 'string', enum: ['incomplete', 'complete'] },
    confirmedBy: { type: 'string' },
    confirmedByName: { type: 'string' },
    confirmedAt: { type: 'string' },
    comment: { type: 'string' },
    review: reviewSchema,
    latest: { type: 'boolean' },
    receipt: {
      type: 'object',
      description:
        "what the signature covers: canonical JSON of this object, Ed25519 with the server's evidence key (receipt.packageKeyId)",
      required: [
        'kind',
        'unitId',
        'month',
        'version',
        'packageSha256',
        'packageKeyId',
        'supersedes',
        'contentStatus',
        'confirmedBy',
        'confirmedByName',
        'confirmedAt',
        'commentSha256',
      ],
      properties: {
        kind: { type: 'string', enum: ['evidence-confirmation'] },
        unitId: { type: 'string' },
        month: { type: 'string' },
        version: { type: 'integer' },
        packageSha256: { type: 'string' },
        packageKeyId: { type: 'string' },
        supersedes: supersedesSchema,
        contentStatus: { type: 'string' },
        confirmedBy: { type: 'string' },
        confirmedByName: { type: 'string' },
        confirmedAt: { type: 'string' },
        commentSha256: { type: ['string', 'null'] },
      },
    },
    signature: { type: 'string', description: 'base64 Ed25519 over the receipt' },
  },
} as const;

/** JSON schema of one month's status. */
export const monthStatusSchema = {
  type: 'object',
  required: [
    'unitId',
    'month',
    'state',
    'deadline',
    'daysLeft',
    'overdue',
    'confirmedOnTime',
    'ended',
    'monitoring',
    'confirmation',
    'actions',
  ],
  properties: {
    unitId: { type: 'string' },
    month: { type: 'string' },
    state: {
      type: 'string',
      enum: [
        'not_started',
        'not_monitored',
        'in_progress',
        'awaiting_confirmation',
        'overdue',
        'confirmed',
        'reviewed',
      ],
    },
    deadline: { type: 'string', description: 'last permitted UTC+8 date (inclusive), month end + 40 days' },
    daysLeft: { type: 'integer', description: 'days from today (UTC+8) to the deadline; negative = overdue' },
    overdue: { type: 'boolean' },
    confirmedOnTime: { type: ['boolean', 'null'] },
    ended: { type: 'boolean' },
    monitoring: {
      type: 'string',
      enum: ['not_started', 'not_monitored', 'no_data', 'measuring', 'ended'],
      description: 'month-to-date monitoring status (GET .../completeness)',
    },
    confirmation: {
      type: ['object', 'null'],
      required: ['latestVersion', 'versions', 'firstConfirmedAt', 'reviewed', 'latest'],
      properties: {
        latestVersion: { type: 'integer' },
        versions: { type: 'integer' },
        firstConfirmedAt: { type: 'string' },
        reviewed: { type: 'boolean' },
        latest: confirmationVersionSchema,
      },
    },
    actions: { type: 'array', items: { type: 'string', enum: ['confirm', 'review'] } },
  },
} as const;

const commentBody = {
  type: 'object',
  additionalProperties: false,
  properties: { comment: { type: 'string', maxLength: MAX_CONFIRMATION_COMMENT } },
} as const;

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The month before `m` (`yyyy-mm`) by `n` months. */
function monthMinus(m: string, n: number): string {
  const y = Number(m.slice(0, 4));
  const mo = Number(m.slice(5, 7)) - 1 - n;
  const d = new Date(Date.UTC(y, mo, 1));
  return d.toISOString().slice(0, 7);
}

/** Months from `from` to `to` inclusive. */
function monthsBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let m = to; m >= from && out.length <= MAX_STATUS_MONTHS; m = monthMinus(m, 1)) out.unshift(m);
  return out;
}

/** What the cross-unit overview needs to list the caller's units (app.ts passes them). */
export interface ConfirmationScope {
  auth: Auth;
  units: UnitDirectory;
}

/** Registers the confirmation routes (see the file comment). */
export function registerConfirmationRoutes(
  app: FastifyInstance,
  options: ServerOptions,
  scope: ConfirmationScope,
): void {
  const clock: Clock = options.clock ?? systemClock;
  const d = options.domain ?? {};
  const sites = d.sites ?? [];
  const generator = d.generator ?? 'carbon-mrv';
  const confirmations =
    options.state === undefined
      ? undefined
      : new ConfirmationStore(options.state.stateDb, { now: () => clock.now() });
  let key: EvidenceKey | undefined;
  // The same key file as the evidence route (domain-routes.ts): confirmed packages verify alike.
  const signingKey = () => {
    key ??= loadEvidenceKey(d.keyFile ?? DEFAULT_EVIDENCE_KEY_FILE, true);
    return key;
  };
  const need = (): ConfirmationStore => {
    if (confirmations === undefined)
      throw new MrvError(
        'MRV_E_STATE_DB',
        'this server runs without a state database: evidence confirmation is not available',
      );
    return confirmations;
  };
  const registered = (unitId: string) => {
    // A signed package names the unit: only a registered unit's facts may stand in it (issue 17).
    if (options.units && !options.units.get(unitId))
      throw new MrvError(
        'MRV_E_NOT_FOUND',
        `unit "${unitId}" is not in the unit registry: register it (units.yaml) before confirming evidence`,
        { unitId },
      );
  };

  // `confirm` is offered for every ended, monitored month: whether it has data enough is the
  // package's to say (POST refuses no_data), not the hourly counts' (a unit that started on the
  // month's last day has counts expecting nothing, yet a package with readings).
  const actionsOf = (p: Principal, s: MonthDeadlineStatus): ConfirmationAction[] => {
    const out: ConfirmationAction[] = [];
    if (p.role === 'enterprise' && s.ended && s.state !== 'not_monitored') out.push('confirm');
    if (p.role === 'regulator' && s.state === 'confirmed') out.push('review');
    return out;
  };

  const monthStatus = async (
    unitId: string,
    month: string,
    c: MonthConfirmation | undefined,
    p: Principal,
    now: number,
    lenient = false,
  ) => {
    // A unit nobody has catalogued yet (registered, no gateway has reported, no site file) has had
    // nothing monitored: the overview lists it as such instead of failing.
    const monitoring = await fromStore('count readings', () =>
      completenessToDate({ store: options.store, unitId, month, now, sites }),
    ).then(
      (c) => c.status,
      (err: unknown) => {
        if (lenient && err instanceof MrvError && err.code === 'MRV_E_NOT_FOUND')
          return 'not_monitored' as const;
        throw err;
      },
    );
    const s = monthDeadlineStatus({
      month,
      now,
      monitoring,
      ...(c !== undefined
        ? { firstConfirmedAt: Date.parse(c.firstConfirmedAt), latestReviewed: c.latest.review !== undefined }
        : {}),
    });
    return {
      unitId,
      ...s,
      monitoring,
      confirmation:
        c === undefined
          ? null
          : {
              latestVersion: c.latestVersion,
              versions: c.versions,
              firstConfirmedAt: c.firstConfirmedAt,
              reviewed: c.latest.review !== undefined,
              latest: c.latest,
            },
      actions: actionsOf(p, s),
    };
  };

  const frozen = async (unitId: string, month: string, version: number) => {
    const text = await need().frozenPackage(unitId, month, version);
    if (text === undefined)
      throw new MrvError('MRV_E_NOT_FOUND', `${unitId} ${month} has no confirmed version ${version}`, {
        unitId,
        month,
        version,
      });
    return text;
  };

  app.get<{ Querystring: { month?: string } }>(
    '/api/v1/confirmations',
    {
      schema: {
        summary:
          "One month's evidence status for every unit in the caller's scope (who is overdue, confirmed, reviewed)",
        description:
          'Default month: the previous UTC+8 month, the one whose deadline is running. Units by the unit directory (registered first), filtered by scope like GET /api/v1/units.',
        tags: ['evidence'],
        querystring: {
          type: 'object',
          properties: {
            month: { ...monthParam, description: 'yyyy-mm (UTC+8); default the previous month' },
          },
        },
        response: {
          200: {
            type: 'array',
            items: {
              ...monthStatusSchema,
              required: [...monthStatusSchema.required, 'unitName', 'province'],
              properties: {
                ...monthStatusSchema.properties,
                unitName: { type: 'string' },
                province: { type: 'string' },
              },
            },
          },
        },
      },
    },
    async (request) => {
      const now = clock.now();
      const month = request.query.month ?? monthMinus(cstMonth(now), 1);
      const store = need();
      const units = scope.auth.filterUnits(
        request.principal,
        await fromStore('list units', () => scope.units.units()),
      );
      const out = [];
      for (const u of units) {
        const c = (await store.months(u.id, month, month)).get(month);
        out.push({
          ...(await monthStatus(u.id, month, c, request.principal!, now, true)),
          unitName: u.name,
          province: u.province,
        });
      }
      return out;
    },
  );

  app.get<{ Params: { unitId: string }; Querystring: { from?: string; to?: string } }>(
    '/api/v1/units/:unitId/confirmations',
    {
      schema: {
        summary:
          "Each month's evidence status: deadline (month end + 40 days, UTC+8), days left or overdue, confirmed, reviewed",
        description:
          "Months before the unit's first reading are not_monitored (nothing due). `actions` lists what the caller may do: confirm (enterprise, an ended month with data), review (regulator, a confirmed latest version).",
        tags: ['evidence'],
        params: { type: 'object', required: ['unitId'], properties: { unitId: idParam } },
        querystring: {
          type: 'object',
          properties: {
            from: { ...monthParam, description: 'first month yyyy-mm (UTC+8); default to − 11 months' },
            to: { ...monthParam, description: 'last month yyyy-mm; default the current month' },
          },
        },
        response: { 200: { type: 'array', items: monthStatusSchema } },
      },
    },
    async (request) => {
      const now = clock.now();
      const to = request.query.to ?? cstMonth(now);
      const from = request.query.from ?? monthMinus(to, 11);
      if (from > to) throw new MrvError('MRV_E_BAD_REQUEST', 'from must not be after to', { from, to });
      const months = monthsBetween(from, to);
      if (months.length > MAX_STATUS_MONTHS)
        throw new MrvError('MRV_E_BAD_REQUEST', `at most ${MAX_STATUS_MONTHS} months per listing`, {
          from,
          to,
        });
      const { unitId } = request.params;
      const confirmed = await need().months(unitId, from, to);
      const out = [];
      for (const m of months)
        out.push(await monthStatus(unitId, m, confirmed.get(m), request.principal!, now));
      return out;
    },
  );

  app.get<{ Params: { unitId: string; month: string } }>(
    '/api/v1/units/:unitId/confirmations/:month',
    {
      schema: {
        summary: "A month's evidence status and every confirmed version, oldest first",
        tags: ['evidence'],
        params: {
          type: 'object',
          required: ['unitId', 'month'],
          properties: { unitId: idParam, month: monthParam },
        },
        response: {
          200: {
            type: 'object',
            required: ['status', 'versions'],
            properties: {
              status: monthStatusSchema,
              versions: { type: 'array', items: confirmationVersionSchema },
            },
          },
        },
      },
    },
    async (request) => {
      const { unitId, month } = request.params;
      const store = need();
      const confirmed = await store.months(unitId, month, month);
      const status = await monthStatus(unitId, month, confirmed.get(month), request.principal!, clock.now());
      return { status, versions: await store.versions(unitId, month) };
    },
  );

  app.post<{ Params: { unitId: string; month: string }; Body: { comment?: string } | undefined }>(
    '/api/v1/units/:unitId/confirmations/:month',
    {
      config: { roles: ['enterprise', 'regulator', 'admin'] },
      schema: {
        summary:
          'Confirm a month (enterprise): the package as built now is signed, frozen and stored as the next version',
        description:
          "Version 1, or n+1 citing version n's SHA-256 (a correction). Refused (409 MRV_E_CONFIRMATION) for a month not over yet or whose package has content status no_data; an incomplete month needs a comment saying why it is confirmed anyway (400).",
        tags: ['evidence'],
        params: {
          type: 'object',
          required: ['unitId', 'month'],
          properties: { unitId: idParam, month: monthParam },
        },
        body: commentBody,
        response: { 201: confirmationVersionSchema },
      },
    },
    async (request, reply) => {
      const store = need();
      const p = request.principal!;
      if (p.role !== 'enterprise')
        throw new MrvError(
          'MRV_E_FORBIDDEN',
          `只有重点排放单位 (企业) 账户可以确认月度存证 / only the enterprise (plant) account confirms a month; a ${p.role} ${p.role === 'regulator' ? 'reviews it' : 'does not'}`,
        );
      const { unitId, month } = request.params;
      const comment = request.body?.comment?.trim() || undefined;
      const now = clock.now();
      const period = monthPeriod(month);
      if (now < period.to)
        throw new MrvError(
          'MRV_E_CONFIRMATION',
          `月份 ${month} 尚未结束 / ${month} has not ended yet: it can be confirmed from ${new Date(period.to).toISOString()} (00:00 UTC+8 of the next month)`,
          { unitId, month },
        );
      registered(unitId);
      const k = signingKey();
      const pkg = await fromStore('build the evidence', () =>
        buildEvidence({
          store: options.store,
          unitId,
          month,
          now,
          generator,
          key: k,
          sites,
          ...(options.units ? { units: options.units } : {}),
          ...(d.evidenceConfig ? { config: d.evidenceConfig } : {}),
        }),
      );
      const status = pkg.content?.status;
      if (status === undefined || status === 'no_data')
        throw new MrvError(
          'MRV_E_CONFIRMATION',
          `月份 ${month} 无数据，不能确认 / ${month} has no data (content status no_data${pkg.content ? `: ${pkg.content.reasons.join(', ')}` : ''}): there is nothing to confirm`,
          { unitId, month, contentStatus: status ?? null },
        );
      if (status === 'incomplete' && comment === undefined)
        throw new MrvError(
          'MRV_E_BAD_REQUEST',
          `月份 ${month} 数据不完整 (${pkg.content?.reasons.join(', ')})，确认需填写说明 / ${month} is incomplete (${pkg.content?.reasons.join(', ')}): give a comment explaining why it is confirmed as it is`,
          { unitId, month, reasons: pkg.content?.reasons ?? [] },
        );
      const packageJson = JSON.stringify(pkg);
      const v = await store.confirm({
        unitId,
        month,
        packageJson,
        packageKeyId: pkg.signature.keyId,
        contentStatus: status,
        actor: actorOf(p),
        actorName: p.name,
        ...(comment !== undefined ? { comment } : {}),
        sign: (bytes) => sign(null, bytes, k.privateKey).toString('base64'),
      });
      request.log.info(
        { unitId, month, version: v.version, sha256: v.packageSha256, by: p.tokenId },
        'evidence: month confirmed',
      );
      return reply.code(201).send(v);
    },
  );

  app.get<{
    Params: { unitId: string; month: string; version: number };
    Querystring: { format?: 'json' | 'xlsx' | 'csv' | 'html' };
  }>(
    '/api/v1/units/:unitId/confirmations/:month/versions/:version',
    {
      schema: {
        summary:
          'A confirmed version: the frozen package bytes (JSON, verifiable by mrv verify), or an XLSX/CSV/HTML rendering',
        description:
          "JSON answers exactly the bytes confirmed, their SHA-256 in x-sha256. XLSX: the key parameters (关键参数) for the national platform's monthly form, each row with the month, unit, version and digest.",
        tags: ['evidence'],
        params: {
          type: 'object',
          required: ['unitId', 'month', 'version'],
          properties: { unitId: idParam, month: monthParam, version: { type: 'integer', minimum: 1 } },
        },
        querystring: {
          type: 'object',
          properties: { format: { type: 'string', enum: ['json', 'xlsx', 'csv', 'html'] } },
        },
      },
    },
    async (request, reply: FastifyReply) => {
      const { unitId, month, version } = request.params;
      const text = await frozen(unitId, month, version);
      const sha = sha256Hex(text);
      const name = `evidence-${unitId}-${month}-v${version}`;
      reply.header('x-sha256', sha).header('x-confirmation-version', String(version));
      const format = request.query.format ?? 'json';
      if (format === 'json')
        return reply
          .type('application/json; charset=utf-8')
          .header('content-disposition', `inline; filename="${name}.json"`)
          .send(text);
      const pkg = JSON.parse(text) as EvidencePackage;
      if (format === 'csv')
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${name}.csv"`)
          .send(`\uFEFF${evidenceCsv(pkg)}`);
      if (format === 'html')
        return reply
          .type('text/html; charset=utf-8')
          .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
          .send(evidenceHtml(pkg));
      const v = await need().version(unitId, month, version);
      const bytes = await evidenceXlsx(pkg, {
        sha256: sha,
        version,
        ...(v ? { confirmedAt: v.confirmedAt, confirmedBy: v.confirmedByName } : {}),
        ...(v?.review ? { reviewedAt: v.review.at, reviewedBy: v.review.name } : {}),
      });
      return reply
        .type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
        .header('content-disposition', `attachment; filename="${name}.xlsx"`)
        .send(bytes);
    },
  );

  app.get<{ Params: { unitId: string; month: string; version: number } }>(
    '/api/v1/units/:unitId/confirmations/:month/versions/:version/receipt',
    {
      schema: {
        summary:
          "A version's signed receipt as a file: what was confirmed, by whom, when; mrv verify checks it (with --package the frozen bytes)",
        tags: ['evidence'],
        params: {
          type: 'object',
          required: ['unitId', 'month', 'version'],
          properties: { unitId: idParam, month: monthParam, version: { type: 'integer', minimum: 1 } },
        },
      },
    },
    async (request, reply) => {
      const { unitId, month, version } = request.params;
      const v = await need().version(unitId, month, version);
      if (v === undefined)
        throw new MrvError('MRV_E_NOT_FOUND', `${unitId} ${month} has no confirmed version ${version}`, {
          unitId,
          month,
          version,
        });
      return reply
        .type('application/json; charset=utf-8')
        .header('content-disposition', `inline; filename="receipt-${unitId}-${month}-v${version}.json"`)
        .send(JSON.stringify(signedReceipt(v.receipt, v.signature)));
    },
  );

  app.post<{
    Params: { unitId: string; month: string; version: number };
    Body: { comment?: string } | undefined;
  }>(
    '/api/v1/units/:unitId/confirmations/:month/versions/:version/review',
    {
      config: { roles: ['enterprise', 'regulator', 'admin'] },
      schema: {
        summary: 'Mark the latest confirmed version reviewed (regulator), with an optional comment',
        description:
          'Only the latest version, once (409 MRV_E_CONFIRMATION for a superseded or reviewed version).',
        tags: ['evidence'],
        params: {
          type: 'object',
          required: ['unitId', 'month', 'version'],
          properties: { unitId: idParam, month: monthParam, version: { type: 'integer', minimum: 1 } },
        },
        body: commentBody,
        response: { 200: confirmationVersionSchema },
      },
    },
    async (request) => {
      const store = need();
      const p = request.principal!;
      if (p.role !== 'regulator')
        throw new MrvError(
          'MRV_E_FORBIDDEN',
          `只有主管部门 (监管) 账户可以审核 / only a regulator reviews a confirmed month; a ${p.role} ${p.role === 'enterprise' ? 'confirms it' : 'does not'}`,
        );
      const { unitId, month, version } = request.params;
      const comment = request.body?.comment;
      const v = await store.review({
        unitId,
        month,
        version,
        actor: actorOf(p),
        actorName: p.name,
        ...(comment !== undefined ? { comment } : {}),
      });
      request.log.info({ unitId, month, version, by: p.tokenId }, 'evidence: version reviewed');
      return v;
    },
  );
}
