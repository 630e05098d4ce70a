/**
 * Findings: anything the system noticed about the data that a regulator or plant must see, stored
 * next to the readings (TimeSeriesStore `writeFindings` / `listFindings`) and cited by monthly evidence
 * (DESIGN.md §5, §7). One generic shape serves every producer:
 * - `source: 'integrity'`: the collector's delivery and authenticity checks (seq gaps, signatures,
 *   hash chain, replays, clocks; issue 4), codes `MRV_F_*` listed in {@link IntegrityFindingCodes};
 * - `source: 'validation'`: the validation rules of core/domain (theoretical extreme 理论极值,
 *   threshold 阈值, standard value 标准值, logic check 逻辑校验; issue 5), with their own `rule` id;
 * - `completeness`, `calibration`: reserved for the domain's completeness and calibration checks.
 *
 * A finding's `id` is chosen by its producer so that raising the same finding twice (a collector
 * restarted mid-write, a rule re-run over the same month) writes it once: stores keep one finding per id.
 */
import { z } from 'zod';
import { Identifier, IsoTimestamp } from './wire.ts';

/** Who produced a finding. */
export const FindingSource = z.enum(['integrity', 'validation', 'completeness', 'calibration']);
export type FindingSource = z.infer<typeof FindingSource>;

/** How bad it is: `info` (worth knowing), `warning` (check it), `error` (data affected), `critical` (data not trustworthy). */
export const FindingSeverity = z.enum(['info', 'warning', 'error', 'critical']);
export type FindingSeverity = z.infer<typeof FindingSeverity>;

/** A finding code: `MRV_F_` + upper-case words, e.g. `MRV_F_SEQ_GAP`. */
export const FindingCode = z
  .string()
  .regex(/^MRV_F_[A-Z0-9_]+$/, 'expected a finding code such as MRV_F_SEQ_GAP')
  .describe('stable finding code; code that reacts to findings matches on it, never on the message');

/** A bilingual message (zh-CN first: the dashboard's default language). */
export const BilingualText = z.object({ zh: z.string().min(1), en: z.string().min(1) }).strict();
export type BilingualText = z.infer<typeof BilingualText>;

/**
 * One finding.
 * - `id`: stable, chosen by the producer (idempotent writes), at most 128 characters.
 * - `ts`: the data time the finding is about (e.g. the first reading of the batch), ms-precision
 *   ISO-8601; `listFindings(unitId, from, to)` selects on it.
 * - `at`: when the finding was raised, by the producer's (injected) clock.
 * - `class`: a producer-defined grouping, e.g. `delivery`, `authenticity`, `time` for integrity, or the
 *   rule category (`theoretical-extreme`, `threshold`, `standard-value`, `logic`) for validation.
 * - `detail`: free JSON for the producer (seq range, hashes, point ids, the rejected batch's bytes...).
 */
export const Finding = z
  .object({
    id: z.string().min(1).max(128),
    unitId: Identifier,
    gatewayId: Identifier.optional(),
    point: Identifier.optional().describe('the point concerned, when one is'),
    source: FindingSource,
    code: FindingCode,
    rule: z.string().max(128).optional().describe('the validation rule id that fired (validation findings)'),
    class: z.string().min(1).max(64),
    severity: FindingSeverity,
    message: BilingualText,
    detail: z.record(z.string(), z.unknown()).default({}),
    ts: IsoTimestamp,
    at: IsoTimestamp,
  })
  .strict();
export type Finding = z.infer<typeof Finding>;

/**
 * The integrity findings the collector raises (issue 4). Each entry: severity, class and what it means.
 * Readings are never dropped because of one of these: the batch is stored with its finding.
 */
export const IntegrityFindingCodes = {
  /** `seq` jumped: batches `detail.from..detail.to` never arrived (lost in transit, dropped by a full gateway log, or the collector started late). */
  MRV_F_SEQ_GAP: { severity: 'error', class: 'delivery' },
  /** `sig` does not verify against the gateway's registered public key, or is missing when a key is registered. */
  MRV_F_BAD_SIGNATURE: { severity: 'critical', class: 'authenticity' },
  /** No public key is registered for the gateway while verification is on: the batch is stored unverified. */
  MRV_F_UNKNOWN_KEY: { severity: 'error', class: 'authenticity' },
  /** `prevHash` is not the SHA-256 of the previous batch's canonical bytes: a batch was altered, dropped or reordered. */
  MRV_F_CHAIN_BROKEN: { severity: 'critical', class: 'authenticity' },
  /** An already stored batch arrived again long after the first copy (a replay); not stored twice. */
  MRV_F_REPLAY: { severity: 'warning', class: 'delivery' },
  /** A batch with a stored `seq` but different content: a forgery, a replay of another chain or a gateway whose log was wiped. */
  MRV_F_SEQ_CONFLICT: { severity: 'critical', class: 'authenticity' },
  /** The gateway's clock is ahead of the collector's, or a device's clock is far from the gateway's. */
  MRV_F_CLOCK_SKEW: { severity: 'warning', class: 'time' },
} as const satisfies Record<string, { severity: FindingSeverity; class: string }>;

/** One of the integrity finding codes. */
export type IntegrityFindingCode = keyof typeof IntegrityFindingCodes;
