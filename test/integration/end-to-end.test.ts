// The end-to-end slice with real parts only: the aluminium simulator over Modbus TCP → gateway →
// Mosquitto (QoS 1) → collector → InfluxDB → HTTP API. The clock is frozen, so the values the
// simulator serves are known exactly and every stored value must equal them to the last digit.
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

  it('stores every point with exactly the value the simulator served', async () => {
    await expect
      .poll(async () => (await storedPoints()).filter((p) => p.last !== null).length, { timeout: 20_000 })
      .toBe(pointCount);
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

  it('lists the unit as online with its last data time', async () => {
    await expect.poll(async () => (await store.listUnits()).find((u) => u.id === unitId)?.online).toBe(true);
    const unit = (await store.listUnits()).find((u) => u.id === unitId);
    expect(unit).toMatchObject({ industry: 'aluminium', lastDataAt: new Date(clock.now()).toISOString() });
  });

  it('keeps polling on schedule: the next cycle lands with the next values', async () => {
    const t0 = clock.now();
    clock.advance(60_000); // wakes every device's poll loop at t0 + 60 s
    const current = sim.registerMap.potline.points.find((p) => p.id === 'potline.current');
    if (!current) throw new Error('potline.current missing from the register map');
    await expect
      .poll(
        async () =>
          (await store.series({ unitId, pointId: 'potline.current', from: t0, to: clock.now() + 1 })).length,
        {
          timeout: 10_000,
        },
      )
      .toBe(2);
    const series = await store.series({ unitId, pointId: 'potline.current', from: t0, to: clock.now() + 1 });
    sim.model.advanceTo(clock.now()); // the reads already moved it here; the snapshot is of that instant
    const snapshot = sim.model.snapshot();
    expect(series[1]).toMatchObject({
      ts: new Date(clock.now()).toISOString(),
      value: expectedValue(current, current.raw(snapshot)),
      count: 1,
    });
  });

  it('serves the stored values through the HTTP API', async () => {
    const app = buildServer({ store, live: new LiveHub(), logger: false });
    try {
      const units = (await app.inject('/api/v1/units')).json() as { id: string }[];
      expect(units.map((u) => u.id)).toContain(unitId);
      const res = await app.inject(`/api/v1/units/${unitId}/points`);
      expect(res.statusCode).toBe(200);
      const points = res.json() as { id: string; last: { value: string } | null }[];
      const fromStore = new Map((await storedPoints()).map((p) => [p.id, p.last?.value]));
      expect(points).toHaveLength(pointCount);
      for (const p of points) expect(p.last?.value, p.id).toBe(fromStore.get(p.id));
    } finally {
      await app.close();
    }
  });
});
