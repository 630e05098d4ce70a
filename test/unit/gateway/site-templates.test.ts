/**
 * Device templates (issue 15 item 1): a meter model's register map written once, instantiated per device
 * with its address, unit id, meter and point prefix; problems reported where they were written.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MrvError } from '../../../core/errors.ts';
import { parseSiteConfig } from '../../../gateway/config.ts';

const tmp = mkdtempSync(join(tmpdir(), 'mrv-templates-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const head = `version: 1
unit: { id: U1, name: 示范厂, industry: cement, province: 安徽 }
gateway:
  id: gw1
  mqtt: { url: "mqtt://127.0.0.1:1883" }
meters:
  - { id: feeder-a-scale, name: A 秤, kind: belt-scale }
  - { id: feeder-b-scale, name: B 秤, kind: belt-scale }
`;

const templated = `${head}templates:
  - id: belt-scale
    driver: modbus-tcp
    defaults: { timeoutMs: 1500 }
    points:
      - { id: rate, table: holding, address: 0, type: float32, unit: t/h }
      - { id: total, table: holding, address: 2, type: uint32, scale: 0.001, unit: t, pollIntervalMs: 5000 }
devices:
  - id: feeder-a
    template: belt-scale
    host: 10.0.0.21
    unitId: 3
    meter: feeder-a-scale
    pointPrefix: feeder_a
    points:
      - { id: total, parameter: cement.raw_meal }
  - id: feeder-b
    template: belt-scale
    host: 10.0.0.21
    unitId: 4
    meter: feeder-b-scale
    timeoutMs: 3000
    points:
      - { id: feeder_b.running, table: coil, address: 0, type: bool, unit: "" }
`;

const written = `${head}devices:
  - id: feeder-a
    driver: modbus-tcp
    timeoutMs: 1500
    host: 10.0.0.21
    unitId: 3
    points:
      - { id: feeder_a.rate, table: holding, address: 0, type: float32, unit: t/h, meter: feeder-a-scale }
      - { id: feeder_a.total, table: holding, address: 2, type: uint32, scale: 0.001, unit: t, pollIntervalMs: 5000, meter: feeder-a-scale, parameter: cement.raw_meal }
  - id: feeder-b
    driver: modbus-tcp
    timeoutMs: 3000
    host: 10.0.0.21
    unitId: 4
    points:
      - { id: feeder-b.rate, table: holding, address: 0, type: float32, unit: t/h, meter: feeder-b-scale }
      - { id: feeder-b.total, table: holding, address: 2, type: uint32, scale: 0.001, unit: t, pollIntervalMs: 5000, meter: feeder-b-scale }
      - { id: feeder_b.running, table: coil, address: 0, type: bool, unit: "" }
`;

function configError(text: string, file = 'site.yaml'): string {
  try {
    parseSiteConfig(text, file);
  } catch (err) {
    expect((err as MrvError).code).toBe('MRV_E_CONFIG');
    return (err as Error).message;
  }
  throw new Error('expected a config error');
}

describe('device templates', () => {
  it('expand to exactly the devices an engineer would write by hand (same config hash)', () => {
    const a = parseSiteConfig(templated, 'site.yaml');
    const b = parseSiteConfig(written, 'site.yaml');
    expect(a.devices.map((d) => d.config)).toEqual(b.devices.map((d) => d.config));
    expect(a.site).toEqual(b.site);
    expect(a.configHash).toBe(b.configHash);
    expect(a.devices[1]?.config.points.map((p) => p.id)).toEqual([
      'feeder-b.rate',
      'feeder-b.total',
      'feeder_b.running',
    ]);
  });

  it("reports a template point's mistake once, at the template's line, whatever the number of devices", () => {
    const msg = configError(templated.replace('type: float32, unit: t/h', 'type: float24, unit: t/h'));
    expect(msg).toMatch(/site\.yaml:14:\d+ templates\[0\]\.points\[0\]\.type: /);
    expect(msg.match(/templates\[0\]\.points\[0\]\.type/g)).toHaveLength(1);
    expect(msg).toContain('1 problem');
  });

  it("reports an override's mistake at the device's own line", () => {
    const msg = configError(
      templated.replace('{ id: total, parameter: cement.raw_meal }', '{ id: total, scale: x }'),
    );
    expect(msg).toMatch(/site\.yaml:24:\d+ devices\[0\]\.points\[0\]\.scale: /);
  });

  it('names an unknown template with the one meant', () => {
    const msg = configError(
      templated.replace(
        'template: belt-scale\n    host: 10.0.0.21\n    unitId: 4',
        'template: belt-scal\n    host: 10.0.0.21\n    unitId: 4',
      ),
    );
    expect(msg).toMatch(
      /site\.yaml:26:15 devices\[1\]\.template: unknown template "belt-scal"; did you mean "belt-scale"\?/,
    );
  });

  it('reads templates from templateFiles, relative to the site file, with problems in that file', () => {
    const lib = `version: 1
templates:
  - id: belt-scale
    driver: modbus-tcp
    points:
      - { id: rate, table: holding, address: 0, type: float32, unit: t/h }
      - { id: total, table: holding, address: 2, type: uint32, scale: 0.001, unit: t, pollIntervalMs: 5000 }
`;
    writeFileSync(join(tmp, 'scales.yaml'), lib);
    const site = `${head}templateFiles: [scales.yaml]
devices:
  - { id: feeder-a, template: belt-scale, host: 10.0.0.21, unitId: 3, meter: feeder-a-scale }
`;
    const loaded = parseSiteConfig(site, join(tmp, 'site.yaml'));
    expect(loaded.devices[0]?.config.points.map((p) => p.id)).toEqual(['feeder-a.rate', 'feeder-a.total']);
    writeFileSync(join(tmp, 'scales.yaml'), lib.replace('scale: 0.001', 'scael: 0.001'));
    const msg = configError(site, join(tmp, 'site.yaml'));
    expect(msg).toContain(`${join(tmp, 'scales.yaml')}:7:`);
    expect(msg).toMatch(/templates\[0\]\.points\[1\]\.scael: unknown key "scael"; did you mean "scale"\?/);
    const missing = configError(site.replace('scales.yaml', 'nope.yaml'), join(tmp, 'site.yaml'));
    expect(missing).toMatch(/templateFiles\[0\]: cannot read .*nope\.yaml/);
  });

  it('commissions 500 devices from 3 templates', () => {
    const models = ['belt-scale', 'power-meter', 'flow-meter'];
    const lines = [head.replace(/meters:[\s\S]*$/, 'meters: []\n'), 'templates:'];
    for (const m of models)
      lines.push(
        `  - id: ${m}`,
        '    driver: modbus-tcp',
        '    points:',
        '      - { id: a, table: holding, address: 0, type: float32, unit: t/h }',
        '      - { id: b, table: input, address: 4, type: uint32, unit: t }',
      );
    lines.push('devices:');
    for (let i = 0; i < 500; i++)
      lines.push(
        `  - { id: d${i}, template: ${models[i % 3]}, host: 10.0.${Math.floor(i / 200)}.1, unitId: ${(i % 200) + 1} }`,
      );
    const loaded = parseSiteConfig(`${lines.join('\n')}\n`, 'site.yaml');
    expect(loaded.devices).toHaveLength(500);
    expect(loaded.devices.flatMap((d) => d.config.points)).toHaveLength(1000);
    expect(loaded.devices[499]?.config.points[1]?.id).toBe('d499.b');
  });
});
