/**
 * The gateway: runs the drivers of one site, turns each poll cycle into one hash-chained batch and
 * publishes it with QoS 1; keeps a retained status (with an MQTT last will of `offline`) and a
 * retained catalogue (`meta`) on the broker (DESIGN.md §4).
 *
 * Store-and-forward on disk and signatures arrive with the store-and-forward issue; until then
 * batches that wait for a broker are held by MQTT.js in memory (its outgoing store) and are lost if
 * the gateway process dies. `seq` and `prevHash` are already computed, so the collector can detect
 * such a gap.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { canonicalBytes } from '../core/schema/canonical.ts';
import { type Batch, type GatewayStatus, GENESIS_HASH, type Reading, topicFor } from '../core/schema/wire.ts';
import { type Clock, isoMs, systemClock } from '../core/time.ts';
import type { Driver } from '../drivers/types.ts';
import { type LoadedSite, siteMeta } from './config.ts';

/** SHA-256 (hex) of a batch's canonical bytes: the `prevHash` of the batch after it. */
export function batchHash(batch: Batch): string {
  return createHash('sha256').update(canonicalBytes(batch)).digest('hex');
}

/** Options of {@link Gateway}. */
export interface GatewayOptions {
  site: LoadedSite;
  log: Logger;
  clock?: Clock;
  /** Overrides `gateway.mqtt.url` of the site file (e.g. the demo's embedded broker). */
  mqttUrl?: string;
  /** Software version reported in the status message. */
  version?: string;
}

/** Counters exposed for status and metrics. */
export interface GatewayCounters {
  batchesPublished: number;
  batchesAcked: number;
  readings: number;
  publishErrors: number;
  lastSeq: number;
  /** Batches handed to MQTT but not yet acknowledged by the broker (PUBACK). */
  inFlight: number;
}

/** One gateway process's worth of work. Construct, then `start()`; `stop()` undoes it all. */
export class Gateway {
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #prefix: string;
  readonly #unitId: string;
  readonly #gatewayId: string;
  #client: MqttClient | undefined;
  #drivers: Driver[] = [];
  #seq = 0;
  #prevHash = GENESIS_HASH;
  readonly counters: GatewayCounters = {
    batchesPublished: 0,
    batchesAcked: 0,
    readings: 0,
    publishErrors: 0,
    lastSeq: 0,
    inFlight: 0,
  };

  constructor(private readonly opts: GatewayOptions) {
    this.#clock = opts.clock ?? systemClock;
    this.#log = opts.log.child({ module: 'gateway' });
    this.#prefix = opts.site.site.gateway.mqtt.topicPrefix;
    this.#unitId = opts.site.site.unit.id;
    this.#gatewayId = opts.site.site.gateway.id;
  }

  #topic(kind: 'data' | 'status' | 'meta'): string {
    return topicFor(this.#prefix, this.#unitId, this.#gatewayId, kind);
  }

  #status(state: 'online' | 'offline'): GatewayStatus {
    return {
      v: 1,
      gatewayId: this.#gatewayId,
      state,
      at: isoMs(this.#clock.now()),
      ...(this.opts.version ? { version: this.opts.version } : {}),
      configHash: this.opts.site.configHash,
      bufferDepth: this.counters.inFlight,
      lastSeq: this.#seq,
    };
  }

  /** Connects to the broker (without waiting for it: a dead broker must not stop polling) and starts every device. */
  async start(): Promise<void> {
    const { site } = this.opts.site;
    const m = site.gateway.mqtt;
    const will: GatewayStatus = {
      v: 1,
      gatewayId: this.#gatewayId,
      state: 'offline',
      configHash: this.opts.site.configHash,
    };
    const options: IClientOptions = {
      clientId: m.clientId ?? `mrv-gw-${this.#gatewayId}`,
      keepalive: m.keepaliveS,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      will: {
        topic: this.#topic('status'),
        payload: Buffer.from(JSON.stringify(will)),
        qos: 1,
        retain: true,
      },
      ...(m.username ? { username: m.username } : {}),
      ...readPassword(m),
    };
    const url = this.opts.mqttUrl ?? m.url;
    const client = mqtt.connect(url, options);
    this.#client = client;
    client.on('connect', () => {
      this.#log.info({ url }, 'connected to broker');
      client.publish(this.#topic('meta'), JSON.stringify(siteMeta(this.opts.site)), { qos: 1, retain: true });
      client.publish(this.#topic('status'), JSON.stringify(this.#status('online')), { qos: 1, retain: true });
    });
    client.on('error', (err) => this.#log.warn({ err: err.message, url }, 'broker error'));
    client.on('offline', () =>
      this.#log.warn({ url, inFlight: this.counters.inFlight }, 'broker offline; batches wait in memory'),
    );

    for (const d of this.opts.site.devices) {
      const driver = d.kind.create(d.config, {
        clock: this.#clock,
        log: this.#log.child({ module: `drivers:${d.kind.name}`, device: d.id }),
      });
      this.#drivers.push(driver);
      await driver.start((readings) => this.#publishBatch(d.id, readings));
    }
    this.#log.info(
      { devices: this.#drivers.length, unit: this.#unitId, gateway: this.#gatewayId },
      'gateway started',
    );
  }

  /** Builds the next batch of the chain for one device's poll cycle and publishes it with QoS 1. */
  #publishBatch(device: string, readings: Reading[]): void {
    const client = this.#client;
    if (!client || readings.length === 0) return;
    const batch: Batch = {
      v: 1,
      unitId: this.#unitId,
      gatewayId: this.#gatewayId,
      seq: ++this.#seq,
      prevHash: this.#prevHash,
      sentAt: isoMs(this.#clock.now()),
      device,
      readings,
    };
    this.#prevHash = batchHash(batch);
    this.counters.batchesPublished++;
    this.counters.readings += readings.length;
    this.counters.lastSeq = batch.seq;
    this.counters.inFlight++;
    client.publish(this.#topic('data'), JSON.stringify(batch), { qos: 1 }, (err) => {
      this.counters.inFlight--;
      if (err) {
        this.counters.publishErrors++;
        this.#log.error({ err: err.message, seq: batch.seq }, 'publish failed');
      } else this.counters.batchesAcked++;
    });
  }

  /** Current driver states by device id. */
  deviceStatus(): Record<string, ReturnType<Driver['status']>> {
    return Object.fromEntries(
      this.#drivers.map((d, i) => [this.opts.site.devices[i]?.id ?? String(i), d.status()]),
    );
  }

  /** Stops the drivers, publishes `offline` (retained) and disconnects, waiting up to 2 s for in-flight batches. */
  async stop(): Promise<void> {
    await Promise.all(this.#drivers.map((d) => d.stop()));
    this.#drivers = [];
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    if (client.connected) {
      await new Promise<void>((resolve) => {
        client.publish(
          this.#topic('status'),
          JSON.stringify(this.#status('offline')),
          { qos: 1, retain: true },
          () => resolve(),
        );
        setTimeout(resolve, 2000).unref();
      });
    }
    // A clean end waits for in-flight QoS 1 messages; with no broker it would wait forever.
    await client.endAsync(!client.connected);
  }
}

function readPassword(m: { passwordEnv?: string | undefined; passwordFile?: string | undefined }): {
  password?: string;
} {
  if (m.passwordEnv) {
    const v = process.env[m.passwordEnv];
    if (v === undefined)
      throw new Error(`gateway.mqtt.passwordEnv: environment variable ${m.passwordEnv} is not set`);
    return { password: v };
  }
  if (m.passwordFile) return { password: readFileSync(m.passwordFile, 'utf8').trim() };
  return {};
}
