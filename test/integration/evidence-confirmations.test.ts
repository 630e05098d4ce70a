// The evidence confirmations store contract (confirmation-contract.ts) against SQLite files and a real
// PostgreSQL server (test/helpers/postgres.ts: initdb in a temp folder, a free loopback port, one
// database per test).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { type PostgresServer, startPostgres } from '../helpers/postgres.ts';
import { describeConfirmationContract } from './confirmation-contract.ts';

let dir: string;
let pgServer: PostgresServer;
let n = 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mrv-confirm-'));
  pgServer = await startPostgres();
}, 180_000);
afterAll(async () => {
  await pgServer?.stop();
  await rm(dir, { recursive: true, force: true });
});

describeConfirmationContract('SQLite', async () => {
  const file = path.join(dir, `state-${++n}.sqlite`);
  return { target: file, cleanup: () => rm(file, { force: true }) };
});

describeConfirmationContract('PostgreSQL', async () => ({
  target: await pgServer.createDatabase(`mrv_confirm_${++n}`),
  cleanup: async () => {},
}));
