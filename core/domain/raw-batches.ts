/**
 * Which raw signed batches a monthly evidence package was computed from (docs/architecture.md §6, §7; issue 5
 * item 7): the readings the evidence reads carry the identity of the batch they arrived in
 * ({@link BatchSample}); {@link BatchUsage} collects those identities as seq ranges per gateway, and
 * {@link citeBatches} looks them up in a batch archive (the store's, or an exported file) and digests
 * their exact bytes with the `batch-set-sha256-v1` definition of core/signing.ts, naming every cited
 * batch the archive lacks. Pure apart from awaiting the injected {@link BatchLister}.
 */
import { BatchSetDigest } from '../signing.ts';
import type { Sample } from './aggregate.ts';

/** A reading with the identity of the batch it arrived in (the store's last delivery of it). */
export interface BatchSample extends Sample {
  gatewayId: string;
  seq: number;
}

/** Seq ranges of one gateway's batches, inclusive at both ends, ascending and disjoint. */
export interface BatchRanges {
  gatewayId: string;
  /** Number of batches in `ranges`. */
  count: number;
  ranges: [number, number][];
}

/** A set of batches of several gateways. */
export interface BatchSet {
  count: number;
  /** By ascending gateway id; gateways without batches are left out. */
  gateways: BatchRanges[];
}

/** What {@link citeBatches} found. */
export interface BatchCitation {
  /** Every batch a used reading arrived in. */
  batches: BatchSet;
  /** Of {@link batches}, those the archive does not hold: their bytes are not in {@link batchDigest}. */
  missingBatches: BatchSet;
  /** `batch-set-sha256-v1` (core/signing.ts) over the cited batches the archive holds; null when it holds none. */
  batchDigest: string | null;
}

/** One archived batch as the digest needs it. */
export interface ListedBatch {
  seq: number;
  canonical: string;
  sig?: string | null | undefined;
}

/** Archived batches of one gateway of the unit with seq in `[fromSeq, toSeq]`, lowest first, at most `limit`. */
export type BatchLister = (
  gatewayId: string,
  fromSeq: number,
  toSeq: number,
  limit: number,
) => Promise<ListedBatch[]>;

/** Seqs per block of a {@link SeqSet} (a bitmap of 2^16 bits, 8 KiB). */
const SEQ_BLOCK = 65_536;

/**
 * A set of non-negative integer seqs, given as sorted disjoint inclusive ranges (seqs of a month are
 * mostly contiguous). Kept as a bitmap in blocks of 2^16 seqs, so adding is O(1) whatever the order:
 * the evidence reads one point after the other, and the batches of a gateway's devices interleave
 * their seqs (device A has 1, 4, 7, ..., device B 2, 5, 8, ...).
 */
export class SeqSet {
  readonly #blocks = new Map<number, Uint32Array>();
  #lastKey = -1;
  #last: Uint32Array | undefined;
  #count = 0;

  /**
   * Adds one seq (no-op when present).
   * @throws RangeError for a seq that is not a non-negative safe integer
   */
  add(seq: number): void {
    if (!Number.isSafeInteger(seq) || seq < 0)
      throw new RangeError(`seq must be a non-negative integer, got ${seq}`);
    const key = Math.floor(seq / SEQ_BLOCK);
    let block = this.#last;
    if (key !== this.#lastKey || block === undefined) {
      block = this.#blocks.get(key);
      if (block === undefined) {
        block = new Uint32Array(SEQ_BLOCK / 32);
        this.#blocks.set(key, block);
      }
      this.#lastKey = key;
      this.#last = block;
    }
    const bit = seq - key * SEQ_BLOCK;
    const word = bit >>> 5;
    const mask = 1 << (bit & 31);
    const w = block[word] as number;
    if ((w & mask) === 0) {
      block[word] = w | mask;
      this.#count++;
    }
  }

  /** Number of seqs. */
  get count(): number {
    return this.#count;
  }

  /** The ranges (copies), ascending. */
  ranges(): [number, number][] {
    const out: [number, number][] = [];
    let open = -1; // start of the range being built, −1 when none
    let prev = -2; // last seq seen
    for (const key of [...this.#blocks.keys()].sort((a, b) => a - b)) {
      const block = this.#blocks.get(key) as Uint32Array;
      const base = key * SEQ_BLOCK;
      for (let i = 0; i < block.length; i++) {
        const w = block[i] as number;
        if (w === 0) continue;
        for (let b = 0; b < 32; b++) {
          if ((w & (1 << b)) === 0) continue;
          const seq = base + i * 32 + b;
          if (seq !== prev + 1) {
            if (open >= 0) out.push([open, prev]);
            open = seq;
          }
          prev = seq;
        }
      }
    }
    if (open >= 0) out.push([open, prev]);
    return out;
  }
}

/** Collects the (gateway, seq) of every reading used. */
export class BatchUsage {
  readonly #by = new Map<string, SeqSet>();

  /** Records the batch of one reading. */
  add(gatewayId: string, seq: number): void {
    let s = this.#by.get(gatewayId);
    if (!s) {
      s = new SeqSet();
      this.#by.set(gatewayId, s);
    }
    s.add(seq);
  }

  /** Records every batch of a {@link BatchSet} (e.g. one kept from an earlier read). */
  addSet(set: BatchSet): void {
    for (const g of set.gateways)
      for (const [a, b] of g.ranges) for (let seq = a; seq <= b; seq++) this.add(g.gatewayId, seq);
  }

  /** The batches recorded, gateways ascending. */
  set(): BatchSet {
    const gateways = [...this.#by]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([gatewayId, s]) => ({ gatewayId, count: s.count, ranges: s.ranges() }));
    return { count: gateways.reduce((n, g) => n + g.count, 0), gateways };
  }
}

/** Adds [a, b] to ranges, merging with the last one when adjacent. */
function pushRange(out: [number, number][], a: number, b: number): void {
  const last = out.at(-1);
  if (last && last[1] + 1 === a) last[1] = b;
  else out.push([a, b]);
}

/**
 * Looks up every batch of `batches` in the archive (`list`, paged by `pageSize`), digests the ones it
 * holds in the `batch-set-sha256-v1` order (gateways ascending, seq ascending) and lists the ones it
 * lacks. A listed batch outside the asked range or repeated is ignored.
 */
export async function citeBatches(
  batches: BatchSet,
  list: BatchLister,
  pageSize = 10_000,
): Promise<BatchCitation> {
  const digest = new BatchSetDigest();
  const missing: BatchRanges[] = [];
  for (const g of batches.gateways) {
    const gone: [number, number][] = [];
    for (const [a, b] of g.ranges) {
      let next = a; // lowest seq of [a, b] not yet seen
      for (;;) {
        const before = next;
        const page = await list(g.gatewayId, next, b, pageSize);
        for (const batch of page) {
          if (batch.seq < next || batch.seq > b) continue;
          if (batch.seq > next) pushRange(gone, next, batch.seq - 1);
          digest.add(g.gatewayId, batch.seq, batch.canonical, batch.sig);
          next = batch.seq + 1;
        }
        if (page.length < pageSize || next > b || next === before) break;
      }
      if (next <= b) pushRange(gone, next, b);
    }
    if (gone.length > 0)
      missing.push({
        gatewayId: g.gatewayId,
        count: gone.reduce((n, [x, y]) => n + y - x + 1, 0),
        ranges: gone,
      });
  }
  return {
    batches,
    missingBatches: { count: missing.reduce((n, g) => n + g.count, 0), gateways: missing },
    batchDigest: digest.count > 0 ? digest.digest() : null,
  };
}

/** `gw#1..5, gw#9` style text of a batch set (at most `max` ranges, then "… and N more"). */
export function formatBatchSet(set: BatchSet, max = 20): string {
  const parts = set.gateways.flatMap((g) =>
    g.ranges.map(([a, b]) => (a === b ? `${g.gatewayId}#${a}` : `${g.gatewayId}#${a}..${b}`)),
  );
  return parts.length > max
    ? `${parts.slice(0, max).join(', ')} … and ${parts.length - max} more`
    : parts.join(', ');
}
