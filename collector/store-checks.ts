/**
 * Checks shared by both {@link TimeSeriesStore} implementations for the findings and batch-archive
 * methods, so that the InfluxDB and SQLite stores refuse exactly the same input.
 */
import { MrvError } from '../core/errors.ts';
import { Finding } from '../core/schema/finding.ts';
import { Identifier } from '../core/schema/wire.ts';
import type { ArchivedBatch, FindingFilter } from './store.ts';

const DEFAULT_LIMIT = 10_000;

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
    if (!Identifier.safeParse(id).success)
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

/** True when a finding passes a {@link FindingFilter}'s source, gateway and code. */
export function matchesFilter(f: Finding, filter: FindingFilter): boolean {
  return (
    (filter.source === undefined || f.source === filter.source) &&
    (filter.gatewayId === undefined || f.gatewayId === filter.gatewayId) &&
    (filter.code === undefined || f.code === filter.code)
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
