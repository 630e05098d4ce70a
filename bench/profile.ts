/**
 * Where the time goes, for BENCHMARKS.md "Where the time goes for each missed target" (issue 19):
 * a pure summariser of V8 CPU profiles (the `.cpuprofile` JSON of `node --cpu-prof` and of the
 * inspector's `Profiler.stop`: `nodes`, `samples`, `timeDeltas`), a heap summary (process.memoryUsage
 * and the V8 heap spaces), and {@link profileRun}, which runs a benchmark again with every Node process
 * and worker thread it starts profiled (bench/profile-preload.cjs through NODE_OPTIONS, since Node 20
 * refuses --cpu-prof there) and the benchmark's own process profiled through node:inspector.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';

// Not from lib.ts, which imports this file's types.
const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(BENCH_DIR, '..');

/** A V8 CPU profile as written by `node --cpu-prof` (only the fields read here). */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
    children?: number[];
  }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** One function's share of a profile. */
export interface ProfileRow {
  /** Function name, `(anonymous)` for an unnamed one, or a V8 pseudo-frame: `(garbage collector)`, `(program)`. */
  functionName: string;
  /** `file:line` (1-based), the file relative to the repository when inside it; `node:…` for Node's own; empty for V8's. */
  location: string;
  /** Self time, ms. */
  selfMs: number;
  /** Self time as a share of the busy (non-idle) time, %. */
  selfPct: number;
}

/** What {@link summariseCpuProfiles} makes of the profiles of one thread. */
export interface CpuSummary {
  /** Sampled wall time, ms. */
  totalMs: number;
  /** Of which not `(idle)`, ms. */
  busyMs: number;
  /** The top functions by self time (never `(idle)`), highest first. */
  top: ProfileRow[];
}

/** `file:line` of a call frame: repository-relative, Node's own as `node:…`, V8's pseudo-frames empty. */
export function frameLocation(url: string, lineNumber: number, root = REPO_ROOT): string {
  if (!url) return '';
  let file = url;
  if (file.startsWith('file://')) {
    try {
      file = new URL(file).pathname;
    } catch {
      // keep the url as it is
    }
  }
  if (file.startsWith(`${root}/`)) file = path.relative(root, file);
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) file = file.slice(nm + 1);
  return `${file}:${lineNumber + 1}`;
}

/**
 * Self time per function over one or more profiles of the same thread (chunks, summed): each sample's
 * duration is the time to the next sample (the last one's, to the profile's end), as Chrome DevTools
 * counts it; nodes of the same function (name, file, line) on different call paths are summed.
 * Pure. `top` rows (default 10) exclude `(idle)`; percentages are of the busy time. `fromUs[k]`, when
 * given, drops the samples of `profiles[k]` taken before that time (the profile's clock, µs).
 */
export function summariseCpuProfiles(
  profiles: readonly CpuProfile[],
  top = 10,
  root = REPO_ROOT,
  fromUs: readonly (number | undefined)[] = [],
): CpuSummary {
  const self = new Map<string, { functionName: string; location: string; us: number }>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [k, p] of profiles.entries()) {
    const since = fromUs[k] ?? Number.NEGATIVE_INFINITY;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const t: number[] = [];
    let at = p.startTime;
    for (const d of p.timeDeltas) {
      at += d;
      t.push(at);
    }
    for (let i = 0; i < p.samples.length; i++) {
      const node = byId.get(p.samples[i] as number);
      const dur = Math.max(0, (i + 1 < t.length ? (t[i + 1] as number) : p.endTime) - (t[i] as number));
      if (!node || (t[i] as number) < since) continue;
      totalUs += dur;
      const cf = node.callFrame;
      if (cf.functionName === '(idle)') {
        idleUs += dur;
        continue;
      }
      const functionName = cf.functionName || '(anonymous)';
      const location = frameLocation(cf.url, cf.lineNumber, root);
      const key = `${functionName}\u0000${location}`;
      const row = self.get(key) ?? { functionName, location, us: 0 };
      row.us += dur;
      self.set(key, row);
    }
  }
  const busyUs = totalUs - idleUs;
  const rows = [...self.values()]
    .sort((a, b) => b.us - a.us || (a.functionName < b.functionName ? -1 : 1))
    .slice(0, top)
    .map((r) => ({
      functionName: r.functionName,
      location: r.location,
      selfMs: r.us / 1000,
      selfPct: busyUs > 0 ? (100 * r.us) / busyUs : 0,
    }));
  return { totalMs: totalUs / 1000, busyMs: busyUs / 1000, top: rows };
}

/** Memory of one process (or thread) at one moment: what `process.memoryUsage()` and V8 report. */
export interface HeapSnapshotSummary {
  at: string;
  memoryUsage: NodeJS.MemoryUsage;
  heapSpaces: v8.HeapSpaceInfo[];
}

/** The heap summary of the calling process now (for benchmarks that sample their own steady point). */
export function heapSummaryNow(): HeapSnapshotSummary {
  return {
    at: new Date().toISOString(),
    memoryUsage: process.memoryUsage(),
    heapSpaces: v8.getHeapSpaceStatistics(),
  };
}

/** One profiled thread of a {@link profileRun}. */
export interface ProfiledThread {
  /** What ran: the command line (repository paths relative), `thread N` for a worker. */
  process: string;
  pid: number;
  threadId: number;
  cpu?: CpuSummary;
  /** At the highest RSS sampled, and the latest sample (the steady point). */
  heap?: { peak?: HeapSnapshotSummary; latest?: HeapSnapshotSummary };
}

/** The profile of a benchmark's re-run, attached to its result (lib.ts `BenchResult.profiles`). */
export interface ProfileSection {
  /** The missed figures (names) the profile stands for. */
  figures: string[];
  /** How it was made (the command re-run). */
  how: string;
  threads: ProfiledThread[];
}

const MiB = (b: number) => (b / 2 ** 20).toFixed(1);

/** Shortens a command line for a table: repository paths relative, node_modules' tsx loader dropped. */
function commandOf(argv: readonly string[]): string {
  return argv
    .map((a) => (a.startsWith(`${REPO_ROOT}/`) ? path.relative(REPO_ROOT, a) : a))
    .map((a) => (a.length > 80 ? `${a.slice(0, 77)}...` : a))
    .join(' ');
}

/**
 * Reads what bench/profile-preload.cjs wrote into `dir` (the chunks of each thread, its heap samples,
 * its command line) and summarises each thread's CPU profile; with `sinceWallMs` (Date.now() time), only
 * what was sampled from then on (the chunks' names carry their wall-clock start).
 */
export function readProfileDir(dir: string, top = 10, sinceWallMs?: number): ProfiledThread[] {
  if (!existsSync(dir)) return [];
  const files = readdirSync(dir);
  const threads = new Map<string, { pid: number; threadId: number; chunks: string[] }>();
  for (const f of files) {
    const m = /^(\d+)\.(\d+)\./.exec(f);
    if (!m) continue;
    const key = `${m[1]}.${m[2]}`;
    if (!threads.has(key)) threads.set(key, { pid: Number(m[1]), threadId: Number(m[2]), chunks: [] });
    if (f.endsWith('.cpuprofile')) threads.get(key)?.chunks.push(f);
  }
  const out: ProfiledThread[] = [];
  for (const [key, t] of threads) {
    const read = <T>(f: string): T | undefined => {
      try {
        return JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as T;
      } catch {
        return undefined; // a chunk cut short by a kill
      }
    };
    const argv = read<{ argv: string[] }>(`${key}.argv.json`)?.argv ?? [];
    const profiles: CpuProfile[] = [];
    const from: (number | undefined)[] = [];
    for (const f of t.chunks.sort()) {
      const p = read<CpuProfile>(f);
      if (!p) continue;
      const wall = Number(/^\.\d{4}\.(\d+)\.cpuprofile$/.exec(f.slice(key.length))?.[1] ?? Number.NaN);
      profiles.push(p);
      from.push(
        sinceWallMs === undefined || !Number.isFinite(wall)
          ? undefined
          : p.startTime + (sinceWallMs - wall) * 1000,
      );
    }
    const heap = read<ProfiledThread['heap']>(`${key}.heap.json`);
    out.push({
      process: `${commandOf(argv) || `pid ${t.pid}`}${t.threadId > 0 ? ` (worker thread ${t.threadId})` : ''}`,
      pid: t.pid,
      threadId: t.threadId,
      ...(profiles.length > 0 ? { cpu: summariseCpuProfiles(profiles, top, REPO_ROOT, from) } : {}),
      ...(heap ? { heap } : {}),
    });
  }
  return out.sort((a, b) => (b.cpu?.busyMs ?? 0) - (a.cpu?.busyMs ?? 0));
}

/**
 * For a benchmark that re-runs one child process itself: the environment that makes every Node process
 * and worker thread started with it profiled (bench/profile-preload.cjs), and `read()`, which
 * summarises what they wrote once they have exited. `how` names the command for the report.
 */
export function profiledEnv(base: NodeJS.ProcessEnv = process.env): {
  env: NodeJS.ProcessEnv;
  dir: string;
  read(top?: number, sinceWallMs?: number): ProfiledThread[];
} {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mrv-bench-profile-'));
  const preload = path.join(BENCH_DIR, 'profile-preload.cjs');
  return {
    env: {
      ...base,
      NODE_OPTIONS: `${base.NODE_OPTIONS ?? ''} --require ${preload}`.trim(),
      BENCH_PROFILE_DIR: dir,
    },
    dir,
    read: (top = 10, sinceWallMs?: number) => readProfileDir(dir, top, sinceWallMs),
  };
}

/**
 * Runs `fn` (a benchmark) again with every Node process and worker thread it starts profiled (children
 * inherit NODE_OPTIONS=--require bench/profile-preload.cjs and BENCH_PROFILE_DIR), and this process
 * profiled through node:inspector meanwhile; returns every thread's summary. Processes that are not
 * Node (mosquitto, influxd, mbpoll) are not profiled. The re-run's own figures are dropped: profiling
 * slows what it measures.
 */
export async function profileRun(
  fn: () => Promise<unknown>,
  top = 10,
): Promise<{ dir: string; threads: ProfiledThread[] }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mrv-bench-profile-'));
  const preload = path.join(BENCH_DIR, 'profile-preload.cjs');
  const saved = { NODE_OPTIONS: process.env.NODE_OPTIONS, BENCH_PROFILE_DIR: process.env.BENCH_PROFILE_DIR };
  process.env.NODE_OPTIONS = `${saved.NODE_OPTIONS ?? ''} --require ${preload}`.trim();
  process.env.BENCH_PROFILE_DIR = dir;
  let own: ProfiledThread;
  try {
    own = (await profileHere(fn, top)).thread;
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  const threads = readProfileDir(dir, top);
  threads.push(own);
  return { dir, threads: threads.sort((a, b) => (b.cpu?.busyMs ?? 0) - (a.cpu?.busyMs ?? 0)) };
}

/**
 * Runs `fn` with this thread profiled through node:inspector (V8's sampling profiler at 1 ms) and its
 * heap sampled every second; for work a benchmark does in its own process (an evidence build).
 * Returns `fn`'s value and the thread's summary.
 */
export async function profileHere<T>(
  fn: () => Promise<T>,
  top = 10,
): Promise<{ value: T; thread: ProfiledThread }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 1000 });
  await session.post('Profiler.start');
  const heap: { peak?: HeapSnapshotSummary; latest?: HeapSnapshotSummary } = {};
  const sample = () => {
    const s = heapSummaryNow();
    heap.latest = s;
    if (!heap.peak || s.memoryUsage.rss >= heap.peak.memoryUsage.rss) heap.peak = s;
  };
  const sampler = setInterval(sample, 1000);
  let value: T;
  let profile: CpuProfile;
  try {
    value = await fn();
  } finally {
    clearInterval(sampler);
    sample();
    profile = (await session.post('Profiler.stop')).profile as unknown as CpuProfile;
    session.disconnect();
  }
  return {
    value,
    thread: {
      process: `${commandOf(process.argv)} (the benchmark's own process)`,
      pid: process.pid,
      threadId: 0,
      cpu: summariseCpuProfiles([profile], top),
      heap,
    },
  };
}

/** Whether a figure is a memory figure (its heap summary matters more than its CPU profile). */
export function isMemoryFigure(f: { name: string; unit?: string }): boolean {
  return /MiB|MB|GiB/.test(f.unit ?? '') || /\bRSS\b|heap|memory/i.test(f.name);
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

/** Markdown table of a CPU summary. */
export function renderCpuSummary(s: CpuSummary): string[] {
  const out = [
    `busy ${(s.busyMs / 1000).toFixed(2)} s of ${(s.totalMs / 1000).toFixed(2)} s sampled`,
    '',
    '| # | function | file:line | self ms | self % of busy |',
    '|---|---|---|---|---|',
  ];
  s.top.forEach((r, i) => {
    out.push(
      `| ${i + 1} | ${cell(r.functionName)} | ${cell(r.location || '(V8)')} | ${r.selfMs.toFixed(0)} | ${r.selfPct.toFixed(1)} |`,
    );
  });
  return out;
}

/** Markdown table of a heap summary (memoryUsage in MiB, then the V8 heap spaces). */
export function renderHeapSummary(label: string, h: HeapSnapshotSummary): string[] {
  const m = h.memoryUsage;
  const out = [
    `${label} (${h.at}): RSS ${MiB(m.rss)} MiB = V8 heap used ${MiB(m.heapUsed)} of ${MiB(m.heapTotal)} MiB, external ${MiB(m.external)} MiB (array buffers ${MiB(m.arrayBuffers)} MiB), the rest code, stacks and native allocations`,
    '',
    '| heap space | size MiB | used MiB | available MiB |',
    '|---|---|---|---|',
  ];
  for (const s of h.heapSpaces)
    if (s.space_size > 0)
      out.push(
        `| ${s.space_name} | ${MiB(s.space_size)} | ${MiB(s.space_used_size)} | ${MiB(s.space_available_size)} |`,
      );
  return out;
}

/**
 * The markdown of one profile section: per thread that did measurable work (≥ 2 % of the busiest's
 * busy time) its top functions, or for a memory figure its heap at the peak and at the end.
 */
export function renderProfileSection(p: ProfileSection, memory: boolean): string[] {
  const out: string[] = [`Profile: ${p.how}.`, ''];
  const busiest = Math.max(0, ...p.threads.map((t) => t.cpu?.busyMs ?? 0));
  const shown = p.threads.filter((t) => (memory ? t.heap?.peak : (t.cpu?.busyMs ?? 0) >= 0.02 * busiest));
  const skipped = p.threads.length - shown.length;
  for (const t of shown) {
    out.push(`**${cell(t.process)}** (pid ${t.pid})`, '');
    if (memory && t.heap?.peak) {
      out.push(...renderHeapSummary('at the highest RSS sampled', t.heap.peak), '');
      if (t.heap.latest && t.heap.latest.at !== t.heap.peak.at)
        out.push(
          `at the end (${t.heap.latest.at}): RSS ${MiB(t.heap.latest.memoryUsage.rss)} MiB, heap used ${MiB(t.heap.latest.memoryUsage.heapUsed)} MiB`,
          '',
        );
    }
    if (t.cpu) out.push(...renderCpuSummary(t.cpu), '');
  }
  if (skipped > 0)
    out.push(
      `(${skipped} other profiled thread${skipped > 1 ? 's' : ''} ${memory ? 'without a heap sample' : 'with under 2 % of the busiest one’s busy time'} not shown.)`,
      '',
    );
  return out;
}

/**
 * The profile of a benchmark's missed figures that it did not profile itself: `run` (the benchmark)
 * again under {@link profileRun}, when BENCH_PROFILE is not `0`. Returns the result with the section
 * added (unchanged when nothing was missed or every missed figure has its profile).
 */
export async function profileMissed<
  R extends {
    id: string;
    figures: { name: string; met?: boolean }[];
    profiles?: ProfileSection[];
  },
>(r: R, run: () => Promise<unknown>): Promise<R> {
  const covered = new Set((r.profiles ?? []).flatMap((p) => p.figures));
  const missed = r.figures.filter((f) => f.met === false && !covered.has(f.name)).map((f) => f.name);
  if (missed.length === 0 || process.env.BENCH_PROFILE === '0') return r;
  console.log(
    `  profiling: running ${r.id} again under the CPU profiler for ${missed.length} missed figure(s)`,
  );
  const t0 = performance.now();
  try {
    const { threads } = await profileRun(run);
    const s = ((performance.now() - t0) / 1000).toFixed(0);
    return {
      ...r,
      profiles: [
        ...(r.profiles ?? []),
        {
          figures: missed,
          how: `\`npm run bench -- ${r.id}\` run again (${s} s) right after the measured run, every Node process and worker thread it started profiled by bench/profile-preload.cjs (V8's sampling CPU profiler at 1 ms, the .cpuprofile of node --cpu-prof; heap sampled every second) and the benchmark's own process through node:inspector; that run's figures are not reported (profiling slows what it measures)`,
          threads,
        },
      ],
    };
  } catch (err) {
    console.log(`  profiling ${r.id} failed: ${(err as Error).message}`);
    return {
      ...r,
      profiles: [
        ...(r.profiles ?? []),
        { figures: missed, how: `the profiled re-run failed: ${(err as Error).message}`, threads: [] },
      ],
    };
  }
}
