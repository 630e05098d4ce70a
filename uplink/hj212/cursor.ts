/**
 * The uplink's cursor file: per device (MN) and command (2051/2061/2031), the start of the next
 * interval to send, i.e. everything before it was acknowledged by the platform. Written atomically
 * (temp file, fsync, rename, fsync of the folder) after every acknowledged message, so a restart or
 * crash resumes exactly there: no gap; at most the one message in flight is sent again, which the
 * platform recognises by (MN, CN, DataTime, PNO).
 *
 * Format (JSON, human-readable): `{"version":1,"devices":{"<MN>":{"2051":"2026-01-15T10:31:00.000Z",...}}}`.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { MrvError } from '../../core/errors.ts';

interface CursorJson {
  version: 1;
  devices: Record<string, Record<string, string>>;
}

/** The persisted cursors of one uplink. */
export class CursorFile {
  #data: CursorJson = { version: 1, devices: {} };

  /** Does no I/O; call {@link load}. */
  constructor(readonly path: string) {}

  /**
   * Reads the file; a missing file is an empty cursor.
   * @throws MrvError `MRV_E_CONFIG` when the file exists but is not a cursor file (never overwritten then)
   */
  load(): void {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new MrvError('MRV_E_CONFIG', `cannot read cursor file ${this.path}: ${(err as Error).message}`);
    }
    try {
      const parsed = JSON.parse(text) as CursorJson;
      if (parsed.version !== 1 || typeof parsed.devices !== 'object' || parsed.devices === null)
        throw new Error('not version 1');
      for (const byCn of Object.values(parsed.devices))
        for (const v of Object.values(byCn))
          if (Number.isNaN(Date.parse(v))) throw new Error(`bad time ${v}`);
      this.#data = parsed;
    } catch (err) {
      throw new MrvError(
        'MRV_E_CONFIG',
        `cursor file ${this.path} is not valid (${(err as Error).message}); move it away to start from uplink.startFrom`,
      );
    }
  }

  /** Start of the next interval to send for (mn, cn), ms epoch, or undefined when never sent. */
  get(mn: string, cn: string): number | undefined {
    const v = this.#data.devices[mn]?.[cn];
    return v === undefined ? undefined : Date.parse(v);
  }

  /**
   * Records that everything before `next` (ms epoch) was acknowledged, and persists it.
   * @throws MrvError `MRV_E_CONFIG` when the file cannot be written
   */
  set(mn: string, cn: string, next: number): void {
    const byCn = this.#data.devices[mn] ?? {};
    this.#data.devices[mn] = byCn;
    byCn[cn] = new Date(next).toISOString();
    this.#persist();
  }

  #persist(): void {
    const tmp = `${this.path}.tmp`;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      writeFileSync(tmp, `${JSON.stringify(this.#data, null, 1)}\n`);
      const fd = openSync(tmp, 'r');
      fsyncSync(fd);
      closeSync(fd);
      renameSync(tmp, this.path);
      const dfd = openSync(dirname(this.path), 'r');
      try {
        fsyncSync(dfd);
      } finally {
        closeSync(dfd);
      }
    } catch (err) {
      throw new MrvError(
        'MRV_E_CONFIG',
        `cannot write cursor file ${this.path}: ${(err as Error).message}`,
        undefined,
        {
          cause: err,
        },
      );
    }
  }
}
