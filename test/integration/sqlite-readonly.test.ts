// The read-only SqliteStore (collector/sqlite-store.ts `readonly`, what an evidence worker thread
// opens): a second connection on the writer's file reads what the writer commits (WAL), refuses every
// write with MRV_E_STORE, and refuses a file that does not exist rather than creating one.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { StoredReading } from '../../collector/store.ts';

const reading = (ts: number, value: string): StoredReading => ({
  unitId: 'U-1',
  gatewayId: 'gw-1',
  device: 'd',
  point: 'p',
  ts,
  rxTs: ts + 5,
  value,
  quality: 'good',
  seq: ts,
});

describe('SqliteStore read-only', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'mrv-ro-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('reads what the writer commits, refuses writes, and never creates a file', async () => {
    const file = path.join(tmp, 'mrv.sqlite');
    const writer = new SqliteStore({ path: file });
    await writer.start();
    const reader = new SqliteStore({ path: file, readOnly: true });
    await reader.start();
    try {
      await writer.writeReadings([reading(1000, '1.5'), reading(2000, '2.5')]);
      const raw = await reader.rawReadings({ unitId: 'U-1', pointId: 'p', from: 0, to: 10_000 });
      expect(raw.map((r) => [r.ts, r.value, r.seq])).toEqual([
        [1000, '1.5', 1000],
        [2000, '2.5', 2000],
      ]);
      // A later commit of the writer is seen by the next read.
      await writer.writeReadings([reading(3000, '3.5')]);
      expect(await reader.rawReadings({ unitId: 'U-1', pointId: 'p', from: 0, to: 10_000 })).toHaveLength(3);
      expect((await reader.readingDayMarks?.('U-1', -86_400_000, 86_400_000))?.size).toBe(1);
      await expect(reader.writeReadings([reading(4000, '4')])).rejects.toMatchObject({ code: 'MRV_E_STORE' });
      // The status's shape is not what is tested: the read-only connection refuses the write itself.
      await expect(
        reader.writeStatus(
          'U-1',
          { v: 1, gatewayId: 'gw-1', state: 'online', ts: new Date(0).toISOString() } as never,
          0,
        ),
      ).rejects.toMatchObject({ code: 'MRV_E_STORE' });
      expect(await writer.rawReadings({ unitId: 'U-1', pointId: 'p', from: 0, to: 10_000 })).toHaveLength(3);
    } finally {
      await reader.stop();
      await writer.stop();
    }
    const missing = path.join(tmp, 'missing.sqlite');
    await expect(new SqliteStore({ path: missing, readOnly: true }).start()).rejects.toMatchObject({
      code: 'MRV_E_STORE',
    });
    expect(existsSync(missing)).toBe(false);
  });
});
