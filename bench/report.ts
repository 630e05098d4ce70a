/** Renders BENCHMARKS.md from one run's results plus the hand-written analysis (bench/analysis.md). */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BENCH_DIR, type BenchResult } from './lib.ts';

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
  out.push('');
  for (const res of r.results) {
    out.push(`## ${res.title}`, '', `(${res.seconds.toFixed(1)} s)`, '');
    for (const n of res.notes) out.push(n, '');
  }
  const analysis = path.join(BENCH_DIR, 'analysis.md');
  if (existsSync(analysis)) out.push(readFileSync(analysis, 'utf8').trim(), '');
  return out.join('\n');
}
