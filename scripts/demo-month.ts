/**
 * A simulated month of `mrv demo`, judged through the server's own API (issue 18, "done when"):
 *
 *   node_modules/.bin/tsx scripts/demo-month.ts [--speed 2880] [--start 2026-11-01T00:00:00+08:00]
 *     [--units aluminium,cement,steel] [--margin-h 12] [--until ISO] [--data-dir DIR] [--keep]
 *
 * Starts `mrv demo --speed N --start S` as a child process into a temporary data folder (moved off the
 * default ports with `--sim-port-offset`, so it runs beside another demo), waits until the plant clock
 * is past the start of the month after `S` plus `--margin-h` plant hours (≈ 15–16 real minutes at
 * 2880×), then asks the server, as its admin:
 * - every unit's package of the month `S` is in (`GET /api/v1/units/{id}/evidence/{month}`): its
 *   content status (target `complete`) and its signature (`POST /api/v1/evidence/verify`, target ok);
 * - the month's completeness (`GET .../completeness?month=`, the whole month counted from the unit's
 *   first reading) and the next month's month-to-date completeness (target ≥ 99 % on every unit);
 * - every finding over the run (`GET .../findings`, any state: steady operation must raise none).
 * Prints a table and exits 1 when a target is missed (2 when the demo could not be run). The pieces are
 * exported for test/integration/demo-boundary.test.ts, which runs a shorter span the same way.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cstMonth, isoCst, monthPeriod } from '../core/domain/period.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Every port the default demo's simulators listen on (aluminium, cement, steel, power). */
const DEMO_SIM_PORTS = [15020, 15021, 15022, 15023, 15030, 15031, 15040, 15050, 15051, 15052, 15053, 4841];

/** A running `mrv demo` child process. */
export interface DemoProcess {
  url: string;
  token: string;
  /** The last lines of its stdout and stderr. */
  tail(): string;
  running(): boolean;
  /** SIGINT, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Options of {@link startDemo}. */
export interface StartDemoOptions {
  speed: number;
  /** Plant time the demo starts at, ISO 8601 with its zone. */
  start: string;
  units: readonly string[];
  dataDir: string;
  /** Real ms to wait for "carbon-mrv demo is running"; default 180 000 (a busy 2-core machine). */
  startupMs?: number;
}

function bindable(port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = net.createServer();
    s.unref();
    s.once('error', () => r(false));
    s.listen(port, '127.0.0.1', () => s.close(() => r(true)));
  });
}

async function freePort(): Promise<number> {
  return new Promise((r, reject) => {
    const s = net.createServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => r(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

/** A `--sim-port-offset` that moves every demo simulator port onto a free one. */
async function freeOffset(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const offset = 1000 + Math.floor(Math.random() * 40_000);
    let ok = true;
    for (const p of DEMO_SIM_PORTS)
      if (!(await bindable(p + offset))) {
        ok = false;
        break;
      }
    if (ok) return offset;
  }
  throw new Error('no --sim-port-offset with every simulator port free');
}

/**
 * Starts `mrv demo` (bin/mrv.js: the sources through tsx in a checkout) and resolves once it prints
 * its URL and admin token.
 * @throws Error with the demo's output when it exits or does not start within `startupMs`
 */
export async function startDemo(o: StartDemoOptions): Promise<DemoProcess> {
  const port = await freePort();
  const offset = await freeOffset();
  const child = spawn(
    process.execPath,
    [
      join(root, 'bin/mrv.js'),
      'demo',
      '--speed',
      String(o.speed),
      '--start',
      o.start,
      '--units',
      o.units.join(','),
      '--data-dir',
      o.dataDir,
      '--port',
      String(port),
      '--sim-port-offset',
      String(offset),
    ],
    { cwd: root, env: { ...process.env, MRV_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: string[] = [];
  let out = '';
  const keep = (chunk: Buffer) => {
    out += chunk.toString('utf8');
    const parts = out.split('\n');
    out = parts.pop() ?? '';
    lines.push(...parts);
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = false;
  const done = new Promise<void>((r) =>
    child.once('exit', () => {
      exited = true;
      r();
    }),
  );
  const tail = () => [...lines, out].join('\n');
  const stop = async (graceMs = 15_000) => {
    if (exited) return;
    child.kill('SIGINT');
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await done;
    clearTimeout(t);
  };
  const deadline = Date.now() + (o.startupMs ?? 180_000);
  for (;;) {
    const text = tail();
    const url = /carbon-mrv demo is running: (http:\/\/\S+)/.exec(text)?.[1];
    const token = /admin token: (mrv_\S+)/.exec(text)?.[1];
    if (url && token) return { url, token, tail, running: () => !exited, stop };
    if (exited) throw new Error(`mrv demo exited before it was running:\n${text}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`mrv demo did not start within ${o.startupMs ?? 180_000} ms:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A JSON API client with the demo's admin token. */
export function api(demo: Pick<DemoProcess, 'url' | 'token'>) {
  const call = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${demo.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${demo.token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(600_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 500)}`);
    return JSON.parse(text) as T;
  };
  return {
    get: <T>(path: string) => call<T>('GET', path),
    post: <T>(path: string, body: unknown) => call<T>('POST', path, body),
  };
}

/** The plant time the server stands at (the summary's `generatedAt`), ms epoch. */
export async function plantNow(demo: Pick<DemoProcess, 'url' | 'token'>): Promise<number> {
  const s = await api(demo).get<{ generatedAt: string }>('/api/v1/summary');
  return Date.parse(s.generatedAt);
}

/**
 * Waits (polling every `everyMs` real) until the plant clock is at or past `plantMs`.
 * @throws Error when the demo exits first or `budgetMs` of real time pass
 */
export async function waitForPlant(
  demo: DemoProcess,
  plantMs: number,
  o: { budgetMs: number; everyMs?: number; progress?: (now: number) => void },
): Promise<number> {
  const deadline = Date.now() + o.budgetMs;
  for (;;) {
    if (!demo.running()) throw new Error(`mrv demo exited:\n${demo.tail()}`);
    const now = await plantNow(demo);
    o.progress?.(now);
    if (now >= plantMs) return now;
    if (Date.now() > deadline)
      throw new Error(`plant clock at ${isoCst(now)} after ${o.budgetMs} ms, not yet at ${isoCst(plantMs)}`);
    await new Promise((r) => setTimeout(r, o.everyMs ?? 2000));
  }
}

/** The completeness route's answer (evidence/service.ts completenessToDate). */
export interface Completeness {
  status: string;
  ratio: string | null;
  expected: number;
  good: number;
  countedFrom: string;
  judgedTo: string;
  points: { point: string; expected: number; good: number; ratio: string | null }[];
}

/** The parts of an evidence package the judge reads (core/domain/evidence.ts EvidencePackage). */
export interface JudgedPackage {
  content?: { status: string; reasons: string[]; coveredShare: string | null; judgedTo: string };
  completeness: {
    point: string;
    expectedIntervalMs: number;
    gapSummary: Record<string, { count: number; ms: number }>;
    gaps: { start: string; end: string; cause: string }[];
  }[];
}

/** A finding as the findings route lists it. */
export interface Finding {
  id: string;
  rule?: string;
  code: string;
  point?: string;
  ts: string;
  message: { zh: string; en: string };
}

/** What {@link judgeUnits} found for one unit. */
export interface UnitVerdict {
  unitId: string;
  name: string;
  /** The package of `month`: content status and its reasons, signature verdict. */
  content: string;
  reasons: string[];
  coveredShare: string | null;
  verified: boolean;
  verifyReason?: string;
  /** Points of the package with a gap other than not_elapsed, with their gap summaries. */
  gappy: { point: string; gapSummary: Record<string, { count: number; ms: number }> }[];
  /** Completeness of `month` (counted from the first reading) and of `next` so far. */
  month: Completeness;
  next: Completeness;
  findings: Finding[];
  /** The raw package (for tests that look closer). */
  pkg: JudgedPackage;
}

/**
 * Asks the server about every unit: the package of `month` and its signature, the completeness of
 * `month` and `next`, and every finding from `findingsFrom` to now.
 */
export async function judgeUnits(
  demo: Pick<DemoProcess, 'url' | 'token'>,
  o: { month: string; next: string; findingsFrom: number },
): Promise<UnitVerdict[]> {
  const a = api(demo);
  const summary = await a.get<{ generatedAt: string; units: { id: string; name: string }[] }>(
    `/api/v1/summary?month=${o.month}`,
  );
  const now = Date.parse(summary.generatedAt);
  // The cheap counts first, for every unit: building a month's package or the findings of weeks takes
  // the demo's one process seconds, which at 2880× would be hours of gap in the month still running.
  const counts = new Map<string, { month: Completeness; next: Completeness }>();
  for (const u of summary.units) {
    const id = encodeURIComponent(u.id);
    counts.set(u.id, {
      month: await a.get<Completeness>(`/api/v1/units/${id}/completeness?month=${o.month}`),
      next: await a.get<Completeness>(`/api/v1/units/${id}/completeness?month=${o.next}`),
    });
  }
  const out: UnitVerdict[] = [];
  for (const u of summary.units) {
    const id = encodeURIComponent(u.id);
    const text = await (
      await fetch(`${demo.url}/api/v1/units/${id}/evidence/${o.month}`, {
        headers: { authorization: `Bearer ${demo.token}` },
        signal: AbortSignal.timeout(600_000),
      })
    ).text();
    const pkg = JSON.parse(text) as JudgedPackage;
    const verdict = await a.post<{ ok: boolean; reason?: string; code?: string }>(
      '/api/v1/evidence/verify',
      text,
    );
    const { month, next } = counts.get(u.id) as { month: Completeness; next: Completeness };
    const findings: Finding[] = [];
    // The findings route takes windows of at most 31 days.
    for (let from = o.findingsFrom; from < now; from += 28 * 86_400_000) {
      const to = Math.min(now, from + 28 * 86_400_000);
      findings.push(
        ...(await a.get<Finding[]>(
          `/api/v1/units/${id}/findings?from=${encodeURIComponent(isoCst(from))}&to=${encodeURIComponent(isoCst(to))}`,
        )),
      );
    }
    const unique = [...new Map(findings.map((f) => [f.id, f])).values()];
    out.push({
      unitId: u.id,
      name: u.name,
      content: pkg.content?.status ?? '(none)',
      reasons: pkg.content?.reasons ?? [],
      coveredShare: pkg.content?.coveredShare ?? null,
      verified: verdict.ok,
      ...(verdict.ok ? {} : { verifyReason: `${verdict.code ?? ''} ${verdict.reason ?? ''}`.trim() }),
      gappy: pkg.completeness
        .filter((c) => Object.keys(c.gapSummary).some((k) => k !== 'not_elapsed'))
        .map((c) => ({ point: c.point, gapSummary: c.gapSummary })),
      month,
      next,
      findings: unique,
      pkg,
    });
  }
  return out;
}

/** A ratio "0.9987" as "99.87 %". */
export function pct(ratio: string | null): string {
  return ratio === null ? '—' : `${(Number(ratio) * 100).toFixed(2)} %`;
}

/** The machine's state, for the record: cores and load averages. */
export function machineLine(): string {
  const [l1, l5, l15] = loadavg().map((l) => l.toFixed(2));
  return `load average ${l1}, ${l5}, ${l15}`;
}

/** The next UTC+8 month after `month`. */
export function nextMonth(month: string): string {
  return cstMonth(monthPeriod(month).to);
}

async function main(): Promise<number> {
  const { values: v } = parseArgs({
    options: {
      speed: { type: 'string', default: '2880' },
      start: { type: 'string', default: '2026-11-01T00:00:00+08:00' },
      units: { type: 'string', default: 'aluminium,cement,steel' },
      'margin-h': { type: 'string', default: '12' },
      until: { type: 'string' },
      'data-dir': { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const speed = Number(v.speed);
  const startMs = Date.parse(v.start);
  if (!(speed >= 1) || Number.isNaN(startMs)) {
    process.stderr.write('demo-month: --speed N ≥ 1 and --start ISO-8601 with its zone\n');
    return 2;
  }
  const month = cstMonth(startMs);
  const next = nextMonth(month);
  const untilMs =
    v.until !== undefined ? Date.parse(v.until) : monthPeriod(next).from + Number(v['margin-h']) * 3_600_000;
  const dataDir = v['data-dir'] ? resolve(v['data-dir']) : mkdtempSync(join(tmpdir(), 'mrv-demo-month-'));
  const began = Date.now();
  const say = (s: string) => process.stdout.write(`${s}\n`);
  say(`demo-month: ${new Date().toISOString()}, ${machineLine()}, data dir ${dataDir}`);
  say(
    `  mrv demo --speed ${speed} --start ${v.start} --units ${v.units}; judged at plant ${isoCst(untilMs)}`,
  );
  let demo: DemoProcess;
  try {
    demo = await startDemo({ speed, start: v.start, units: v.units.split(','), dataDir });
  } catch (err) {
    say(String(err));
    return 2;
  }
  const loads: number[] = [];
  let lastSaid = 0;
  try {
    say(`  running at ${demo.url} after ${((Date.now() - began) / 1000).toFixed(1)} s`);
    await waitForPlant(demo, untilMs, {
      budgetMs: ((untilMs - startMs) / speed) * 3 + 300_000,
      everyMs: 5000,
      progress: (now) => {
        loads.push(loadavg()[0] ?? 0);
        if (Date.now() - lastSaid > 60_000) {
          lastSaid = Date.now();
          say(`  plant ${isoCst(now)}, real ${((Date.now() - began) / 1000).toFixed(0)} s, ${machineLine()}`);
        }
      },
    });
    const judgedAt = Date.now();
    const verdicts = await judgeUnits(demo, { month, next, findingsFrom: startMs });
    const maxLoad = Math.max(...loads);
    const meanLoad = loads.reduce((a, b) => a + b, 0) / Math.max(1, loads.length);
    say(
      `  judged after ${((judgedAt - began) / 1000).toFixed(0)} s real (queries ${((Date.now() - judgedAt) / 1000).toFixed(0)} s); 1-min load during the run: mean ${meanLoad.toFixed(2)}, max ${maxLoad.toFixed(2)}`,
    );
    const misses: string[] = [];
    const rows = verdicts.map((u) => {
      const monthOk = u.month.ratio !== null && Number(u.month.ratio) >= 0.99;
      const nextOk = u.next.ratio !== null && Number(u.next.ratio) >= 0.99;
      if (u.content !== 'complete')
        misses.push(`${u.unitId}: ${month} content ${u.content} (${u.reasons.join(', ')})`);
      if (!u.verified) misses.push(`${u.unitId}: ${month} package not verified: ${u.verifyReason ?? ''}`);
      if (!monthOk) misses.push(`${u.unitId}: ${month} completeness ${pct(u.month.ratio)}`);
      if (!nextOk) misses.push(`${u.unitId}: ${next} month-to-date completeness ${pct(u.next.ratio)}`);
      if (u.findings.length > 0) misses.push(`${u.unitId}: ${u.findings.length} finding(s)`);
      return [
        u.unitId,
        `${u.content}${u.reasons.length ? ` (${u.reasons.join(',')})` : ''}`,
        u.verified ? 'verified' : 'NOT verified',
        `${pct(u.month.ratio)} (${u.month.good}/${u.month.expected})`,
        `${pct(u.next.ratio)} (${u.next.good}/${u.next.expected})`,
        String(u.findings.length),
      ];
    });
    const head = [
      'unit',
      `${month} content`,
      'signature',
      `${month} completeness`,
      `${next} to date`,
      'findings',
    ];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
    say(line(head));
    say(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const r of rows) say(line(r));
    for (const u of verdicts) {
      for (const g of u.gappy) say(`  ${u.unitId} ${g.point}: gaps ${JSON.stringify(g.gapSummary)}`);
      for (const p of [...u.month.points, ...u.next.points])
        if (p.ratio !== null && Number(p.ratio) < 0.99)
          say(`  ${u.unitId} ${p.point}: ${pct(p.ratio)} (${p.good}/${p.expected})`);
      for (const f of u.findings.slice(0, 20))
        say(
          `  ${u.unitId} finding ${f.rule ?? f.code} ${f.point ?? ''} ${f.ts}: ${f.message.en.slice(0, 160)}`,
        );
    }
    say(
      misses.length === 0
        ? 'demo-month: every target met'
        : `demo-month: targets missed:\n  ${misses.join('\n  ')}`,
    );
    return misses.length === 0 ? 0 : 1;
  } catch (err) {
    say(`demo-month: ${String(err)}`);
    return 2;
  } finally {
    await demo.stop();
    if (!v.keep && !v['data-dir']) rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  main().then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`${String(err)}\n`);
      process.exit(2);
    },
  );
