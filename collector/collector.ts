/**
 * The collector: subscribes to every gateway's data, status and meta topics, validates each payload
 * against the wire contract (core/schema), writes readings to a {@link TimeSeriesStore} in batches
 * and, once stored, publishes them to the live feed. A payload that is not valid JSON or does not
 * match the contract is counted, logged and republished to the dead-letter topic with its reason;
 * it never stops the collector. A store outage keeps readings in memory and retries; none is dropped.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { z } from 'zod';
import { Batch, DEFAULT_TOPIC_PREFIX, GatewayMeta, GatewayStatus, parseTopic } from '../core/schema/wire.ts';
import { type Clock, systemClock } from '../core/time.ts';
import type { LiveHub } from './live.ts';
import type { StoredReading, TimeSeriesStore } from './store.ts';

/** Payloads larger than this are rejected before parsing (4 MiB). */
export const MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;

/** Options of {@link Collector}. */
export interface CollectorOptions {
  /** Broker URL, e.g. mqtt://127.0.0.1:1883. */
  url: string;
  store: TimeSeriesStore;
  log: Logger;
  live?: LiveHub;
  clock?: Clock;
  topicPrefix?: string;
  clientId?: string;
  /** Readings wait at most this long before a store write (ms). Default 200. */
  flushIntervalMs?: number;
  /** A store write is started at once when this many readings wait. Default 5000. */
  maxPendingReadings?: number;
}

/** Counters exposed for status and metrics. */
export interface CollectorCounters {
  batches: number;
  readingsStored: number;
  invalidPayloads: number;
  storeWrites: number;
  storeErrors: number;
  metaMessages: number;
  statusMessages: number;
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

/** MQTT → validation → store → live feed. Construct, then `start()`; `stop()` flushes and disconnects. */
export class Collector {
  readonly counters: CollectorCounters = {
    batches: 0,
    readingsStored: 0,
    invalidPayloads: 0,
    storeWrites: 0,
    storeErrors: 0,
    metaMessages: 0,
    statusMessages: 0,
  };
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #prefix: string;
  #client: MqttClient | undefined;
  /** point → device, per `${unitId}/${gatewayId}`, from the gateways' retained catalogues. */
  readonly #devices = new Map<string, Map<string, string>>();
  #pending: { unitId: string; batch: Batch; rows: StoredReading[] }[] = [];
  #pendingReadings = 0;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #retryDelayMs = 0;
  #metaWrites: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: CollectorOptions) {
    this.#log = opts.log.child({ module: 'collector' });
    this.#clock = opts.clock ?? systemClock;
    this.#prefix = opts.topicPrefix ?? DEFAULT_TOPIC_PREFIX;
  }

  /** The dead-letter topic. */
  get deadLetterTopic(): string {
    return `${this.#prefix}/_deadletter`;
  }

  /** Connects and subscribes; resolves once the subscriptions are granted. */
  async start(): Promise<void> {
    const client = mqtt.connect(this.opts.url, {
      clientId: this.opts.clientId ?? `mrv-collector-${process.pid}`,
      reconnectPeriod: 1000,
    });
    this.#client = client;
    client.on('error', (err) => this.#log.warn({ err: err.message }, 'broker error'));
    client.on('message', (topic, payload) => this.#onMessage(topic, payload));
    // A broker that is not there yet is waited for (MQTT.js keeps reconnecting and, by default,
    // resubscribes after every reconnect), so start order between broker and collector is free.
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    const p = this.#prefix;
    await client.subscribeAsync({
      [`${p}/+/+/data`]: { qos: 1 },
      [`${p}/+/+/status`]: { qos: 1 },
      [`${p}/+/+/meta`]: { qos: 1 },
    });
    this.#log.info({ url: this.opts.url, prefix: p }, 'collector subscribed');
  }

  #onMessage(topic: string, payload: Buffer): void {
    const t = parseTopic(this.#prefix, topic);
    if (!t) return; // our own dead-letter topic or a foreign topic under the prefix
    const reason = this.#accept(t, payload);
    if (reason !== undefined) this.#reject(topic, payload, reason);
  }

  /** Validates and takes one payload; returns why it was rejected, or undefined when taken. */
  #accept(t: NonNullable<ReturnType<typeof parseTopic>>, payload: Buffer): string | undefined {
    if (payload.length > MAX_PAYLOAD_BYTES)
      return `oversized: ${payload.length} bytes > ${MAX_PAYLOAD_BYTES}`;
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      return `not JSON: ${(err as Error).message}`;
    }
    if (t.kind === 'data') {
      const r = Batch.safeParse(json);
      if (!r.success) return `batch does not match the wire contract: ${z.prettifyError(r.error)}`;
      const batch = r.data;
      if (batch.unitId !== t.unitId || batch.gatewayId !== t.gatewayId)
        return `batch names unit ${batch.unitId} / gateway ${batch.gatewayId}, topic says ${t.unitId} / ${t.gatewayId}`;
      this.#enqueue(batch);
    } else if (t.kind === 'meta') {
      const r = GatewayMeta.safeParse(json);
      if (!r.success) return `meta does not match the wire contract: ${z.prettifyError(r.error)}`;
      this.counters.metaMessages++;
      this.#devices.set(`${t.unitId}/${t.gatewayId}`, new Map(r.data.points.map((pt) => [pt.id, pt.device])));
      this.#queueMetaWrite(() => this.opts.store.writeMeta(t.unitId, r.data), 'meta');
    } else {
      const r = GatewayStatus.safeParse(json);
      if (!r.success) return `status does not match the wire contract: ${z.prettifyError(r.error)}`;
      this.counters.statusMessages++;
      const at = this.#clock.now();
      this.#queueMetaWrite(() => this.opts.store.writeStatus(t.unitId, r.data, at), 'status');
    }
    return undefined;
  }

  /** Meta and status writes keep their arrival order and never overlap. */
  #queueMetaWrite(write: () => Promise<void>, what: string): void {
    this.#metaWrites = this.#metaWrites.then(write).catch((err: unknown) => {
      this.counters.storeErrors++;
      this.#log.error({ err: (err as Error).message }, `storing ${what} failed`);
    });
  }

  #reject(topic: string, payload: Buffer, reason: string): void {
    this.counters.invalidPayloads++;
    this.#log.warn({ topic, bytes: payload.length, reason: reason.slice(0, 500) }, 'payload rejected');
    const letter: DeadLetter = {
      topic,
      reason,
      receivedAt: new Date(this.#clock.now()).toISOString(),
      bytes: payload.length,
      payload: payload.toString('utf8').slice(0, 4096),
    };
    this.#client?.publish(this.deadLetterTopic, JSON.stringify(letter), { qos: 1 });
  }

  #enqueue(batch: Batch): void {
    const unitId = batch.unitId;
    const devices = this.#devices.get(`${unitId}/${batch.gatewayId}`);
    const rows: StoredReading[] = batch.readings.map((r) => ({
      unitId,
      gatewayId: batch.gatewayId,
      device: batch.device ?? devices?.get(r.point) ?? 'unknown',
      point: r.point,
      ...(r.meter ? { meter: r.meter } : {}),
      ts: Date.parse(r.ts),
      rxTs: Date.parse(r.rxTs),
      value: r.value,
      quality: r.quality,
      ...(r.reason ? { reason: r.reason } : {}),
      seq: batch.seq,
    }));
    this.#pending.push({ unitId, batch, rows });
    this.#pendingReadings += rows.length;
    this.counters.batches++;
    if (this.#pendingReadings >= (this.opts.maxPendingReadings ?? 5000)) void this.flush();
    else
      this.#timer ??= setTimeout(
        () => void this.flush(),
        this.#retryDelayMs || (this.opts.flushIntervalMs ?? 200),
      );
  }

  /** Writes every waiting reading now. On a store error the readings stay queued and a retry is scheduled. */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#flushing ??= this.#flushOnce().finally(() => {
      this.#flushing = undefined;
      if (this.#pending.length > 0 && !this.#timer)
        this.#timer = setTimeout(
          () => void this.flush(),
          this.#retryDelayMs || (this.opts.flushIntervalMs ?? 200),
        );
    });
    return this.#flushing;
  }

  async #flushOnce(): Promise<void> {
    if (this.#pending.length === 0) return;
    await this.#metaWrites; // so a unit's catalogue is stored before its first readings
    const take = this.#pending;
    this.#pending = [];
    this.#pendingReadings = 0;
    const rows = take.flatMap((b) => b.rows);
    try {
      const n = await this.opts.store.writeReadings(rows);
      this.counters.storeWrites++;
      this.counters.readingsStored += n;
      this.#retryDelayMs = 0;
    } catch (err) {
      this.counters.storeErrors++;
      this.#retryDelayMs = Math.min(Math.max(this.#retryDelayMs * 2, 500), 30_000);
      this.#log.error(
        { err: (err as Error).message, readings: rows.length, retryInMs: this.#retryDelayMs },
        'store write failed; readings kept for retry',
      );
      this.#pending = take.concat(this.#pending);
      this.#pendingReadings += rows.length;
      return;
    }
    for (const b of take)
      this.opts.live?.publish({
        unitId: b.unitId,
        gatewayId: b.batch.gatewayId,
        seq: b.batch.seq,
        readings: b.batch.readings,
      });
  }

  /** Readings received but not yet stored. */
  get pendingReadings(): number {
    return this.#pendingReadings;
  }

  /** Unsubscribes, flushes what is waiting (one attempt) and disconnects. */
  async stop(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client) await client.endAsync(true);
    await this.flush();
    await this.#metaWrites;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
