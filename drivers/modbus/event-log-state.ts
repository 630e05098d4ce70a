/**
 * The last ticket number each event log of a device emitted, kept in
 * `<dataDir>/event-logs/<device>.json` beside the gateway's store-and-forward log, so that a restarted
 * gateway reads on from there: nothing re-read, nothing skipped, and tickets the ring lost while the
 * gateway was down are still reported missing.
 *
 * The number is written once the gateway's log holds the batch with those tickets on disk
 * (DriverContext `durable`, gateway/gateway.ts); a crash in between re-reads them at the next start,
 * which is harmless (each ticket number counts once, core/domain/aggregate.ts). Writes are atomic
 * (temporary file, fsync, rename). A missing or unreadable file means "nothing known": the ring is
 * taken whole once. Without a data folder, or a host without a durable log, the state lives in memory
 * only.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';

interface StateFile {
  version: 1;
  device: string;
  logs: Record<string, { lastSeen: number; at: string }>;
}

/** The last emitted number per event log of one device. */
export class EventLogState {
  readonly #file: string | undefined;
  readonly #device: string;
  readonly #log: Logger;
  readonly #logs = new Map<string, { lastSeen: number; at: string }>();

  /** @param dataDir the gateway's data folder; absent: memory only. No I/O here (docs/architecture.md §10 rule 1). */
  constructor(device: string, dataDir: string | undefined, log: Logger) {
    this.#device = device;
    this.#file = dataDir ? join(dataDir, 'event-logs', `${device}.json`) : undefined;
    this.#log = log;
  }

  /** The state file, if any. */
  get file(): string | undefined {
    return this.#file;
  }

  /** Reads the file (a missing or unreadable one leaves every log unknown, logged). */
  load(): void {
    this.#logs.clear();
    if (!this.#file) return;
    let text: string;
    try {
      text = readFileSync(this.#file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        this.#log.error({ err, file: this.#file }, 'event log state unreadable; rings are read whole once');
      return;
    }
    try {
      const parsed = JSON.parse(text) as StateFile;
      for (const [id, v] of Object.entries(parsed.logs ?? {}))
        if (Number.isSafeInteger(v?.lastSeen) && v.lastSeen >= 0) this.#logs.set(id, v);
    } catch (err) {
      this.#log.error(
        { err, file: this.#file },
        'event log state is not valid JSON; rings are read whole once',
      );
    }
  }

  /** The last number emitted by log `id`, or undefined when nothing is known. */
  get(id: string): number | undefined {
    return this.#logs.get(id)?.lastSeen;
  }

  /** Records the last number emitted in memory only (its tickets are not known to be on disk). */
  remember(id: string, lastSeen: number, at: string): void {
    this.#logs.set(id, { lastSeen, at });
  }

  /**
   * Records the last number emitted and writes the file atomically. A failed write is logged and
   * kept in memory (the next start then re-reads some tickets, which is harmless).
   */
  set(id: string, lastSeen: number, at: string): void {
    this.#logs.set(id, { lastSeen, at });
    if (!this.#file) return;
    const body: StateFile = { version: 1, device: this.#device, logs: Object.fromEntries(this.#logs) };
    const tmp = `${this.#file}.tmp`;
    try {
      mkdirSync(join(this.#file, '..'), { recursive: true });
      const fd = openSync(tmp, 'w');
      try {
        const bytes = Buffer.from(`${JSON.stringify(body)}\n`);
        let done = 0;
        // writeSync may write fewer bytes than asked (docs/development.md §5).
        while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.#file);
    } catch (err) {
      this.#log.error({ err, file: this.#file }, 'event log state not written; kept in memory');
    }
  }
}
