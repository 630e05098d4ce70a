/**
 * The findings workflow over HTTP (问题清单 → 整改; docs/architecture.md §8a, state machine in
 * `state/finding-workflow.ts`):
 * - `POST /api/v1/findings/:findingId/acknowledge` `{text?}` (enterprise, admin)
 * - `POST /api/v1/findings/:findingId/explain` `{text, attachment?: {fileName, contentType, dataBase64}}`
 *   (enterprise, admin; attachment at most 2 MiB, PDF/PNG/JPEG/text/CSV whose bytes match the type,
 *   stored with its SHA-256)
 * - `POST /api/v1/findings/:findingId/close` `{text?}`, `.../reopen` `{text?}` (regulator, admin)
 *   → `200` the finding's workflow `{findingId, unitId, state, actions, explanation?, attachment?, ...}`
 * - `GET /api/v1/findings/:findingId` → `{workflow, history}`: the workflow and its audit rows (who, when)
 * - `GET /api/v1/findings/:findingId/attachments/:sha256` → the attachment's bytes
 * - `GET /api/v1/findings/open-counts` → `{unitId: n}` open findings (open, acknowledged, explained) per
 *   unit in scope, for the overview
 * - `GET /api/v1/audit?unit=&limit=` (admin) → the newest audit rows
 *
 * A finding is known here once a findings listing (`GET /api/v1/units/:unitId/findings`) has shown
 * it. A finding outside the caller's scope answers 404 like an unknown one (nobody learns of another
 * unit's findings); a role that may not take the action 403 `MRV_E_FORBIDDEN`; an action the state
 * does not allow 409 `MRV_E_FINDING_TRANSITION`. Without a state database every route answers 503
 * `MRV_E_STATE_DB`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MrvError } from '../core/errors.ts';
import type { Auth, UnitDirectory } from './auth.ts';
import {
  allowedActions,
  SHOWN_STATES,
  WORKFLOW_ACTIONS,
  type WorkflowAction,
} from './state/finding-workflow.ts';
import {
  ATTACHMENT_TYPES,
  type FindingWorkflow,
  MAX_ATTACHMENT_BYTES,
  MAX_TEXT_LENGTH,
  type StateStore,
} from './state/state-store.ts';
import { canSeeUnit, type Principal } from './tokens.ts';

/** What {@link registerWorkflowRoutes} needs. */
export interface WorkflowRoutesOptions {
  state: StateStore | undefined;
  auth: Auth;
  units: UnitDirectory;
}

const findingIdParam = { type: 'string', minLength: 1, maxLength: 128 } as const;

/** JSON schema of a workflow answer. */
export const workflowSchema = {
  type: 'object',
  required: ['findingId', 'unitId', 'state', 'workflowState', 'producerState', 'updatedAt', 'actions'],
  properties: {
    findingId: { type: 'string' },
    unitId: { type: 'string' },
    state: { type: 'string', enum: [...SHOWN_STATES] },
    workflowState: { type: 'string' },
    producerState: { type: 'string', enum: ['open', 'resolved'] },
    updatedAt: { type: 'string' },
    updatedBy: { type: 'string' },
    explanation: { type: 'string' },
    explainedBy: { type: 'string' },
    explainedAt: { type: 'string' },
    comment: { type: 'string' },
    closedBy: { type: 'string' },
    closedAt: { type: 'string' },
    reopenCount: { type: 'integer' },
    attachment: {
      type: 'object',
      properties: {
        sha256: { type: 'string' },
        fileName: { type: 'string' },
        contentType: { type: 'string' },
        size: { type: 'integer' },
      },
    },
    actions: { type: 'array', items: { type: 'string', enum: [...WORKFLOW_ACTIONS] } },
  },
} as const;

/** A workflow with the actions `principal` may take on it. */
export function withActions(
  w: FindingWorkflow,
  principal: Principal,
): FindingWorkflow & { actions: WorkflowAction[] } {
  return { ...w, actions: allowedActions(w.state, principal.role) };
}

/** Registers the workflow routes (see the file comment). */
export function registerWorkflowRoutes(app: FastifyInstance, opts: WorkflowRoutesOptions): void {
  const need = (): StateStore => {
    if (opts.state === undefined)
      throw new MrvError(
        'MRV_E_STATE_DB',
        'this server runs without a state database: the findings workflow is not available',
      );
    return opts.state;
  };
  // Scope by the unit registry's province only (auth.ts UnitDirectory), never what a gateway claims.
  const province = async (unitId: string) => opts.units.province(unitId);
  /** The workflow of a finding the principal may see, else 404. */
  const visible = async (request: FastifyRequest, findingId: string): Promise<FindingWorkflow> => {
    const w = await need().findingWorkflow(findingId);
    const p = request.principal!;
    if (w === undefined || !canSeeUnit(p, w.unitId, await province(w.unitId)))
      throw new MrvError('MRV_E_NOT_FOUND', `no finding "${findingId}" in this account's scope`);
    return w;
  };
  const allRoles = { roles: ['admin', 'regulator', 'enterprise'] as const };

  app.get(
    '/api/v1/findings/open-counts',
    {
      schema: {
        summary: 'Open findings (open, acknowledged, explained; not resolved or closed) per unit in scope',
        tags: ['findings'],
        response: { 200: { type: 'object', additionalProperties: { type: 'integer' } } },
      },
    },
    async (request) => {
      const units = opts.auth.filterUnits(request.principal, await opts.units.units());
      const counts = await need().openCounts(units.map((u) => u.id));
      return Object.fromEntries(units.map((u) => [u.id, counts.get(u.id) ?? 0]));
    },
  );

  app.get<{ Params: { findingId: string } }>(
    '/api/v1/findings/:findingId',
    {
      schema: {
        summary: "A finding's workflow and its history from the audit log (who did what, when)",
        tags: ['findings'],
        params: { type: 'object', required: ['findingId'], properties: { findingId: findingIdParam } },
      },
    },
    async (request) => {
      const w = await visible(request, request.params.findingId);
      const history = await need().listAudit({ targetKind: 'finding', targetId: w.findingId });
      return { workflow: withActions(w, request.principal!), history };
    },
  );

  app.get<{ Params: { findingId: string; sha256: string } }>(
    '/api/v1/findings/:findingId/attachments/:sha256',
    {
      schema: {
        summary: "An explanation's attachment (its bytes, with the content type it was checked as)",
        tags: ['findings'],
        params: {
          type: 'object',
          required: ['findingId', 'sha256'],
          properties: { findingId: findingIdParam, sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
        },
      },
    },
    async (request, reply) => {
      const w = await visible(request, request.params.findingId);
      const a = await need().attachment(w.findingId, request.params.sha256);
      if (a === undefined) throw new MrvError('MRV_E_NOT_FOUND', 'no such attachment');
      const ascii = a.fileName.replace(/[^A-Za-z0-9._-]/g, '_');
      return reply
        .type(a.contentType)
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'none'")
        .header(
          'content-disposition',
          `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(a.fileName)}`,
        )
        .header('x-sha256', a.sha256)
        .send(a.data);
    },
  );

  for (const action of WORKFLOW_ACTIONS) {
    app.post<{
      Params: { findingId: string };
      Body: { text?: string; attachment?: { fileName: string; contentType: string; dataBase64: string } };
    }>(
      `/api/v1/findings/:findingId/${action}`,
      {
        config: allRoles,
        // An attachment of 2 MiB is 2.7 MiB in base64.
        bodyLimit: action === 'explain' ? Math.ceil((MAX_ATTACHMENT_BYTES * 4) / 3) + 64 * 1024 : 64 * 1024,
        schema: {
          summary: {
            acknowledge: 'Acknowledge a finding (enterprise): open → acknowledged',
            explain: 'Explain a finding (enterprise), optionally with an attachment: → explained',
            close: 'Close an explained finding (regulator): explained → closed',
            reopen: 'Reopen an explained or closed finding (regulator): → open',
          }[action],
          tags: ['findings'],
          params: { type: 'object', required: ['findingId'], properties: { findingId: findingIdParam } },
          body: {
            type: 'object',
            additionalProperties: false,
            ...(action === 'explain' ? { required: ['text'] } : {}),
            properties: {
              text: { type: 'string', maxLength: MAX_TEXT_LENGTH },
              ...(action === 'explain'
                ? {
                    attachment: {
                      type: 'object',
                      required: ['fileName', 'contentType', 'dataBase64'],
                      additionalProperties: false,
                      properties: {
                        fileName: { type: 'string', minLength: 1, maxLength: 200 },
                        contentType: { type: 'string', enum: [...ATTACHMENT_TYPES] },
                        dataBase64: {
                          type: 'string',
                          maxLength: Math.ceil((MAX_ATTACHMENT_BYTES * 4) / 3) + 4,
                        },
                      },
                    },
                  }
                : {}),
            },
          },
          response: { 200: workflowSchema },
        },
      },
      async (request) => {
        const body = request.body ?? {};
        let attachment: { fileName: string; contentType: string; data: Buffer } | undefined;
        if (body.attachment !== undefined) {
          const b64 = body.attachment.dataBase64;
          if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0)
            throw new MrvError('MRV_E_BAD_REQUEST', 'attachment.dataBase64 is not base64');
          attachment = {
            fileName: body.attachment.fileName,
            contentType: body.attachment.contentType,
            data: Buffer.from(b64, 'base64'),
          };
        }
        const w = await need().act(request.params.findingId, action, request.principal!, province, {
          ...(body.text !== undefined ? { text: body.text } : {}),
          ...(attachment !== undefined ? { attachment } : {}),
        });
        request.log.info(
          { findingId: w.findingId, action, state: w.state, by: request.principal?.tokenId },
          'findings: workflow action',
        );
        return withActions(w, request.principal!);
      },
    );
  }

  app.get<{ Querystring: { unit?: string; limit?: number } }>(
    '/api/v1/audit',
    {
      config: { roles: ['admin'] },
      schema: {
        summary: 'The newest audit rows (accounts, logins, findings workflow), oldest first',
        tags: ['admin'],
        querystring: {
          type: 'object',
          properties: {
            unit: { type: 'string', minLength: 1, maxLength: 64 },
            limit: { type: 'integer', minimum: 1, maximum: 5000 },
          },
        },
      },
    },
    async (request) =>
      need().listAudit({
        ...(request.query.unit !== undefined ? { unitIds: [request.query.unit] } : {}),
        limit: request.query.limit ?? 500,
      }),
  );
}
