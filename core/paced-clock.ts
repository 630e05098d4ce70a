/**
 * The demo's plant clock (docs/architecture.md §6a, "the demo's paced clock"): plant time runs `speed`
 * times faster than real time, but a jump of real time longer than a cap — the process did not run, a
 * host stall — is counted as the cap. A stall then slows the simulated plant instead of costing it
 * readings: the simulators' physics, the gateway's poll grid, its timestamps and the collector's and
 * server's "now" all read the one instance, so all of them see the same, slowed, plant time.
 */
import { abortableWait, type Clock, systemClock } from './time.ts';

/** Options of {@link PacedClock}. */
export interface PacedClockOptions {
  /** Stand at `start` until {@link PacedClock.release}, as a held ScaledClock does; default false. */
  held?: boolean;
  /**
   * Longest real step, ms, counted at full speed: a longer gap between two ticks counts as this much.
   * Default {@link DEFAULT_MAX_STEP_MS}.
   */
  maxStepMs?: number;
  /** Real ms between the clock's own ticks (the stall detector); default {@link DEFAULT_TICK_MS}. */
  tickMs?: number;
}

/**
 * Default cap of a real step: 100 ms (288 s of plant time at 2880×, less than the demo's 720 s poll
 * interval, so a stall of any length costs no poll slot).
 */
export const DEFAULT_MAX_STEP_MS = 100;
/** Default tick of the stall detector: 20 ms of real time (well under the cap, even a little late). */
export const DEFAULT_TICK_MS = 20;

/**
 * A clock that starts at `start` (ms epoch) and runs `speed` times faster than real time, except that
 * real time the process spent stalled counts only up to `maxStepMs` per stall.
 *
 * Plant time is kept as of the last tick; a tick every `tickMs` of real time (a loop on the injected
 * real clock) adds `speed × min(real elapsed, maxStepMs)`. Between ticks `now()` is the same sum with
 * the real time elapsed since the tick, so the clock is continuous and monotonic (a real clock that
 * steps back adds nothing). When the event loop stalls for 2 s, no tick and no reader runs; the first
 * one afterwards sees 2 s elapsed and counts 100 ms. A loop that is merely busy keeps ticking and
 * keeps full speed.
 *
 * `sleep(ms)` ends when this clock has advanced by `ms` — never earlier: it waits `ms / speed` of real
 * time, then again for what is left if a stall slowed the plant meanwhile.
 *
 * The ticker runs from the release (or construction, when not held) until {@link PacedClock.stop}.
 * Another thread or process cannot share an instance: it is given plant instants, not this clock.
 */
export class PacedClock implements Clock {
  readonly maxStepMs: number;
  readonly tickMs: number;
  /** Plant ms at `#lastReal` (fractional: sub-ms steps × speed add up). */
  #plant: number;
  /** Real ms of the last tick; null while held. */
  #lastReal: number | null = null;
  #stalledMs = 0;
  #released: Promise<void>;
  #release: () => void = () => {};
  readonly #ticker = new AbortController();
  constructor(
    readonly start: number,
    readonly speed: number,
    private readonly real: Clock = systemClock,
    options: PacedClockOptions = {},
  ) {
    if (!(speed > 0)) throw new RangeError(`PacedClock: speed must be > 0, got ${speed}`);
    this.maxStepMs = options.maxStepMs ?? DEFAULT_MAX_STEP_MS;
    this.tickMs = options.tickMs ?? DEFAULT_TICK_MS;
    if (!(this.maxStepMs > 0))
      throw new RangeError(`PacedClock: maxStepMs must be > 0, got ${this.maxStepMs}`);
    if (!(this.tickMs > 0 && this.tickMs < this.maxStepMs))
      throw new RangeError(`PacedClock: tickMs must be > 0 and < maxStepMs, got ${this.tickMs}`);
    this.#plant = start;
    this.#released = new Promise<void>((r) => {
      this.#release = r;
    });
    if (!options.held) this.release();
  }

  /** True until a held clock is released. */
  get held(): boolean {
    return this.#lastReal === null;
  }

  /** Real ms not counted so far: the sum over every stall of its length beyond `maxStepMs`. */
  get stalledMs(): number {
    return this.#stalledMs;
  }

  /** Lets a held clock run from `start` and starts its ticker (no effect on a running one). */
  release(): void {
    if (this.#lastReal !== null) return;
    this.#lastReal = this.real.now();
    this.#release();
    void this.#tickLoop();
  }

  /** Ends the ticker: the clock stays readable but stops at most `maxStepMs` of real time later. */
  stop(): void {
    this.#ticker.abort(new Error('PacedClock stopped'));
  }

  now(): number {
    if (this.#lastReal === null) return this.start;
    return Math.floor(this.#plant + this.#step(this.real.now()) * this.speed);
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.#lastReal === null) await abortableWait(this.#released, signal);
    const until = this.now() + ms;
    for (;;) {
      const left = until - this.now();
      if (left <= 0) return;
      await this.real.sleep(left / this.speed, signal);
    }
  }

  /** The real step since the last tick that counts: `min(elapsed, maxStepMs)`, 0 if the clock stepped back. */
  #step(realNow: number): number {
    const elapsed = realNow - (this.#lastReal as number);
    return elapsed <= 0 ? 0 : Math.min(elapsed, this.maxStepMs);
  }

  #tick(): void {
    const r = this.real.now();
    const elapsed = r - (this.#lastReal as number);
    const step = this.#step(r);
    if (elapsed > step) this.#stalledMs += elapsed - step;
    this.#plant += step * this.speed;
    this.#lastReal = r;
  }

  async #tickLoop(): Promise<void> {
    const signal = this.#ticker.signal;
    while (!signal.aborted) {
      try {
        await this.real.sleep(this.tickMs, signal);
      } catch {
        return;
      }
      this.#tick();
    }
  }
}
