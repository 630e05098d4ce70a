// loadSiteConfigIsolated (the gateway's loader: parsed and validated in a child process) gives exactly what
// loadSiteConfig gives, and fails with exactly the same messages.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MrvError } from '../../../core/errors.ts';
import { loadSiteConfig } from '../../../gateway/config.ts';
import { loadSiteConfigIsolated } from '../../../gateway/site-loader.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'mrv-site-isolated-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const examples = path.resolve(import.meta.dirname, '../../../examples');

async function outcome(load: () => unknown): Promise<unknown> {
  try {
    return { ok: await load() };
  } catch (err) {
    return {
      error: (err as Error).message,
      isMrv: err instanceof MrvError,
      code: (err as MrvError).code,
      detail: (err as MrvError).detail,
    };
  }
}

describe('loadSiteConfigIsolated', () => {
  it('loads every example site exactly as loadSiteConfig does (drivers, configs, paths, config hash)', async () => {
    for (const name of [
      'aluminium-smelter.site.yaml',
      'cement-plant.site.yaml',
      'power-plant.site.yaml',
      'steel-plant.site.yaml',
    ]) {
      const file = path.join(examples, name);
      const a = loadSiteConfig(file);
      const b = await loadSiteConfigIsolated(file);
      expect(b).toEqual(a);
      expect(b.devices.map((d) => d.kind)).toEqual(a.devices.map((d) => d.kind));
      expect(b.configHash).toBe(a.configHash);
    }
  });

  it('fails with the same messages: unreadable file, invalid YAML, schema and driver problems', async () => {
    const files = {
      missing: path.join(dir, 'missing.yaml'),
      yaml: path.join(dir, 'bad-yaml.yaml'),
      schema: path.join(dir, 'bad-schema.yaml'),
      device: path.join(dir, 'bad-device.yaml'),
    };
    writeFileSync(files.yaml, 'version: 1\nunit: { id: U1\n  bad: [\n');
    writeFileSync(files.schema, 'version: 2\nunit: { id: U1 }\n');
    writeFileSync(
      files.device,
      `version: 1
unit: { id: U1, name: u, industry: power, province: p }
gateway:
  id: gw1
  mqtt: { url: "mqtt://127.0.0.1:1883" }
devices:
  - id: d1
    driver: modbus-tcp
    host: 127.0.0.1
    port: 502
    points:
      - { id: p1, table: input, address: 0, type: float33, unit: kW }
  - id: d2
    driver: no-such-driver
`,
    );
    for (const file of Object.values(files)) {
      const expected = await outcome(() => loadSiteConfig(file));
      expect(expected).toHaveProperty('error');
      expect(await outcome(() => loadSiteConfigIsolated(file))).toEqual(expected);
    }
  });
});
