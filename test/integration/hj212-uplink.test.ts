// The HJ 212 uplink against the platform simulator over real TCP, reading a SqliteStore filled with
// a known minute series: every minute packet arrives with a valid CRC and is acknowledged; a platform
// outage, an uplink restart and withheld acknowledgements leave no gap and no duplicate.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { StoredReading } from '../../collector/store.ts';
import { type Clock, ScaledClock, systemClock } from '../../core/time.ts';
import { parseUplinkConfig } from '../../uplink/hj212/config.ts';
import {
  type Hj212Platform,
  type PlatformRecord,
  startHj212Platform,
} from '../../uplink/hj212/platform-sim.ts';
import { Hj212Uplink, type MeterCatalogue } from '../../uplink/hj212/uplink.ts';

const UNIT = '91150000DEMO00001X';
const T0 = Date.parse('2026-01-15T00:00:00+08:00');
const MINUTES = 30;
const MIN = 60_000;
const log = pino({ level: 'silent' });
/** "Now" is when the series ends, so all of it is due at once (a catch-up) and nothing after it. */
const clock: Clock = { now: () => T0 + MINUTES * MIN, sleep: systemClock.sleep };

const tmp = mkdtempSync(join(tmpdir(), 'mrv-hj212-'));
const store = new SqliteStore({ path: join(tmp, 'mrv.sqlite'), log });
afterAll(async () => {
  await store.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** current: 400 + minute + 0.1 × k for k = 0..5 (every 10 s) → minute avg 400.25 + minute. energy: +1 per 10 s. */
beforeAll(async () => {
  await store.start();
  const readings: StoredReading[] = [];
  let seq = 1;
  for (let m = 0; m < MINUTES; m++)
    for (let k = 0; k < 6; k++) {
      const ts = T0 + m * MIN + k * 10_000;
      const base = { unitId: UNIT, gatewayId: 'gw1', device: 'd1', ts, rxTs: ts, seq: seq++ };
      readings.push({
        ...base,
        point: 'potline.current',
        meter: 'ct-1',
        value: String(400 + m + 0.1 * k),
        quality: 'good',
      });
      readings.push({ ...base, point: 'energy.dc_import', value: String(1000 + m * 6 + k), quality: 'good' });
      // ladle.net is unreachable during minute 7, good otherwise.
      readings.push(
        m === 7
          ? {
              ...base,
              point: 'ladle.net',
              value: null,
              quality: 'bad',
              reason: 'MRV_E_DEVICE_UNREACHABLE: ECONNREFUSED',
            }
          : { ...base, point: 'ladle.net', value: '2.5', quality: 'good' },
      );
    }
  await store.writeReadings(readings);
});

let platforms: Hj212Platform[] = [];
let uplinks: Hj212Uplink[] = [];
afterEach(async () => {
  for (const u of uplinks) await u.stop();
  for (const p of platforms) await p.stop();
  uplinks = [];
  platforms = [];
});

let n = 0;
function configFor(
  port: number,
  ackTimeoutMs = 1500,
  commands = '{ minute: { enabled: true }, hour: { enabled: false }, day: { enabled: false } }',
): ReturnType<typeof parseUplinkConfig> {
  n++;
  return parseUplinkConfig(
    `version: 1
unit: ${UNIT}
platform: { host: 127.0.0.1, port: ${port} }
ackTimeoutMs: ${ackTimeoutMs}
retries: 2
reconnectDelayMs: 50
maxReconnectDelayMs: 200
settleMs: 0
cursorFile: cursor-${n}.json
startFrom: "2026-01-15T00:00:00+08:00"
commands: ${commands}
devices:
  - mn: MN-TEST-0001
    passwordEnv: UNUSED
    points:
      - { point: potline.current, code: e01001, decimals: 3 }
      - { point: energy.dc_import, code: e02001, cou: delta }
      - { point: ladle.net, code: e03001 }
`,
    join(tmp, `uplink-${n}.yaml`),
  );
}

const catalogue: MeterCatalogue = {
  meters: [
    {
      id: 'ct-1',
      name: 'CT',
      kind: 'current-transducer',
      calibrations: [
        {
          certificate: 'C-1',
          kind: 'calibration',
          date: '2025-01-01',
          validUntil: '2026-01-14', // lapsed the day before the series
          body: 'Demo',
          result: 'pass',
        },
      ],
    },
  ],
  pointMeter: new Map([['potline.current', 'ct-1']]),
};

function startUplink(loaded: ReturnType<typeof parseUplinkConfig>, at: Clock = clock): Hj212Uplink {
  const u = new Hj212Uplink({
    loaded,
    passwords: new Map([['MN-TEST-0001', '123456']]),
    store,
    log,
    clock: at,
    catalogue,
  });
  uplinks.push(u);
  return u;
}

const minuteKey = (r: PlatformRecord) => `${r.cn}|${r.dataTime}|${r.pno ?? 1}`;

/** Minute DataTimes received, in order, and any that came twice. */
function received(records: PlatformRecord[]) {
  const data = records.filter((r) => r.cn === '2051');
  const counts = new Map<string, number>();
  for (const r of data) counts.set(minuteKey(r), (counts.get(minuteKey(r)) ?? 0) + 1);
  return {
    data,
    distinct: [...counts.keys()].map((k) => k.split('|')[1]),
    twice: [...counts.entries()].filter(([, c]) => c > 1).map(([k]) => k),
  };
}
const expectedTimes = Array.from({ length: MINUTES }, (_, m) => new Date(T0 + m * MIN).toISOString());

describe('HJ 212 uplink to the platform simulator', () => {
  it('delivers every minute once, CRC-valid and acknowledged, across a platform outage', async () => {
    const first = await startHj212Platform({
      ackDelayMs: 25,
      passwords: new Map([['MN-TEST-0001', '123456']]),
    });
    platforms.push(first);
    const loaded = configFor(first.port);
    const up = startUplink(loaded);
    await up.start();
    await expect
      .poll(() => received(first.records()).data.length, { timeout: 10_000, interval: 5 })
      .toBeGreaterThanOrEqual(8);
    await first.stop(); // outage mid-stream
    const beforeOutage = first.records();
    expect(received(beforeOutage).data.length).toBeLessThan(MINUTES);
    await new Promise((r) => setTimeout(r, 400));
    const second = await startHj212Platform({ port: first.port, ackDelayMs: 2 });
    platforms.push(second);
    await expect
      .poll(() => received([...beforeOutage, ...second.records()]).distinct.length, { timeout: 20_000 })
      .toBe(MINUTES);
    const all = [...beforeOutage, ...second.records()];
    const r = received(all);
    expect(all.filter((x) => x.error !== undefined)).toEqual([]); // every frame passed its CRC and length
    expect(r.twice).toEqual([]);
    expect(r.distinct).toEqual(expectedTimes);
    expect(r.data.every((x) => x.acked && x.mn === 'MN-TEST-0001' && x.st === '31' && x.flag === 5)).toBe(
      true,
    );
    expect(up.status()[0]?.counters.connects).toBeGreaterThanOrEqual(2);

    // Values and flags of minute 7.
    const m7 = r.data.find((x) => x.dataTime === expectedTimes[7])!;
    expect(m7.values).toEqual([
      // 400 + 7 + mean(0, .1, ..., .5); meter certificate lapsed → C.
      { code: 'e01001', min: '407.000', avg: '407.250', max: '407.500', flag: 'C' },
      // energy: max 1000 + 42 + 5 = 1047; previous minute's max 1041 → Cou 6.
      { code: 'e02001', cou: '6', min: '1042', avg: '1044.5', max: '1047', flag: 'N' },
      // ladle scale unreachable all minute: no value, B.
      { code: 'e03001', flag: 'B' },
    ]);
    await up.stop();
    const cursor = JSON.parse(readFileSync(loaded.cursorFile, 'utf8')) as {
      devices: Record<string, Record<string, string>>;
    };
    expect(cursor.devices['MN-TEST-0001']?.['2051']).toBe(new Date(T0 + MINUTES * MIN).toISOString());
  });

  it('without startFrom or cursor, begins with the minute in progress and sends it once it has ended', async () => {
    const platform = await startHj212Platform();
    platforms.push(platform);
    const fresh = configFor(platform.port);
    const loaded = { ...fresh, config: { ...fresh.config, startFrom: undefined } };
    // Plant time runs 60× faster than real time from 30 s into minute 5 of the series.
    const moving = new ScaledClock(T0 + 5 * MIN + 30_000, 60);
    const up = startUplink(loaded, moving);
    await up.start();
    await expect
      .poll(() => received(platform.records()).distinct.length, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(2);
    const r = received(platform.records());
    // Before the fix the "minute in progress" moved with the clock and nothing was ever sent.
    expect(r.distinct.slice(0, 2)).toEqual([expectedTimes[5], expectedTimes[6]]);
    expect(r.twice).toEqual([]);
  });

  it('resumes from its cursor file after a restart of the uplink: no gap, no duplicate', async () => {
    const platform = await startHj212Platform({ ackDelayMs: 20 });
    platforms.push(platform);
    const loaded = configFor(platform.port);
    const a = startUplink(loaded);
    await a.start();
    await expect
      .poll(() => received(platform.records()).data.length, { timeout: 10_000, interval: 5 })
      .toBeGreaterThanOrEqual(10);
    await a.stop(); // graceful: the message in flight is finished first
    const atStop = received(platform.records()).data.length;
    expect(atStop).toBeLessThan(MINUTES);
    const b = startUplink(loaded);
    await b.start();
    await expect.poll(() => received(platform.records()).distinct.length, { timeout: 20_000 }).toBe(MINUTES);
    const r = received(platform.records());
    expect(r.twice).toEqual([]);
    expect(r.distinct).toEqual(expectedTimes);
  });

  it('retransmits a packet whose acknowledgement does not come, then reconnects after the retry limit', async () => {
    // Minute 3: no ack for its first transmission (one retransmission then). Minute 5: no ack for its
    // first four transmissions: 3 per connection (1 + retries 2), so the link is re-made once.
    const drops = new Map<string, number>([
      [expectedTimes[3]!, 1],
      [expectedTimes[5]!, 4],
    ]);
    const platform = await startHj212Platform({
      dropAck: (rec) => {
        const left = drops.get(rec.dataTime ?? '') ?? 0;
        if (left > 0) drops.set(rec.dataTime!, left - 1);
        return left > 0;
      },
    });
    platforms.push(platform);
    const loaded = configFor(platform.port, 200);
    const up = startUplink(loaded);
    await up.start();
    await expect.poll(() => received(platform.records()).distinct.length, { timeout: 20_000 }).toBe(MINUTES);
    const r = received(platform.records());
    expect(r.distinct).toEqual(expectedTimes);
    const m3 = r.data.filter((x) => x.dataTime === expectedTimes[3]);
    expect(m3.map((x) => [x.acked, x.duplicate])).toEqual([
      [false, false],
      [true, true],
    ]);
    const m5 = r.data.filter((x) => x.dataTime === expectedTimes[5]);
    expect(m5).toHaveLength(5);
    expect(m5.at(-1)?.acked).toBe(true);
    // Every other minute exactly once: duplicates only where an acknowledgement was withheld.
    expect(r.twice.sort()).toEqual([`2051|${expectedTimes[3]}|1`, `2051|${expectedTimes[5]}|1`]);
    const s = up.status()[0]!;
    expect(s.counters.retransmissions).toBe(1 + 3);
    expect(s.counters.connects).toBe(2);
  });

  it('sends hour data and day data of the UTC+8 calendar day (from hour buckets)', async () => {
    const platform = await startHj212Platform();
    platforms.push(platform);
    const loaded = configFor(
      platform.port,
      1500,
      '{ minute: { enabled: false }, hour: { enabled: true }, day: { enabled: true } }',
    );
    const dayLater: Clock = { now: () => T0 + 86_400_000, sleep: systemClock.sleep };
    const up = startUplink(loaded, dayLater);
    await up.start();
    await expect
      .poll(() => platform.records().filter((r) => r.cn === '2031').length, { timeout: 10_000 })
      .toBe(1);
    const hours = platform.records().filter((r) => r.cn === '2061');
    expect(hours).toHaveLength(24);
    // Interval data go out in order of interval end: the day after its 24th hour.
    expect(platform.records().at(-1)?.cn).toBe('2031');
    const [h0] = hours;
    const day = platform.records().find((r) => r.cn === '2031')!;
    // Minutes 0..29: current mean 400.25 + 14.5; ladle.net good except minute 7.
    const current = { code: 'e01001', min: '400.000', avg: '414.750', max: '429.500', flag: 'C' };
    expect(h0?.dataTime).toBe(new Date(T0).toISOString());
    expect(h0?.values?.[0]).toEqual(current);
    expect(h0?.values?.[2]).toEqual({ code: 'e03001', min: '2.5', avg: '2.5', max: '2.5', flag: 'N' });
    expect(hours[1]?.values?.[0]).toEqual({ code: 'e01001', flag: 'B' });
    // The day starts at 00:00 UTC+8 (16:00 UTC the day before).
    expect(day.dataTime).toBe('2026-01-14T16:00:00.000Z');
    expect(day.values?.[0]).toEqual(current);
  });
});
