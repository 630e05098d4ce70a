// The offline installable package (issue 19 item 5): `npm run package` builds a tarball and a .deb;
// the .deb is unpacked into a clean directory tree outside this checkout (so nothing resolves from
// the development node_modules) and run there with no network at all (a fresh network namespace:
// only a down loopback): `mrv --version`, `mrv check-config` on a shipped example, and the native
// SQLite module the embedded store needs.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
const out = join(root, 'test-results', `package-${process.pid}`);
const tree = mkdtempSync(join(tmpdir(), 'mrv-deb-root-'));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
const deb = () =>
  join(
    out,
    `carbon-mrv_${pkg.version}_${execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim()}.deb`,
  );
// An unpacked release is thousands of files: removing it takes minutes on a busy machine.
afterAll(async () => {
  await Promise.all([rm(out, { recursive: true, force: true }), rm(tree, { recursive: true, force: true })]);
}, 300_000);

/** `unshare` arguments that give a child no network here (root: -n; otherwise a user namespace too). */
function noNetwork(): string[] {
  for (const args of [['-n'], ['-rn']]) {
    if (spawnSync('unshare', [...args, 'true']).status === 0) return args;
  }
  throw new Error(
    'cannot start a process without network: neither `unshare -n` (root) nor `unshare -rn` (user namespaces) works here',
  );
}

/** Runs the installed `mrv` with `args`, offline, from a neutral working directory. */
function installedMrv(args: string[]) {
  return spawnSync(
    'unshare',
    [...noNetwork(), process.execPath, join(tree, 'opt/carbon-mrv/bin/mrv.js'), ...args],
    {
      cwd: tree,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: tree,
        MRV_REQUIRE_DIST: '1',
        MRV_LOG_LEVEL: 'warn',
      },
      timeout: 120_000,
    },
  );
}

describe('npm run package', () => {
  beforeAll(() => {
    execFileSync('bash', [join(root, 'scripts/package.sh'), '--out', out], { cwd: root, stdio: 'pipe' });
    execFileSync('dpkg-deb', ['-x', deb(), tree]);
  }, 600_000);

  it('builds a tarball and a .deb that names its version and installs under /opt/carbon-mrv with disabled units', () => {
    expect(
      statSync(join(out, `carbon-mrv-${pkg.version}-linux-${process.arch}.tar.gz`)).size,
    ).toBeGreaterThan(1_000_000);
    const info = execFileSync('dpkg-deb', ['-f', deb(), 'Package', 'Version'], { encoding: 'utf8' });
    expect(info).toContain('Package: carbon-mrv');
    expect(info).toContain(`Version: ${pkg.version}`);
    for (const unit of ['mrv-gateway', 'mrv-collector', 'mrv-server', 'mrv-uplink-hj212'])
      expect(existsSync(join(tree, `lib/systemd/system/${unit}.service`))).toBe(true);
    // disabled by default: no wants/ links, and postinst enables and starts nothing
    expect(existsSync(join(tree, 'etc/systemd'))).toBe(false);
    const control = mkdtempSync(join(tmpdir(), 'mrv-deb-control-'));
    try {
      execFileSync('dpkg-deb', ['-e', deb(), control]);
      const postinst = readFileSync(join(control, 'postinst'), 'utf8');
      expect(postinst).toMatch(/adduser --system --group .* mrv/);
      expect(postinst).not.toMatch(/systemctl (enable|start)/);
    } finally {
      rmSync(control, { recursive: true, force: true });
    }
    // the release carries compiled code, not the TypeScript sources
    expect(existsSync(join(tree, 'opt/carbon-mrv/dist/cli/main.js'))).toBe(true);
    expect(existsSync(join(tree, 'opt/carbon-mrv/cli'))).toBe(false);
    expect(existsSync(join(tree, 'opt/carbon-mrv/deploy/mosquitto/mosquitto.conf'))).toBe(true);
  });

  it('runs mrv --version from the unpacked tree with no network', () => {
    const r = installedMrv(['--version']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('runs mrv check-config on a shipped example with no network (valid file, devices unreachable)', () => {
    const r = installedMrv(['check-config', join(tree, 'opt/carbon-mrv/examples/cement-plant.site.yaml')]);
    // 3 = the file is valid and its devices were tried (1 would be an invalid file, 2+ a crash)
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(3);
    expect(r.stdout).toMatch(/devices? gave no good reading/);
  });

  it('carries a working native SQLite module for the embedded store', () => {
    const script = `const Database = require(${JSON.stringify(join(tree, 'opt/carbon-mrv/node_modules/better-sqlite3'))});
const db = new Database(':memory:'); console.log(db.prepare('select 6 * 7 as x').get().x);`;
    const r = spawnSync('unshare', [...noNetwork(), process.execPath, '-e', script], {
      encoding: 'utf8',
      cwd: tree,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('42');
  });
});
