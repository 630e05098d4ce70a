// The compiled release (issue 19 item 1): `scripts/build.mjs` turns the runtime sources into dist/,
// and bin/mrv.js runs dist/ when it is as new as every source, the sources through tsx otherwise.
// The build here goes to its own folder under test-results/ (inside the package, so node_modules
// resolves), never to the dist/ that other test files may be running at the same moment.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getFreePort } from '../helpers/free-port.ts';
import { spawnTied } from '../helpers/tied-process.ts';

const root = new URL('../..', import.meta.url).pathname;
const work = join(root, 'test-results', `release-${process.pid}`);
const out = join(work, 'dist');
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Every file under `dir`, relative to it. */
function files(dir: string): string[] {
  const all: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else all.push(relative(dir, p));
    }
  };
  walk(dir);
  return all;
}

/** Runs the compiled CLI's `main` with `args` (as bin/mrv.js does), without tsx anywhere. */
function runCompiled(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const script = `const { main } = await import(${JSON.stringify(join(out, 'cli/main.js'))});
process.exitCode = await main(${JSON.stringify(args)});`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, MRV_LOG_LEVEL: 'warn' },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('compiled release', () => {
  beforeAll(() => {
    mkdirSync(work, { recursive: true });
    execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--out', out], {
      cwd: root,
      stdio: 'pipe',
    });
  }, 240_000);

  it('compiles every runtime source to JavaScript with no .ts import left, and copies the files the code reads', () => {
    const built = files(out);
    const sources = [
      'cli',
      'core',
      'uplink',
      'drivers',
      'gateway',
      'collector',
      'evidence',
      'server',
      'ops',
      'simulators',
    ]
      .flatMap((d) => files(join(root, d)).map((f) => join(d, f)))
      .filter((f) => f.endsWith('.ts') && !f.startsWith('server/web/'));
    for (const src of sources) expect(built).toContain(src.replace(/\.ts$/, '.js'));
    for (const f of built.filter((x) => x.endsWith('.js') && !x.startsWith('server/web/'))) {
      const text = readFileSync(join(out, f), 'utf8');
      // a relative specifier ending in .ts would need tsx at run time
      expect(text, f).not.toMatch(/from\s+['"]\.{1,2}\/[^'"]*\.ts['"]/);
      expect(text, f).not.toMatch(/import\(\s*['"]\.{1,2}\/[^'"]*\.ts['"]\s*\)/);
    }
    expect(built).toContain('server/web/index.html');
    expect(built).toContain('core/domain/factors/cn-ets-defaults.yaml');
    for (const industry of ['aluminium', 'cement', 'steel', 'power'])
      expect(built).toContain(`core/domain/rules/${industry}.yaml`);
    const info = JSON.parse(readFileSync(join(out, 'build-info.json'), 'utf8')) as { sourceMtimeMs: number };
    expect(info.sourceMtimeMs).toBeGreaterThan(0);
  });

  it('runs --version, and check-config validates every shipped example and tries its devices, from the compiled code', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    const v = runCompiled(['--version']);
    expect(v.status).toBe(0);
    expect(v.stdout.trim()).toBe(pkg.version);
    for (const example of readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.site.yaml'))) {
      // Exit 3: the file is valid (1 would say it is not) and the devices it names were tried, but no
      // simulator is running here to answer.
      const r = runCompiled(['check-config', join(root, 'examples', example)]);
      expect(r.status, `${example}\n${r.stdout}\n${r.stderr}`).toBe(3);
      expect(r.stdout).toMatch(/devices? gave no good reading/);
    }
  });

  it('serves the API and the dashboard from the compiled server', async () => {
    const port = await getFreePort();
    const script = `const { main } = await import(${JSON.stringify(join(out, 'cli/main.js'))});
process.exitCode = await main(['server', '--port', '${port}', '--data-dir', ${JSON.stringify(join(work, 'data'))}, '--sqlite', ${JSON.stringify(join(work, 'data', 'mrv.sqlite'))}]);`;
    const server = await spawnTied(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
      env: { ...process.env, MRV_LOG_LEVEL: 'warn' },
    });
    try {
      const deadline = Date.now() + 60_000;
      let health: Response | undefined;
      while (Date.now() < deadline && server.running()) {
        health = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
        if (health?.ok) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(health?.status, server.tail()).toBe(200);
      const page = await fetch(`http://127.0.0.1:${port}/`);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      expect(await page.text()).toContain('<html');
      expect((await fetch(`http://127.0.0.1:${port}/vendor/uplot/uPlot.esm.js`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  it('starts the compiled evidence worker thread (no tsx) and answers from it with the error code', () => {
    const data = join(work, 'pool');
    mkdirSync(data, { recursive: true });
    const file = join(data, 'mrv.sqlite');
    const script = `const { SqliteStore } = await import(${JSON.stringify(join(out, 'collector/sqlite-store.js'))});
const { EvidencePool } = await import(${JSON.stringify(join(out, 'evidence/evidence-pool.js'))});
const store = new SqliteStore({ path: ${JSON.stringify(file)} });
await store.start();
const pool = new EvidencePool({ store, spec: { kind: 'sqlite', path: ${JSON.stringify(file)} }, threads: 1 });
const started = await pool.warm();
const code = await pool
  .run({ kind: 'completeness', unitId: 'NOPE', month: '2026-10', now: Date.now(), sites: [] })
  .then(() => 'answered', (e) => e.code);
if (!started) console.error(pool.unavailable);
console.log(JSON.stringify({ started, code, counters: pool.counters }));
await pool.close();
await store.stop();`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}'), r.stderr).toEqual({
      started: true,
      code: 'MRV_E_NOT_FOUND',
      counters: { inWorker: 1, inProcess: 0 },
    });
  }, 60_000);
});

describe('bin/mrv.js chooses the compiled release only while it is fresh', () => {
  // A miniature package (inside this one, so tsx resolves) with the real bin/mrv.js and
  // scripts/source-files.mjs, a "compiled" main and a "source" main that say which one ran.
  const pkg = join(work, 'pkg');
  const run = (env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [join(pkg, 'bin/mrv.js')], {
      encoding: 'utf8',
      env: { ...process.env, MRV_FROM_SOURCE: '', MRV_REQUIRE_DIST: '', ...env },
    });

  beforeAll(() => {
    for (const d of ['bin', 'scripts', 'cli', 'dist/cli']) mkdirSync(join(pkg, d), { recursive: true });
    cpSync(join(root, 'bin/mrv.js'), join(pkg, 'bin/mrv.js'));
    cpSync(join(root, 'scripts/source-files.mjs'), join(pkg, 'scripts/source-files.mjs'));
    writeFileSync(
      join(pkg, 'cli/main.ts'),
      "export async function main(): Promise<number> { console.log('source'); return 0; }\n",
    );
    writeFileSync(
      join(pkg, 'dist/cli/main.js'),
      "export async function main() { console.log('compiled'); return 0; }\n",
    );
    const mtime = statSync(join(pkg, 'cli/main.ts')).mtimeMs;
    writeFileSync(join(pkg, 'dist/build-info.json'), JSON.stringify({ sourceMtimeMs: mtime }));
  });

  it('runs dist/ when no source is newer than the build', () => {
    const r = run();
    expect(r.stdout.trim()).toBe('compiled');
    expect(r.status).toBe(0);
  });

  it('runs the sources through tsx when MRV_FROM_SOURCE=1', () => {
    expect(run({ MRV_FROM_SOURCE: '1' }).stdout.trim()).toBe('source');
  });

  it('runs the sources when one is newer than the build, and refuses under MRV_REQUIRE_DIST=1', () => {
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(pkg, 'cli/main.ts'), later, later);
    expect(run().stdout.trim()).toBe('source');
    const strict = run({ MRV_REQUIRE_DIST: '1' });
    expect(strict.status).toBe(2);
    expect(strict.stderr).toMatch(/MRV_REQUIRE_DIST=1 but dist\/ is older than the sources/);
  });
});
