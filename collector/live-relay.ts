/**
 * The live feed across processes, for scaled deployments (docs/scale-out.md): collectors that run apart
 * from the server (`mrv collector --live-topic`, e.g. members of a share group) announce every batch
 * they have stored on `{prefix}/_stored/{unitId}/{gatewayId}/live` (QoS 0, not retained), and the server
 * (`mrv server --live-mqtt URL`) subscribes there and feeds its {@link LiveHub}, storing nothing. The
 * promise of collector/live.ts holds across processes: only stored batches are announced.
 *
 * QoS 0 on purpose: the live page is a view, a lost announcement is a missing dot on a chart, never a
 * missing reading (the series route reads the store), and a slow server must not make the broker queue.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { z } from 'zod';
import { DEFAULT_TOPIC_PREFIX, Identifier, Reading } from '../core/schema/wire.ts';
import type { LiveBatch, LiveHub } from './live.ts';

/** A stored batch as announced on the live topic. */
export const LiveAnnouncement = z
  .object({
    unitId: Identifier,
    gatewayId: Identifier,
    seq: z.number().int().positive(),
    readings: z.array(Reading),
  })
  .strict();

/** The topic a collector announces a stored batch of `unitId`/`gatewayId` on. */
export function liveTopic(prefix: string, unitId: string, gatewayId: string): string {
  return `${prefix}/_stored/${unitId}/${gatewayId}/live`;
}

/** Options of {@link LiveRelay}. */
export interface LiveRelayOptions {
  /** Broker URL (credentials may be in it; never logged). */
  url: string;
  live: LiveHub;
  log: Logger;
  topicPrefix?: string;
  /** Default `mrv-live-<pid>`: a clean session, nothing is queued for it. */
  clientId?: string;
  /** The account (a `live` role on the broker) and TLS files as PEM buffers. */
  username?: string;
  password?: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/**
 * Subscribes to the collectors' announcements and publishes them to a {@link LiveHub}. Malformed
 * announcements are counted and skipped (they come from our own collectors, so one means a version
 * mismatch: logged once per minute at most).
 */
export class LiveRelay {
  readonly counters = { announcements: 0, invalid: 0 };
  #client: MqttClient | undefined;
  #lastWarn = 0;

  constructor(private readonly opts: LiveRelayOptions) {}

  /** Connects (waiting for a broker that is not there yet) and subscribes. */
  async start(): Promise<void> {
    const prefix = this.opts.topicPrefix ?? DEFAULT_TOPIC_PREFIX;
    const client = mqtt.connect(this.opts.url, {
      clientId: this.opts.clientId ?? `mrv-live-${process.pid}`,
      clean: true,
      reconnectPeriod: 1000,
      ...(this.opts.username !== undefined ? { username: this.opts.username } : {}),
      ...(this.opts.password !== undefined ? { password: this.opts.password } : {}),
      ...(this.opts.ca ? { ca: this.opts.ca } : {}),
      ...(this.opts.cert ? { cert: this.opts.cert } : {}),
      ...(this.opts.key ? { key: this.opts.key } : {}),
    });
    this.#client = client;
    client.on('error', (err) => this.opts.log.warn({ err: err.message }, 'live relay: broker error'));
    client.on('message', (_topic, payload) => this.#onMessage(payload));
    // resubscribe (MQTT.js default) renews the subscription after every reconnect of the clean session.
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    await client.subscribeAsync(`${prefix}/_stored/+/+/live`, { qos: 0 });
    this.opts.log.info({ prefix }, "live relay subscribed to the collectors' stored-batch announcements");
  }

  #onMessage(payload: Buffer): void {
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      json = undefined; // fails the schema below
    }
    const parsed = LiveAnnouncement.safeParse(json);
    if (!parsed.success) {
      this.counters.invalid++;
      if (Date.now() - this.#lastWarn > 60_000) {
        this.#lastWarn = Date.now();
        this.opts.log.warn({ invalid: this.counters.invalid }, 'live relay: malformed announcement skipped');
      }
      return;
    }
    this.counters.announcements++;
    this.opts.live.publish(parsed.data as LiveBatch);
  }

  /** Disconnects. */
  async stop(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await client?.endAsync(true);
  }
}
