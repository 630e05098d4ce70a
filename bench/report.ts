/** Renders BENCHMARKS.md from one run's results plus the hand-written analysis (bench/analysis.md). */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BENCH_DIR, type BenchResult } from './lib.ts';
import { isMemoryFigure, renderProfileSection } from './profile.ts';

export interface Report {
  started: Date;
  finished: Date;
  loadStart: string;
  loadEnd: string;
  machine: Record<string, string>;
  command: string;
  results: BenchResult[];
  /** 1-minute load average before each benchmark. */
  loads?: [string, string][];
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

export function renderReport(r: Report): string {
  const m = r.machine;
  const out: string[] = [
    '# Benchmarks (issue 7)',
    '',
    `Written by \`${r.command}\` (bench/run.ts; code in \`bench/\`, not part of \`npm test\`). Every figure below is from this one run.`,
    '',
    '| | |',
    '|---|---|',
    `| date | ${r.started.toISOString()} → ${r.finished.toISOString()} (${((r.finished.getTime() - r.started.getTime()) / 1000).toFixed(0)} s) |`,
    `| command | \`${r.command}\` (= \`node_modules/.bin/tsx bench/run.ts\`) |`,
    `| machine | ${m.cores} cores (${m.cpu}), ${m.memory} RAM, ${m.os} |`,
    `| Node | ${m.node} |`,
    `| load average (1, 5, 15 min) | at start ${r.loadStart}; at end ${r.loadEnd} |`,
    '',
    `**The machine is shared**: other sessions build and run tests on it at the same time, unannounced. The load average is logged at the start and end of the run and before each benchmark (${r.loads ? r.loads.map(([id, l]) => `${id} ${l}`).join('; ') : 'not recorded'}); the benchmarks' own processes (gateway, broker, collector, InfluxDB) already keep both cores busy, so any outside work lowers and scatters the absolute rates. Ratios measured within one benchmark (gateway vs mbpoll, collector vs direct writes) are the more robust figures.`,
    '',
    '## Figures against the targets',
    '',
    '| benchmark | figure | value | target | |',
    '|---|---|---|---|---|',
  ];
  for (const res of r.results)
    for (const f of res.figures)
      out.push(
        `| ${res.title} | ${cell(f.name)} | ${f.value}${f.unit ? ` ${f.unit}` : ''} | ${f.target ?? ''} | ${f.met === undefined ? '' : f.met ? 'met' : '**missed**'} |`,
      );
  out.push('', ...renderWhereTimeGoes(r.results));
  for (const res of r.results) {
    out.push(`## ${res.title}`, '', `(${res.seconds.toFixed(1)} s)`, '');
    for (const n of res.notes) out.push(n, '');
  }
  const analysis = path.join(BENCH_DIR, 'analysis.md');
  if (existsSync(analysis)) out.push(readFileSync(analysis, 'utf8').trim(), '');
  return out.join('\n');
}

/**
 * "Where the time goes for each missed target": per benchmark with a missed figure, its profiles (CPU:
 * top functions by self time per process and thread; memory figures: the heap at the peak RSS and at
 * the end), or a line saying that none was recorded.
 */
export function renderWhereTimeGoes(results: readonly BenchResult[]): string[] {
  const missed = results.filter((res) => res.figures.some((f) => f.met === false));
  if (missed.length === 0) return [];
  const out = ['### Where the time goes for each missed target', ''];
  for (const res of missed) {
    const figs = res.figures.filter((f) => f.met === false);
    out.push(`#### ${res.title}`, '');
    for (const f of figs)
      out.push(
        `- missed: ${cell(f.name)}: ${f.value}${f.unit ? ` ${f.unit}` : ''} (target ${f.target ?? ''})`,
      );
    out.push('');
    const covered = new Set<string>();
    for (const p of res.profiles ?? []) {
      const mine = figs.filter((f) => p.figures.includes(f.name));
      if (mine.length === 0) continue;
      for (const f of mine) covered.add(f.name);
      const memory = mine.every((f) => isMemoryFigure(f));
      if (p.figures.length < figs.length) out.push(`For ${mine.map((f) => cell(f.name)).join('; ')}:`, '');
      out.push(...renderProfileSection(p, memory));
      // A memory figure among CPU ones: its heap too.
      if (!memory && mine.some((f) => isMemoryFigure(f))) out.push(...renderProfileSection(p, true));
    }
    const bare = figs.filter((f) => !covered.has(f.name));
    if (bare.length > 0)
      out.push(
        `No profile was recorded for ${bare.map((f) => cell(f.name)).join('; ')} (BENCH_PROFILE=0, or the run was rendered from figures without one).`,
        '',
      );
  }
  return out;
}
