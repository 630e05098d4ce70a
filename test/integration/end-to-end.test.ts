// The end-to-end slice with real parts only: the aluminium simulator over Modbus TCP → gateway →
// Mosquitto (QoS 1) → collector → InfluxDB → HTTP API. The clock is frozen, so the values the
// simulator serves are known exactly and every stored value must equal them to the last digit.
//
// Under load (issue 16 item 6): the frozen clock makes the pipeline come to rest once every device's
// cycle at the current instant is stored, and each comparison below waits for that rest (with a
// generous deadline) before it reads, so it never compares two reads of a system still moving. The
// example's 1 s Modbus timeout is raised for the test: on a starved machine a late answer would turn a
// reading bad, and the reconnect it causes waits on the frozen clock for ever.
import { readFileSync } from 'node:fs';
import { Decimal } from 'decimal.js';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { Collector } from '../../collector/collector.ts';
import { InfluxStore } from '../../collector/influx-store.ts';
import { LiveHub } from '../../collector/live.ts';
import { ManualClock } from '../../core/time.ts';
import { float32ToDecimalString } from '../../drivers/modbus/decode.ts';
import { parseSiteConfig } from '../../gateway/config.ts';
import { Gateway } from '../../gateway/gateway.ts';
import { buildServer } from '../../server/app.ts';
import type { RegisterPoint } from '../../simulators/aluminium/register-map.ts';
import { type AluminiumSimulator, startAluminiumSimulator } from '../../simulators/aluminium/server.ts';
import { startInfluxDb } from '../helpers/influxdb.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';

const SITE_FILE = new URL('../../examples/aluminium-smelter.site.yaml', import.meta.url);
const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
/** Modbus answer timeout for the test's devices: the simulator answers in ~1 ms, unless the box is starved. */
const DEVICE_TIMEOUT_MS = 15_000;
/** How long a poll cycle may take to reach the store on a loaded 2-core machine (~0.1 s when quiet). */
const DELIVERY_MS = 45_000;

/** The engineering value a point must show, computed from the model's raw value, not by our decoder. */
function expectedValue(p: RegisterPoint, raw: number): string {
  let exact: Decimal;
  if (p.type === 'float32') exact = new Decimal(float32ToDecimalString(Math.fround(raw)));
  else if (p.type === 'uint32') exact = new Decimal(((Math.trunc(raw) % 2 ** 32) + 2 ** 32) % 2 ** 32);
  else exact = new Decimal(Math.trunc(raw));
  return exact.times(p.scale ?? '1').toFixed();
}

describe('simulator → gateway → Mosquitto → collector → InfluxDB → API', () => {
  const clock = new ManualClock(Date.parse('2026-11-15T08:00:00.000Z'));
  let sim: AluminiumSimulator;
  let stops: (() => Promise<void>)[] = [];
  let store: InfluxStore;
  let collector: Collector;
  let unitId: string;
  let pointCount = 0;

  beforeAll(async () => {
    // Six hours of plant history before "now", so counters, tickets and anode effects have moved.
    sim = await startAluminiumSimulator({ clock, seed: 7, start: clock.now() - 6 * 3600_000 });
    stops.push(() => sim.stop());
    const [mosquitto, influx] = await Promise.all([startMosquitto(), startInfluxDb()]);
    stops.push(
      () => mosquitto.stop(),
      () => influx.stop(),
    );

    const doc = parseDocument(readFileSync(SITE_FILE, 'utf8'));
    const devices = doc.toJS().devices as { id: string }[];
    for (const [i, d] of devices.entries()) {
      const station = Object.values(sim.registerMap).find((s) => s.deviceId === d.id);
      if (!station) throw new Error(`device ${d.id} of the example site is not a simulator station`);
      doc.setIn(['devices', i, 'port'], sim.ports[station.id]);
      doc.setIn(['devices', i, 'timeoutMs'], DEVICE_TIMEOUT_MS);
    }
    const site = parseSiteConfig(String(doc), 'aluminium-smelter.site.yaml');
    unitId = site.site.unit.id;
    pointCount = site.devices.reduce((n, d) => n + d.config.points.length, 0);

    store = new InfluxStore({ url: influx.url, database: 'e2e' });
    await store.start();
    collector = new Collector({
      url: mosquitto.url,
      store,
      live: new LiveHub(),
      log,
      clock,
      clientId: 'e2e-collector',
    });
    await collector.start();
    const gateway = new Gateway({ site, log, clock, mqttUrl: mosquitto.url });
    await gateway.start();
    stops = [() => gateway.stop(), () => collector.stop(), () => store.stop(), ...stops];
  });

  afterAll(async () => {
    for (const stop of stops) await stop();
  });

  async function storedPoints() {
    return (await store.listPoints(unitId)) ?? [];
  }

  /**
   * Waits until every point's last reading is from the poll cycle at the (frozen) current instant.
   * From then on nothing moves until the clock does: every device's poll loop sleeps on the clock.
   */
  async function settled(): Promise<void> {
    const now = new Date(clock.now()).toISOString();
    await expect
      .poll(async () => (await storedPoints()).filter((p) => p.last?.ts === now).length, {
        timeout: DELIVERY_MS,
        interval: 100,
      })
      .toBe(pointCount);
  }

  it('stores every point with exactly the value the simulator served', {
    timeout: DELIVERY_MS + 15_000,
  }, async () => {
    await settled();
    const snapshot = sim.model.snapshot();
    const stored = new Map((await storedPoints()).map((p) => [p.id, p]));
    let compared = 0;
    for (const station of Object.values(sim.registerMap))
      for (const p of station.points) {
        const s = stored.get(p.id);
        expect(s?.device, p.id).toBe(station.deviceId);
        expect(s?.last, p.id).toEqual({
          ts: new Date(clock.now()).toISOString(),
          value: expectedValue(p, p.raw(snapshot)),
          quality: 'good',
        });
        compared++;
      }
    expect(compared).toBe(pointCount);
    expect(collector.counters.invalidPayloads).toBe(0);
  });

  it('lists the unit as online with its last data time', { timeout: 2 * DELIVERY_MS + 15_000 }, async () => {
    // The retained status and the data travel separately: wait for both before one read of the unit.
    await settled();
    await expect
      .poll(async () => (await store.listUnits()).find((u) => u.id === unitId)?.online, {
        timeout: DELIVERY_MS,
        interval: 100,
      })
      .toBe(true);
    const unit = (await store.listUnits()).find((u) => u.id === unitId);
    expect(unit).toMatchObject({ industry: 'aluminium', lastDataAt: new Date(clock.now()).toISOString() });
  });

  it('keeps polling on schedule: the next cycle lands with the next values', {
    timeout: DELIVERY_MS + 15_000,
  }, async () => {
    const t0 = clock.now();
    clock.advance(60_000); // wakes every device's poll loop at t0 + 60 s
    const current = sim.registerMap.potline.points.find((p) => p.id === 'potline.current');
    if (!current) throw new Error('potline.current missing from the register map');
    // Every device's cycle at t0 + 60 s, not only the pot-line's: the next test reads the store at rest.
    await settled();
    const series = await store.series({ unitId, pointId: 'potline.current', from: t0, to: clock.now() + 1 });
    expect(series).toHaveLength(2);
    sim.model.advanceTo(clock.now()); // the reads already moved it here; the snapshot is of that instant
    const snapshot = sim.model.snapshot();
    expect(series[1]).toMatchObject({
      ts: new Date(clock.now()).toISOString(),
      value: expectedValue(current, current.raw(snapshot)),
      count: 1,
    });
  });

  it('serves the stored values through the HTTP API', { timeout: DELIVERY_MS + 15_000 }, async () => {
    // The API and the store are read one after the other: only a store at rest gives both the same state.
    await settled();
    const app = buildServer({ store, live: new LiveHub(), logger: false });
    try {
      const units = (await app.inject('/api/v1/units')).json() as { id: string }[];
      expect(units.map((u) => u.id)).toContain(unitId);
      const res = await app.inject(`/api/v1/units/${unitId}/points`);
      expect(res.statusCode).toBe(200);
      const points = res.json() as { id: string; last: { ts: string; value: string } | null }[];
      const fromStore = new Map((await storedPoints()).map((p) => [p.id, p.last]));
      expect(points).toHaveLength(pointCount);
      for (const p of points) expect(p.last, p.id).toEqual(fromStore.get(p.id));
      // And what both show is the cycle at the current instant, not some earlier one.
      const now = new Date(clock.now()).toISOString();
      expect(points.filter((p) => p.last?.ts !== now).map((p) => p.id)).toEqual([]);
    } finally {
      await app.close();
    }
  });
});
