/**
 * Shapes of `GET /api/v1/units/{unitId}/evidence/{month}` (the signed monthly evidence package,
 * core/domain/evidence.ts `EvidencePackage`, formatVersion 1 or 2) and of
 * `POST /api/v1/evidence/verify` (server/verify-route.ts): their routes declare no response schema, so
 * openapi-fetch types them `unknown`. Only the fields the evidence page reads; decimals are strings.
 */

/** Content status of a package (formatVersion 2): what it knows, before any signature check. */
export type ContentStatus = 'no_data' | 'incomplete' | 'complete';

/** Why a package is not complete. */
export type ContentReason =
  | 'nothing_monitored'
  | 'no_readings'
  | 'month_not_over'
  | 'gaps'
  | 'parameter_missing';

/** How a parameter's value came about. */
export type ParameterMethod = 'measured' | 'calculated' | 'default' | 'not_measured';

/** A point's share of a parameter. */
export interface EvidencePoint {
  id: string;
  sign: '+' | '-';
  meter: string | null;
  unit: string;
  aggregation: string;
  value: string | null;
  readings: number;
  readingsOutsideCalibration: number | null;
}

/** A parameter (关键参数 when `role` is `key`). */
export interface EvidenceParameter {
  id: string;
  nameZh: string;
  nameEn: string;
  role: 'key' | 'supporting';
  unit: string;
  value: string | null;
  method: ParameterMethod;
  source: { guideline: string; clause: string; standing: 'official' | 'practice' | 'unconfirmed' };
  measurement: { zh: string; en: string };
  points: EvidencePoint[];
}

/** Completeness of one point over the month. */
export interface EvidenceCompleteness {
  point: string;
  expected: number;
  received: number;
  good: number;
  uncertain: number;
  bad: number;
  coveredShare: string | null;
  gapSummary: Record<string, { count: number; ms: number }>;
}

/** A parameter measured by default, estimate or not at all, with its consequence. */
export interface EvidenceNotice {
  parameter: string;
  issue: 'not_supplied' | 'no_data' | 'partial_data';
  method: ParameterMethod;
  emissions: string[];
  consequence: { zh: string; en: string };
}

/** A factor as an emission figure cites it. */
export interface CitedFactor {
  id: string;
  value: string;
  unit: string;
  source: string;
  confirmed: boolean;
  clause?: string;
}

/** One emission figure. */
export interface EmissionItem {
  id: string;
  nameZh: string;
  nameEn: string;
  gas: string;
  mass: string | null;
  co2e: string;
  method: 'calculated' | 'default';
  formula: string;
  inputs: { parameter: string; value: string; unit: string; converted?: { value: string; unit: string } }[];
  factors: CitedFactor[];
}

/** A finding as the package cites it (only what the page counts and shows). */
export interface EvidenceFinding {
  id: string;
  code: string;
  severity: string;
  ts: string;
  message: { zh: string; en: string };
}

/** The package. */
export interface EvidencePackage {
  kind: 'monthly-evidence';
  formatVersion: 1 | 2;
  content?: {
    status: ContentStatus;
    reasons: ContentReason[];
    judgedTo: string;
    expected: number;
    received: number;
    coveredShare: string | null;
  };
  notices?: EvidenceNotice[];
  unit: { id: string; name: string; industry: string; province: string };
  month: string;
  period: { from: string; to: string };
  deadline: string;
  generatedAt: string;
  generator: string;
  parameters: EvidenceParameter[];
  completeness: EvidenceCompleteness[];
  meters: { id: string; name: string; kind: string }[];
  findings: EvidenceFinding[];
  storedFindings: EvidenceFinding[];
  resolvedFindings?: EvidenceFinding[];
  emissions: {
    factorPack: { id: string; packVersion: string; gwpSet: string; digest?: string };
    items: EmissionItem[];
    totalCo2e: string;
    unconfirmedFactors?: string[];
    notes: string[];
  };
  signature?: { alg: 'Ed25519'; keyId: string; publicKey: string; value: string };
}

/** `POST /api/v1/evidence/verify`'s answer (200); 422/400 come as errors. */
export interface VerifyVerdict {
  ok: boolean;
  keyId: string;
  owner?: string;
  code?: string;
  reason?: string;
}
