/**
 * The `TimeSeriesStore` interface (DESIGN.md §6): one contract, two implementations
 * (InfluxDB 1.x in `influx-store.ts`, embedded SQLite in `sqlite-store.ts`), both run through the
 * same contract suite in `test/integration/store-contract.ts`.
 *
 * Values are exact decimal strings in and out; `value` as a float exists only for charts.
 */
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
}

/** A unit as listed by the API (DESIGN.md §9 `GET /api/v1/units`). */
export interface UnitSummary extends UnitMeta {
  online: boolean;
  /** ISO-8601 time of the newest reading, or null. */
  lastDataAt: string | null;
}

/** A point with its newest reading (DESIGN.md §9 `GET /api/v1/units/{unitId}/points`). */
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

/** A place that keeps readings, the gateways' catalogues and their status. */
export interface TimeSeriesStore {
  /** Opens connections, creates the database or tables if missing. */
  start(): Promise<void>;
  /** Flushes and closes. */
  stop(): Promise<void>;
  /** Writes readings of many batches in one round trip. Returns the number of readings written. */
  writeReadings(readings: StoredReading[]): Promise<number>;
  /** Keeps the newest catalogue of a gateway. */
  writeMeta(unitId: string, meta: GatewayMeta): Promise<void>;
  /** Keeps the newest status of a gateway, with the collector's receive time (ms epoch). */
  writeStatus(unitId: string, status: GatewayStatus, receivedAt: number): Promise<void>;
  listUnits(): Promise<UnitSummary[]>;
  /** Points of a unit from its gateways' catalogues, each with its newest reading; `undefined` for an unknown unit. */
  listPoints(unitId: string): Promise<PointSummary[] | undefined>;
  series(q: SeriesQuery): Promise<SeriesPoint[]>;
}
