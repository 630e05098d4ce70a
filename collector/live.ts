/**
 * Live feed of stored batches, for the server's SSE route (docs/architecture.md §9 `GET /api/v1/live`).
 * The collector publishes a batch here only after the store accepted it, so a live chart never
 * shows a reading that the series route would not return.
 */
import { EventEmitter } from 'node:events';
import type { Reading } from '../core/schema/wire.ts';

/** One stored batch as pushed to live subscribers. */
export interface LiveBatch {
  unitId: string;
  gatewayId: string;
  seq: number;
  readings: Reading[];
}

/** Something live batches can be subscribed from. */
export interface LiveFeed {
  /**
   * Calls `listener` for every batch of `unitId` (or of every unit when `unitId` is undefined).
   * @returns a function that unsubscribes
   */
  subscribe(unitId: string | undefined, listener: (batch: LiveBatch) => void): () => void;
  /** Number of current subscribers (for metrics). */
  subscribers(): number;
}

/** In-process {@link LiveFeed}: the collector publishes, the server subscribes. */
export class LiveHub implements LiveFeed {
  readonly #emitter = new EventEmitter();
  #count = 0;
  constructor() {
    this.#emitter.setMaxListeners(0);
  }
  publish(batch: LiveBatch): void {
    this.#emitter.emit('*', batch);
  }
  subscribe(unitId: string | undefined, listener: (batch: LiveBatch) => void): () => void {
    const wrapped = (b: LiveBatch) => {
      if (unitId === undefined || b.unitId === unitId) listener(b);
    };
    this.#emitter.on('*', wrapped);
    this.#count++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#count--;
      this.#emitter.off('*', wrapped);
    };
  }
  subscribers(): number {
    return this.#count;
  }
}
