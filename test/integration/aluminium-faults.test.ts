// The aluminium smelter's Modbus stations misbehave on command like the cement feeders (issue 3: "a
// simulated device can be told to time out, return exception codes, reset its totalizer or restart"),
// seen through our Modbus driver reading the example site file's devices.
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { type Sample, TotalizerAccumulator } from '../../core/domain/aggregate.ts';
import { evaluatePeriodRules, SampleRuleRunner } from '../../core/domain/rules.ts';
import type { Reading } from '../../core/schema/wire.ts';
import { ManualClock } from '../../core/time.ts';
import type { ModbusDevice } from '../../drivers/modbus/config.ts';
import { ModbusDriver } from '../../drivers/modbus/driver.ts';
import { catalogueFromSites, loadRulePack } from '../../evidence/service.ts';
import { parseSiteConfig } from '../../gateway/config.ts';
import { type AluminiumSimulator, startAluminiumSimulator } from '../../simulators/aluminium/server.ts';

const START = Date.UTC(2026, 1, 28, 16);
const clock = new ManualClock(START);
const log = pino({ level: 'silent' });
let sim: AluminiumSimulator;
let devices: Map<string, ModbusDevice>;
let siteConfig: ReturnType<typeof parseSiteConfig>['site'];

beforeAll(async () => {
  sim = await startAluminiumSimulator({ seed: 4, clock, start: START });
  clock.advance(6 * 3_600_000); // some energy and a few ladle tickets
  const file = new URL('../../examples/aluminium-smelter.site.yaml', import.meta.url).pathname;
  const doc = parseDocument(readFileSync(file, 'utf8'));
  (doc.toJS().devices as { id: string }[]).forEach((d, i) => {
    const station = Object.values(sim.registerMap).find((s) => s.deviceId === d.id);
    doc.setIn(['devices', i, 'port'], station ? sim.ports[station.id] : 1);
    doc.setIn(['devices', i, 'timeoutMs'], 300);
    doc.setIn(['devices', i, 'retries'], 0);
  });
  const site = parseSiteConfig(String(doc), file);
  siteConfig = site.site;
  devices = new Map(site.devices.map((d) => [d.id, d.config as unknown as ModbusDevice]));
});

afterAll(async () => {
  await sim?.stop();
});

/** One poll of a station's device through the Modbus driver. */
async function poll(station: keyof AluminiumSimulator['ports']): Promise<Map<string, Reading>> {
  const deviceId = sim.registerMap[station].deviceId;
  const config = devices.get(deviceId);
  if (!config) throw new Error(`no device ${deviceId}`);
  const driver = new ModbusDriver(config, { clock, log });
  try {
    return new Map((await driver.pollOnce()).map((r) => [r.point, r]));
  } finally {
    await driver.stop();
  }
}

describe('aluminium simulator faults', () => {
  it('answers exception 04 and then silence on command, and recovers on clear', async () => {
    sim.faults.ladle.exception(4);
    expect((await poll('ladle')).get('ladle.net')).toMatchObject({
      quality: 'bad',
      reason: expect.stringMatching(/^MRV_E_MODBUS_EXCEPTION/),
    });
    // Only the station told so: the pot-line still answers.
    expect((await poll('potline')).get('potline.current')?.quality).toBe('good');
    sim.faults.ladle.timeout();
    expect((await poll('ladle')).get('ladle.net')).toMatchObject({
      quality: 'bad',
      reason: expect.stringMatching(/^MRV_E_MODBUS_TIMEOUT/),
    });
    sim.faults.ladle.clear();
    expect((await poll('ladle')).get('ladle.net')?.quality).toBe('good');
  });

  it('resets the energy and ladle totalizers to 0 and counts on from there', async () => {
    const before = (await poll('energy')).get('energy.dc_import');
    expect(Number(before?.value)).toBeGreaterThan(0);
    const ladleBefore = (await poll('ladle')).get('ladle.net_total');
    expect(Number(ladleBefore?.value)).toBeGreaterThan(0);
    sim.resetTotalizer('energy');
    sim.resetTotalizer('ladle');
    expect((await poll('energy')).get('energy.dc_import')?.value).toBe('0');
    expect((await poll('ladle')).get('ladle.net_total')?.value).toBe('0');
    clock.advance(600_000);
    const after = Number((await poll('energy')).get('energy.dc_import')?.value);
    expect(after).toBeGreaterThan(0);
    // About 10 min of a ~400 kA × ~4.2 V × cells line, far below the reading before the reset.
    expect(after).toBeLessThan(Number(before?.value));
  });

  it('restarts a station: silent for the down time, then answering again', async () => {
    sim.restart('anode', 60_000);
    const down = await poll('anode');
    expect([...down.values()].every((r) => r.quality === 'bad')).toBe(true);
    clock.advance(60_000);
    const up = await poll('anode');
    expect([...up.values()].every((r) => r.quality === 'good')).toBe(true);
  });
});

// Issue 18 item 4: each fault control still trips its validation rule, read through the Modbus driver
// and judged by the rule engine with the example site's catalogue (the engine `mrv evidence` runs).
describe('aluminium fault controls trip their rules', () => {
  /** Polls a station `n` times, `stepMs` of simulated time apart, appending its readings per point. */
  async function collect(
    into: Map<string, Sample[]>,
    station: 'potline' | 'energy',
    n: number,
    stepMs: number,
  ) {
    for (let i = 0; i < n; i++) {
      clock.advance(stepMs);
      for (const r of (await poll(station)).values()) {
        const xs = into.get(r.point) ?? [];
        xs.push({ ts: Date.parse(r.ts), value: r.value, quality: r.quality });
        into.set(r.point, xs);
      }
    }
  }

  it('a set-point step, a line current above 500 kA and a failed cell sensor; nothing while steady', async () => {
    const c = catalogueFromSites(siteConfig.unit.id, [siteConfig]);
    if (!c) throw new Error('no catalogue');
    const pack = loadRulePack('aluminium');
    const t0 = clock.now();
    const readings = new Map<string, Sample[]>();
    await collect(readings, 'potline', 90, 1000); // steady: 90 s of 1 s polls
    const tStep = clock.now();
    sim.model.setLineCurrent(440); // +40 kA at once
    await collect(readings, 'potline', 90, 1000);
    const tHigh = clock.now();
    sim.model.setLineCurrent(520);
    await collect(readings, 'potline', 20, 1000);
    sim.model.setLineCurrent(undefined);
    const tSensor = clock.now();
    sim.model.failCellSensor(3);
    await collect(readings, 'potline', 5, 1000);
    sim.model.failCellSensor(3, false);
    await collect(readings, 'potline', 5, 1000);
    const runner = new SampleRuleRunner(
      pack,
      c.points,
      { unitId: c.unit.id, from: t0, to: clock.now() + 1, at: clock.now() },
      c.rules,
    );
    for (const [point, xs] of readings) runner.push(point, xs);
    const f = runner.finish();
    const byRule = (id: string) => f.filter((x) => x.rule === id);
    // Nothing from the steady minute and a half.
    expect(f.filter((x) => Date.parse(x.ts) < tStep)).toEqual([]);
    // The +40 kA step: a rate of change over the 60 s window; the step to 520 kA another, and the band.
    expect(byRule('AL-TH-002').map((x) => Date.parse(x.ts) >= tStep)).toEqual([true, true]);
    expect(byRule('AL-TH-001')).toHaveLength(1);
    expect(Date.parse(byRule('AL-TH-001')[0]?.ts as string)).toBeGreaterThanOrEqual(tHigh);
    expect(Number(byRule('AL-TH-001')[0]?.detail.worst)).toBeGreaterThan(500);
    // The failed sensor reads 65.535 V on cell 3 only.
    expect(byRule('AL-TE-002').map((x) => [x.point, x.detail.worst, x.detail.count])).toEqual([
      ['potline.cell03.voltage', '65.535', 5],
    ]);
    expect(Date.parse(byRule('AL-TE-002')[0]?.ts as string)).toBeGreaterThan(tSensor);
  });

  it("an energy totalizer reset is a counter reset finding (AL-LC-001), bridged by the meter's physics", async () => {
    const c = catalogueFromSites(siteConfig.unit.id, [siteConfig]);
    if (!c) throw new Error('no catalogue');
    const p = c.points.find((x) => x.id === 'energy.dc_import');
    if (!p?.maxRate || !p.rolloverAt) throw new Error('energy.dc_import declares no maxRate or modulus');
    const t0 = clock.now();
    const readings = new Map<string, Sample[]>();
    await collect(readings, 'energy', 10, 1000);
    sim.resetTotalizer('energy');
    await collect(readings, 'energy', 10, 1000);
    const acc = new TotalizerAccumulator({
      from: t0,
      to: clock.now() + 1,
      rolloverAt: p.rolloverAt,
      maxRatePerHour: p.maxRate,
      timeSlackMs: p.expectedIntervalMs,
    });
    acc.push(readings.get(p.id) ?? []);
    const r = acc.result();
    expect(r.resets).toHaveLength(1);
    expect(r.rollovers).toEqual([]);
    const f = evaluatePeriodRules(
      loadRulePack('aluminium'),
      {
        parameters: new Map(),
        points: new Map(),
        counterEvents: new Map([[p.id, r.resets]]),
        days: '1',
        catalogue: c.points,
      },
      { unitId: c.unit.id, from: t0, to: clock.now() + 1, at: clock.now() },
    );
    expect(f.map((x) => [x.rule, x.code, x.point])).toEqual([
      ['AL-LC-001', 'MRV_F_COUNTER_RESET', 'energy.dc_import'],
    ]);
  });
});
