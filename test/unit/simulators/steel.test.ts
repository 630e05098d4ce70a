// The steel plant model (deterministic, plausible) and its example site file (equal to the OPC UA map).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SiteConfig } from '../../../core/schema/site.ts';
import { OpcuaDevice } from '../../../drivers/opcua/config.ts';
import { parseSiteConfig } from '../../../gateway/config.ts';
import {
  ladleRegisters,
  STEEL_LADLE_REGISTER_COUNT,
  STEEL_LADLE_UNIT_ID,
  STEEL_MODBUS_DEMO_PORT,
} from '../../../simulators/steel/modbus-server.ts';
import { SteelPlantModel } from '../../../simulators/steel/model.ts';
import { STEEL_DEMO_PORT, STEEL_VARIABLES } from '../../../simulators/steel/opcua-map.ts';

const START = Date.UTC(2026, 2, 1) - 8 * 3600_000; // 2026-03-01 00:00 CST
const DAY = 86_400_000;

describe('SteelPlantModel', () => {
  it('is a function of (seed, start, t), whatever the steps', () => {
    const a = new SteelPlantModel({ seed: 7, start: START });
    const b = new SteelPlantModel({ seed: 7, start: START });
    a.advanceTo(START + DAY / 4);
    for (let t = START; t <= START + DAY / 4; t += 997_000) b.advanceTo(t);
    b.advanceTo(START + DAY / 4);
    expect(b.snapshot()).toEqual(a.snapshot());
    const c = new SteelPlantModel({ seed: 8, start: START });
    c.advanceTo(START + DAY / 4);
    expect(c.snapshot().totals).not.toEqual(a.snapshot().totals);
  });

  it('makes about a day of a 120 t BOF and the fuel totals of its set-points', () => {
    const m = new SteelPlantModel({ seed: 1, start: START });
    m.advanceTo(START + DAY);
    const s = m.snapshot();
    expect(s.bof.heats).toBeGreaterThanOrEqual(33);
    expect(s.bof.heats).toBeLessThanOrEqual(39);
    expect(s.bof.crudeSteelTotalKg / s.bof.heats).toBeCloseTo(120_000, -4);
    expect(s.bof.ldgTotalNm3).toBeCloseTo((s.bof.crudeSteelTotalKg / 1000) * 100, -1);
    // 24 h at the set-point within the drift (a few per cent).
    expect(s.totals.cog / (20_000 * 24)).toBeGreaterThan(0.9);
    expect(s.totals.cog / (20_000 * 24)).toBeLessThan(1.1);
    expect(s.totals.pci / (36_000 * 24)).toBeGreaterThan(0.9);
    for (const v of Object.values(s.totals)) expect(Number.isInteger(v)).toBe(true);
    expect(s.bof.heatNo).toBe(s.bof.heats);
  });

  it('refuses nonsense parameters', () => {
    expect(() => new SteelPlantModel({ seed: 1, start: START, params: { heatIntervalS: 0 } })).toThrow(
      RangeError,
    );
    expect(() => new SteelPlantModel({ seed: 1, start: Number.NaN })).toThrow(RangeError);
  });
});

describe('examples/steel-plant.site.yaml', () => {
  const file = new URL('../../../examples/steel-plant.site.yaml', import.meta.url);
  const text = readFileSync(file, 'utf8');

  it('is a valid steel site file for the gateway', () => {
    const site = SiteConfig.parse(parse(text));
    expect(site.unit.industry).toBe('steel');
    expect(site.unit.id).toHaveLength(18);
    const loaded = parseSiteConfig(text, 'steel-plant.site.yaml');
    expect(loaded.devices.map((d) => d.kind.name)).toEqual(['opcua', 'modbus-tcp']);
  });

  it('reads the ladle scale over Modbus on its demo port, decoding the simulator registers', () => {
    const loaded = parseSiteConfig(text, 'steel-plant.site.yaml');
    const scale = loaded.devices[1]?.config as unknown as {
      port: number;
      unitId: number;
      points: { address: number; type: string; meter: string; parameter?: string }[];
    };
    expect(scale.port).toBe(STEEL_MODBUS_DEMO_PORT);
    expect(scale.unitId).toBe(STEEL_LADLE_UNIT_ID);
    expect(scale.points.map((p) => [p.address, p.type])).toEqual([
      [0, 'uint32'],
      [2, 'uint32'],
      [4, 'uint64'],
      [8, 'bool'],
    ]);
    // A cross-check: the key parameter stays on the OPC UA point only.
    expect(scale.points.every((p) => p.meter === 'ladle-scale-bof1' && p.parameter === undefined)).toBe(true);
    const regs = ladleRegisters({
      time: 0,
      tick: 0,
      bof: {
        heatNo: 70_000,
        time: 0,
        netKg: 121_234,
        crudeSteelTotalKg: 2 ** 40 + 5,
        heats: 1,
        ldgTotalNm3: 0,
      },
      rates: {} as never,
      totals: {} as never,
    });
    expect(regs).toHaveLength(STEEL_LADLE_REGISTER_COUNT);
    expect(regs[0]! * 65536 + regs[1]!).toBe(70_000);
    expect(regs[2]! * 65536 + regs[3]!).toBe(121_234);
    expect(regs.slice(4, 8)).toEqual([0, 0x100, 0, 5]);
    expect(regs[8]).toBe(1);
  });

  it('reads exactly the simulator variables, on the demo port', () => {
    const device = OpcuaDevice.parse(SiteConfig.parse(parse(text)).devices[0]);
    expect(device.endpointUrl).toBe(`opc.tcp://127.0.0.1:${STEEL_DEMO_PORT}`);
    expect(device.points.map((p) => [p.id, p.nodeId, p.meter, p.parameter, p.aggregation])).toEqual(
      STEEL_VARIABLES.map((v) => [v.point, `ns=1;s=${v.id}`, v.meter, v.parameter, v.aggregation]),
    );
    for (const p of device.points) {
      const v = STEEL_VARIABLES.find((x) => x.point === p.id);
      expect(p.scale === '0.001', p.id).toBe(v?.unit === 'kg');
    }
  });

  it('covers every day of 2026 with a valid certificate for every meter', () => {
    const site = SiteConfig.parse(parse(text));
    for (const m of site.meters)
      for (let t = Date.UTC(2026, 0, 1); t < Date.UTC(2027, 0, 1); t += DAY) {
        const day = new Date(t).toISOString().slice(0, 10);
        expect(
          m.calibrations.some((c) => c.date <= day && day <= c.validUntil),
          `${m.id} ${day}`,
        ).toBe(true);
      }
  });
});
