// Province partitions (issue 14 item 2, core/schema/province.ts) on one real Mosquitto: two province
// collectors (44 and 32), each with its own SQLite store, subscribe to their province's topics only
// (`mrv/v1/44/+/+/data`, `mrv/v1/32/…`). Each stores its own units' signed batches and confirms them on its
// province's ack topic; a batch of a unit registered in another province (a misconfigured gateway
// publishing under the wrong province) and one of an unregistered unit are dead-lettered, counted
// (`outOfProvince`) and stored nowhere, with no store acknowledgement (the gateway keeps them); the
// unpartitioned topics are nobody's here. Then one federation reads both stores as the national view.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateGatewayKey } from '../../cli/keygen.ts';
import { Collector, type DeadLetter } from '../../collector/collector.ts';
import { FederatedStore } from '../../collector/federated-store.ts';
import { loadKeyRegistry } from '../../collector/keys.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { StoreAck } from '../../core/schema/delivery.ts';
import { provinceTopicPrefix } from '../../core/schema/province.ts';
import { UnitRegistry } from '../../core/schema/unit-registry.ts';
import { parsePrivateKey } from '../../core/signing.ts';
import { until } from '../faults/harness.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import { signedChain } from '../helpers/signed-chain.ts';

const registry = new UnitRegistry([
  { id: 'U44', name: '粤厂', industry: 'cement', province: '44', gateways: ['gw44'] },
  { id: 'U32', name: '苏厂', industry: 'cement', province: '32', gateways: ['gw32'] },
]);

describe('province collectors on one broker', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mrv-provinces-'));
  const keysDir = path.join(dir, 'keys');
  const k44 = generateGatewayKey({ unitId: 'U44', gatewayId: 'gw44', outDir: keysDir });
  const k32 = generateGatewayKey({ unitId: 'U32', gatewayId: 'gw32', outDir: keysDir });
  const kX = generateGatewayKey({ unitId: 'UX', gatewayId: 'gwX', outDir: keysDir });
  const key = (file: string) => parsePrivateKey(readFileSync(file, 'utf8'));
  const stops: (() => Promise<void>)[] = [];
  const collectors = new Map<string, Collector>();
  const stores = new Map<string, SqliteStore>();
  let pub: MqttClient;
  const letters: { topic: string; letter: DeadLetter }[] = [];
  const acks: { topic: string; ack: StoreAck }[] = [];

  beforeAll(async () => {
    const mosquitto = await startMosquitto();
    stops.push(() => mosquitto.stop());
    for (const province of ['44', '32']) {
      const store = new SqliteStore({ path: path.join(dir, `${province}.sqlite`) });
      await store.start();
      const c = new Collector({
        url: mosquitto.url,
        store,
        keys: loadKeyRegistry(keysDir),
        units: registry,
        province,
        topicPrefix: provinceTopicPrefix('mrv/v1', province),
        log: pino({ level: 'silent' }),
        clientId: `collector-${province}`,
        flushIntervalMs: 50,
        maxClockSkewMs: 1e12,
      });
      await c.start();
      collectors.set(province, c);
      stores.set(province, store);
      stops.unshift(
        () => c.stop(),
        () => store.stop(),
      );
    }
    pub = await mqtt.connectAsync(mosquitto.url, { clientId: 'province-gateways' });
    await pub.subscribeAsync({ 'mrv/v1/+/_deadletter': { qos: 1 }, 'mrv/v1/+/+/+/ack': { qos: 1 } });
    pub.on('message', (topic, payload) => {
      if (topic.endsWith('/_deadletter'))
        letters.push({ topic, letter: JSON.parse(payload.toString()) as DeadLetter });
      else acks.push({ topic, ack: JSON.parse(payload.toString()) as StoreAck });
    });
    stops.unshift(() => pub.endAsync());
  }, 60_000);

  afterAll(async () => {
    for (const s of stops) await s();
    rmSync(dir, { recursive: true, force: true });
  });

  it('each collector stores its own province and refuses, counted, what is not its province’s', async () => {
    const c44 = collectors.get('44') as Collector;
    const c32 = collectors.get('32') as Collector;
    const s44 = stores.get('44') as SqliteStore;
    const s32 = stores.get('32') as SqliteStore;
    for (const b of signedChain(3, key(k44.privateKeyFile), { unitId: 'U44', gatewayId: 'gw44' }))
      await pub.publishAsync('mrv/v1/44/U44/gw44/data', JSON.stringify(b), { qos: 1 });
    const b32 = signedChain(2, key(k32.privateKeyFile), { unitId: 'U32', gatewayId: 'gw32' });
    for (const b of b32) await pub.publishAsync('mrv/v1/32/U32/gw32/data', JSON.stringify(b), { qos: 1 });
    // A gateway of province 32 configured with province 44's prefix, and a unit nobody registered.
    const misrouted = signedChain(3, key(k32.privateKeyFile), { unitId: 'U32', gatewayId: 'gw32' })[2];
    await pub.publishAsync('mrv/v1/44/U32/gw32/data', JSON.stringify(misrouted), { qos: 1 });
    const [unregistered] = signedChain(1, key(kX.privateKeyFile), { unitId: 'UX', gatewayId: 'gwX' });
    await pub.publishAsync('mrv/v1/44/UX/gwX/data', JSON.stringify(unregistered), { qos: 1 });
    // The unpartitioned topic: no province collector takes it.
    const [plain] = signedChain(1, key(k44.privateKeyFile), { unitId: 'U44', gatewayId: 'gw44' });
    await pub.publishAsync('mrv/v1/U44/gw44/data', JSON.stringify(plain), { qos: 1 });

    await until(
      'both provinces stored, two refusals dead-lettered',
      async () =>
        (await s44.listBatches({ unitId: 'U44', gatewayId: 'gw44' })).length === 3 &&
        (await s32.listBatches({ unitId: 'U32', gatewayId: 'gw32' })).length === 2 &&
        letters.length === 2,
      20_000,
    );
    expect(c44.counters.outOfProvince).toBe(2);
    expect(c32.counters.outOfProvince).toBe(0);
    expect(c44.counters.batches).toBe(3);
    expect(c32.counters.batches).toBe(2);
    expect(letters.map((l) => l.topic)).toEqual(['mrv/v1/44/_deadletter', 'mrv/v1/44/_deadletter']);
    const reasons = new Map(letters.map((l) => [l.letter.topic, l.letter.reason]));
    expect(reasons.get('mrv/v1/44/U32/gw32/data')).toMatch(
      /unit U32 is registered in province 32; this collector stores province 44 only/,
    );
    expect(reasons.get('mrv/v1/44/UX/gwX/data')).toMatch(/unit UX is not in the unit registry/);
    // Nothing of them in province 44's store; province 32's store has its own two batches only.
    expect(await s44.listBatches({ unitId: 'U32', gatewayId: 'gw32' })).toEqual([]);
    expect(await s44.listBatches({ unitId: 'UX', gatewayId: 'gwX' })).toEqual([]);
    expect((await s44.listUnits()).map((u) => u.id)).toEqual([]); // no catalogue sent: none listed
    expect((await s32.listBatches({ unitId: 'U32', gatewayId: 'gw32' })).map((b) => b.seq)).toEqual([1, 2]);
    expect(
      (await s44.listBatches({ unitId: 'U44', gatewayId: 'gw44' })).every((b) => b.verdict === 'verified'),
    ).toBe(true);

    // Store acknowledgements on each province's ack topic, only for what was stored.
    const storedSeqs = (t: string) =>
      acks
        .filter((a) => a.topic === t)
        .flatMap((a) =>
          a.ack.stored.flatMap(([from, to]) => Array.from({ length: to - from + 1 }, (_, i) => from + i)),
        )
        .sort();
    await until(
      'acknowledgements arrived',
      () =>
        storedSeqs('mrv/v1/44/U44/gw44/ack').length >= 3 && storedSeqs('mrv/v1/32/U32/gw32/ack').length >= 2,
      10_000,
    );
    expect(storedSeqs('mrv/v1/44/U44/gw44/ack')).toEqual([1, 2, 3]);
    expect(storedSeqs('mrv/v1/32/U32/gw32/ack')).toEqual([1, 2]);
    // None for the refused batches, on any topic.
    expect(new Set(acks.map((a) => a.topic))).toEqual(
      new Set(['mrv/v1/44/U44/gw44/ack', 'mrv/v1/32/U32/gw32/ack']),
    );
  });

  it('the two province stores, federated, are the national view', async () => {
    const fed = new FederatedStore({
      registry,
      provinces: ['44', '32'].map((p) => ({
        province: p,
        store: new SqliteStore({ path: path.join(dir, `${p}.sqlite`), readOnly: true }),
        label: `sqlite:${p}`,
      })),
    });
    await fed.start();
    try {
      const t0 = Date.parse('2026-03-01T00:00:00.000Z');
      const raw44 = await fed.rawReadings({ unitId: 'U44', pointId: 'p1', from: t0, to: t0 + 60_000 });
      const raw32 = await fed.rawReadings({ unitId: 'U32', pointId: 'p1', from: t0, to: t0 + 60_000 });
      expect(raw44.map((r) => r.value)).toEqual(['10', '20', '30']);
      expect(raw32.map((r) => r.value)).toEqual(['10', '20']);
      expect(raw32.every((r) => r.gatewayId === 'gw32')).toBe(true);
      const heads = await fed.batchHeads();
      expect(heads.map((h) => `${h.unitId}:${h.seq}`).sort()).toEqual(['U32:2', 'U44:3']);
    } finally {
      await fed.stop();
    }
  });

  it('a province collector refuses to start without a registry or with a code that cannot be a topic level', () => {
    const base = {
      url: 'mqtt://127.0.0.1:1',
      store: stores.get('44') as SqliteStore,
      log: pino({ level: 'silent' }),
    };
    expect(() => new Collector({ ...base, province: '44' })).toThrow(/needs the unit registry/);
    expect(() => new Collector({ ...base, province: '4/4', units: registry })).toThrow(/topic level/);
  });
});
