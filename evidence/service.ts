/**
 * I/O around the carbon-accounting core (core/domain): loads the YAML rule and factor packs, builds a
 * unit's catalogue (from site files and/or the store), reads readings from the store in day chunks
 * while hashing them, and signs and verifies evidence packages with Ed25519 (node:crypto).
 * Used by the server's domain routes and by `mrv evidence` / `mrv verify` (cli/evidence.ts).
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type Hash,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { GoodCount, RawReading, TimeSeriesStore } from '../collector/store.ts';
import {
  type BatchLister,
  type BatchSample,
  BatchUsage,
  type CataloguePoint,
  citeBatches,
  computeEvidence,
  DEFAULT_EVIDENCE_CONFIG,
  EVIDENCE_FORMAT_VERSION,
  type EvidenceBody,
  type EvidenceConfig,
  type EvidencePackage,
  type EvidenceRawData,
  effectiveIntervalMs,
  evidenceChunks,
  type FactorPack,
  isoCst,
  lookupParameter,
  monthPeriod,
  monthToDate,
  type PointCount,
  parseFactorPack,
  parseRulePack,
  type ReadingSource,
  type RulePack,
  readPages,
  type Sample,
  type UnitCatalogue,
  unknownOverrides,
} from '../core/domain/index.ts';
import { MrvError } from '../core/errors.ts';
import { canonicalJson } from '../core/schema/canonical.ts';
import type { SiteConfig } from '../core/schema/site.ts';
import type { UnitRegistry } from '../core/schema/unit-registry.ts';
import {
  Batch,
  type Calibration,
  type Industry,
  type MeterMeta,
  type PointMeta,
  type UnitMeta,
} from '../core/schema/wire.ts';
import { type DayAggregates, type DigestPart, evidenceKey } from './day-aggregates.ts';
import type { DayCounts } from './day-counts.ts';
import { factorPackDigest } from './factor-packs.ts';
import { Sha256State } from './sha256-state.ts';

const DOMAIN_DIR = fileURLToPath(new URL('../core/domain/', import.meta.url));

/** Default evidence key file (relative to the working directory). */
export const DEFAULT_EVIDENCE_KEY_FILE = '.data/evidence-ed25519.pem';

/** The factor pack used unless a site or a command names another. */
export const DEFAULT_FACTOR_PACK = resolve(DOMAIN_DIR, 'factors/cn-ets-defaults.yaml');
/** Rule pack file of an industry. */
export function defaultRulePackFile(industry: Industry): string {
  return resolve(DOMAIN_DIR, `rules/${industry}.yaml`);
}

function readYaml(file: string): unknown {
  try {
    return parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new MrvError(
      'MRV_E_CONFIG',
      `cannot read ${file}: ${(err as Error).message}`,
      { file },
      { cause: err },
    );
  }
}

/** Loads and validates a factor pack YAML file. @throws MrvError `MRV_E_CONFIG` */
export function loadFactorPack(file = DEFAULT_FACTOR_PACK): FactorPack {
  try {
    return parseFactorPack(readYaml(file), file);
  } catch (err) {
    if (err instanceof MrvError) throw err;
    throw new MrvError('MRV_E_CONFIG', (err as Error).message, { file });
  }
}

/** Loads and validates a rule pack YAML file (default: the industry's pack). @throws MrvError `MRV_E_CONFIG` */
export function loadRulePack(industry: Industry, file = defaultRulePackFile(industry)): RulePack {
  try {
    return parseRulePack(readYaml(file), file);
  } catch (err) {
    if (err instanceof MrvError) throw err;
    throw new MrvError('MRV_E_CONFIG', (err as Error).message, { file });
  }
}

const POINT_KEYS = [
  'id',
  'meter',
  'unit',
  'description',
  'parameter',
  'aggregation',
  'sign',
  'ticketPoint',
  'maxRate',
  'maxStep',
  'correctionTolerance',
  'rules',
] as const;
const UINT_BITS: Record<string, number> = { uint16: 16, uint32: 32, uint64: 64 };

/**
 * A unit's catalogue from its site file(s): every point with its gateway, effective poll interval
 * (core/domain/completeness.ts `effectiveIntervalMs`: the point's own over the device's, default 1000) and, for unsigned integer registers, the counter modulus
 * 2^bits × scale (the roll-over of a totalizer). Sites of other units are ignored.
 */
export function catalogueFromSites(unitId: string, sites: readonly SiteConfig[]): UnitCatalogue | undefined {
  const mine = sites.filter((s) => s.unit.id === unitId);
  const first = mine[0];
  if (!first) return undefined;
  const points: CataloguePoint[] = [];
  const meters = new Map<string, MeterMeta>();
  for (const site of mine) {
    for (const m of site.meters) if (!meters.has(m.id)) meters.set(m.id, m);
    for (const d of site.devices) {
      const dev = d as Record<string, unknown>;
      for (const raw of d.points as Record<string, unknown>[]) {
        const interval = effectiveIntervalMs(dev, raw).ms;
        const p: Record<string, unknown> = { device: d.id };
        for (const k of POINT_KEYS) if (raw[k] !== undefined) p[k] = raw[k];
        const bits = UINT_BITS[String(raw.type)];
        const scale = raw.scale === undefined ? '1' : String(raw.scale);
        const rolloverAt = bits !== undefined ? (BigInt(2) ** BigInt(bits)).toString() : undefined;
        points.push({
          ...(p as unknown as PointMeta),
          gatewayId: site.gateway.id,
          expectedIntervalMs: interval,
          ...(rolloverAt && p.aggregation === 'totalizer'
            ? { rolloverAt: mulDecimal(rolloverAt, scale) }
            : {}),
        });
      }
    }
  }
  // The site's rule settings (the first site of the unit that has them; one gateway's file usually).
  const rules = mine.find((s) => s.rules !== undefined)?.rules;
  return { unit: first.unit as UnitMeta, points, meters: [...meters.values()], ...(rules ? { rules } : {}) };
}

/**
 * Checks that every rule a site or point overrides (site file `rules:`) is in the rule pack, so a
 * typo never leaves the pack's limit silently in force.
 * @throws MrvError `MRV_E_CONFIG` listing every unknown rule id and where it was written
 */
export function checkRuleOverrides(catalogue: UnitCatalogue, pack: RulePack): void {
  const problems = unknownOverrides(pack, catalogue.rules, catalogue.points);
  if (problems.length > 0)
    throw new MrvError(
      'MRV_E_CONFIG',
      `unit ${catalogue.unit.id}: rule settings for rules the ${pack.id} pack does not have:\n  ${problems.join('\n  ')}`,
      { unitId: catalogue.unit.id, problems },
    );
}

/** Exact product of an integer string and a decimal string (no floats). */
function mulDecimal(int: string, decimal: string): string {
  const [i, f = ''] = decimal.replace(/^-/, '').split('.');
  const digits = BigInt(`${i}${f}`) * BigInt(int);
  const s = digits.toString().padStart(f.length + 1, '0');
  const out = f.length ? `${s.slice(0, -f.length)}.${s.slice(-f.length)}`.replace(/\.?0+$/, '') : s;
  return decimal.startsWith('-') ? `-${out}` : out;
}

/**
 * A unit's catalogue from the store alone: points from the gateways' catalogues (`listPoints`), no
 * meters (the store interface does not expose the meter ledger yet), poll interval 1 s, gateway unknown.
 */
export async function catalogueFromStore(
  store: TimeSeriesStore,
  unitId: string,
  facts?: UnitMeta,
): Promise<UnitCatalogue | undefined> {
  // The unit's facts when the caller has them (the registry's): listing every unit to find one costs
  // a catalogue parse and a query per unit, which the overview would pay once per unit (O(units²)).
  const [points, units] = await Promise.all([store.listPoints(unitId), facts ? [facts] : store.listUnits()]);
  const unit = units.find((u) => u.id === unitId);
  if (points === undefined || unit === undefined) return undefined;
  return {
    unit: { id: unit.id, name: unit.name, industry: unit.industry, province: unit.province },
    points: points.map(({ last: _last, ...p }) => ({ ...p, gatewayId: 'unknown', expectedIntervalMs: 1000 })),
    meters: [],
  };
}

/**
 * A unit's meters from a meter ledger (the server's: server/state/meter-ledger.ts `meterMetas`), each
 * with its current verification/calibration certificates in the site file's {@link Calibration} shape.
 * A catalogue meter the ledger holds takes the ledger's certificates instead of its site file's (an
 * empty list included: the ledger has none in force) and keeps the site file's description; a ledger
 * meter the catalogue lacks (a catalogue from the store alone, or a meter registered on the server) is
 * added. core/domain/calibration.ts computes the status from the certificates' dates.
 */
export type MeterLedgerProvider = (unitId: string) => Promise<readonly MeterMeta[]>;

/**
 * Where the server finds a unit's catalogue: site files first (they carry meters, signs and poll
 * intervals), else the store; the unit's name, industry and province from the unit registry when given
 * and the unit is registered in it; the meters' certificates from `ledgerMeters` (the meter ledger)
 * when given.
 */
export async function unitCatalogue(
  store: TimeSeriesStore,
  unitId: string,
  sites: readonly SiteConfig[] = [],
  units?: UnitRegistry,
  ledgerMeters?: MeterLedgerProvider,
): Promise<UnitCatalogue | undefined> {
  let c = catalogueFromSites(unitId, sites) ?? (await catalogueFromStore(store, unitId));
  if (c && ledgerMeters) {
    const ledger = new Map((await ledgerMeters(unitId)).map((m) => [m.id, m]));
    const meters = c.meters.map((m) => {
      const l = ledger.get(m.id);
      return l === undefined ? m : { ...m, calibrations: [...l.calibrations] };
    });
    const have = new Set(meters.map((m) => m.id));
    for (const m of ledger.values())
      if (!have.has(m.id)) meters.push({ ...m, calibrations: [...m.calibrations] });
    c = { ...c, meters };
  }
  // The unit's facts are the registry's where it has them (issue 17), never a gateway's claim.
  const r = units?.get(unitId);
  return c && r ? { ...c, unit: { id: r.id, name: r.name, industry: r.industry, province: r.province } } : c;
}

/** Page size of raw series reads (a day of 1 s readings of one point is 86 400). */
const PAGE = 100_000;
/**
 * Page size of streamed reads ({@link ReadingSource.pages}): small enough that a page dies in V8's
 * young generation (a day of a 1 s point read at once is promoted and costs a full GC).
 */
const STREAM_PAGE = 4096;

/**
 * A {@link ReadingSource} over the store's raw readings ({@link TimeSeriesStore.rawReadings}), paging
 * past the store's per-query limit. Its samples are the store's {@link RawReading}s, which are
 * {@link BatchSample}s: they carry the gateway and batch seq they arrived in.
 */
export function storeSource(store: TimeSeriesStore, unitId: string): ReadingSource {
  async function* pages(pointId: string, from: number, to: number, size: number) {
    let start = from;
    for (;;) {
      const page: BatchSample[] = await store.rawReadings({ unitId, pointId, from: start, to, limit: size });
      if (page.length > 0) yield page;
      const last = page[page.length - 1];
      if (page.length < size || last === undefined) return;
      start = last.ts + 1;
    }
  }
  return {
    async read(pointId, from, to) {
      let out: BatchSample[] | undefined;
      for await (const page of pages(pointId, from, to, PAGE)) {
        if (out === undefined) out = page;
        else for (const r of page) out.push(r);
      }
      return out ?? [];
    },
    pages: (pointId, from, to) => pages(pointId, from, to, STREAM_PAGE),
  };
}

/** The store's batch archive of a unit as a {@link BatchLister} (for {@link citeBatches}). */
export function archiveLister(store: TimeSeriesStore, unitId: string): BatchLister {
  return (gatewayId, fromSeq, toSeq, limit) =>
    store.listBatches({ unitId, gatewayId, fromSeq, toSeq, limit });
}

/**
 * The readings-digest encodings ({@link EvidenceRawData.kind}). `v2` is what packages are made with;
 * `v1` (canonical JSON per reading) is still verified, for packages made before it.
 */
export const RAW_DATA_KIND_V1 = 'sha256-readings+batch-set-sha256-v1';
/** See {@link RAW_DATA_KIND_V1}. */
export const RAW_DATA_KIND_V2 = 'sha256-readings-v2+batch-set-sha256-v1';
/** A readings-digest encoding. */
export type RawDataKind = typeof RAW_DATA_KIND_V1 | typeof RAW_DATA_KIND_V2;

/** The fields of one reading in the v1 readings digest and in exported readings (ts ISO UTC). */
function readingFields(point: string, s: Sample) {
  return { point, ts: new Date(s.ts).toISOString(), value: s.value, quality: s.quality, reason: s.reason };
}

/** The canonical line of one reading in the v1 readings digest (sorted-key JSON, ts ISO UTC; no "\n"). */
export function readingLine(point: string, s: Sample): string {
  return canonicalJson(readingFields(point, s));
}

/**
 * The line of one reading inside a v2 segment ({@link segmentLineV2}), "\n" included: ts (decimal ms
 * since the Unix epoch, UTC), quality, value (the exact decimal string, "" when null) and reason (its
 * JSON string, "" when absent), separated by TAB. Unambiguous: decimals, qualities and ms never hold a
 * TAB or LF, and JSON escapes them in a reason.
 * @throws Error for a value holding a TAB or LF (not a decimal string)
 */
export function readingLineV2(s: Sample): string {
  const v = s.value;
  if (v !== null && (v.indexOf('\t') >= 0 || v.indexOf('\n') >= 0))
    throw new Error(`reading at ${s.ts}: value ${JSON.stringify(v)} is not a decimal string`);
  return `${s.ts}\t${s.quality}\t${v ?? ''}\t${s.reason === undefined ? '' : JSON.stringify(s.reason)}\n`;
}

/**
 * The line of one segment in the v2 readings digest, "\n" included: one segment is one read of one
 * point over one chunk `[from, to)` (ms): point id, from, to, number of readings and the lower-case hex
 * SHA-256 over their {@link readingLineV2}s in ascending ts, separated by TAB.
 */
export function segmentLineV2(
  point: string,
  from: number,
  to: number,
  count: number,
  sha256: string,
): string {
  return `${point}\t${from}\t${to}\t${count}\t${sha256}\n`;
}

/** A line of an exported readings file (`--readings-out`): {@link readingLine}'s fields plus the batch identity when known. */
export function exportLine(point: string, s: Sample): string {
  const b = s as Partial<BatchSample>;
  return canonicalJson({ ...readingFields(point, s), gatewayId: b.gatewayId, seq: b.seq });
}

const RAW_DATA_NOTE: Record<RawDataKind, string> = {
  [RAW_DATA_KIND_V1]:
    'readingsDigest: SHA-256 over the canonical list of readings used (one sorted-key JSON line each, in the order read: the lookback chunk, then each UTC+8 day, points by id). batches: the raw signed batches those readings arrived in, per gateway as seq ranges; batchDigest: batch-set-sha256-v1 over the archived ones (gateways ascending, seq ascending; per batch the length-prefixed UTF-8 fields gateway id, seq, canonical bytes, signature). missingBatches: cited batches the archive did not hold; their bytes are not in batchDigest. `mrv verify FILE --batches EXPORT --keys REGISTRY` re-checks them.',
  [RAW_DATA_KIND_V2]:
    'readingsDigest (sha256-readings-v2): SHA-256 over one line per segment read, in the order read (the lookback chunk, then each UTC+8 day; in each, the points by id): point id TAB chunk start TAB chunk end (ms since 1970-01-01T00:00:00Z) TAB number of readings TAB hex SHA-256 over the segment\'s readings, one line each in ascending ts: ts in ms TAB quality TAB exact decimal value ("" when null) TAB reason as a JSON string ("" when absent) LF. batches: the raw signed batches those readings arrived in, per gateway as seq ranges; batchDigest: batch-set-sha256-v1 over the archived ones (gateways ascending, seq ascending; per batch the length-prefixed UTF-8 fields gateway id, seq, canonical bytes, signature). missingBatches: cited batches the archive did not hold; their bytes are not in batchDigest. `mrv verify FILE --batches EXPORT --keys REGISTRY` re-checks them.',
};

/**
 * How {@link digestingSource} merges reads into segments when the computation reads each day in hours
 * (core/domain/evidence.ts `hourChunks`): the reads of a point within one day make one segment, ended
 * by `closeSegments()` after the day's last hour, so the digest is the one a day chunk gives.
 */
export interface DigestMerge {
  /** The segment (`[from, to)`, the lookback or UTC+8 day) a read of `[from, to)` belongs to. */
  segmentOf(from: number, to: number): { from: number; to: number };
  /**
   * The build's `now`: the segments of the day holding it are hashed with {@link Sha256State}, so a
   * part marked inside that day keeps their state (`open`) and a later build can take them up again.
   */
  resumableAt?: number;
}

/**
 * Wraps a source so that every reading it yields is hashed in the order read (`kind` v2: each read of
 * a point over a chunk is a segment, {@link segmentLineV2} over {@link readingLineV2}s; v1: SHA-256 over
 * {@link readingLine} + "\n" of every reading), the batch of every {@link BatchSample} recorded, and
 * each reading optionally handed to `sink` as an {@link exportLine} (to export the readings for
 * `mrv verify`). A `pages` read is one segment too; it is hashed when the last page was taken.
 * `finish(list, empty?)` then cites the batches in the archive `list` reads ({@link citeBatches});
 * without an archive every cited batch is reported missing. When nothing was read at all (no point of
 * the unit carries a parameter) the window is empty, from = to = `empty.from` (the month's start;
 * default 1970-01-01), instead of an invalid date.
 */
export function digestingSource(
  inner: ReadingSource,
  sink?: (line: string) => void,
  kind: RawDataKind = RAW_DATA_KIND_V2,
  prefix: readonly DigestPart[] = [],
  merge?: DigestMerge,
) {
  const hash = createHash('sha256');
  const usage = new BatchUsage();
  const v1 = kind === RAW_DATA_KIND_V1;
  if (v1 && (prefix.length > 0 || merge))
    throw new Error('a v1 readings digest cannot resume from kept parts');
  let count = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  // What the reads since the last mark() added (v2): evidence/day-aggregates.ts keeps it per chunk.
  let part = {
    lines: [] as string[],
    count: 0,
    usage: new BatchUsage(),
    min: null as number | null,
    max: null as number | null,
  };
  // merge: the segments of the current day, by point, open until closeSegments().
  const open = new Map<string, { from: number; to: number; count: number; h: Hash | Sha256State }>();
  for (const p of prefix) {
    for (const line of p.lines) hash.update(line);
    count += p.count;
    usage.addSet(p.batches);
    if (p.min !== null) min = Math.min(min, p.min);
    if (p.max !== null) max = Math.max(max, p.max);
  }
  const lastPart = prefix.at(-1);
  if (lastPart?.open === null) throw new Error('the kept digest part ends inside a segment it cannot resume');
  for (const o of lastPart?.open ?? [])
    open.set(o.point, { from: o.from, to: o.to, count: o.count, h: Sha256State.from(o.sha256) });
  // The batch of the previous reading: consecutive readings often share one (a batch holds many).
  let lastGateway: string | undefined;
  let lastSeq = -1;
  /** Hashes one page of a segment into `h` (v2) or into the digest (v1); records batches; exports. */
  const digest = (h: Hash | Sha256State, pointId: string, samples: readonly Sample[]) => {
    let text = '';
    // v2 lines of consecutive readings differ mostly in ts only: the rest of the line is reused while
    // value, quality and reason stay the same (the same text as readingLineV2).
    let value: string | null | undefined;
    let quality = '';
    let reason: string | undefined;
    let rest = '';
    for (const s of samples) {
      if (v1) text += `${readingLine(pointId, s)}\n`;
      else {
        if (s.value !== value || s.quality !== quality || s.reason !== reason || rest === '') {
          const line = readingLineV2(s);
          rest = line.slice(line.indexOf('\t'));
          value = s.value;
          quality = s.quality;
          reason = s.reason;
        }
        text += `${s.ts}${rest}`;
      }
      const b = s as Partial<BatchSample>;
      if (typeof b.gatewayId === 'string' && typeof b.seq === 'number') {
        if (b.seq !== lastSeq || b.gatewayId !== lastGateway) {
          usage.add(b.gatewayId, b.seq);
          part.usage.add(b.gatewayId, b.seq);
          lastGateway = b.gatewayId;
          lastSeq = b.seq;
        }
      }
      if (sink) sink(exportLine(pointId, s));
    }
    h.update(text);
    count += samples.length;
    part.count += samples.length;
  };
  /** Starts a segment: its hash (the digest itself for v1) and a function that closes it. */
  const segment = (pointId: string, readFrom: number, readTo: number) => {
    if (merge) {
      // One segment per point and day however many reads make it (hours of the day).
      let seg = open.get(pointId);
      if (!seg) {
        const { from, to } = merge.segmentOf(readFrom, readTo);
        min = Math.min(min, from);
        max = Math.max(max, to);
        part.min = Math.min(part.min ?? from, from);
        part.max = Math.max(part.max ?? to, to);
        // The day not yet over is hashed resumably: its ended hours are kept mid-segment.
        const at = merge.resumableAt;
        const resumable = at !== undefined && from <= at && at < to;
        seg = { from, to, count: 0, h: resumable ? new Sha256State() : createHash('sha256') };
        open.set(pointId, seg);
      }
      const s = seg;
      const before = count;
      return {
        h: s.h,
        end: () => {
          s.count += count - before;
        },
      };
    }
    const from = readFrom;
    const to = readTo;
    min = Math.min(min, from);
    max = Math.max(max, to);
    part.min = Math.min(part.min ?? from, from);
    part.max = Math.max(part.max ?? to, to);
    const h = v1 ? hash : createHash('sha256');
    const before = count;
    return {
      h,
      end: () => {
        if (v1) return;
        const line = segmentLineV2(pointId, from, to, count - before, h.digest('hex'));
        hash.update(line);
        part.lines.push(line);
      },
    };
  };
  const source: ReadingSource = {
    async read(pointId, from, to) {
      const seg = segment(pointId, from, to);
      const samples = await inner.read(pointId, from, to);
      digest(seg.h, pointId, samples);
      seg.end();
      return samples;
    },
    async *pages(pointId, from, to) {
      const seg = segment(pointId, from, to);
      for await (const page of readPages(inner, pointId, from, to)) {
        digest(seg.h, pointId, page);
        yield page;
      }
      seg.end();
    },
  };
  return {
    source,
    /**
     * merge: ends the open segments (the day's last hour was read): their lines, points by id, as
     * reading the day in one chunk writes them.
     */
    closeSegments: () => {
      for (const id of [...open.keys()].sort()) {
        const seg = open.get(id);
        if (!seg) continue;
        const sha = seg.h instanceof Sha256State ? seg.h.digest() : seg.h.digest('hex');
        const line = segmentLineV2(id, seg.from, seg.to, seg.count, sha);
        hash.update(line);
        part.lines.push(line);
      }
      open.clear();
    },
    /** What the reads since the previous mark (or the start) added to the digest; starts a new part. */
    mark: (): DigestPart => {
      const p = part;
      part = { lines: [], count: 0, usage: new BatchUsage(), min: null, max: null };
      // The next reading's batch is recorded in the new part even when it is the previous one's.
      lastGateway = undefined;
      lastSeq = -1;
      const out: DigestPart = {
        lines: p.lines,
        count: p.count,
        batches: p.usage.set(),
        min: p.min,
        max: p.max,
      };
      if (open.size > 0) {
        const segs: NonNullable<DigestPart['open']> = [];
        for (const [point, seg] of open) {
          if (!(seg.h instanceof Sha256State)) {
            out.open = null;
            return out;
          }
          segs.push({ point, from: seg.from, to: seg.to, count: seg.count, sha256: seg.h.save() });
        }
        out.open = segs;
      }
      return out;
    },
    finish: async (list?: BatchLister, empty?: { from: number }): Promise<EvidenceRawData> => {
      const batches = usage.set();
      const cited = list
        ? await citeBatches(batches, list)
        : { batches, missingBatches: batches, batchDigest: null };
      return {
        kind,
        readingsDigest: hash.digest('hex'),
        readings: count,
        // Nothing read (a unit none of whose points carries a parameter): an empty window at `empty`.
        window:
          min <= max
            ? { from: new Date(min).toISOString(), to: new Date(max).toISOString() }
            : {
                from: new Date(empty?.from ?? 0).toISOString(),
                to: new Date(empty?.from ?? 0).toISOString(),
              },
        ...cited,
        note: RAW_DATA_NOTE[kind],
      };
    },
  };
}

/** A source over exported reading lines (a `mrv evidence --readings-out` file); lines with `gatewayId` and `seq` give {@link BatchSample}s. */
export function linesSource(lines: readonly string[]): ReadingSource {
  const byPoint = new Map<string, Sample[]>();
  for (const line of lines) {
    if (line.trim() === '') continue;
    const r = JSON.parse(line) as {
      point: string;
      ts: string;
      value: string | null;
      quality: Sample['quality'];
      reason?: string;
      gatewayId?: string;
      seq?: number;
    };
    const s: Sample & Partial<BatchSample> = { ts: Date.parse(r.ts), value: r.value, quality: r.quality };
    if (r.reason !== undefined) s.reason = r.reason;
    if (r.gatewayId !== undefined && r.seq !== undefined) {
      s.gatewayId = r.gatewayId;
      s.seq = r.seq;
    }
    const list = byPoint.get(r.point);
    if (list) list.push(s);
    else byPoint.set(r.point, [s]);
  }
  for (const list of byPoint.values()) list.sort((a, b) => a.ts - b.ts);
  return {
    async read(pointId, from, to) {
      return (byPoint.get(pointId) ?? []).filter((s) => s.ts >= from && s.ts < to);
    },
  };
}

/** An archived or exported batch: its signed bytes; identity and readings are read from the bytes. */
export interface BatchBytes {
  canonical: string;
  sig?: string | null | undefined;
}

/** The batches of one unit, parsed from their signed bytes (malformed ones and other units' left out). */
function parseBatches(unitId: string, batches: readonly BatchBytes[]) {
  const out: { gatewayId: string; seq: number; batch: Batch; bytes: BatchBytes }[] = [];
  for (const bytes of batches) {
    const parsed = Batch.safeParse(
      (() => {
        try {
          return JSON.parse(bytes.canonical);
        } catch {
          return undefined;
        }
      })(),
    );
    if (!parsed.success || parsed.data.unitId !== unitId) continue;
    out.push({ gatewayId: parsed.data.gatewayId, seq: parsed.data.seq, batch: parsed.data, bytes });
  }
  return out;
}

/**
 * Sources for recomputing a package from raw batches (`mrv verify FILE --batches EXPORT`): a
 * {@link ReadingSource} of the readings inside the unit's batches (as {@link BatchSample}s; a reading
 * (point, ts) carried by several batches counts once, from the highest seq, as the store keeps the last
 * delivery) and a {@link BatchLister} over the same batches. Identity (unit, gateway, seq) comes from
 * the signed bytes, never from the export line around them; a malformed batch is left out (the chain
 * check names it).
 */
export function batchesSource(
  unitId: string,
  batches: readonly BatchBytes[],
): { source: ReadingSource; list: BatchLister } {
  const parsed = parseBatches(unitId, batches).sort(
    (a, b) => (a.gatewayId < b.gatewayId ? -1 : a.gatewayId > b.gatewayId ? 1 : 0) || a.seq - b.seq,
  );
  const byPoint = new Map<string, Map<number, BatchSample>>();
  const byGateway = new Map<string, { seq: number; canonical: string; sig: string | null | undefined }[]>();
  for (const { gatewayId, seq, batch, bytes } of parsed) {
    const list = byGateway.get(gatewayId) ?? [];
    if (list.at(-1)?.seq !== seq) list.push({ seq, canonical: bytes.canonical, sig: bytes.sig });
    byGateway.set(gatewayId, list);
    for (const r of batch.readings) {
      const s: BatchSample = { ts: Date.parse(r.ts), value: r.value, quality: r.quality, gatewayId, seq };
      if (r.reason !== undefined) s.reason = r.reason;
      const point = byPoint.get(r.point) ?? new Map<number, BatchSample>();
      const had = point.get(s.ts);
      if (!had || had.seq <= seq) point.set(s.ts, s);
      byPoint.set(r.point, point);
    }
  }
  const sorted = new Map([...byPoint].map(([p, m]) => [p, [...m.values()].sort((a, b) => a.ts - b.ts)]));
  return {
    source: {
      async read(pointId, from, to) {
        return (sorted.get(pointId) ?? []).filter((s) => s.ts >= from && s.ts < to);
      },
    },
    list: async (gatewayId, fromSeq, toSeq, limit) =>
      (byGateway.get(gatewayId) ?? []).filter((b) => b.seq >= fromSeq && b.seq <= toSeq).slice(0, limit),
  };
}

/** The server's evidence signing key. */
export interface EvidenceKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Base64 DER (SPKI) of the public key. */
  publicKeyDer: string;
  /** First 16 hex digits of SHA-256 of the SPKI DER. */
  keyId: string;
}

function keyOf(privateKey: KeyObject): EvidenceKey {
  const publicKey = createPublicKey(privateKey);
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return {
    privateKey,
    publicKey,
    publicKeyDer: der.toString('base64'),
    keyId: createHash('sha256').update(der).digest('hex').slice(0, 16),
  };
}

/**
 * Loads the Ed25519 private key (PKCS#8 PEM) from `file`, creating it (mode 0600, folder created) when
 * missing and `create` is true (the demo's first start).
 * @throws MrvError `MRV_E_CONFIG` when the file is missing and `create` is false, or is not an Ed25519 key
 */
export function loadEvidenceKey(file: string, create = true): EvidenceKey {
  if (!existsSync(file)) {
    if (!create) throw new MrvError('MRV_E_CONFIG', `evidence signing key ${file} does not exist`, { file });
    mkdirSync(dirname(resolve(file)), { recursive: true });
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  try {
    const key = createPrivateKey(readFileSync(file));
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`not an Ed25519 key (${key.asymmetricKeyType})`);
    const k = keyOf(key);
    // The public half for verifiers (`mrv verify --trusted-keys`), written once beside the key.
    const trust = trustFileOf(file);
    try {
      if (!existsSync(trust)) writeTrustFile(trust, k, `carbon-mrv server evidence key ${basename(file)}`);
    } catch {
      // A read-only key folder: the operator exports the trust file some other way.
    }
    return k;
  } catch (err) {
    throw new MrvError(
      'MRV_E_CONFIG',
      `evidence signing key ${file}: ${(err as Error).message}`,
      { file },
      { cause: err },
    );
  }
}

/** The bytes a package signature covers: canonical JSON of the package without `signature`. */
export function signedBytes(pkg: EvidenceBody | EvidencePackage): Buffer {
  const { signature: _s, ...body } = pkg as EvidencePackage;
  return Buffer.from(canonicalJson(body), 'utf8');
}

/** Signs a body with the key. */
export function signEvidence(body: EvidenceBody, key: EvidenceKey): EvidencePackage {
  const value = sign(null, signedBytes(body), key.privateKey).toString('base64');
  return { ...body, signature: { alg: 'Ed25519', keyId: key.keyId, publicKey: key.publicKeyDer, value } };
}

/**
 * A public key trusted to sign evidence packages, with who holds it. Read from a trust file
 * ({@link loadTrustedKeys}): `{"kind": "evidence-signer", "owner": "...", "publicKey": "-----BEGIN PUBLIC KEY-----..."}`
 * (one or an array; the server writes its own next to its key file, {@link trustFileOf}), or a PEM
 * public key file (owner: the file name).
 */
export interface TrustedEvidenceKey {
  /** First 16 hex digits of SHA-256 of the SPKI DER (as `signature.keyId`). */
  keyId: string;
  publicKey: KeyObject;
  owner: string;
}

/** The trust file of an evidence key file: `x.pem` → `x.pub.json`. */
export function trustFileOf(keyFile: string): string {
  return `${keyFile.replace(/\.pem$/, '')}.pub.json`;
}

/** The trusted entry of a server's evidence key. */
export function trustedOf(key: EvidenceKey, owner: string): TrustedEvidenceKey {
  return { keyId: key.keyId, publicKey: key.publicKey, owner };
}

/** Writes the trust file of an evidence key (hand it to the regulator for `mrv verify --trusted-keys`). */
export function writeTrustFile(file: string, key: EvidenceKey, owner: string): void {
  const entry = {
    kind: 'evidence-signer',
    owner,
    keyId: key.keyId,
    publicKey: key.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
  writeFileSync(file, `${JSON.stringify(entry, null, 2)}\n`);
}

function trustedFromPem(pem: string, owner: string, where: string): TrustedEvidenceKey {
  try {
    const publicKey = createPublicKey(pem);
    if (publicKey.asymmetricKeyType !== 'ed25519')
      throw new Error(`not an Ed25519 key (${publicKey.asymmetricKeyType})`);
    const keyId = createHash('sha256')
      .update(publicKey.export({ type: 'spki', format: 'der' }))
      .digest('hex')
      .slice(0, 16);
    return { keyId, publicKey, owner };
  } catch (err) {
    throw new MrvError('MRV_E_KEY', `${where}: ${(err as Error).message}`, { file: where });
  }
}

/**
 * Reads trusted evidence keys from a file or a folder (its `*.json` and `*.pem` files): trust files
 * (see {@link TrustedEvidenceKey}) or PEM keys (public, or a private key whose public half is used).
 * @throws MrvError `MRV_E_KEY` naming the file for anything unreadable or not Ed25519
 */
export function loadTrustedKeys(location: string): TrustedEvidenceKey[] {
  let files: string[];
  try {
    files = statSync(location).isDirectory()
      ? readdirSync(location)
          .filter((f) => f.endsWith('.json') || f.endsWith('.pem'))
          .sort()
          .map((f) => join(location, f))
      : [location];
  } catch (err) {
    throw new MrvError('MRV_E_KEY', `cannot read trusted keys ${location}: ${(err as Error).message}`, {
      location,
    });
  }
  const out: TrustedEvidenceKey[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new MrvError('MRV_E_KEY', `cannot read ${file}: ${(err as Error).message}`, { file });
    }
    if (text.trimStart().startsWith('-----BEGIN')) {
      out.push(trustedFromPem(text, basename(file), file));
      continue;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new MrvError('MRV_E_KEY', `${file}: ${(err as Error).message}`, { file });
    }
    for (const e of (Array.isArray(json) ? json : [json]) as Record<string, unknown>[]) {
      if (e?.kind !== 'evidence-signer' || typeof e.publicKey !== 'string' || typeof e.owner !== 'string')
        throw new MrvError(
          'MRV_E_KEY',
          `${file}: expected {"kind": "evidence-signer", "owner": "...", "publicKey": "PEM"} (the .pub.json next to the server's evidence key)`,
          { file },
        );
      out.push(trustedFromPem(e.publicKey, e.owner, file));
    }
  }
  return out;
}

/** Answer of {@link verifyEvidenceSignature}. */
export interface EvidenceVerdict {
  ok: boolean;
  /** The key that signed (the package's `signature.keyId`, recomputed when trusted). */
  keyId: string;
  /** Who holds the key, when it is trusted. */
  owner?: string;
  /** Why it failed: `MRV_E_UNTRUSTED_KEY`, `MRV_E_BAD_PACKAGE` or `MRV_E_VERIFY` (content altered). */
  code?: 'MRV_E_UNTRUSTED_KEY' | 'MRV_E_BAD_PACKAGE' | 'MRV_E_VERIFY';
  reason?: string;
}

/**
 * Checks a package's signature against a trusted key set, never against the key the package carries
 * (anyone can re-sign a changed package with a key of their own): the package's `signature.keyId` must
 * name a trusted key and the signature verify with it.
 * @throws MrvError `MRV_E_NO_TRUSTED_KEYS` when `trusted` is empty
 */
export function verifyEvidenceSignature(
  pkg: unknown,
  trusted: readonly TrustedEvidenceKey[],
): EvidenceVerdict {
  if (trusted.length === 0)
    throw new MrvError(
      'MRV_E_NO_TRUSTED_KEYS',
      "no trusted evidence key: give --trusted-keys FILE|DIR (the .pub.json next to the server's evidence key) or --public-key FILE (未提供可信密钥)",
    );
  const sig = (pkg as { signature?: Record<string, unknown> } | null)?.signature;
  if (!sig || typeof sig !== 'object')
    return { ok: false, keyId: '', code: 'MRV_E_BAD_PACKAGE', reason: 'the package has no signature' };
  const keyId = typeof sig.keyId === 'string' ? sig.keyId : '';
  if (sig.alg !== 'Ed25519')
    return { ok: false, keyId, code: 'MRV_E_BAD_PACKAGE', reason: 'no Ed25519 signature' };
  if (!keyId || typeof sig.value !== 'string' || sig.value === '')
    return { ok: false, keyId, code: 'MRV_E_BAD_PACKAGE', reason: 'signature lacks keyId or value' };
  const key = trusted.find((t) => t.keyId === keyId);
  if (!key)
    return {
      ok: false,
      keyId,
      code: 'MRV_E_UNTRUSTED_KEY',
      reason: `signed by key ${keyId}, which is not trusted (trusted: ${trusted.map((t) => `${t.keyId} ${t.owner}`).join(', ')})`,
    };
  let ok = false;
  try {
    ok = verify(null, signedBytes(pkg as EvidencePackage), key.publicKey, Buffer.from(sig.value, 'base64'));
  } catch (err) {
    return { ok: false, keyId, owner: key.owner, code: 'MRV_E_BAD_PACKAGE', reason: (err as Error).message };
  }
  return ok
    ? { ok, keyId, owner: key.owner }
    : { ok, keyId, owner: key.owner, code: 'MRV_E_VERIFY', reason: 'signature does not match the content' };
}

/** Options of {@link buildEvidence}. */
export interface BuildEvidenceOptions {
  store: TimeSeriesStore;
  unitId: string;
  month: string;
  /** ms epoch of generation (the caller's clock). */
  now: number;
  generator: string;
  key: EvidenceKey;
  sites?: readonly SiteConfig[];
  /** The unit registry: the unit's name, industry and province come from it when it holds the unit. */
  units?: UnitRegistry;
  factorPack?: FactorPack;
  rulePack?: RulePack;
  config?: Partial<EvidenceConfig>;
  /** Receives each reading as an {@link exportLine} (for `--readings-out`; every reading is then read). */
  sink?: (line: string) => void;
  /** The meters and their certificates from the meter ledger, over the site files' ({@link MeterLedgerProvider}). */
  ledgerMeters?: MeterLedgerProvider;
  /**
   * Day aggregates to resume from and keep (evidence/day-aggregates.ts): the days kept unchanged are
   * not read again. Not used with `sink` (an export needs every reading) or a store without write marks.
   */
  dayAggregates?: DayAggregates;
  /** Receives how many chunks were resumed from and how many kept (benchmarks, tests). */
  onStats?: (stats: { resumed: number; kept: number; chunks: number }) => void;
}

/**
 * Builds and signs the monthly evidence of a unit from the store.
 * @throws MrvError `MRV_E_NOT_FOUND` for an unknown unit, `MRV_E_BAD_REQUEST` for a bad month,
 *   `MRV_E_CONFIG` for bad packs, `MRV_E_STORE` when the store fails
 */
export async function buildEvidence(o: BuildEvidenceOptions): Promise<EvidencePackage> {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(o.month))
    throw new MrvError('MRV_E_BAD_REQUEST', `month: expected yyyy-mm, got "${o.month}"`, { month: o.month });
  const catalogue = await unitCatalogue(o.store, o.unitId, o.sites, o.units, o.ledgerMeters);
  if (!catalogue) throw new MrvError('MRV_E_NOT_FOUND', `unknown unit "${o.unitId}"`, { unitId: o.unitId });
  const factorPack = o.factorPack ?? loadFactorPack();
  const rulePack = o.rulePack ?? loadRulePack(catalogue.unit.industry);
  checkRuleOverrides(catalogue, rulePack);
  const p = monthPeriod(o.month);
  // With day aggregates each day is read in hours, so the ended hours of today are kept too.
  const hourChunks = o.dayAggregates !== undefined && !o.sink;
  const chunks = evidenceChunks({ month: o.month, ...(o.config ? { config: o.config } : {}), hourChunks });
  const kept =
    o.dayAggregates && !o.sink
      ? await o.dayAggregates.plan({
          store: o.store,
          unitId: o.unitId,
          month: o.month,
          key: evidenceKey({
            catalogue,
            rulePack,
            config: { ...DEFAULT_EVIDENCE_CONFIG, ...o.config },
            formatVersion: EVIDENCE_FORMAT_VERSION,
            month: o.month,
            generator: o.generator,
          }),
          chunks,
          now: o.now,
        })
      : undefined;
  const segments = new Map(chunks.map((c) => [c.from, c.segment]));
  const { source, finish, mark, closeSegments } = digestingSource(
    storeSource(o.store, o.unitId),
    o.sink,
    RAW_DATA_KIND_V2,
    kept?.prefix ?? [],
    hourChunks
      ? { segmentOf: (from, to) => segments.get(from) ?? { from, to }, resumableAt: o.now }
      : undefined,
  );
  let stored: Awaited<ReturnType<TimeSeriesStore['listFindings']>> = [];
  try {
    stored = await o.store.listFindings(o.unitId, p.from, p.to);
  } catch {
    stored = [];
  }
  const body = await computeEvidence({
    catalogue,
    month: o.month,
    source,
    factorPack,
    rulePack,
    generatedAt: o.now,
    generator: o.generator,
    ...(o.config ? { config: o.config } : {}),
    // Every stored finding of the month is cited (validation ones from earlier findings-list windows
    // too), so the package shows what the findings list filtered to the month shows; a finding the
    // package recomputes replaces its stored copy (same id).
    storedFindings: stored,
    factorPackDigest: factorPackDigest(factorPack),
    ...(kept?.resume ? { resume: kept.resume } : {}),
    hourChunks,
    onChunk: (chunk, checkpoint) => {
      if (chunk.closes) closeSegments();
      const part = mark();
      kept?.keep(chunk, checkpoint, part);
    },
  });
  o.onStats?.({ ...(kept?.stats ?? { resumed: 0, kept: 0 }), chunks: chunks.length });
  return signEvidence({ ...body, rawData: await finish(archiveLister(o.store, o.unitId), p) }, o.key);
}

/** Step of the month-to-date counts: one UTC+8 clock hour (UTC+8 months start on a UTC hour). */
const HOUR_MS = 3_600_000;

/**
 * Per point, its good readings in `[from, to)` and the UTC+8 clock hours holding one: the store's
 * {@link TimeSeriesStore.goodReadingCounts} (one query for the unit) when it has it, else each point's
 * hourly stepped series summed and counted (one query per point). The same figures either way
 * (test/integration/completeness-counts.test.ts).
 * @throws MrvError `MRV_E_STORE` when the store fails
 */
async function hourlyGoodCounts(
  store: TimeSeriesStore,
  unitId: string,
  pointIds: readonly string[],
  from: number,
  to: number,
): Promise<Map<string, GoodCount>> {
  if (to <= from || pointIds.length === 0) return new Map();
  if (store.goodReadingCounts)
    return store.goodReadingCounts({ unitId, pointIds, from, to, stepMs: HOUR_MS });
  const out = new Map<string, GoodCount>();
  for (const pointId of pointIds) {
    const buckets = await store.series({ unitId, pointId, from, to, stepMs: HOUR_MS });
    out.set(pointId, {
      good: buckets.reduce((n, b) => n + b.count, 0),
      buckets: buckets.filter((b) => b.count > 0).length,
    });
  }
  return out;
}

/**
 * Month-to-date completeness of a unit's key-parameter points (`GET /api/v1/units/{id}/completeness`),
 * `events` points excepted (one reading per weighing, judged by ticket numbers, not by an interval):
 * per point the good readings of `[month start, min(now, month end))` from the store's hourly counts
 * (one count query for the unit's points where the store has {@link TimeSeriesStore.goodReadingCounts},
 * else one stepped series query per point; no evidence build) against its effective interval, and the
 * unit's first reading (one one-reading query per point) so months before it are "not monitored".
 * The evidence package holds the exact gaps and causes; this is the cheap figure for the overview.
 * `unit`: the unit's facts (id, name, industry, province) when the caller has them from the unit
 * registry; they are used instead of the gateway's and spare listing every unit of the store.
 * `dayCounts`: kept counts of ended days (evidence/day-counts.ts), so that only today and the days a
 * late batch touched are counted in the store; the same figures as without.
 * @throws MrvError `MRV_E_BAD_REQUEST` for a bad month, `MRV_E_NOT_FOUND` for an unknown unit,
 *   `MRV_E_STORE` when the store fails
 */
export async function completenessToDate(o: {
  store: TimeSeriesStore;
  unitId: string;
  month: string;
  now: number;
  sites?: readonly SiteConfig[];
  unit?: UnitMeta;
  dayCounts?: DayCounts;
}) {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(o.month))
    throw new MrvError('MRV_E_BAD_REQUEST', `month: expected yyyy-mm, got "${o.month}"`, { month: o.month });
  const found = o.unit
    ? (catalogueFromSites(o.unitId, o.sites ?? []) ?? (await catalogueFromStore(o.store, o.unitId, o.unit)))
    : await unitCatalogue(o.store, o.unitId, o.sites);
  const catalogue = found && o.unit ? { ...found, unit: o.unit } : found;
  if (!catalogue) throw new MrvError('MRV_E_NOT_FOUND', `unknown unit "${o.unitId}"`, { unitId: o.unitId });
  const p = monthPeriod(o.month);
  const judgedTo = Math.max(p.from, Math.min(p.to, o.now));
  // An `events` point (a heat's or ladle's net weight, stamped with its own weighing time) has one
  // reading per event however often it is read: judged by its ticket numbers (a missing number is a
  // finding), not by a poll interval, so it is not counted here.
  const used = catalogue.points
    .filter((pt) => {
      const hit = pt.parameter === undefined ? undefined : lookupParameter(pt.parameter);
      return (
        hit !== undefined &&
        hit.entry.industry === catalogue.unit.industry &&
        (pt.aggregation ?? hit.entry.aggregation) !== 'events'
      );
    })
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  let firstDataAt: number | null = null;
  const points: PointCount[] = [];
  const hours = Math.ceil((judgedTo - p.from) / HOUR_MS);
  const pointIds = used.map((pt) => pt.id);
  const counts = o.dayCounts
    ? await o.dayCounts.goodCounts({
        store: o.store,
        unitId: o.unitId,
        pointIds,
        from: p.from,
        to: judgedTo,
        now: o.now,
        stepMs: HOUR_MS,
        count: (from, to) => hourlyGoodCounts(o.store, o.unitId, pointIds, from, to),
      })
    : await hourlyGoodCounts(o.store, o.unitId, pointIds, p.from, judgedTo);
  for (const pt of used) {
    const [first] = await o.store.rawReadings({
      unitId: o.unitId,
      pointId: pt.id,
      from: 0,
      to: Math.max(1, o.now),
      limit: 1,
    });
    if (first && (firstDataAt === null || first.ts < firstDataAt)) firstDataAt = first.ts;
    const c = counts.get(pt.id) ?? { good: 0, buckets: 0 };
    points.push({
      point: pt.id,
      gatewayId: pt.gatewayId,
      expectedIntervalMs: pt.expectedIntervalMs,
      good: c.good,
      silentHours: Math.max(0, hours - c.buckets),
    });
  }
  const r = monthToDate({ from: p.from, to: p.to, now: o.now, firstDataAt, points });
  return {
    unitId: o.unitId,
    month: o.month,
    from: isoCst(p.from),
    to: isoCst(p.to),
    countedFrom: isoCst(r.countedFrom),
    judgedTo: isoCst(r.judgedTo),
    elapsedMs: r.elapsedMs,
    status: r.status,
    firstDataAt: firstDataAt === null ? null : isoCst(firstDataAt),
    basis:
      "good readings / readings expected by each point's effective poll interval, from countedFrom (month start, or the unit's first reading when later) to judgedTo",
    expected: r.expected,
    good: r.good,
    ratio: r.ratio,
    points: r.points,
  };
}
