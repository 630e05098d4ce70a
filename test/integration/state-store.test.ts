// The state store contract (state-contract.ts) against SQLite files and a real PostgreSQL server
// (test/helpers/postgres.ts: initdb in a temp folder, a free loopback port, one database per test).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MrvError } from '../../core/errors.ts';
import { StateStore } from '../../server/state/state-store.ts';
import { type PostgresServer, startPostgres } from '../helpers/postgres.ts';
import { describeStateContract } from './state-contract.ts';

let dir: string;
let pgServer: PostgresServer;
let n = 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mrv-state-'));
  pgServer = await startPostgres();
}, 180_000);
afterAll(async () => {
  await pgServer?.stop();
  await rm(dir, { recursive: true, force: true });
});

describeStateContract('SQLite', async () => {
  const file = path.join(dir, `state-${++n}.sqlite`);
  return { target: file, cleanup: () => rm(file, { force: true }) };
});

describeStateContract('PostgreSQL', async () => ({
  target: await pgServer.createDatabase(`mrv_state_${++n}`),
  cleanup: async () => {},
}));

describe('state database failures', () => {
  it('an unreachable PostgreSQL answers MRV_E_STATE_DB with the URL, password hidden', async () => {
    const err = await StateStore.open('postgres://mrv:secret@127.0.0.1:1/nothing').catch((e) => e);
    expect(err).toBeInstanceOf(MrvError);
    expect(err.code).toBe('MRV_E_STATE_DB');
    expect(err.message).not.toContain('secret');
  });

  it('a SQLite file in a missing folder answers MRV_E_STATE_DB', async () => {
    const err = await StateStore.open(path.join(dir, 'missing', 'state.sqlite')).catch((e) => e);
    expect(err.code).toBe('MRV_E_STATE_DB');
  });
});
