// `mrv server --federate` and `mrv collector --province` as processes (cli/commands.ts,
// cli/federate-options.ts): a national server over one province's SQLite file and one that does not
// exist yet answers the overview with both provinces, the missing one unavailable, and creates no
// file; the flags that exclude each other and a province without a registry are refused at start.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import { CLI_RUN_MS } from '../helpers/budget.ts';
import { canConnect, getFreePort, waitFor } from '../helpers/free-port.ts';
import { spawnTied, type TiedProcess } from '../helpers/tied-process.ts';

const root = new URL('../..', import.meta.url).pathname;
const mrv = join(root, 'bin/mrv.js');
const dir = mkdtempSync(join(tmpdir(), 'mrv-federate-cli-'));
let server: TiedProcess | undefined;

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const unitsFile = join(dir, 'units.yaml');
writeFileSync(
  unitsFile,
  `version: 1
units:
  - { id: U44, name: 粤厂, province: "44", industry: cement, gateways: [gw44] }
  - { id: U32, name: 苏厂, province: "32", industry: cement, gateways: [gw32] }
`,
);

describe('mrv server --federate', () => {
  it('serves the national overview over the province stores it is given', async () => {
    const s44 = new SqliteStore({ path: join(dir, '44.sqlite') });
    await s44.start();
    await s44.writeMeta('U44', {
      v: 1,
      gatewayId: 'gw44',
      unit: { id: 'U44', name: '粤厂', industry: 'cement', province: '44' },
      points: [{ id: 'p', device: 'd', unit: 't', aggregation: 'totalizer' }],
      meters: [],
      configHash: 'a'.repeat(64),
    });
    await s44.writeStatus('U44', { v: 1, gatewayId: 'gw44', state: 'online' }, Date.now());
    await s44.stop();
    const data = join(dir, 'data');
    const created = execFileSync(
      process.execPath,
      [mrv, 'token', 'create', '--role', 'admin', '--data-dir', data],
      {
        encoding: 'utf8',
      },
    );
    const token = /mrv_[A-Za-z0-9_-]+/.exec(created)?.[0] as string;
    expect(token).toBeDefined();
    const port = await getFreePort();
    server = await spawnTied(process.execPath, [
      mrv,
      'server',
      '--port',
      String(port),
      '--data-dir',
      data,
      '--units-file',
      unitsFile,
      '--federate',
      `44=sqlite:${join(dir, '44.sqlite')}`,
      '--federate',
      `32=sqlite:${join(dir, '32.sqlite')}`,
    ]);
    const proc = server;
    await waitFor('the server to listen', () => canConnect(port), {
      timeoutMs: CLI_RUN_MS,
      abort: () => (proc.running() ? undefined : new Error(`mrv server exited:\n${proc.tail()}`)),
    });
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/summary`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status, server.tail()).toBe(200);
    const body = (await res.json()) as {
      totals: { units: number; byStatus: Record<string, number> };
      provinces: { province: string; available: boolean; reason: string | null }[];
      units: { id: string; status: string }[];
    };
    expect(body.totals.units).toBe(2);
    expect(body.totals.byStatus).toMatchObject({ online: 1, unavailable: 1 });
    expect(body.provinces.map((p) => [p.province, p.available])).toEqual([
      ['44', true],
      ['32', false],
    ]);
    expect(body.provinces[1]?.reason).toMatch(/32\.sqlite.*no such file/);
    expect(existsSync(join(dir, '32.sqlite')), 'a read-only province store is never created').toBe(false);
    const admin = await fetch(`http://127.0.0.1:${port}/api/v1/admin/config`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(JSON.stringify(await admin.json())).toContain('federated');
  }, 60_000);

  it('refuses what excludes each other, and a province without a registry', () => {
    const run = (args: string[]) =>
      spawnSync(process.execPath, [mrv, ...args], { encoding: 'utf8', timeout: CLI_RUN_MS });
    const both = run([
      'server',
      '--units-file',
      unitsFile,
      '--federate',
      `44=sqlite:${join(dir, '44.sqlite')}`,
      '--mqtt',
      'mqtt://127.0.0.1:1',
      '--insecure-unsigned',
    ]);
    expect(both.status).not.toBe(0);
    expect(both.stderr).toMatch(/--federate and --mqtt exclude each other/);
    const noRegistry = run(['server', '--federate', `44=sqlite:${join(dir, '44.sqlite')}`]);
    expect(noRegistry.status).not.toBe(0);
    expect(noRegistry.stderr).toMatch(/--federate needs the national unit registry/);
    const bad = run(['server', '--units-file', unitsFile, '--federate', '44=postgres://x']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/PROVINCE=sqlite:FILE/);
    const collector = run(['collector', '--insecure-unsigned', '--province', '44']);
    expect(collector.status).not.toBe(0);
    expect(collector.stderr).toMatch(/--province 44 needs --units-file/);
  });
});
