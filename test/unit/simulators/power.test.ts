// The coal-fired unit model, its register map, its Modbus front with fault controls, and
// examples/power-plant.site.yaml (the example's devices and points are the simulator's map).
import { readFileSync } from 'node:fs';
import ModbusRTU from 'modbus-serial';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SiteConfig } from '../../../core/schema/site.ts';
import { ManualClock } from '../../../core/time.ts';
import { ModbusPoint, ModbusTcpDevice } from '../../../drivers/modbus/config.ts';
import { decodeRaw } from '../../../drivers/modbus/decode.ts';
import { COUNTER_IDS, POWER_PARAMETERS, PowerPlantModel } from '../../../simulators/power/model.ts';
import {
  POWER_DEMO_PORTS,
  POWER_METERS,
  POWER_REGISTER_MAP,
} from '../../../simulators/power/register-map.ts';
import { type PowerSimulator, startPowerSimulator } from '../../../simulators/power/server.ts';
import { encodePoints, pointsBlock, toSitePoints } from '../../../simulators/shared/register-block.ts';

const START = Date.UTC(2026, 2, 1, 16); // 2026-03-02 00:00 China time
const HOUR = 3_600_000;
const bytes = (regs: number[]) => Buffer.from(regs.flatMap((r) => [r >> 8, r & 0xff]));

describe('PowerPlantModel', () => {
  it('is a function of seed and time, not of how it was advanced', () => {
    const a = new PowerPlantModel({ seed: 5, start: START });
    const b = new PowerPlantModel({ seed: 5, start: START });
    a.advanceTo(START + 2 * HOUR);
    for (let t = START; t <= START + 2 * HOUR; t += 77_777) b.advanceTo(t);
    b.advanceTo(START + 2 * HOUR);
    expect(b.snapshot()).toEqual(a.snapshot());
    const c = new PowerPlantModel({ seed: 6, start: START });
    c.advanceTo(START + 2 * HOUR);
    expect(c.snapshot().counters.genKwh).not.toBe(a.snapshot().counters.genKwh);
  });

  it('burns about 300 g of standard coal per kWh, and the conveyor follows the feeders over a day', () => {
    const m = new PowerPlantModel({ seed: 3, start: START, params: { tripsPerDay: 0 } });
    const a = m.snapshot();
    m.advanceTo(START + 24 * HOUR);
    const b = m.snapshot();
    const d = (k: (typeof COUNTER_IDS)[number]) => b.counters[k] - a.counters[k];
    const coalT = (d('feederAKg') + d('feederBKg')) / 1000;
    const genMwh = d('genKwh') / 1000;
    const heatGj = d('heat10MJ') / 100;
    const p = m.params;
    const standardT = (coalT * p.asFiredNcv) / p.standardCoalNcv;
    // Gross generation coal rate, with the heat's share taken out.
    const genRate = ((standardT - (heatGj * p.heatCoalKgPerGj) / 1000) * 1e6) / (genMwh * 1000);
    expect(genRate).toBeGreaterThan(280);
    expect(genRate).toBeLessThan(300);
    expect(genMwh / 24).toBeGreaterThan(180);
    expect(genMwh / 24).toBeLessThan(240);
    expect(heatGj / 24).toBeGreaterThan(110);
    expect(heatGj / 24).toBeLessThan(170);
    // Station service 5.5 % of gross; the switchyard exports the rest less transformer losses.
    expect(d('auxKwh') / d('genKwh')).toBeCloseTo(0.055, 2);
    expect(d('exportKwh') / d('genKwh')).toBeCloseTo(1 - 0.055 - 0.003, 2);
    expect(d('importKwh')).toBe(0);
    // Conveyor total = feeders + bunker inventory change, within the conveyor scale's 0.3 % bias.
    const conveyed = d('conveyor100Kg') / 10 / (1 + p.conveyorScaleBias);
    expect(conveyed - coalT - (b.bunkerT - a.bunkerT)).toBeCloseTo(0, -1);
    for (const k of COUNTER_IDS) expect(Number.isInteger(b.counters[k]), k).toBe(true);
  });

  it('a trip stops coal, load and steam and imports standby power from the grid', () => {
    const m = new PowerPlantModel({ seed: 4, start: START, params: { tripsPerDay: 0 } });
    m.advanceTo(START + 60_000);
    m.trip(3600);
    const a = m.snapshot();
    m.advanceTo(START + 60_000 + 1800_000);
    const b = m.snapshot();
    expect(b).toMatchObject({ running: false, grossMw: 0, feederATph: 0, feederBTph: 0, steamTph: 0 });
    expect(b.counters.genKwh).toBe(a.counters.genKwh);
    expect((b.counters.importKwh - a.counters.importKwh) / 1000).toBeCloseTo(1, 0); // 2 MW × 0.5 h
    m.advanceTo(START + 2 * HOUR);
    expect(m.snapshot().running).toBe(true);
  });
});

describe('examples/power-plant.site.yaml', () => {
  const doc: unknown = parse(
    readFileSync(new URL('../../../examples/power-plant.site.yaml', import.meta.url), 'utf8'),
  );
  const site = SiteConfig.parse(doc);
  const devices = site.devices.map((d) => ModbusTcpDevice.parse(d));

  it('has exactly the simulator register map: devices, ports, unit ids and points', () => {
    expect(devices.map((d) => d.id)).toEqual(POWER_REGISTER_MAP.map((d) => d.deviceId));
    for (const m of POWER_REGISTER_MAP) {
      const d = devices.find((x) => x.id === m.deviceId);
      expect(d?.host, m.deviceId).toBe('127.0.0.1');
      expect(d?.port, m.deviceId).toBe(POWER_DEMO_PORTS[m.port]);
      expect(d?.unitId, m.deviceId).toBe(m.unitId);
      expect(d?.pollIntervalMs, m.deviceId).toBe(m.pollIntervalMs);
      expect(d?.points, m.deviceId).toEqual(toSitePoints(m.points).map((p) => ModbusPoint.parse(p)));
      pointsBlock(m.deviceId, m.points); // contiguous, one table
    }
    for (const meter of Object.values(POWER_METERS))
      expect(
        site.meters.some((x) => x.id === meter),
        meter,
      ).toBe(true);
  });

  it('is documented point by point in simulators/power/README.md', () => {
    const readme = readFileSync(new URL('../../../simulators/power/README.md', import.meta.url), 'utf8');
    const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    for (const m of POWER_REGISTER_MAP)
      for (const p of m.points)
        expect(readme, p.id).toMatch(
          new RegExp(`\\| \`${esc(p.id)}\` +\\| ${p.table} +\\| ${p.address} +\\|`),
        );
    for (const [name, info] of Object.entries(POWER_PARAMETERS))
      expect(readme, name).toMatch(new RegExp(`\\| \`${name}\` +\\| ${esc(String(info.value))} +\\|`));
  });
});

describe('power simulator over Modbus TCP', () => {
  const clock = new ManualClock(START);
  let sim: PowerSimulator;
  const client = new ModbusRTU.default();
  beforeAll(async () => {
    sim = await startPowerSimulator({ seed: 9, clock });
  });
  afterAll(async () => {
    client.close(() => {});
    await sim.stop();
  });
  const connect = async (port: number, unit: number) => {
    if (client.isOpen) await new Promise<void>((r) => client.close(() => r()));
    await client.connectTCP('127.0.0.1', { port });
    client.setID(unit);
    client.setTimeout(500);
  };

  it('answers each device block as the map encodes it, and exceptions outside it', async () => {
    clock.advance(600_000);
    for (const m of POWER_REGISTER_MAP) {
      await connect(sim.ports[m.port], m.unitId);
      const block = pointsBlock(m.deviceId, m.points);
      const got =
        block.table === 'input'
          ? await client.readInputRegisters(block.start, block.count)
          : await client.readHoldingRegisters(block.start, block.count);
      expect(got.data, m.deviceId).toEqual(encodePoints(block, m.points, sim.model.snapshot()));
    }
    await connect(sim.ports.generator, 1);
    const gen = await client.readHoldingRegisters(0, 6);
    expect(Number(decodeRaw(bytes(gen.data), 0, 'uint32', 'CDAB'))).toBe(
      sim.model.snapshot().counters.genKwh,
    );
    await expect(client.readHoldingRegisters(4, 4)).rejects.toMatchObject({ modbusCode: 2 });
    await expect(client.readInputRegisters(0, 2)).rejects.toMatchObject({ modbusCode: 2 });
  });

  it('times out, answers exceptions and restarts per server and unit id', async () => {
    await connect(sim.ports.feeders, 2);
    sim.faults.feeders.exception(2);
    await expect(client.readInputRegisters(0, 4)).rejects.toMatchObject({ modbusCode: 4 });
    client.setID(1);
    expect((await client.readInputRegisters(0, 4)).data).toHaveLength(4); // feeder A unaffected
    sim.faults.feeders.clear(2);
    sim.restart('coal-feeder-b', 5000);
    client.setID(2);
    await expect(client.readInputRegisters(0, 4)).rejects.toThrow(/Timed out/);
    clock.advance(5000);
    await connect(sim.ports.feeders, 2); // a timed-out request leaves the transaction pending; reconnect
    expect((await client.readInputRegisters(0, 4)).data).toHaveLength(4);
    sim.resetTotalizer('heat10MJ');
    await connect(sim.ports.grid, 2);
    expect(decodeRaw(bytes((await client.readHoldingRegisters(0, 2)).data), 0, 'uint32', 'ABCD')).toBe('0');
  });
});
