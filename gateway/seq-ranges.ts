/**
 * A set of seqs kept as sorted, disjoint, non-touching ranges `[from, to]` (gateway/disk-log.ts): the
 * batches acknowledged out of order, skipped or lost above the log's acknowledged cursor. A run of
 * seqs costs one range however long it is, so a long broker outage during which every new seq is
 * skipped (the log full under `block`) keeps one entry, not one per batch.
 *
 * Pure bookkeeping, no I/O. Seqs are positive integers (safe integers; the log's seqs are u64 on disk
 * but never pass 2^53 in practice: 10^6 batches a second for 285 years).
 */
export class SeqRanges {
  /** Flat `[from0, to0, from1, to1, ...]`, ascending; a gap of at least one seq between ranges. */
  #r: number[] = [];

  /** Number of ranges (the memory this set holds, for diagnostics and tests). */
  get ranges(): number {
    return this.#r.length / 2;
  }

  /** True when nothing is in the set. */
  get empty(): boolean {
    return this.#r.length === 0;
  }

  /** Index (of a `from`) of the first range whose `to` is ≥ `seq`; `#r.length` when none. */
  #find(seq: number): number {
    let lo = 0;
    let hi = this.#r.length / 2;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#r[2 * mid + 1] as number) < seq) lo = mid + 1;
      else hi = mid;
    }
    return 2 * lo;
  }

  /** True when `seq` is in the set. */
  has(seq: number): boolean {
    const i = this.#find(seq);
    return i < this.#r.length && (this.#r[i] as number) <= seq;
  }

  /** Adds `seq`. */
  add(seq: number): void {
    this.addRange(seq, seq);
  }

  /** Adds every seq of `from..to` (nothing when `from > to`), merging with the ranges it touches. */
  addRange(from: number, to: number): void {
    if (from > to) return;
    // The first range that overlaps or touches [from, to] on the left: its `to` ≥ from - 1.
    const i = this.#find(from - 1);
    let j = i;
    let lo = from;
    let hi = to;
    while (j < this.#r.length && (this.#r[j] as number) <= to + 1) {
      lo = Math.min(lo, this.#r[j] as number);
      hi = Math.max(hi, this.#r[j + 1] as number);
      j += 2;
    }
    this.#r.splice(i, j - i, lo, hi);
  }

  /** Removes `seq` (splitting its range when it lies inside one). */
  delete(seq: number): void {
    const i = this.#find(seq);
    if (i >= this.#r.length || (this.#r[i] as number) > seq) return;
    const from = this.#r[i] as number;
    const to = this.#r[i + 1] as number;
    const keep: number[] = [];
    if (from < seq) keep.push(from, seq - 1);
    if (seq < to) keep.push(seq + 1, to);
    this.#r.splice(i, 2, ...keep);
  }

  /** Removes every seq ≤ `seq`. */
  deleteThrough(seq: number): void {
    const i = this.#find(seq + 1);
    if (i < this.#r.length && (this.#r[i] as number) <= seq) this.#r[i] = seq + 1;
    this.#r.splice(0, i);
  }

  /** The last seq of the range that starts at `seq`, or undefined when no range starts exactly there. */
  runFrom(seq: number): number | undefined {
    const i = this.#find(seq);
    return i < this.#r.length && this.#r[i] === seq ? (this.#r[i + 1] as number) : undefined;
  }

  /** How many seqs of `from..to` are in the set. */
  countIn(from: number, to: number): number {
    let n = 0;
    for (let i = this.#find(from); i < this.#r.length && (this.#r[i] as number) <= to; i += 2)
      n += Math.min(to, this.#r[i + 1] as number) - Math.max(from, this.#r[i] as number) + 1;
    return n;
  }

  /** Removes everything. */
  clear(): void {
    this.#r = [];
  }

  /** The ranges, lowest first, as `[from, to]`. */
  *[Symbol.iterator](): IterableIterator<[number, number]> {
    for (let i = 0; i < this.#r.length; i += 2) yield [this.#r[i] as number, this.#r[i + 1] as number];
  }
}
