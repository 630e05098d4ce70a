// core/schema/delivery.ts: the store acknowledgement's shape and the seq-range helper.
import { describe, expect, it } from 'vitest';
import { ackTopic, StoreAck, seqRanges, syncTopic } from '../../../core/schema/delivery.ts';

describe('delivery contract', () => {
  it('merges seqs into sorted inclusive ranges', () => {
    expect(seqRanges([5, 1, 2, 3, 7, 6, 3])).toEqual([
      [1, 3],
      [5, 7],
    ]);
    expect(seqRanges([])).toEqual([]);
  });

  it('accepts a store acknowledgement and rejects reversed ranges, zero seqs and unknown keys', () => {
    const ok = { v: 1, gatewayId: 'gw-1', stored: [[1, 4]], at: '2026-12-04T08:00:00.000+08:00' };
    expect(StoreAck.safeParse(ok).success).toBe(true);
    expect(StoreAck.safeParse({ ...ok, stored: [[4, 1]] }).success).toBe(false);
    expect(StoreAck.safeParse({ ...ok, stored: [[0, 1]] }).success).toBe(false);
    expect(StoreAck.safeParse({ ...ok, extra: true }).success).toBe(false);
  });

  it('names the topics', () => {
    expect(ackTopic('mrv/v1', 'U1', 'gw-1')).toBe('mrv/v1/U1/gw-1/ack');
    expect(syncTopic('mrv/v1')).toBe('mrv/v1/_sync');
  });
});
