/**
 * The meter ledger over HTTP (计量器具台账, docs/architecture.md §8a; store in state/meter-ledger.ts):
 * - `GET /api/v1/units/:unitId/ledger/meters?at=&dueSoonDays=` → the unit's meters of the ledger, each
 *   with its calibration status at `at` (default now) from its current certificates, and those
 *   certificates;
 * - `POST /api/v1/units/:unitId/ledger/meters` `{id, name, kind, model?, serial?, accuracyClass?, range?,
 *   location?}` (enterprise, metrologist, admin) → `201` a meter no site file of this server describes (a server
 *   whose catalogue comes from the gateways alone: the points name their meter by id);
 * - `GET /api/v1/units/:unitId/ledger/meters/:meterId?at=&dueSoonDays=` → `{meter, calibration,
 *   certificates, history}`: the meter, its status, every certificate row ever entered (superseded
 *   ones and withdrawals included, each with its `state`) and the meter's audit rows (who, when);
 * - `POST /api/v1/units/:unitId/ledger/meters/:meterId/certificates` `{kind, certificate, body,
 *   regulation?, date, validUntil, result, scan: {fileName, contentType, dataBase64}}` (enterprise,
 *   metrologist, admin) → `201` the certificate: a first certificate or a renewal; the scan (PDF, PNG or JPEG whose
 *   bytes are what the type says, at most 2 MiB) is stored with its SHA-256;
 * - `POST /api/v1/units/:unitId/ledger/meters/:meterId/certificates/:certificateId/correction`
 *   `{reason, certificate?: {...as above, scan optional}, withdraw?: true}` (enterprise, metrologist, admin) →
 *   `201` the new row, which supersedes the corrected one (that one stays in the history);
 * - `GET .../certificates/:certificateId/scan` → the scan's bytes (`nosniff`, as an attachment).
 *
 * Scope: the auth hook (auth.ts) answers 403 for a `:unitId` outside the caller's scope, so an
 * enterprise or metrologist account reads and changes its own units only; regulators read. Errors from the catalogue:
 * 400 `MRV_E_BAD_REQUEST` (dates, fields), 404 `MRV_E_NOT_FOUND` (unknown unit, meter, certificate),
 * 409 `MRV_E_LEDGER_CONFLICT`, 413 `MRV_E_TOO_LARGE`, 415 `MRV_E_UNSUPPORTED_MEDIA`; without a state
 * database 503 `MRV_E_STATE_DB`.
 *
 * When the server is ready (fastify `onReady`) the ledger is seeded from the site files it loads
 * (`domain.sites`; state/meter-ledger.ts `seedFromSites`), so the ledger starts as the site files say.
 */
import type { FastifyInstance } from 'fastify';
import { calibrationStatus, DEFAULT_DUE_SOON_DAYS } from '../core/domain/index.ts';
import { MrvError } from '../core/errors.ts';
import { type Clock, systemClock } from '../core/time.ts';
import { unitCatalogue } from '../evidence/service.ts';
import { fromStore } from './errors.ts';
import type { ServerOptions } from './options.ts';
import { parseInstant } from './query.ts';
import {
  asCalibration,
  type CertificateInput,
  type LedgerCertificate,
  type LedgerMeter,
  ledgerOf,
  MAX_FIELD_LENGTH,
  MAX_REASON_LENGTH,
  MAX_SCAN_BYTES,
  type MeterInput,
  type MeterLedger,
  type ScanInput,
} from './state/meter-ledger.ts';
import { actorOf } from './state/state-store.ts';
import type { Role } from './tokens.ts';

const idParam = { type: 'string', minLength: 1, maxLength: 64 } as const;
const certificateIdParam = {
  type: 'string',
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9-]+$',
} as const;
/** Base64 of the largest scan, with its padding. */
const MAX_SCAN_BASE64 = Math.ceil(MAX_SCAN_BYTES / 3) * 4;

const scanSchema = {
  type: 'object',
  required: ['sha256', 'contentType', 'size', 'fileName'],
  properties: {
    sha256: { type: 'string' },
    contentType: { type: 'string' },
    size: { type: 'integer' },
    fileName: { type: 'string' },
  },
} as const;

/** JSON schema of a certificate row. */
export const certificateSchema = {
  type: 'object',
  required: [
    'id',
    'unitId',
    'meterId',
    'kind',
    'certificate',
    'body',
    'date',
    'validUntil',
    'result',
    'source',
    'state',
    'createdBy',
    'createdAt',
  ],
  properties: {
    id: { type: 'string' },
    unitId: { type: 'string' },
    meterId: { type: 'string' },
    kind: { type: 'string', enum: ['verification', 'calibration'] },
    certificate: { type: 'string', description: 'certificate number 证书编号' },
    body: { type: 'string', description: 'verification/calibration body 检定机构' },
    regulation: { type: 'string' },
    date: { type: 'string', format: 'date' },
    validUntil: { type: 'string', format: 'date', description: 'last valid day (UTC+8), inclusive' },
    result: { type: 'string' },
    source: { type: 'string', enum: ['site', 'ledger'], description: 'site: seeded from a site file' },
    scan: scanSchema,
    state: { type: 'string', enum: ['current', 'superseded', 'withdrawal'] },
    supersedes: { type: 'string' },
    supersededBy: { type: 'string' },
    revokedAt: { type: 'string' },
    reason: { type: 'string' },
    createdBy: { type: 'string' },
    createdAt: { type: 'string' },
  },
} as const;

const calibrationSchema = {
  type: 'object',
  required: ['status', 'certificate', 'validUntil', 'daysLeft'],
  properties: {
    status: { type: 'string', enum: ['valid', 'due_soon', 'expired', 'missing'] },
    certificate: { type: ['string', 'null'] },
    validUntil: { type: ['string', 'null'] },
    daysLeft: { type: ['integer', 'null'] },
  },
} as const;

const meterProperties = {
  unitId: { type: 'string' },
  id: { type: 'string' },
  name: { type: 'string' },
  kind: { type: 'string' },
  model: { type: 'string' },
  serial: { type: 'string' },
  accuracyClass: { type: 'string' },
  range: { type: 'string' },
  location: { type: 'string' },
  seededFromSiteAt: { type: 'string' },
  createdAt: { type: 'string' },
  updatedAt: { type: 'string' },
} as const;

/** JSON schema of a ledger meter with its status and current certificates. */
export const ledgerMeterSchema = {
  type: 'object',
  required: ['unitId', 'id', 'name', 'kind', 'calibration', 'certificates'],
  properties: {
    ...meterProperties,
    calibration: calibrationSchema,
    certificates: { type: 'array', items: certificateSchema },
  },
} as const;

const auditSchema = {
  type: 'object',
  properties: {
    seq: { type: 'integer' },
    at: { type: 'string' },
    actor: { type: 'string' },
    actorRole: { type: 'string' },
    action: { type: 'string' },
    targetKind: { type: 'string' },
    targetId: { type: 'string' },
    unitId: { type: 'string' },
    detail: { type: 'object', additionalProperties: true },
  },
} as const;

const scanBody = {
  type: 'object',
  required: ['fileName', 'contentType', 'dataBase64'],
  additionalProperties: false,
  properties: {
    fileName: { type: 'string', minLength: 1, maxLength: MAX_FIELD_LENGTH },
    // Not an enum: a type outside PDF/PNG/JPEG answers 415 MRV_E_UNSUPPORTED_MEDIA, not a schema 400.
    contentType: { type: 'string', minLength: 1, maxLength: 200 },
    dataBase64: { type: 'string', description: 'the scan, base64; at most 2 MiB decoded' },
  },
} as const;

const certificateBody = (scanRequired: boolean) =>
  ({
    type: 'object',
    required: [
      'kind',
      'certificate',
      'body',
      'date',
      'validUntil',
      'result',
      ...(scanRequired ? ['scan'] : []),
    ],
    additionalProperties: false,
    properties: {
      kind: { type: 'string', enum: ['verification', 'calibration'], description: '检定 or 校准' },
      certificate: { type: 'string', maxLength: MAX_FIELD_LENGTH, description: 'certificate number' },
      body: { type: 'string', maxLength: MAX_FIELD_LENGTH, description: 'verification body 检定机构' },
      regulation: { type: 'string', maxLength: MAX_FIELD_LENGTH, description: 'e.g. JJG 539-2016' },
      date: { type: 'string', maxLength: 10, description: 'yyyy-mm-dd (UTC+8)' },
      validUntil: { type: 'string', maxLength: 10, description: 'yyyy-mm-dd (UTC+8), inclusive' },
      result: { type: 'string', maxLength: MAX_FIELD_LENGTH, description: '合格 pass, 不合格 fail, ...' },
      scan: scanBody,
    },
  }) as const;

interface ScanBody {
  fileName: string;
  contentType: string;
  dataBase64: string;
}
type CertificateBody = Omit<CertificateInput, 'scan'> & { scan?: ScanBody };

/** A scan from its JSON form. @throws MrvError `MRV_E_TOO_LARGE`, `MRV_E_BAD_REQUEST` */
function scanOf(b: ScanBody): ScanInput {
  const b64 = b.dataBase64;
  if (b64.length > MAX_SCAN_BASE64)
    throw new MrvError('MRV_E_TOO_LARGE', `a certificate scan has at most ${MAX_SCAN_BYTES} bytes`);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0)
    throw new MrvError('MRV_E_BAD_REQUEST', 'scan.dataBase64 is not base64');
  return { fileName: b.fileName, contentType: b.contentType, data: Buffer.from(b64, 'base64') };
}

function inputOf(b: CertificateBody): CertificateInput {
  const { scan, ...rest } = b;
  return { ...rest, ...(scan !== undefined ? { scan: scanOf(scan) } : {}) };
}

/** Registers the meter-ledger routes (see the file comment) and the seeding at `onReady`. */
export function registerLedgerRoutes(app: FastifyInstance, options: ServerOptions): void {
  const clock: Clock = options.clock ?? systemClock;
  const sites = options.domain?.sites ?? [];
  const dueSoonDefault = options.domain?.dueSoonDays ?? DEFAULT_DUE_SOON_DAYS;
  const ledger: MeterLedger | undefined = options.state
    ? ledgerOf(options.state, { today: () => clock.now() })
    : undefined;
  const need = (): MeterLedger => {
    if (ledger === undefined)
      throw new MrvError(
        'MRV_E_STATE_DB',
        'this server runs without a state database: the meter ledger is not available',
      );
    return ledger;
  };
  /** 404 unless the unit is known (ledger meters, site files, store or registry), as `/meters` does. */
  const knownUnit = async (unitId: string, meters: LedgerMeter[]): Promise<void> => {
    if (meters.length > 0) return;
    const c = await fromStore('read the catalogue', () =>
      unitCatalogue(options.store, unitId, sites, options.units),
    );
    if (!c && !options.units?.get(unitId))
      throw new MrvError('MRV_E_NOT_FOUND', `unknown unit "${unitId}"`, { unitId });
  };
  const meterOrThrow = async (unitId: string, meterId: string): Promise<LedgerMeter> => {
    const m = await need().meter(unitId, meterId);
    if (m === undefined)
      throw new MrvError('MRV_E_NOT_FOUND', `no meter "${meterId}" in the ledger of unit "${unitId}"`, {
        unitId,
        meterId,
      });
    return m;
  };
  const withStatus = (m: LedgerMeter, certs: LedgerCertificate[], at: number, dueSoonDays: number) => {
    const current = certs
      .filter((c) => c.meterId === m.id && c.state === 'current')
      .sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
    return {
      ...m,
      calibration: calibrationStatus(
        { id: m.id, name: m.name, kind: m.kind, calibrations: current.map(asCalibration) },
        at,
        dueSoonDays,
      ),
      certificates: current,
    };
  };
  const statusQuery = {
    type: 'object',
    properties: {
      at: { type: 'string', maxLength: 64, description: 'instant of the status; default now' },
      dueSoonDays: { type: 'integer', minimum: 0, maximum: 3650, description: 'warning window, days' },
    },
  } as const;
  const writers = { roles: ['admin', 'enterprise', 'metrologist'] as Role[] };

  app.addHook('onReady', async () => {
    if (ledger === undefined || sites.length === 0) return;
    const added = await ledger.seedFromSites(sites);
    app.log.info(added, 'meter ledger: seeded from the site files');
  });

  app.get<{ Params: { unitId: string }; Querystring: { at?: string; dueSoonDays?: number } }>(
    '/api/v1/units/:unitId/ledger/meters',
    {
      schema: {
        summary: "The unit's meters in the meter ledger (计量器具台账) with their calibration status",
        tags: ['ledger'],
        params: { type: 'object', required: ['unitId'], properties: { unitId: idParam } },
        querystring: statusQuery,
        response: { 200: { type: 'array', items: ledgerMeterSchema } },
      },
    },
    async (request) => {
      const at = request.query.at !== undefined ? parseInstant(request.query.at, 'at') : clock.now();
      const { unitId } = request.params;
      const meters = await need().meters(unitId);
      await knownUnit(unitId, meters);
      const certs = await need().certificates(unitId);
      return meters.map((m) => withStatus(m, certs, at, request.query.dueSoonDays ?? dueSoonDefault));
    },
  );

  app.post<{ Params: { unitId: string }; Body: MeterInput }>(
    '/api/v1/units/:unitId/ledger/meters',
    {
      config: writers,
      schema: {
        summary: 'Register a meter no site file of this server describes (its points name it by id)',
        tags: ['ledger'],
        params: { type: 'object', required: ['unitId'], properties: { unitId: idParam } },
        body: {
          type: 'object',
          required: ['id', 'name', 'kind'],
          additionalProperties: false,
          properties: {
            id: { type: 'string', maxLength: 64, description: "the id the points' `meter` names" },
            name: { type: 'string', maxLength: MAX_FIELD_LENGTH },
            kind: {
              type: 'string',
              maxLength: MAX_FIELD_LENGTH,
              description: 'weighbridge, belt-scale, ...',
            },
            model: { type: 'string', maxLength: MAX_FIELD_LENGTH },
            serial: { type: 'string', maxLength: MAX_FIELD_LENGTH },
            accuracyClass: { type: 'string', maxLength: MAX_FIELD_LENGTH },
            range: { type: 'string', maxLength: MAX_FIELD_LENGTH },
            location: { type: 'string', maxLength: MAX_FIELD_LENGTH },
          },
        },
        response: { 201: ledgerMeterSchema },
      },
    },
    async (request, reply) => {
      const { unitId } = request.params;
      await knownUnit(unitId, []);
      const m = await need().addMeter(unitId, request.body, actorOf(request.principal!));
      return reply.code(201).send(withStatus(m, [], clock.now(), dueSoonDefault));
    },
  );

  app.get<{
    Params: { unitId: string; meterId: string };
    Querystring: { at?: string; dueSoonDays?: number };
  }>(
    '/api/v1/units/:unitId/ledger/meters/:meterId',
    {
      schema: {
        summary: 'A meter of the ledger: its status, every certificate ever entered, and its audit rows',
        tags: ['ledger'],
        params: {
          type: 'object',
          required: ['unitId', 'meterId'],
          properties: { unitId: idParam, meterId: idParam },
        },
        querystring: statusQuery,
        response: {
          200: {
            type: 'object',
            required: ['meter', 'certificates', 'history'],
            properties: {
              meter: ledgerMeterSchema,
              certificates: {
                type: 'array',
                items: certificateSchema,
                description: 'every row, oldest first',
              },
              history: { type: 'array', items: auditSchema },
            },
          },
        },
      },
    },
    async (request) => {
      const at = request.query.at !== undefined ? parseInstant(request.query.at, 'at') : clock.now();
      const { unitId, meterId } = request.params;
      const m = await meterOrThrow(unitId, meterId);
      const certs = await need().certificates(unitId, meterId);
      const history = options.state
        ? await options.state.listAudit({ targetKind: 'meter', targetId: `${unitId}/${meterId}` })
        : [];
      return {
        meter: withStatus(m, certs, at, request.query.dueSoonDays ?? dueSoonDefault),
        certificates: certs,
        history,
      };
    },
  );

  app.post<{ Params: { unitId: string; meterId: string }; Body: CertificateBody }>(
    '/api/v1/units/:unitId/ledger/meters/:meterId/certificates',
    {
      config: writers,
      bodyLimit: MAX_SCAN_BASE64 + 64 * 1024,
      schema: {
        summary: 'Add a certificate to a meter (a first one or the renewal), with its scan (PDF/PNG/JPEG)',
        tags: ['ledger'],
        params: {
          type: 'object',
          required: ['unitId', 'meterId'],
          properties: { unitId: idParam, meterId: idParam },
        },
        body: certificateBody(true),
        response: { 201: certificateSchema },
      },
    },
    async (request, reply) => {
      const { unitId, meterId } = request.params;
      const c = await need().addCertificate(
        unitId,
        meterId,
        inputOf(request.body),
        actorOf(request.principal!),
      );
      request.log.info(
        { unitId, meterId, certificateId: c.id, by: request.principal?.tokenId },
        'meter ledger: certificate added',
      );
      return reply.code(201).send(c);
    },
  );

  app.post<{
    Params: { unitId: string; meterId: string; certificateId: string };
    Body: { reason: string; withdraw?: boolean; certificate?: CertificateBody };
  }>(
    '/api/v1/units/:unitId/ledger/meters/:meterId/certificates/:certificateId/correction',
    {
      config: writers,
      bodyLimit: MAX_SCAN_BASE64 + 64 * 1024,
      schema: {
        summary:
          'Correct a certificate (the corrected one supersedes it) or withdraw it; the old row stays in the history',
        tags: ['ledger'],
        params: {
          type: 'object',
          required: ['unitId', 'meterId', 'certificateId'],
          properties: { unitId: idParam, meterId: idParam, certificateId: certificateIdParam },
        },
        body: {
          type: 'object',
          required: ['reason'],
          additionalProperties: false,
          properties: {
            reason: { type: 'string', maxLength: MAX_REASON_LENGTH, description: 'why (required)' },
            withdraw: { type: 'boolean', description: 'withdraw without replacement' },
            certificate: certificateBody(false),
          },
        },
        response: { 201: certificateSchema },
      },
    },
    async (request, reply) => {
      const { unitId, meterId, certificateId } = request.params;
      const b = request.body;
      if ((b.withdraw === true) === (b.certificate !== undefined))
        throw new MrvError(
          'MRV_E_BAD_REQUEST',
          'a correction carries either the corrected certificate or withdraw: true',
        );
      const c = await need().correct(
        unitId,
        meterId,
        certificateId,
        b.certificate !== undefined
          ? { reason: b.reason, certificate: inputOf(b.certificate) }
          : { reason: b.reason, withdraw: true },
        actorOf(request.principal!),
      );
      request.log.info(
        { unitId, meterId, certificateId: c.id, supersedes: certificateId, by: request.principal?.tokenId },
        'meter ledger: certificate corrected',
      );
      return reply.code(201).send(c);
    },
  );

  app.get<{ Params: { unitId: string; meterId: string; certificateId: string } }>(
    '/api/v1/units/:unitId/ledger/meters/:meterId/certificates/:certificateId/scan',
    {
      schema: {
        summary: "A certificate's scan (its bytes, with the content type it was checked as)",
        tags: ['ledger'],
        params: {
          type: 'object',
          required: ['unitId', 'meterId', 'certificateId'],
          properties: { unitId: idParam, meterId: idParam, certificateId: certificateIdParam },
        },
      },
    },
    async (request, reply) => {
      const { unitId, meterId, certificateId } = request.params;
      const s = await need().scan(unitId, meterId, certificateId);
      if (s === undefined)
        throw new MrvError(
          'MRV_E_NOT_FOUND',
          `no scan of certificate "${certificateId}" on meter "${meterId}"`,
        );
      const ascii = s.fileName.replace(/[^A-Za-z0-9._-]/g, '_');
      return reply
        .type(s.contentType)
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'none'")
        .header(
          'content-disposition',
          `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(s.fileName)}`,
        )
        .header('x-sha256', s.sha256)
        .send(s.data);
    },
  );
}
