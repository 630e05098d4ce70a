/**
 * The JetStream stream and consumer the NATS transport consumes (docs/scale-out.md), made or checked by
 * every collector at start, so that the first one to start on a new cluster sets them up and the
 * others find them:
 *
 * - stream `MRV_BATCHES` (default name): `{prefix}.*.*.data` and `{prefix}.*.*.backlog`, the subjects
 *   nats-server's MQTT listener publishes the gateways' batches on (2.9 maps each `/` of an MQTT topic
 *   to `.`); work-queue retention (a batch leaves the stream when a collector acknowledges it), file
 *   storage, R3 by default;
 * - its durable pull consumer `mrv-collectors`, shared by every collector: explicit acknowledgement
 *   (sent after the store write), redelivery after `ack_wait`, unlimited deliveries, at most
 *   `max_ack_pending` unacknowledged at once (the back pressure of a slow store);
 * - stream `MRV_GATEWAYS`: `{prefix}.*.*.meta` and `.status`, limits retention keeping the last message
 *   per subject (what MQTT's retained messages are to the MQTT collector); each collector reads it with
 *   its own ordered consumer.
 */
import type { JetStreamManager, StreamConfig } from 'nats';
import { AckPolicy, DeliverPolicy, DiscardPolicy, nanos, RetentionPolicy, StorageType } from 'nats';
import { MrvError } from '../core/errors.ts';

/** Default name of the batch stream. */
export const DEFAULT_BATCH_STREAM = 'MRV_BATCHES';
/** Default name of the catalogue and status stream. */
export const DEFAULT_GATEWAY_STREAM = 'MRV_GATEWAYS';
/** Default name of the durable consumer every collector shares. */
export const DEFAULT_CONSUMER = 'mrv-collectors';

/** What {@link ensureStreams} makes or checks. */
export interface StreamSettings {
  /** MQTT topic prefix, e.g. `mrv/v1` (its subject form `mrv.v1` prefixes the stream subjects). */
  topicPrefix: string;
  batchStream: string;
  gatewayStream: string;
  consumer: string;
  /** Replicas of both streams (1 on a single node; 3 on a cluster of 3 or more). */
  replicas: number;
  /** The consumer's `ack_wait` (ms): an unacknowledged batch is delivered again (to any member) after it. */
  ackWaitMs: number;
  /** The consumer's `max_ack_pending`: batches delivered and not yet acknowledged, all members together. */
  maxAckPending: number;
}

/** What {@link ensureStreams} found. */
export interface StreamsReport {
  /** The batch stream or its consumer did not exist and was made now: nothing was queued for the collectors before. */
  created: boolean;
  /** Differences between the existing streams and the settings that were left as they are (for the log). */
  warnings: string[];
}

/** The NATS subject an MQTT topic maps to in nats-server 2.9 (`/` → `.`). */
export function topicToSubject(topic: string): string {
  return topic.replaceAll('/', '.');
}

/** The MQTT topic of a subject made by {@link topicToSubject} (identifiers hold no `.` on this transport). */
export function subjectToTopic(subject: string): string {
  return subject.replaceAll('.', '/');
}

/** JetStream's API error code of an error thrown by the client, if any. */
function apiCode(err: unknown): number | undefined {
  return (err as { api_error?: { err_code?: number } }).api_error?.err_code;
}

/** JetStream error codes (nats-server errors.json). */
const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;
const INSUFFICIENT_RESOURCES = 10023;
const REPLICAS_NOT_AVAILABLE = 10074;

/**
 * Makes the streams and the shared consumer of {@link StreamSettings}, or checks those that exist:
 * a consumer's `ack_wait` and `max_ack_pending` are brought to the settings, an existing stream is
 * left as it is (a change of replicas is an operator's step, docs/scale-out.md) with a warning.
 * @throws MrvError `MRV_E_CONFIG` when the cluster cannot place the replicas (fewer JetStream nodes than
 *   `replicas`), or an existing stream of that name takes other subjects
 */
export async function ensureStreams(jsm: JetStreamManager, s: StreamSettings): Promise<StreamsReport> {
  const p = topicToSubject(s.topicPrefix);
  const warnings: string[] = [];
  let created = false;
  const ensure = async (want: Partial<StreamConfig> & { name: string; subjects: string[] }) => {
    try {
      const info = await jsm.streams.info(want.name);
      const have = info.config;
      if ([...have.subjects].sort().join() !== [...want.subjects].sort().join())
        throw new MrvError(
          'MRV_E_CONFIG',
          `JetStream stream ${want.name} exists with subjects ${have.subjects.join(', ')}, not ${want.subjects.join(', ')}: another topic prefix? Give the stream another name or fix it`,
          { stream: want.name },
        );
      if (have.num_replicas !== want.num_replicas)
        warnings.push(
          `stream ${want.name} has ${have.num_replicas} replicas, not ${want.num_replicas}: left as is (nats stream edit --replicas)`,
        );
      if (have.retention !== want.retention)
        warnings.push(
          `stream ${want.name} has retention ${have.retention}, not ${want.retention}: left as is`,
        );
      return false;
    } catch (err) {
      if (apiCode(err) !== STREAM_NOT_FOUND) throw placementError(err, want.name, s.replicas);
    }
    try {
      await jsm.streams.add(want);
    } catch (err) {
      throw placementError(err, want.name, s.replicas);
    }
    return true;
  };
  created =
    (await ensure({
      name: s.batchStream,
      subjects: [`${p}.*.*.data`, `${p}.*.*.backlog`],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      num_replicas: s.replicas,
      // Never drop a batch for room: a full stream refuses new ones (the gateways keep them and re-send).
      discard: DiscardPolicy.New,
    })) || created;
  await ensure({
    name: s.gatewayStream,
    subjects: [`${p}.*.*.meta`, `${p}.*.*.status`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: s.replicas,
    max_msgs_per_subject: 1,
    discard: DiscardPolicy.Old,
  });
  const consumer = {
    durable_name: s.consumer,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(s.ackWaitMs),
    max_ack_pending: s.maxAckPending,
    // Unlimited: a batch is delivered until a collector stores it.
    max_deliver: -1,
  };
  try {
    const info = await jsm.consumers.info(s.batchStream, s.consumer);
    if (
      info.config.ack_wait !== consumer.ack_wait ||
      info.config.max_ack_pending !== consumer.max_ack_pending
    )
      await jsm.consumers.update(s.batchStream, s.consumer, {
        ack_wait: consumer.ack_wait,
        max_ack_pending: consumer.max_ack_pending,
      });
  } catch (err) {
    if (apiCode(err) !== CONSUMER_NOT_FOUND) throw err;
    await jsm.consumers.add(s.batchStream, consumer);
    created = true;
  }
  return { created, warnings };
}

function placementError(err: unknown, stream: string, replicas: number): Error {
  const code = apiCode(err);
  if (code === INSUFFICIENT_RESOURCES || code === REPLICAS_NOT_AVAILABLE)
    return new MrvError(
      'MRV_E_CONFIG',
      `JetStream cannot place stream ${stream} with ${replicas} replicas (${(err as Error).message}): the cluster needs that many JetStream nodes up; on a single node give --nats-replicas 1`,
      { stream, replicas },
      { cause: err },
    );
  return err as Error;
}
