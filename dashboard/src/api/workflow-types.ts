/**
 * Shapes of the findings-workflow and meter-ledger answers the findings and ledger pages read, as
 * documented in server/workflow-routes.ts and server/ledger-routes.ts (routes without a typed
 * response in the OpenAPI document, or whose generated type is looser than what the server sends).
 */
import type { Finding, FindingWorkflow } from './types.ts';

/** A finding's workflow with every field `workflowSchema` (server/workflow-routes.ts) may carry. */
export interface FullWorkflow extends FindingWorkflow {
  updatedBy?: string;
  explainedBy?: string;
  explainedAt?: string;
  comment?: string;
  closedBy?: string;
  closedAt?: string;
  reopenCount?: number;
  attachment?: { sha256: string; fileName: string; contentType: string; size: number };
}

/** A finding of `GET /api/v1/units/{unitId}/findings` with its workflow and resolution. */
export interface ListedFinding extends Omit<Finding, 'workflow'> {
  rule?: string;
  source?: string;
  resolvedAt?: string;
  resolution?: { by: string; message: { zh: string; en: string } };
  workflow?: FullWorkflow;
}

/** An audit row (`GET /api/v1/audit`, `GET /api/v1/findings/{id}` `history`, a ledger meter's `history`). */
export interface AuditRow {
  seq: number;
  at: string;
  actor: string;
  actorRole: string;
  action: string;
  targetKind: string;
  targetId: string;
  unitId?: string;
  detail: Record<string, unknown>;
}
