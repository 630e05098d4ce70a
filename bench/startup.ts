/**
 * Start-up (issue 19 item 1): how long a user waits, compiled release (dist/, what `npm ci` builds and
 * bin/mrv.js runs) against the TypeScript sources through tsx (what ran before), in the same run:
 * - `mrv --version`, median of 5;
 * - `mrv demo` until the API lists a unit with a reading (`lastDataAt` set), median of 3, on a free
 *   port and a fresh data dir each time. tsx is measured twice: with its transform cache warm, and
 *   cold (a fresh TMPDIR, as for a new user or after a reboot cleared /tmp).
 * Run alone with `node_modules/.bin/tsx bench/startup.ts`; `npm run bench` includes it.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { getFreePort } from '../test/helpers/free-port.ts';
import { type BenchResult, fmt, loadAvg, median, REPO_ROOT, sleep, stopChild } from './lib.ts';

const MRV = path.join(REPO_ROOT, 'bin/mrv.js');

type Mode = 'compiled' | 'tsx-warm' | 'tsx-cold';

function envFor(mode: Mode): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, MRV_LOG_LEVEL: 'warn' };
  if (mode === 'compiled') env.MRV_REQUIRE_DIST = '1';
  else env.MRV_FROM_SOURCE = '1';
  // tsx keeps its transform cache under the temp dir: a fresh one is a cold start
  if (mode === 'tsx-cold') env.TMPDIR = mkdtempSync(path.join(os.tmpdir(), 'mrv-bench-cold-'));
  return env;
}

function versionSeconds(mode: Mode): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [MRV, '--version'], { env: envFor(mode), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mrv --version (${mode}) failed: ${r.stderr}`);
  return (performance.now() - t0) / 1000;
}

/** Seconds from spawning `mrv demo` until /api/v1/units shows a unit with a reading. */
async function demoFirstReadingSeconds(mode: Mode): Promise<number> {
  const port = await getFreePort();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mrv-bench-demo-'));
  const t0 = performance.now();
  const child: ChildProcess = spawn(
    process.execPath,
    [MRV, 'demo', '--port', String(port), '--data-dir', dataDir],
    {
      env: envFor(mode),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  try {
    const deadline = t0 + 180_000;
    for (;;) {
      if (performance.now() > deadline)
        throw new Error(`demo (${mode}) served no reading in 180 s:\n${out.slice(-2000)}`);
      const token = out.match(/admin token: (mrv_\S+)/)?.[1];
      if (token) {
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/units`, {
          headers: { authorization: `Bearer ${token}` },
        }).catch(() => undefined);
        if (res?.ok) {
          const units = (await res.json()) as { lastDataAt: string | null }[];
          if (units.some((u) => typeof u.lastDataAt === 'string')) return (performance.now() - t0) / 1000;
        }
      }
      await sleep(50);
    }
  } finally {
    await stopChild(child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The start-up benchmark; see the file comment. */
export async function benchStartup(): Promise<BenchResult> {
  const began = performance.now();
  if (!existsSync(path.join(REPO_ROOT, 'dist/build-info.json')))
    spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts/build.mjs')], { stdio: 'inherit' });
  const modes: Mode[] = ['compiled', 'tsx-warm', 'tsx-cold'];
  versionSeconds('tsx-warm'); // fills tsx's cache for the warm runs
  const version: Record<Mode, number> = { compiled: 0, 'tsx-warm': 0, 'tsx-cold': 0 };
  const demo: Record<Mode, number> = { compiled: 0, 'tsx-warm': 0, 'tsx-cold': 0 };
  const loads: string[] = [];
  for (const mode of modes) {
    version[mode] = median(Array.from({ length: 5 }, () => versionSeconds(mode)));
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) {
      loads.push(loadAvg().split(',')[0] as string);
      runs.push(await demoFirstReadingSeconds(mode));
    }
    demo[mode] = median(runs);
  }
  return {
    id: 'startup',
    title: 'Start-up (compiled release against tsx)',
    figures: [
      {
        name: 'mrv --version, compiled (median of 5)',
        value: fmt(version.compiled, 2),
        unit: 's',
        target: '< 0.5',
        met: version.compiled < 0.5,
      },
      {
        name: 'mrv --version, sources through tsx, warm cache',
        value: fmt(version['tsx-warm'], 2),
        unit: 's',
      },
      {
        name: 'mrv --version, sources through tsx, cold cache',
        value: fmt(version['tsx-cold'], 2),
        unit: 's',
      },
      {
        name: 'mrv demo: first reading on the API, compiled (median of 3)',
        value: fmt(demo.compiled, 1),
        unit: 's',
        target: '< 5',
        met: demo.compiled < 5,
      },
      { name: 'mrv demo: first reading, tsx warm cache', value: fmt(demo['tsx-warm'], 1), unit: 's' },
      { name: 'mrv demo: first reading, tsx cold cache', value: fmt(demo['tsx-cold'], 1), unit: 's' },
    ],
    notes: [
      `Each demo run starts \`mrv demo\` on a free port with a fresh data dir and polls \`GET /api/v1/units\` every 50 ms (with the admin token the demo prints) until a unit has \`lastDataAt\`. "compiled" runs dist/ (MRV_REQUIRE_DIST=1), "tsx" the sources (MRV_FROM_SOURCE=1); "cold" gives tsx an empty TMPDIR, hence an empty transform cache. Load average (1 min) before each demo run: ${loads.join(', ')}.`,
    ],
    seconds: (performance.now() - began) / 1000,
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await benchStartup();
  for (const f of r.figures)
    console.log(
      `${f.name}: ${f.value} ${f.unit ?? ''}${f.target ? ` (target ${f.target}: ${f.met ? 'met' : 'MISSED'})` : ''}`,
    );
  console.log(r.notes.join('\n'));
  process.exit(0);
}
