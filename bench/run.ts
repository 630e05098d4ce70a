/**
 * `npm run bench`: runs the benchmarks of issue 7 one after another, prints their figures and writes
 * BENCHMARKS.md (machine, load, date, exact command, figures against the targets, notes).
 * `npm run bench -- gateway-read evidence` runs only those (BENCHMARKS.md then lists only those).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { benchCollectorIngest } from './collector-ingest.ts';
import { benchGatewayRead } from './gateway-read.ts';
import { benchLatency } from './latency.ts';
import { type BenchResult, fmt, loadAvg, machine, REPO_ROOT } from './lib.ts';
import { renderReport } from './report.ts';

const ALL: Record<string, () => Promise<BenchResult>> = {
  'gateway-read': benchGatewayRead,
  'collector-ingest': benchCollectorIngest,
  latency: benchLatency,
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  for (const w of wanted) if (!ALL[w]) throw new Error(`unknown benchmark ${w}; known: ${Object.keys(ALL).join(', ')}`);
  const ids = wanted.length > 0 ? wanted : Object.keys(ALL);
  const started = new Date();
  const loadStart = loadAvg();
  const results: BenchResult[] = [];
  for (const id of ids) {
    console.log(`\n== ${id} (load ${loadAvg()})`);
    const r = await (ALL[id] as () => Promise<BenchResult>)();
    results.push(r);
    for (const f of r.figures)
      console.log(`  ${f.name}: ${f.value}${f.unit ? ` ${f.unit}` : ''}${f.target ? ` (target ${f.target}: ${f.met ? 'met' : 'MISSED'})` : ''}`);
    console.log(`  (${fmt(r.seconds, 1)} s)`);
  }
  const md = renderReport({
    started,
    finished: new Date(),
    loadStart,
    loadEnd: loadAvg(),
    machine: machine(),
    command: `npm run bench${wanted.length ? ` -- ${wanted.join(' ')}` : ''}`,
    results,
  });
  writeFileSync(path.join(REPO_ROOT, 'BENCHMARKS.md'), md);
  console.log('\nwrote BENCHMARKS.md');
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
