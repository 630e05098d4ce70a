/**
 * `npm run bench`: runs the benchmarks of issue 7 one after another, prints their figures and writes
 * BENCHMARKS.md (machine, load, date, exact command, figures against the targets, notes).
 * `npm run bench -- gateway-read evidence` runs only those (BENCHMARKS.md then lists only those).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { benchCollectorIngest } from './collector-ingest.ts';
import { benchEvidence } from './evidence.ts';
import { benchEvidenceMonth } from './evidence-month.ts';
import { benchEvidenceWorkers } from './evidence-workers.ts';
import { benchFootprint } from './footprint.ts';
import { benchGatewayRead } from './gateway-read.ts';
import { benchLatency } from './latency.ts';
import { type BenchResult, BUILD_DIR, fmt, loadAvg, machine, REPO_ROOT } from './lib.ts';
import { benchNats } from './nats.ts';
import { benchNodeRed } from './node-red.ts';
import { profileMissed } from './profile.ts';
import { benchReplay } from './replay.ts';
import { renderReport } from './report.ts';
import { benchScaleOut } from './scale-out.ts';
import { benchStartup } from './startup.ts';
import { benchSummary } from './summary.ts';

/** The last run's figures, for `--render`. */
const LAST_RUN = path.join(BUILD_DIR, 'last-run.json');

const ALL: Record<string, () => Promise<BenchResult>> = {
  'gateway-read': benchGatewayRead,
  'collector-ingest': benchCollectorIngest,
  'scale-out': benchScaleOut,
  nats: benchNats,
  latency: benchLatency,
  replay: benchReplay,
  evidence: benchEvidence,
  'evidence-month': benchEvidenceMonth,
  'evidence-workers': benchEvidenceWorkers,
  summary: benchSummary,
  footprint: benchFootprint,
  'node-red': benchNodeRed,
  startup: benchStartup,
};

async function main(): Promise<void> {
  // `--render`: write BENCHMARKS.md again from the last run's figures (after editing bench/analysis.md).
  if (process.argv[2] === '--render') {
    const last = JSON.parse(readFileSync(LAST_RUN, 'utf8'));
    writeFileSync(
      path.join(REPO_ROOT, 'BENCHMARKS.md'),
      renderReport({ ...last, started: new Date(last.started), finished: new Date(last.finished) }),
    );
    console.log('wrote BENCHMARKS.md from', LAST_RUN);
    process.exit(0);
  }
  const wanted = process.argv.slice(2);
  for (const w of wanted)
    if (!ALL[w]) throw new Error(`unknown benchmark ${w}; known: ${Object.keys(ALL).join(', ')}`);
  const ids = wanted.length > 0 ? wanted : Object.keys(ALL);
  const started = new Date();
  const loadStart = loadAvg();
  const results: BenchResult[] = [];
  const loads: [string, string][] = [];
  for (const id of ids) {
    loads.push([id, loadAvg().split(',')[0] as string]);
    console.log(`\n== ${id} (load ${loadAvg()})`);
    const bench = ALL[id] as () => Promise<BenchResult>;
    const measured = await bench();
    // A missed target without a profile of its own: the benchmark once more under the profiler.
    const r = await profileMissed(measured, bench);
    results.push(r);
    for (const f of r.figures)
      console.log(
        `  ${f.name}: ${f.value}${f.unit ? ` ${f.unit}` : ''}${f.target ? ` (target ${f.target}: ${f.met ? 'met' : 'MISSED'})` : ''}`,
      );
    console.log(`  (${fmt(r.seconds, 1)} s)`);
  }
  const report = {
    started,
    finished: new Date(),
    loadStart,
    loadEnd: loadAvg(),
    machine: machine(),
    command: `npm run bench${wanted.length ? ` -- ${wanted.join(' ')}` : ''}`,
    results,
    loads,
  };
  mkdirSync(BUILD_DIR, { recursive: true });
  writeFileSync(LAST_RUN, JSON.stringify(report, null, 1));
  writeFileSync(path.join(REPO_ROOT, 'BENCHMARKS.md'), renderReport(report));
  console.log('\nwrote BENCHMARKS.md');
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
