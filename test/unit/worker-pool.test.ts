// evidence/worker-pool.ts with a real worker thread (test/helpers/pool-worker.ts): results and MrvErrors
// cross the thread boundary, jobs beyond the threads wait their turn, a worker that exits mid-job fails
// that job with MRV_E_INTERNAL and is replaced, a result that does not clone is an error, a worker
// that cannot start makes the pool unavailable, and closing rejects what is still running.
import { afterEach, describe, expect, it } from 'vitest';
import { MrvError } from '../../core/errors.ts';
import { WorkerPool, WorkerUnavailableError, workerEntry } from '../../evidence/worker-pool.ts';
import type { PoolTestJob } from '../helpers/pool-worker.ts';

const entry = workerEntry(new URL('../helpers/pool-worker.ts', import.meta.url).href, 'pool-worker');
const pools: WorkerPool<PoolTestJob, Record<string, unknown>>[] = [];
const pool = (threads: number) => {
  const p = new WorkerPool<PoolTestJob, Record<string, unknown>>({
    entry,
    workerData: null,
    threads,
    name: 'test-pool',
  });
  pools.push(p);
  return p;
};

afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
});

describe('WorkerPool', () => {
  it('picks the tsx launcher for a .ts caller and the compiled .js otherwise', () => {
    expect(workerEntry('file:///a/evidence/evidence-pool.ts', 'evidence-worker').href).toBe(
      'file:///a/evidence/evidence-worker.mjs',
    );
    expect(workerEntry('file:///a/dist/evidence/evidence-pool.js', 'evidence-worker').href).toBe(
      'file:///a/dist/evidence/evidence-worker.js',
    );
  });

  it('answers jobs in a worker thread and keeps an MrvError code across the boundary', async () => {
    const p = pool(1);
    const r = await p.run({ op: 'echo', v: { a: [1, 'x'] } });
    expect(r.v).toEqual({ a: [1, 'x'] });
    expect(r.threadId).toBeGreaterThan(0);
    const err = await p.run({ op: 'throw' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MrvError);
    expect(err).toMatchObject({
      code: 'MRV_E_NOT_FOUND',
      message: 'no such thing',
      detail: { what: 'thing' },
    });
    await expect(p.run({ op: 'unclonable' })).rejects.toThrow(/could not be cloned/);
    expect((await p.run({ op: 'echo', v: 2 })).threadId).toBe(r.threadId);
  }, 60_000);

  it('runs at most `threads` jobs at once; the others wait in order', async () => {
    const p = pool(1);
    const order: number[] = [];
    const jobs = [300, 10, 10].map((ms, i) =>
      p.run({ op: 'sleep', ms }).then((r) => {
        order.push(i);
        return r;
      }),
    );
    expect(p.queued).toBe(3);
    await Promise.all(jobs);
    expect(order).toEqual([0, 1, 2]);
    expect(p.threads).toBe(1);
    const two = pool(2);
    const both = await Promise.all([two.run({ op: 'sleep', ms: 200 }), two.run({ op: 'sleep', ms: 200 })]);
    expect(new Set(both.map((r) => r.threadId)).size).toBe(2);
  }, 60_000);

  it('fails the job of a worker that exits with MRV_E_INTERNAL and replaces the worker', async () => {
    const p = pool(1);
    const first = (await p.run({ op: 'echo', v: 1 })).threadId;
    await expect(p.run({ op: 'exit' })).rejects.toMatchObject({ code: 'MRV_E_INTERNAL' });
    const next = await p.run({ op: 'echo', v: 2 });
    expect(next.v).toBe(2);
    expect(next.threadId).not.toBe(first);
    expect(p.unavailable).toBeUndefined();
  }, 60_000);

  it('is unavailable when its worker cannot start, and rejects what runs when closed', async () => {
    const broken = new WorkerPool({
      entry: new URL('../helpers/no-such-worker.mjs', import.meta.url),
      workerData: null,
      threads: 1,
      name: 'broken',
    });
    pools.push(broken as WorkerPool<PoolTestJob, Record<string, unknown>>);
    await expect(broken.run({ op: 'echo', v: 1 })).rejects.toBeInstanceOf(WorkerUnavailableError);
    expect(broken.unavailable).toMatch(/did not start/);
    expect(await broken.warm()).toBe(false);

    const p = pool(1);
    await p.warm();
    const running = p.run({ op: 'sleep', ms: 10_000 }).catch((e: unknown) => e);
    const waiting = p.run({ op: 'echo', v: 1 }).catch((e: unknown) => e);
    await p.close();
    expect(await running).toMatchObject({
      code: 'MRV_E_INTERNAL',
      message: 'test-pool: pool closed during the job',
    });
    expect(await waiting).toMatchObject({ code: 'MRV_E_INTERNAL', message: 'test-pool: pool closed' });
  }, 60_000);
});
