// The state store contract (state-contract.ts) against SQLite files and a real PostgreSQL server
// (test/helpers/postgres.ts: initdb in a temp folder, a free loopback port, one database per test).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveHub } from '../../collector/live.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import { MrvError } from '../../core/errors.ts';
import { UnitRegistry } from '../../core/schema/unit-registry.ts';
import { buildServer } from '../../server/app.ts';
import { StateStore } from '../../server/state/state-store.ts';
import { TokenFile } from '../../server/tokens.ts';
import { type PostgresServer, startPostgres } from '../helpers/postgres.ts';
import { describeStateContract, finding } from './state-contract.ts';

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

describe('several server instances on one PostgreSQL', () => {
  it('share accounts, sessions and the workflow: log in on one, act on the other, log out on the first', async () => {
    const url = await pgServer.createDatabase(`mrv_state_shared_${++n}`);
    const store = new SqliteStore({ path: ':memory:' });
    await store.start();
    await store.writeMeta('UA', {
      v: 1,
      gatewayId: 'gw-1',
      unit: { id: 'UA', name: 'A', industry: 'cement', province: '安徽' },
      points: [{ id: 'p1', device: 'd1', unit: 't', aggregation: 'gauge' }],
      meters: [],
      configHash: 'a'.repeat(64),
    });
    const ts = new Date(Date.now() - 3_600_000).toISOString();
    await store.writeFindings([finding('shared-1', 'UA', { ts, at: ts })]);
    const [s1, s2] = [await StateStore.open(url), await StateStore.open(url)];
    await s1.addAccount(
      {
        username: 'ent',
        password: 'a long enough password',
        role: 'enterprise',
        scope: { provinces: [], units: ['UA'] },
      },
      { id: 'cli:test', role: 'cli' },
    );
    const tokens = TokenFile.inDataDir(path.join(dir, `tokens-${n}`));
    const [a, b] = [s1, s2].map((state) =>
      buildServer({
        units: new UnitRegistry([
          { id: 'UA', name: 'A', industry: 'cement', province: '安徽', gateways: ['gw-1'] },
        ]),
        store,
        live: new LiveHub(),
        tokens,
        state,
        version: 'x',
      }),
    );
    try {
      const login = await a!.inject({
        method: 'POST',
        url: '/api/v1/session',
        payload: { username: 'ent', password: 'a long enough password' },
      });
      expect(login.statusCode).toBe(200);
      const cookie = String(login.headers['set-cookie']).split(';')[0]!;
      expect((await a!.inject({ url: '/api/v1/units/UA/findings', headers: { cookie } })).statusCode).toBe(
        200,
      );
      const ack = await b!.inject({
        method: 'POST',
        url: '/api/v1/findings/shared-1/acknowledge',
        headers: { cookie },
        payload: {},
      });
      expect([ack.statusCode, ack.json().state]).toEqual([200, 'acknowledged']);
      const again = await a!.inject({
        method: 'POST',
        url: '/api/v1/findings/shared-1/acknowledge',
        headers: { cookie },
        payload: {},
      });
      expect(again.json().error.code).toBe('MRV_E_FINDING_TRANSITION');
      expect(
        (await a!.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie } })).statusCode,
      ).toBe(204);
      expect((await b!.inject({ url: '/api/v1/session', headers: { cookie } })).statusCode).toBe(401);
    } finally {
      await a!.close();
      await b!.close();
      await s1.close();
      await s2.close();
      await store.stop();
    }
  });
});
