// `mrv sim hj212-platform` and `mrv uplink hj212` as real processes, as a new user runs them: the
// uplink forwards the last minutes of a store to the platform, which writes what it got as JSON lines.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { StoredReading } from '../../collector/store.ts';
import type { PlatformRecord } from '../../uplink/hj212/platform-sim.ts';
import { getFreePort } from '../helpers/free-port.ts';
import { spawnTied } from '../helpers/tied-process.ts';

const root = new URL('../..', import.meta.url).pathname;
const mrv = join(root, 'bin/mrv.js');
const tmp = mkdtempSync(join(tmpdir(), 'mrv-hj212-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const UNIT = '91150000DEMO00001X';

describe('mrv uplink hj212 → mrv sim hj212-platform', () => {
  it('forwards every minute of the store, CRC-checked and acknowledged, and never logs the password', async () => {
    const now = Date.now();
    const start = Math.floor(now / 60_000) * 60_000 - 5 * 60_000; // five complete minutes before this one
    const db = join(tmp, 'mrv.sqlite');
    const store = new SqliteStore({ path: db, log: pino({ level: 'silent' }) });
    await store.start();
    const readings: StoredReading[] = [];
    for (let t = start, seq = 1; t < start + 5 * 60_000; t += 15_000, seq++)
      readings.push({
        unitId: UNIT,
        gatewayId: 'gw',
        device: 'd',
        point: 'potline.current',
        ts: t,
        rxTs: t,
        seq,
        value: '400.5',
        quality: 'good',
      });
    await store.writeReadings(readings);
    await store.stop();

    const port = await getFreePort();
    const out = join(tmp, 'platform.jsonl');
    const platform = await spawnTied(
      process.execPath,
      [mrv, 'sim', 'hj212-platform', '--port', String(port), '--out', out],
      { cwd: root },
    );
    const uplinkFile = join(tmp, 'uplink.yaml');
    writeFileSync(
      uplinkFile,
      `version: 1
unit: ${UNIT}
platform: { host: 127.0.0.1, port: ${port} }
settleMs: 0
cursorFile: cursor.json
startFrom: "${new Date(start).toISOString()}"
commands: { minute: { enabled: true }, hour: { enabled: false }, day: { enabled: false } }
devices:
  - mn: MN-CLI-0001
    passwordEnv: MRV_TEST_HJ212_PW
    points: [{ point: potline.current, code: e01001 }]
`,
    );
    try {
      const deadline = Date.now() + 20_000;
      while (!platform.tail().includes('HJ 212 platform simulator on') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      const up = await spawnTied(
        process.execPath,
        [mrv, 'uplink', 'hj212', '-c', uplinkFile, '--store', 'sqlite', '--sqlite', db],
        {
          cwd: root,
          env: { ...process.env, MRV_TEST_HJ212_PW: 'Pw9x7Q', MRV_LOG_LEVEL: 'debug' },
        },
      );
      try {
        const records = () =>
          existsSync(out)
            ? readFileSync(out, 'utf8')
                .trim()
                .split('\n')
                .map((l) => JSON.parse(l) as PlatformRecord)
            : [];
        await expect
          .poll(() => records().filter((r) => r.cn === '2051').length, { timeout: 20_000 })
          .toBeGreaterThanOrEqual(5);
        const minutes = records()
          .filter((r) => r.cn === '2051')
          .slice(0, 5);
        expect(minutes.map((r) => r.dataTime)).toEqual(
          [0, 1, 2, 3, 4].map((m) => new Date(start + m * 60_000).toISOString()),
        );
        expect(minutes.every((r) => r.error === undefined && r.acked && !r.duplicate)).toBe(true);
        expect(minutes[0]?.values).toEqual([
          { code: 'e01001', min: '400.5', avg: '400.5', max: '400.5', flag: 'N' },
        ]);
        up.child.kill('SIGINT');
        expect((await up.exited).code).toBe(0);
        expect(up.tail()).toMatch(/HJ 212 uplink: unit/);
        expect(up.tail()).toMatch(/PW=\*{6}/); // debug log shows frames with the password masked
        expect(up.tail()).not.toContain('Pw9x7Q');
        expect(readFileSync(out, 'utf8')).not.toContain('Pw9x7Q');
      } finally {
        await up.stop();
      }
    } finally {
      await platform.stop();
    }
  });
});
