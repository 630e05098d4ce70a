// examples/power-plant.site.yaml stays valid and declares the power key parameters it says it does.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { lookupParameter } from '../../../core/domain/catalogue.ts';
import type { PointMeta } from '../../../core/schema/wire.ts';
import { loadSiteConfig } from '../../../gateway/config.ts';

const FILE = fileURLToPath(new URL('../../../examples/power-plant.site.yaml', import.meta.url));

describe('examples/power-plant.site.yaml', () => {
  const site = loadSiteConfig(FILE);
  const points = site.devices.flatMap((d) => d.config.points as PointMeta[]);

  it('is a valid power site file of modbus-tcp devices with a meter ledger', () => {
    expect(site.site.unit.industry).toBe('power');
    expect(site.site.unit.id).toHaveLength(18);
    expect(site.devices.every((d) => d.kind.name === 'modbus-tcp')).toBe(true);
    for (const m of site.site.meters) expect(m.calibrations.length, m.id).toBeGreaterThan(0);
  });

  it('feeds fuel consumption from the coal feeders, generation, heat supplied and purchased electricity', () => {
    const byParameter = (id: string) => points.filter((p) => p.parameter === id).map((p) => p.id);
    expect(byParameter('power.fuel_consumption.bituminous_coal')).toEqual([
      'feeder_a.total',
      'feeder_b.total',
    ]);
    expect(byParameter('power.ncv.bituminous_coal')).toEqual(['lab.ncv_as_fired']);
    expect(byParameter('power.generation')).toEqual(['gen.active_energy_export']);
    expect(byParameter('power.heat_supplied')).toEqual(['heat.supplied_total']);
    expect(byParameter('power.purchased_electricity')).toEqual(['grid.import_energy']);
    for (const p of points.filter((x) => x.parameter !== undefined)) {
      expect(lookupParameter(p.parameter!)?.entry.industry, p.id).toBe('power');
      expect(p.aggregation, p.id).toBe(p.id === 'lab.ncv_as_fired' ? 'gauge' : 'totalizer');
    }
  });
});
