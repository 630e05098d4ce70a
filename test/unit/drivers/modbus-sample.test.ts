// The Modbus drivers' sample config stays valid, and README.md shows it verbatim (docs/architecture.md §10 rule 7).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { driverKind } from '../../../drivers/registry.ts';
import { parseSiteConfig } from '../../../gateway/config.ts';

const dir = new URL('../../../drivers/modbus/', import.meta.url);
const sample = readFileSync(new URL('sample.yaml', dir), 'utf8');
const readme = readFileSync(new URL('README.md', dir), 'utf8');

describe('drivers/modbus/sample.yaml', () => {
  it('is a valid site file using every Modbus driver', () => {
    const site = parseSiteConfig(sample, 'sample.yaml');
    expect(new Set(site.devices.map((d) => d.kind.name))).toEqual(
      new Set(['modbus-tcp', 'modbus-rtu', 'modbus-rtu-over-tcp']),
    );
  });

  it('is shown verbatim in README.md', () => {
    expect(readme).toContain(sample.trim());
  });

  it('an unknown driver name lists the valid ones', () => {
    expect(() => driverKind('modbus-ascii')).toThrow(
      /valid drivers: .*modbus-tcp.*modbus-rtu.*modbus-rtu-over-tcp/,
    );
  });

  it('says what is wrong with a bad Modbus point, with its path', () => {
    const site = parse(sample) as { devices: { points: Record<string, unknown>[] }[] };
    const point = (d: number, p: number) => site.devices[d]?.points[p] ?? {};
    delete point(0, 4).bit;
    point(3, 0).order = 'BA';
    const bad = stringify(site);
    expect(() => parseSiteConfig(bad, 'bad.yaml')).toThrow(
      /devices\[0\]\.points\[4\]\.bit: a bool in a register needs bit/,
    );
    expect(() => parseSiteConfig(bad, 'bad.yaml')).toThrow(
      /devices\[3\]\.points\[0\]\.order: order BA does not fit float64/,
    );
    const str = parse(sample) as typeof site;
    Object.assign(str.devices[0]?.points[1] ?? {}, { type: 'string', count: 2 });
    expect(() => parseSiteConfig(stringify(str), 'str.yaml')).toThrow(/string points cannot be published/);
  });
});
