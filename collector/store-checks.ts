/**
 * Checks and helpers shared by both {@link TimeSeriesStore} implementations, so that the InfluxDB and
 * SQLite stores refuse exactly the same input and shape their answers the same way.
 */
import { MrvError } from '../core/errors.ts';
import { Finding, findingState } from '../core/schema/finding.ts';
import { type GatewayMeta, isDecimalString, isIdentifier, type Quality } from '../core/schema/wire.ts';
import type { ArchivedBatch, FindingFilter, PointSummary, SeriesQuery, StoredReading } from './store.ts';

const DEFAULT_LIMIT = 10_000;
const QUALITIES: ReadonlySet<string> = new Set<Quality>(['good', 'uncertain', 'bad']);

/** Validates a finding before anything is written; returns it with defaults applied. @throws MrvError `MRV_E_STORE` */
export function checkFinding(f: Finding, index: number): Finding {
  const r = Finding.safeParse(f);
  if (!r.success)
    throw new MrvError(
      'MRV_E_STORE',
      `finding ${index} (${String(f?.id)}) does not match the schema: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      { index },
    );
  return r.data;
}

/** Validates an archived batch record. @throws MrvError `MRV_E_STORE` */
export function checkArchived(b: ArchivedBatch): void {
  for (const [field, id] of Object.entries({ unitId: b.unitId, gatewayId: b.gatewayId }))
    if (!isIdentifier(id))
      throw new MrvError('MRV_E_STORE', `${field} ${JSON.stringify(id)} is not an identifier`, { field });
  const bad = (what: string) =>
    new MrvError('MRV_E_STORE', `archived batch ${b.gatewayId}#${b.seq}: ${what}`);
  if (!Number.isSafeInteger(b.seq) || b.seq < 1) throw bad('seq must be a positive integer');
  if (!/^[0-9a-f]{64}$/.test(b.hash) || !/^[0-9a-f]{64}$/.test(b.prevHash))
    throw bad('hash and prevHash must be SHA-256 hex');
  if (typeof b.canonical !== 'string' || b.canonical.length === 0) throw bad('canonical bytes missing');
  if (!Number.isSafeInteger(b.receivedAt)) throw bad('receivedAt must be integer ms');
  if (!['verified', 'failed', 'unchecked'].includes(b.verdict)) throw bad(`unknown verdict ${b.verdict}`);
}

/** True when a finding passes a {@link FindingFilter}'s source, gateway, code and state. */
export function matchesFilter(f: Finding, filter: FindingFilter): boolean {
  return (
    (filter.source === undefined || f.source === filter.source) &&
    (filter.gatewayId === undefined || f.gatewayId === filter.gatewayId) &&
    (filter.code === undefined || f.code === filter.code) &&
    (filter.state === undefined || findingState(f) === filter.state)
  );
}

/**
 * Validates a time range and limit. @returns the limit
 * @throws MrvError `MRV_E_BAD_REQUEST`
 */
export function checkRange(from: number, to: number, limit = DEFAULT_LIMIT): number {
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to))
    throw new MrvError('MRV_E_BAD_REQUEST', `from and to must be integer ms, got ${from}, ${to}`);
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new MrvError('MRV_E_BAD_REQUEST', `limit must be a positive integer, got ${limit}`);
  return limit;
}

/** A float column as the decimal text the API serves; `null` for absent or non-finite values. */
export function floatText(f: number | null | undefined): string | null {
  return f === null || f === undefined || !Number.isFinite(f) ? null : String(f);
}

/** Code-unit order of two strings (stable, locale-free), for sorting ids. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Parses JSON the store wrote itself from validated objects (no second validation). */
export function parseJson<T>(json: string): T {
  return JSON.parse(json) as T;
}

/** Newest catalogue per unit; equal times go to the greater gateway id so the answer is stable. */
export function newestMetaPerUnit(
  rows: Array<{ unit: string; gateway: string; at: number; json: string }>,
): Map<string, GatewayMeta> {
  const best = new Map<string, { gateway: string; at: number; json: string }>();
  for (const r of rows) {
    const cur = best.get(r.unit);
    if (cur === undefined || r.at > cur.at || (r.at === cur.at && r.gateway > cur.gateway))
      best.set(r.unit, r);
  }
  return new Map([...best].map(([unit, r]) => [unit, parseJson<GatewayMeta>(r.json)]));
}

/** Points of several gateways' catalogues in a stable order, first declaration of a point id wins. */
export function pointsOf(
  metas: Array<{ gateway: string; meta: GatewayMeta }>,
  last: (pointId: string) => PointSummary['last'],
): PointSummary[] {
  const out: PointSummary[] = [];
  const seen = new Set<string>();
  for (const { meta } of [...metas].sort((a, b) => compare(a.gateway, b.gateway))) {
    for (const p of meta.points) {
      if (seen.has(p.id)) continue;
      seen.add(p.id);
      out.push({ ...p, last: last(p.id) });
    }
  }
  return out;
}

/** @throws MrvError `MRV_E_STORE` naming the first id that is not an Identifier. */
export function checkIds(
  ids: Record<string, string | undefined>,
  checked?: Set<string>,
  index?: number,
): void {
  for (const [field, id] of Object.entries(ids)) {
    if (id === undefined || checked?.has(id)) continue;
    if (!isIdentifier(id)) {
      throw new MrvError('MRV_E_STORE', `${field} ${JSON.stringify(id)} is not an identifier`, {
        field,
        index,
      });
    }
    checked?.add(id);
  }
}

/** True when `id` is absent, already checked, or an Identifier (then remembered in `checked`). */
function idOk(id: string | undefined, checked: Set<string>): boolean {
  if (id === undefined || checked.has(id)) return true;
  if (!isIdentifier(id)) return false;
  checked.add(id);
  return true;
}

function badReading(r: StoredReading, index: number, what: string): MrvError {
  return new MrvError('MRV_E_STORE', `reading ${index} (${r.unitId}/${r.point}): ${what}`, {
    index,
    point: r.point,
  });
}

/**
 * Validates one reading before anything is written. Called once per stored reading, so it allocates
 * nothing when the reading is good; `checked` remembers the ids found good in this write.
 * @throws MrvError `MRV_E_STORE`
 */
export function checkReading(r: StoredReading, index: number, checked: Set<string>): void {
  if (
    !(
      idOk(r.unitId, checked) &&
      idOk(r.gatewayId, checked) &&
      idOk(r.device, checked) &&
      idOk(r.point, checked) &&
      idOk(r.meter, checked)
    )
  )
    // Throws naming the first bad id, in this order.
    checkIds(
      { unitId: r.unitId, gatewayId: r.gatewayId, device: r.device, point: r.point, meter: r.meter },
      checked,
      index,
    );
  if (!QUALITIES.has(r.quality)) throw badReading(r, index, `unknown quality ${JSON.stringify(r.quality)}`);
  if (r.value !== null && !isDecimalString(r.value)) {
    throw badReading(r, index, `value ${JSON.stringify(r.value)} is not a decimal string`);
  }
  if (!Number.isSafeInteger(r.ts) || !Number.isSafeInteger(r.rxTs))
    throw badReading(r, index, 'ts and rxTs must be integer ms');
  if (!Number.isSafeInteger(r.seq) || r.seq < 0)
    throw badReading(r, index, `seq ${r.seq} is not a non-negative integer`);
  if (r.quarantine !== undefined && !/^MRV_F_[A-Z0-9_]{1,58}$/.test(r.quarantine))
    throw badReading(r, index, `quarantine ${JSON.stringify(r.quarantine)} is not a finding code`);
}

/** Finding codes of an archived batch whose signature failed: such a batch is no chain head. */
export const SIGNATURE_FAILURES = ['MRV_F_BAD_SIGNATURE', 'MRV_F_UNKNOWN_KEY'] as const;

/**
 * True when an archived batch's signature failed (its readings were quarantined): it is no link of its
 * gateway's chain, so neither a head nor a predecessor to check a neighbour against.
 */
export function quarantinedLink(l: { findings: readonly string[] }): boolean {
  return l.findings.some((c) => (SIGNATURE_FAILURES as readonly string[]).includes(c));
}

/**
 * Validates a series query. @returns the raw-series limit
 * @throws MrvError `MRV_E_BAD_REQUEST`
 */
export function checkQuery(q: SeriesQuery): number {
  if (!Number.isSafeInteger(q.from) || !Number.isSafeInteger(q.to)) {
    throw new MrvError('MRV_E_BAD_REQUEST', `series: from and to must be integer ms, got ${q.from}, ${q.to}`);
  }
  if (q.stepMs !== undefined && (!Number.isSafeInteger(q.stepMs) || q.stepMs < 1)) {
    throw new MrvError('MRV_E_BAD_REQUEST', `series: stepMs must be a positive integer, got ${q.stepMs}`);
  }
  const limit = q.limit ?? DEFAULT_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new MrvError('MRV_E_BAD_REQUEST', `series: limit must be a positive integer, got ${q.limit}`);
  }
  return limit;
}
