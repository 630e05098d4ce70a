/**
 * The meter ledger (计量器具台账, docs/architecture.md §8a) over the state database: a unit's key
 * measuring instruments and their verification (检定) / calibration (校准) certificates, so that a
 * plant's metrology staff record a renewed certificate (with its scan) on the server instead of
 * editing the site file on the plant box. Tables and migration: `ledger-schema.ts`. The same code runs
 * on SQLite and PostgreSQL (`test/integration/ledger-contract.ts`).
 *
 * - **Seeding**: {@link MeterLedger.seedFromSites} copies the meters of the site files the server
 *   loads, and their certificates (source `site`), into the ledger: idempotent, and it never overwrites
 *   or re-adds what the ledger holds (a seeded certificate once corrected stays corrected).
 * - **History**: certificate rows are only ever inserted. A correction inserts the corrected
 *   certificate with `supersedes` naming the row it replaces; a withdrawal inserts a row that
 *   supersedes it with `revoked_at` set. Every add, renewal, correction, withdrawal and seeding writes
 *   an audit row (`audit_log`, as state-store.ts) in the same transaction.
 * - **Calibration follows the ledger**: {@link MeterLedger.currentCertificates} answers, per meter of
 *   a unit, its current certificates in the site file's {@link Calibration} shape; the evidence service
 *   (evidence/service.ts `CertificatesProvider`) puts them in place of the site file's, and
 *   core/domain/calibration.ts recomputes the status from their dates.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Transaction } from 'kysely';
import { cstDate, daysBetween } from '../../core/domain/period.ts';
import { MrvError } from '../../core/errors.ts';
import type { SiteConfig } from '../../core/schema/site.ts';
import { type Calibration, isIdentifier, type MeterMeta } from '../../core/schema/wire.ts';
import { countOf, type StateDb, type StateSchema } from './db.ts';
import type { MeterCertificatesTable, MetersTable } from './ledger-schema.ts';
import { type Actor, MAX_ATTACHMENT_BYTES, type StateStore, sniffMatches } from './state-store.ts';

/** Content types a certificate scan may have (PDF, PNG, JPEG), checked against the bytes' magic numbers. */
export const SCAN_TYPES: readonly string[] = ['application/pdf', 'image/png', 'image/jpeg'];
/** Largest scan, bytes: the findings attachments' limit (2 MiB). */
export const MAX_SCAN_BYTES = MAX_ATTACHMENT_BYTES;
/** File-name extensions each scan type may carry (lowercase). */
const SCAN_EXTENSIONS: Record<string, readonly string[]> = {
  'application/pdf': ['.pdf'],
  'image/png': ['.png'],
  'image/jpeg': ['.jpg', '.jpeg'],
};
/** Longest validity accepted, days (10 years): a mistyped year must not make a meter valid for a century. */
export const MAX_VALIDITY_DAYS = 3653;
/** Longest free-text field (certificate number, body, regulation, result), characters. */
export const MAX_FIELD_LENGTH = 200;
/** Longest reason of a correction or withdrawal, characters. */
export const MAX_REASON_LENGTH = 2000;
/** Actor of the rows a site file seeds (the server itself, at start). */
export const SEED_ACTOR = { id: 'server:site-file', role: 'server' } as const;

/** A meter of the ledger. */
export interface LedgerMeter {
  unitId: string;
  id: string;
  name: string;
  kind: string;
  model?: string;
  serial?: string;
  accuracyClass?: string;
  range?: string;
  location?: string;
  /** When a site file seeded it; absent for a meter entered otherwise. */
  seededFromSiteAt?: string;
  createdAt: string;
  updatedAt: string;
}

/** A meter as registered on the server (a meter no site file the server loads describes). */
export interface MeterInput {
  /** The meter id the gateway's points name (`meter:` of a point), letters, digits, `_.-`. */
  id: string;
  name: string;
  /** weighbridge, belt-scale, ladle-scale, flowmeter, electricity-meter, ... */
  kind: string;
  model?: string;
  serial?: string;
  accuracyClass?: string;
  range?: string;
  location?: string;
}

/** A scan's description (the bytes from {@link MeterLedger.scan}). */
export interface ScanInfo {
  sha256: string;
  contentType: string;
  size: number;
  fileName: string;
}

/**
 * Where a certificate row stands in its history: `current` (in force as entered), `superseded` (a
 * later row corrected or withdrew it: see `supersededBy`), `withdrawal` (a row that withdrew the one it
 * supersedes; it is no certificate itself).
 */
export type CertificateState = 'current' | 'superseded' | 'withdrawal';

/** A certificate row of the ledger. */
export interface LedgerCertificate {
  id: string;
  unitId: string;
  meterId: string;
  kind: 'verification' | 'calibration';
  /** Certificate number (证书编号). */
  certificate: string;
  /** Verification/calibration body (检定机构). */
  body: string;
  regulation?: string;
  /** `yyyy-mm-dd` (UTC+8), the day of verification/calibration. */
  date: string;
  /** `yyyy-mm-dd` (UTC+8), last valid day, inclusive. */
  validUntil: string;
  result: string;
  /** `site`: seeded from a site file; `ledger`: entered through the API. */
  source: 'site' | 'ledger';
  scan?: ScanInfo;
  state: CertificateState;
  supersedes?: string;
  supersededBy?: string;
  /** Set on a withdrawal row. */
  revokedAt?: string;
  reason?: string;
  createdBy: string;
  createdAt: string;
}

/** A scan as uploaded. */
export interface ScanInput {
  fileName: string;
  contentType: string;
  data: Buffer;
}

/** A certificate as entered (API or CLI). */
export interface CertificateInput {
  kind: 'verification' | 'calibration';
  certificate: string;
  body: string;
  regulation?: string;
  date: string;
  validUntil: string;
  result: string;
  /** The scanned certificate; required for a new certificate, optional for a correction (keeps the old one). */
  scan?: ScanInput;
}

/** A correction: the certificate as it should have been entered, or a withdrawal; always with a reason. */
export type CorrectionInput = { reason: string } & (
  | { withdraw: true }
  | { withdraw?: false; certificate: CertificateInput }
);

/** Options of {@link MeterLedger}. */
export interface MeterLedgerOptions {
  /** Source of "now" for the rows' and audit rows' times, ms epoch. Default `Date.now` (as state-store.ts). */
  now?: () => number;
  /**
   * Source of "today" for the check that a certificate's date is not in the future, ms epoch: the
   * server's clock (plant time in the demo). Default {@link MeterLedgerOptions.now}.
   */
  today?: () => number;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** True for a real calendar date `yyyy-mm-dd` (not 2026-02-30). */
function realDate(s: string): boolean {
  const m = ISO_DATE.exec(s);
  if (m === null) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === s;
}

/** A required (or optional) text field, trimmed; empty optional text is absent. @throws MrvError `MRV_E_BAD_REQUEST` */
function text(field: string, v: unknown, max: number, required: boolean): string | undefined {
  const t = typeof v === 'string' ? v.trim() : v;
  if (t === undefined || t === null || t === '') {
    if (required) throw new MrvError('MRV_E_BAD_REQUEST', `${field} is required`, { field });
    return undefined;
  }
  if (typeof t !== 'string') throw new MrvError('MRV_E_BAD_REQUEST', `${field}: expected text`, { field });
  if (t.length > max)
    throw new MrvError('MRV_E_BAD_REQUEST', `${field}: at most ${max} characters`, { field });
  return t;
}

/**
 * Checks a scan: size, one of {@link SCAN_TYPES}, bytes that are what the type says (magic numbers, not
 * the header alone), a file name whose extension fits the type.
 * @throws MrvError `MRV_E_TOO_LARGE` (413), `MRV_E_UNSUPPORTED_MEDIA` (415), `MRV_E_BAD_REQUEST`
 */
export function checkScan(scan: ScanInput): void {
  if (scan.data.length > MAX_SCAN_BYTES)
    throw new MrvError('MRV_E_TOO_LARGE', `a certificate scan has at most ${MAX_SCAN_BYTES} bytes`, {
      size: scan.data.length,
    });
  if (scan.data.length === 0) throw new MrvError('MRV_E_BAD_REQUEST', 'the certificate scan is empty');
  if (!SCAN_TYPES.includes(scan.contentType))
    throw new MrvError(
      'MRV_E_UNSUPPORTED_MEDIA',
      `scan type ${scan.contentType} is not one of ${SCAN_TYPES.join(', ')} (扫描件仅限 PDF/PNG/JPEG)`,
    );
  if (!sniffMatches(scan.contentType, scan.data))
    throw new MrvError(
      'MRV_E_UNSUPPORTED_MEDIA',
      `the scan's bytes are not ${scan.contentType} (扫描件内容与类型不符)`,
    );
  const name = scan.fileName.trim();
  if (
    name === '' ||
    name.length > MAX_FIELD_LENGTH ||
    /[\\/]/.test(name) ||
    [...name].some((ch) => ch.charCodeAt(0) < 0x20)
  )
    throw new MrvError(
      'MRV_E_BAD_REQUEST',
      `scan.fileName: 1 to ${MAX_FIELD_LENGTH} characters, no path or control characters`,
    );
  const lower = name.toLowerCase();
  if (!(SCAN_EXTENSIONS[scan.contentType] ?? []).some((ext) => lower.endsWith(ext)))
    throw new MrvError(
      'MRV_E_UNSUPPORTED_MEDIA',
      `scan.fileName "${name}" does not end in ${(SCAN_EXTENSIONS[scan.contentType] ?? []).join(' or ')} as a ${scan.contentType} does`,
    );
}

/**
 * Checks and normalizes a certificate: kind, text fields, real dates, `validUntil` not before `date`,
 * at most {@link MAX_VALIDITY_DAYS} of validity, `date` not after today (UTC+8, at `now`).
 * @throws MrvError `MRV_E_BAD_REQUEST` naming the field
 */
export function checkCertificate(c: CertificateInput, now: number): Omit<CertificateInput, 'scan'> {
  if (c.kind !== 'verification' && c.kind !== 'calibration')
    throw new MrvError('MRV_E_BAD_REQUEST', 'kind: verification (检定) or calibration (校准)', {
      field: 'kind',
    });
  for (const f of ['date', 'validUntil'] as const)
    if (typeof c[f] !== 'string' || !realDate(c[f]))
      throw new MrvError('MRV_E_BAD_REQUEST', `${f}: expected a calendar date yyyy-mm-dd, got "${c[f]}"`, {
        field: f,
      });
  if (c.validUntil < c.date)
    throw new MrvError(
      'MRV_E_BAD_REQUEST',
      `validUntil ${c.validUntil} is before the date ${c.date} (有效期至早于检定日期)`,
      { field: 'validUntil' },
    );
  if (daysBetween(c.date, c.validUntil) > MAX_VALIDITY_DAYS)
    throw new MrvError(
      'MRV_E_BAD_REQUEST',
      `validUntil ${c.validUntil} is more than 10 years after ${c.date}: check the year`,
      { field: 'validUntil' },
    );
  const today = cstDate(now);
  if (c.date > today)
    throw new MrvError('MRV_E_BAD_REQUEST', `date ${c.date} is after today (${today}, UTC+8)`, {
      field: 'date',
    });
  const regulation = text('regulation', c.regulation, MAX_FIELD_LENGTH, false);
  return {
    kind: c.kind,
    certificate: text('certificate', c.certificate, MAX_FIELD_LENGTH, true)!,
    body: text('body', c.body, MAX_FIELD_LENGTH, true)!,
    ...(regulation !== undefined ? { regulation } : {}),
    date: c.date,
    validUntil: c.validUntil,
    result: text('result', c.result, MAX_FIELD_LENGTH, true)!,
  };
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Id of a certificate seeded from a site file: stable, so that two servers seeding at once insert it once. */
export function seededCertificateId(unitId: string, meterId: string, certificate: string): string {
  return `site-${sha256Hex(`${unitId}\u0000${meterId}\u0000${certificate}`).slice(0, 32)}`;
}

function meterOf(r: MetersTable): LedgerMeter {
  return {
    unitId: r.unit_id,
    id: r.meter_id,
    name: r.name,
    kind: r.kind,
    ...(r.model !== null ? { model: r.model } : {}),
    ...(r.serial !== null ? { serial: r.serial } : {}),
    ...(r.accuracy_class !== null ? { accuracyClass: r.accuracy_class } : {}),
    ...(r.measuring_range !== null ? { range: r.measuring_range } : {}),
    ...(r.location !== null ? { location: r.location } : {}),
    ...(r.site_seeded_at !== null ? { seededFromSiteAt: r.site_seeded_at } : {}),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Rows of one meter (or unit) to certificates, with their state worked out from the whole set. */
function certificatesOf(rows: MeterCertificatesTable[]): LedgerCertificate[] {
  const supersededBy = new Map<string, string>();
  for (const r of rows) if (r.supersedes !== null) supersededBy.set(r.supersedes, r.id);
  // Entry order; rows of one millisecond (a seed; a quick correction) by their place in a correction
  // chain (a correction after what it corrects), then by date.
  const byId = new Map(rows.map((r) => [r.id, r]));
  const depth = (r: MeterCertificatesTable): number => {
    let n = 0;
    for (let at = r; at.supersedes !== null && n < rows.length; n++) {
      const prev = byId.get(at.supersedes);
      if (prev === undefined) break;
      at = prev;
    }
    return n;
  };
  const key = new Map(rows.map((r) => [r.id, depth(r)]));
  const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  const sorted = [...rows].sort(
    (a, b) =>
      cmp(a.created_at, b.created_at) ||
      (key.get(a.id) ?? 0) - (key.get(b.id) ?? 0) ||
      cmp(a.date, b.date) ||
      cmp(a.id, b.id),
  );
  return sorted.map((r) => {
    const by = supersededBy.get(r.id);
    const state: CertificateState =
      by !== undefined ? 'superseded' : r.revoked_at !== null ? 'withdrawal' : 'current';
    return {
      id: r.id,
      unitId: r.unit_id,
      meterId: r.meter_id,
      kind: r.kind as LedgerCertificate['kind'],
      certificate: r.certificate_no,
      body: r.body,
      ...(r.regulation !== null ? { regulation: r.regulation } : {}),
      date: r.date,
      validUntil: r.valid_until,
      result: r.result,
      source: r.source as LedgerCertificate['source'],
      ...(r.scan_sha256 !== null
        ? {
            scan: {
              sha256: r.scan_sha256,
              contentType: r.scan_content_type ?? 'application/octet-stream',
              size: countOf(r.scan_size),
              fileName: r.scan_file_name ?? 'scan',
            },
          }
        : {}),
      state,
      ...(r.supersedes !== null ? { supersedes: r.supersedes } : {}),
      ...(by !== undefined ? { supersededBy: by } : {}),
      ...(r.revoked_at !== null ? { revokedAt: r.revoked_at } : {}),
      ...(r.reason !== null ? { reason: r.reason } : {}),
      createdBy: r.created_by,
      createdAt: r.created_at,
    };
  });
}

/** A current certificate in the site file's shape, for core/domain/calibration.ts. */
export function asCalibration(c: LedgerCertificate): Calibration {
  return {
    certificate: c.certificate,
    kind: c.kind,
    date: c.date,
    validUntil: c.validUntil,
    body: c.body,
    ...(c.regulation !== undefined ? { regulation: c.regulation } : {}),
    result: c.result,
  };
}

/** True when `err` is a unique-constraint violation of either engine. */
function uniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** The meter ledger (see the file comment). Constructors do no I/O. */
export class MeterLedger {
  readonly #s: StateDb;
  readonly #now: () => number;
  readonly #today: () => number;

  constructor(db: StateDb, opts: MeterLedgerOptions = {}) {
    this.#s = db;
    this.#now = opts.now ?? Date.now;
    this.#today = opts.today ?? this.#now;
  }

  #iso(): string {
    return new Date(this.#now()).toISOString();
  }

  async #run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof MrvError) throw err;
      throw new MrvError('MRV_E_STATE_DB', `state database failed to ${what}`, undefined, { cause: err });
    }
  }

  #audit(
    actor: Actor | typeof SEED_ACTOR,
    action: string,
    unitId: string,
    meterId: string,
    detail: Record<string, unknown>,
  ) {
    return {
      at: this.#iso(),
      actor: actor.id,
      actor_role: actor.role,
      action,
      target_kind: 'meter',
      target_id: `${unitId}/${meterId}`,
      unit_id: unitId,
      detail: JSON.stringify(detail),
    };
  }

  /**
   * Seeds the ledger from site files: every meter not in the ledger yet, and every certificate of a
   * site file whose number the meter's ledger rows do not hold yet (whatever became of it: a corrected
   * or withdrawn one is not re-added), as source `site`. Nothing in the ledger is changed. Several
   * servers seeding one database at once insert each row once (stable ids, insert-or-ignore).
   * @returns how many meters and certificates were added
   * @throws MrvError `MRV_E_STATE_DB`
   */
  async seedFromSites(sites: readonly SiteConfig[]): Promise<{ meters: number; certificates: number }> {
    let meters = 0;
    let certificates = 0;
    await this.#run('seed the meter ledger', async () => {
      for (const site of sites) {
        const unitId = site.unit.id;
        for (const m of site.meters) {
          await this.#s.db.transaction().execute(async (tx) => {
            const now = this.#iso();
            const added = await tx
              .insertInto('meters')
              .values({
                unit_id: unitId,
                meter_id: m.id,
                name: m.name,
                kind: m.kind,
                model: m.model ?? null,
                serial: m.serial ?? null,
                accuracy_class: m.accuracyClass ?? null,
                measuring_range: m.range ?? null,
                location: m.location ?? null,
                site_seeded_at: now,
                created_at: now,
                updated_at: now,
              })
              .onConflict((oc) => oc.columns(['unit_id', 'meter_id']).doNothing())
              .executeTakeFirst();
            const meterAdded = countOf(added.numInsertedOrUpdatedRows) > 0;
            const held = new Set(
              (
                await tx
                  .selectFrom('meter_certificates')
                  .select('certificate_no')
                  .where('unit_id', '=', unitId)
                  .where('meter_id', '=', m.id)
                  .execute()
              ).map((r) => r.certificate_no),
            );
            const seeded: string[] = [];
            for (const c of m.calibrations) {
              if (held.has(c.certificate)) continue;
              held.add(c.certificate);
              const r = await tx
                .insertInto('meter_certificates')
                .values({
                  id: seededCertificateId(unitId, m.id, c.certificate),
                  unit_id: unitId,
                  meter_id: m.id,
                  kind: c.kind,
                  certificate_no: c.certificate,
                  body: c.body,
                  regulation: c.regulation ?? null,
                  date: c.date,
                  valid_until: c.validUntil,
                  result: c.result,
                  source: 'site',
                  scan_sha256: null,
                  scan_content_type: null,
                  scan_size: null,
                  scan_file_name: null,
                  supersedes: null,
                  revoked_at: null,
                  reason: null,
                  created_by: SEED_ACTOR.id,
                  created_at: now,
                })
                .onConflict((oc) => oc.column('id').doNothing())
                .executeTakeFirst();
              if (countOf(r.numInsertedOrUpdatedRows) > 0) seeded.push(c.certificate);
            }
            if (meterAdded || seeded.length > 0) {
              meters += meterAdded ? 1 : 0;
              certificates += seeded.length;
              await tx
                .insertInto('audit_log')
                .values(
                  this.#audit(SEED_ACTOR, 'meter.seed', unitId, m.id, {
                    meterAdded,
                    certificates: seeded,
                  }),
                )
                .execute();
            }
          });
        }
      }
    });
    return { meters, certificates };
  }

  /** The meters of a unit, by id. */
  async meters(unitId: string): Promise<LedgerMeter[]> {
    return this.#run('list meters', async () =>
      (
        await this.#s.db
          .selectFrom('meters')
          .selectAll()
          .where('unit_id', '=', unitId)
          .orderBy('meter_id')
          .execute()
      ).map(meterOf),
    );
  }

  /** One meter, or undefined. */
  async meter(unitId: string, meterId: string): Promise<LedgerMeter | undefined> {
    return this.#run('read a meter', async () => {
      const r = await this.#s.db
        .selectFrom('meters')
        .selectAll()
        .where('unit_id', '=', unitId)
        .where('meter_id', '=', meterId)
        .executeTakeFirst();
      return r === undefined ? undefined : meterOf(r);
    });
  }

  /**
   * Every certificate row of a unit (or of one meter of it), superseded ones and withdrawals included,
   * in the order they were entered (rows entered at the same instant by date).
   */
  async certificates(unitId: string, meterId?: string): Promise<LedgerCertificate[]> {
    return this.#run('list certificates', async () => {
      let q = this.#s.db.selectFrom('meter_certificates').selectAll().where('unit_id', '=', unitId);
      if (meterId !== undefined) q = q.where('meter_id', '=', meterId);
      return certificatesOf(await q.execute());
    });
  }

  /**
   * The current certificates of every ledger meter of a unit, in the site file's shape, by meter id;
   * a ledger meter without any is present with an empty list (the ledger decides: it has none). This is
   * the evidence service's `CertificatesProvider`.
   */
  async currentCertificates(unitId: string): Promise<Map<string, Calibration[]>> {
    const [meters, certs] = await Promise.all([this.meters(unitId), this.certificates(unitId)]);
    const out = new Map<string, Calibration[]>(meters.map((m) => [m.id, []]));
    for (const c of certs) if (c.state === 'current') out.get(c.meterId)?.push(asCalibration(c));
    for (const list of out.values()) list.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
    return out;
  }

  /**
   * The ledger's meters of a unit in the site file's {@link MeterMeta} shape, each with its current
   * certificates: the evidence service's `MeterLedgerProvider` (evidence/service.ts).
   */
  async meterMetas(unitId: string): Promise<MeterMeta[]> {
    const [meters, current] = await Promise.all([this.meters(unitId), this.currentCertificates(unitId)]);
    return meters.map((m) => ({
      id: m.id,
      name: m.name,
      kind: m.kind,
      ...(m.model !== undefined ? { model: m.model } : {}),
      ...(m.serial !== undefined ? { serial: m.serial } : {}),
      ...(m.accuracyClass !== undefined ? { accuracyClass: m.accuracyClass } : {}),
      ...(m.range !== undefined ? { range: m.range } : {}),
      ...(m.location !== undefined ? { location: m.location } : {}),
      calibrations: current.get(m.id) ?? [],
    }));
  }

  /**
   * Registers a meter that no site file the server loads describes (a server whose catalogue comes
   * from the gateways' alone), audited as `meter.add`. The unit must be known to the caller.
   * @throws MrvError `MRV_E_BAD_REQUEST` (id form, fields), `MRV_E_LEDGER_CONFLICT` (the unit has the
   *   meter already), `MRV_E_STATE_DB`
   */
  async addMeter(unitId: string, input: MeterInput, actor: Actor): Promise<LedgerMeter> {
    const id = input.id;
    if (!isIdentifier(id))
      throw new MrvError(
        'MRV_E_BAD_REQUEST',
        'id: 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit',
        { field: 'id' },
      );
    const opt = (f: keyof MeterInput) => text(f, input[f], MAX_FIELD_LENGTH, false) ?? null;
    const now = this.#iso();
    const row: MetersTable = {
      unit_id: unitId,
      meter_id: id,
      name: text('name', input.name, MAX_FIELD_LENGTH, true)!,
      kind: text('kind', input.kind, MAX_FIELD_LENGTH, true)!,
      model: opt('model'),
      serial: opt('serial'),
      accuracy_class: opt('accuracyClass'),
      measuring_range: opt('range'),
      location: opt('location'),
      site_seeded_at: null,
      created_at: now,
      updated_at: now,
    };
    await this.#write('add a meter', async (tx) => {
      const r = await tx
        .insertInto('meters')
        .values(row)
        .onConflict((oc) => oc.columns(['unit_id', 'meter_id']).doNothing())
        .executeTakeFirst();
      if (countOf(r.numInsertedOrUpdatedRows) === 0)
        throw new MrvError('MRV_E_LEDGER_CONFLICT', `unit "${unitId}" has a meter "${id}" already`, {
          unitId,
          meterId: id,
        });
      await tx
        .insertInto('audit_log')
        .values(
          this.#audit(actor, 'meter.add', unitId, id, {
            name: row.name,
            kind: row.kind,
            ...(row.serial !== null ? { serial: row.serial } : {}),
          }),
        )
        .execute();
    });
    return meterOf(row);
  }

  async #needMeter(unitId: string, meterId: string): Promise<LedgerMeter> {
    const m = await this.meter(unitId, meterId);
    if (m === undefined)
      throw new MrvError('MRV_E_NOT_FOUND', `no meter "${meterId}" in the ledger of unit "${unitId}"`, {
        unitId,
        meterId,
      });
    return m;
  }

  /**
   * Adds a certificate to a meter (a first one, or the renewal after the last expired): checked
   * ({@link checkCertificate}, {@link checkScan}; the scan is required), stored with the scan's
   * SHA-256, audited as `certificate.add` or, when the meter already had a certificate of the same
   * kind, `certificate.renew`.
   * @throws MrvError `MRV_E_NOT_FOUND` (meter), `MRV_E_BAD_REQUEST`, `MRV_E_TOO_LARGE`,
   *   `MRV_E_UNSUPPORTED_MEDIA`, `MRV_E_LEDGER_CONFLICT` (the meter holds a current certificate with
   *   this number), `MRV_E_STATE_DB`
   */
  async addCertificate(
    unitId: string,
    meterId: string,
    input: CertificateInput,
    actor: Actor,
  ): Promise<LedgerCertificate> {
    const c = checkCertificate(input, this.#today());
    if (input.scan === undefined)
      throw new MrvError('MRV_E_BAD_REQUEST', 'a new certificate needs its scan (证书扫描件)', {
        field: 'scan',
      });
    const scan = input.scan;
    checkScan(scan);
    await this.#needMeter(unitId, meterId);
    const id = randomBytes(16).toString('hex');
    await this.#write('add a certificate', async (tx) => {
      const before = certificatesOf(
        await tx
          .selectFrom('meter_certificates')
          .selectAll()
          .where('unit_id', '=', unitId)
          .where('meter_id', '=', meterId)
          .execute(),
      ).filter((x) => x.state === 'current');
      if (before.some((x) => x.certificate === c.certificate))
        throw new MrvError(
          'MRV_E_LEDGER_CONFLICT',
          `meter "${meterId}" holds certificate ${c.certificate} already; correct it instead`,
          { unitId, meterId, certificate: c.certificate },
        );
      const info = await this.#scanRow(tx, scan);
      await tx
        .insertInto('meter_certificates')
        .values(this.#row(id, unitId, meterId, c, info, null, null, null, actor))
        .execute();
      const renew = before.some((x) => x.kind === c.kind);
      await tx
        .insertInto('audit_log')
        .values(
          this.#audit(actor, renew ? 'certificate.renew' : 'certificate.add', unitId, meterId, {
            certificateId: id,
            certificate: c.certificate,
            kind: c.kind,
            date: c.date,
            validUntil: c.validUntil,
            scanSha256: info.sha256,
            scanSize: info.size,
          }),
        )
        .execute();
    });
    return this.#one(unitId, meterId, id);
  }

  /**
   * Corrects a current certificate: inserts the corrected one (keeping the old scan unless a new one
   * comes) or a withdrawal, superseding it; the old row stays in the history. Audited as
   * `certificate.correct` / `certificate.withdraw` with the reason.
   * @throws MrvError `MRV_E_NOT_FOUND` (meter or certificate), `MRV_E_LEDGER_CONFLICT` (the certificate
   *   is not current: corrected or withdrawn already, or a withdrawal), `MRV_E_BAD_REQUEST`,
   *   `MRV_E_TOO_LARGE`, `MRV_E_UNSUPPORTED_MEDIA`, `MRV_E_STATE_DB`
   */
  async correct(
    unitId: string,
    meterId: string,
    certificateId: string,
    input: CorrectionInput,
    actor: Actor,
  ): Promise<LedgerCertificate> {
    const reason = text('reason', input.reason, MAX_REASON_LENGTH, true)!;
    const replacement = input.withdraw === true ? undefined : input.certificate;
    const c = replacement !== undefined ? checkCertificate(replacement, this.#today()) : undefined;
    if (replacement?.scan !== undefined) checkScan(replacement.scan);
    await this.#needMeter(unitId, meterId);
    const id = randomBytes(16).toString('hex');
    await this.#write('correct a certificate', async (tx) => {
      const all = certificatesOf(
        await tx
          .selectFrom('meter_certificates')
          .selectAll()
          .where('unit_id', '=', unitId)
          .where('meter_id', '=', meterId)
          .execute(),
      );
      const old = all.find((x) => x.id === certificateId);
      if (old === undefined)
        throw new MrvError('MRV_E_NOT_FOUND', `no certificate "${certificateId}" on meter "${meterId}"`, {
          unitId,
          meterId,
          certificateId,
        });
      if (old.state !== 'current')
        throw new MrvError(
          'MRV_E_LEDGER_CONFLICT',
          old.state === 'superseded'
            ? `certificate ${old.certificate} was corrected or withdrawn already (by ${old.supersededBy}); correct the current row`
            : `row ${old.id} is a withdrawal, not a certificate`,
          { certificateId, ...(old.supersededBy !== undefined ? { supersededBy: old.supersededBy } : {}) },
        );
      if (
        c !== undefined &&
        all.some((x) => x.state === 'current' && x.id !== old.id && x.certificate === c.certificate)
      )
        throw new MrvError(
          'MRV_E_LEDGER_CONFLICT',
          `meter "${meterId}" holds another current certificate ${c.certificate}`,
          { certificate: c.certificate },
        );
      let info: ScanInfo | undefined = old.scan;
      if (replacement?.scan !== undefined) info = await this.#scanRow(tx, replacement.scan);
      const now = this.#iso();
      const row =
        c !== undefined
          ? this.#row(id, unitId, meterId, c, info, old.id, null, reason, actor)
          : this.#row(id, unitId, meterId, old, info, old.id, now, reason, actor);
      try {
        await tx.insertInto('meter_certificates').values(row).execute();
      } catch (err) {
        // Another correction of the same row won the unique index on `supersedes` meanwhile.
        if (uniqueViolation(err))
          throw new MrvError(
            'MRV_E_LEDGER_CONFLICT',
            `certificate ${old.certificate} was corrected meanwhile`,
            {
              certificateId,
            },
          );
        throw err;
      }
      await tx
        .insertInto('audit_log')
        .values(
          this.#audit(
            actor,
            c !== undefined ? 'certificate.correct' : 'certificate.withdraw',
            unitId,
            meterId,
            {
              certificateId: id,
              supersedes: old.id,
              certificate: (c ?? old).certificate,
              ...(c !== undefined
                ? {
                    before: {
                      date: old.date,
                      validUntil: old.validUntil,
                      result: old.result,
                      kind: old.kind,
                    },
                    after: { date: c.date, validUntil: c.validUntil, result: c.result, kind: c.kind },
                  }
                : {}),
              reason,
              ...(info !== undefined ? { scanSha256: info.sha256 } : {}),
            },
          ),
        )
        .execute();
    });
    return this.#one(unitId, meterId, id);
  }

  /** The scan of a certificate row of the meter, with its bytes, or undefined (unknown, or none). */
  async scan(
    unitId: string,
    meterId: string,
    certificateId: string,
  ): Promise<(ScanInfo & { data: Buffer }) | undefined> {
    return this.#run('read a scan', async () => {
      const r = await this.#s.db
        .selectFrom('meter_certificates')
        .innerJoin('certificate_scans', 'certificate_scans.sha256', 'meter_certificates.scan_sha256')
        .select([
          'certificate_scans.sha256',
          'certificate_scans.content_type',
          'certificate_scans.size',
          'certificate_scans.data',
          'meter_certificates.scan_file_name',
        ])
        .where('meter_certificates.unit_id', '=', unitId)
        .where('meter_certificates.meter_id', '=', meterId)
        .where('meter_certificates.id', '=', certificateId)
        .executeTakeFirst();
      return r === undefined
        ? undefined
        : {
            sha256: r.sha256,
            contentType: r.content_type,
            size: countOf(r.size),
            fileName: r.scan_file_name ?? 'scan',
            data: Buffer.from(r.data),
          };
    });
  }

  async #write(what: string, fn: (tx: LedgerTx) => Promise<void>): Promise<void> {
    await this.#run(what, () => this.#s.db.transaction().execute(fn));
  }

  async #scanRow(tx: LedgerTx, scan: ScanInput): Promise<ScanInfo> {
    const sha256 = sha256Hex(scan.data);
    await tx
      .insertInto('certificate_scans')
      .values({
        sha256,
        content_type: scan.contentType,
        size: scan.data.length,
        data: scan.data,
        created_at: this.#iso(),
      })
      .onConflict((oc) => oc.column('sha256').doNothing())
      .execute();
    return { sha256, contentType: scan.contentType, size: scan.data.length, fileName: scan.fileName.trim() };
  }

  #row(
    id: string,
    unitId: string,
    meterId: string,
    c: Omit<CertificateInput, 'scan'> | LedgerCertificate,
    scan: ScanInfo | undefined,
    supersedes: string | null,
    revokedAt: string | null,
    reason: string | null,
    actor: Actor,
  ): MeterCertificatesTable {
    return {
      id,
      unit_id: unitId,
      meter_id: meterId,
      kind: c.kind,
      certificate_no: c.certificate,
      body: c.body,
      regulation: c.regulation ?? null,
      date: c.date,
      valid_until: c.validUntil,
      result: c.result,
      source: 'ledger',
      scan_sha256: scan?.sha256 ?? null,
      scan_content_type: scan?.contentType ?? null,
      scan_size: scan?.size ?? null,
      scan_file_name: scan?.fileName ?? null,
      supersedes,
      revoked_at: revokedAt,
      reason,
      created_by: actor.id,
      created_at: this.#iso(),
    };
  }

  async #one(unitId: string, meterId: string, id: string): Promise<LedgerCertificate> {
    const c = (await this.certificates(unitId, meterId)).find((x) => x.id === id);
    if (c === undefined) throw new MrvError('MRV_E_STATE_DB', 'the certificate vanished');
    return c;
  }
}

/** A transaction on the state database. */
type LedgerTx = Transaction<StateSchema>;

/**
 * The meter ledger on a state store's database. It keeps no state of its own, so the routes and the
 * evidence service may each make one.
 */
export function ledgerOf(state: StateStore, opts: MeterLedgerOptions = {}): MeterLedger {
  return new MeterLedger(state.database, opts);
}
