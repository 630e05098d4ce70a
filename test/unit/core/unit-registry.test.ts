// The unit registry file (issue 17 item 2): schema, lookups, the comparison with a gateway's claim, the
// seed from site files, and the loader's file:line:col errors (every problem in one run).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadUnitRegistry, parseUnitRegistry, registryYaml } from '../../../cli/unit-registry.ts';
import { MrvError } from '../../../core/errors.ts';
import { seedRegistry, UnitRegistry } from '../../../core/schema/unit-registry.ts';
import { loadSiteConfig } from '../../../gateway/config.ts';

const GOOD = `version: 1
units:
  - id: U-AL-1
    name: 示例电解铝厂
    nameEn: Example smelter
    province: 内蒙古
    industry: aluminium
    gateways: [gw-potline, gw-ladle]
  - id: U-CE-2
    name: 示例水泥厂
    province: 安徽
    industry: cement
    gateways: [gw-kiln]
`;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('unit registry file', () => {
  it('parses a registry and answers lookups by id', () => {
    const r = parseUnitRegistry(GOOD, 'units.yaml');
    expect(r.size).toBe(2);
    expect(r.province('U-AL-1')).toBe('内蒙古');
    expect(r.province('U-XX-9')).toBeUndefined();
    expect(r.get('U-CE-2')).toMatchObject({ name: '示例水泥厂', industry: 'cement', gateways: ['gw-kiln'] });
    expect(r.units.map((u) => u.id)).toEqual(['U-AL-1', 'U-CE-2']);
  });

  it('reports every problem with file, line, column and path in one error', () => {
    const bad = GOOD.replace('industry: cement', 'industry: cheese')
      .replace('gateways: [gw-kiln]', 'gateways: []')
      .replace('id: U-CE-2', 'id: U-AL-1');
    let err: unknown;
    try {
      parseUnitRegistry(bad, 'units.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MrvError);
    const e = err as MrvError;
    expect(e.code).toBe('MRV_E_CONFIG');
    expect(e.message).toMatch(/units\.yaml:12:\d+ units\[1\]\.industry:/);
    expect(e.message).toMatch(/units\.yaml:13:\d+ units\[1\]\.gateways:/);
    expect(e.message).toMatch(/units\.yaml:9:\d+ units\[1\]\.id: unit U-AL-1 is registered twice/);
  });

  it('refuses unknown fields, a missing version and broken YAML', () => {
    expect(() => parseUnitRegistry(`${GOOD}extra: 1\n`, 'u.yaml')).toThrow(
      /u\.yaml:\d+:\d+ .*extra|Unrecognized key/,
    );
    expect(() => parseUnitRegistry(GOOD.replace('version: 1\n', ''), 'u.yaml')).toThrow(/version/);
    expect(() => parseUnitRegistry('units: [\n', 'u.yaml')).toThrow(/u\.yaml is not valid YAML/);
  });

  it('names the file it cannot read', () => {
    expect(() => loadUnitRegistry('/nonexistent/units.yaml')).toThrow(
      /MRV_E_CONFIG|cannot read unit registry \/nonexistent\/units\.yaml/,
    );
  });
});

describe('comparison with a gateway claim', () => {
  const r = parseUnitRegistry(GOOD, 'units.yaml');
  it('agrees with the registered facts and gateway', () => {
    expect(
      r.compare(
        { id: 'U-AL-1', name: '示例电解铝厂', province: '内蒙古', industry: 'aluminium' },
        'gw-ladle',
      ),
    ).toEqual([]);
  });
  it('lists each differing fact and an unregistered gateway', () => {
    expect(
      r.compare({ id: 'U-AL-1', name: '示例电解铝厂', province: '北京', industry: 'steel' }, 'gw-rogue'),
    ).toEqual([
      { field: 'province', claimed: '北京', registered: '内蒙古' },
      { field: 'industry', claimed: 'steel', registered: 'aluminium' },
      { field: 'gateway', claimed: 'gw-rogue', registered: 'gw-potline,gw-ladle' },
    ]);
  });
  it('says an unregistered unit is not registered, nothing else', () => {
    expect(r.compare({ id: 'U-B', name: 'B', province: '北京', industry: 'power' }, 'gw-b')).toEqual([
      { field: 'unit', claimed: 'U-B', registered: null },
    ]);
  });
  it('an empty registry registers nothing', () => {
    expect(new UnitRegistry().province('U-AL-1')).toBeUndefined();
  });
});

describe('seed from site files', () => {
  it('seeds one unit per site unit with its gateways, and the YAML loads back', () => {
    const files = ['examples/aluminium-smelter.site.yaml', 'examples/cement-plant.site.yaml'].map((f) =>
      path.resolve(import.meta.dirname, '../../..', f),
    );
    const sites = files.map((f) => ({ file: f, site: loadSiteConfig(f).site }));
    const { registry, conflicts } = seedRegistry(sites);
    expect(conflicts).toEqual([]);
    expect(registry.units.map((u) => u.id)).toEqual(sites.map((s) => s.site.unit.id));
    expect(registry.units[0]).toMatchObject({
      name: sites[0]?.site.unit.name,
      province: sites[0]?.site.unit.province,
      gateways: [sites[0]?.site.gateway.id],
    });
    const dir = mkdtempSync(path.join(tmpdir(), 'mrv-units-'));
    dirs.push(dir);
    const file = path.join(dir, 'units.yaml');
    writeFileSync(file, registryYaml(registry, files));
    expect(loadUnitRegistry(file).units).toEqual(registry.units);
  });

  it('merges the gateways of one unit and reports facts the sites disagree on', () => {
    const f = path.resolve(import.meta.dirname, '../../../examples/aluminium-smelter.site.yaml');
    const site = loadSiteConfig(f).site;
    const other = {
      ...site,
      unit: { ...site.unit, province: '北京' },
      gateway: { ...site.gateway, id: 'gw-second' },
    };
    const { registry, conflicts } = seedRegistry([
      { file: 'a.yaml', site },
      { file: 'b.yaml', site: other },
    ]);
    expect(registry.units).toHaveLength(1);
    expect(registry.units[0]?.gateways).toEqual([site.gateway.id, 'gw-second']);
    expect(registry.units[0]?.province).toBe(site.unit.province);
    expect(conflicts).toEqual([expect.stringMatching(/^b\.yaml: unit .* province "北京" differs/)]);
  });
});
