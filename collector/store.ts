/**
 * The `TimeSeriesStore` interface (docs/architecture.md §6): one contract, two implementations
 * (InfluxDB 1.x in `influx-store.ts`, embedded SQLite in `sqlite-store.ts`), both run through the
 * same contract suite in `test/integration/store-contract.ts`.
 *
 * Values are exact decimal strings in and out; `value` as a float exists only for charts.
 */
import type { Finding, FindingSource, FindingState } from '../core/schema/finding.ts';
import type { GatewayMeta, GatewayStatus, PointMeta, Quality, UnitMeta } from '../core/schema/wire.ts';

/** One stored reading, enriched with where it came from. Times are ms since epoch. */
export interface StoredReading {
  unitId: string;
  gatewayId: string;
  device: string;
  point: string;
  meter?: string;
  /** Source time, ms epoch. */
  ts: number;
  /** Gateway receive time, ms epoch. */
  rxTs: number;
  /** Exact decimal string, `null` for bad quality. */
  value: string | null;
  quality: Quality;
  reason?: string;
  /** Batch sequence number it arrived in. */
  seq: number;
  /**
   * Set when the batch failed verification (the finding code, e.g. `MRV_F_BAD_SIGNATURE`,
   * `MRV_F_UNKNOWN_KEY`): the store keeps the reading in its quarantine ({@link TimeSeriesStore.listQuarantine}),
   * never among the readings, so it can neither replace nor stand beside a verified one in series, points,
   * completeness or evidence. The collector stores such readings `uncertain` with the cause in `reason`.
   */
  quarantine?: string;
}

/**
 * One quarantined reading ({@link StoredReading.quarantine}): what an unverified batch claimed, kept and
 * listed, never served as data. Identity (unit, gateway, point, ts), as a reading's.
 */
export type QuarantinedReading = Omit<StoredReading, 'quarantine'> & {
  /** Why it is quarantined: the code of the verification finding of its batch. */
  cause: string;
};

/** Query of a unit's quarantined readings ({@link TimeSeriesStore.listQuarantine}). */
export interface QuarantineQuery {
  unitId: string;
  /** Inclusive start (reading source time), ms epoch. */
  from: number;
  /** Exclusive end, ms epoch. */
  to: number;
  gatewayId?: string;
  /** At most this many, oldest `ts` first. Default 10 000. */
  limit?: number;
}

/** A unit as listed by the API (docs/architecture.md §9 `GET /api/v1/units`). */
export interface UnitSummary extends UnitMeta {
  online: boolean;
  /** ISO-8601 time of the newest reading, or null. */
  lastDataAt: string | null;
}

/** A point with its newest reading (docs/architecture.md §9 `GET /api/v1/units/{unitId}/points`). */
export interface PointSummary extends PointMeta {
  last: { ts: string; value: string | null; quality: Quality } | null;
}

/** One bucket of a series. Raw queries return buckets of one reading (min = max = value, count 1). */
export interface SeriesPoint {
  /** Bucket start (or reading time for raw), ISO-8601. */
  ts: string;
  /** Mean of the good readings in the bucket as a decimal string (raw: the exact value). */
  value: string | null;
  min: string | null;
  max: string | null;
  count: number;
  /** Raw only: quality of the reading. */
  quality?: Quality;
}

/** Query of one point's series. `stepMs` absent means raw readings. */
export interface SeriesQuery {
  unitId: string;
  pointId: string;
  /** Inclusive start, ms epoch. */
  from: number;
  /** Exclusive end, ms epoch. */
  to: number;
  stepMs?: number;
  /** Raw queries return at most this many readings, the oldest first. */
  limit?: number;
}

/** Query of one point's raw readings with their batch identity ({@link TimeSeriesStore.rawReadings}). */
export type RawReadingQuery = Omit<SeriesQuery, 'stepMs'>;

/**
 * One stored reading of a point as the evidence reads it: its exact value, quality and reason, and the
 * identity of the batch it arrived in (`gatewayId`, `seq`; the last delivery when it was redelivered),
 * so that a monthly evidence package can cite exactly the archived batches behind its values.
 */
export interface RawReading {
  /** Source time, ms epoch. */
  ts: number;
  /** Exact decimal string, `null` for bad quality. */
  value: string | null;
  quality: Quality;
  reason?: string;
  gatewayId: string;
  seq: number;
}

/**
 * One received batch as archived by the collector (docs/architecture.md §6 "Raw batches are kept too"): its exact
 * canonical bytes and signature, so that evidence can cite the digest of the batches it was computed
 * from and `mrv verify` can re-check them offline. One archived batch per (unitId, gatewayId, seq).
 */
export interface ArchivedBatch {
  unitId: string;
  gatewayId: string;
  seq: number;
  /** SHA-256 hex of `canonical`: the `prevHash` the next batch must carry. */
  hash: string;
  prevHash: string;
  /** The canonical bytes (core/schema/canonical.ts) as UTF-8 text: sorted-key JSON without `sig`. */
  canonical: string;
  /** Base64 Ed25519 signature as received, `null` for an unsigned batch. */
  sig: string | null;
  /** Collector receive time, ms epoch. */
  receivedAt: number;
  /** `verified`: signature and chain checked and good; `failed`: see `findings`; `unchecked`: verification off. */
  verdict: 'verified' | 'failed' | 'unchecked';
  /** Codes of the integrity findings raised for this batch (empty when none). */
  findings: string[];
}

/** The newest archived batch of one gateway (the collector resumes its chain checks from it). */
export interface BatchHead {
  unitId: string;
  gatewayId: string;
  seq: number;
  hash: string;
}

/**
 * One archived batch without its bytes (see {@link ArchivedBatch}): what the chain and seq checks need,
 * so that they read a few dozen bytes per batch instead of the whole batch.
 */
export type BatchLink = Pick<
  ArchivedBatch,
  'seq' | 'hash' | 'prevHash' | 'receivedAt' | 'verdict' | 'findings'
>;

/** A seq range of one gateway's archived batches; both ends inclusive. */
export interface BatchQuery {
  unitId: string;
  gatewayId: string;
  fromSeq?: number;
  toSeq?: number;
  /** At most this many, lowest seq first. Default 10 000. */
  limit?: number;
}

/** Optional narrowing of {@link TimeSeriesStore.listFindings}. */
export interface FindingFilter {
  source?: FindingSource;
  gatewayId?: string;
  code?: string;
  /** Only findings in this lifecycle state (a finding without `state` is `open`). */
  state?: FindingState;
  /** At most this many, oldest `ts` first. Default 10 000. */
  limit?: number;
}

/**
 * Query of {@link TimeSeriesStore.goodReadingCounts}: some points of one unit over `[from, to)` (ms
 * epoch), counted in buckets of `stepMs` aligned to the Unix epoch as a stepped {@link SeriesQuery}'s.
 */
export interface GoodCountQuery {
  unitId: string;
  /** The points to count (each at most once in the answer; an unknown point counts 0). */
  pointIds: readonly string[];
  /** Inclusive start, ms epoch. */
  from: number;
  /** Exclusive end, ms epoch. */
  to: number;
  /** Bucket length, ms (≥ 1). */
  stepMs: number;
}

/** One point's counts of {@link TimeSeriesStore.goodReadingCounts}. */
export interface GoodCount {
  /** Good readings (quality `good` with a value) in the range: the sum of the stepped series' `count`s. */
  good: number;
  /** Buckets holding at least one of them: the number of buckets the stepped series returns. */
  buckets: number;
}

/** A place that keeps readings, the gateways' catalogues and their status. */
export interface TimeSeriesStore {
  /** Opens connections, creates the database or tables if missing. */
  start(): Promise<void>;
  /** Flushes and closes. */
  stop(): Promise<void>;
  /**
   * Writes readings of many batches in one round trip. Returns the number of readings written
   * (quarantined ones included). A reading's identity is (unit, gateway, point, ts): the same again
   * replaces it (a redelivery, or a verified version of its batch), another gateway's never does. A
   * reading with `quarantine` set goes to the quarantine instead (same identity there), never to the readings.
   */
  writeReadings(readings: StoredReading[]): Promise<number>;
  /** Keeps the newest catalogue of a gateway. */
  writeMeta(unitId: string, meta: GatewayMeta): Promise<void>;
  /** Keeps the newest status of a gateway, with the collector's receive time (ms epoch). */
  writeStatus(unitId: string, status: GatewayStatus, receivedAt: number): Promise<void>;
  listUnits(): Promise<UnitSummary[]>;
  /** Points of a unit from its gateways' catalogues, each with its newest reading; `undefined` for an unknown unit. */
  listPoints(unitId: string): Promise<PointSummary[] | undefined>;
  series(q: SeriesQuery): Promise<SeriesPoint[]>;
  /**
   * One point's raw readings in `[from, to)` (ms epoch), oldest first, at most `limit` (default
   * 10 000), each with the gateway and batch seq it arrived in. Same rows as a raw {@link series}.
   * @throws MrvError `MRV_E_BAD_REQUEST` for non-integer times or `limit` < 1; `MRV_E_STORE` when the store fails.
   */
  rawReadings(q: RawReadingQuery): Promise<RawReading[]>;
  /**
   * A unit's quarantined readings ({@link StoredReading.quarantine}) with `ts` in `[from, to)`, oldest
   * first (ties by gateway, point), at most `limit` (default 10 000).
   * @throws MrvError `MRV_E_BAD_REQUEST` for non-integer times or `limit` < 1; `MRV_E_STORE` when the store fails.
   */
  listQuarantine(q: QuarantineQuery): Promise<QuarantinedReading[]>;
  /**
   * Keeps findings (core/schema/finding.ts) of any source. A finding with the id of a stored one
   * replaces it, so producers re-raise freely. Returns the number written.
   * @throws MrvError `MRV_E_STORE` for a finding that does not match the `Finding` schema (nothing is
   *   written then) or when the store fails.
   */
  writeFindings(findings: Finding[]): Promise<number>;
  /**
   * Findings of a unit whose `ts` is in `[from, to)` (ms epoch), oldest `ts` first (ties by id).
   * @throws MrvError `MRV_E_BAD_REQUEST` for non-integer times; `MRV_E_STORE` when the store fails.
   */
  listFindings(unitId: string, from: number, to: number, filter?: FindingFilter): Promise<Finding[]>;
  /**
   * The open findings of one code of a unit, whatever their `ts` (oldest `ts` first, ties by id),
   * narrowed by `filter` (its `state` is ignored): what a producer may resolve (collector/finding-lifecycle.ts
   * looks up the open `MRV_F_SEQ_GAP` and `MRV_F_CHAIN_BROKEN` of a gateway). A finding without `state`
   * (written before the lifecycle existed) is open. Costs at most one read of the findings of that code of
   * the unit: meant for rare codes, not for per-batch ones.
   * @throws MrvError `MRV_E_STORE` when the store fails.
   */
  listOpenFindings(
    unitId: string,
    code: string,
    filter?: Omit<FindingFilter, 'code' | 'state'>,
  ): Promise<Finding[]>;
  /**
   * Archives received batches (canonical bytes + signature). One per (unitId, gatewayId, seq): writing
   * the same key again replaces it (the collector decides which version wins, see collector.ts).
   * @throws MrvError `MRV_E_STORE`
   */
  archiveBatches(batches: ArchivedBatch[]): Promise<number>;
  /** Archived batches of one gateway in seq order. @throws MrvError `MRV_E_STORE` */
  listBatches(q: BatchQuery): Promise<ArchivedBatch[]>;
  /**
   * The same rows as {@link listBatches} without the canonical bytes and signature: the collectors'
   * shared-subscription checks (collector/chain-audit.ts) read these for every batch.
   * @throws MrvError `MRV_E_STORE`
   */
  listBatchLinks(q: BatchQuery): Promise<BatchLink[]>;
  /**
   * The newest archived batch of every gateway whose signature did not fail (its findings hold neither
   * `MRV_F_BAD_SIGNATURE` nor `MRV_F_UNKNOWN_KEY`): a forged batch with a high seq moves no chain head.
   * @throws MrvError `MRV_E_STORE`
   */
  batchHeads(): Promise<BatchHead[]>;
  /**
   * Write marks of a unit's UTC+8 days (docs/architecture.md §7 "Day aggregates"): for each day whose
   * start ({@link cstDayStart}) is in `[from, to)` (ms epoch) and on which {@link writeReadings} ever stored a
   * reading of the unit, a token that changes with every later write of a reading of that day, by day
   * start (ms). Written after the readings themselves (in their transaction where the store has one),
   * by whichever process writes them, so a day aggregate kept with its token is known stale when the
   * token differs. Days without a mark are absent. Optional: without it no day aggregate is kept.
   * @throws MrvError `MRV_E_STORE`
   */
  readingDayMarks?(unitId: string, from: number, to: number): Promise<Map<number, string>>;
  /**
   * Write marks of a unit's clock hours, as {@link readingDayMarks} of its days: for each hour whose
   * start is in `[from, to)` (ms epoch) and in which {@link writeReadings} ever stored a reading of the
   * unit, a token that changes with every later write of a reading of that hour, by hour start (ms).
   * Lets the evidence day aggregates keep the ended hours of today while today's readings are still
   * being written. Optional: without it they are invalidated by day.
   * @throws MrvError `MRV_E_STORE`
   */
  readingHourMarks?(unitId: string, from: number, to: number): Promise<Map<number, string>>;
  /**
   * Per point of `q.pointIds`, its good readings in `[from, to)` and the `stepMs` buckets that hold
   * them: exactly what a stepped {@link series} of each point gives once its buckets are summed and
   * counted, without the bucket statistics (one query for the unit's points instead of one stepped series
   * per point). Every asked point is in the answer (0 and 0 without readings). What the month-to-date
   * completeness needs (evidence/service.ts `completenessToDate`); never enough for gaps or their causes,
   * which need the readings themselves. Optional: without it the completeness sums the stepped series.
   * @throws MrvError `MRV_E_BAD_REQUEST` for non-integer times or `stepMs` < 1; `MRV_E_STORE` when the store fails.
   */
  goodReadingCounts?(q: GoodCountQuery): Promise<Map<string, GoodCount>>;
}

/** Length of a UTC+8 day, and its offset from UTC, ms. */
const DAY_MS = 86_400_000;
const CST_OFFSET_MS = 8 * 3_600_000;

/** Start (ms epoch) of the UTC+8 day holding `ts` (the key of {@link TimeSeriesStore.readingDayMarks}). */
export function cstDayStart(ts: number): number {
  return ts - ((((ts + CST_OFFSET_MS) % DAY_MS) + DAY_MS) % DAY_MS);
}
