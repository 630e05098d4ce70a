/**
 * The delivery contract between collectors and gateways: the **store acknowledgement** (docs/delivery.md).
 *
 * A broker's PUBACK says only that the broker took a batch; a broker that drops queued messages
 * (Mosquitto's `max_queued_messages`, 1000 by default) or restarts without its state forgets it. So a
 * gateway keeps every batch in its disk log until a collector says it is in the store:
 *
 * - `{prefix}/{unitId}/{gatewayId}/ack` ({@link StoreAck}, QoS 1, not retained): published by a collector
 *   after each store write that took batches of that gateway, with the seqs it wrote or found already
 *   stored (a redelivery), as ranges. The gateway releases exactly those from its log and re-sends any
 *   other batch the broker acknowledged but no collector confirmed within its time-out.
 * - `{prefix}/_sync` ({@link SyncRequest}, QoS 1, not retained): published by a collector when one of its
 *   sessions started without stored state at the broker (first start, or a broker that lost its state):
 *   whatever the broker had queued for it is gone, so every gateway re-sends at once what it still holds
 *   unconfirmed, instead of waiting for its time-out.
 *
 * Both are small JSON objects, validated with zod on receipt; a message that does not parse is ignored
 * (and logged) by the gateway: it can only delay a release, never cause one.
 */
import { z } from 'zod';
import { Identifier, IsoTimestamp } from './wire.ts';

/** Most ranges in one {@link StoreAck}: a store write takes at most a few hundred batches. */
export const MAX_ACK_RANGES = 4096;

const Seq = z.number().int().positive();

/** A store acknowledgement (`{prefix}/{unitId}/{gatewayId}/ack`); see the file comment. */
export const StoreAck = z
  .object({
    v: z.literal(1),
    gatewayId: Identifier,
    stored: z
      .array(z.tuple([Seq, Seq]).refine(([a, b]) => a <= b, 'a range is [from, to] with from <= to'))
      .max(MAX_ACK_RANGES)
      .describe('seq ranges [from, to] (inclusive) of batches that are in the store'),
    collector: z.string().max(128).optional().describe("the acknowledging collector's MQTT client id"),
    at: IsoTimestamp.describe('collector time of the store write'),
  })
  .strict();
export type StoreAck = z.infer<typeof StoreAck>;

/** A collector's request that gateways re-send what they hold unconfirmed (`{prefix}/_sync`). */
export const SyncRequest = z
  .object({
    v: z.literal(1),
    collector: z.string().max(128).describe("the collector's MQTT client id (session)"),
    reason: z
      .enum(['new-session'])
      .describe('new-session: the broker held no state for this session, anything queued for it is lost'),
    at: IsoTimestamp,
  })
  .strict();
export type SyncRequest = z.infer<typeof SyncRequest>;

/** `{prefix}/{unitId}/{gatewayId}/ack`: where collectors acknowledge one gateway's stored batches. */
export function ackTopic(prefix: string, unitId: string, gatewayId: string): string {
  return `${prefix}/${unitId}/${gatewayId}/ack`;
}

/** `{prefix}/_sync`: where collectors ask every gateway to re-send what is unconfirmed. */
export function syncTopic(prefix: string): string {
  return `${prefix}/_sync`;
}

/**
 * Sorted, merged inclusive ranges of a set of seqs.
 * @example seqRanges([5, 1, 2, 3, 7, 6]) → [[1, 3], [5, 7]]
 */
export function seqRanges(seqs: Iterable<number>): [number, number][] {
  const sorted = [...new Set(seqs)].sort((a, b) => a - b);
  const out: [number, number][] = [];
  for (const s of sorted) {
    const last = out.at(-1);
    if (last && s === last[1] + 1) last[1] = s;
    else out.push([s, s]);
  }
  return out;
}
