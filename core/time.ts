/**
 * Time is injected (DESIGN.md §6a): every part takes a {@link Clock} instead of calling `Date.now()`,
 * so simulators and the demo can run a month of plant time in minutes and tests can fix the instant.
 */

/** A source of time and of waiting, both in the clock's own (possibly virtual) milliseconds. */
export interface Clock {
  /** Current time, ms since the Unix epoch. */
  now(): number;
  /** Resolves after `ms` of this clock's time; rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

function realSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Wall-clock time. */
export const systemClock: Clock = { now: () => Date.now(), sleep: realSleep };

/**
 * A clock that starts at `start` (ms epoch) and runs `speed` times faster than real time.
 * `speed` 1440 simulates a day per real minute; a 31-day month then takes about 31 minutes.
 */
export class ScaledClock implements Clock {
  readonly #originReal: number;
  constructor(
    readonly start: number,
    readonly speed: number,
    private readonly real: Clock = systemClock,
  ) {
    if (!(speed > 0)) throw new RangeError(`ScaledClock: speed must be > 0, got ${speed}`);
    this.#originReal = real.now();
  }
  now(): number {
    return this.start + Math.floor((this.real.now() - this.#originReal) * this.speed);
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.real.sleep(ms / this.speed, signal);
  }
}

/** A clock that only moves when told to; for tests. `sleep` resolves when `advance` passes its deadline. */
export class ManualClock implements Clock {
  #now: number;
  #sleepers: { until: number; resolve: () => void }[] = [];
  constructor(start: number) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const sleeper = { until: this.#now + ms, resolve };
      this.#sleepers.push(sleeper);
      signal?.addEventListener(
        'abort',
        () => {
          this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }
  /** Moves time forward and wakes every sleeper whose deadline has passed. */
  advance(ms: number): void {
    this.#now += ms;
    const due = this.#sleepers.filter((s) => s.until <= this.#now);
    this.#sleepers = this.#sleepers.filter((s) => s.until > this.#now);
    for (const s of due) s.resolve();
  }
}

/** ISO-8601 with milliseconds in UTC, the wire format of timestamps. */
export function isoMs(ms: number): string {
  return new Date(ms).toISOString();
}
