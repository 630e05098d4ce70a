// A worker for test/unit/worker-pool.test.ts: answers, waits, throws an MrvError, or exits mid-job.
import { threadId } from 'node:worker_threads';
import { MrvError } from '../../core/errors.ts';
import { serveJobs } from '../../evidence/worker-pool.ts';

export type PoolTestJob =
  | { op: 'echo'; v: unknown }
  | { op: 'sleep'; ms: number }
  | { op: 'throw' }
  | { op: 'exit' }
  | { op: 'unclonable' };

serveJobs<null, PoolTestJob, unknown>(
  async () => null,
  async (_ctx, job) => {
    switch (job.op) {
      case 'echo':
        return { v: job.v, threadId };
      case 'sleep':
        await new Promise((r) => setTimeout(r, job.ms));
        return { slept: job.ms, threadId };
      case 'throw':
        throw new MrvError('MRV_E_NOT_FOUND', 'no such thing', { what: 'thing' });
      case 'exit':
        process.exit(3); // ends this worker thread only
        return null;
      case 'unclonable':
        return { f: () => 1 };
    }
  },
);
