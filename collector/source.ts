/**
 * A second way into the collector's pipeline (collector/collector.ts): a {@link MessageSource} delivers
 * the gateways' messages under their MQTT topics (`{prefix}/{unit}/{gateway}/data|backlog|meta|status`)
 * with an acknowledgement to call once the message is stored, and carries the collector's own
 * messages (store acknowledgements, `_sync`, dead letters, findings, live announcements) back under
 * their MQTT topics. The collector validates, verifies, stores and acknowledges every message the same
 * way whichever source delivered it; MQTT (the default, one broker) is built into the collector, NATS
 * JetStream (a replicated cluster, docs/scale-out.md) is collector/nats-source.ts.
 */

/** What a {@link MessageSource} calls. */
export interface SourceSink {
  /**
   * One message under its MQTT topic. `ack` is called once, after the message is stored (or refused
   * for good, e.g. dead-lettered); never called = the source delivers it again later.
   */
  message(topic: string, payload: Buffer, ack: () => void): void;
  /** The source (re)connected: what it held back while away may arrive now. */
  connected(): void;
}

/** A transport the collector consumes instead of its own MQTT sessions (see the file comment). */
export interface MessageSource {
  /** For logs, e.g. `nats`. */
  readonly kind: string;
  /**
   * Several collectors may take from the same source, each a part of the batches: the collector then
   * verifies chains against the shared archive and runs the chain audit (integrity.ts shared mode).
   */
  readonly shared: boolean;
  /**
   * Connects, makes sure what it consumes exists, and starts delivering to `sink`; resolves once
   * messages can flow.
   * @throws MrvError `MRV_E_CONFIG` when the transport refuses the configuration (credentials, replicas)
   */
  start(sink: SourceSink): Promise<void>;
  /** Publishes one of the collector's messages (at least once where the transport can) under its MQTT topic. */
  publish(topic: string, payload: string): void;
  /** True while connected and consuming. */
  connected(): boolean;
  /**
   * Whether the collector should ask the gateways to send again what they hold unconfirmed
   * (`{prefix}/_sync`): true once after a start that found nothing queued for it (a stream made now).
   */
  readonly needsSync: boolean;
  /**
   * Stops delivering new messages; acknowledgements and publishes still go out (the collector stores
   * what it holds after this). Messages delivered and never acknowledged are delivered again later.
   */
  stop(): Promise<void>;
  /** Disconnects, after {@link stop}. */
  close(): Promise<void>;
}
