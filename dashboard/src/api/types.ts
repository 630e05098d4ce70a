/**
 * Shapes of the answers whose routes declare no response schema in the OpenAPI document (so
 * openapi-fetch types them `unknown`): as documented in server/domain-routes.ts and
 * server/workflow-routes.ts. Only the fields the dashboard reads.
 */

/** A meter of `GET /api/v1/units/{unitId}/meters`. */
export interface Meter {
  id: string;
  name: string;
  kind: string;
  model?: string;
  serial?: string;
  accuracyClass?: string;
  range?: string;
  location?: string;
  points: string[];
  calibration: {
    status: 'valid' | 'due_soon' | 'expired' | 'missing';
    validUntil: string | null;
    certificate: string | null;
    daysLeft: number | null;
  };
}

/** A finding's workflow (server/workflow-routes.ts `workflowSchema`). */
export interface FindingWorkflow {
  findingId: string;
  unitId: string;
  state: 'open' | 'acknowledged' | 'explained' | 'closed' | 'resolved';
  actions: ('acknowledge' | 'explain' | 'close' | 'reopen')[];
  explanation?: string;
  updatedAt: string;
}

/** A finding of `GET /api/v1/units/{unitId}/findings`. */
export interface Finding {
  id: string;
  unitId: string;
  ts: string;
  code: string;
  severity: 'info' | 'warning' | 'error' | 'critical';
  /** Bilingual text (core/schema/finding.ts `BilingualText`). */
  message: { zh: string; en: string };
  class: string;
  point?: string;
  state?: 'open' | 'resolved';
  workflow?: FindingWorkflow;
}
