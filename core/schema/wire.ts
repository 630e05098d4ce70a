/**
 * The MQTT wire contract, version 1 (docs/architecture.md §4). One file holds every payload that crosses the
 * broker, keyed by topic, so that the gateway, the collector and any third-party subscriber agree on
 * one definition. Values are exact decimal strings; floats never appear on the wire.
 */
import { regexes, z } from 'zod';

/** Default topic prefix; configurable per site (`gateway.mqtt.topicPrefix`). */
export const DEFAULT_TOPIC_PREFIX = 'mrv/v1';

/** The pattern of {@link DecimalString}. */
const DECIMAL_PATTERN = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
/** The pattern of {@link Identifier} (which also limits the length to 1..64). */
const IDENTIFIER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** The pattern of {@link IsoTimestamp}: zod's own for `z.iso.datetime({ offset: true, precision: 3 })`. */
const ISO_TIMESTAMP_PATTERN = regexes.datetime({ offset: true, precision: 3, local: false });
/** The pattern of {@link Sha256Hex}. */
const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/;

/** An exact decimal number as a string: optional sign, digits, optional fraction, optional exponent. */
export const DecimalString = z
  .string()
  .regex(DECIMAL_PATTERN, 'expected an exact decimal string such as "412.5"')
  .describe('exact decimal value as a string, never a float');

/** ISO-8601 timestamp with milliseconds and an offset (`Z` or `+08:00`). */
export const IsoTimestamp = z.iso
  .datetime({ offset: true, precision: 3 })
  .describe('ISO-8601 with ms and offset');

/** True exactly when {@link DecimalString} accepts `s` (without zod's per-call cost). */
export function isDecimalString(s: unknown): s is string {
  return typeof s === 'string' && DECIMAL_PATTERN.test(s);
}

/** True exactly when {@link Identifier} accepts `s` (without zod's per-call cost). */
export function isIdentifier(s: unknown): s is string {
  return typeof s === 'string' && s.length <= 64 && IDENTIFIER_PATTERN.test(s);
}

/** True exactly when {@link IsoTimestamp} accepts `s` (without zod's per-call cost). */
export function isIsoTimestamp(s: unknown): s is string {
  return typeof s === 'string' && ISO_TIMESTAMP_PATTERN.test(s);
}

/**
 * Quality of a reading, following the OPC UA Good/Uncertain/Bad severity classes (OPC 10000-4 §7.39).
 * `bad` readings carry no value (or the last one is never repeated as if fresh) and always a `reason`.
 */
export const Quality = z.enum(['good', 'uncertain', 'bad']);
export type Quality = z.infer<typeof Quality>;

/** Identifier used for units, gateways, devices, points and meters: safe in MQTT topics and InfluxDB tags. */
export const Identifier = z
  .string()
  .min(1)
  .max(64)
  .regex(IDENTIFIER_PATTERN, 'letters, digits, "_", "." and "-" only, starting with a letter or digit');

/**
 * One reading of one point.
 * - `ts`: source time (from the device where it has one, else the gateway's read time).
 * - `rxTs`: gateway clock when the value was received.
 * - `serverTs`: optional; the OPC UA ServerTimestamp, kept beside the SourceTimestamp in `ts`, or the
 *   time a ticket was read from a terminal's ticket memory (its `ts` is the weighing time).
 * - `value`: the scaled engineering value as an exact decimal string; `null` when `quality` is `bad`.
 */
export const Reading = z
  .object({
    point: Identifier,
    meter: Identifier.optional(),
    ts: IsoTimestamp,
    rxTs: IsoTimestamp,
    serverTs: IsoTimestamp.optional().describe(
      'OPC UA ServerTimestamp (OPC 10000-4 §7.11), kept beside the SourceTimestamp in `ts`; for a ticket read from a weighing terminal’s memory (`ts` = weighing time) the time it was read; absent for drivers without one. Device clocks are checked on it where present',
    ),
    value: DecimalString.nullable(),
    quality: Quality,
    reason: z
      .string()
      .max(500)
      .optional()
      .describe('why the quality is not good: a stable error code and detail'),
  })
  .strict()
  .refine((r) => r.quality !== 'bad' || r.reason !== undefined, {
    message: 'a bad reading must carry a reason',
    path: ['reason'],
  })
  .refine((r) => r.quality === 'bad' || r.value !== null, {
    message: 'a good or uncertain reading must carry a value',
    path: ['value'],
  });
export type Reading = z.infer<typeof Reading>;

/** SHA-256 hex digest (64 lower-case hex digits). */
export const Sha256Hex = z.string().regex(SHA256_HEX_PATTERN, 'expected 64 lower-case hex digits (SHA-256)');

/** `prevHash` of the first batch a gateway ever sends. */
export const GENESIS_HASH = '0'.repeat(64);

/** Largest number of readings in one batch; larger payloads are rejected as oversized. */
export const MAX_READINGS_PER_BATCH = 10_000;

/**
 * Why a gateway lost batches it had made (the `cause` of a {@link LostRange}):
 * - `buffer_full`: the store-and-forward log could not take the batch (its bound reached under the
 *   `block` policy, or the disk full: ENOSPC or a short write); it was published from memory if the
 *   gateway was connected, and is lost if that copy did not reach the store;
 * - `dropped`: deleted unsent from a full log by the `drop-oldest` policy;
 * - `torn`: its record was cut short on disk (gateway stopped mid-write); its header survived;
 * - `corrupt`: its record failed its CRC when the log was read back (bad bytes on disk);
 * - `write_error`: the log's disk refused the write for another reason (EIO, ...); as `buffer_full`.
 */
export const LostCause = z.enum(['buffer_full', 'dropped', 'torn', 'corrupt', 'write_error']);
export type LostCause = z.infer<typeof LostCause>;

/** Causes of {@link LostCause}, for the fast validator. */
const LOST_CAUSES: ReadonlySet<string> = new Set(LostCause.options);

/**
 * Seqs `from..to` (inclusive, `from <= to`) the gateway made but no longer holds, with the cause: it
 * cannot send them (again). Some may still have reached the collector (published before the loss, or
 * from memory); the collector reports those it never gets as a gap with this cause.
 */
export const LostRange = z
  .object({
    from: z.number().int().positive(),
    to: z.number().int().positive(),
    cause: LostCause,
  })
  .strict()
  .refine((r) => r.from <= r.to, { message: 'from must not exceed to', path: ['to'] });
export type LostRange = z.infer<typeof LostRange>;

/** Most {@link LostRange}s one batch declares (a gateway merges older ones beyond this). */
export const MAX_LOST_RANGES = 64;

/**
 * A change of the gateway's site file while it runs (issue 15 item 3, `Gateway.reload`), declared in
 * the first batch after it: `hash` and `previous` are the config hashes (SHA-256 of the canonical
 * site), `added`/`removed`/`changed` the device ids. Devices not named kept polling without a gap.
 */
export const ConfigChange = z
  .object({
    hash: Sha256Hex,
    previous: Sha256Hex,
    added: z.array(Identifier).max(10_000),
    removed: z.array(Identifier).max(10_000),
    changed: z.array(Identifier).max(10_000),
  })
  .strict();
export type ConfigChange = z.infer<typeof ConfigChange>;

/**
 * A batch: all readings of one poll cycle of one gateway (topic `{prefix}/{unitId}/{gatewayId}/data`, QoS 1).
 * - `seq`: gapless per gateway, starting at 1.
 * - `prevHash`: SHA-256 of the previous batch's canonical bytes ({@link canonicalBytes}), {@link GENESIS_HASH} for seq 1.
 * - `sig`: Ed25519 signature (base64) over the canonical bytes (core/signing.ts); absent when the gateway has
 *   no signing key, which a collector with a key registry reports as `MRV_F_BAD_SIGNATURE`.
 * - `backlogFrom` (optional, signed like the rest): set when the gateway still held older unconfirmed
 *   batches as it made this one (docs/delivery.md). A gateway sends new batches ahead of a backlog after an outage, so a
 *   collector takes a hole at or above `backlogFrom` as "still coming", one below it as lost
 *   (collector/integrity.ts). Collectors older than this field reject such batches (strict schema):
 *   upgrade collectors before gateways.
 * - `lost` (optional, signed): seq ranges below `seq` the gateway made but lost by its own fault (full
 *   log, bad bytes, torn record; {@link LostRange}), declared in every batch it makes until one of those
 *   batches is acknowledged. A collector reports the seqs of these ranges it never receives as
 *   `MRV_F_SEQ_GAP` with the cause, and where the gateway could not know the hash of the batch before
 *   this one (a corrupt last record) it accepts `prevHash` = the hash of the batch before the range
 *   instead of raising `MRV_F_CHAIN_BROKEN`. Same upgrade order as `backlogFrom`.
 */
export const Batch = z
  .object({
    v: z.literal(1).describe('wire contract version'),
    unitId: Identifier,
    gatewayId: Identifier,
    seq: z.number().int().positive(),
    prevHash: Sha256Hex,
    sentAt: IsoTimestamp,
    device: Identifier.optional().describe('device whose poll cycle produced the batch'),
    readings: z.array(Reading).max(MAX_READINGS_PER_BATCH),
    backlogFrom: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        'lowest seq the gateway held unconfirmed when it made this batch, present only when below seq: batches backlogFrom..seq-1 may arrive after this one (sent ahead of a backlog, or sent again because no collector confirmed them); every batch below it was confirmed stored (or dropped by the gateway, which says so) before this one was made',
      ),
    lost: z
      .array(LostRange)
      .min(1)
      .max(MAX_LOST_RANGES)
      .optional()
      .describe(
        'seq ranges the gateway made but lost by its own fault (full log, corrupt or torn record), with the cause, each below seq; absent when none (a collector ignores any part at or above seq)',
      ),
    config: ConfigChange.optional().describe(
      'present in the first batch after the gateway took a new site file while running (hot reload): the new and previous config hashes and the devices added, removed and changed; signed and chained like the readings',
    ),
    sig: z.string().optional(),
  })
  .strict();
export type Batch = z.infer<typeof Batch>;

const READING_KEYS: ReadonlySet<string> = new Set([
  'point',
  'meter',
  'ts',
  'rxTs',
  'serverTs',
  'value',
  'quality',
  'reason',
]);
const BATCH_KEYS: ReadonlySet<string> = new Set([
  'v',
  'unitId',
  'gatewayId',
  'seq',
  'prevHash',
  'sentAt',
  'device',
  'readings',
  'backlogFrom',
  'lost',
  'sig',
]);
const LOST_KEYS: ReadonlySet<string> = new Set(['from', 'to', 'cause']);

/** {@link Batch}'s `lost` as zod outputs it when `x` certainly passes, else `undefined`. */
function fastLost(x: unknown): LostRange[] | undefined {
  if (!Array.isArray(x) || x.length < 1 || x.length > MAX_LOST_RANGES) return undefined;
  const out = new Array<LostRange>(x.length);
  for (let i = 0; i < x.length; i++) {
    const r: unknown = x[i];
    if (!isPlainObject(r) || !onlyKeys(r, LOST_KEYS)) return undefined;
    const { from, to, cause } = r;
    if (typeof from !== 'number' || !Number.isSafeInteger(from) || from <= 0) return undefined;
    if (typeof to !== 'number' || !Number.isSafeInteger(to) || to < from) return undefined;
    if (typeof cause !== 'string' || !LOST_CAUSES.has(cause)) return undefined;
    out[i] = { from, to, cause: cause as LostCause };
  }
  return out;
}

/** An object zod's `z.object` reads like a JSON object: a plain (or null-prototype) non-array object. */
function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null) return false;
  const proto: unknown = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** True when every enumerable key of `x` (as zod's strict check enumerates them) is in `keys`. */
function onlyKeys(x: Record<string, unknown>, keys: ReadonlySet<string>): boolean {
  for (const k in x) if (!keys.has(k)) return false;
  return true;
}

/** {@link Reading}'s output for `x` when it certainly passes, else `undefined` (then ask zod). */
function fastReading(x: unknown): Reading | undefined {
  if (!isPlainObject(x) || !onlyKeys(x, READING_KEYS)) return undefined;
  const { point, meter, ts, rxTs, serverTs, value, quality, reason } = x;
  if (!isIdentifier(point) || !isIsoTimestamp(ts) || !isIsoTimestamp(rxTs)) return undefined;
  // An optional key present with the value `undefined` is left to zod (it keeps the key).
  if (meter === undefined ? 'meter' in x : !isIdentifier(meter)) return undefined;
  if (serverTs === undefined ? 'serverTs' in x : !isIsoTimestamp(serverTs)) return undefined;
  if (reason === undefined ? 'reason' in x : typeof reason !== 'string' || reason.length > 500)
    return undefined;
  if (quality !== 'good' && quality !== 'uncertain' && quality !== 'bad') return undefined;
  if (value === null ? quality !== 'bad' : !isDecimalString(value)) return undefined;
  if (quality === 'bad' && reason === undefined) return undefined;
  // zod's output: a new object with the schema's keys in the schema's order, absent ones left out.
  const out: Record<string, unknown> = { point };
  if (meter !== undefined) out.meter = meter;
  out.ts = ts;
  out.rxTs = rxTs;
  if (serverTs !== undefined) out.serverTs = serverTs;
  out.value = value;
  out.quality = quality;
  if (reason !== undefined) out.reason = reason;
  return out as Reading;
}

/**
 * The output of `Batch.safeParse(x)` when `x` certainly passes the {@link Batch} schema, else
 * `undefined` (which is no verdict: the caller asks zod). Hand-written for the collector's hot path
 * (zod's generic machinery cost ~3 µs a reading); test/unit/core/wire-fast.test.ts checks it against
 * zod field by field and constraint by constraint.
 */
export function fastBatch(x: unknown): Batch | undefined {
  if (!isPlainObject(x) || !onlyKeys(x, BATCH_KEYS)) return undefined;
  const { v, unitId, gatewayId, seq, prevHash, sentAt, device, readings, backlogFrom, lost, sig } = x;
  if (v !== 1 || !isIdentifier(unitId) || !isIdentifier(gatewayId)) return undefined;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq <= 0) return undefined;
  if (typeof prevHash !== 'string' || !SHA256_HEX_PATTERN.test(prevHash) || !isIsoTimestamp(sentAt))
    return undefined;
  if (device === undefined ? 'device' in x : !isIdentifier(device)) return undefined;
  if (sig === undefined ? 'sig' in x : typeof sig !== 'string') return undefined;
  if (
    backlogFrom === undefined
      ? 'backlogFrom' in x
      : typeof backlogFrom !== 'number' || !Number.isSafeInteger(backlogFrom) || backlogFrom <= 0
  )
    return undefined;
  if (lost === undefined && 'lost' in x) return undefined;
  const lostOut = lost === undefined ? undefined : fastLost(lost);
  if (lost !== undefined && lostOut === undefined) return undefined;
  if (!Array.isArray(readings) || readings.length > MAX_READINGS_PER_BATCH) return undefined;
  const rs = new Array<Reading>(readings.length);
  for (let i = 0; i < readings.length; i++) {
    const r = fastReading(readings[i]);
    if (r === undefined) return undefined;
    rs[i] = r;
  }
  const out: Record<string, unknown> = { v, unitId, gatewayId, seq, prevHash, sentAt };
  if (device !== undefined) out.device = device;
  out.readings = rs;
  if (backlogFrom !== undefined) out.backlogFrom = backlogFrom;
  if (lostOut !== undefined) out.lost = lostOut;
  if (sig !== undefined) out.sig = sig;
  return out as Batch;
}

/**
 * `Batch.safeParse` takes the hand-written {@link fastBatch} first and asks zod only when that gives no
 * verdict (an invalid batch, or an unusual object such as one with an `undefined` member), so that
 * valid batches skip zod's per-reading machinery and rejected ones get zod's issues and messages.
 * Same successes, same output, same errors as the schema alone (test/unit/core/wire-fast.test.ts).
 */
const zodBatchSafeParse = Batch.safeParse.bind(Batch);
Batch.safeParse = (data, params) => {
  const fast = fastBatch(data);
  return fast !== undefined ? { success: true, data: fast } : zodBatchSafeParse(data, params);
};

/**
 * State of a gateway's store-and-forward log (gateway/disk-log.ts), reported in its status.
 * `full`: the log could not take the newest batch (its bound or the disk). With `policy: 'block'` the
 * oldest batches are kept and new ones get their seq but are published from memory only
 * (`unloggedBatches`); with `'drop-oldest'` the oldest unsent batches are deleted (`droppedBatches`).
 * Either way the seqs that may not arrive are in `lost` and declared in the next batches (Batch
 * `lost`), and the collector reports those it never gets as `MRV_F_SEQ_GAP` with their cause.
 */
export const BufferStatus = z
  .object({
    durable: z.boolean().describe('false when no buffer dir is configured (memory only)'),
    pendingBatches: z
      .number()
      .int()
      .nonnegative()
      .describe(
        'appended and not yet released: not confirmed stored by a collector (delivery.release store) or not acknowledged by the broker (release broker)',
      ),
    unconfirmed: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe('of those, batches the broker took that no collector has confirmed stored yet'),
    bytes: z.number().int().nonnegative().describe('bytes of log on disk, acknowledged segments excluded'),
    maxBytes: z.number().int().positive(),
    policy: z.enum(['block', 'drop-oldest']),
    full: z.boolean(),
    droppedBatches: z.number().int().nonnegative(),
    tornRecords: z
      .number()
      .int()
      .nonnegative()
      .describe('torn last records skipped at open (kill -9 mid-write)'),
    corruptRecords: z.number().int().nonnegative(),
    unloggedBatches: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe('batches made (seq assigned) that the log could not take: published from memory only'),
    lost: z
      .array(LostRange)
      .optional()
      .describe(
        'seq ranges lost by the gateway, still declared in every new batch until one is acknowledged',
      ),
  })
  .strict();
export type BufferStatus = z.infer<typeof BufferStatus>;

/** Retained gateway status (`{prefix}/{unitId}/{gatewayId}/status`); `offline` is also the MQTT last will. */
export const GatewayStatus = z
  .object({
    v: z.literal(1),
    gatewayId: Identifier,
    state: z.enum(['online', 'offline']),
    at: IsoTimestamp.optional().describe('gateway time of the change; absent in the last will'),
    version: z.string().optional(),
    configHash: Sha256Hex.optional(),
    bufferDepth: z.number().int().nonnegative().optional().describe('batches waiting for PUBACK'),
    lastSeq: z.number().int().nonnegative().optional(),
    buffer: BufferStatus.optional().describe("the gateway's store-and-forward log"),
  })
  .strict();
export type GatewayStatus = z.infer<typeof GatewayStatus>;

/** Industries covered by the national ETS since 2025 (docs/domain.md §1). */
export const Industry = z.enum(['power', 'steel', 'cement', 'aluminium']);
export type Industry = z.infer<typeof Industry>;

/** What a point means, published retained in `meta` so that the collector and server need no site file. */
export const PointMeta = z
  .object({
    id: Identifier,
    device: Identifier,
    meter: Identifier.optional(),
    unit: z.string().describe('engineering unit, e.g. t, kA, V, MWh, Nm³'),
    description: z.string().optional(),
    parameter: z.string().optional().describe('key parameter (关键参数) this point feeds'),
    aggregation: z.enum(['totalizer', 'events', 'rate', 'gauge']).optional(),
    sign: z
      .enum(['+', '-'])
      .optional()
      .describe(
        'how the point\'s period value enters its key parameter: "+" adds (default), "-" subtracts (e.g. anode butts returned, 残极)',
      ),
    ticketPoint: Identifier.optional().describe(
      'events aggregation: the point holding the ticket number of each event (counted once per number)',
    ),
    maxRate: DecimalString.optional().describe(
      "totalizer: the meter's maximum rate, point unit per hour (e.g. t/h); a roll-over, reset or jump is accepted only if the increase it implies fits in maxRate × elapsed time",
    ),
    maxStep: DecimalString.optional().describe(
      'totalizer: largest increase, point unit, the counter makes at once on top of maxRate (a ladle, a heat, an anode block); default 0',
    ),
    correctionTolerance: DecimalString.optional().describe(
      'totalizer: largest backwards step, point unit, taken as a correction (counted 0, reported) rather than a reset',
    ),
  })
  .strict();
export type PointMeta = z.infer<typeof PointMeta>;

/** A verification (检定) or calibration (校准) certificate of a meter (docs/domain.md §3). */
export const Calibration = z
  .object({
    certificate: z.string().min(1).describe('certificate number'),
    kind: z.enum(['verification', 'calibration']).describe('检定 (legal verification) or 校准 (calibration)'),
    date: z.iso.date(),
    validUntil: z.iso.date(),
    body: z.string().min(1).describe('issuing metrology body'),
    regulation: z.string().optional().describe('JJG/JJF regulation applied, e.g. JJG 539'),
    result: z.string().min(1).describe('e.g. 合格 pass, or calibration values with uncertainty'),
  })
  .strict();
export type Calibration = z.infer<typeof Calibration>;

/** A key measuring instrument in the meter ledger (计量器具一览表, docs/domain.md §3). */
export const MeterMeta = z
  .object({
    id: Identifier,
    name: z.string().min(1),
    kind: z
      .string()
      .min(1)
      .describe('weighbridge 汽车衡, belt-scale 皮带秤, ladle-scale, flowmeter, electricity-meter, ...'),
    model: z.string().optional(),
    serial: z.string().optional(),
    accuracyClass: z.string().optional(),
    range: z.string().optional(),
    location: z.string().optional(),
    calibrations: z.array(Calibration).default([]),
  })
  .strict();
export type MeterMeta = z.infer<typeof MeterMeta>;

/** The key emitting unit (重点排放单位) as described in the site file. */
export const UnitMeta = z
  .object({
    id: Identifier.describe('unified social credit code (统一社会信用代码) or another stable id'),
    name: z.string().min(1),
    industry: Industry,
    province: z.string().min(1),
  })
  .strict();
export type UnitMeta = z.infer<typeof UnitMeta>;

/**
 * Retained catalogue (`{prefix}/{unitId}/{gatewayId}/meta`). It informs (points, meters, config hash);
 * it never decides scope: `unit` is what the gateway's site file claims, compared with the server-side
 * unit registry (core/schema/unit-registry.ts), a difference being a finding.
 * - `sentAt`: when the gateway signed it (its clock); the key must be valid then, as for a batch's `sentAt`;
 * - `sig`: base64 Ed25519 by the gateway's batch key over the canonical JSON of the meta without `sig`
 *   (core/schema/canonical.ts `canonicalMetaBytes`). A collector with a key registry takes only meta
 *   whose signature verifies with a key of the topic's (unit, gateway); gateways before issue 17 sent
 *   neither field, which only a collector without key registry (`--insecure-unsigned`) accepts.
 */
export const GatewayMeta = z
  .object({
    v: z.literal(1),
    gatewayId: Identifier,
    unit: UnitMeta,
    points: z.array(PointMeta),
    meters: z.array(MeterMeta),
    configHash: Sha256Hex,
    sentAt: IsoTimestamp.optional().describe('when the gateway signed the catalogue (its clock)'),
    sig: z.string().max(200).optional().describe('base64 Ed25519 over the canonical catalogue without sig'),
  })
  .strict();
export type GatewayMeta = z.infer<typeof GatewayMeta>;

/**
 * The topic kinds a gateway publishes under `{prefix}/{unitId}/{gatewayId}/`: `data` (batches),
 * `backlog` (batches of a backlog replayed while newer ones go on `data`, gateway/send-order.ts; same
 * payload), `status`, `meta`.
 */
export type TopicKind = 'data' | 'backlog' | 'status' | 'meta';

/** Builds `{prefix}/{unitId}/{gatewayId}/{kind}`. */
export function topicFor(prefix: string, unitId: string, gatewayId: string, kind: TopicKind): string {
  return `${prefix}/${unitId}/${gatewayId}/${kind}`;
}

/**
 * Parses a topic built by {@link topicFor}; returns `undefined` for any other topic.
 * @example parseTopic('mrv/v1', 'mrv/v1/U1/gw1/data') → { unitId: 'U1', gatewayId: 'gw1', kind: 'data' }
 */
export function parseTopic(
  prefix: string,
  topic: string,
): { unitId: string; gatewayId: string; kind: TopicKind } | undefined {
  if (!topic.startsWith(`${prefix}/`)) return undefined;
  const parts = topic.slice(prefix.length + 1).split('/');
  if (parts.length !== 3) return undefined;
  const [unitId, gatewayId, kind] = parts as [string, string, string];
  if (kind !== 'data' && kind !== 'backlog' && kind !== 'status' && kind !== 'meta') return undefined;
  return { unitId, gatewayId, kind };
}
