/**
 * `mrv demo --speed 2880`: the cement plant's three substitute feeders sit behind one serial-to-Ethernet
 * converter (RTU over TCP, unit ids 4–6). RTU has one request on the wire at a time and each answer is
 * followed by a silence guard of at least 20 ms of real time (drivers/modbus/rtu-port.ts), so the three
 * feeders take turns on one line. The demo declared the same 720 s of plant time (250 ms real) per
 * feeder as for a device with a line of its own: six requests per 250 ms did not fit on a busy
 * machine and the feeders kept ~70 % (measured 14–47 of 40–60 expected here), while the TCP scales
 * kept 100 %. The demo now declares the floor times the devices on the line, twice: each RTU answer
 * counts only after the device's answer window (drivers/modbus/rtu-guard.ts), and at once the
 * devices on the line the three-unit demo on a loaded machine kept 84–85 % (cli/demo-units.ts).
 *
 * Real parts: the cement simulator on a ScaledClock, the demo's cement site file as the demo loads it,
 * and the Modbus drivers the gateway runs, for ~45 s of real time; host stalls of 40 ms every 400 ms
 * stand for the rest of the demo process (gateways, collector, store, server).
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_RTU_REQUEST_SHARE, demoMinPollMs, loadDemoSite } from '../../cli/demo-units.ts';
import { effectiveIntervalMs } from '../../core/domain/completeness.ts';
import type { Reading } from '../../core/schema/wire.ts';
import { ScaledClock, systemClock } from '../../core/time.ts';
import type { ModbusDevice } from '../../drivers/modbus/config.ts';
import { ModbusDriver } from '../../drivers/modbus/driver.ts';
import { type CementSimulator, startCementSimulator } from '../../simulators/cement/server.ts';

const SPEED = 2880;
const root = new URL('../..', import.meta.url).pathname;
const log = pino({ level: 'silent' });
let sim: CementSimulator;
const clock = new ScaledClock(Date.parse('2026-11-01T00:00:00+08:00'), SPEED, systemClock);

beforeAll(async () => {
  sim = await startCementSimulator({ seed: 42, clock, tcpPort: 0, rtuOverTcpPort: 0 });
});
afterAll(async () => {
  await sim?.stop();
});

describe('demo cement plant at --speed 2880: feeders sharing one RTU line', () => {
  it('declares the floor times the three devices on the line, twice, and every device keeps its declared interval', async () => {
    const site = loadDemoSite(`${root}examples/cement-plant.site.yaml`, 0, demoMinPollMs(SPEED));
    const devices = site.devices.map((d) => d.config as ModbusDevice);
    const interval = (d: ModbusDevice) =>
      Math.max(
        ...d.points.map(
          (p) =>
            effectiveIntervalMs(
              d as unknown as Record<string, unknown>,
              p as unknown as Record<string, unknown>,
            ).ms,
        ),
      );
    const rtu = devices.filter((d) => d.driver === 'modbus-rtu-over-tcp');
    expect(rtu.map((d) => d.unitId).sort()).toEqual([4, 5, 6]);
    for (const d of rtu) expect(interval(d)).toBe(DEMO_RTU_REQUEST_SHARE * 3 * 720_000);
    for (const d of devices.filter((x) => x.driver === 'modbus-tcp')) expect(interval(d)).toBe(720_000);

    const totals = new Map<string, Reading[]>();
    const drivers = devices.map((d) => {
      const port = d.driver === 'modbus-tcp' ? sim.ports.tcp : sim.ports.rtuOverTcp;
      return new ModbusDriver({ ...d, port } as ModbusDevice, { clock, log });
    });
    // The rest of the demo process: it takes the event loop 10 % of the time.
    const busy = setInterval(() => {
      const end = Date.now() + 40;
      while (Date.now() < end);
    }, 400);
    const from = clock.now();
    try {
      for (const drv of drivers) {
        totals.set(drv.config.id, []);
        await drv.start((rs) =>
          totals.get(drv.config.id)?.push(...rs.filter((r) => r.point.endsWith('.total'))),
        );
      }
      await new Promise((r) => setTimeout(r, 45_000));
    } finally {
      clearInterval(busy);
      await Promise.all(drivers.map((d) => d.stop()));
    }
    const elapsed = clock.now() - from;
    for (const d of devices) {
      const got = totals.get(d.id) ?? [];
      const good = got.filter((r) => r.quality === 'good').length;
      // Readings expected by the declared interval over the elapsed plant time (the first read at 0).
      const expected = Math.floor(elapsed / interval(d));
      expect(got.filter((r) => r.quality !== 'good')).toEqual([]);
      expect(good, `${d.id}: ${good} good of ${expected} expected`).toBeGreaterThanOrEqual(expected);
    }
  }, 120_000);
});
