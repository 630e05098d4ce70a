/**
 * The monthly evidence package (关键参数月度信息化存证, docs/domain.md §1–2, docs/architecture.md §7): for a unit and a
 * UTC+8 calendar month, each key parameter's value, unit and method with the points and meters behind
 * it, the meters' calibration over the month, completeness and gaps, validation findings, emissions,
 * the digests of the readings and of the raw signed batches used, the deadline (40th day after month end) and the generation time.
 *
 * {@link computeEvidence} is pure apart from awaiting the injected {@link ReadingSource}: the same
 * catalogue, readings, packs and `generatedAt` give the same package, byte for byte in canonical JSON
 * (core/schema/canonical.ts). Hashing the readings and signing happen outside core (evidence/service.ts).
 */
import { type Finding, isOpen } from '../schema/finding.ts';
import type { RuleOverrides } from '../schema/rule-overrides.ts';
import type { MeterMeta, PointMeta, UnitMeta } from '../schema/wire.ts';
import {
  type AccumulatorState,
  type AggregateResult,
  EventsAccumulator,
  GaugeAccumulator,
  pairTickets,
  RateAccumulator,
  type Sample,
  TotalizerAccumulator,
} from './aggregate.ts';
import {
  type CalibrationSegment,
  type CalibrationStatus,
  calibrationOverPeriod,
  calibrationStatus,
  DEFAULT_DUE_SOON_DAYS,
} from './calibration.ts';
import { type KeyParameter, lookupParameter, type ParameterSource, parametersOf } from './catalogue.ts';
import {
  CompletenessAccumulator,
  type CompletenessResult,
  classifyBadQuality,
  classifyGatewayOffline,
} from './completeness.ts';
import { D, dec, text } from './decimal.ts';
import { computeEmissions, type EmissionItem, type EmissionsResult } from './emissions.ts';
import { computeEmissionsV1 } from './emissions-v1.ts';
import type { FactorPack } from './factors.ts';
import { DAY_MS, daysOf, evidenceDeadline, isoCst, monthPeriod, startOfCstDate } from './period.ts';
import type { BatchSet } from './raw-batches.ts';
import { evaluatePeriodRules, type RulePack, SampleRuleRunner, targetPoints } from './rules.ts';
import { type AlignedSum, alignedPartSum, PollTicketEdges } from './ticket-alignment.ts';
import { ticketGapFindings } from './tickets.ts';
import { convert } from './units.ts';

/** A point as the evidence needs it: its catalogue entry plus gateway, poll interval and counter modulus. */
export interface CataloguePoint extends PointMeta {
  gatewayId: string;
  /** Poll interval, ms (completeness). */
  expectedIntervalMs: number;
  /** Counter modulus in engineering units for totalizers (see aggregate.ts), when known. */
  rolloverAt?: string;
  /** The point's own rule settings from the site file, by rule id (core/schema/rule-overrides.ts). */
  rules?: RuleOverrides;
}

/** A unit's points and meters, merged over its gateways. */
export interface UnitCatalogue {
  unit: UnitMeta;
  points: CataloguePoint[];
  meters: MeterMeta[];
  /** The site's rule settings by rule id (site file `rules:`), when any. */
  rules?: RuleOverrides;
}

/** Where readings come from (the store, or a file of exported readings). Ascending ts, `[from, to)`. */
export interface ReadingSource {
  read(pointId: string, from: number, to: number): Promise<Sample[]>;
  /**
   * Optional: the same readings as {@link read}, in ascending pages (for long series: each page can be
   * processed and dropped before the next is read).
   */
  pages?(pointId: string, from: number, to: number): AsyncIterable<Sample[]>;
}

/** The readings of `[from, to)` of a point as pages: the source's own pages, else one page from `read`. */
export async function* readPages(
  source: ReadingSource,
  pointId: string,
  from: number,
  to: number,
): AsyncIterable<Sample[]> {
  if (source.pages) yield* source.pages(pointId, from, to);
  else yield await source.read(pointId, from, to);
}

/** Tunables of the package; recorded in it so a verifier recomputes with the same ones. */
export interface EvidenceConfig {
  /** Readings this long before the month are read for totalizer baselines and carried-over tickets. Default 1 day. */
  lookbackMs: number;
  /** Completeness gap factor (completeness.ts). Default 3. */
  gapFactor: number;
  /** Calibration warning window, days. Default 30. */
  dueSoonDays: number;
  /** A gauge reading holds at most this many poll intervals. Default 10. */
  maxHoldIntervals: number;
  /** Aluminium PFC method. Default `auto`. */
  pfcMethod: 'auto' | 'slope' | 'default';
  /** Cement clinker type. Default `portland`. */
  clinkerType: string;
  /** Gaps listed per point (the longest ones); all are counted in `gapSummary`. Default 100. */
  maxGapsListed: number;
  /**
   * How far a reading's timestamp may lie from the instant its meter measured, ms, beyond a poll
   * interval: added to the time a counter's plausibility checks allow (aggregate.ts
   * `classifyCounterStep`) and to every rate-of-change window (rules.ts). Default 0 (a gateway stamps its readings within a request's time); the demo
   * at `--speed N` sets it, as its one busy process stamps readings minutes of plant time late.
   * Optional so packages made before it recompute unchanged.
   */
  clockToleranceMs?: number;
}

/** Defaults of {@link EvidenceConfig}. */
export const DEFAULT_EVIDENCE_CONFIG: EvidenceConfig = {
  lookbackMs: DAY_MS,
  gapFactor: 3,
  dueSoonDays: DEFAULT_DUE_SOON_DAYS,
  maxHoldIntervals: 10,
  pfcMethod: 'auto',
  clinkerType: 'portland',
  maxGapsListed: 100,
};

/** A point's contribution to a parameter. */
export interface EvidencePoint {
  id: string;
  sign: '+' | '-';
  meter: string | null;
  unit: string;
  aggregation: string;
  /** The point's period value (totalizer increase, events sum, integral, time-weighted mean); null without data. */
  value: string | null;
  /** Usable readings in the month. */
  readings: number;
  /** Usable readings taken while the meter had no valid certificate; null for a point without a meter. */
  readingsOutsideCalibration: number | null;
  /** Aggregation details (baseline, resets, roll-overs, tickets, min/max ...), times ISO +08:00. */
  detail: Record<string, unknown>;
}

/** One parameter of the package. */
export interface EvidenceParameter {
  id: string;
  nameZh: string;
  nameEn: string;
  role: 'key' | 'supporting';
  unit: string;
  /** Σ sign × point value, exact; null when no point delivered data. */
  value: string | null;
  /**
   * `measured` (one point), `calculated` (combined from several measured points), `default` (no value:
   * an emission figure uses a default instead), `not_measured` (no value and no default stands in for
   * it; formatVersion 2). In formatVersion 1 every missing value was `default`.
   */
  method: 'measured' | 'calculated' | 'default' | 'not_measured';
  source: ParameterSource;
  measurement: { zh: string; en: string };
  points: EvidencePoint[];
}

/** Completeness of one point in the package. */
export interface EvidenceCompleteness {
  point: string;
  gatewayId: string;
  expectedIntervalMs: number;
  expected: number;
  received: number;
  good: number;
  uncertain: number;
  bad: number;
  /** Covered share of the elapsed part (formatVersion 2: up to `generatedAt`); null when none elapsed. */
  coveredShare: string | null;
  /** Every gap, counted and summed by cause (ms). */
  gapSummary: Record<string, { count: number; ms: number }>;
  /** The longest gaps (at most `config.maxGapsListed`), in time order. */
  gaps: { start: string; end: string; cause: string; reason?: string }[];
}

/** A meter with its calibration over the month. */
export interface EvidenceMeter extends Omit<MeterMeta, 'calibrations'> {
  points: string[];
  atMonthStart: CalibrationStatus;
  atMonthEnd: CalibrationStatus;
  segments: CalibrationSegment[];
  certificates: MeterMeta['calibrations'];
}

/**
 * The raw data behind the package, filled by the I/O layer (evidence/service.ts): the readings
 * used and the raw signed batches they arrived in (docs/architecture.md §6, §7).
 */
export interface EvidenceRawData {
  /**
   * Names both digest definitions below: `sha256-readings-v2+batch-set-sha256-v1` (current) or
   * `sha256-readings+batch-set-sha256-v1` (packages made before; still verified).
   */
  kind: 'sha256-readings-v2+batch-set-sha256-v1' | 'sha256-readings+batch-set-sha256-v1';
  /**
   * SHA-256 over the readings used, in the order read (the lookback chunk, then each UTC+8 day; points
   * by id; ascending ts). v2: one line per segment (one point's read over one chunk),
   * `point TAB from TAB to TAB count TAB sha256hex LF`, the hash over the segment's readings as
   * `ts TAB quality TAB value TAB reason LF` lines (ts in ms since the Unix epoch, value the exact
   * decimal or "" when null, reason its JSON string or "" when absent) (evidence/service.ts
   * `segmentLineV2`, `readingLineV2`): a day's segments can be hashed apart from the rest. v1: one
   * canonical JSON line per reading plus "\n" (`{"point","quality","reason"?,"ts","value"}`, ts ISO UTC).
   */
  readingsDigest: string;
  readings: number;
  window: { from: string; to: string };
  /** The batches the readings used arrived in (for a redelivered reading, its last delivery), per gateway as seq ranges. */
  batches: BatchSet;
  /**
   * Of {@link batches}, those the batch archive did not hold when the package was made (data from before
   * the archive, a lost archive record): their bytes are not in {@link batchDigest}. Empty when all are.
   */
  missingBatches: BatchSet;
  /**
   * `batch-set-sha256-v1` (core/signing.ts `BatchSetDigest`): SHA-256 over the archived cited batches,
   * gateways ascending, seq ascending, each as length-prefixed (4-byte big-endian) UTF-8 fields gateway id,
   * decimal seq, canonical bytes, base64 signature ("" when unsigned). Null when the archive held none.
   */
  batchDigest: string | null;
  note: string;
}

/** The package format written now. 1: before content status, notices and month-to-date completeness. */
export const EVIDENCE_FORMAT_VERSION = 2;

/**
 * What the package knows about its month, before any signature check (formatVersion 2): `no_data`
 * (no reading of any used point in the period), `incomplete` (some data, but the month is not over,
 * a point has gaps or a key parameter has no value), `complete` (the month is over, every used point
 * is covered without a gap and every key parameter has a value).
 */
export interface EvidenceContent {
  status: 'no_data' | 'incomplete' | 'complete';
  /**
   * Why it is not complete: `nothing_monitored` (no point of the unit feeds a parameter),
   * `no_readings`, `month_not_over`, `gaps` (some point has a gap), `parameter_missing` (a key parameter has no value).
   */
  reasons: ('nothing_monitored' | 'no_readings' | 'month_not_over' | 'gaps' | 'parameter_missing')[];
  /** End of the judged part of the month, ISO +08:00: min(period end, generatedAt). */
  judgedTo: string;
  /** Σ over the used points (completeness). */
  expected: number;
  received: number;
  /** Σ covered / Σ elapsed over the used points, 4 decimals; null when nothing has elapsed. */
  coveredShare: string | null;
}

/**
 * A parameter the package could not measure, or only partly, with what follows from it (formatVersion
 * 2): `not_supplied` (an emission needs it but no point of the site feeds it), `no_data` (points feed
 * it but none delivered a usable reading), `partial_data` (a value, from readings with gaps).
 */
export interface EvidenceNotice {
  parameter: string;
  issue: 'not_supplied' | 'no_data' | 'partial_data';
  /** The parameter's method in this package. */
  method: EvidenceParameter['method'];
  /** Emission figures computed with a default in its place (their ids); empty when none stands in. */
  emissions: string[];
  consequence: { zh: string; en: string };
}

/** The package before signing. */
export interface EvidenceBody {
  kind: 'monthly-evidence';
  /** 2 (current) or 1 (older packages, still verified: recomputed with the rules of their version). */
  formatVersion: 1 | 2;
  /** formatVersion 2: the content status, said before anything else (absent in version 1). */
  content?: EvidenceContent;
  /** formatVersion 2: parameters measured by default, estimate or not at all, with the consequence. */
  notices?: EvidenceNotice[];
  unit: UnitMeta;
  month: string;
  period: { from: string; to: string; timeZone: 'UTC+08:00'; days: string };
  /** Last permitted UTC+8 date (inclusive): the 40th calendar day after month end. */
  deadline: string;
  generatedAt: string;
  generator: string;
  config: EvidenceConfig;
  parameters: EvidenceParameter[];
  completeness: EvidenceCompleteness[];
  meters: EvidenceMeter[];
  findings: Finding[];
  /**
   * Open findings kept in the store for the month (integrity, earlier validation runs): cited, not
   * recomputed. A finding without `state` (stored before the lifecycle existed) is open.
   */
  storedFindings: Finding[];
  /**
   * Stored findings of the month that were resolved before the package was made (e.g. a seq gap whose
   * batches arrived late: `resolvedAt`, `resolution.seqs`): listed as resolved, not cited as open.
   * Absent when there are none, so packages made before the lifecycle recompute unchanged.
   */
  resolvedFindings?: Finding[];
  emissions: EmissionsResult;
  rulePack: { id: string; packVersion: string };
  /** Everything besides the readings that the values were computed from, so `mrv verify` can recompute offline. */
  inputs: { catalogue: UnitCatalogue; factorPack: FactorPack; rulePack: RulePack };
  rawData?: EvidenceRawData;
}

/** A signed package. */
export interface EvidencePackage extends EvidenceBody {
  signature: { alg: 'Ed25519'; keyId: string; publicKey: string; value: string };
}

/** Inputs of {@link computeEvidence}. */
export interface EvidenceInput {
  catalogue: UnitCatalogue;
  month: string;
  source: ReadingSource;
  factorPack: FactorPack;
  rulePack: RulePack;
  /** Generation time, ms epoch (the caller's clock). */
  generatedAt: number;
  /** e.g. `carbon-mrv 0.1.0`. */
  generator: string;
  config?: Partial<EvidenceConfig>;
  /** Findings from the store for the window, in any state: open ones are cited, resolved ones listed as such. */
  storedFindings?: Finding[];
  /** Another window than the month (the findings route): `[from, to)` ms epoch; `month` then only labels it. */
  window?: { from: number; to: number };
  /**
   * More points to read and run the per-reading rules on. formatVersion 2 always adds every point a
   * rule watches (so the package cites the findings the findings list shows).
   */
  extraPoints?: string[];
  /** SHA-256 (hex) of `factorPack`'s canonical JSON, recorded in `emissions.factorPack.digest`. */
  factorPackDigest?: string;
  /** Rules of which format to compute with (a verifier passes the package's). Default {@link EVIDENCE_FORMAT_VERSION}. */
  formatVersion?: 1 | 2;
  /**
   * Resume from this checkpoint (taken by `onChunk` of an earlier computation with the same inputs
   * apart from `generatedAt`, storedFindings and the factor pack): its chunks are not read again. The
   * caller guarantees their readings are unchanged and that they ended before `generatedAt`.
   */
  resume?: EvidenceCheckpoint;
  /**
   * Called after each chunk of {@link evidenceChunks} was read and folded in, with the chunk and a
   * function that takes the checkpoint of the computation at that point (for evidence/day-aggregates.ts).
   */
  onChunk?: (chunk: EvidenceChunk, checkpoint: () => EvidenceCheckpoint) => void | Promise<void>;
  /**
   * Read each UTC+8 day in clock hours (the lookback stays one chunk), so that a checkpoint is taken
   * after every hour (evidence/day-aggregates.ts keeps the ended hours of the open day). The body is
   * the same either way: streamed points are folded reading by reading whatever the split; the points
   * read whole (events and their tickets, ticket-aligned totals) are read over the whole day at its
   * last hour, exactly as a day chunk reads them. Default false.
   */
  hourChunks?: boolean;
}

/**
 * One chunk the computation reads: the lookback (index 0), then each UTC+8 day of the period, or,
 * with {@link EvidenceInput.hourChunks}, each clock hour of each day.
 */
export interface EvidenceChunk {
  index: number;
  /** `[from, to)`, ms epoch. */
  from: number;
  to: number;
  /**
   * The lookback or day this chunk is part of (`[from, to)`, ms epoch; the chunk's own bounds when
   * it is not split): the readings digest's segment (evidence/service.ts `digestingSource`).
   */
  segment: { from: number; to: number };
  /** Whether the chunk ends its segment (the day's last hour; always true when not split). */
  closes: boolean;
}

/** One clock hour, ms. */
const HOUR_MS = 3_600_000;

/**
 * The state of a month's computation after a chunk (docs/architecture.md §7 "Day aggregates"): every
 * used point's accumulator, completeness and calibration counts, and the per-reading rules' state.
 * JSON; resuming from it ({@link EvidenceInput.resume}) and reading the remaining chunks gives the same
 * body as reading every chunk.
 */
export interface EvidenceCheckpoint {
  /** Index of the last chunk folded in. */
  chunk: number;
  points: Record<
    string,
    { acc: AccumulatorState; comp: Record<string, unknown>; readings: number; outside: number }
  >;
  rules: Record<string, unknown>;
  /** Per ticket-aligned `sum_of_parts` rule (by rule id): the ticket numbers read with its total's edges. */
  alignments?: Record<string, AccumulatorState>;
}

/** The period `[from, to)` of an input: its window, else its month (UTC+8). */
function periodOf(input: Pick<EvidenceInput, 'month' | 'window'>) {
  return input.window ? { label: input.month, ...input.window } : monthPeriod(input.month);
}

/**
 * The chunks {@link computeEvidence} reads, in order: `[from − lookbackMs, from)`, then each UTC+8 day.
 * @throws RangeError for a malformed month
 */
export function evidenceChunks(
  input: Pick<EvidenceInput, 'month' | 'window' | 'config' | 'hourChunks'>,
): EvidenceChunk[] {
  const cfg: EvidenceConfig = { ...DEFAULT_EVIDENCE_CONFIG, ...input.config };
  const period = periodOf(input);
  const out: EvidenceChunk[] = [];
  const lookback = { from: period.from - cfg.lookbackMs, to: period.from };
  out.push({ index: 0, ...lookback, segment: lookback, closes: true });
  for (const d of daysOf(period)) {
    const segment = { from: d.from, to: d.to };
    if (!input.hourChunks) {
      out.push({ index: out.length, ...segment, segment, closes: true });
      continue;
    }
    // Clock hours (UTC+8 is a whole number of hours from UTC, so a UTC+8 hour is a UTC one).
    for (let a = d.from; a < d.to; ) {
      const b = Math.min(d.to, a - (((a % HOUR_MS) + HOUR_MS) % HOUR_MS) + HOUR_MS);
      out.push({ index: out.length, from: a, to: b, segment, closes: b === d.to });
      a = b;
    }
  }
  return out;
}

interface PointState {
  p: CataloguePoint;
  sign: '+' | '-';
  agg: 'totalizer' | 'events' | 'rate' | 'gauge';
  acc: TotalizerAccumulator | EventsAccumulator | RateAccumulator | GaugeAccumulator;
  comp: CompletenessAccumulator;
  valid: [number, number][];
  readings: number;
  outside: number;
}

function validIntervals(meter: MeterMeta | undefined, from: number, to: number): [number, number][] {
  return calibrationOverPeriod(meter, from, to)
    .filter((s) => s.status === 'valid')
    .map((s) => [Date.parse(s.from), Date.parse(s.to)]);
}

function tsIso<T>(v: T): T {
  // Turns every `ts` number of an aggregation detail into ISO +08:00 (the package speaks ISO times).
  if (Array.isArray(v)) return v.map(tsIso) as T;
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).map(([k, x]) => [
        k,
        k === 'ts' && typeof x === 'number' ? isoCst(x) : tsIso(x),
      ]),
    ) as T;
  return v;
}

/** Per-point detail of an aggregation result (without the repeated value). */
function detailOf(r: AggregateResult): Record<string, unknown> {
  const { value: _v, ...rest } = r as AggregateResult & { value: unknown };
  return tsIso(rest) as Record<string, unknown>;
}

/**
 * Computes the monthly evidence body of a unit. Reads, in this order, the lookback chunk
 * `[from − lookbackMs, from)` and then each UTC+8 day of the month, and in each chunk every used
 * point by ascending id (so a digest over what was read is reproducible).
 *
 * Points used: those whose `parameter` is in the unit's industry catalogue, their `ticketPoint`s, and
 * the points named by the rule pack's `sum_of_parts` rules and the totalizers its `counter_backwards`
 * rules name. Points read besides: every point a
 * per-reading rule names (a cell voltage feeds no parameter, yet AL-TE-002 watches it), for the rules only,
 * and the `alignBy` ticket-number point of a ticket-aligned `sum_of_parts` rule (ticket-alignment.ts).
 * @throws RangeError for a malformed month; Error when the factor pack lacks a needed factor
 */
export async function computeEvidence(input: EvidenceInput): Promise<EvidenceBody> {
  const cfg: EvidenceConfig = { ...DEFAULT_EVIDENCE_CONFIG, ...input.config };
  const { catalogue, rulePack } = input;
  const version = input.formatVersion ?? EVIDENCE_FORMAT_VERSION;
  const v2 = version >= 2;
  const industry = catalogue.unit.industry;
  const period = periodOf(input);
  const { from, to } = period;
  const days = text(new D(to - from).div(DAY_MS));
  const byId = new Map(catalogue.points.map((p) => [p.id, p]));
  const meterById = new Map(catalogue.meters.map((m) => [m.id, m]));

  // Which points feed which parameter (of this industry's catalogue).
  const paramPoints = new Map<string, CataloguePoint[]>();
  for (const p of catalogue.points) {
    if (p.parameter === undefined) continue;
    const hit = lookupParameter(p.parameter);
    if (!hit || hit.entry.industry !== industry) continue;
    paramPoints.set(p.parameter, [...(paramPoints.get(p.parameter) ?? []), p]);
  }
  // Points rules name: the sum_of_parts points, and the totalizers a counter rule names (their
  // discontinuities are found by aggregating them, whether or not they feed a parameter).
  const ruleExtra = rulePack.rules.flatMap((r) =>
    r.check.kind === 'sum_of_parts'
      ? [r.check.main, ...r.check.parts]
      : r.check.kind === 'counter_backwards' && v2
        ? targetPoints(r.check.target, catalogue.points).filter(
            (id) => byId.get(id)?.aggregation === 'totalizer',
          )
        : [],
  );
  const used = new Set<string>([
    ...[...paramPoints.values()].flat().map((p) => p.id),
    ...ruleExtra.filter((id) => byId.has(id)),
  ]);
  const tickets = new Set<string>();
  for (const id of [...used]) {
    const t = byId.get(id)?.ticketPoint;
    if (t && byId.has(t)) tickets.add(t);
  }
  const ctx = {
    unitId: catalogue.unit.id,
    from,
    to,
    at: input.generatedAt,
    ...(cfg.clockToleranceMs ? { clockToleranceMs: cfg.clockToleranceMs } : {}),
  };
  const sampleRules = new SampleRuleRunner(rulePack, catalogue.points, ctx, catalogue.rules);
  // formatVersion 2: every point a per-reading rule names is read, whether or not it feeds a
  // parameter (a cell voltage).
  const watched = v2 ? sampleRules.watchedPoints() : [];
  const extra = [...new Set([...(input.extraPoints ?? []), ...watched])].filter((id) => byId.has(id));
  // Ticket-aligned sum_of_parts rules (ticket-alignment.ts): their ticket-number point is read too.
  const alignRules = rulePack.rules.flatMap((r) =>
    r.check.kind === 'sum_of_parts' &&
    r.check.alignBy !== undefined &&
    byId.has(r.check.alignBy) &&
    byId.get(r.check.main)?.aggregation === 'totalizer'
      ? [{ id: r.id, main: r.check.main, alignBy: r.check.alignBy, parts: r.check.parts }]
      : [],
  );
  const readOrder = [...new Set([...used, ...tickets, ...extra, ...alignRules.map((a) => a.alignBy)])].sort();

  const states = new Map<string, PointState>();
  for (const id of used) {
    const p = byId.get(id) as CataloguePoint;
    const entry = p.parameter ? lookupParameter(p.parameter)?.entry : undefined;
    const agg = p.aggregation ?? entry?.aggregation ?? 'gauge';
    const acc =
      agg === 'totalizer'
        ? new TotalizerAccumulator({
            from,
            to,
            ...(p.rolloverAt ? { rolloverAt: p.rolloverAt } : {}),
            ...(p.maxRate ? { maxRatePerHour: p.maxRate } : {}),
            ...(p.maxStep ? { maxStep: p.maxStep } : {}),
            ...(p.correctionTolerance ? { correctionTolerance: p.correctionTolerance } : {}),
            // A reading's time and its register's last update differ by up to a poll interval.
            timeSlackMs: p.expectedIntervalMs + (cfg.clockToleranceMs ?? 0),
            ...(v2 ? {} : { legacy: true }),
          })
        : agg === 'events'
          ? new EventsAccumulator({ from, to })
          : agg === 'rate'
            ? new RateAccumulator({
                from,
                to,
                perMs: 3_600_000,
                maxGapMs: p.expectedIntervalMs * cfg.maxHoldIntervals,
                ...(v2 ? {} : { edges: false }),
              })
            : new GaugeAccumulator({ from, to, maxHoldMs: p.expectedIntervalMs * cfg.maxHoldIntervals });
    states.set(id, {
      p,
      sign: p.sign ?? '+',
      agg,
      acc,
      comp: new CompletenessAccumulator({
        from,
        to,
        expectedIntervalMs: p.expectedIntervalMs,
        gapFactor: cfg.gapFactor,
        // Month-to-date (formatVersion 2): what has not elapsed when the package is made is not missing.
        ...(v2 ? { now: input.generatedAt } : {}),
      }),
      valid: validIntervals(p.meter ? meterById.get(p.meter) : undefined, from, to),
      readings: 0,
      outside: 0,
    });
  }

  const chunks = evidenceChunks(input);
  const resume = input.resume;
  if (resume) {
    for (const [id, st] of states) {
      const saved = resume.points[id];
      if (!saved) throw new RangeError(`evidence checkpoint lacks point ${id}`);
      st.acc.restore(saved.acc);
      st.comp.restore(saved.comp);
      st.readings = saved.readings;
      st.outside = saved.outside;
    }
    sampleRules.restore(resume.rules);
  }
  const alignEdges = new Map<string, PollTicketEdges>();
  for (const a of alignRules) {
    const e = new PollTicketEdges({ from, to });
    if (resume) {
      const saved = resume.alignments?.[a.id];
      if (!saved) throw new RangeError(`evidence checkpoint lacks the ticket alignment of rule ${a.id}`);
      e.restore(saved);
    }
    alignEdges.set(a.id, e);
  }
  const checkpoint = (chunk: number): EvidenceCheckpoint => {
    const points: EvidenceCheckpoint['points'] = {};
    for (const [id, st] of states)
      points[id] = {
        acc: st.acc.snapshot(),
        comp: st.comp.snapshot(),
        readings: st.readings,
        outside: st.outside,
      };
    const alignments: NonNullable<EvidenceCheckpoint['alignments']> = {};
    for (const [id, e] of alignEdges) alignments[id] = e.snapshot();
    return {
      chunk,
      points,
      rules: sampleRules.snapshot(),
      ...(alignEdges.size > 0 ? { alignments } : {}),
    };
  };
  // Events points are paired with their ticket points, so both are read whole per chunk; every other
  // point is streamed page by page when the source pages (short-lived pages keep the heap small).
  const whole = new Set<string>();
  for (const [id, st] of states)
    if (st.acc instanceof EventsAccumulator) {
      whole.add(id);
      if (st.p.ticketPoint && byId.has(st.p.ticketPoint)) whole.add(st.p.ticketPoint);
    }
  // A ticket-aligned total and its ticket-number point are paired by timestamp: both read whole.
  for (const a of alignRules) {
    whole.add(a.main);
    whole.add(a.alignBy);
  }
  const extraSet = new Set(extra);
  const feed = (
    id: string,
    st: PointState,
    samples: readonly Sample[],
    eventsTickets?: readonly Sample[],
  ) => {
    if (st.acc instanceof EventsAccumulator) {
      // Observations at every instant; unpaired value readings counted in the period only. A value
      // pairs with a ticket reading at most half a poll interval away (never across a poll cycle).
      const { observations, unpaired } = pairTickets(
        samples,
        eventsTickets ?? [],
        { from, to },
        Math.floor(st.p.expectedIntervalMs / 2),
      );
      st.acc.push(observations);
      st.acc.addUnpaired(unpaired);
    } else st.acc.push(samples);
    st.comp.push(samples);
    sampleRules.push(id, samples);
    const valid = st.valid;
    for (const s of samples) {
      // (readings of used points only: calibration counts)
      if (s.ts < from || s.ts >= to || s.value === null || s.quality === 'bad') continue;
      st.readings++;
      let inside = false;
      for (let i = 0; i < valid.length && !inside; i++) {
        const [a, b] = valid[i] as [number, number];
        inside = s.ts >= a && s.ts < b;
      }
      if (!inside) st.outside++;
    }
  };
  for (const chunk of chunks) {
    if (resume && chunk.index <= resume.chunk) continue;
    const read = new Map<string, Sample[]>();
    for (const id of readOrder) {
      if (whole.has(id)) {
        // Read whole over the chunk's day (at its last hour when the day is read in hours).
        if (chunk.closes) read.set(id, await input.source.read(id, chunk.segment.from, chunk.segment.to));
        continue;
      }
      const st = states.get(id);
      for await (const page of readPages(input.source, id, chunk.from, chunk.to)) {
        if (st) feed(id, st, page);
        else if (extraSet.has(id)) sampleRules.push(id, page);
      }
    }
    for (const id of chunk.closes ? whole : []) {
      const samples = read.get(id) ?? [];
      const st = states.get(id);
      if (!st) {
        if (extraSet.has(id)) sampleRules.push(id, samples);
        continue;
      }
      const t = st.p.ticketPoint;
      feed(id, st, samples, st.acc instanceof EventsAccumulator && t ? (read.get(t) ?? []) : undefined);
    }
    if (chunk.closes)
      for (const a of alignRules)
        alignEdges.get(a.id)?.push(read.get(a.main) ?? [], read.get(a.alignBy) ?? []);
    if (input.onChunk) await input.onChunk(chunk, () => checkpoint(chunk.index));
  }

  // Point results and parameter values.
  const pointResults = new Map<string, AggregateResult>();
  for (const [id, st] of states) pointResults.set(id, st.acc.result());
  const pointValue = (id: string): string | null => {
    const r = pointResults.get(id);
    const st = states.get(id);
    if (!r || !st) return null;
    if (r.kind === 'gauge') return r.value;
    if (st.readings === 0) return null;
    return r.value;
  };
  const parameters: EvidenceParameter[] = [];
  const values = new Map<string, string>();
  // Each parameter keeps the unit its points measure it in (issue 18 item 7): points in one unit are
  // summed in it; points in several units of one dimension are rescaled to the catalogue unit; points
  // of different dimensions (t and Nm³) are never summed.
  const units = new Map<string, string>();
  const unitNotes: string[] = [];
  const gasesOf = new Map<string, readonly string[]>();
  const entries: { id: string; entry: KeyParameter }[] = [];
  for (const e of parametersOf(industry)) {
    if (e.optional && !paramPoints.has(e.id)) continue;
    if (e.qualifier === undefined) entries.push({ id: e.id, entry: e });
    else
      for (const id of [...paramPoints.keys()].filter((k) => lookupParameter(k)?.entry === e).sort())
        entries.push({ id, entry: e });
  }
  for (const { id, entry } of entries) {
    const pts = paramPoints.get(id) ?? [];
    const pointUnits = [...new Set(pts.map((p) => p.unit))];
    // formatVersion 1 labelled every parameter with its catalogue unit and summed its points as they were.
    const unit = v2 && pointUnits.length === 1 ? (pointUnits[0] as string) : entry.unit;
    const mixed =
      v2 && pointUnits.length > 1 && pointUnits.some((u) => convert(new D(1), u, unit) === undefined);
    if (mixed)
      unitNotes.push(
        `MRV_E_UNIT_MISMATCH: ${id} has points in ${pointUnits.join(', ')}, which are not one dimension: not summed, no value`,
      );
    let v = new D(0);
    let any = false;
    const evPoints: EvidencePoint[] = [];
    for (const p of [...pts].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      const st = states.get(p.id) as PointState;
      const pv = pointValue(p.id);
      if (pv !== null && !mixed) {
        any = true;
        const inUnit = (v2 ? convert(dec(pv), p.unit, unit) : undefined) ?? dec(pv);
        v = st.sign === '-' ? v.minus(inUnit) : v.plus(inUnit);
      }
      evPoints.push({
        id: p.id,
        sign: st.sign,
        meter: p.meter ?? null,
        unit: p.unit,
        aggregation: st.agg,
        value: pv,
        readings: st.readings,
        readingsOutsideCalibration: p.meter ? st.outside : null,
        detail: detailOf(pointResults.get(p.id) as AggregateResult),
      });
    }
    const value = any ? text(v) : null;
    if (value !== null) {
      values.set(id, value);
      units.set(id, unit);
    }
    gasesOf.set(id, entry.gases);
    const kindName = id === entry.id ? '' : ` (${id.slice(entry.id.length + 1)})`;
    parameters.push({
      id,
      nameZh: entry.nameZh + kindName,
      nameEn: entry.nameEn + kindName,
      role: entry.role,
      unit,
      value,
      method: value === null ? 'default' : pts.length > 1 ? 'calculated' : 'measured',
      source: entry.source,
      measurement: entry.measurement,
      points: evPoints,
    });
  }

  // Completeness, with gateway-offline classification among the points read.
  const compRaw = new Map<string, CompletenessResult>();
  for (const [id, st] of states) compRaw.set(id, st.comp.result());
  const maxIv = Math.max(1000, ...[...states.values()].map((s) => s.p.expectedIntervalMs));
  const offline = classifyGatewayOffline(compRaw, (id) => byId.get(id)?.gatewayId, 2 * cfg.gapFactor * maxIv);
  // formatVersion 2 says whether a bad run was the device's or the point's alone.
  const comp = v2
    ? classifyBadQuality(offline, (id) => byId.get(id)?.device, 2 * cfg.gapFactor * maxIv)
    : offline;
  const completeness: EvidenceCompleteness[] = [...comp]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([id, c]) => ({
      point: id,
      gatewayId: byId.get(id)?.gatewayId ?? '',
      expectedIntervalMs: byId.get(id)?.expectedIntervalMs ?? 0,
      expected: c.expected,
      received: c.received,
      good: c.good,
      uncertain: c.uncertain,
      bad: c.bad,
      coveredShare: c.coveredShare,
      gapSummary: c.gaps.reduce<Record<string, { count: number; ms: number }>>((acc, g) => {
        const e = acc[g.cause] ?? { count: 0, ms: 0 };
        acc[g.cause] = { count: e.count + 1, ms: e.ms + g.end - g.start };
        return acc;
      }, {}),
      gaps: [...c.gaps]
        .sort((a, b) => b.end - b.start - (a.end - a.start) || a.start - b.start)
        .slice(0, cfg.maxGapsListed)
        .sort((a, b) => a.start - b.start)
        .map((g) => ({
          start: isoCst(g.start),
          end: isoCst(g.end),
          cause: g.cause,
          ...(g.reason ? { reason: g.reason } : {}),
        })),
    }));

  // Meters of the points used.
  const meterPoints = new Map<string, string[]>();
  for (const id of [...used].sort()) {
    const m = byId.get(id)?.meter;
    if (m) meterPoints.set(m, [...(meterPoints.get(m) ?? []), id]);
  }
  const meters: EvidenceMeter[] = [...meterPoints.keys()].sort().map((mid) => {
    const m = meterById.get(mid);
    const { calibrations, ...rest } = m ?? { id: mid, name: mid, kind: 'unknown', calibrations: [] };
    return {
      ...rest,
      points: meterPoints.get(mid) ?? [],
      atMonthStart: calibrationStatus(m, from, cfg.dueSoonDays),
      atMonthEnd: calibrationStatus(m, to - 1, cfg.dueSoonDays),
      segments: calibrationOverPeriod(m, from, to),
      certificates: calibrations,
    };
  });

  // Emissions, then the period rules (which may look at emission figures as `emissions.<item id>`).
  // formatVersion 1 recomputes with the emissions code it was made with (emissions-v1.ts).
  const emissions = (v2 ? computeEmissions : computeEmissionsV1)(industry, values, input.factorPack, {
    periodDays: days,
    pfcMethod: cfg.pfcMethod,
    clinkerType: cfg.clinkerType,
    units,
    ...(input.factorPackDigest ? { factorPackDigest: input.factorPackDigest } : {}),
  });
  emissions.notes.unshift(...unitNotes);
  const ruleValues = new Map(values);
  for (const i of emissions.items) ruleValues.set(`emissions.${i.id}`, i.co2e);
  ruleValues.set('emissions.total', emissions.totalCo2e);
  const pointValues = new Map<string, string>();
  for (const id of states.keys()) {
    const v = pointValue(id);
    if (v !== null) pointValues.set(id, v);
  }
  const counterEvents = new Map(
    [...pointResults].flatMap(([id, r]) =>
      r.kind === 'totalizer'
        ? [
            [
              id,
              [...r.resets, ...r.rollovers, ...(r.corrections ?? []), ...(r.reviews ?? [])].sort(
                (a, b) => a.ts - b.ts,
              ),
            ] as const,
          ]
        : [],
    ),
  );
  // Ticket-aligned sums of parts: each part's tickets of the lookback and of the period.
  const alignedSums = new Map<string, AlignedSum>();
  for (const a of alignRules) {
    const parts = a.parts.map((id) => {
      const st = states.get(id);
      const r = pointResults.get(id);
      return st?.acc instanceof EventsAccumulator && r?.kind === 'events'
        ? { point: id, ticketPoint: st.p.ticketPoint, tickets: [...st.acc.lookbackTickets(), ...r.events] }
        : { point: id, tickets: [] };
    });
    alignedSums.set(a.id, alignedPartSum(a.alignBy, alignEdges.get(a.id)?.result() ?? {}, parts));
  }
  const findings = [
    ...ticketGapFindings(
      [...pointResults].flatMap(([id, r]) =>
        r.kind === 'events' ? [{ point: id, ticketPoint: byId.get(id)?.ticketPoint, result: r }] : [],
      ),
      { unitId: catalogue.unit.id, from, at: input.generatedAt },
    ),
    ...sampleRules.finish(),
    ...evaluatePeriodRules(
      rulePack,
      {
        parameters: ruleValues,
        points: pointValues,
        counterEvents,
        ...(alignedSums.size > 0 ? { alignedSums } : {}),
        days,
        catalogue: catalogue.points,
        siteRules: catalogue.rules,
        ...(v2 ? {} : { legacyCounters: true }),
      },
      ctx,
    ),
  ];
  // formatVersion 2: a parameter without value is `default` only where an emission figure really
  // used a default in its place; the content status and the notices say what the package knows.
  const defaultItems = (gases: readonly string[]): EmissionItem[] =>
    emissions.items.filter((i) => i.method === 'default' && gases.includes(i.gas));
  if (v2)
    for (const p of parameters)
      if (p.value === null)
        p.method = defaultItems(gasesOf.get(p.id) ?? []).length > 0 ? 'default' : 'not_measured';
  // A point with a gap. An `events` point (one reading per weighing, stamped with its weighing time) is
  // judged by its ticket numbers, not by an interval: silence between two heats is no gap, a ticket
  // number never received (MRV_F_TICKETS_MISSING) is; its bad readings are gaps like any point's.
  const missingTickets = new Set(
    findings.filter((f) => f.code === 'MRV_F_TICKETS_MISSING' && f.point).map((f) => f.point as string),
  );
  const gapped = (id: string): boolean => {
    const c = comp.get(id);
    if (c === undefined) return false;
    if (states.get(id)?.agg !== 'events') return c.gaps.some((g) => g.cause !== 'not_elapsed');
    return (
      missingTickets.has(id) ||
      c.gaps.some((g) => g.cause !== 'not_elapsed' && g.cause !== 'no_data' && g.cause !== 'gateway_offline')
    );
  };
  const v2Extras = v2
    ? {
        content: contentOf(parameters, completeness, comp, gapped, { from, to, at: input.generatedAt }),
        notices: [
          ...noticesOf(parameters, comp, gasesOf, defaultItems, gapped),
          ...unsuppliedKinds(industry, new Set(paramPoints.keys()), defaultItems),
        ],
      }
    : {};

  const computedIds = new Set(findings.map((f) => f.id));
  const stored = (input.storedFindings ?? []).filter((f) => !computedIds.has(f.id));
  const resolved = stored.filter((f) => !isOpen(f));

  return {
    kind: 'monthly-evidence',
    formatVersion: version,
    ...v2Extras,
    unit: catalogue.unit,
    month: input.month,
    period: { from: isoCst(from), to: isoCst(to), timeZone: 'UTC+08:00', days },
    deadline: input.window ? '' : evidenceDeadline(input.month),
    generatedAt: isoCst(input.generatedAt),
    generator: input.generator,
    config: cfg,
    parameters,
    completeness,
    meters,
    findings,
    storedFindings: stored.filter(isOpen),
    ...(resolved.length > 0 ? { resolvedFindings: resolved } : {}),
    emissions,
    rulePack: { id: rulePack.id, packVersion: rulePack.packVersion },
    inputs: { catalogue, factorPack: input.factorPack, rulePack },
  };
}

/** The {@link EvidenceContent} of a package from its parameters and completeness (formatVersion 2). */
function contentOf(
  parameters: readonly EvidenceParameter[],
  completeness: readonly EvidenceCompleteness[],
  comp: ReadonlyMap<string, CompletenessResult>,
  gapped: (point: string) => boolean,
  t: { from: number; to: number; at: number },
): EvidenceContent {
  const judgedTo = Math.max(t.from, Math.min(t.to, t.at));
  let expected = 0;
  let received = 0;
  let covered = 0;
  let elapsed = 0;
  for (const c of comp.values()) {
    expected += c.expected;
    received += c.received;
    covered += c.coveredMs;
    elapsed += c.elapsedMs;
  }
  const reasons: EvidenceContent['reasons'] = [];
  if (completeness.length === 0) reasons.push('nothing_monitored');
  else if (received === 0) reasons.push('no_readings');
  if (t.at < t.to) reasons.push('month_not_over');
  if (received > 0 && completeness.some((c) => gapped(c.point))) reasons.push('gaps');
  if (parameters.some((p) => p.role === 'key' && p.value === null)) reasons.push('parameter_missing');
  return {
    status: received === 0 ? 'no_data' : reasons.length > 0 ? 'incomplete' : 'complete',
    reasons,
    judgedTo: isoCst(judgedTo),
    expected,
    received,
    coveredShare: elapsed > 0 ? new D(covered).div(elapsed).toFixed(4, D.ROUND_HALF_EVEN) : null,
  };
}

/**
 * Notices for qualified parameters (kinds: fuels, materials, products) the site does not supply: an
 * entry an emission needs of which no kind is fed at all (named by its catalogue id), and, where the
 * site feeds a kind under one entry, the same kind under the other entries of that qualifier (e.g.
 * `power.fuel_consumption.coal` fed, `power.ncv.coal` not).
 */
function unsuppliedKinds(
  industry: UnitCatalogue['unit']['industry'],
  fed: ReadonlySet<string>,
  defaultItems: (gases: readonly string[]) => EmissionItem[],
): EvidenceNotice[] {
  const entries = parametersOf(industry).filter((e) => e.qualifier !== undefined);
  // A point naming the entry without its kind (`mrv check-config` warns) feeds no kind.
  const kindsOf = (e: KeyParameter) =>
    [...fed]
      .filter((id) => id !== e.id && lookupParameter(id)?.entry === e)
      .map((id) => id.slice(e.id.length + 1));
  const out: EvidenceNotice[] = [];
  const notice = (id: string, e: KeyParameter): EvidenceNotice => {
    const items = defaultItems(e.gases).map((i) => i.id);
    const instead =
      items.length > 0
        ? {
            zh: `排放量 ${items.join('、')} 改用缺省值计算`,
            en: `emissions ${items.join(', ')} are computed with a default instead`,
          }
        : {
            zh: '依赖该参数的排放量未计算 (见排放说明)',
            en: 'emissions that need it are not computed (see the emission notes)',
          };
    return {
      parameter: id,
      issue: 'not_supplied',
      method: items.length > 0 ? 'default' : 'not_measured',
      emissions: items,
      consequence: {
        zh: `站点配置中没有测点提供该参数；${instead.zh}`,
        en: `no point of the site file feeds this parameter; ${instead.en}`,
      },
    };
  };
  for (const e of entries) {
    if (e.gases.length === 0) continue;
    const mine = kindsOf(e);
    if (fed.has(e.id) && mine.length === 0) continue;
    if (
      mine.length === 0 &&
      !entries.some((o) => o !== e && o.qualifier === e.qualifier && kindsOf(o).length > 0)
    ) {
      out.push(notice(e.id, e));
      continue;
    }
    const wanted = new Set(
      entries.filter((o) => o !== e && o.qualifier === e.qualifier).flatMap((o) => kindsOf(o)),
    );
    for (const k of [...wanted].sort()) if (!mine.includes(k)) out.push(notice(`${e.id}.${k}`, e));
  }
  return out;
}

/** What a gap does to a period value, by aggregation kind (aggregate.ts). */
const PARTIAL_EFFECT: Record<string, { zh: string; en: string }> = {
  totalizer: {
    zh: '累计量差值跨越缺口，总量不缺，但缺口期间的分布未知',
    en: 'the counter difference spans the gaps, so the total holds, but when it accrued inside them is unknown',
  },
  events: {
    zh: '缺口期间的称量单可能未计入，数值可能偏低',
    en: 'tickets inside the gaps may be missing: the value may be low',
  },
  rate: {
    zh: '缺口期间未积分，数值为下限估计',
    en: 'the gaps are not integrated: the value is a lower-bound estimate',
  },
  gauge: {
    zh: '平均值仅覆盖有读数的时段，为估计值',
    en: 'the mean covers the times with readings only: an estimate',
  },
};

/** The {@link EvidenceNotice}s of a package (formatVersion 2), in parameter order. */
function noticesOf(
  parameters: readonly EvidenceParameter[],
  comp: ReadonlyMap<string, CompletenessResult>,
  gasesOf: ReadonlyMap<string, readonly string[]>,
  defaultItems: (gases: readonly string[]) => EmissionItem[],
  gapped: (point: string) => boolean,
): EvidenceNotice[] {
  const out: EvidenceNotice[] = [];
  for (const p of parameters) {
    const gases = gasesOf.get(p.id) ?? [];
    const items = defaultItems(gases).map((i) => i.id);
    const instead =
      items.length > 0
        ? {
            zh: `排放量 ${items.join('、')} 改用缺省值计算`,
            en: `emissions ${items.join(', ')} are computed with a default instead`,
          }
        : gases.length > 0
          ? {
              zh: '依赖该参数的排放量未计算 (见排放说明)',
              en: 'emissions that need it are not computed (see the emission notes)',
            }
          : { zh: '本月不报告该参数的数值', en: 'no value is reported for it this month' };
    if (p.value === null && p.points.length === 0) {
      if (gases.length === 0 && p.role !== 'key') continue;
      out.push({
        parameter: p.id,
        issue: 'not_supplied',
        method: p.method,
        emissions: items,
        consequence: {
          zh: `站点配置中没有测点提供该参数；${instead.zh}`,
          en: `no point of the site file feeds this parameter; ${instead.en}`,
        },
      });
    } else if (p.value === null) {
      out.push({
        parameter: p.id,
        issue: 'no_data',
        method: p.method,
        emissions: items,
        consequence: {
          zh: `测点 ${p.points.map((x) => x.id).join('、')} 本月无可用读数；${instead.zh}`,
          en: `points ${p.points.map((x) => x.id).join(', ')} delivered no usable reading this month; ${instead.en}`,
        },
      });
    } else {
      const gappy = p.points.filter((x) => gapped(x.id));
      if (gappy.length === 0) continue;
      const shares = gappy.map((x) => `${x.id} ${comp.get(x.id)?.coveredShare ?? '—'}`);
      const how = PARTIAL_EFFECT[gappy[0]?.aggregation ?? 'gauge'] ?? PARTIAL_EFFECT.gauge;
      out.push({
        parameter: p.id,
        issue: 'partial_data',
        method: p.method,
        emissions: [],
        consequence: {
          zh: `数值来自有缺口的读数 (覆盖率 ${shares.join('、')})：${how?.zh}`,
          en: `the value comes from readings with gaps (covered ${shares.join(', ')}): ${how?.en}`,
        },
      });
    }
  }
  return out;
}

/** The month's UTC+8 start as ms (re-export for I/O code that pages by day). */
export { startOfCstDate };
