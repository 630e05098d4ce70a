/**
 * NATS JetStream as the collector's transport (docs/scale-out.md, issue 14): the gateways keep speaking
 * MQTT, to the MQTT listener of any node of a nats-server cluster; their batches land in a replicated
 * stream (collector/nats-streams.ts) and every collector takes from ONE durable pull consumer, so
 * each batch goes to one member at a time (work-queue semantics). A batch is acknowledged (`ack`) only
 * after its store write; one a member took and never acknowledged (killed, partitioned) is delivered
 * again to any member after the consumer's `ack_wait`. While a write is held up (store outage) the
 * member tells the server it is still working on what it holds (`working()`, every third of
 * `ack_wait`), so a slow store does not turn into redeliveries.
 *
 * Catalogues (`meta`) and statuses come from the gateway stream with an ordered consumer per member,
 * starting at the last message of every subject (as MQTT's retained messages would). The collector's own
 * messages go out as core NATS publishes on the subjects the gateways' MQTT subscriptions map to: a
 * store acknowledgement `{prefix}.{unit}.{gateway}.ack` reaches a gateway connected to any node. One
 * that misses it (reconnecting) re-sends the batch after its confirmation timeout; the collector
 * recognises it as stored and acknowledges it again.
 */
import { hostname } from 'node:os';
import {
  type ConnectionOptions,
  type ConsumerMessages,
  connect,
  DeliverPolicy,
  Events,
  type JsMsg,
  type NatsConnection,
} from 'nats';
import type { Logger } from 'pino';
import { MrvError } from '../core/errors.ts';
import { DEFAULT_TOPIC_PREFIX } from '../core/schema/wire.ts';
import {
  DEFAULT_BATCH_STREAM,
  DEFAULT_CONSUMER,
  DEFAULT_GATEWAY_STREAM,
  ensureStreams,
  subjectToTopic,
  topicToSubject,
} from './nats-streams.ts';
import type { MessageSource, SourceSink } from './source.ts';

/** Default `ack_wait` of the shared consumer: 30 s. */
export const DEFAULT_NATS_ACK_WAIT_MS = 30_000;
/** Default `max_ack_pending` of the shared consumer (all members together). */
export const DEFAULT_NATS_MAX_ACK_PENDING = 512;

/** Options of {@link NatsSource}. */
export interface NatsSourceOptions {
  /** Client URLs of the cluster's nodes, e.g. `['nats://10.0.0.1:4222', ...]`; the client fails over between them. */
  servers: string[];
  log: Logger;
  /** MQTT topic prefix of the gateways (default `mrv/v1`). */
  topicPrefix?: string;
  /** Connection name shown by the server (`/connz`); default `mrv-collector@{host}`. */
  name?: string;
  /** Replicas of the streams when this collector makes them (default 3). */
  replicas?: number;
  /** See {@link StreamSettings} (collector/nats-streams.ts). Defaults {@link DEFAULT_NATS_ACK_WAIT_MS}, {@link DEFAULT_NATS_MAX_ACK_PENDING}. */
  ackWaitMs?: number;
  maxAckPending?: number;
  /** Names of the streams and of the shared consumer (defaults `MRV_BATCHES`, `MRV_GATEWAYS`, `mrv-collectors`). */
  batchStream?: string;
  gatewayStream?: string;
  consumer?: string;
  /** Credentials and TLS (PEM text), as the cluster's `authorization` and `tls` blocks ask. */
  username?: string;
  password?: string;
  ca?: string;
  cert?: string;
  key?: string;
}

/** Messages pulled per request: the client's buffer, not the bound (that is `max_ack_pending`). */
const PULL_BATCH = 64;

/** JetStream consumption for {@link Collector} (see the file comment). Construct; the collector starts and stops it. */
export class NatsSource implements MessageSource {
  readonly kind = 'nats';
  readonly shared = true;
  #needsSync = false;
  readonly #log: Logger;
  readonly #prefix: string;
  #nc: NatsConnection | undefined;
  #connected = false;
  /** Set by close(): nothing is acknowledged any more. */
  #stopping = false;
  /** Set by stop(): the consumers are being closed on purpose. */
  #paused = false;
  #batches: ConsumerMessages | undefined;
  #gateways: ConsumerMessages | undefined;
  /** Delivered and not yet acknowledged, for `working()`. */
  readonly #held = new Set<JsMsg>();
  #workingTimer: NodeJS.Timeout | undefined;
  #loops: Promise<void>[] = [];

  constructor(private readonly opts: NatsSourceOptions) {
    if (opts.servers.length === 0)
      throw new MrvError('MRV_E_CONFIG', '--nats-servers: give at least one nats:// URL');
    this.#log = opts.log.child({ module: 'collector:nats' });
    this.#prefix = opts.topicPrefix ?? DEFAULT_TOPIC_PREFIX;
  }

  get needsSync(): boolean {
    return this.#needsSync;
  }

  connected(): boolean {
    return this.#connected && this.#batches !== undefined;
  }

  /**
   * Connects (waiting for a cluster that is not up yet), makes or checks the streams and the consumer,
   * and starts consuming.
   * @throws MrvError `MRV_E_CONFIG` for refused credentials or replicas the cluster cannot place
   */
  async start(sink: SourceSink): Promise<void> {
    const o = this.opts;
    const options: ConnectionOptions = {
      servers: o.servers,
      name: o.name ?? `mrv-collector@${hostname()}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      waitOnFirstConnect: true,
      ...(o.username !== undefined ? { user: o.username } : {}),
      ...(o.password !== undefined ? { pass: o.password } : {}),
      ...(o.ca || o.cert
        ? {
            tls: {
              ...(o.ca ? { ca: o.ca } : {}),
              ...(o.cert ? { cert: o.cert } : {}),
              ...(o.key ? { key: o.key } : {}),
            },
          }
        : {}),
    };
    let nc: NatsConnection;
    try {
      nc = await connect(options);
    } catch (err) {
      throw new MrvError(
        'MRV_E_CONFIG',
        `NATS ${o.servers.join(',')}: ${(err as Error).message} (check --nats-servers, --username/--password-file)`,
        { servers: o.servers },
        { cause: err },
      );
    }
    this.#nc = nc;
    this.#connected = true;
    void this.#watchStatus(nc, sink);
    const ackWaitMs = o.ackWaitMs ?? DEFAULT_NATS_ACK_WAIT_MS;
    const settings = {
      topicPrefix: this.#prefix,
      batchStream: o.batchStream ?? DEFAULT_BATCH_STREAM,
      gatewayStream: o.gatewayStream ?? DEFAULT_GATEWAY_STREAM,
      consumer: o.consumer ?? DEFAULT_CONSUMER,
      replicas: o.replicas ?? 3,
      ackWaitMs,
      maxAckPending: o.maxAckPending ?? DEFAULT_NATS_MAX_ACK_PENDING,
    };
    const report = await ensureStreams(await nc.jetstreamManager(), settings);
    for (const w of report.warnings) this.#log.warn({ stream: settings.batchStream }, w);
    this.#needsSync = report.created;
    const js = nc.jetstream();
    // Catalogues first, so that a unit's point table is known before its first batch arrives.
    // No filter: the stream holds only catalogues and statuses (nats-server 2.9 takes one filter subject).
    const gateways = await js.consumers.get(settings.gatewayStream, {
      deliver_policy: DeliverPolicy.LastPerSubject,
    });
    this.#gateways = await gateways.consume({
      callback: (m) => sink.message(subjectToTopic(m.subject), Buffer.from(m.data), () => {}),
    });
    const batches = await js.consumers.get(settings.batchStream, settings.consumer);
    this.#batches = await batches.consume({
      max_messages: PULL_BATCH,
      callback: (m) => {
        this.#held.add(m);
        sink.message(subjectToTopic(m.subject), Buffer.from(m.data), () => {
          if (!this.#held.delete(m) || this.#stopping) return;
          m.ack();
        });
      },
    });
    this.#loops = [this.#batches, this.#gateways].map((c) =>
      c.closed().then(
        (err) => {
          if (err && !this.#paused) this.#log.error({ err: err.message }, 'NATS consumer ended');
        },
        () => {},
      ),
    );
    this.#workingTimer = setInterval(
      () => {
        for (const m of this.#held) m.working();
      },
      Math.max(1000, Math.floor(ackWaitMs / 3)),
    );
    this.#workingTimer.unref();
    this.#log.info(
      {
        servers: o.servers,
        stream: settings.batchStream,
        consumer: settings.consumer,
        replicas: settings.replicas,
        created: report.created,
      },
      'consuming the JetStream batch stream',
    );
  }

  async #watchStatus(nc: NatsConnection, sink: SourceSink): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === Events.Disconnect) {
        this.#connected = false;
        this.#log.warn({ server: s.data }, 'NATS server lost; reconnecting to another node');
      } else if (s.type === Events.Reconnect) {
        this.#connected = true;
        this.#log.info({ server: s.data }, 'NATS reconnected');
        sink.connected();
      } else if (s.type === Events.Error) this.#log.warn({ err: String(s.data) }, 'NATS error');
    }
  }

  publish(topic: string, payload: string): void {
    const nc = this.#nc;
    if (!nc || nc.isClosed()) return;
    try {
      nc.publish(topicToSubject(topic), payload);
    } catch (err) {
      this.#log.warn({ err: (err as Error).message, topic }, 'NATS publish failed');
    }
  }

  /**
   * Stops consuming (acknowledgements still go out); what was pulled and is not delivered yet, and what
   * is never acknowledged, is delivered again to a member after `ack_wait`.
   */
  async stop(): Promise<void> {
    this.#paused = true;
    await Promise.all([this.#batches?.close(), this.#gateways?.close()].map((p) => p?.catch(() => {})));
    await Promise.all(this.#loops);
    this.#batches = undefined;
    this.#gateways = undefined;
  }

  /** Disconnects (after {@link stop}): pending acknowledgements and publishes are flushed first. */
  async close(): Promise<void> {
    await this.stop();
    this.#stopping = true;
    if (this.#workingTimer) clearInterval(this.#workingTimer);
    this.#workingTimer = undefined;
    this.#held.clear();
    const nc = this.#nc;
    this.#nc = undefined;
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc.close());
  }
}
