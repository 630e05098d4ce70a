// `mrv registry seed|check` and `--units-file` as an operator runs them, as real processes (issue 17
// item 2): a registry drafted from site files loads back; a bad one stops `mrv registry check` and
// `mrv server` at start with the file, line and path of every problem.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parseUnitRegistry } from '../../cli/unit-registry.ts';
import { loadSiteConfig } from '../../gateway/config.ts';

const root = new URL('../..', import.meta.url).pathname;
const mrv = join(root, 'bin/mrv.js');
const tmp = mkdtempSync(join(tmpdir(), 'mrv-registry-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [mrv, ...args], {
      cwd: tmp,
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const sites = ['aluminium-smelter', 'steel-plant'].map((n) => join(root, `examples/${n}.site.yaml`));

describe('mrv registry', () => {
  it('seeds a registry from site files that check accepts and lists', async () => {
    const seeded = await run(['registry', 'seed', ...sites]);
    expect(seeded.code, seeded.stderr).toBe(0);
    const registry = parseUnitRegistry(seeded.stdout, 'stdout');
    const units = sites.map((f) => loadSiteConfig(f).site);
    expect(registry.units.map((u) => [u.id, u.province, u.gateways])).toEqual(
      units.map((s) => [s.unit.id, s.unit.province, [s.gateway.id]]),
    );
    const file = join(tmp, 'units.yaml');
    const out = await run(['registry', 'seed', ...sites, '--out', file]);
    expect(out.stdout).toMatch(/unit registry with 2 units written to/);
    expect(readFileSync(file, 'utf8')).toBe(seeded.stdout);
    const check = await run(['registry', 'check', file]);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toContain(
      `${units[0]?.unit.id}  ${units[0]?.unit.name}  ${units[0]?.unit.province}`,
    );
  });

  it('a bad registry stops check and the server at start, naming file, line and path', async () => {
    const bad = join(tmp, 'bad.yaml');
    writeFileSync(
      bad,
      'version: 1\nunits:\n  - id: U1\n    name: x\n    province: 北京\n    industry: gold\n',
    );
    const check = await run(['registry', 'check', bad]);
    expect(check.code).toBe(1);
    expect(check.stderr).toMatch(/MRV_E_CONFIG: .*bad\.yaml does not match the unit registry schema/);
    expect(check.stderr).toMatch(/bad\.yaml:6:\d+ units\[0\]\.industry: /);
    expect(check.stderr).toMatch(/bad\.yaml:3:\d+ units\[0\]\.gateways: /);
    const server = await run(['server', '--port', '0', '--data-dir', join(tmp, 'srv'), '--units-file', bad]);
    expect(server.code).toBe(1);
    expect(server.stderr).toMatch(/mrv server: MRV_E_CONFIG: .*bad\.yaml:6:\d+ units\[0\]\.industry/s);
    const missing = await run(['collector', '--insecure-unsigned', '--units-file', join(tmp, 'none.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read unit registry .*none\.yaml/);
  });

  it('refuses wrong usage with the usage line', async () => {
    const r = await run(['registry', 'seed']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/usage: mrv registry seed SITE\.yaml/);
  });
});
