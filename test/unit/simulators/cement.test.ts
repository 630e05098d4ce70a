// The cement line model, its register map, its fault controls, and examples/cement-plant.site.yaml.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ModbusPoint } from '../../../drivers/modbus/config.ts';
import { decodeRaw, decodeString, registerCount } from '../../../drivers/modbus/decode.ts';
import { parseSiteConfig } from '../../../gateway/config.ts';
import { CementPlantModel, FEEDER_IDS, FEEDERS } from '../../../simulators/cement/model.ts';
import {
  CEMENT_METERS,
  encodeHolding,
  feederPoints,
  readFeeder,
} from '../../../simulators/cement/register-map.ts';
import { CEMENT_DEMO_PORTS } from '../../../simulators/cement/server.ts';

const START = Date.UTC(2026, 1, 28, 16);
const bytes = (regs: number[]) => Buffer.from(regs.flatMap((r) => [r >> 8, r & 0xff]));

describe('CementPlantModel', () => {
  it('is a function of seed and time, not of how it was advanced', () => {
    const a = new CementPlantModel({ seed: 5, start: START });
    const b = new CementPlantModel({ seed: 5, start: START });
    a.advanceTo(START + 7_200_000);
    for (let t = START; t <= START + 7_200_000; t += 77_777) b.advanceTo(t);
    b.advanceTo(START + 7_200_000);
    for (const f of FEEDER_IDS) expect(b.feeder(f)).toEqual(a.feeder(f));
  });

  it('moves about the nominal mass, in whole kg, while the kiln runs', () => {
    const m = new CementPlantModel({ seed: 2, start: START, params: { kilnStopsPerDay: 0 } });
    m.advanceTo(START + 3_600_000);
    const clinkerKg = m.feeder('clinker').totalKg - m.params.initialClinkerTotalKg;
    expect(clinkerKg).toBeGreaterThan(190_000);
    expect(clinkerKg).toBeLessThan(226_000);
    expect(Number.isInteger(m.feeder('flyAsh').totalKg)).toBe(true);
  });

  it('resets a totalizer and flags a restart', () => {
    const m = new CementPlantModel({ seed: 2, start: START });
    m.advanceTo(START + 60_000);
    m.resetTotalizer('steelSlag');
    m.restart('steelSlag');
    expect(m.feeder('steelSlag')).toMatchObject({ totalKg: 0, resets: 1, restarted: true });
    const holding = encodeHolding('steelSlag', m.feeder('steelSlag'));
    expect(decodeRaw(bytes(holding), 8, 'bool', 'AB', 2)).toBe('1');
    m.acknowledge('steelSlag');
    expect(m.feeder('steelSlag').restarted).toBe(false);
  });
});

describe('cement register map', () => {
  it('encodes rate, totalizer, status and the material name where the points say', () => {
    const m = new CementPlantModel({ seed: 9, start: START });
    m.advanceTo(START + 600_000);
    const s = m.feeder('carbideSlag');
    const regs = bytes(readFeeder('carbideSlag', s, 'holding', 0, 16));
    expect(decodeRaw(regs, 4, 'uint32', 'CDAB')).toBe(String(s.totalKg));
    expect(Number(decodeRaw(regs, 0, 'float32', 'ABCD'))).toBeCloseTo(s.rateTph, 3);
    expect(decodeRaw(regs, 10, 'uint16', 'AB')).toBe(String(FEEDERS.carbideSlag.substituteType));
    expect(decodeString(regs, 16, 8, 'AB')).toBe('CARBIDE SLAG');
    expect(() => readFeeder('carbideSlag', s, 'holding', 10, 7)).toThrow(
      expect.objectContaining({ modbusErrorCode: 2 }),
    );
    expect(() => readFeeder('carbideSlag', s, 'input', 0, 1)).toThrow(
      expect.objectContaining({ modbusErrorCode: 2 }),
    );
  });
});

describe('examples/cement-plant.site.yaml', () => {
  const file = new URL('../../../examples/cement-plant.site.yaml', import.meta.url);
  const site = parseSiteConfig(readFileSync(file, 'utf8'), 'cement-plant.site.yaml');

  it('is a valid cement site file whose devices read the simulator on its demo ports', () => {
    expect(site.site.unit.industry).toBe('cement');
    expect(site.devices).toHaveLength(FEEDER_IDS.length);
    for (const f of FEEDER_IDS) {
      const d = site.devices.find(
        (x) => (x.config as unknown as { unitId: number }).unitId === FEEDERS[f].unitId,
      );
      const config = d?.config as unknown as { port: number; points: ModbusPoint[] };
      expect([CEMENT_DEMO_PORTS.tcp, CEMENT_DEMO_PORTS.rtuOverTcp]).toContain(config.port);
      expect(config.points).toEqual(feederPoints(f, CEMENT_METERS[f]).map((p) => ModbusPoint.parse(p)));
      for (const p of config.points)
        expect(p.address + registerCount(p.type === 'bool' ? 'uint16' : p.type)).toBeLessThanOrEqual(16);
    }
    expect(site.devices.some((d) => d.kind.name === 'modbus-rtu-over-tcp')).toBe(true);
  });

  it('marks clinker output, each substitute material and coal as key parameters', () => {
    const params = site.devices
      .flatMap((d) => d.config.points)
      .filter((p) => 'parameter' in p && p.parameter);
    expect(params.map((p) => `${p.id}:${(p as { parameter: string }).parameter}`).sort()).toEqual([
      'carbide_slag.total:cement.substitute.carbide_slag',
      'clinker.total:cement.clinker_output',
      'coal.total:cement.fuel_consumption.bituminous_coal',
      'fly_ash.total:cement.substitute.fly_ash',
      'steel_slag.total:cement.substitute.steel_slag',
    ]);
  });
});
