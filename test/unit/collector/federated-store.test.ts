// Routing of the federated store (collector/federated-store.ts) over in-memory SQLite province stores:
// registered units go to their registered province's store (also when another store holds the same id),
// unregistered ones to the store that listed them, a unit of a province that is not federated fails
// with MRV_E_STORE naming it, an unknown unit is nowhere; a failing store is retried once due.
import { afterEach, describe, expect, it } from 'vitest';
import { FederatedStore } from '../../../collector/federated-store.ts';
import { SqliteStore } from '../../../collector/sqlite-store.ts';
import type { TimeSeriesStore } from '../../../collector/store.ts';
import { MrvError } from '../../../core/errors.ts';
import { UnitRegistry } from '../../../core/schema/unit-registry.ts';
import { ManualClock } from '../../../core/time.ts';

const registry = new UnitRegistry([
  { id: 'U44', name: '粤', industry: 'cement', province: '44', gateways: ['g'] },
  { id: 'U11', name: '京', industry: 'cement', province: '11', gateways: ['g'] },
]);

async function storeWith(units: string[], point: string): Promise<SqliteStore> {
  const s = new SqliteStore({ path: ':memory:' });
  await s.start();
  for (const id of units)
    await s.writeMeta(id, {
      v: 1,
      gatewayId: 'g',
      unit: { id, name: id, industry: 'cement', province: 'x' },
      points: [{ id: point, device: 'd', unit: 't', aggregation: 'totalizer' }],
      meters: [],
      configHash: 'c'.repeat(64),
    });
  return s;
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

describe('FederatedStore routing', () => {
  it('routes by the registry, then by the store that listed the unit', async () => {
    // U44 is also (wrongly) in province 32's store: the registry's province wins.
    const s44 = await storeWith(['U44'], 'p44');
    const s32 = await storeWith(['U44', 'UNREG'], 'p32');
    const fed = new FederatedStore({
      registry,
      provinces: [
        { province: '44', store: s44, label: '44' },
        { province: '32', store: s32, label: '32' },
      ],
    });
    await fed.start();
    stops.push(() => fed.stop());
    expect((await fed.listPoints('U44'))?.map((p) => p.id)).toEqual(['p44']);
    // Not listed yet: the first query lists the stores to find it.
    expect((await fed.listPoints('UNREG'))?.map((p) => p.id)).toEqual(['p32']);
    expect(fed.provinceOf('UNREG')).toBe('32');
    expect(fed.provinceOf('U44')).toBe('44');
    const listed = await fed.listUnits();
    expect(listed.map((u) => u.id).sort()).toEqual(['U44', 'UNREG']);
    expect(await fed.listPoints('NOBODY')).toBeUndefined();
    expect(await fed.series({ unitId: 'NOBODY', pointId: 'p', from: 0, to: 1 })).toEqual([]);
    const err = await fed.listPoints('U11').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MrvError);
    expect((err as MrvError).code).toBe('MRV_E_STORE');
    expect((err as MrvError).message).toMatch(/province 11, whose store this server does not federate/);
  });

  it('marks a failing store unavailable, fails fast until due, and takes it back when it answers', async () => {
    const clock = new ManualClock(1_000_000);
    const good = await storeWith(['U44'], 'p44');
    let failing = true;
    let calls = 0;
    // A real store whose queries fail while `failing` (as a store gone away would).
    const flaky = new Proxy(good, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (prop !== 'listPoints' || typeof v !== 'function')
          return typeof v === 'function' ? v.bind(target) : v;
        return (...args: unknown[]) => {
          calls++;
          if (failing) return Promise.reject(new MrvError('MRV_E_STORE', 'connection refused'));
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }) as TimeSeriesStore;
    const fed = new FederatedStore({
      registry,
      clock,
      retryMs: 5000,
      provinces: [{ province: '44', store: flaky, label: 'x' }],
    });
    await fed.start();
    stops.push(() => fed.stop());
    await expect(fed.listPoints('U44')).rejects.toThrow(
      /province 44 store unavailable \(x\): .*connection refused/,
    );
    expect(fed.availability('44')).toMatchObject({ available: false });
    expect(calls).toBe(1);
    failing = false;
    // Not due yet: no query reaches the store.
    await expect(fed.listPoints('U44')).rejects.toThrow(/unavailable/);
    expect(calls).toBe(1);
    clock.advance(5000);
    expect((await fed.listPoints('U44'))?.map((p) => p.id)).toEqual(['p44']);
    expect(calls).toBe(2);
    expect(fed.availability('44')).toMatchObject({ available: true, reason: null });
  });
});
