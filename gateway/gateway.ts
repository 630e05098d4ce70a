/**
 * The gateway: runs the drivers of one site, turns each poll cycle into one signed, hash-chained batch,
 * appends it to the store-and-forward log ({@link DiskLog}) and publishes it with QoS 1; keeps a
 * retained status (with an MQTT last will of `offline`) and a retained catalogue (`meta`, signed with the batch key) on the broker.
 *
 * Delivery (docs/delivery.md): a batch is published only after it is fsync'd in the log and released
 * only when a collector confirms it is stored (a store acknowledgement on `…/ack`,
 * core/schema/delivery.ts); the broker's PUBACK only paces sending. At most
 * `gateway.delivery.maxUnconfirmed` batches are out (handed to MQTT.js, or acknowledged by the broker
 * and unconfirmed, gateway/confirmations.ts); an unconfirmed batch is sent again after
 * `confirmTimeoutS` (doubling), after a reconnect, and when a collector asks on `_sync`. With
 * `release: broker` the PUBACK releases it, as before. The log's fdatasync is a group commit in the
 * background (DiskLog `groupCommit`): polling goes on meanwhile, and publishing follows the log's
 * `durableSeq`. At most `maxInFlight` batches are handed to MQTT.js at once; MQTT.js resends those
 * itself after a reconnect (before it reports `connect`), then this class continues with the next ones
 * from the log: in seq order, except that while more waits than the window holds (after an outage, or
 * a restart with a backlog) new batches go out ahead of the backlog on a quarter of the window
 * (gateway/send-order.ts), marked with `backlogFrom` (the oldest unconfirmed seq) so that the collector
 * waits for the older ones, while the backlog goes on the `backlog` topic (the collector's second
 * session). `seq`/`prevHash` continue from the log's head after a restart.
 *
 * Every poll cycle gets a seq, logged or not. A full log (its bound, or the disk: ENOSPC, a short
 * write) follows `bufferWhenFull`: `block` keeps the oldest batches and refuses the new one
 * (`batchesRefused`): its seq is skipped in the log (DiskLog `skip`, durable before anything else) and
 * the batch is published from memory when connected (`batchesFromMemory`), once, with no copy to send
 * again; `drop-oldest` deletes the oldest unsent batches (`batchesDropped`). Whatever may therefore
 * never arrive (refused, dropped, and torn or corrupt records found at open) is declared, signed, in
 * the `lost` field of every new batch until one of them is acknowledged (core/schema/wire.ts), so the
 * collector reports it as a gap with its cause, never as a broken chain. The status message
 * (`buffer.full`, `buffer.lost`), the counters (metrics `mrv_gateway_buffer_full`) and the log say so.
 */
import { createHash, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { MrvError } from '../core/errors.ts';
import { isMqttAuthRefusal, redactUrl } from '../core/mqtt-errors.ts';
import { canonicalJson } from '../core/schema/canonical.ts';
import { ackTopic, StoreAck, SyncRequest, syncTopic } from '../core/schema/delivery.ts';
import {
  type Batch,
  type BufferStatus,
  type ConfigChange,
  type GatewayStatus,
  type Reading,
  type TopicKind,
  topicFor,
} from '../core/schema/wire.ts';
import { parsePrivateKey, signMeta } from '../core/signing.ts';
import { type Clock, isoMs, systemClock } from '../core/time.ts';
import type { Driver } from '../drivers/types.ts';
import { Confirmations } from './confirmations.ts';
import { DiskLog } from './disk-log.ts';
import { type LoadedSite, siteDataDir, siteMeta } from './loaded-site.ts';
import { SendOrder } from './send-order.ts';

export { batchHash } from '../core/signing.ts';

/**
 * MQTT.js `servers` entries of broker URLs (host, port, protocol; the port defaults to the protocol's).
 * @throws MrvError `MRV_E_CONFIG` for a URL that does not parse
 */
function brokerServers(urls: string[]): NonNullable<IClientOptions['servers']> {
  const defaults: Record<string, number> = {
    mqtt: 1883,
    tcp: 1883,
    mqtts: 8883,
    ssl: 8883,
    ws: 80,
    wss: 443,
  };
  return urls.map((u) => {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new MrvError('MRV_E_CONFIG', `gateway.mqtt: "${redactUrl(u)}" is not a broker URL`);
    }
    const protocol = parsed.protocol.slice(0, -1) as 'mqtt' | 'mqtts' | 'tcp' | 'ssl' | 'ws' | 'wss';
    return { host: parsed.hostname, port: Number(parsed.port) || (defaults[protocol] ?? 1883), protocol };
  });
}

/** Options of {@link Gateway}. */
export interface GatewayOptions {
  site: LoadedSite;
  log: Logger;
  clock?: Clock;
  /** Overrides `gateway.mqtt.url` of the site file (e.g. the demo's embedded broker). */
  mqttUrl?: string;
  /** Overrides `gateway.bufferDir` (already resolved; `null` = memory only). */
  bufferDir?: string | null;
  /** Overrides `gateway.signingKeyFile` (already resolved; `null` = unsigned). */
  signingKeyFile?: string | null;
  /** Software version reported in the status message. */
  version?: string;
  /** Batches handed to MQTT.js before their PUBACK; default 64. */
  maxInFlight?: number;
  /** Status republish period while connected (ms); default 10 000. */
  statusIntervalMs?: number;
  /** MQTT reconnect period (ms); default 1000. */
  reconnectPeriodMs?: number;
  /**
   * Passed to drivers as their data folder (DriverContext `dataDir`); default the site's
   * `gateway.dataDir`, else the parent of `gateway.bufferDir` ({@link siteDataDir}).
   */
  dataDir?: string;
}

/** Counters exposed for status and metrics (flat numbers, read by ops/metrics.ts). */
export interface GatewayCounters {
  /** Batches appended to the log and handed on for publishing. */
  batchesPublished: number;
  /** Broker acknowledgements (PUBACK) received; under `delivery.release: store` they only pace sending. */
  batchesAcked: number;
  /** Batches a collector confirmed as stored (store acknowledgement), each counted once. */
  batchesConfirmed: number;
  /** Batches sent again because no collector confirmed them in time, after a reconnect or on a sync request. */
  batchesResent: number;
  /** Batches the broker took and no collector confirmed yet. */
  unconfirmed: number;
  readings: number;
  publishErrors: number;
  lastSeq: number;
  /** Batches in the log not yet released (not yet confirmed stored; the buffer depth). */
  inFlight: number;
  /** Bytes of the store-and-forward log. */
  bufferBytes: number;
  /** 1 while the log is full (DiskLog `full`: new batches refused under `block`, oldest dropped under `drop-oldest`). */
  bufferFull: number;
  /** Unsent batches deleted by the `drop-oldest` policy. */
  batchesDropped: number;
  /** Batches the log could not take (full, or a write error): seq skipped, declared lost. */
  batchesRefused: number;
  /** Of those, published from memory (connected at the time): they arrive unless the broker loses them. */
  batchesFromMemory: number;
  /** Seqs lost (refused, dropped, torn, corrupt) and still declared in every new batch. */
  lostBatches: number;
  /** Torn last records cut off when the log was opened (gateway killed mid-write). `corruptRecords`: bad regions found. */
  tornRecords: number;
  corruptRecords: number;
  /** Batches published again after a restart (unacknowledged in the log). */
  batchesReplayed: number;
}

/**
 * Now for delivery deadlines (confirmTimeoutS, the hole grace), ms of real time: the broker and the
 * collector answer in wall-clock time whatever the plant clock's speed (under `mrv demo --speed 2880`
 * a 30 s plant-time deadline is 10 ms of real time, and every batch was sent again, some of them late
 * enough to count as a replay).
 */
const deliveryNow = (): number => Date.now();

/** What {@link Gateway.reload} did: device ids added, removed and changed, and the running config hash. */
export type ReloadResult =
  | {
      state: 'reloaded' | 'unchanged';
      configHash: string;
      added: string[];
      removed: string[];
      changed: string[];
    }
  | { state: 'rejected'; reason: string; configHash: string };

/** SHA-256 hex of a device config's canonical JSON: what a reload compares. */
function configDigest(config: unknown): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex');
}

/** One gateway process's worth of work. Construct, then `start()`; `stop()` undoes it all. */
export class Gateway {
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #prefix: string;
  readonly #unitId: string;
  readonly #gatewayId: string;
  #client: MqttClient | undefined;
  /** The running site: the one given at construction, or the last one {@link Gateway.reload} took. */
  #site: LoadedSite;
  /** Running drivers by device id, with the canonical JSON of the config each was started with. */
  /** Running drivers by device id, with the SHA-256 of their config's canonical JSON (for reloads). */
  #drivers = new Map<string, { driver: Driver; config: string }>();
  /** The configuration change the next batch declares (signed, in the chain), set by a reload. */
  #configChange: ConfigChange | undefined;
  #diskLog: DiskLog | undefined;
  /** The log is on disk (a bufferDir): drivers get {@link DriverContext.durable}. */
  #durableLog = false;
  /** Drivers waiting for the log to hold a seq durably (DriverContext `durable`). */
  #durableWaiters: { seq: number; resolve: () => void }[] = [];
  #signingKey: ReturnType<typeof parsePrivateKey> | undefined;
  /** Which logged batch goes to MQTT.js next: in seq order, or new ones ahead of a backlog. */
  readonly #order: SendOrder;
  #replayUntil = 0;
  /** Release on a collector's store acknowledgement (default), or on the broker's PUBACK. */
  readonly #releaseOnStore: boolean;
  readonly #maxUnconfirmed: number;
  readonly #confirmations: Confirmations;
  #confirmTimer: NodeJS.Timeout | undefined;
  #connectedBefore = false;
  /** Whether "full" was last reported (log and status), see {@link Gateway.#syncFull}. */
  #reportedFull = false;
  #statusTimer: NodeJS.Timeout | undefined;
  #stopping = false;
  #canonicalScratch = Buffer.allocUnsafe(64 * 1024);
  #meta: string | undefined;
  /** The broker refused our credentials since the last successful connect (logged once per streak). */
  #refused = false;
  readonly counters: GatewayCounters = {
    batchesPublished: 0,
    batchesAcked: 0,
    batchesConfirmed: 0,
    batchesResent: 0,
    unconfirmed: 0,
    readings: 0,
    publishErrors: 0,
    lastSeq: 0,
    inFlight: 0,
    bufferBytes: 0,
    bufferFull: 0,
    batchesDropped: 0,
    batchesRefused: 0,
    batchesFromMemory: 0,
    lostBatches: 0,
    tornRecords: 0,
    corruptRecords: 0,
    batchesReplayed: 0,
  };

  constructor(private readonly opts: GatewayOptions) {
    this.#site = opts.site;
    this.#clock = opts.clock ?? systemClock;
    this.#log = opts.log.child({ module: 'gateway' });
    this.#prefix = opts.site.site.gateway.mqtt.topicPrefix;
    this.#unitId = opts.site.site.unit.id;
    this.#gatewayId = opts.site.site.gateway.id;
    this.#order = new SendOrder({ maxInFlight: opts.maxInFlight ?? 64 });
    const delivery = opts.site.site.gateway.delivery;
    this.#releaseOnStore = delivery.release === 'store';
    this.#maxUnconfirmed = delivery.maxUnconfirmed;
    this.#confirmations = new Confirmations({ timeoutMs: delivery.confirmTimeoutS * 1000 });
  }

  #topic(kind: TopicKind): string {
    return topicFor(this.#prefix, this.#unitId, this.#gatewayId, kind);
  }

  /** The store-and-forward log's state, as in the status message. */
  bufferStatus(): BufferStatus {
    const l = this.#diskLog;
    return {
      durable: l?.durable ?? false,
      pendingBatches: l?.pending ?? 0,
      unconfirmed: this.#confirmations.size,
      bytes: l?.bytes ?? 0,
      maxBytes: l?.maxBytes ?? this.#site.site.gateway.bufferMaxBytes,
      policy: l?.policy ?? this.#site.site.gateway.bufferWhenFull,
      full: this.counters.bufferFull === 1,
      droppedBatches: this.counters.batchesDropped,
      tornRecords: this.counters.tornRecords,
      corruptRecords: this.counters.corruptRecords,
      unloggedBatches: this.counters.batchesRefused,
      lost: l?.lost ?? [],
    };
  }

  #status(state: 'online' | 'offline'): GatewayStatus {
    this.#refreshCounters();
    return {
      v: 1,
      gatewayId: this.#gatewayId,
      state,
      at: isoMs(this.#clock.now()),
      ...(this.opts.version ? { version: this.opts.version } : {}),
      configHash: this.#site.configHash,
      bufferDepth: this.counters.inFlight,
      lastSeq: this.counters.lastSeq,
      buffer: this.bufferStatus(),
    };
  }

  #refreshCounters(): void {
    const l = this.#diskLog;
    if (!l) return;
    this.counters.inFlight = l.pending;
    this.counters.bufferBytes = l.bytes;
    this.counters.lastSeq = l.lastSeq;
    this.counters.batchesDropped = l.stats.droppedBatches;
    this.counters.tornRecords = l.stats.tornRecords;
    this.counters.corruptRecords = l.stats.corruptRecords;
    this.counters.unconfirmed = this.#confirmations.size;
    this.counters.batchesResent = this.#confirmations.resent;
    this.counters.bufferFull = l.full ? 1 : 0;
    this.counters.lostBatches = l.lost.reduce((n, r) => n + r.to - r.from + 1, 0);
  }

  #publishStatus(): void {
    const client = this.#client;
    if (!client?.connected) return;
    client.publish(this.#topic('status'), JSON.stringify(this.#status('online')), { qos: 1, retain: true });
  }

  /**
   * The retained catalogue's JSON, built once: the site does not change while the gateway runs, and for
   * 10 000 points it is ~0.5 MB after 10 000 zod parses, which every reconnect would otherwise repeat.
   */
  #metaJson(): string {
    if (this.#meta === undefined) {
      const meta = siteMeta(this.#site);
      // Signed with the batch key (issue 17): a collector with a key registry takes no other catalogue.
      this.#meta = JSON.stringify(
        this.#signingKey ? signMeta(meta, this.#signingKey, this.#clock.now()) : meta,
      );
    }
    return this.#meta;
  }

  #resolve(file: string): string {
    return path.resolve(path.dirname(this.#site.file), file);
  }

  /**
   * Opens the log (recovering after a crash), loads the signing key, connects to the broker (without
   * waiting for it: a dead broker must not stop polling) and starts every device.
   * @throws MrvError `MRV_E_BUFFER` when the log folder cannot be used, `MRV_E_KEY` for a bad key file,
   *   `MRV_E_CONFIG` for unreadable TLS files or an unset password variable
   */
  async start(): Promise<void> {
    const { site } = this.#site;
    const g = site.gateway;
    const m = g.mqtt;
    const keyFile =
      this.opts.signingKeyFile === undefined
        ? g.signingKeyFile && this.#resolve(g.signingKeyFile)
        : (this.opts.signingKeyFile ?? undefined);
    if (keyFile) this.#signingKey = loadSigningKey(keyFile);
    else this.#log.warn('no signing key (gateway.signingKeyFile): batches are published unsigned');

    const dir =
      this.opts.bufferDir === undefined
        ? g.bufferDir && this.#resolve(g.bufferDir)
        : (this.opts.bufferDir ?? undefined);
    if (!dir)
      this.#log.warn(
        'no buffer dir (gateway.bufferDir): batches waiting for the broker are held in memory only',
      );
    const diskLog = new DiskLog({
      dir,
      maxBytes: g.bufferMaxBytes,
      segmentBytes: g.bufferSegmentBytes,
      whenFull: g.bufferWhenFull,
      groupCommit: true,
      onDurable: (durableSeq) => {
        this.#pump();
        this.#releaseDurable(durableSeq);
      },
      log: this.#log.child({ module: 'gateway:buffer' }),
    });
    const report = diskLog.open();
    this.#diskLog = diskLog;
    this.#durableLog = !!dir;
    this.#order.skipTo(diskLog.firstAvailableSeq);
    this.#order.liveFrom(diskLog.lastSeq + 1);
    this.#replayUntil = diskLog.lastSeq;
    this.#refreshCounters();
    if (report.pending > 0)
      this.#log.info(
        { pending: report.pending, from: this.#order.nextBacklog, to: report.lastSeq },
        'replaying unacknowledged batches',
      );

    const will: GatewayStatus = {
      v: 1,
      gatewayId: this.#gatewayId,
      state: 'offline',
      configHash: this.#site.configHash,
    };
    const options: IClientOptions = {
      clientId: m.clientId ?? `mrv-gw-${this.#gatewayId}`,
      keepalive: m.keepaliveS,
      reconnectPeriod: this.opts.reconnectPeriodMs ?? 1000,
      connectTimeout: 10_000,
      will: {
        topic: this.#topic('status'),
        payload: Buffer.from(JSON.stringify(will)),
        qos: 1,
        retain: true,
      },
      // MQTT.js stops reconnecting for good after a CONNACK refusal (bad password, not authorized) unless
      // told otherwise; a gateway must keep retrying (batches wait in the log) so that an account fixed
      // on the broker takes effect without a visit to the plant.
      reconnectOnConnackError: true,
      // The subscriptions to store acknowledgements are made on every connect (below).
      resubscribe: false,
      // No cache of 65 536 pre-built two-byte packet-id buffers (mqtt-packet, ~7 MiB of heap held for
      // the process's life, bench/analysis.md "Gateway footprint"): a two-byte buffer per packet instead.
      writeCache: false,
      ...(m.username ? { username: m.username } : {}),
      ...readPassword(m),
      ...readTls(m, (f) => this.#resolve(f)),
    };
    const brokerUrl = this.opts.mqttUrl ?? m.url;
    const url = redactUrl(brokerUrl); // for logs: a password in the URL is never logged
    // Several listeners of one cluster (NATS, docs/scale-out.md): MQTT.js moves to the next on every
    // reconnect, round robin, starting with `url`.
    if (m.failoverUrls?.length) options.servers = brokerServers([brokerUrl, ...m.failoverUrls]);
    const client = mqtt.connect(brokerUrl, options);
    this.#client = client;
    client.on('connect', () => {
      this.#refused = false;
      this.#log.info({ url, pending: this.#diskLog?.pending }, 'connected to broker');
      if (this.#releaseOnStore) {
        client.subscribe({ [this.#ackTopic]: { qos: 1 }, [syncTopic(this.#prefix)]: { qos: 1 } }, (err) => {
          if (err)
            this.#log.error(
              { err: err.message },
              'cannot subscribe to store acknowledgements; batches stay in the log and are sent again',
            );
        });
        // A broker we reconnect to may have lost what it acknowledged (restarted without its state):
        // everything unconfirmed goes out again; the collector recognises what it already stored.
        if (this.#connectedBefore) this.#resend(this.#confirmations.takeAll(), 'reconnected');
      }
      this.#connectedBefore = true;
      client.publish(this.#topic('meta'), this.#metaJson(), { qos: 1, retain: true });
      this.#publishStatus();
      this.#pump();
    });
    client.on('message', (topic, payload) => this.#onControl(topic, payload));
    client.on('error', (err) => {
      if (!isMqttAuthRefusal(err)) {
        this.#log.warn({ err: err.message, url }, 'broker error');
        return;
      }
      // Said loudly once, then quietly on every retry until a connect succeeds.
      const fields = { err: err.message, code: (err as { code?: number }).code, url, username: m.username };
      if (this.#refused) this.#log.debug(fields, 'broker still refuses the credentials');
      else
        this.#log.error(
          { ...fields, pending: this.#diskLog?.pending },
          'broker refused the credentials: check gateway.mqtt.username and passwordEnv/passwordFile (or the broker account); batches wait in the log, retrying',
        );
      this.#refused = true;
    });
    client.on('offline', () =>
      this.#log.warn(
        { url, pending: this.#diskLog?.pending, durable: this.#diskLog?.durable },
        'broker offline; batches wait in the log',
      ),
    );
    this.#statusTimer = setInterval(() => this.#publishStatus(), this.opts.statusIntervalMs ?? 10_000);
    this.#statusTimer.unref();
    if (this.#releaseOnStore) {
      const every = Math.max(50, Math.min(1000, (site.gateway.delivery.confirmTimeoutS * 1000) / 4));
      this.#confirmTimer = setInterval(
        () => this.#resend(this.#confirmations.takeDue(deliveryNow()), 'not confirmed in time'),
        every,
      );
      this.#confirmTimer.unref();
    }
    for (const w of this.#site.warnings ?? []) this.#log.warn({ file: this.#site.file }, w);
    await this.#startDrivers();
    this.#log.info(
      {
        devices: this.#drivers.size,
        unit: this.#unitId,
        gateway: this.#gatewayId,
        lastSeq: diskLog.lastSeq,
        signed: !!this.#signingKey,
      },
      'gateway started',
    );
  }

  async #startDrivers(): Promise<void> {
    for (const d of this.#site.devices) await this.#startDriver(d);
  }

  /** Resolves once the log holds every batch made so far on disk (DriverContext `durable`). */
  #whenDurable(): Promise<void> {
    const log = this.#diskLog;
    if (!log || log.durableSeq >= log.lastSeq) return Promise.resolve();
    const seq = log.lastSeq;
    return new Promise((resolve) => this.#durableWaiters.push({ seq, resolve }));
  }

  #releaseDurable(durableSeq: number): void {
    if (this.#durableWaiters.length === 0) return;
    const due = this.#durableWaiters.filter((w) => w.seq <= durableSeq);
    this.#durableWaiters = this.#durableWaiters.filter((w) => w.seq > durableSeq);
    for (const w of due) w.resolve();
  }

  /** Starts one device's driver and keeps it under its id. */
  async #startDriver(d: LoadedSite['devices'][number]): Promise<void> {
    const dataDir = this.opts.dataDir ?? siteDataDir(this.#site);
    const driver = d.kind.create(d.config, {
      clock: this.#clock,
      log: this.#log.child({ module: `drivers:${d.kind.name}`, device: d.id }),
      ...(dataDir ? { dataDir } : {}),
      ...(this.#durableLog ? { durable: () => this.#whenDurable() } : {}),
    });
    // A hash, not the JSON: ~40 KiB per 625-point device kept for the gateway's life otherwise.
    this.#drivers.set(d.id, { driver, config: configDigest(d.config) });
    await driver.start((readings) => this.#onReadings(d.id, readings));
  }

  /**
   * Takes a new, already validated site file while running (SIGHUP or a changed file, issue 15 item 3):
   * devices whose configuration is unchanged keep polling without a gap; changed and removed devices
   * are stopped, changed and added ones started; the disk log, the seq and the chain go on. The next
   * batch declares the change (`config`, signed and chained: the collector records it as
   * `MRV_F_CONFIG_CHANGED`, so the evidence shows when the configuration changed) and the retained
   * catalogue (`meta`) is published again.
   * @returns what changed; `rejected` (and nothing changed) when the new file changes what only a
   *   restart may change: the unit, the gateway id, the MQTT connection, the log, the key or the delivery
   */
  async reload(next: LoadedSite): Promise<ReloadResult> {
    const before = this.#site;
    const a = before.site;
    const b = next.site;
    const needRestart: string[] = [];
    if (canonicalJson(a.unit) !== canonicalJson(b.unit)) needRestart.push('unit');
    for (const k of [
      'id',
      'mqtt',
      'bufferDir',
      'bufferMaxBytes',
      'bufferSegmentBytes',
      'bufferWhenFull',
      'signingKeyFile',
      'dataDir',
      'delivery',
    ] as const)
      if (canonicalJson(a.gateway[k] ?? null) !== canonicalJson(b.gateway[k] ?? null))
        needRestart.push(`gateway.${k}`);
    if (needRestart.length > 0)
      return {
        state: 'rejected',
        reason: `needs a restart to change: ${needRestart.join(', ')}`,
        configHash: before.configHash,
      };
    if (next.configHash === before.configHash)
      return { state: 'unchanged', configHash: before.configHash, added: [], removed: [], changed: [] };
    const nextById = new Map(next.devices.map((d) => [d.id, d]));
    const added: string[] = [];
    const removed: string[] = [];
    const changed: string[] = [];
    for (const [id, running] of this.#drivers) {
      const d = nextById.get(id);
      if (!d) removed.push(id);
      else if (configDigest(d.config) !== running.config) changed.push(id);
    }
    for (const d of next.devices) if (!this.#drivers.has(d.id)) added.push(d.id);
    // Stopped first, so that a device moved to another id never polls twice at once.
    for (const id of [...removed, ...changed]) {
      await this.#drivers.get(id)?.driver.stop();
      this.#drivers.delete(id);
    }
    this.#site = next;
    this.#meta = undefined;
    this.#configChange = { hash: next.configHash, previous: before.configHash, added, removed, changed };
    // Kept in the site file's order, so the status lists devices as the file does.
    const running = this.#drivers;
    this.#drivers = new Map();
    for (const d of next.devices) {
      const kept = running.get(d.id);
      if (kept) this.#drivers.set(d.id, kept);
      else await this.#startDriver(d);
    }
    const client = this.#client;
    if (client?.connected) {
      client.publish(this.#topic('meta'), this.#metaJson(), { qos: 1, retain: true });
      this.#publishStatus();
    }
    this.#log.info(
      { configHash: next.configHash, previous: before.configHash, added, removed, changed },
      'site file reloaded',
    );
    return { state: 'reloaded', configHash: next.configHash, added, removed, changed };
  }

  /**
   * Builds the next batch of the chain for one device's poll cycle, appends it to the log and
   * publishes. A batch the log cannot take still gets its seq (skipped in the log) and goes out from
   * memory when possible; the next batches declare it lost (see the file comment).
   */
  #onReadings(device: string, readings: Reading[]): void {
    const diskLog = this.#diskLog;
    if (!diskLog || readings.length === 0 || this.#stopping) return;
    const batch: Batch = {
      v: 1,
      unitId: this.#unitId,
      gatewayId: this.#gatewayId,
      seq: diskLog.lastSeq + 1,
      prevHash: diskLog.lastHash,
      sentAt: isoMs(this.#clock.now()),
      device,
      readings,
    };
    // Older batches still in the log may go out after this one (gateway/send-order.ts): say so, signed,
    // so that the collector waits for them instead of reporting a gap (core/schema/wire.ts).
    const held = diskLog.firstAvailableSeq;
    if (held < batch.seq) batch.backlogFrom = held;
    // What this gateway lost and has not yet had acknowledged in a declaring batch (wire.ts `lost`).
    const lost = diskLog.lost;
    if (lost.length > 0) batch.lost = lost;
    // The first batch after a reload says so, signed and in the chain (wire.ts `config`).
    if (this.#configChange) {
      batch.config = this.#configChange;
      this.#configChange = undefined;
    }
    // The canonical bytes once (canonicalBytes: the batch has no `sig` yet): the signature (signBatch)
    // and the chain hash (batchHash) both cover them. `sig` goes last, as in `{ ...batch, sig }`.
    const canonical = this.#canonicalBytes(canonicalJson(batch));
    if (this.#signingKey) batch.sig = sign(null, canonical, this.#signingKey).toString('base64');
    const hash = createHash('sha256').update(canonical).digest('hex');
    const json = JSON.stringify(batch);
    try {
      // The log encodes the JSON straight into its record; MQTT publishes the log's bytes (read()).
      diskLog.append(batch.seq, hash, json);
    } catch (err) {
      this.#unlogged(batch.seq, hash, json, err as Error);
      return;
    }
    this.#syncFull();
    this.#order.skipTo(diskLog.firstAvailableSeq);
    this.counters.batchesPublished++;
    this.counters.readings += readings.length;
    this.#refreshCounters();
    this.#pump();
  }

  /**
   * A batch the log refused: its seq is skipped in the log (durably, so no restart reuses it) and, if
   * that worked and the broker is connected, the batch is published from memory, once.
   */
  #unlogged(seq: number, hash: string, json: string, err: Error): void {
    const diskLog = this.#diskLog as DiskLog;
    const full = err instanceof MrvError && err.code === 'MRV_E_BUFFER_FULL';
    const kept = diskLog.skip(seq, hash, full ? 'buffer_full' : 'write_error');
    this.counters.batchesRefused++;
    const client = this.#client;
    const fromMemory = kept && client?.connected === true;
    if (fromMemory) {
      this.counters.batchesFromMemory++;
      this.counters.batchesPublished++;
      client.publish(this.#topic('data'), json, { qos: 1 }, (e) => {
        if (e) this.counters.publishErrors++;
      });
    }
    if (!full) this.counters.publishErrors++;
    const fields = { err: err.message, seq, fromMemory, policy: diskLog.policy };
    if (!this.#reportedFull || !full)
      this.#log.error(
        fields,
        fromMemory
          ? 'batch could not be logged: published from memory only, declared lost to the collector'
          : 'batch could not be logged and not published: declared lost to the collector',
      );
    else this.#log.debug(fields, 'batch could not be logged (log still full)');
    this.#refreshCounters();
    this.#syncFull();
    this.#pump(); // the skipped seq is settled in send order
  }

  /** Says once, in the log and the retained status, that the log became full or has room again. */
  #syncFull(): void {
    const l = this.#diskLog;
    if (!l || l.full === this.#reportedFull) return;
    this.#reportedFull = l.full;
    this.#refreshCounters();
    const fields = { bytes: l.bytes, maxBytes: l.maxBytes, policy: l.policy, lost: l.lost };
    if (!l.full) this.#log.warn(fields, 'store-and-forward log has room again');
    else if (l.policy === 'block')
      this.#log.error(
        fields,
        'store-and-forward log full (policy block): new batches are not logged, only published from memory while connected, and declared lost',
      );
    else
      this.#log.error(
        fields,
        'store-and-forward log full: oldest unsent batches dropped (policy drop-oldest)',
      );
    this.#publishStatus();
  }

  /**
   * The UTF-8 bytes of a canonical JSON string, in a buffer reused from batch to batch: they are only
   * signed and hashed, never kept, and a fresh ~64 KiB buffer per batch was external memory that V8
   * frees only at its next full collection (bench/ footprint, flat out).
   */
  #canonicalBytes(json: string): Buffer {
    const length = Buffer.byteLength(json, 'utf8');
    if (this.#canonicalScratch.length < length)
      this.#canonicalScratch = Buffer.allocUnsafe(
        Math.max(length, Math.ceil(this.#canonicalScratch.length * 1.5)),
      );
    this.#canonicalScratch.write(json, 0, length, 'utf8');
    return this.#canonicalScratch.subarray(0, length);
  }

  /** After an acknowledgement: when the log was full and has room again, says so (status, log). */
  #maybeResume(): void {
    if (!this.#stopping) this.#syncFull();
  }

  /**
   * Hands batches from the log to MQTT.js while connected, up to `maxInFlight`, in the order of
   * {@link SendOrder}: seq order, or after an outage new batches ahead of the backlog.
   */
  #pump(): void {
    const client = this.#client;
    const diskLog = this.#diskLog;
    if (!client || !diskLog || !client.connected || this.#stopping) return;
    const order = this.#order;
    order.skipTo(diskLog.firstAvailableSeq);
    // Only what is on disk: under group commit the newest appends wait for their fdatasync (onDurable).
    // Under release on store: at most maxUnconfirmed batches out (handed to MQTT.js, or taken by the
    // broker and not yet confirmed); the rest wait in the log, not in the broker's queue. New batches
    // going ahead of a backlog may use a quarter more, so that live data is not held behind a backlog
    // that waits for its confirmations; that bounds them too (a dead collector).
    const next = (): ReturnType<SendOrder['take']> => {
      if (!this.#releaseOnStore) return order.take(diskLog.durableSeq);
      const out = this.#confirmations.size + order.inFlight('backlog') + order.inFlight('live');
      const max = this.#maxUnconfirmed;
      if (out >= max + Math.ceil(max / 4)) return undefined;
      return order.take(diskLog.durableSeq, { backlog: out < max });
    };
    for (let n = next(); n; n = next()) {
      const { seq, lane } = n;
      // Confirmed meanwhile (a re-send overtaken by its first copy's confirmation), or dropped when full.
      const payload = diskLog.isReleased(seq) ? undefined : diskLog.read(seq);
      if (payload === undefined) {
        order.settled(seq, lane, true);
        continue;
      }
      if (seq <= this.#replayUntil) this.counters.batchesReplayed++;
      // While new batches go ahead, the backlog goes on its own topic: the collector takes it on a
      // session of its own, so the broker's queue of the backlog does not hold live batches back.
      const kind = order.backlogTopic(seq, lane) ? 'backlog' : 'data';
      client.publish(this.#topic(kind), payload, { qos: 1 }, (err) => {
        if (err) {
          // MQTT.js gave up on it (client ending): it stays in the log and goes out again.
          order.settled(seq, lane, false);
          this.counters.publishErrors++;
          if (!this.#stopping)
            this.#log.warn({ err: err.message, seq }, 'publish failed; batch stays in the log');
          return;
        }
        order.settled(seq, lane, true);
        this.counters.batchesAcked++;
        if (!this.#releaseOnStore) diskLog.ack(seq);
        else if (!diskLog.isReleased(seq)) this.#confirmations.published(seq, deliveryNow(), kind);
        this.#refreshCounters();
        this.#maybeResume();
        this.#pump();
      });
    }
  }

  get #ackTopic(): string {
    return ackTopic(this.#prefix, this.#unitId, this.#gatewayId);
  }

  /**
   * A store acknowledgement or a sync request (core/schema/delivery.ts). Anything that does not parse is
   * logged and ignored: it can only delay a release, never cause one.
   */
  #onControl(topic: string, payload: Buffer): void {
    const diskLog = this.#diskLog;
    if (!diskLog || this.#stopping) return;
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      this.#log.warn({ topic, bytes: payload.length }, 'control message is not JSON; ignored');
      return;
    }
    if (topic === this.#ackTopic) {
      const r = StoreAck.safeParse(json);
      if (!r.success || r.data.gatewayId !== this.#gatewayId) {
        this.#log.warn(
          { topic, err: r.success ? `names gateway ${r.data.gatewayId}` : r.error.message.slice(0, 300) },
          'store acknowledgement rejected; ignored',
        );
        return;
      }
      let confirmed = 0;
      const now = deliveryNow();
      for (const [from, to] of r.data.stored) {
        // Only what the log still holds: a range cannot make us walk more than the log.
        for (let s = Math.max(from, diskLog.firstAvailableSeq); s <= Math.min(to, diskLog.lastSeq); s++) {
          this.#confirmations.confirmed(s, now);
          if (diskLog.isReleased(s)) continue;
          diskLog.ack(s);
          confirmed++;
        }
      }
      this.#confirmations.forgetBelow(diskLog.firstAvailableSeq);
      this.counters.batchesConfirmed += confirmed;
      this.#refreshCounters();
      this.#maybeResume();
      this.#pump();
      return;
    }
    const r = SyncRequest.safeParse(json);
    if (!r.success) {
      this.#log.warn({ topic, err: r.error.message.slice(0, 300) }, 'sync request rejected; ignored');
      return;
    }
    this.#resend(this.#confirmations.takeAll(), `collector ${r.data.collector} lost its session`);
  }

  /** Hands unconfirmed batches to the send order again (gateway/confirmations.ts). */
  #resend(seqs: number[], why: string): void {
    if (seqs.length === 0) return;
    this.#log.warn(
      { batches: seqs.length, from: seqs[0], to: seqs.at(-1), why },
      'batches the broker took are not confirmed stored; sending them again',
    );
    this.#order.requeue(seqs);
    this.#refreshCounters();
    this.#pump();
  }

  /** Current driver states by device id. */
  deviceStatus(): Record<string, ReturnType<Driver['status']>> {
    return Object.fromEntries([...this.#drivers].map(([id, d]) => [id, d.driver.status()]));
  }

  /**
   * Stops the drivers, waits up to `drainMs` (default 2 s) until every logged batch is acknowledged,
   * publishes `offline` (retained), disconnects and closes the log. Unacknowledged batches stay in the
   * log for the next start.
   */
  async stop(drainMs = 2000): Promise<void> {
    await Promise.all([...this.#drivers.values()].map((d) => d.driver.stop()));
    this.#drivers.clear();
    if (this.#statusTimer) clearInterval(this.#statusTimer);
    this.#statusTimer = undefined;
    const client = this.#client;
    if (client?.connected) {
      const deadline = Date.now() + drainMs;
      // Until the log is empty (the newest appends still wait for their background fdatasync, then
      // go out through onDurable) or the time is up: what is left stays in the log for the next start.
      const unsent = () =>
        this.#order.inFlight('backlog') + this.#order.inFlight('live') > 0 ||
        (this.#diskLog?.pending ?? 0) > 0;
      while (unsent() && Date.now() < deadline && client.connected)
        await new Promise((r) => setTimeout(r, 20));
      await new Promise<void>((resolve) => {
        client.publish(
          this.#topic('status'),
          JSON.stringify(this.#status('offline')),
          { qos: 1, retain: true },
          () => resolve(),
        );
        setTimeout(resolve, 1000).unref();
      });
    }
    this.#stopping = true;
    if (this.#confirmTimer) clearInterval(this.#confirmTimer);
    this.#confirmTimer = undefined;
    this.#client = undefined;
    if (client) {
      // Clean (DISCONNECT, so the broker does not publish the last will over our `offline`) when the
      // broker answers; forced after 2 s: the log keeps whatever is unacknowledged.
      const clean = client.connected
        ? await Promise.race([
            client.endAsync(false).then(() => true),
            new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref()),
          ])
        : false;
      if (!clean) await client.endAsync(true);
    }
    this.#diskLog?.close();
  }
}

function loadSigningKey(file: string): ReturnType<typeof parsePrivateKey> {
  try {
    return parsePrivateKey(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new MrvError(
      'MRV_E_KEY',
      `gateway.signingKeyFile ${file}: ${(err as Error).message}`,
      { file },
      { cause: err },
    );
  }
}

function readPassword(m: { passwordEnv?: string | undefined; passwordFile?: string | undefined }): {
  password?: string;
} {
  if (m.passwordEnv) {
    const v = process.env[m.passwordEnv];
    if (v === undefined)
      throw new MrvError(
        'MRV_E_CONFIG',
        `gateway.mqtt.passwordEnv: environment variable ${m.passwordEnv} is not set`,
      );
    return { password: v };
  }
  if (m.passwordFile) {
    try {
      return { password: readFileSync(m.passwordFile, 'utf8').trim() };
    } catch (err) {
      throw new MrvError(
        'MRV_E_CONFIG',
        `gateway.mqtt.passwordFile: cannot read ${m.passwordFile}: ${(err as Error).message}`,
      );
    }
  }
  return {};
}

/**
 * TLS options for MQTT.js from the site's `caFile`, `certFile`, `keyFile` (PEM files, resolved against
 * the site file's folder). Contents are never logged.
 * @throws MrvError `MRV_E_CONFIG` naming the unreadable file
 */
export function readTls(
  m: { caFile?: string | undefined; certFile?: string | undefined; keyFile?: string | undefined },
  resolve: (f: string) => string = (f) => f,
): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  const out: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  for (const [field, opt] of [
    ['caFile', 'ca'],
    ['certFile', 'cert'],
    ['keyFile', 'key'],
  ] as const) {
    const f = m[field];
    if (!f) continue;
    try {
      out[opt] = readFileSync(resolve(f));
    } catch (err) {
      throw new MrvError(
        'MRV_E_CONFIG',
        `gateway.mqtt.${field}: cannot read ${f}: ${(err as Error).message}`,
      );
    }
  }
  return out;
}
