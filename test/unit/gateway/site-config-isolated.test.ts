// loadSiteConfigIsolated (the gateway's loader: parsed and validated in a child process) gives exactly what
// loadSiteConfig gives, and fails with exactly the same messages.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { MrvError } from '../../../core/errors.ts';
import { loadSiteConfig } from '../../../gateway/config.ts';
import { loaderEnv, loadSiteConfigIsolated } from '../../../gateway/site-loader.ts';

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

  it('works from any working directory (the gateway runs in the site folder, systemd in /)', async () => {
    // A process started elsewhere, with tsx named by path as bin/mrv.js registers it: the loader's
    // child must find its own loader, not look for it in the working directory.
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const loader = pathToFileURL(path.resolve(import.meta.dirname, '../../../gateway/site-loader.ts')).href;
    const file = path.join(examples, 'cement-plant.site.yaml');
    const script = `const { loadSiteConfigIsolated } = await import(${JSON.stringify(loader)});
      const s = await loadSiteConfigIsolated(${JSON.stringify(file)});
      process.stdout.write(s.configHash);`;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', tsx, '--input-type=module', '-e', script],
      { cwd: dir, timeout: 60_000 },
    );
    expect(stdout).toBe(loadSiteConfig(file).configHash);
  }, 90_000);

  it('a loader that does not answer in time is killed: MRV_E_INTERNAL, not a file problem', async () => {
    const file = path.join(examples, 'power-plant.site.yaml');
    const err = await loadSiteConfigIsolated(file, { timeoutMs: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MrvError);
    expect(err).toMatchObject({ code: 'MRV_E_INTERNAL', detail: { file } });
    expect((err as Error).message).toMatch(/did not answer within 1 ms and was killed/);
    // The same file loads when given the time.
    expect((await loadSiteConfigIsolated(file)).configHash).toBe(loadSiteConfig(file).configHash);
  }, 90_000);

  it("the loader does not inherit the gateway's V8 heap-size flags, only its other NODE_OPTIONS", () => {
    const env = (o: string) => loaderEnv({ PATH: '/bin', NODE_OPTIONS: o });
    expect(env('--max-old-space-size=64 --max-semi-space-size=2')).toEqual({
      PATH: '/bin',
      NODE_OPTIONS: '',
    });
    expect(env('--require ./trace.cjs --max_old_space_size=64 --optimize-for-size').NODE_OPTIONS).toBe(
      '--require ./trace.cjs --optimize-for-size',
    );
    expect(env('--max-old-space-size 64 --max-heap-size=80 --trace-gc').NODE_OPTIONS).toBe('--trace-gc');
    expect(loaderEnv({ PATH: '/bin' })).toEqual({ PATH: '/bin' });
  });

  it('a 10 000-point site loads under a gateway capped at a 32 MiB old space', async () => {
    // 16 devices × 625 points: parsing it allocates far more than 32 MiB (bench/footprint.ts).
    const lines = [
      'version: 1',
      'unit: { id: U1, name: u, industry: power, province: p }',
      'gateway:',
      '  id: gw1',
      '  mqtt: { url: "mqtt://127.0.0.1:1883" }',
      'devices:',
    ];
    for (let d = 0; d < 16; d++) {
      lines.push(`  - id: d${d}`, '    driver: modbus-tcp', '    host: 127.0.0.1', '    port: 502');
      lines.push(`    unitId: ${d + 1}`, '    points:');
      for (let i = 0; i < 625; i++)
        lines.push(`      - { id: d${d}.p${i}, unit: kW, table: input, address: ${i * 2}, type: float32 }`);
    }
    const file = path.join(dir, 'large.site.yaml');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const before = process.env.NODE_OPTIONS;
    process.env.NODE_OPTIONS = '--max-old-space-size=32';
    try {
      const site = await loadSiteConfigIsolated(file);
      expect(site.devices.reduce((n, d) => n + d.config.points.length, 0)).toBe(10_000);
    } finally {
      if (before === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = before;
    }
  }, 90_000);
});
