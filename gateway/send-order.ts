/**
 * The order in which the gateway hands logged batches to MQTT (gateway/gateway.ts `#pump`): in seq
 * order while little waits; after an outage, new batches **ahead of** the backlog, so that live data is
 * not delayed by the whole replay (issue 7: "drains ... without starving live data").
 *
 * Two lanes share the `maxInFlight` window:
 * - **backlog**: from the oldest unsent seq upward, in seq order, skipping what the live lane sent;
 * - **live**: when more batches wait than the window holds, the batches from the newest durable one
 *   at that moment onward go out as soon as they are durable, with `liveSlots` of the window reserved.
 * When the backlog lane reaches the live lane's first seq the two merge and order is plain seq order
 * again. A batch whose publish failed goes back to the backlog lane.
 *
 * Lanes alone would not help much: the broker acknowledges at once and queues everything for the
 * collector in one FIFO per session. So the backlog lane's batches, while live ones go ahead (and
 * anything an earlier run made), go on the `backlog` topic ({@link SendOrder.backlogTopic}), which the
 * collector reads on a session of its own. It is told which holes are still coming by the batches'
 * `backlogFrom` (core/schema/wire.ts), set by the gateway from its log's oldest unacknowledged seq.
 */

import { SeqRanges } from './seq-ranges.ts';

/** Which lane a batch went out on (the caller counts in-flight batches per lane). */
export type Lane = 'backlog' | 'live';

/** Options of {@link SendOrder}. */
export interface SendOrderOptions {
  /** The in-flight window (MQTT.js publishes handed over and not yet acknowledged). */
  maxInFlight: number;
  /** Window slots the live lane may use while a backlog drains. Default a quarter of it, at least 1. */
  liveSlots?: number;
}

/** See the file comment. Pure bookkeeping: no I/O, no timers. */
export class SendOrder {
  #next = 1;
  /** First seq of the live lane while a backlog drains, else undefined. */
  #liveFrom: number | undefined;
  #liveNext = 0;
  /** Seqs the live lane sent ahead of the backlog lane: ranges, as a long drain sends thousands. */
  readonly #sentAhead = new SeqRanges();
  /** Failed seqs below `#next`, sent again first (lowest first). */
  #retry: number[] = [];
  readonly #inFlight: Record<Lane, number> = { backlog: 0, live: 0 };
  readonly #max: number;
  readonly #liveSlots: number;
  /** The live lane takes only batches from here on (made by this process, see {@link liveFrom}). */
  #liveFloor = 1;

  constructor(opts: SendOrderOptions) {
    this.#max = opts.maxInFlight;
    // At least one slot each; a window of one has no live lane (plain seq order).
    this.#liveSlots =
      opts.maxInFlight < 2
        ? 0
        : Math.max(1, Math.min(opts.maxInFlight - 1, opts.liveSlots ?? Math.floor(opts.maxInFlight / 4)));
  }

  /** The oldest seq not yet handed over by the backlog lane. */
  get nextBacklog(): number {
    return this.#next;
  }

  /** True while new batches go out ahead of a backlog. */
  get draining(): boolean {
    return this.#liveFrom !== undefined;
  }

  /**
   * True when a batch taken on `lane` belongs on the `backlog` topic: the backlog lane while new
   * batches go ahead, and anything an earlier run made (below {@link liveFrom}), which is a backlog by
   * definition; everything else goes on `data`.
   */
  backlogTopic(seq: number, lane: Lane): boolean {
    return lane === 'backlog' && (this.#liveFrom !== undefined || seq < this.#liveFloor);
  }

  /** Batches handed over and not yet settled, per lane. */
  inFlight(lane: Lane): number {
    return this.#inFlight[lane];
  }

  /**
   * Only batches with this seq or above may go ahead of the backlog: a gateway restarted with a
   * backlog sends what it made before (which may lack `backlogFrom`, e.g. from an older version) in seq
   * order, and only its new batches ahead.
   */
  liveFrom(seq: number): void {
    this.#liveFloor = seq;
  }

  /** Skips what the log no longer has (acknowledged before a restart, or dropped when full). */
  skipTo(firstAvailable: number): void {
    if (firstAvailable > this.#next) this.#next = firstAvailable;
    this.#retry = this.#retry.filter((s) => s >= firstAvailable);
    this.#merge();
  }

  /**
   * The next seq to hand over and its lane, given the newest durable seq; undefined when nothing may go
   * now (window full, or nothing durable left). The caller then calls {@link settled} when MQTT.js is
   * done with it. `backlog: false` lets only the live lane give (the caller's own bound on unconfirmed
   * batches is reached for the backlog, gateway/gateway.ts).
   */
  take(durableSeq: number, opts: { backlog?: boolean } = {}): { seq: number; lane: Lane } | undefined {
    const total = this.#inFlight.backlog + this.#inFlight.live;
    if (total >= this.#max) return undefined;
    // A backlog: more waits than the window holds. Live batches start at the newest durable one.
    if (
      this.#liveFrom === undefined &&
      this.#liveSlots > 0 &&
      durableSeq >= this.#liveFloor &&
      durableSeq - this.#next + 1 > this.#max
    ) {
      this.#liveFrom = durableSeq;
      this.#liveNext = durableSeq;
    }
    if (
      this.#liveFrom !== undefined &&
      this.#liveNext <= durableSeq &&
      this.#inFlight.live < this.#liveSlots
    ) {
      const seq = this.#liveNext++;
      this.#sentAhead.add(seq);
      this.#inFlight.live++;
      return { seq, lane: 'live' };
    }
    if (opts.backlog === false) return undefined;
    // The backlog keeps the rest of the window (live slots stay free for the next new batch).
    const backlogRoom = this.#liveFrom === undefined ? this.#max : this.#max - this.#liveSlots;
    if (this.#inFlight.backlog >= backlogRoom) return undefined;
    const again = this.#retry.shift();
    if (again !== undefined) {
      this.#inFlight.backlog++;
      return { seq: again, lane: 'backlog' };
    }
    while (this.#sentAhead.has(this.#next)) this.#next++;
    if (this.#liveFrom !== undefined && this.#next >= this.#liveNext) {
      // The backlog lane caught up with the live lane: one lane again, and go on in seq order.
      this.#merge();
      return this.take(durableSeq, opts);
    }
    if (this.#next > durableSeq) return undefined;
    const seq = this.#next++;
    this.#inFlight.backlog++;
    this.#merge();
    return { seq, lane: 'backlog' };
  }

  /**
   * MQTT.js is done with `seq`: acknowledged (`ok`), or given up (then it goes out again, from the
   * backlog lane, in seq order).
   */
  settled(seq: number, lane: Lane, ok: boolean): void {
    this.#inFlight[lane]--;
    if (ok) return;
    // Back to the backlog lane: ahead of its cursor it is reached in order; behind it, sent first.
    this.#sentAhead.delete(seq);
    if (seq < this.#next) {
      this.#retry.push(seq);
      this.#retry.sort((a, b) => a - b);
    }
  }

  /**
   * `seqs` were acknowledged by the broker (and settled) but must go out again: no collector confirmed
   * storing them in time (gateway/confirmations.ts). They go back to the backlog lane, lowest first.
   */
  requeue(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    const retry = new Set(this.#retry);
    for (const seq of seqs) {
      this.#sentAhead.delete(seq);
      if (seq < this.#next) retry.add(seq);
    }
    this.#retry = [...retry].sort((a, b) => a - b);
  }

  /** The backlog lane reached the live lane: one lane, seq order, again. */
  #merge(): void {
    if (this.#liveFrom === undefined) return;
    while (this.#sentAhead.has(this.#next)) this.#next++;
    if (this.#next >= this.#liveNext) {
      this.#next = Math.max(this.#next, this.#liveNext);
      this.#liveFrom = undefined;
      this.#sentAhead.clear();
    }
  }
}
