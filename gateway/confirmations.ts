/**
 * Which batches the broker took (PUBACK) but no collector has yet confirmed as stored (the store
 * acknowledgement, core/schema/delivery.ts), and when each is due to be sent again.
 *
 * The gateway (gateway/gateway.ts) adds a batch here on its PUBACK and removes it on the collector's
 * acknowledgement; at most `maxUnconfirmed` batches may be out (published or handed to MQTT.js) at once,
 * so a dead collector holds the backlog in the gateway's disk log, not in the broker's queue, where
 * Mosquitto's default `max_queued_messages 1000` would drop it. A batch unconfirmed for `timeoutMs`
 * after its PUBACK is due again (the broker lost it, or no collector was subscribed); each further try
 * waits twice as long, up to 8 × `timeoutMs`, so a collector that is down for an hour costs one window of
 * re-sends per few minutes, not a storm.
 *
 * A hole is re-sent sooner: the broker keeps the order of one client's messages on one topic for a
 * subscriber, so when a batch is confirmed, an older one that went out before it on the same topic and
 * is still unconfirmed `holeGraceMs` later was lost (a queue that overflowed, a broker that restarted).
 * With several collectors sharing a subscription the older one may only be slower; re-sending it then
 * costs a duplicate, which the collectors recognise.
 *
 * Pure bookkeeping: no I/O, no timers; the caller passes the time.
 */

/** Options of {@link Confirmations}. */
export interface ConfirmationsOptions {
  /** Time-out after a PUBACK before the first re-send (ms). */
  timeoutMs: number;
  /** Wait after a newer batch on the same topic was confirmed before an older one is due (ms); default min(2000, timeoutMs). */
  holeGraceMs?: number;
}

/** Longest wait between re-sends of one batch, as a multiple of the time-out. */
const MAX_BACKOFF = 8;

/** See the file comment. */
export class Confirmations {
  readonly #timeoutMs: number;
  readonly #holeGraceMs: number;
  /** seq → when its PUBACK came (ms), when it is due again, its topic. Insertion order = PUBACK order. */
  readonly #waiting = new Map<number, { at: number; due: number; topic: string }>();
  /** seq → times it was sent again; kept until it is confirmed or forgotten. */
  readonly #tries = new Map<number, number>();
  /** Re-sends so far (for metrics). */
  resent = 0;

  constructor(opts: ConfirmationsOptions) {
    this.#timeoutMs = opts.timeoutMs;
    this.#holeGraceMs = opts.holeGraceMs ?? Math.min(2000, opts.timeoutMs);
  }

  /** Batches the broker took and no collector confirmed yet. */
  get size(): number {
    return this.#waiting.size;
  }

  /** True when `seq` waits for a confirmation. */
  has(seq: number): boolean {
    return this.#waiting.has(seq);
  }

  /** The broker acknowledged `seq`, published on `topic`, at `now` (ms): it now waits for a collector. */
  published(seq: number, now: number, topic = ''): void {
    const tries = this.#tries.get(seq) ?? 0;
    const wait = this.#timeoutMs * Math.min(2 ** tries, MAX_BACKOFF);
    this.#waiting.delete(seq);
    this.#waiting.set(seq, { at: now, due: now + wait, topic });
  }

  /**
   * A collector confirmed `seq` at `now` (or the log no longer has it): nothing more to do for it; older
   * batches of its topic still waiting are due `holeGraceMs` from now at the latest (see the file comment).
   */
  confirmed(seq: number, now?: number): void {
    const w = this.#waiting.get(seq);
    this.#waiting.delete(seq);
    this.#tries.delete(seq);
    if (w === undefined || now === undefined) return;
    // Map order is PUBACK order: what comes before `seq` went out before it. Usually nothing is left
    // there (confirmations come in order), so this walks only the holes.
    for (const [s, e] of this.#waiting) {
      if (e.at > w.at) break;
      if (e.topic === w.topic && s < seq) e.due = Math.min(e.due, now + this.#holeGraceMs);
    }
  }

  /** Forgets everything below `seq` (released or dropped from the log). */
  forgetBelow(seq: number): void {
    for (const s of this.#waiting.keys()) if (s < seq) this.#waiting.delete(s);
    for (const s of this.#tries.keys()) if (s < seq) this.#tries.delete(s);
  }

  /**
   * Takes the batches whose confirmation is overdue at `now`, oldest PUBACK first, and counts them as
   * re-sent: the caller hands them to the send order again ({@link published} when the broker takes them).
   */
  takeDue(now: number): number[] {
    const due: number[] = [];
    for (const [seq, w] of this.#waiting) if (w.due <= now) due.push(seq);
    for (const seq of due) this.#take(seq);
    return due;
  }

  /**
   * Takes every waiting batch, whatever its time-out: after a reconnect, or when a collector says it
   * lost its session (core/schema/delivery.ts `SyncRequest`), the broker may hold none of them.
   */
  takeAll(): number[] {
    const all = [...this.#waiting.keys()];
    for (const seq of all) this.#take(seq);
    return all;
  }

  /** The oldest waiting PUBACK time (ms), for status; undefined when nothing waits. */
  get oldestAt(): number | undefined {
    for (const w of this.#waiting.values()) return w.at;
    return undefined;
  }

  #take(seq: number): void {
    this.#waiting.delete(seq);
    this.#tries.set(seq, (this.#tries.get(seq) ?? 0) + 1);
    this.resent++;
  }
}
