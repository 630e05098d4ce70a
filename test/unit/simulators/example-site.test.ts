import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SiteConfig } from '../../../core/schema/site.ts';
import { ModbusTcpDevice } from '../../../drivers/modbus/config.ts';
import { ModbusEventLog } from '../../../drivers/modbus/event-log-config.ts';
import { ALUMINIUM_PARAMETERS } from '../../../simulators/aluminium/model.ts';
import {
  ALUMINIUM_DEMO_PORTS,
  ALUMINIUM_METERS,
  ALUMINIUM_REGISTER_MAP,
  STATION_IDS,
  sitePoints,
  ticketLogSiteConfig,
} from '../../../simulators/aluminium/register-map.ts';

const FILE = new URL('../../../examples/aluminium-smelter.site.yaml', import.meta.url);
const README = new URL('../../../simulators/aluminium/README.md', import.meta.url);

describe('examples/aluminium-smelter.site.yaml', () => {
  const doc: unknown = parse(readFileSync(FILE, 'utf8'));
  const site = SiteConfig.parse(doc);
  const devices = site.devices.map((d) => ModbusTcpDevice.parse(d));

  it('is a valid aluminium site file', () => {
    expect(site.version).toBe(1);
    expect(site.unit.industry).toBe('aluminium');
    expect(site.unit.id).toHaveLength(18); // a unified social credit code has 18 characters
    expect(site.gateway.mqtt.url).toBe('mqtt://127.0.0.1:1883');
    for (const meter of Object.values(ALUMINIUM_METERS)) {
      const m = site.meters.find((x) => x.id === meter);
      expect(m, meter).toBeDefined();
      expect(m?.calibrations.length).toBeGreaterThan(0);
      for (const c of m?.calibrations ?? []) expect(c.validUntil > c.date).toBe(true);
    }
  });

  it('covers every day of 2026 with a valid certificate for every meter, but the anode scale lapses on 2026-12-15', () => {
    for (const m of site.meters) {
      const covered = (day: string) => m.calibrations.some((c) => c.date <= day && day <= c.validUntil);
      const end = m.id === 'anode-scale-1' ? Date.UTC(2026, 11, 16) : Date.UTC(2027, 0, 1);
      if (m.id === 'anode-scale-1') expect(covered('2026-12-16')).toBe(false);
      for (let t = Date.UTC(2026, 0, 1); t < end; t += 86_400_000) {
        const day = new Date(t).toISOString().slice(0, 10);
        if (!covered(day)) throw new Error(`${m.id}: no valid certificate on ${day}`);
      }
    }
  });

  it('has one modbus-tcp device per station on the demo ports, with exactly the register map points', () => {
    expect(devices).toHaveLength(STATION_IDS.length);
    for (const id of STATION_IDS) {
      const station = ALUMINIUM_REGISTER_MAP[id];
      const device = devices.find((d) => d.id === station.deviceId);
      expect(device, station.deviceId).toBeDefined();
      expect(device?.host).toBe('127.0.0.1');
      expect(device?.port).toBe(ALUMINIUM_DEMO_PORTS[id]);
      expect(device?.pollIntervalMs).toBe(1000);
      expect(device?.points).toEqual(sitePoints(station));
    }
  });

  it("reads the ladle station's ticket memory exactly as the simulator keeps it", () => {
    const ladle = devices.find((d) => d.id === 'ladle-scale');
    expect(ladle?.eventLogs).toEqual([
      ModbusEventLog.parse(ticketLogSiteConfig(ALUMINIUM_PARAMETERS.ticketLogRecords.value)),
    ]);
    for (const d of devices) if (d.id !== 'ladle-scale') expect(d.eventLogs).toEqual([]);
  });

  it('marks the two aluminium key parameters with their aggregation', () => {
    const points = devices.flatMap((d) => d.points);
    const byParameter = (p: string) =>
      points
        .filter((x) => x.parameter === p)
        .map((x) => `${x.id}:${x.aggregation}`)
        .sort();
    expect(byParameter('aluminium.liquid_output')).toEqual(['ladle.net:events']);
    expect(byParameter('aluminium.anode_consumption')).toEqual([
      'anode.butt_total:totalizer',
      'anode.set_total:totalizer',
    ]);
    expect(points.find((x) => x.id === 'energy.dc_import')?.aggregation).toBe('totalizer');
    expect(points.find((x) => x.id === 'potline.current')?.aggregation).toBe('gauge');
  });

  it('is documented point by point in simulators/aluminium/README.md', () => {
    const readme = readFileSync(README, 'utf8');
    // Table cells may be padded (biome formats the markdown).
    const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    for (const id of STATION_IDS)
      for (const p of ALUMINIUM_REGISTER_MAP[id].points)
        expect(readme, p.id).toMatch(
          new RegExp(`\\| \`${esc(p.id)}\` +\\| ${p.table} +\\| ${p.address} \\(`),
        );
    for (const [name, info] of Object.entries(ALUMINIUM_PARAMETERS))
      expect(readme, name).toMatch(new RegExp(`\\| \`${name}\` +\\| ${esc(String(info.value))} +\\|`));
  });
});
