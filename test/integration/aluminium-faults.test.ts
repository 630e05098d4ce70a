// The aluminium smelter's Modbus stations misbehave on command like the cement feeders (issue 3: "a
// simulated device can be told to time out, return exception codes, reset its totalizer or restart"),
// seen through our Modbus driver reading the example site file's devices.
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import type { Reading } from '../../core/schema/wire.ts';
import { ManualClock } from '../../core/time.ts';
import type { ModbusDevice } from '../../drivers/modbus/config.ts';
import { ModbusDriver } from '../../drivers/modbus/driver.ts';
import { parseSiteConfig } from '../../gateway/config.ts';
import { type AluminiumSimulator, startAluminiumSimulator } from '../../simulators/aluminium/server.ts';

const START = Date.UTC(2026, 1, 28, 16);
const clock = new ManualClock(START);
const log = pino({ level: 'silent' });
let sim: AluminiumSimulator;
let devices: Map<string, ModbusDevice>;

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
