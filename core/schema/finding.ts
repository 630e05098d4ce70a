/**
 * Findings: anything the system noticed about the data that a regulator or plant must see, stored
 * next to the readings (TimeSeriesStore `writeFindings` / `listFindings`) and cited by monthly evidence
 * (docs/architecture.md §5, §7). One generic shape serves every producer:
 * - `source: 'integrity'`: the collector's delivery and authenticity checks (seq gaps, signatures,
 *   hash chain, replays, clocks; issue 4), codes `MRV_F_*` listed in {@link IntegrityFindingCodes};
 * - `source: 'validation'`: the validation rules of core/domain (theoretical extreme 理论极值,
 *   threshold 阈值, standard value 标准值, logic check 逻辑校验; issue 5), with their own `rule` id;
 * - `completeness`, `calibration`: reserved for the domain's completeness and calibration checks.
 *
 * A finding's `id` is chosen by its producer so that raising the same finding twice (a collector
 * restarted mid-write, a rule re-run over the same month) writes it once: stores keep one finding per id.
 *
 * Lifecycle: a finding is `open` until its producer sees that what it reported no longer holds, then
 * `resolved`, with `resolvedAt` and a {@link FindingResolution} (e.g. a `MRV_F_SEQ_GAP` whose batches
 * arrived late: which seqs, collector/finding-lifecycle.ts). Resolving rewrites the finding under the same
 * id and `ts`; nothing is deleted, so a resolved finding stays on record. A finding without `state`
 * (stored before the lifecycle existed) is open: read it with {@link findingState}.
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

/** Where a finding is in its lifecycle: `open` (still true, cited by evidence) or `resolved`. */
export const FindingState = z.enum(['open', 'resolved']);
export type FindingState = z.infer<typeof FindingState>;

/** An inclusive seq range `[from, to]` of one gateway's batches. */
export const SeqRange = z
  .tuple([z.number().int().min(0), z.number().int().min(0)])
  .refine(([a, b]) => a <= b, 'a seq range is [from, to] with from <= to');
export type SeqRange = z.infer<typeof SeqRange>;

/**
 * Why a finding was resolved.
 * - `by`: what resolved it, a producer-defined word: `late-batches` (the missing batches of a
 *   `MRV_F_SEQ_GAP` were stored after it was raised), `link-verified` (the link a `MRV_F_CHAIN_BROKEN`
 *   named verifies against the archive now);
 * - `seqs`: the batches that resolved it, as seq ranges of the finding's gateway (empty when none);
 * - `message`: bilingual text for people;
 * - `detail`: free JSON for the producer.
 */
export const FindingResolution = z
  .object({
    by: z.string().min(1).max(64),
    seqs: z.array(SeqRange).max(10_000).default([]),
    message: BilingualText,
    detail: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();
export type FindingResolution = z.infer<typeof FindingResolution>;

/**
 * One finding.
 * - `id`: stable, chosen by the producer (idempotent writes), at most 128 characters.
 * - `ts`: the data time the finding is about (e.g. the first reading of the batch), ms-precision
 *   ISO-8601; `listFindings(unitId, from, to)` selects on it.
 * - `at`: when the finding was raised, by the producer's (injected) clock.
 * - `class`: a producer-defined grouping, e.g. `delivery`, `authenticity`, `time` for integrity, or the
 *   rule category (`theoretical-extreme`, `threshold`, `standard-value`, `logic`) for validation.
 * - `detail`: free JSON for the producer (seq range, hashes, point ids, the rejected batch's bytes...).
 * - `state`: `open` or `resolved`; absent means open (findings stored before the lifecycle existed).
 * - `resolvedAt`, `resolution`: when and why it was resolved; both present exactly when `state` is
 *   `resolved`.
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
    state: FindingState.optional().describe('absent = open (findings stored before the lifecycle existed)'),
    resolvedAt: IsoTimestamp.optional().describe('when the producer resolved it, by its clock'),
    resolution: FindingResolution.optional(),
  })
  .strict()
  .superRefine((f, ctx) => {
    const resolved = f.state === 'resolved';
    if (resolved !== (f.resolvedAt !== undefined) || resolved !== (f.resolution !== undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['state'],
        message: 'resolvedAt and resolution are given exactly when state is "resolved"',
      });
  });
export type Finding = z.infer<typeof Finding>;

/** The lifecycle state of a finding: `open` unless it says `resolved` (old findings carry no state). */
export function findingState(f: Pick<Finding, 'state'>): FindingState {
  return f.state ?? 'open';
}

/** True while a finding is open (see {@link findingState}). */
export function isOpen(f: Pick<Finding, 'state'>): boolean {
  return findingState(f) === 'open';
}

/**
 * The integrity findings the collector raises (issue 4). Each entry: severity, class and what it means.
 * Readings are never dropped because of one of these: the batch is stored with its finding.
 */
export const IntegrityFindingCodes = {
  /**
   * `seq` jumped: batches `detail.from..detail.to` never arrived (lost in transit, dropped by a full
   * gateway log, or the collector started late). Resolved (`by: late-batches`) once all of them are
   * stored; while only some are, it stays open and `detail.remaining` lists the seq ranges still missing.
   */
  MRV_F_SEQ_GAP: { severity: 'error', class: 'delivery' },
  /** `sig` does not verify against the gateway's registered public key, or is missing when a key is registered. */
  MRV_F_BAD_SIGNATURE: { severity: 'critical', class: 'authenticity' },
  /** No public key is registered for the gateway while verification is on: the batch is stored unverified. */
  MRV_F_UNKNOWN_KEY: { severity: 'error', class: 'authenticity' },
  /**
   * The batch verifies with a registered key of another (unit, gateway) than the one it claims: a
   * cross-unit or cross-gateway forgery. Dead-lettered, no reading stored; the batch is kept whole in
   * `detail` (canonical bytes, sig) with the key's owner and fingerprint.
   */
  MRV_F_KEY_MISMATCH: { severity: 'critical', class: 'authenticity' },
  /**
   * The batch verifies with a key of its gateway that was not valid at its `sentAt`: revoked before it
   * (`detail.reason: revoked`), or outside `[validFrom, validUntil)` (`expired`, e.g. signed with the old
   * key after a rotation). Stored as a failed verification.
   */
  MRV_F_KEY_REVOKED: { severity: 'critical', class: 'authenticity' },
  /**
   * `prevHash` is not the SHA-256 of the previous batch's canonical bytes: a batch was altered, dropped or
   * reordered. Resolved (`by: link-verified`) when the archive later holds a predecessor the link
   * verifies against (a verified version replaced an unverified one, a hole's batch arrived).
   */
  MRV_F_CHAIN_BROKEN: { severity: 'critical', class: 'authenticity' },
  /** An already stored batch arrived again long after the first copy (a replay); not stored twice. */
  MRV_F_REPLAY: { severity: 'warning', class: 'delivery' },
  /** A batch with a stored `seq` but different content: a forgery, a replay of another chain or a gateway whose log was wiped. */
  MRV_F_SEQ_CONFLICT: { severity: 'critical', class: 'authenticity' },
  /** The gateway's clock is ahead of the collector's, or a device's clock is far from the gateway's. */
  MRV_F_CLOCK_SKEW: { severity: 'warning', class: 'time' },
  /**
   * The gateway took a new site file while running (a batch's signed `config`, wire.ts ConfigChange):
   * from this batch on its readings follow the new configuration. `detail`: the hashes and the devices
   * added, removed and changed. Recorded so the evidence shows when the configuration changed.
   */
  MRV_F_CONFIG_CHANGED: { severity: 'info', class: 'configuration' },
} as const satisfies Record<string, { severity: FindingSeverity; class: string }>;

/** One of the integrity finding codes. */
export type IntegrityFindingCode = keyof typeof IntegrityFindingCodes;

/**
 * Findings of a totalizer's discontinuities (core/domain/aggregate.ts `CounterEvent`), raised by the
 * pack's `counter_backwards` rule for the point or, when none names it, by the built-in `MRV-COUNTER`
 * rule. `detail` carries the values: `before`, `after`, `bridged` (what was counted), `elapsedMs`,
 * `plausibleMax` (what the meter can count in that time at its declared `maxRate`) and, for a review,
 * `reason` and the `candidates` (the increase a roll-over or a reset would imply).
 */
export const CounterFindingCodes = {
  /** The counter restarted from zero; what it shows was counted since zero (it fits the maximum rate). */
  MRV_F_COUNTER_RESET: { severity: 'error', class: 'logic-check' },
  /** A backwards step within the point's `correctionTolerance`: counted 0, counting resumes above the step. */
  MRV_F_COUNTER_CORRECTION: { severity: 'info', class: 'logic-check' },
  /**
   * A step no physics explains (`reason`: `no_max_rate` — the point declares no `maxRate`;
   * `implausible_drop` — neither a roll-over nor a reset fits the maximum rate; `implausible_jump` — a
   * step forward faster than the meter counts): not counted, the new reading is the base; a person decides.
   */
  MRV_F_COUNTER_REVIEW: { severity: 'error', class: 'logic-check' },
} as const satisfies Record<string, { severity: FindingSeverity; class: string }>;

/** One of the counter finding codes. */
export type CounterFindingCode = keyof typeof CounterFindingCodes;

/**
 * Findings of the domain's completeness checks (`source: 'completeness'`), computed with the monthly
 * evidence (core/domain/tickets.ts).
 */
export const CompletenessFindingCodes = {
  /**
   * Ticket numbers of an events point (weighing tickets) that were never received although later
   * numbers were: the key parameter lacks those tickets. `detail.ranges` lists them
   * (`[{from, to, count}]`), `detail.count` counts them. Typical cause: an outage longer than the
   * weighing terminal's ticket memory (the gateway also stored a `MRV_E_TICKETS_OVERWRITTEN` reading
   * naming them), or a site file without `eventLogs`.
   */
  MRV_F_TICKETS_MISSING: { severity: 'error', class: 'tickets' },
} as const satisfies Record<string, { severity: FindingSeverity; class: string }>;

/**
 * The findings about a gateway's retained catalogue (`meta`, issue 17 item 2) the collector raises. A
 * catalogue only informs (points, meters); it never decides scope, which the server-side unit registry
 * owns (core/schema/unit-registry.ts).
 */
export const MetaFindingCodes = {
  /**
   * A catalogue was refused: not signed, its signature does not verify with a key of the topic's (unit,
   * gateway) valid at its `sentAt` (`detail.verdict`: unsigned, bad, unknown, mismatch — signed by
   * another unit's or gateway's key —, revoked, expired), or it names another unit or gateway than its
   * topic. Dead-lettered and stored nowhere: the unit's points, names and scope are unchanged.
   */
  MRV_F_META_REJECTED: { severity: 'critical', class: 'authenticity' },
  /**
   * A verified catalogue claims unit facts that differ from the unit registry (`detail.mismatches`:
   * name, province, industry, a gateway not registered for the unit, or a unit not registered at all).
   * Its points inform as usual; the registry's facts, and so every scope decision, stay as they are.
   */
  MRV_F_META_MISMATCH: { severity: 'warning', class: 'registry' },
} as const satisfies Record<string, { severity: FindingSeverity; class: string }>;

/** One of the catalogue finding codes. */
export type MetaFindingCode = keyof typeof MetaFindingCodes;
