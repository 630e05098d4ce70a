// The batches behind a monthly evidence package: the `batch-set-sha256-v1` digest definition, seq
// ranges, and missing batches reported by count and range.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  BatchUsage,
  citeBatches,
  formatBatchSet,
  type ListedBatch,
  SeqSet,
} from '../../../core/domain/raw-batches.ts';
import { BatchSetDigest } from '../../../core/signing.ts';

describe('BatchSetDigest (batch-set-sha256-v1)', () => {
  it('is SHA-256 over length-prefixed UTF-8 fields gateway, seq, canonical, sig per batch, in order', () => {
    // Written out by hand: 4-byte big-endian byte length, then the bytes.
    const expected = createHash('sha256')
      .update(Buffer.from('00000003', 'hex'))
      .update('gw1')
      .update(Buffer.from('00000001', 'hex'))
      .update('7')
      .update(Buffer.from('0000000b', 'hex'))
      .update('{"a":"电"}') // 8 ASCII characters and 电 (3 bytes in UTF-8): 11 bytes
      .update(Buffer.from('00000004', 'hex'))
      .update('c2ln')
      .update(Buffer.from('00000003', 'hex'))
      .update('gw1')
      .update(Buffer.from('00000002', 'hex'))
      .update('12')
      .update(Buffer.from('00000002', 'hex'))
      .update('{}')
      .update(Buffer.from('00000000', 'hex')) // unsigned: empty signature
      .digest('hex');
    const d = new BatchSetDigest();
    d.add('gw1', 7, '{"a":"电"}', 'c2ln');
    d.add('gw1', 12, '{}', null);
    expect(d.count).toBe(2);
    expect(d.digest()).toBe(expected);
  });

  it('tells batches apart where a plain concatenation would not', () => {
    const a = new BatchSetDigest();
    a.add('gw', 1, '{"x":1}', 'AA');
    const b = new BatchSetDigest();
    b.add('gw', 1, '{"x":1}A', 'A');
    expect(a.digest()).not.toBe(b.digest());
  });

  it('refuses batches out of order or twice', () => {
    const d = new BatchSetDigest();
    d.add('gw2', 5, '{}', '');
    expect(() => d.add('gw2', 5, '{}', '')).toThrow(/gw2#5 added after gw2#5/);
    expect(() => d.add('gw1', 9, '{}', '')).toThrow(/gateways ascending/);
    d.add('gw3', 1, '{}', '');
  });
});

describe('SeqSet and BatchUsage', () => {
  it('keeps seqs as merged inclusive ranges whatever the order they come in', () => {
    const s = new SeqSet();
    for (const n of [5, 6, 7, 1, 3, 2, 10, 7, 9, 4]) s.add(n);
    expect(s.ranges()).toEqual([
      [1, 7],
      [9, 10],
    ]);
    expect(s.count).toBe(9);
    s.add(8);
    expect(s.ranges()).toEqual([[1, 10]]);
  });

  it('lists gateways ascending with their counts', () => {
    const u = new BatchUsage();
    for (const [g, n] of [
      ['gw2', 4],
      ['gw1', 2],
      ['gw2', 3],
      ['gw1', 2],
    ] as const)
      u.add(g, n);
    expect(u.set()).toEqual({
      count: 3,
      gateways: [
        { gatewayId: 'gw1', count: 1, ranges: [[2, 2]] },
        { gatewayId: 'gw2', count: 2, ranges: [[3, 4]] },
      ],
    });
  });
});

describe('citeBatches', () => {
  const archive = new Map<string, ListedBatch[]>([
    ['gw1', [1, 2, 3, 5, 6, 8].map((seq) => ({ seq, canonical: `{"seq":${seq}}`, sig: `s${seq}` }))],
    ['gw2', []],
  ]);
  const calls: string[] = [];
  const list = async (g: string, from: number, to: number, limit: number) => {
    calls.push(`${g}:${from}..${to}/${limit}`);
    return (archive.get(g) ?? []).filter((b) => b.seq >= from && b.seq <= to).slice(0, limit);
  };

  it('digests the archived batches in order and names each missing one by gateway and range', async () => {
    const u = new BatchUsage();
    for (let seq = 1; seq <= 7; seq++) u.add('gw1', seq);
    u.add('gw2', 9);
    calls.length = 0;
    const c = await citeBatches(u.set(), list, 2);
    expect(c.batches.count).toBe(8);
    // gw1 4 and 7 are not in the archive; gw2 9 neither.
    expect(c.missingBatches).toEqual({
      count: 3,
      gateways: [
        {
          gatewayId: 'gw1',
          count: 2,
          ranges: [
            [4, 4],
            [7, 7],
          ],
        },
        { gatewayId: 'gw2', count: 1, ranges: [[9, 9]] },
      ],
    });
    expect(formatBatchSet(c.missingBatches)).toBe('gw1#4, gw1#7, gw2#9');
    const d = new BatchSetDigest();
    for (const seq of [1, 2, 3, 5, 6]) d.add('gw1', seq, `{"seq":${seq}}`, `s${seq}`);
    expect(c.batchDigest).toBe(d.digest());
    // Paged 2 at a time from the first seq not yet seen.
    expect(calls).toEqual(['gw1:1..7/2', 'gw1:3..7/2', 'gw1:6..7/2', 'gw2:9..9/2']);
  });

  it('gives no digest when the archive holds none of the cited batches, and says all are missing', async () => {
    const u = new BatchUsage();
    u.add('gw2', 1);
    u.add('gw2', 2);
    const c = await citeBatches(u.set(), list);
    expect(c.batchDigest).toBeNull();
    expect(c.missingBatches).toEqual(c.batches);
    expect(formatBatchSet(c.batches)).toBe('gw2#1..2');
  });
});
