/**
 * The collector: subscribes to every gateway's data, status and meta topics, validates each payload
 * against the wire contract (core/schema), checks integrity (collector/integrity.ts: signatures, hash
 * chain, seq gaps, redeliveries, clocks), writes readings, findings and the batch archive to a
 * {@link TimeSeriesStore} in batches and, once stored, acknowledges them to the broker and publishes them
 * to the live feed.
 *
 * Exactly once into the store (docs/architecture.md §5):
 * - persistent MQTT sessions (`clean: false`, a fixed `clientId`; a second one, `{clientId}.backlog`,
 *   for the `backlog` topic, so that a replayed backlog queued at the broker does not hold live
 *   batches back; writes take live batches first), so the broker keeps queueing while
 *   the collector is down or slow (what it drops the gateways send again, below);
 * - PUBACK is sent only after the store write (once written, docs/delivery.md "Pipelined writes"): MQTT.js 5.16 sends a QoS 1 PUBACK inside the
 *   `handleMessage` callback and handles the next packet only after it, so waiting there would allow one
 *   message per store write. `handleMessage` therefore answers at once with a sentinel error — MQTT.js
 *   then moves on without acknowledging (handlers/publish.js: `if (err) return done(err)`) — and the
 *   collector sends the PUBACK itself (`_sendPacket`) after the write. An acknowledgement is sent only
 *   on the connection the message came in on; after a reconnect the broker redelivers it instead;
 * - a redelivered batch is recognised by (gatewayId, seq) and the SHA-256 of its canonical bytes, and
 *   written once;
 * - after each store write the collector publishes a store acknowledgement per gateway
 *   (`{prefix}/{unit}/{gateway}/ack`, core/schema/delivery.ts) naming every batch of the write, new or
 *   already stored: only that releases the batch from the gateway's log (docs/delivery.md), so a broker
 *   that drops or forgets a queued batch costs a re-send, not the batch. A session that starts without
 *   state at the broker publishes `{prefix}/_sync` once subscribed, and the gateways send again at once
 *   what they hold unconfirmed.
 * A write starts at once when `maxPendingBatches` (default 16) batches or `maxPendingReadings` wait, and
 * takes at most that much: the broker's in-flight window (Mosquitto `max_inflight_messages`) does not
 * bound the unacknowledged messages once acknowledgements flow, so after an outage many more may wait.
 * A store outage keeps the batches unacknowledged and retries with backoff; the broker holds the rest.
 * None is dropped.
 *
 * A payload that is not valid JSON or does not match the contract is counted, logged and republished to
 * the dead-letter topic with its reason; findings are stored and republished on `{prefix}/_findings`.
 * A gateway's catalogue (`meta`) only informs (collector/meta-check.ts, issue 17 item 2): with a key
 * registry it must be signed by a key of its topic's (unit, gateway), else it is dead-lettered, counted
 * (`rejectedMetas`) and raised as `MRV_F_META_REJECTED`, stored nowhere; a taken one whose unit claim
 * differs from the unit registry is `MRV_F_META_MISMATCH`. Unit facts and scope are the server's registry's.
 *
 * Scale-out (`shareGroup`, docs/architecture.md §1, docs/scale-out.md): several collectors, each with its own `clientId` and
 * persistent session, subscribe to the data topics as `$share/{group}/{prefix}/+/+/data`, so the broker
 * hands each batch to one of them (Mosquitto 2.0: round robin, offline sessions included: a stopped
 * collector's share waits in its session until it returns with the same `clientId`). Status and meta
 * stay ordinary subscriptions: every collector needs the catalogues, and their writes replace.
 * Integrity then runs in shared mode (integrity.ts) and a periodic {@link ChainAudit} reports gaps.
 *
 * Another transport (`source`, collector/source.ts: NATS JetStream, collector/nats-source.ts) replaces
 * the MQTT sessions: it delivers the same topics with an acknowledgement each, and carries the store
 * acknowledgements, `_sync`, dead letters, findings and live announcements; everything between a
 * payload and its acknowledgement above is the same. A shared source runs integrity in shared mode.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { z } from 'zod';
import { MrvError } from '../core/errors.ts';
import { isMqttAuthRefusal, isTlsVerifyFailure, redactUrl } from '../core/mqtt-errors.ts';
import { ackTopic, type StoreAck, type SyncRequest, seqRanges, syncTopic } from '../core/schema/delivery.ts';
import type { Finding } from '../core/schema/finding.ts';
import { checkProvinceCode } from '../core/schema/province.ts';
import type { UnitRegistry } from '../core/schema/unit-registry.ts';
import {
  Batch,
  DEFAULT_TOPIC_PREFIX,
  GatewayMeta,
  GatewayStatus,
  parseTopic,
  topicFor,
} from '../core/schema/wire.ts';
import { type Clock, isoMs, systemClock } from '../core/time.ts';
import { ChainAudit } from './chain-audit.ts';
import { reviewGateway } from './finding-lifecycle.ts';
import { IntegrityChecker, type IntegrityPlan, type ReceivedBatch } from './integrity.ts';
import type { KeyRegistry } from './keys.ts';
import type { LiveBatch, LiveHub } from './live.ts';
import { liveTopic } from './live-relay.ts';
import { checkMeta, settledMismatches } from './meta-check.ts';
import type { MessageSource } from './source.ts';
import type { StoredReading, TimeSeriesStore } from './store.ts';

/** Payloads larger than this are rejected before parsing (4 MiB). */
export const MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;

/**
 * Default {@link CollectorOptions.flushIntervalMs}: 25 ms. It was 200 ms; at 1 000 points/s that timer
 * was most of the value → live-page latency (BENCHMARKS.md, end-to-end latency).
 */
export const DEFAULT_FLUSH_INTERVAL_MS = 25;

/**
 * Default {@link CollectorOptions.maxWritesInFlight}: 4 write groups in flight per store, acknowledged
 * in order (docs/delivery.md "Pipelined writes").
 */
export const DEFAULT_WRITES_IN_FLIGHT = 4;

/** Default MQTT client id: fixed, so the broker keeps the collector's session across restarts. */
export const DEFAULT_COLLECTOR_CLIENT_ID = 'mrv-collector';

/** Options of {@link Collector}. */
export interface CollectorOptions {
  /** Broker URL, e.g. mqtt://127.0.0.1:1883 or mqtts://...; unused with a {@link source}. */
  url: string;
  /**
   * Another transport instead of the MQTT sessions (collector/source.ts), e.g. NATS JetStream
   * (collector/nats-source.ts). The collector starts, stops and closes it.
   */
  source?: MessageSource;
  store: TimeSeriesStore;
  log: Logger;
  live?: LiveHub;
  clock?: Clock;
  topicPrefix?: string;
  /**
   * Fixed per collector (default {@link DEFAULT_COLLECTOR_CLIENT_ID}): the name of its persistent
   * session for `data`, `status` and `meta`; `{clientId}.backlog` names the one for `backlog`.
   */
  clientId?: string;
  /** MQTT credentials and TLS (`ca`, `cert`, `key` as PEM buffers). */
  username?: string;
  password?: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** MQTT keepalive in seconds; default 30. */
  keepaliveS?: number;
  /** Gateway public keys; absent = signatures of batches and catalogues are not checked (warned at start). */
  keys?: KeyRegistry;
  /**
   * The server-side unit registry (core/schema/unit-registry.ts): a verified catalogue whose unit claim
   * differs from it is a `MRV_F_META_MISMATCH` finding (collector/meta-check.ts). Absent = no comparison
   * (warned at start). The collector never changes a unit's facts or scope either way.
   */
  units?: UnitRegistry;
  /**
   * The province this collector stores (docs/scale-out.md "Provinces and the national view"), as the unit
   * registry spells it: a message (batch, catalogue, status) of a unit the registry places in another
   * province, or does not register, is dead-lettered, counted (`outOfProvince`) and stored nowhere; its
   * gateway gets no store acknowledgement and keeps the batch. Needs {@link units}. The topics a
   * province collector subscribes to are its `topicPrefix` (core/schema/province.ts
   * {@link provinceTopicPrefix}, set by `mrv collector --province`). Absent = every unit is taken.
   */
  province?: string;
  /** See {@link IntegrityChecker}. */
  replayWindowMs?: number;
  maxClockSkewMs?: number;
  /**
   * A received batch waits at most this long before a store write starts (ms), unless a full write
   * waits (below). Batches arriving while a write is in flight wait for the next one, so writes grow with
   * the load by themselves: small and quick at a trickle, full under a backlog. Default
   * {@link DEFAULT_FLUSH_INTERVAL_MS}.
   */
  flushIntervalMs?: number;
  /** A store write is started at once when this many readings wait (and takes at most that many, or one batch). Default 10 000: one InfluxDB request (influx-store.ts). */
  maxPendingReadings?: number;
  /** ... or this many batches (keep below the broker's in-flight window). Default 16. */
  maxPendingBatches?: number;
  /**
   * Store writes in flight at once (write groups, each planned after the one before and acknowledged
   * only after every one before it: docs/delivery.md "Pipelined writes"). 1 = one write after the other.
   * Default {@link DEFAULT_WRITES_IN_FLIGHT}.
   */
  maxWritesInFlight?: number;
  /** Longest wait between store retries (ms). Default 30 000. */
  maxRetryDelayMs?: number;
  /**
   * Shares the data subscription with other collectors: `$share/{shareGroup}/…` (see the file comment).
   * Every member needs its own fixed `clientId`. Absent = this collector takes every batch.
   */
  shareGroup?: string;
  /** Shared mode: how often the chain audit runs (ms). Default 15 000. */
  auditIntervalMs?: number;
  /** Shared mode: a hole is reported once the batch after it has been archived this long (ms). Default 300 000. */
  gapGraceMs?: number;
  /**
   * A hole a gateway no longer holds is reported once the backlog session has received nothing and
   * held nothing unwritten for this long while connected (ms): until then its batches may still be
   * queued for it at the broker. Default 5 000.
   */
  backlogQuietMs?: number;
  /**
   * Announce every stored batch on `{prefix}/_stored/{unit}/{gateway}/live` (QoS 0) for a server that
   * runs apart (`mrv server --live-mqtt`, collector/live-relay.ts). Default false.
   */
  announceStored?: boolean;
}

/** Counters exposed for status and metrics (flat numbers, read by ops/metrics.ts). */
export interface CollectorCounters {
  batches: number;
  readingsStored: number;
  invalidPayloads: number;
  storeWrites: number;
  storeErrors: number;
  metaMessages: number;
  /** Catalogues refused (`MRV_F_META_REJECTED`: unsigned, wrongly signed, another unit's): dead-lettered, stored nowhere. */
  rejectedMetas: number;
  statusMessages: number;
  /** Redelivered batches recognised and not stored again. */
  duplicates: number;
  /** Batches whose signature, key, chain or seq did not verify. */
  verificationFailures: number;
  /** Batches signed by a key of another unit or gateway (`MRV_F_KEY_MISMATCH`): dead-lettered, nothing stored. */
  rejectedBatches: number;
  /** Messages of a unit outside the collector's {@link CollectorOptions.province}: dead-lettered, stored nowhere. */
  outOfProvince: number;
  findingsRaised: number;
  /** Messages acknowledged to the broker after their store write. */
  acks: number;
  /** Store acknowledgements published to gateways (one per gateway per store write). */
  storeAcks: number;
  /** Sync requests published because a session started without state at the broker. */
  syncRequests: number;
  /** Shared mode: chain-audit rounds completed, and archived batches they walked. */
  auditRounds: number;
  auditedBatches: number;
}

/** One dead-lettered payload as republished on `{prefix}/_deadletter`. */
export interface DeadLetter {
  topic: string;
  reason: string;
  receivedAt: string;
  bytes: number;
  /** The payload as UTF-8 text, cut at 4096 characters. */
  payload: string;
}

/**
 * One MQTT session of the collector. `generation` is incremented on every connection loss: an
 * acknowledgement is sent only on the connection its message came in on.
 */
interface Session {
  client: MqttClient;
  generation: number;
  /** MQTT client id of the session. */
  clientId: string;
  /** Whether the broker had state for the session at its latest CONNACK. */
  sessionPresent: boolean;
}

/** Given to MQTT.js's `handleMessage` callback to skip its automatic PUBACK (see the file comment). */
const DEFER_ACK = new Error('mrv: acknowledged after the store write');

/** What a write group writes that an overlapping later group must not overtake (see `#writeGroup`). */
interface Spans {
  /** Archive keys (`unit/gateway#seq`) and finding ids. */
  keys: Set<string>;
  /** Per `unit/gateway`, the [first, last] reading time (ms) of each batch's rows. */
  ranges: Map<string, Array<[number, number]>>;
}

/** The archive keys, finding ids and reading time spans of a plan. */
function spansOf(plan: IntegrityPlan): Spans {
  const keys = new Set<string>();
  for (const b of plan.archive) keys.add(`${b.unitId}/${b.gatewayId}#${b.seq}`);
  for (const f of plan.findings) keys.add(f.id);
  const ranges = new Map<string, Array<[number, number]>>();
  let span: [number, number] | undefined;
  let last: StoredReading | undefined;
  for (const r of plan.rows) {
    if (
      last === undefined ||
      r.seq !== last.seq ||
      r.gatewayId !== last.gatewayId ||
      r.unitId !== last.unitId
    ) {
      span = [r.ts, r.ts];
      const gw = `${r.unitId}/${r.gatewayId}`;
      const list = ranges.get(gw);
      if (list) list.push(span);
      else ranges.set(gw, [span]);
    } else if (span) {
      if (r.ts < span[0]) span[0] = r.ts;
      if (r.ts > span[1]) span[1] = r.ts;
    }
    last = r;
  }
  return { keys, ranges };
}

/** True when two groups share a key or a gateway's reading time spans meet. */
function overlaps(a: Spans, b: Spans): boolean {
  for (const k of b.keys) if (a.keys.has(k)) return true;
  for (const [gw, spans] of b.ranges) {
    const other = a.ranges.get(gw);
    if (other === undefined) continue;
    for (const [lo, hi] of spans) for (const [l, h] of other) if (lo <= h && l <= hi) return true;
  }
  return false;
}

/** Gap and broken-link findings: what a review (finding-lifecycle.ts) resolves. */
function reviewedCode(f: Finding): boolean {
  return f.code === 'MRV_F_SEQ_GAP' || f.code === 'MRV_F_CHAIN_BROKEN';
}

/** One store write of the pipeline (docs/delivery.md "Pipelined writes"). */
interface WriteGroup {
  /** Its batches, in the order taken. */
  take: PendingBatch[];
  /** It holds live (not `backlog`) batches. */
  live: boolean;
  /** Its write is still going on (planning or writing; false once written or failed). */
  writing: boolean;
  /** Set once planned. */
  plan: IntegrityPlan | undefined;
  spans: Spans | undefined;
  /** Readings the store wrote. */
  readings?: number;
  /** Settles once its write ended: true when written. */
  written: Promise<boolean>;
  /** Settles once it ended in order (committed and acknowledged, or put back). */
  ended: Promise<void>;
}

interface PendingBatch extends ReceivedBatch {
  ack: () => void;
  /** Came on a `backlog` topic: written after the live batches waiting with it. */
  backlog: boolean;
  /** Published on the live feed already (see `#publishLive`). */
  published?: boolean;
  /** Acknowledged to the broker already (once written; a batch put back and written again is not acknowledged twice). */
  acked?: boolean;
}

/** MQTT → validation → integrity → store → PUBACK → live feed. Construct, `start()`; `stop()` flushes and disconnects. */
export class Collector {
  readonly counters: CollectorCounters = {
    batches: 0,
    readingsStored: 0,
    invalidPayloads: 0,
    storeWrites: 0,
    storeErrors: 0,
    metaMessages: 0,
    rejectedMetas: 0,
    statusMessages: 0,
    duplicates: 0,
    verificationFailures: 0,
    rejectedBatches: 0,
    outOfProvince: 0,
    findingsRaised: 0,
    acks: 0,
    storeAcks: 0,
    syncRequests: 0,
    auditRounds: 0,
    auditedBatches: 0,
  };
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #prefix: string;
  readonly #integrity: IntegrityChecker;
  /** The main session's client (data, status, meta); undefined before start and after stop. */
  #client: MqttClient | undefined;
  #main: Session | undefined;
  /** The session of replayed backlogs (`…/backlog`). */
  #backlog: Session | undefined;
  /** Set once stop() has ended the sessions: no acknowledgement is sent any more. */
  #stopped = false;
  /** The other transport ({@link CollectorOptions.source}) is started and not closed. */
  #sourceOpen = false;
  /** point → device, per `${unitId}/${gatewayId}`, from the gateways' retained catalogues. */
  readonly #devices = new Map<string, Map<string, string>>();
  #pending: PendingBatch[] = [];
  #pendingReadings = 0;
  /** Live (not `backlog`) batches among {@link #pending}. */
  #pendingLive = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Write groups planned or in flight, oldest first (docs/delivery.md "Pipelined writes"). */
  #groups: WriteGroup[] = [];
  /** A group is being planned (plans are made one after another). */
  #planning = false;
  /** A group failed: nothing new starts until every group in flight has ended. */
  #stalled = false;
  /** A failed group has ended: every group ending after it is put back too, into {@link #requeue}. */
  #unwinding = false;
  #requeue: PendingBatch[] = [];
  /** The due-gap report (no group starts meanwhile). */
  #dueReport: Promise<void> | undefined;
  /** The due-gap report waits for the groups in flight to end (none starts meanwhile). */
  #dueWanted = false;
  #retryDelayMs = 0;
  #metaWrites: Promise<unknown> = Promise.resolve();
  readonly #audit: ChainAudit | undefined;
  #auditTimer: NodeJS.Timeout | undefined;
  #auditing: Promise<void> | undefined;
  #stopping = false;
  /** Wall-clock ms of the last data message (for {@link leave}). */
  #lastDataAt = 0;
  /** Wall-clock ms of the last backlog-topic batch, or of the backlog session's last (re)connect. */
  #backlogActiveAt = 0;
  #dueTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: CollectorOptions) {
    this.#log = opts.log.child({ module: 'collector' });
    this.#clock = opts.clock ?? systemClock;
    this.#prefix = opts.topicPrefix ?? DEFAULT_TOPIC_PREFIX;
    if (opts.province !== undefined) {
      checkProvinceCode(opts.province);
      if (!opts.units)
        throw new MrvError(
          'MRV_E_CONFIG',
          `a collector for province ${opts.province} needs the unit registry (--units-file): it decides which units are the province's`,
        );
      if (!opts.units.units.some((u) => u.province === opts.province))
        this.#log.warn(
          { province: opts.province },
          'the unit registry places no unit in this province: every message will be refused',
        );
    }
    this.#integrity = new IntegrityChecker({
      keys: opts.keys,
      ...(opts.replayWindowMs !== undefined ? { replayWindowMs: opts.replayWindowMs } : {}),
      ...(opts.maxClockSkewMs !== undefined ? { maxClockSkewMs: opts.maxClockSkewMs } : {}),
      shared: opts.shareGroup !== undefined || opts.source?.shared === true,
    });
    if (opts.source?.shared && opts.shareGroup === undefined)
      this.#audit = new ChainAudit({
        store: opts.store,
        ...(opts.gapGraceMs !== undefined ? { graceMs: opts.gapGraceMs } : {}),
      });
    if (opts.shareGroup !== undefined) {
      if (opts.source)
        throw new MrvError(
          'MRV_E_CONFIG',
          `a share group (${opts.shareGroup}) is an MQTT subscription; the ${opts.source.kind} transport shares its consumer by itself`,
        );
      if (!/^[A-Za-z0-9_.-]+$/.test(opts.shareGroup))
        throw new MrvError(
          'MRV_E_CONFIG',
          `share group "${opts.shareGroup}": use letters, digits, "_", "." or "-" (it becomes a topic level of $share/{group}/...)`,
        );
      if (opts.clientId === undefined)
        throw new MrvError(
          'MRV_E_CONFIG',
          'a collector in a share group needs its own fixed client id (--client-id): each member keeps its own persistent session',
        );
      this.#audit = new ChainAudit({
        store: opts.store,
        ...(opts.gapGraceMs !== undefined ? { graceMs: opts.gapGraceMs } : {}),
      });
    }
  }

  /** The dead-letter topic. */
  get deadLetterTopic(): string {
    return `${this.#prefix}/_deadletter`;
  }

  /** Where raised findings are republished (QoS 1). */
  get findingsTopic(): string {
    return `${this.#prefix}/_findings`;
  }

  /**
   * Connects with a persistent session and subscribes; resolves once the subscriptions are granted. A
   * broker that is not there yet is waited for.
   * @throws MrvError `MRV_E_CONFIG` when the broker refuses the credentials on the first connect, or its
   *   TLS certificate does not verify (no or the wrong `--ca`)
   */
  async start(): Promise<void> {
    if (!this.#integrity.verifying)
      this.#log.warn(
        'no key registry: batch and catalogue signatures are NOT verified (archive verdict "unchecked")',
      );
    if (!this.opts.units)
      this.#log.warn(
        'no unit registry (--units-file): gateway catalogues are not compared with the registered unit facts',
      );
    if (this.opts.source) return this.#startSource(this.opts.source);
    const o = this.opts;
    const clientId = o.clientId ?? DEFAULT_COLLECTOR_CLIENT_ID;
    const p = this.#prefix;
    const share = o.shareGroup !== undefined ? `$share/${o.shareGroup}/` : '';
    const main = await this.#connect(clientId);
    this.#client = main.client;
    this.#main = main;
    const mainTopics = {
      [`${share}${p}/+/+/data`]: { qos: 1 as const },
      [`${p}/+/+/status`]: { qos: 1 as const },
      [`${p}/+/+/meta`]: { qos: 1 as const },
    };
    await main.client.subscribeAsync(mainTopics);
    this.#syncOnNewSession(main, mainTopics);
    // Replayed backlogs on their own session, so that the broker's queue of a backlog does not hold
    // live batches back (gateway/send-order.ts); the flush takes live batches first.
    const backlog = await this.#connect(`${clientId}.backlog`);
    this.#backlog = backlog;
    this.#backlogActiveAt = Date.now();
    backlog.client.on('connect', () => {
      this.#backlogActiveAt = Date.now();
    });
    this.#dueTimer = setInterval(() => this.#maybeReportDue(), 1000);
    this.#dueTimer.unref();
    const backlogTopics = { [`${share}${p}/+/+/backlog`]: { qos: 1 as const } };
    await backlog.client.subscribeAsync(backlogTopics);
    this.#syncOnNewSession(backlog, backlogTopics);
    this.#log.info(
      { url: redactUrl(o.url), prefix: p, verifying: this.#integrity.verifying, shareGroup: o.shareGroup },
      'collector subscribed',
    );
    if (this.#audit) this.#scheduleAudit();
  }

  /** {@link start} with another transport (collector/source.ts) instead of the MQTT sessions. */
  async #startSource(source: MessageSource): Promise<void> {
    this.#backlogActiveAt = Date.now();
    await source.start({
      message: (topic, payload, ack) => {
        try {
          this.#onMessage(topic, payload, ack);
        } catch (err) {
          this.#log.error({ err: (err as Error).message, topic }, 'message handling failed');
          ack();
        }
      },
      connected: () => {
        this.#backlogActiveAt = Date.now();
      },
    });
    this.#sourceOpen = true;
    if (source.needsSync) {
      // Nothing was queued for the collectors before this start (the stream was made now): the
      // gateways send again what they hold unconfirmed.
      const request: SyncRequest = {
        v: 1,
        collector: this.opts.clientId ?? DEFAULT_COLLECTOR_CLIENT_ID,
        reason: 'new-session',
        at: isoMs(this.#clock.now()),
      };
      this.counters.syncRequests++;
      this.#log.info({ transport: source.kind }, 'new stream: gateways asked to re-send unconfirmed batches');
      this.#publish(syncTopic(this.#prefix), JSON.stringify(request), 1);
    }
    this.#dueTimer = setInterval(() => this.#maybeReportDue(), 1000);
    this.#dueTimer.unref();
    this.#log.info(
      {
        transport: source.kind,
        prefix: this.#prefix,
        verifying: this.#integrity.verifying,
        shared: source.shared,
      },
      'collector subscribed',
    );
    if (this.#audit) this.#scheduleAudit();
  }

  /** Publishes one of the collector's own messages on the MQTT session or the other transport. */
  #publish(topic: string, payload: string, qos: 0 | 1): void {
    if (this.opts.source) {
      if (this.#sourceOpen) this.opts.source.publish(topic, payload);
    } else this.#client?.publish(topic, payload, { qos });
  }

  /**
   * One persistent MQTT session (`clean: false`, fixed `clientId`) whose QoS 1 messages are
   * acknowledged after the store write (see the file comment).
   * @throws MrvError `MRV_E_CONFIG` when the broker refuses the credentials on the first connect, or its
   *   TLS certificate does not verify
   */
  async #connect(clientId: string): Promise<Session> {
    const o = this.opts;
    const client = mqtt.connect(o.url, {
      clientId,
      clean: false,
      keepalive: o.keepaliveS ?? 30,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      // Without this MQTT.js stops reconnecting for good after one CONNACK refusal; a refusal after
      // start (account changed on the broker) is logged and retried instead. At start it fails (below).
      reconnectOnConnackError: true,
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      ...(o.ca ? { ca: o.ca } : {}),
      ...(o.cert ? { cert: o.cert } : {}),
      ...(o.key ? { key: o.key } : {}),
    });
    const session: Session = { client, generation: 0, clientId, sessionPresent: false };
    client.on('connect', (connack) => {
      session.sessionPresent = connack.sessionPresent;
    });
    client.handleMessage = (packet, callback) => {
      const deferred = packet.qos === 1 && packet.messageId !== undefined;
      const gen = session.generation;
      const id = packet.messageId;
      const ack = deferred ? () => this.#puback(session, gen, id as number) : () => {};
      try {
        this.#onMessage(packet.topic, packet.payload as Buffer, ack);
      } catch (err) {
        this.#log.error({ err: (err as Error).message, topic: packet.topic }, 'message handling failed');
        ack();
      }
      callback(deferred ? DEFER_ACK : undefined);
    };
    client.on('close', () => session.generation++);
    const url = redactUrl(o.url); // for logs: a password in the URL is never logged
    client.on('error', (err) => {
      if (isMqttAuthRefusal(err))
        this.#log.error(
          { err: err.message, code: (err as { code?: number }).code, url, username: o.username },
          'broker refused the credentials: check --username and --password-env/--password-file (or the broker account)',
        );
      else this.#log.warn({ err: err.message, url }, 'broker error');
    });
    // A broker that is not there yet is waited for (MQTT.js keeps reconnecting), so start order is free.
    // Refused credentials and an untrusted broker certificate are not going to get better by waiting:
    // the first connect fails with them instead of hanging (a `mrv collector` with a wrong password exits with the reason).
    await new Promise<void>((resolve, reject) => {
      const onConnect = () => {
        client.off('error', onError);
        resolve();
      };
      const onError = (err: Error) => {
        const tls = isTlsVerifyFailure(err);
        if (!tls && !isMqttAuthRefusal(err)) return;
        client.off('connect', onConnect);
        client.off('error', onError);
        client.end(true);
        void this.#main?.client.endAsync(true);
        this.#client = undefined;
        this.#main = undefined;
        reject(
          new MrvError(
            'MRV_E_CONFIG',
            tls
              ? `MQTT broker ${url}: its TLS certificate does not verify (${(err as { code?: string }).code}: ${err.message}): give the CA that signed it with --ca FILE (and connect by the name in the certificate)`
              : `MQTT broker ${url} refused the collector's credentials (${err.message}): check --username and --password-env/--password-file`,
            { url, username: o.username },
            { cause: err },
          ),
        );
      };
      client.once('connect', onConnect);
      client.on('error', onError);
    });
    return session;
  }

  /**
   * A session the broker had no state for (first start, or a broker restarted without its state) lost
   * whatever was queued for it: once its subscriptions are in place again, ask every gateway to send
   * what it holds unconfirmed (core/schema/delivery.ts `SyncRequest`). Now for the first connect, and on
   * every reconnect without a session (subscribing again first, so the re-sent batches find it).
   */
  #syncOnNewSession(session: Session, topics: Record<string, { qos: 1 }>): void {
    const sync = () => {
      if (this.#stopped || session.sessionPresent) return;
      const request: SyncRequest = {
        v: 1,
        collector: session.clientId,
        reason: 'new-session',
        at: isoMs(this.#clock.now()),
      };
      this.counters.syncRequests++;
      this.#log.info(
        { session: session.clientId },
        'session started without broker state: gateways asked to re-send unconfirmed batches',
      );
      session.client.publish(syncTopic(this.#prefix), JSON.stringify(request), { qos: 1 });
    };
    sync();
    session.client.on('connect', () => {
      if (session.sessionPresent || this.#stopped) return;
      session.client
        .subscribeAsync(topics)
        .then(sync)
        .catch((err: unknown) =>
          this.#log.warn(
            { err: (err as Error).message, session: session.clientId },
            'subscribing again failed',
          ),
        );
    });
  }

  /**
   * Tells each gateway which of its batches are now in the store (core/schema/delivery.ts `StoreAck`):
   * those this write stored as trusted and those found already stored (redeliveries), never a
   * quarantined or rejected one (integrity.ts `confirmed`). Published after the write, whatever
   * happens to the PUBACKs: a gateway releases a batch from its log only on this.
   */
  #confirm(take: readonly ReceivedBatch[]): void {
    if (!this.#client && !this.#sourceOpen) return;
    const byGateway = new Map<string, { unitId: string; gatewayId: string; seqs: number[] }>();
    for (const { batch } of take) {
      const key = `${batch.unitId}/${batch.gatewayId}`;
      let g = byGateway.get(key);
      if (!g) {
        g = { unitId: batch.unitId, gatewayId: batch.gatewayId, seqs: [] };
        byGateway.set(key, g);
      }
      g.seqs.push(batch.seq);
    }
    const at = isoMs(this.#clock.now());
    const collector = this.opts.clientId ?? DEFAULT_COLLECTOR_CLIENT_ID;
    for (const g of byGateway.values()) {
      const ack: StoreAck = { v: 1, gatewayId: g.gatewayId, stored: seqRanges(g.seqs), collector, at };
      this.#publish(ackTopic(this.#prefix, g.unitId, g.gatewayId), JSON.stringify(ack), 1);
      this.counters.storeAcks++;
    }
  }

  #scheduleAudit(): void {
    const every = this.opts.auditIntervalMs ?? 15_000;
    // Jitter, so that the members of a group do not audit in step.
    this.#auditTimer = setTimeout(
      () => {
        this.#auditing = this.auditNow()
          .catch((err: unknown) =>
            this.#log.warn({ err: (err as Error).message }, 'chain audit failed; retried next round'),
          )
          .finally(() => {
            this.#auditing = undefined;
            if (!this.#stopping) this.#scheduleAudit();
          });
      },
      every * (0.75 + Math.random() * 0.5),
    );
  }

  /**
   * Shared mode: one chain-audit round now (collector/chain-audit.ts); stores and raises what it finds.
   * A no-op for a collector that is not in a share group.
   * @throws MrvError `MRV_E_STORE` when the store fails
   */
  async auditNow(): Promise<void> {
    if (!this.#audit) return;
    const round = await this.#audit.run(this.#clock.now());
    if (round.findings.length > 0) await this.opts.store.writeFindings(round.findings);
    this.counters.auditRounds++;
    this.counters.auditedBatches += round.checked;
    for (const f of round.findings) this.#raise(f);
  }

  #puback(session: Session, generation: number, messageId: number): void {
    const client = session.client;
    if (this.#stopped || generation !== session.generation || !client.connected) return; // redelivered later
    // MQTT.js private API (5.16): see the file comment.
    (client as unknown as { _sendPacket(p: { cmd: 'puback'; messageId: number }): void })._sendPacket({
      cmd: 'puback',
      messageId,
    });
    this.counters.acks++;
  }

  #onMessage(topic: string, payload: Buffer, ack: () => void): void {
    const t = parseTopic(this.#prefix, topic);
    if (!t) {
      ack(); // our own dead-letter/findings topics or a foreign topic under the prefix
      return;
    }
    const province = this.opts.province;
    if (province !== undefined) {
      const registered = this.opts.units?.province(t.unitId);
      if (registered !== province) {
        this.counters.outOfProvince++;
        const reason =
          registered === undefined
            ? `unit ${t.unitId} is not in the unit registry; this collector stores province ${province} only`
            : `unit ${t.unitId} is registered in province ${registered}; this collector stores province ${province} only`;
        this.#log.warn(
          { topic, unitId: t.unitId, registered: registered ?? null, province },
          'message of another province refused',
        );
        this.#deadLetter(topic, payload, reason);
        ack();
        return;
      }
    }
    const reason = this.#accept(t, payload, ack);
    if (reason !== undefined) {
      this.#reject(topic, payload, reason);
      ack();
    }
  }

  /** Validates and takes one payload; returns why it was rejected, or undefined when taken. */
  #accept(
    t: NonNullable<ReturnType<typeof parseTopic>>,
    payload: Buffer,
    ack: () => void,
  ): string | undefined {
    if (payload.length > MAX_PAYLOAD_BYTES)
      return `oversized: ${payload.length} bytes > ${MAX_PAYLOAD_BYTES}`;
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      return `not JSON: ${(err as Error).message}`;
    }
    if (t.kind === 'data' || t.kind === 'backlog') {
      const r = Batch.safeParse(json);
      if (!r.success) return `batch does not match the wire contract: ${z.prettifyError(r.error)}`;
      const batch = r.data;
      if (batch.unitId !== t.unitId || batch.gatewayId !== t.gatewayId)
        return `batch names unit ${batch.unitId} / gateway ${batch.gatewayId}, topic says ${t.unitId} / ${t.gatewayId}`;
      this.#enqueue({
        batch,
        receivedAt: this.#clock.now(),
        devices: this.#devices.get(`${t.unitId}/${t.gatewayId}`),
        ack,
        backlog: t.kind === 'backlog',
      });
    } else if (t.kind === 'meta') {
      const r = GatewayMeta.safeParse(json);
      if (!r.success) return `meta does not match the wire contract: ${z.prettifyError(r.error)}`;
      this.counters.metaMessages++;
      // Informs only (collector/meta-check.ts): a refused catalogue is stored nowhere, a taken one
      // changes no unit fact or scope (the server's unit registry owns those).
      const verdict = checkMeta(r.data, {
        unitId: t.unitId,
        gatewayId: t.gatewayId,
        payload,
        keys: this.opts.keys,
        units: this.opts.units,
        now: this.#clock.now(),
      });
      if (verdict.kind === 'rejected') {
        this.counters.rejectedMetas++;
        this.#log.warn(
          { unitId: t.unitId, gatewayId: t.gatewayId, verdict: verdict.verdict },
          'catalogue (meta) rejected',
        );
        this.#deadLetter(topicFor(this.#prefix, t.unitId, t.gatewayId, 'meta'), payload, verdict.reason);
        const f = verdict.finding;
        if (f) this.#queueMetaWrite(() => this.#storeFindings([f]), 'meta finding', ack);
        else ack();
        return undefined;
      }
      this.#devices.set(`${t.unitId}/${t.gatewayId}`, new Map(r.data.points.map((pt) => [pt.id, pt.device])));
      const findings = verdict.findings;
      this.#queueMetaWrite(
        async () => {
          await this.opts.store.writeMeta(t.unitId, r.data);
          // A catalogue that agrees again (or differs otherwise) settles the gateway's earlier mismatches.
          const open = this.opts.units
            ? await this.opts.store.listOpenFindings(t.unitId, 'MRV_F_META_MISMATCH', {
                gatewayId: t.gatewayId,
              })
            : [];
          await this.#storeFindings([
            ...findings,
            ...settledMismatches(open, findings, this.#clock.now(), r.data.configHash),
          ]);
        },
        'meta',
        ack,
      );
    } else {
      const r = GatewayStatus.safeParse(json);
      if (!r.success) return `status does not match the wire contract: ${z.prettifyError(r.error)}`;
      this.counters.statusMessages++;
      const at = this.#clock.now();
      this.#queueMetaWrite(() => this.opts.store.writeStatus(t.unitId, r.data, at), 'status', ack);
    }
    return undefined;
  }

  /** Meta and status writes keep their arrival order and never overlap; acknowledged once written (or failed). */
  #queueMetaWrite(write: () => Promise<void>, what: string, ack: () => void): void {
    this.#metaWrites = this.#metaWrites
      .then(write)
      .catch((err: unknown) => {
        this.counters.storeErrors++;
        this.#log.error({ err: (err as Error).message }, `storing ${what} failed`);
      })
      .finally(ack);
  }

  /** Writes findings to the store and raises them (log, findings topic). */
  async #storeFindings(findings: Finding[]): Promise<void> {
    if (findings.length === 0) return;
    await this.opts.store.writeFindings(findings);
    for (const f of findings) this.#raise(f);
  }

  #reject(topic: string, payload: Buffer, reason: string): void {
    this.counters.invalidPayloads++;
    this.#log.warn({ topic, bytes: payload.length, reason: reason.slice(0, 500) }, 'payload rejected');
    this.#deadLetter(topic, payload, reason);
  }

  /** Republishes a refused payload on the dead-letter topic with its reason. */
  #deadLetter(topic: string, payload: Buffer, reason: string): void {
    const letter: DeadLetter = {
      topic,
      reason,
      receivedAt: new Date(this.#clock.now()).toISOString(),
      bytes: payload.length,
      payload: payload.toString('utf8').slice(0, 4096),
    };
    this.#publish(this.deadLetterTopic, JSON.stringify(letter), 1);
  }

  /** A batch rejected whole by the integrity check (its finding is stored): to the dead-letter topic, counted. */
  #deadLetterBatch(item: ReceivedBatch, finding: Finding): void {
    this.counters.rejectedBatches++;
    const { unitId, gatewayId, seq } = item.batch;
    this.#log.warn({ unitId, gatewayId, seq, code: finding.code }, 'batch rejected');
    const payload = JSON.stringify(item.batch);
    const letter: DeadLetter = {
      topic: `${this.#prefix}/${unitId}/${gatewayId}/data`,
      reason: `${finding.code}: ${finding.message.en}`,
      receivedAt: new Date(item.receivedAt).toISOString(),
      bytes: Buffer.byteLength(payload),
      payload: payload.slice(0, 4096),
    };
    this.#publish(this.deadLetterTopic, JSON.stringify(letter), 1);
  }

  /** True when the waiting batches fill a write (the thresholds of {@link CollectorOptions}). */
  #writeFull(): boolean {
    return (
      this.#pendingReadings >= (this.opts.maxPendingReadings ?? 10_000) ||
      this.#pending.length >= (this.opts.maxPendingBatches ?? 16)
    );
  }

  #enqueue(item: PendingBatch): void {
    this.#lastDataAt = Date.now();
    if (item.backlog) this.#backlogActiveAt = this.#lastDataAt;
    this.#pending.push(item);
    if (!item.backlog) this.#pendingLive++;
    this.#pendingReadings += item.batch.readings.length;
    this.counters.batches++;
    this.#pump(false);
  }

  /** True while a write group is planned or in flight, or the due-gap report runs. */
  get #busy(): boolean {
    return this.#groups.length > 0 || this.#dueReport !== undefined;
  }

  /**
   * Starts the next write group when it may (docs/delivery.md "Pipelined writes"): none is being
   * planned (plans are made one after another, in order), fewer than `maxWritesInFlight` are in flight,
   * no failed group is being unwound, and a full write waits (or `force`, the flush timer fired or
   * {@link flush}, and nothing is in flight). Otherwise, with batches waiting, makes sure the flush
   * timer runs.
   */
  #pump(force: boolean): void {
    const max = Math.max(1, this.opts.maxWritesInFlight ?? DEFAULT_WRITES_IN_FLIGHT);
    // A slot is kept for live batches (docs/delivery.md "Live writes during a backlog drain"): a
    // replayed backlog fills at most max − 1 groups, and a write with live batches starts whenever no
    // live write is still going on. A live group that is written but waits to end in order (its store
    // acknowledgement waits for the backlog groups before it) no longer holds the live slot, so the
    // next live batch never waits for the backlog writes ahead of it to end, only for a live write.
    // Groups written and waiting to end are bounded too: at most 2 × max in all.
    const live = this.#pendingLive > 0;
    const liveWriting = this.#groups.some((g) => g.live && g.writing);
    const slots = !live ? Math.max(1, max - 1) : liveWriting ? max : 2 * max;
    const canStart =
      !this.#stalled &&
      !this.#planning &&
      this.#dueReport === undefined &&
      !this.#dueWanted &&
      this.#groups.length < slots &&
      this.#pending.length > 0;
    // A full write starts whenever a slot is free; a partial one (the timer, flush()) only when nothing
    // is in flight or it carries live batches: under load the groups fill by themselves, and small
    // groups would cost the store more requests for the same readings.
    const full = this.#writeFull();
    const start = force ? full || live || this.#groups.length === 0 : this.#retryDelayMs === 0 && full;
    if (canStart && start) {
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#startGroup();
      return;
    }
    // While stopping, stop() drives the writes itself (flush()).
    if (this.#pending.length > 0 && !this.#stalled && !this.#stopping)
      this.#timer ??= setTimeout(
        () => {
          this.#timer = undefined;
          this.#pump(true);
        },
        this.#retryDelayMs || (this.opts.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS),
      );
  }

  /**
   * Reports the holes the gateways no longer hold (integrity.ts `dueGaps`) once nothing can deliver them
   * any more: the backlog session connected and quiet for `backlogQuietMs`, nothing of it unwritten, no
   * write in progress (no write group starts while the report runs).
   */
  #maybeReportDue(): void {
    this.#dueWanted = false;
    if (this.#stopping || this.#dueReport !== undefined || !this.#integrity.gapsDue) return;
    const connected = this.opts.source ? this.opts.source.connected() : this.#backlog?.client.connected;
    if (!connected || this.#pending.some((b) => b.backlog)) return;
    if (Date.now() - this.#backlogActiveAt < (this.opts.backlogQuietMs ?? 5000)) return;
    if (this.#groups.length > 0) {
      // Under a steady load some write is always in flight: no new one starts until these have ended.
      this.#dueWanted = true;
      return;
    }
    this.#dueReport = (async () => {
      try {
        const findings = await this.#integrity.dueGaps(this.opts.store, this.#clock.now());
        if (findings.length > 0) await this.opts.store.writeFindings(findings);
        for (const f of findings) this.#raise(f);
      } catch (err) {
        this.#log.warn({ err: (err as Error).message }, 'reporting missing batches failed; retried');
      }
    })().finally(() => {
      this.#dueReport = undefined;
      this.#pump(false);
    });
  }

  /**
   * Starts a write of what is waiting now (one write's worth, when a group may start) and resolves
   * once it, and every write group in flight before it, has ended: stored and acknowledged, or failed
   * and put back for a retry (a store error is not thrown: the batches stay queued, unacknowledged).
   */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pump(true);
    return this.#idleAfterLast();
  }

  /** Resolves when the newest write group now in flight (and so every one before it) has ended. */
  #idleAfterLast(): Promise<void> {
    const last = this.#groups.at(-1);
    if (last) return last.ended;
    return this.#dueReport ?? Promise.resolve();
  }

  /** Takes one write's worth of the waiting batches, live ones first, and starts planning and writing it. */
  #startGroup(): void {
    // At most one write's worth: Mosquitto does not hold its in-flight window once PUBACKs flow (2.0.11
    // sent 200 unacknowledged messages after 9 acknowledgements; bench/), so after an outage the queue
    // can hold thousands of batches, and one write of them all exceeds InfluxDB's request size limit
    // (413) on every retry.
    const maxBatches = this.opts.maxPendingBatches ?? 16;
    const maxReadings = this.opts.maxPendingReadings ?? 10_000;
    // Live batches first, then a replayed backlog's, each in arrival order.
    if (this.#pending.some((b) => b.backlog))
      this.#pending = [...this.#pending.filter((b) => !b.backlog), ...this.#pending.filter((b) => b.backlog)];
    // A write with live batches takes only those (docs/delivery.md "Live writes during a backlog
    // drain"): it stays small, so the live wait is one small write, and the backlog keeps its slots.
    const limit = this.#pendingLive > 0 ? Math.min(maxBatches, this.#pendingLive) : maxBatches;
    let n = 0;
    let taken = 0;
    while (n < this.#pending.length && n < limit && taken < maxReadings) {
      taken += (this.#pending[n] as PendingBatch).batch.readings.length;
      n++;
    }
    const take = this.#pending.splice(0, n);
    this.#pendingReadings -= taken;
    for (const b of take) if (!b.backlog) this.#pendingLive--;
    const previous = this.#groups.at(-1);
    let written!: (ok: boolean) => void;
    const group: WriteGroup = {
      take,
      live: take.some((b) => !b.backlog),
      writing: true,
      plan: undefined,
      spans: undefined,
      written: new Promise<boolean>((r) => {
        written = r;
      }),
      ended: Promise.resolve(),
    };
    this.#groups.push(group);
    this.#planning = true;
    const ok = this.#writeGroup(group).then(
      (v) => v,
      () => false,
    );
    void ok.then((v) => {
      group.writing = false;
      written(v);
      // A written live group frees the live slot before it ends (see #pump).
      if (v && group.live) this.#pump(false);
    });
    group.ended = ok.then(async (v) => {
      await previous?.ended; // never rejects
      try {
        await this.#endGroup(group, v);
      } catch (err) {
        this.#log.error({ err: (err as Error).message }, 'ending a store write failed');
      }
    });
  }

  /**
   * Plans (after every plan before it, seeing them as committed) and writes one group: readings, then
   * findings, then the archive record (a crash in between leaves a batch unarchived and unacknowledged,
   * so its redelivery is written again, idempotent, rather than taken for a duplicate). A group that
   * would write a key an earlier group in flight writes too (an archive record replacing a planned one,
   * a finding id, readings of the same gateway and time span) waits until those have ended, so the
   * store ends up as one write after the other would leave it. Resolves true when written.
   */
  async #writeGroup(group: WriteGroup): Promise<boolean> {
    const store = this.opts.store;
    let plan: IntegrityPlan;
    let before: WriteGroup[] = [];
    try {
      await this.#metaWrites; // so a unit's catalogue is stored before its first readings
      // The groups still in flight before this one, all planned (plans are made one after another).
      before = this.#groups.slice(0, this.#groups.indexOf(group));
      plan = await this.#integrity.plan(
        group.take,
        store,
        this.#clock.now(),
        before.map((g) => g.plan as IntegrityPlan),
      );
    } catch (err) {
      this.#failed(group, err);
      return false;
    } finally {
      this.#planning = false;
    }
    group.plan = plan;
    group.spans = spansOf(plan);
    // The next group may be planned while this one is written.
    this.#pump(false);
    if (this.#stalled) return false; // an earlier group failed: this one is planned again anyway
    // A gap or broken link may be one a review at the end of an earlier group resolves: written after it.
    if (plan.findings.some(reviewedCode)) await Promise.all(before.map((g) => g.ended));
    else {
      const overlapping = before.filter(
        (g) => g.spans !== undefined && overlaps(g.spans, group.spans as Spans),
      );
      if (overlapping.length > 0) await Promise.all(overlapping.map((g) => g.written));
    }
    try {
      group.readings = await store.writeReadings(plan.rows);
      await store.writeFindings(plan.findings);
      await store.archiveBatches(plan.archive);
      // The broker (or the other transport) may forget them now: they are in the store. Only the store
      // acknowledgements to the gateways wait for the groups before this one (#endGroup).
      for (const b of group.take)
        if (!b.acked) {
          b.acked = true;
          b.ack();
        }
      this.#publishLive(plan);
      return true;
    } catch (err) {
      this.#failed(group, err);
      return false;
    }
  }

  /** A group's plan or write failed: no new group starts until every one in flight has ended (then a retry). */
  #failed(group: WriteGroup, err: unknown): void {
    this.#stalled = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.counters.storeErrors++;
    this.#retryDelayMs = Math.min(Math.max(this.#retryDelayMs * 2, 500), this.opts.maxRetryDelayMs ?? 30_000);
    this.#log.error(
      {
        err: (err as Error).message,
        batches: group.take.length,
        writesInFlight: this.#groups.length,
        retryInMs: this.#retryDelayMs,
      },
      'store write failed; batches kept unacknowledged for retry',
    );
  }

  /**
   * Ends a write group, in the order the groups were started. Written, and no group before it failed:
   * its plan is committed, its batches confirmed to their gateways (store ack), their findings raised,
   * reviews run. (PUBACK and live feed came once written, in #writeGroup.) Otherwise its batches go back to
   * the front of the queue, in their order, unacknowledged (written or not: the retry writes them again,
   * idempotent), and once the last group in flight has ended the retry is scheduled.
   */
  async #endGroup(group: WriteGroup, written: boolean): Promise<void> {
    this.#groups.shift();
    if (!written || this.#unwinding) {
      this.#unwinding = true;
      this.#requeue.push(...group.take);
      if (this.#groups.length === 0) {
        this.#pending = this.#requeue.concat(this.#pending);
        this.#pendingReadings += this.#requeue.reduce((n, b) => n + b.batch.readings.length, 0);
        this.#pendingLive += this.#requeue.filter((b) => !b.backlog).length;
        this.#requeue = [];
        this.#unwinding = false;
        this.#stalled = false;
        if (this.#dueWanted) this.#maybeReportDue();
        this.#pump(false); // the retry, after the backoff (retryDelayMs)
      }
      return;
    }
    const plan = group.plan as IntegrityPlan;
    this.#integrity.commit(plan);
    this.counters.storeWrites++;
    this.counters.readingsStored += group.readings ?? 0;
    this.counters.duplicates += plan.duplicates;
    this.counters.verificationFailures += plan.verificationFailures;
    if (!this.#stalled) this.#retryDelayMs = 0;
    for (const { item, finding } of plan.rejected) this.#deadLetterBatch(item, finding);
    this.#confirm(plan.confirmed);
    for (const f of plan.findings) this.#raise(f);
    await this.#reviewFindings();
    if (this.#dueWanted && this.#groups.length === 0) this.#maybeReportDue();
    this.#pump(false);
  }

  /**
   * Publishes a written group's trusted batches on the live feed at once, not at its in-order end: they
   * are in the store (committed), so a live reading need not wait for the backlog writes started before
   * it. Only the acknowledgements wait for those. A batch put back and written again is not published twice.
   */
  #publishLive(plan: IntegrityPlan): void {
    for (const b of plan.stored as PendingBatch[]) {
      if (b.published) continue;
      b.published = true;
      const stored: LiveBatch = {
        unitId: b.batch.unitId,
        gatewayId: b.batch.gatewayId,
        seq: b.batch.seq,
        readings: b.batch.readings,
      };
      this.opts.live?.publish(stored);
      if (this.opts.announceStored)
        this.#publish(liveTopic(this.#prefix, stored.unitId, stored.gatewayId), JSON.stringify(stored), 0);
    }
  }

  /**
   * Sole mode: resolves or updates the gap and broken-link findings that stored batches closed
   * (finding-lifecycle.ts); a store error leaves the review due for the next write. (A later group
   * that raises a gap or broken link writes its findings only after this, see {@link #writeGroup}.)
   */
  async #reviewFindings(): Promise<void> {
    for (const gw of this.#integrity.reviewsDue) {
      const [unitId, gatewayId] = gw.split('/') as [string, string];
      try {
        const review = await reviewGateway(this.opts.store, unitId, gatewayId, this.#clock.now());
        if (review.findings.length > 0) await this.opts.store.writeFindings(review.findings);
        this.#integrity.reviewed(gw, review.open);
        for (const f of review.findings) this.#raise(f);
      } catch (err) {
        this.#log.warn(
          { err: (err as Error).message, gateway: gw },
          'reviewing open findings failed; retried',
        );
      }
    }
  }

  #raise(f: Finding): void {
    this.counters.findingsRaised++;
    const level =
      f.state === 'resolved'
        ? 'info'
        : f.severity === 'critical' || f.severity === 'error'
          ? 'error'
          : 'warn';
    this.#log[level](
      { finding: f.code, id: f.id, unit: f.unitId, gateway: f.gatewayId, detail: f.detail },
      f.message.en,
    );
    this.#publish(this.findingsTopic, JSON.stringify(f), 1);
  }

  /**
   * Leaves the share group for good (decommissioning a member): unsubscribes from the shared data topic,
   * so the broker assigns this member nothing new, stores what its session still holds until no data
   * has arrived for `quietMs`, then stops. Without this, Mosquitto 2.0 keeps queueing a stopped
   * member's share in its persistent session (measured, docs/scale-out.md). Call after `start()`.
   * @throws MrvError `MRV_E_CONFIG` for a collector that is not in a share group
   */
  async leave(quietMs = 2000): Promise<void> {
    const group = this.opts.shareGroup;
    if (group === undefined || !this.#client)
      throw new MrvError('MRV_E_CONFIG', 'leave(): this collector is not a started member of a share group');
    await this.#client.unsubscribeAsync(`$share/${group}/${this.#prefix}/+/+/data`);
    await this.#backlog?.client.unsubscribeAsync(`$share/${group}/${this.#prefix}/+/+/backlog`);
    this.#lastDataAt = Date.now();
    while (Date.now() - this.#lastDataAt < quietMs || this.#pending.length > 0 || this.#busy)
      await new Promise((r) => setTimeout(r, 100));
    this.#log.info({ shareGroup: group, batches: this.counters.batches }, 'left the share group');
    await this.stop();
  }

  /** Readings received but not yet stored. */
  get pendingReadings(): number {
    return this.#pendingReadings;
  }

  /** Flushes what is waiting (one attempt per write, acknowledging what was written), then disconnects. */
  async stop(): Promise<void> {
    this.#stopping = true;
    // Another transport stops delivering first, so that what it holds can be written to the end.
    await this.opts.source?.stop();
    const errors = this.counters.storeErrors;
    await this.flush();
    // One flush writes at most one write's worth: go on while the writes succeed.
    while ((this.#pending.length > 0 || this.#busy) && this.counters.storeErrors === errors)
      await this.flush();
    // After a failure, the groups still in flight end (put back, unacknowledged) before the sessions close.
    while (this.#busy) await this.#idleAfterLast();
    await this.#metaWrites;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#auditTimer) clearTimeout(this.#auditTimer);
    this.#auditTimer = undefined;
    if (this.#dueTimer) clearInterval(this.#dueTimer);
    this.#dueTimer = undefined;
    await this.#auditing;
    if (this.opts.source && this.#sourceOpen) {
      await this.opts.source.close();
      this.#sourceOpen = false;
    }
    const sessions = [this.#main, this.#backlog].filter((x): x is Session => x !== undefined);
    this.#client = undefined;
    this.#main = undefined;
    this.#backlog = undefined;
    // A clean end lets the last PUBACKs leave; a dead broker must not hold the stop forever.
    await Promise.all(
      sessions.map(async ({ client }) => {
        const clean = client.connected
          ? await Promise.race([
              client.endAsync(false).then(() => true),
              new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref()),
            ])
          : false;
        if (!clean) await client.endAsync(true);
      }),
    );
    this.#stopped = true;
  }
}
