// Evidence in worker threads (evidence/evidence-pool.ts, docs/architecture.md §7 "Off the event
// loop"): a package, a findings window and the month-to-date completeness computed in a worker thread
// with its own read-only connection to the store file are those computed on the event loop, byte for
// byte (a month of the usual events, test/helpers/aggregates-month.ts); the worker keeps and resumes
// day aggregates in its own handle on their file; errors keep their codes across the thread boundary;
// a worker that cannot start leaves the work in-process with a warning; and the server's routes answer
// the same bytes with and without workers.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveHub } from '../../collector/live.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import { MrvError } from '../../core/errors.ts';
import { ManualClock } from '../../core/time.ts';
import type { CompletenessJob, EvidenceBuildJob, FindingsWindowJob } from '../../evidence/evidence-jobs.ts';
import { EVIDENCE_WORKER_NICE, EvidencePool } from '../../evidence/evidence-pool.ts';
import { buildEvidence, completenessToDate, loadEvidenceKey } from '../../evidence/service.ts';
import { buildServer } from '../../server/app.ts';
import { MONTH, MONTH_FROM, MONTH_TO, readings, site, UNIT } from '../helpers/aggregates-month.ts';

const GENERATOR = 'carbon-mrv test';

/** The nice value of every thread of this process (Linux /proc), the main thread first. */
function threadNices(): number[] {
  if (process.platform !== 'linux') return [0];
  return readdirSync('/proc/self/task')
    .sort((a, b) => Number(a) - Number(b))
    .map((t) => {
      const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    });
}

describe('evidence in worker threads equals evidence on the event loop', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'mrv-workers-'));
  const file = path.join(tmp, 'mrv.sqlite');
  const keyFile = path.join(tmp, 'key.pem');
  const store = new SqliteStore({ path: file });
  const after = MONTH_TO + 3_600_000;
  let pool: EvidencePool;

  const job = (o: { dayAggregates: boolean }): EvidenceBuildJob => ({
    kind: 'evidence',
    unitId: UNIT,
    month: MONTH,
    now: after,
    generator: GENERATOR,
    keyFile,
    sites: [site],
    dayAggregates: o.dayAggregates,
  });

  beforeAll(async () => {
    await store.start();
    // The month as first delivered, then the gap of day 10 delivered late.
    const all = [...readings(false), ...readings(true)];
    for (let i = 0; i < all.length; i += 20_000) await store.writeReadings(all.slice(i, i + 20_000));
    loadEvidenceKey(keyFile, true);
    pool = new EvidencePool({
      store,
      spec: { kind: 'sqlite', path: file },
      threads: 1,
      dayAggregatesFile: path.join(tmp, 'days.sqlite'),
    });
  }, 120_000);

  afterAll(async () => {
    await pool?.close();
    await store.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('builds the same package in a worker, cold, warm from its day aggregates, and on the event loop', async () => {
    const inProcess = await buildEvidence({
      store,
      unitId: UNIT,
      month: MONTH,
      now: after,
      generator: GENERATOR,
      key: loadEvidenceKey(keyFile, false),
      sites: [site],
    });
    // The month has content: readings, findings and cited batches, so equal bytes mean something.
    expect(inProcess.rawData?.readings).toBeGreaterThan(40_000);
    expect(inProcess.findings.length).toBeGreaterThan(0);
    const expected = JSON.stringify(inProcess);

    expect(await pool.warm()).toBe(true);
    expect(pool.usesWorkers).toBe(true);
    // On Linux the worker thread runs at a lower priority than the rest of the process (nice 10).
    if (process.platform === 'linux') expect(threadNices()).toContain(EVIDENCE_WORKER_NICE);
    expect(threadNices()[0]).toBe(0);
    const raw = await pool.run(job({ dayAggregates: false }));
    expect(raw.stats).toEqual({ resumed: 0, kept: 0, chunks: 32 });
    expect(JSON.stringify(raw.pkg)).toBe(expected);

    const cold = await pool.run(job({ dayAggregates: true }));
    // With day aggregates the month is read in hour chunks: the lookback and 31 × 24 hours.
    expect(cold.stats).toEqual({ resumed: 0, kept: 745, chunks: 745 });
    expect(JSON.stringify(cold.pkg)).toBe(expected);
    const warm = await pool.run(job({ dayAggregates: true }));
    expect(warm.stats).toEqual({ resumed: 745, kept: 0, chunks: 745 });
    expect(JSON.stringify(warm.pkg)).toBe(expected);
    expect(pool.counters).toEqual({ inWorker: 3, inProcess: 0 });
  }, 180_000);

  it('computes the findings window and the completeness in a worker as on the event loop', async () => {
    const local = new EvidencePool({ store, threads: 0 });
    try {
      const window: FindingsWindowJob = {
        kind: 'findings',
        unitId: UNIT,
        sites: [site],
        generator: GENERATOR,
        now: after,
        from: MONTH_FROM + 5 * 86_400_000,
        to: MONTH_FROM + 9 * 86_400_000,
      };
      const [w, l] = await Promise.all([pool.run(window), local.run(window)]);
      expect(w.length).toBeGreaterThan(0);
      expect(JSON.stringify(w)).toBe(JSON.stringify(l));
      const counts: CompletenessJob = {
        kind: 'completeness',
        unitId: UNIT,
        month: MONTH,
        now: after,
        sites: [site],
      };
      const c = await pool.run(counts);
      expect(c.expected).toBeGreaterThan(0);
      expect(JSON.stringify(c)).toBe(
        JSON.stringify(
          await completenessToDate({ store, unitId: UNIT, month: MONTH, now: after, sites: [site] }),
        ),
      );
      expect(local.counters).toEqual({ inWorker: 0, inProcess: 1 });
    } finally {
      await local.close();
    }
  }, 120_000);

  it('keeps the error code across the thread boundary', async () => {
    const bad = pool.run({ ...job({ dayAggregates: false }), month: '2026-13' });
    await expect(bad).rejects.toBeInstanceOf(MrvError);
    await expect(bad).rejects.toMatchObject({ code: 'MRV_E_BAD_REQUEST' });
    await expect(
      pool.run({ ...job({ dayAggregates: false }), unitId: 'NOPE', sites: [] }),
    ).rejects.toMatchObject({
      code: 'MRV_E_NOT_FOUND',
      message: 'unknown unit "NOPE"',
    });
    // The worker is still there for the next job.
    const c = await pool.run({ kind: 'completeness', unitId: UNIT, month: MONTH, now: after, sites: [site] });
    expect(c.unitId).toBe(UNIT);
  }, 120_000);

  it('builds in-process, with a warning, when the worker cannot open the store', async () => {
    const lines: string[] = [];
    const log = pino(
      { level: 'warn' },
      new Writable({
        write(chunk, _enc, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    );
    // A read-only handle needs the file to exist: the worker fails before it is ready.
    const broken = new EvidencePool({
      store,
      spec: { kind: 'sqlite', path: path.join(tmp, 'missing.sqlite') },
      threads: 1,
      log,
    });
    try {
      const r = await broken.run(job({ dayAggregates: false }));
      expect(broken.counters).toEqual({ inWorker: 0, inProcess: 1 });
      expect(broken.usesWorkers).toBe(false);
      expect(r.pkg.rawData?.readings).toBeGreaterThan(40_000);
      expect(lines.join('')).toMatch(/evidence worker thread could not start/);
    } finally {
      await broken.close();
    }
  }, 120_000);

  it('answers the same evidence bytes from a server with workers as from one without', async () => {
    const clock = new ManualClock(after);
    const serve = (threads: number) =>
      buildServer({
        store,
        live: new LiveHub(),
        clock,
        logger: false,
        domain: {
          sites: [site],
          keyFile,
          generator: GENERATOR,
          evidenceWorkers: { threads, store: { kind: 'sqlite', path: file } },
        },
      });
    const [withWorkers, without] = [serve(1), serve(0)];
    try {
      const url = `/api/v1/units/${UNIT}/evidence/${MONTH}`;
      // Two requests at once share one build; both answer the package.
      const [a, b] = await Promise.all([withWorkers.inject(url), withWorkers.inject(url)]);
      const c = await without.inject(url);
      expect(a.statusCode).toBe(200);
      expect(c.statusCode).toBe(200);
      expect(a.body).toBe(c.body);
      expect(b.body).toBe(c.body);
      const summary = await withWorkers.inject(`/api/v1/summary?month=${MONTH}`);
      expect(summary.statusCode).toBe(200);
      expect((await without.inject(`/api/v1/summary?month=${MONTH}`)).body).toBe(summary.body);
      const bad = await withWorkers.inject(`/api/v1/units/${UNIT}/evidence/2026-13`);
      expect(bad.statusCode).toBe(400);
    } finally {
      await withWorkers.close();
      await without.close();
    }
  }, 180_000);
});
