/**
 * When an RTU answer counts as complete (drivers/modbus/rtu-port.ts): the answer guard, pure and
 * without I/O so that it can be tested alone.
 *
 * RTU frames carry no transaction id (Modbus over Serial Line V1.02 §2.5.1.1). A frame that arrives
 * while a request is pending is its answer only if nothing else follows it while the device could
 * still be answering: if the frame were stale (a late answer, a second copy, a frame out of turn),
 * the device's real answer would follow within its answer time of the request, and the two together
 * are a longer frame that modbus-serial rejects. So a frame counts as complete once
 * - the line has been silent for the inter-frame silence (3.5 character times, at least
 *   {@link MIN_GUARD_MS}) after its last byte, and
 * - the device's answer window has passed since the request ({@link AnswerTimes.windowMs}),
 * but never later than just before the request's timeout (modbus-serial's timer would fire first).
 *
 * The answer window is learnt from the line's accepted answers (time from the request to the last
 * byte, as this process saw it). Those times include this process's own stalls: on a loaded machine
 * a busy event loop reads an answer that arrived in 1 ms 100 ms later. A stall does not open a hole
 * (the bytes wait in the kernel and are read together, rtu-port.ts reads them before it decides), so
 * in step the window is the 90th percentile of the last {@link ANSWER_SAMPLES} answers, not their
 * slowest: one stall no longer stretches every request of the line for the next 32 answers (measured
 * in `mrv demo --speed 2880` at load 8: one answer read 125 ms late set a 157 ms guard on six
 * requests a cycle, and three feeders overran their 750 ms cycle for hours). After a frame that did
 * not belong (stray bytes, a rejected answer: {@link AnswerTimes.markAnomaly}), when more are likely,
 * the next {@link ANSWER_SAMPLES} answers get the slowest of the window, as before. A timeout is no
 * such sign (the drain after it proves the line silent for the device's worst-case answer time).
 */

/** Floor of the silence after an answer, ms: covers scheduling jitter of the peer and of this process. */
export const MIN_GUARD_MS = 20;
/** Accepted answers the window is learnt from. */
export const ANSWER_SAMPLES = 32;
/** Margin on the learnt answer time. */
const WINDOW_FACTOR = 1.25;
/** The guard ends this long before the request's timeout, so that the answer's timer runs first. */
export const TIMER_MARGIN_MS = 10;

/** A line's recent answer times and how suspicious it is (see the file comment). */
export class AnswerTimes {
  /** Latencies of accepted answers, ms, newest last. */
  readonly #samples: number[] = [];
  /** Answers still to be judged with the slowest of the window (after an anomaly). */
  #suspect = 0;

  /** Records the latency (ms from the request to the answer's last byte) of an accepted answer. */
  add(latencyMs: number): void {
    this.#samples.push(Math.max(0, latencyMs));
    if (this.#samples.length > ANSWER_SAMPLES) this.#samples.shift();
    if (this.#suspect > 0) this.#suspect--;
  }

  /** A frame that did not belong was on the line: the next {@link ANSWER_SAMPLES} answers wait for the slowest answer time. */
  markAnomaly(): void {
    this.#suspect = ANSWER_SAMPLES;
  }

  /** True while answers are judged with the slowest answer time (after an anomaly). */
  get suspect(): boolean {
    return this.#suspect > 0;
  }

  /**
   * The device's answer window, ms after the request: 1.25 × the 90th percentile of the recent
   * answer times (in step) or 1.25 × the slowest of them (after an anomaly); 0 with no answer yet.
   */
  windowMs(): number {
    const n = this.#samples.length;
    if (n === 0) return 0;
    const sorted = [...this.#samples].sort((a, b) => a - b);
    const at = this.#suspect > 0 ? n - 1 : Math.ceil(0.9 * n) - 1;
    return Math.ceil((sorted[at] as number) * WINDOW_FACTOR);
  }
}

/** What {@link frameCompleteAt} needs, all times in ms of one clock. */
export interface FrameTiming {
  /** When the request was written. */
  sentAt: number;
  /** When the frame's last bytes were read. */
  lastRxAt: number;
  /** The request's answer timeout. */
  timeoutMs: number;
  /** The device's answer window ({@link AnswerTimes.windowMs}). */
  windowMs: number;
  /** The inter-frame silence, at least {@link MIN_GUARD_MS}. */
  minGuardMs: number;
}

/**
 * The instant a frame counts as complete: the later of its last byte + `minGuardMs` and the request
 * + `windowMs`, but not later than the request's timeout − {@link TIMER_MARGIN_MS}; never earlier
 * than last byte + `minGuardMs` (the inter-frame silence is not negotiable, §2.5.1.1).
 */
export function frameCompleteAt(t: FrameTiming): number {
  const silence = t.lastRxAt + t.minGuardMs;
  const window = Math.min(t.sentAt + t.windowMs, t.sentAt + t.timeoutMs - TIMER_MARGIN_MS);
  return Math.max(silence, window);
}
